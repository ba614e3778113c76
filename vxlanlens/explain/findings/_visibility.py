"""Whether a capture point could have shown the answer to a request: a capture that sees a
tunnel one way only, and nothing addressed to the requester, cannot (see the unanswered
findings in :mod:`.reachability`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...proto import ExchangeKind
from ..context import Context, na
from ._requests import Exchange

__all__ = ["blind_points"]


def blind_points(ctx: Context, get: Callable[[str, int], Any], xs: list[Exchange]) -> list[str]:
    """The captures that saw the requests ``xs``, when none of them could show an answer: each
    saw them inside a tunnel that it saw in one direction only (no tunnel packet back from the
    outer destination to the outer source: a mirror session or a one-way capture), or was
    written by a tool that records one direction (``ctx.one_way``), and holds no frame
    addressed to the requester (by IP for echo and TCP, by MAC for ARP and ND). Empty when
    one of them could show it, or when nothing shows the capture is one-way."""
    pos = xs[0].rows[0]
    ip, mac = get("requester_ip", pos), get("requester_mac", pos)
    kind = str(get("kind", pos))
    by_mac = kind in (ExchangeKind.ARP, ExchangeKind.ND)
    if (by_mac and mac is None) or (not by_mac and ip is None):
        return []
    key = ("mac", str(mac)) if by_mac else ("ip", str(ip))
    seen = _addressed(ctx)
    blind: set[str] = set()
    for x in xs:
        for r in x.rows:
            c, f = get("request_capture", r), get("request_frame", r)
            row = ctx.row(c, f)
            if row is None:
                continue
            if str(c) in ctx.one_way:  # written by a tool that records one direction
                if key in seen.get(str(c), set()):
                    return []
                blind.add(str(c))
                continue
            outer = (row["outer_src_ip"], row["outer_dst_ip"])
            if na(outer[0]) or na(outer[1]):
                return []  # seen outside a tunnel: nothing says the point is one-way
            back = ("tunnel", f"{outer[1]} {outer[0]}")
            if back in seen.get(str(c), set()) or key in seen.get(str(c), set()):
                return []
            blind.add(str(c))
    return sorted(blind)


_ADDRESSED: dict[int, tuple[Any, dict[str, set[tuple[str, str]]]]] = {}


def _addressed(ctx: Context) -> dict[str, set[tuple[str, str]]]:
    """Per capture, the destination IPs and MACs of its frames (pod-frame level), and the
    directions (``source, destination`` addresses) between two hosts it shows: its tunnel
    packets' outer addresses, other packets' addresses, ARP's sender and target."""
    hit = _ADDRESSED.get(id(ctx))
    if hit is not None and hit[0] is ctx.packets:
        return hit[1]
    p = ctx.packets
    out: dict[str, set[tuple[str, str]]] = {}
    for col, tag in (("dst_ip", "ip"), ("dst_mac", "mac")):
        pairs = p[["capture", col]].dropna().drop_duplicates()
        for c, v in zip(pairs["capture"].astype(str), pairs[col].astype(str), strict=True):
            out.setdefault(c, set()).add((tag, v))
    # directions between two hosts the capture shows: tunnel packets by their outer addresses,
    # packets outside a tunnel by theirs, ARP by sender and target (a node's ARP reply to the
    # other node shows the capture sees that direction too)
    pairs_of = [("outer_src_ip", "outer_dst_ip", None), ("src_ip", "dst_ip", "tunnel")]
    if {"arp_sender_ip", "arp_target_ip"} <= set(p.columns):
        pairs_of.append(("arp_sender_ip", "arp_target_ip", None))
    for a_col, b_col, outside in pairs_of:
        rows = p if outside is None else p[p[outside].isna()]
        t = rows[["capture", a_col, b_col]].dropna().drop_duplicates()
        for c, a, b in zip(
            t["capture"].astype(str), t[a_col].astype(str), t[b_col].astype(str), strict=True
        ):
            out.setdefault(c, set()).add(("tunnel", f"{a} {b}"))
    _ADDRESSED.clear()
    _ADDRESSED[id(ctx)] = (ctx.packets, out)
    return out
