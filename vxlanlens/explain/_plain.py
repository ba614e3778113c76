"""Paths of an input that shows no overlay (:attr:`Context.plain`): host to host.

A capture of a plain network (a laptop's ``tcpdump -i eth0``, a loopback ping, a capture of one
LAN) shows no tunnel, no dump names a pod or node, and nothing shows Cilium. Drawing such a
packet through a pod's veth, an eBPF program and a tunnel would be a claim the evidence does
not support. Its path is the sending host, the network where the captures saw it (where each
capture was taken is not known), and the receiving host: reached when its answer was seen,
else the path stops where the packet was last seen.
"""

from __future__ import annotations

import re

import pandas as pd

from ..proto import HopKind
from ._hops import evs, frame_text, observations, text_of
from .context import Context, Point, Row, first_row, na
from .model import Hop

__all__ = ["NETWORK", "plain_direction", "plain_error", "plain_resolution"]

NETWORK = "network"
"""The place of the hop where the captures saw a packet of a plain input."""


def _host(ip: str | None, mac: str | None) -> str:
    return f"host {ip}" if ip else f"host {mac or '?'}"


def _sightings(ctx: Context, rows: list[Row]) -> str:
    """``seen in cap (#3: <frame>), cap2 (#9)``: each capture that holds the packet once, with
    its first frame (in time order), the frame in words for the first capture only."""
    first: dict[str, Row] = {}
    for row in rows:
        first.setdefault(str(row["capture"]), row)
    parts = []
    for k, (capture, row) in enumerate(first.items()):
        what = f": {frame_text(ctx, row, named=False)}" if k == 0 and not na(row["src_ip"]) else ""
        iface = _interface(row)
        on = f", interface {iface}" if iface else ""
        parts.append(f"{capture} (#{int(row['frame_no'])}{on}{what})")
    return "seen in " + ", ".join(parts)


def _interface(row: Row) -> str | None:
    """The interface a frame was captured on, as the capture names it (a pcapng interface
    name); None when it does not: no name, the ``ifN`` the reader gives an unnamed interface,
    or ``-`` (Wireshark's tools name standard input so)."""
    name = text_of(row["interface"])
    return name if name and name != "-" and not _UNNAMED.fullmatch(name) else None


_UNNAMED = re.compile(r"if\d+")


def _network(ctx: Context, rows: list[Row], note: str = "") -> Hop:
    many = len({str(r["capture"]) for r in rows}) > 1
    named = all(_interface(r) for r in rows)
    where = (
        f"the host{'s' if many else ''} {'they were' if many else 'it was'} taken on "
        f"{'are' if many else 'is'} not known"
        if named
        else f"where {'these captures were' if many else 'that capture was'} taken is not known"
    )
    return Hop(
        NETWORK,
        HopKind.NETWORK,
        True,
        note=f"{_sightings(ctx, rows)}; {where}" + (f"; {note}" if note else ""),
        evidence=evs(rows[:2]),
    )


def plain_direction(
    ctx: Context,
    obs: list[tuple[Point, Row]],
    src_ip: str,
    dst_ip: str,
    src_mac: object,
    *,
    reached: bool,
    ended: tuple[str | None, str] | None = None,
    reply: bool = False,
    sent: str | None = None,
) -> tuple[list[Hop], str | None]:
    """Hops of a packet from host ``src_ip`` to host ``dst_ip``: the sender, the network where
    the captures saw it (``obs``), and the receiver when the packet is known to have arrived
    (``reached``: it was answered) or for a reply (drawn on to its requester by the
    renderers); returns the hops and, for a request that stops short, where it was last seen.
    ``ended`` (who answered it with an ICMP error instead, and that in words) says why;
    ``sent`` is what the sender's note says it sent (``the request`` / ``the reply``)."""
    mac = None if na(src_mac) else str(src_mac)
    rows = [row for _, row in obs]
    sender = Hop(
        _host(src_ip, mac),
        HopKind.HOST,
        False,
        mac=mac,
        note=f"sent {sent or ('the reply' if reply else 'the request')}"
        + ("" if rows else " (no capture holds it)"),
        ip=src_ip,
    )
    if not rows:
        return [sender], None
    if reply:
        return [sender, _network(ctx, rows)], None
    receiver = Hop(_host(dst_ip, None), HopKind.HOST, False, ip=dst_ip)
    if reached:
        receiver.note = "the answer shows the request reached it"
        return [sender, _network(ctx, rows), receiver], None
    if ended is not None:
        why = f"{ended[1]}: it went no further"
    else:
        why = (
            f"not seen after it was captured: the captures do not show whether it reached {dst_ip}"
        )
    return [sender, _network(ctx, rows, why)], NETWORK


