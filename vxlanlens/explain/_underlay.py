"""The underlay leg of a path: the sending node's eth0, the network between the nodes and the
receiving node's eth0.

Every path that crosses nodes has it (a tunnelled packet, ``_direction``; a packet routed
natively, ``_native``; an ICMP error sent between underlay addresses, ``_icmp``): the names,
kinds, evidence and outer-header fields of these three hops, and the wording shared by the
paths, are decided here. What the ends say of the packet (its outer header, that it was not
encapsulated, that an error was sent) stays with each path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..proto import HopKind
from ._hops import Draft, evs, frame_list, frame_text, int_of, node_eth0, text_of, tunnel_of
from .context import Context, Row
from .model import Hop

__all__ = ["End", "arrival_note", "outer_fields", "underlay_leg"]


@dataclass
class End:
    """One node's eth0 on the leg: the node (None when not known: the hop is then named by the
    side, ``sending node`` / ``receiving node``), its underlay address, the frames captures
    taken there hold, and its note (``note`` plus ``onward``, as a :class:`Draft`'s);
    ``points`` are the captures taken on that node; ``outer`` are outer-header fields of this
    end that differ from the leg's (the receiver's tunnel and VNI, as it saw them)."""

    node: str | None
    ip: str | None
    rows: list[Row]
    note: str
    onward: str = ""
    points: set[str] = field(default_factory=set)
    outer: dict[str, Any] = field(default_factory=dict)


def outer_fields(row: Row | None) -> dict[str, Any]:
    """The :class:`Hop` fields of a tunnelled frame's outer header (tunnel, VNI, outer addresses
    and ports); none without a frame."""
    if row is None:
        return {}
    return {
        "tunnel": tunnel_of(row),
        "vni": int_of(row["vni"]),
        "outer_src_ip": text_of(row["outer_src_ip"]),
        "outer_dst_ip": text_of(row["outer_dst_ip"]),
        "outer_src_port": int_of(row["outer_sport"]),
        "outer_dst_port": int_of(row["outer_dport"]),
    }


def arrival_note(
    ctx: Context, recv: list[Row], receiver_pts: set[str], *, arrived: str, maybe_between: bool
) -> str:
    """The note of the receiving node's eth0: ``{arrived}: <the first frame there>``, else which
    captures taken on that node do not hold it, else that none was taken there. With
    ``maybe_between`` (the tunnelled path, when an underlay capture of unknown node holds the
    packet) it says that capture may be the receiving node's; the native path never said so."""
    if recv:
        return f"{arrived}: " + frame_text(ctx, recv[0])
    if receiver_pts:
        return f"not in {', '.join(sorted(receiver_pts))}, taken on this node"
    if maybe_between:
        return (
            "no capture known to be on the receiving node's eth0 (the underlay capture that "
            "holds it may be this node's)"
        )
    return "no capture on the receiving node's eth0"


def underlay_leg(
    sender: End,
    receiver: End,
    between: list[Row],
    *,
    outer: dict[str, Any],
    seen: str = "",
    unseen: str = "",
    points: set[str] | None = None,
) -> list[Draft]:
    """The three drafts of the leg: ``sender``'s eth0, the underlay network and ``receiver``'s
    eth0, each observed when it has frames (two of them cited). ``between`` are the frames of
    captures on neither node (``points``); ``outer`` are the outer-header fields of all three
    (:func:`outer_fields`; none for a packet not tunnelled). The network's note is ``seen on the
    underlay (<its frames>)`` plus ``seen``, or ``between the nodes' eth0 (not captured)`` plus
    ``unseen``: each path adds what it knows there (the tunnelled one that the capture's node
    cannot be told, the native one that the packet was not encapsulated)."""

    def eth0(end: End, fallback: str) -> Draft:
        return Draft(
            Hop(
                node_eth0(end.node, end.ip, fallback),
                HopKind.UNDERLAY,
                bool(end.rows),
                node=end.node,
                evidence=evs(end.rows[:2]),
                device="eth0",
                ip=end.ip,
                **{**outer, **end.outer},
            ),
            end.note,
            end.onward,
            points=end.points,
        )

    network = Draft(
        Hop("underlay network", HopKind.NETWORK, bool(between), evidence=evs(between[:2]), **outer),
        f"seen on the underlay ({frame_list(between)}){seen}"
        if between
        else f"between the nodes' eth0 (not captured){unseen}",
        points=points if points is not None else set(),
    )
    return [eth0(sender, "sending node"), network, eth0(receiver, "receiving node")]
