"""Paths: for each exchange, the ordered hops its request (and reply) took, seen or inferred.

A path says no more than the captures show. A hop is *seen* (``observed``) only where a capture
saw the packet, and cites only that capture's frames. Hops are inferred (from the recognised
overlay's datapath, :mod:`vxlanlens.overlays`) before the first sighting and between two
sightings; after the last one the path stops with "not seen after ..." unless the packet is known
to have arrived (its answer was seen). The tunnel on each side (VXLAN or Geneve) is the one seen
in the captures, and the devices are named from the dumps when they name them, else by the
overlay's profile.

The pieces live in :mod:`._hops` (frames, placement, bounding), :mod:`._direction` (pod to pod)
and :mod:`._resolve` (ARP / NS).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..proto import TCP_ANSWER_WORDS, ExchangeStatus
from ._direction import direction, node_nic
from ._hops import int_of, observations, placed_points, text_of, tunnel_of
from ._icmp import error_words, underlay_hops
from ._plain import plain_direction, plain_error, plain_resolution
from ._resolve import gateway_hops, nd_flags
from ._rows import text_is
from .context import Context, Point, Row, first_row, groups, na, vals
from .findings._requests import any_row, flows
from .model import Hop, PacketPath

__all__ = ["build_paths", "placed_points"]

MAX_PATHS = 200
"""More exchanges than this are summarised, not given a path each."""


_IFINDEX = re.compile(r"^(?P<capture>.+)/if(?P<index>[0-9]+)$")


def _point_text(placed: dict, point: str) -> str:
    """An observation point as ``capture/interface``: an ``-i any`` capture's ``ifN`` (the SLL2
    interface index) named from its node's dumps when they list it (``ifN`` otherwise)."""
    m = _IFINDEX.match(point)
    if m is None:
        return point
    where = placed.get(m["capture"])
    name = where.interfaces.get(int(m["index"])) if where is not None else None
    return f"{m['capture']}/{name.rsplit('/', 1)[-1]}" if name else point


def _summary(
    ctx: Context,
    kind: str,
    key: str,
    rows: pd.DataFrame,
    statuses: list,
    points: list,
    answer: str | None = None,
) -> str:
    """``ARP 10.0.0.1: answered by ... in 0.012 ms at cap``: ``statuses`` and ``points`` are the
    rows' ``status`` and ``point`` as text, ``answer`` what answered (:func:`_answer`)."""
    answered = [k for k, st in enumerate(statuses) if st == "answered"]
    later = "later " if kind == "icmp-error" else ""
    if answered:
        latency = rows["latency_s"].tolist()
        known = rows["latency_s"].notna().tolist()
        per_point = [
            f"{float(latency[k]) * 1e3:.3f} ms {later}at {points[k]}" for k in answered if known[k]
        ]
        shown = ", ".join(dict.fromkeys(per_point[:4])) + (", ..." if len(per_point) > 4 else "")
        lat_text = f" in {shown}" if per_point else ""
        who = vals(rows["responder_mac"].iloc[answered[0]])
        named = str(who) if ctx.plain else ctx.mac_text(who)  # no overlay: no role to name
        by = f" by {named}" if kind in ("nd", "arp") and who else ""
        if kind == "tcp" and answer in TCP_ANSWER_WORDS:  # answered either way: say which
            by = f" by {TCP_ANSWER_WORDS[answer]}"
        status = f"answered{by}{lat_text}"
        if kind == "icmp-error":
            # the error answers the packet it quotes: say who sent it, and after what
            sender = vals(rows["responder_ip"].iloc[answered[0]])
            status = f"sent by {ctx.ip_text(sender)} in answer to the packet it quotes" + (
                f" ({shown})" if per_point else ""
            )
    elif kind == "icmp-error" and set(statuses) == {"unsolicited"}:
        sender = vals(rows["responder_ip"].iloc[0])
        status = f"sent by {ctx.ip_text(sender)}; the packet it quotes is in no capture"
    else:
        status = ", ".join(sorted(set(statuses)))
    label = {
        "nd": "NS/NA",
        "arp": "ARP",
        "echo": "echo",
        "tcp": "TCP handshake",
        "icmp-error": "ICMP error",
    }.get(kind, kind)
    return f"{label} {key}: {status}"