def plain_resolution(
    ctx: Context, points: dict[str, Point], rows: pd.DataFrame, kind: str
) -> tuple[list[Hop], list[Hop]]:
    """Hops of an ARP or Neighbor Solicitation exchange of a plain input: the host that asked,
    the network where the captures saw the request; the host that answered and the network
    where they saw its answer."""
    r = first_row(rows)
    req_obs = observations(ctx, points, rows, "request")
    rep_obs = observations(ctx, points, rows, "reply")
    requester_ip, requester_mac = text_of(r["requester_ip"]), text_of(r["requester_mac"])
    what = "Neighbor Solicitation" if kind == "nd" else "ARP request"
    asked = Hop(
        _host(requester_ip, requester_mac),
        HopKind.HOST,
        False,
        mac=requester_mac,
        note=f"sent {'a' if kind == 'nd' else 'an'} {what} for {r['target']}",
        ip=requester_ip,
    )
    req = [asked]
    if req_obs:
        req.append(_network(ctx, [row for _, row in req_obs]))
    responder_mac = text_of(r["responder_mac"])
    if responder_mac is None:
        return req, []
    from ._resolve import nd_flags  # the ARP / NS paths' own words for the flags

    answer = "Neighbor Advertisement" if kind == "nd" else "ARP reply"
    flags = nd_flags(r["nd_flags"]) if kind == "nd" else None
    lat = r["latency_s"]
    lat_text = f" after {float(lat) * 1e3:.3f} ms" if not na(lat) else ""
    responder_ip = text_of(r["responder_ip"])
    reply = [
        Hop(
            _host(responder_ip, responder_mac),
            HopKind.HOST,
            False,
            mac=responder_mac,
            note=f"{answer}{f' flags {flags}' if flags else ''}{lat_text}: {r['target']} is at "
            f"{responder_mac}",
            ip=responder_ip,
        )
    ]
    if rep_obs:
        reply.append(_network(ctx, [row for _, row in rep_obs]))
    return req, reply


def plain_error(
    ctx: Context, points: dict[str, Point], rows: pd.DataFrame, words: str
) -> tuple[list[Hop], list[Hop]]:
    """Hops of an ``icmp-error`` exchange of a plain input: the packet the error quotes (from
    its sender to the network where the captures saw it) and the error (from the host that
    sent it to the network where they saw it), ``words`` the error in words."""
    r = first_row(rows)
    requester, target = text_of(r["requester_ip"]), text_of(r["target"])
    responder = text_of(r["responder_ip"])
    req_obs = observations(ctx, points, rows, "request")
    rep_obs = observations(ctx, points, rows, "reply")
    req: list[Hop] = []
    if requester and target and req_obs:
        req, _ = plain_direction(
            ctx, req_obs, requester, target, req_obs[0][1]["src_mac"], reached=False,
            reply=True, sent="the packet the error quotes",
        )  # fmt: skip
    rep: list[Hop] = []
    if responder and requester and rep_obs:
        rep, _ = plain_direction(
            ctx, rep_obs, responder, requester, rep_obs[0][1]["src_mac"], reached=False,
            reply=True, sent=words,
        )  # fmt: skip
    return req, rep
