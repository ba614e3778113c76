"""Pieces every path is built from: the frames of a packet, where they were captured, and hops
bounded by what the captures show."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ._rows import text_is
from .context import Context, Point, Row, ev, na, vals
from .model import Evidence, Hop

__all__ = [
    "Draft",
    "captured_on",
    "evs",
    "finish",
    "frame_list",
    "frame_text",
    "int_of",
    "node_eth0",
    "observations",
    "on_node",
    "placed_points",
    "text_of",
    "tunnel_of",
]


def observations(
    ctx: Context, points: dict[str, Point], rows: pd.DataFrame, side: str
) -> list[tuple[Point, Row]]:
    """(capture point, packets row) of every frame of one side (``request`` / ``reply``),
    including the other observations of the same packet found by the journeys."""
    frames: list[tuple[str, int]] = []
    for c, f in zip(rows[f"{side}_capture"], rows[f"{side}_frame"], strict=True):
        if not na(c) and not na(f):
            frames.append((str(c), int(f)))
    for cap, frame in list(frames):
        frames += ctx.journey_frames(cap, frame)
    out = []
    for cap, frame in dict.fromkeys(frames):
        row = ctx.row(cap, frame)
        if row is not None:
            out.append((points[cap], row))
    return sorted(out, key=lambda pr: pr[1]["ts_ns"])


def evs(rows: list[Row]) -> list[Evidence]:
    out = []
    for r in rows:
        e = ev(r["capture"], r["frame_no"])
        if e is not None:
            out.append(e)
    return out


def frame_list(rows: list[Row]) -> str:
    """``cap#3, cap#7``: the frames of ``rows``, each once, sorted."""
    return ", ".join(sorted({f"{r['capture']}#{int(r['frame_no'])}" for r in rows}))


def frame_text(ctx: Context, row: Row, *, named: bool = True) -> str:
    """``<src MAC> → <dst MAC>, <src IP> → <dst IP>, TTL 64``, each MAC with what it is
    (``named``: :meth:`Context.mac_text`) or as it is."""
    ttl = vals(row["ttl"])
    word = "hop limit" if vals(row["ip_version"]) == 6 else "TTL"
    ttl_text = f", {word} {ttl}" if ttl is not None else ""
    src, dst = (ctx.mac_text(row[c]) if named else _mac(row[c]) for c in ("src_mac", "dst_mac"))
    return f"{src} → {dst}, {row['src_ip']} → {row['dst_ip']}{ttl_text}"


def _mac(value: object) -> str:
    v = vals(value)
    return "?" if v is None else str(v)


def node_eth0(node: str | None, ip: str | None, fallback: str) -> str:
    name = node or fallback
    return f"{name} eth0" + (f" ({ip})" if ip and ip not in name else "")


def text_of(value: object) -> str | None:
    v = vals(value)
    return None if v is None else str(v)


def int_of(value: object) -> int | None:
    v = vals(value)
    return None if v is None else int(v)  # type: ignore[call-overload]


def tunnel_of(row: Row) -> str | None:
    t = text_of(row["tunnel"])
    return t.lower() if t else None


def captured_on(ctx: Context, point: Point, row: Row) -> tuple[str | None, str | None]:
    """(name, role) of the interface a node capture's frame was taken on, as far as the capture
    says (SLL2 ifindex, pcapng interface name), the role as the overlay's datapath names it
    (``host-veth``, ``bridge``, ``tunnel``, ``gateway``, ``underlay``); ``(None, None)`` when
    the capture does not say. An interface of the dumps whose veth peer is in another namespace
    and that has no other role is a pod's host-side veth."""
    ifindex = int_of(row["ifindex"])
    name = text_of(row["interface"])
    dp = ctx.datapath
    for iface in ctx.topology.interfaces:
        if iface.node != point.node or iface.namespace not in (None, "host"):
            continue
        if (ifindex is not None and iface.ifindex == ifindex) or (
            ifindex is None and name and iface.name == name
        ):
            role = dp.role(iface.name, iface.kind)
            peer = iface.peer
            if role is None and peer is not None and (peer.netns or peer.netnsid is not None):
                role = "host-veth"
            return iface.name, role
    if ifindex is None and name and name != "if0":
        return name, dp.role(name)
    return None, None


def on_node(point: Point, ip: str | None, label: str | None) -> bool:
    """Whether a capture point is known to be on the node with underlay address ``ip`` (or
    label ``label`` when the capture's own address or the path's is not known)."""
    if point.kind != "node":
        return False
    if point.node_ip is not None and ip is not None:
        return point.node_ip == ip
    return label is not None and point.node == label


def placed_points(ctx: Context) -> dict[str, Point]:
    """The capture points, each node capture placed by its own frames' direction when they say
    it: a tunnelled frame a Linux ``-i any`` capture marks *outgoing* was sent by the capture's
    node (its outer source), one marked *host* was received by it (its outer destination). A
    capture whose directed frames all name one node is placed there, whatever was guessed from
    its name or its ARP; the others keep the context's placement (worked out once per
    context; each call gives its own dictionary)."""
    if ctx._placed is None:
        ctx._placed = _placed_points(ctx)
    return dict(ctx._placed)