def _answer(rows: pd.DataFrame, statuses: list[str]) -> str | None:
    """What answered the path's request: the ``answer`` of its first answered row."""
    if "answer" not in rows:
        return None
    k = next((k for k, st in enumerate(statuses) if st == "answered"), None)
    return None if k is None else text_of(rows["answer"].iloc[k])


def _status(statuses: list[str]) -> ExchangeStatus | None:
    """One status for a path: answered when any observation was, else unanswered when any
    was, else the first one's."""
    for wanted in ("answered", "unanswered"):
        if wanted in statuses:
            return ExchangeStatus(wanted)
    return (
        ExchangeStatus(statuses[0]) if statuses and statuses[0] in ExchangeStatus.values() else None
    )


def _first_tunnel(obs: list[tuple[Point, Row]]) -> tuple[str | None, int | None]:
    for _, row in obs:
        if not na(row["tunnel"]):
            return tunnel_of(row), int_of(row["vni"])
    return None, None


_PATH_COLUMNS = [
    "kind", "key", "status", "point", "latency_s", "target", "nd_flags",
    "requester_ip", "requester_mac", "responder_ip", "responder_mac",
    "request_capture", "request_frame", "reply_capture", "reply_frame",
    "echo_id", "echo_seq", "dport", "answer", "ip_version", "icmp_code",
]  # fmt: skip
"""The exchanges' columns paths are drawn from."""


def _errors_of(ctx: Context) -> dict[int, int]:
    """Position in the exchanges table of each row of a request answered by an ICMP error
    instead of its reply, to the position of a row of that error (as the findings see it)."""
    if not any_row(ctx, kind="icmp-error"):
        return {}
    out: dict[int, int] = {}
    for flow in flows(ctx):
        for x in flow.exchanges:
            if x.error_row is not None and not x.answered:
                out.update(dict.fromkeys(x.rows, x.error_row))
    return out


def _outside(obs: list[tuple[Point, Row]]) -> bool:
    """Whether every frame is outside a tunnel (an error sent between underlay addresses)."""
    return bool(obs) and all(na(row["tunnel"]) for _, row in obs)


def _error_rows(ctx: Context) -> dict[str, list[int]]:
    """Positions of the ``icmp-error`` rows of the exchanges table, by key."""
    ex = ctx.exchanges
    at = np.flatnonzero((ex["kind"].astype(str) == "icmp-error").to_numpy())
    out: dict[str, list[int]] = {}
    for pos, key in zip(at.tolist(), ex["key"].iloc[at].astype(str).tolist(), strict=True):
        out.setdefault(key, []).append(pos)
    return out


def _error_of(
    ctx: Context, by_key: dict[str, list[int]], pos: int
) -> tuple[pd.DataFrame, str, str | None]:
    """The rows (at every point) of the ``icmp-error`` exchange at position ``pos``, the error
    in words and who sent it (``by_key``: :func:`_error_rows`)."""
    ex = ctx.exchanges
    r = ex.iloc[pos]
    rows = ex.iloc[by_key.get(str(r["key"]), [pos])]
    words, _ = error_words(r["answer"], r["ip_version"], r["icmp_code"])
    return rows, words, text_of(r["responder_ip"])


def _drawn(ctx: Context, requester: str | None, responder: str | None) -> bool:
    """Whether an error between these addresses is drawn between nodes: they are the underlay
    addresses of two nodes the input knows (a node's error to itself crosses no network)."""
    return bool(
        requester
        and responder
        and requester != responder
        and ctx.node_label(requester)
        and ctx.node_label(responder)
    )


def _error_hops(
    ctx: Context, placed: dict, rows: pd.DataFrame, words: str
) -> tuple[list[Hop], list[Hop]]:
    """Hops of the packet an underlay ICMP error quotes and of the error, or none when the
    error is not one sent between two nodes' underlay addresses outside the tunnel."""
    r = first_row(rows)
    requester, target = text_of(r["requester_ip"]), text_of(r["target"])
    responder = text_of(r["responder_ip"])
    rep_obs = observations(ctx, placed, rows, "reply")
    if not _outside(rep_obs) or not _drawn(ctx, requester, responder):
        return [], []
    assert requester is not None and responder is not None and target is not None
    req_obs = observations(ctx, placed, rows, "request")
    quoted = f"sent the packet the error quotes (to {target})"
    req = underlay_hops(ctx, placed, req_obs, requester, target, sent=quoted, received="arrived")
    if responder != target:
        req = req[:1]  # the error came from elsewhere: where the packet went next is unseen
    rep = underlay_hops(
        ctx, placed, rep_obs, responder, requester,
        sent=f"sent {words} to {requester}", received="received the error",
    )  # fmt: skip
    return req, rep


def _pod_error_hops(
    ctx: Context,
    placed: dict,
    r: Row,
    req_obs: list[tuple[Point, Row]],
    rep_obs: list[tuple[Point, Row]],
) -> tuple[list[Hop], list[Hop]]:
    """Hops of the packet a pod's ICMP error quotes (a UDP datagram to a closed port) and of
    the error back, through the overlay as a request and its reply are drawn; none unless the
    packet's sender and the error's are pods and the captures saw both."""
    src, dst = text_of(r["requester_ip"]), text_of(r["target"])
    sender = text_of(r["responder_ip"])
    if not (src and dst and sender and req_obs and rep_obs):
        return [], []
    if ctx.pod_of(ip=src) is None or ctx.pod_of(ip=sender) is None:
        return [], []
    req, _ = direction(ctx, placed, req_obs, src, dst, r["requester_mac"], reached=sender == dst)
    rep, _ = direction(ctx, placed, rep_obs, sender, src, r["responder_mac"], reached=True)
    return req, rep


def build_paths(ctx: Context) -> tuple[list[PacketPath], int]:
    """One path per logical exchange (the same exchange seen at several points is one path);
    returns the paths and how many exchanges were left without one (over :data:`MAX_PATHS`)."""
    ex = ctx.exchanges
    if ex.empty:
        return [], 0
    ex = ex[~text_is(ex["status"], "duplicate")]
    # every (kind, key) as a number, in order of first appearance (nulls one value each)
    kind_codes, kinds = pd.factorize(ex["kind"], use_na_sentinel=False)
    key_codes, _ = pd.factorize(ex["key"], use_na_sentinel=False)
    pair, _ = pd.factorize(key_codes.astype(np.int64) * max(len(kinds), 1) + kind_codes)
    known = ex["kind"].notna().to_numpy() & ex["key"].notna().to_numpy()
    total = len(np.unique(pair[known]))
    cols = [c for c in _PATH_COLUMNS if c in ex.columns]
    kept = pair < MAX_PATHS
    # the rows of one path next to each other (paths in order of first appearance, rows in
    # table order): each path's rows are a slice of the table, not a copy of its rows
    chosen = ex.loc[kept, cols].iloc[np.argsort(pair[kept], kind="stable")]
    statuses = chosen["status"].astype(str).tolist()
    placed = placed_points(ctx)
    points = [_point_text(placed, p) for p in chosen["point"].astype(str).tolist()]
    errors = _errors_of(ctx)
    positions = ctx.exchanges.index.get_indexer(chosen.index).tolist() if errors else []
    error_rows = _error_rows(ctx) if errors else {}
    plain = ctx.plain  # no overlay shown: host to host, nothing of pods or tunnels drawn
    paths: list[PacketPath] = []
    for (kind, key), at in groups(chosen, ("kind", "key")).items():
        contiguous = at[-1] - at[0] + 1 == len(at)
        rows = chosen.iloc[at[0] : at[-1] + 1] if contiguous else chosen.iloc[at]
        kind, key = str(kind), str(key)
        r = first_row(rows)
        status = _status([statuses[k] for k in at])
        req_obs = observations(ctx, placed, rows, "request")
        rep_obs = observations(ctx, placed, rows, "reply")
        last_seen = None
        error: tuple[str, str | None] | None = None
        ended: tuple[str | None, str] | None = None
        if kind in ("nd", "arp"):
            resolve = plain_resolution if plain else gateway_hops
            req, rep = resolve(ctx, placed, rows, kind)
        elif kind in ("echo", "tcp"):
            src_ip, dst_ip = str(r["requester_ip"]), str(r["target"])
            err_rep: list[Hop] = []
            err_pos = (
                next((errors[positions[k]] for k in at if positions[k] in errors), None)
                if errors
                else None
            )
            err_obs: list[tuple[Point, Row]] = []
            if err_pos is not None and not rep_obs:
                err_rows, words, sender = _error_of(ctx, error_rows, err_pos)
                err_obs = observations(ctx, placed, err_rows, "reply")
                what = (
                    "its tunnel packet"
                    if _outside(err_obs) and any(not na(row["tunnel"]) for _, row in req_obs)
                    else "it"
                )
                error = (words, sender)
                ended = (sender, f"{words} from {sender} answered {what}")
                _, err_rep = _error_hops(ctx, placed, err_rows, words)
            if plain:
                req, last_seen = plain_direction(
                    ctx, req_obs, src_ip, dst_ip, r["requester_mac"],
                    reached=bool(rep_obs), ended=ended,
                )  # fmt: skip
                rep = err_rep
                if error is not None and error[1] and err_obs:
                    # the error answered it: drawn from its sender, as a reply is
                    rep, _ = plain_direction(
                        ctx, err_obs, error[1], src_ip, err_obs[0][1]["src_mac"],
                        reached=False, reply=True, sent=error[0],
                    )  # fmt: skip
                if rep_obs:
                    rep_mac = rep_obs[0][1]["src_mac"]  # as the first capture saw it
                    rep, _ = plain_direction(
                        ctx, rep_obs, dst_ip, src_ip, rep_mac, reached=False, reply=True
                    )
            else:
                req, last_seen = direction(
                    ctx, placed, req_obs, src_ip, dst_ip, r["requester_mac"],
                    reached=bool(rep_obs), ended=ended,
                )  # fmt: skip
                rep = err_rep
                if rep_obs:
                    rep_src_mac = next(
                        (
                            row["src_mac"]
                            for p, row in rep_obs
                            if not na(row["tunnel"]) or p.kind == "pod"
                        ),
                        None,
                    )
                    if rep_src_mac is None and node_nic(ctx, r["responder_mac"]):
                        rep_src_mac = r["responder_mac"]  # first seen leaving its node's NIC
                    rep, _ = direction(
                        ctx, placed, rep_obs, dst_ip, src_ip, rep_src_mac, reached=False
                    )
        elif kind == "icmp-error":
            words, _ = error_words(r["answer"], r["ip_version"], r["icmp_code"])
            req, rep = (plain_error if plain else _error_hops)(ctx, placed, rows, words)
            if not plain and not req and not rep:
                req, rep = _pod_error_hops(ctx, placed, r, req_obs, rep_obs)
        else:
            req, rep = [], []
        path_statuses = [statuses[k] for k in at]
        answer = _answer(rows, path_statuses)
        summary = _summary(ctx, kind, key, rows, path_statuses, [points[k] for k in at], answer)
        if ended is not None:
            # an ICMP error answered it: no reply, but not unanswered
            summary = summary.removesuffix(": unanswered") + (
                f": no reply; {ended[1]}" if summary.endswith(": unanswered") else f"; {ended[1]}"
            )
        tunnel, vni = _first_tunnel(req_obs)
        rep_tunnel, reply_vni = _first_tunnel(rep_obs)
        paths.append(
            PacketPath(
                kind=kind,
                summary=summary,
                hops=req,
                reply_hops=rep,
                key=key,
                status=status,
                src_ip=text_of(r["requester_ip"]),
                dst_ip=text_of(r["target"]),
                target=text_of(r["target"]),
                echo_id=int_of(r["echo_id"]) if "echo_id" in rows else None,
                echo_seq=int_of(r["echo_seq"]) if "echo_seq" in rows else None,
                dst_port=int_of(r["dport"]) if kind == "tcp" and "dport" in rows else None,
                nd_flags=nd_flags(r["nd_flags"]) if kind == "nd" else None,
                responder_mac=text_of(r["responder_mac"]) if kind in ("nd", "arp") else None,
                tunnel=tunnel or rep_tunnel,
                vni=vni,
                reply_vni=reply_vni,
                last_seen=last_seen,
                icmp_error=error[0] if error is not None else None,
                icmp_error_from=error[1] if error is not None else None,
                answer=answer,
            )
        )
    return paths, max(0, total - MAX_PATHS)