def _placed_points(ctx: Context) -> dict[str, Point]:
    """What :func:`placed_points` gives, worked out."""
    p = ctx.packets
    out = dict(ctx.points)
    if p.empty or ("pkt_type" not in p.columns and "mirror_direction" not in p.columns):
        return out
    outgoing, host = _directions(ctx)
    directed = p["tunnel"].notna().to_numpy() & (outgoing | host)
    if not directed.any():
        return out
    sub = p.loc[directed, ["outer_src_ip", "outer_dst_ip"]]
    own = sub["outer_src_ip"].astype(str).where(outgoing[directed], sub["outer_dst_ip"].astype(str))
    codes, names = ctx.capture_codes
    mirrored = set()
    if "mirror_direction" in p.columns:
        seen = np.unique(codes[p["mirror_direction"].notna().to_numpy()])
        mirrored = {names[k] for k in seen.tolist() if k >= 0}
    # the directed frames' own addresses per capture, captures in order of first appearance
    at = codes[directed]
    for k in pd.unique(at).tolist():
        if k < 0:
            continue
        capture = names[k]
        found = set(own[at == k])
        point = out.get(str(capture))
        if len(found) != 1 or point is None or point.kind not in ("node", "mixed"):
            continue
        ip = found.pop()
        if point.node_ip == ip and not point.candidates:
            continue
        out[str(capture)] = replace(
            point,
            kind="node",
            node_ip=ip,
            node=ctx.node_label(ip) or f"node {ip}",
            candidates=(),
            how=f"its {_SAID_BY[str(capture) in mirrored]} in the tunnel were sent from or "
            f"received by {ip}",
        )
    return out


_SAID_BY = {
    False: "-i any frames",
    True: "mirrored frames (direction at the mirrored port: ingress = sent by the node)",
}


def _directions(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Row masks of the frames the node sent (*outgoing*) and received (*host*), as a Linux
    ``-i any`` capture says, or a mirror transport that gives the direction (ERSPAN III):
    *ingress* at the mirrored port was sent by the node attached to it, *egress* received."""
    p = ctx.packets
    outgoing = _text_is(ctx, "pkt_type", "outgoing")
    host = _text_is(ctx, "pkt_type", "host")
    if "mirror_direction" in p.columns:
        ingress = _text_is(ctx, "mirror_direction", "ingress")
        egress = _text_is(ctx, "mirror_direction", "egress")
        said = ingress | egress
        outgoing = ingress | (~said & outgoing)
        host = egress | (~said & host)
    return outgoing, host


def _text_is(ctx: Context, column: str, text: str) -> np.ndarray:
    """Row mask: the column's value, as text, is ``text`` (none without such a column)."""
    p = ctx.packets
    if column not in p.columns:
        return np.zeros(len(p), dtype=bool)
    return text_is(p[column], text)


@dataclass
class Draft:
    """A hop being built: its note is ``base`` plus ``onward`` (what it does next, inferred),
    unless the path stops at this hop; ``points`` are the captures taken at this place."""

    hop: Hop
    base: str
    onward: str = ""
    points: set[str] = field(default_factory=set)


def finish(
    drafts: list[Draft],
    *,
    reached: bool,
    dst_text: str,
    no_pod: bool,
    ended: tuple[str | None, str] | None = None,
    wide: set[str] | frozenset[str] = frozenset(),
) -> tuple[list[Hop], str | None]:
    """The hops of one direction bounded by the evidence: after the last hop a capture saw, the
    path stops (unless the packet is known to have arrived); returns the hops and, when cut, the
    place the packet was last seen. ``ended`` (the address that answered the packet with an
    ICMP error, and that in words) says why it went no further: where the error came from the
    place it was last seen, it replaces the guesses of what became of it. ``wide`` are the
    captures that see every interface of their node (``-i any``): only they can show that a
    packet did not go on from one of the node's devices to the next."""
    seen = [i for i, d in enumerate(drafts) if d.hop.observed]
    last = seen[-1] if seen else len(drafts) - 1
    cut = not reached and bool(seen) and last < len(drafts) - 1
    kept = drafts[: last + 1] if cut else drafts
    hops = []
    for i, d in enumerate(kept):
        parts = [p for p in (d.base, d.onward) if p]
        if cut and i == len(kept) - 1:
            parts = [d.base] if d.base else []
            # captures taken further along that did not see it here (a capture that saw it
            # before, e.g. a node's eth0 capture on the sending node, still counts when it is
            # placed at a later hop too and cited nowhere)
            cited = {e.capture for k in kept for e in k.hop.evidence}
            before = set().union(*(k.points for k in kept)) - set().union(
                *(k.points for k in drafts[last + 1 :])
            )
            later = set().union(*(k.points for k in drafts[last + 1 :]))
            further = sorted(later - before - cited)
            # captures of this place that see the next hops too (a node's -i any)
            also = sorted(later & set().union(*(k.points for k in kept)) & set(wide))
            if further:
                why = (
                    f"not seen after {d.hop.place}, although {', '.join(further)} captured "
                    "further along its way: it may have been dropped or diverted in between"
                )
            elif also:  # a capture of this place may cover the next (-i any), or may not
                why = (
                    f"not seen after {d.hop.place}: no capture further along its way holds it "
                    "(it may have gone on uncaptured, or been dropped)"
                )
            else:
                why = f"not seen after {d.hop.place}: no capture was taken further along its way"
            if ended is not None and ended[0] is not None and ended[0] == d.hop.ip:
                why = f"{ended[1]} here: it went no further"
            elif ended is not None:
                why += f"; {ended[1]}"
            if no_pod:
                why += f"; no pod of the dumps has {dst_text}"
            parts.append(why)
        if reached and i == len(kept) - 1 and seen and last < i:
            # nothing saw it here: the answer is what shows it got this far
            parts.append("the answer shows the request reached it")
        d.hop.note = "; ".join(parts)
        hops.append(d.hop)
    return hops, (kept[-1].hop.place if cut else None)
