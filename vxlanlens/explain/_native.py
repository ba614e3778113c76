"""The hops between two nodes of a packet the overlay routes without a tunnel.

Calico in CrossSubnet mode (``vxlanMode`` / ``ipipMode: CrossSubnet``) encapsulates only what
goes to a node of another subnet; to a node of its own subnet the sending node routes the pod's
packet itself out of its underlay interface, from its own MAC to the other node's, and the
receiving node routes it on to the pod. Cilium's native routing, Flannel's host-gw (or VXLAN
DirectRouting) and Antrea's noEncap (or hybrid) do the same. Only a datapath that says so
(:attr:`Datapath.native`) gets these hops; every other cross-node path crosses a tunnel device
(``_direction``).
"""

from __future__ import annotations

from ._hops import Draft, frame_text
from ._underlay import End, arrival_note, underlay_leg
from .context import Context, Point, Row, na

__all__ = ["native_hops", "native_rows"]


def native_rows(
    sender: list[Row], receiver: list[Row], src_mac: object, *, nic: bool = False
) -> tuple[list[Row], list[Row]]:
    """The frames of a natively routed packet on the sending node's and on the receiving node's
    underlay, from the frames their node captures saw outside a tunnel, a host veth, a bridge or
    a tunnel device: on the sender the ones no longer from the pod's MAC (routed: from the
    node's own), on the receiver the ones with the same MACs as the sender's (one L2 frame).
    Frames that show both MACs (Ethernet captures; Linux ``-i any`` ones have no destination)
    come first. With ``nic``, ``src_mac`` is the sending node's NIC (no copy from the pod is
    known): its frames on either side."""

    def full_first(rows: list[Row]) -> list[Row]:
        return sorted(rows, key=lambda r: na(r["dst_mac"]))

    if nic:  # the packet is first seen leaving its node's NIC: the frames from that MAC
        sent = full_first([r for r in sender if str(r["src_mac"]) == str(src_mac)])
        if not sent:
            return [], full_first([r for r in receiver if str(r["src_mac"]) == str(src_mac)])
    else:
        sent = full_first([r for r in sender if str(r["src_mac"]) != str(src_mac)])
    if not sent:
        return [], []
    ref = sent[0]

    def same(r: Row) -> bool:
        if str(r["src_mac"]) != str(ref["src_mac"]):
            return False
        return na(r["dst_mac"]) or na(ref["dst_mac"]) or str(r["dst_mac"]) == str(ref["dst_mac"])

    # the same L2 frame on the receiver (nodes of one subnet), else what a router between
    # them sent on (its own MAC): the copies outside veths, bridges and tunnel devices there
    return sent, full_first([r for r in receiver if same(r)] or receiver)


def native_hops(
    ctx: Context,
    drafts: list[Draft],
    points: dict[str, Point],
    rows: tuple[list[Row], list[Row], list[Row]],
    *,
    nodes: tuple[str | None, str | None],
    pts: tuple[set[str], set[str], set[str]],
) -> None:
    """Append the sending node's eth0, the network between and the receiving node's eth0 for a
    packet routed natively (``rows``: its frames at the sender's eth0, between the nodes, at the
    receiver's eth0), as :func:`underlay_leg` builds them."""
    dp = ctx.datapath
    snode, dnode = nodes
    sent, between, recv = rows
    sender_pts, receiver_pts, between_pts = pts

    def node_ip(rs: list[Row], pt: set[str]) -> str | None:
        for c in [str(r["capture"]) for r in rs] + sorted(pt):
            if c in points and points[c].node_ip:
                return points[c].node_ip
        return None

    drafts.extend(
        underlay_leg(
            End(
                snode,
                node_ip(sent, sender_pts),
                sent,
                f"not encapsulated: {frame_text(ctx, sent[0])}"
                if sent
                else "routed out here without encapsulation (inferred; no node capture)",
                dp.native,
                points=sender_pts,
            ),
            End(
                dnode,
                node_ip(recv, receiver_pts),
                recv,
                arrival_note(
                    ctx,
                    recv,
                    receiver_pts,
                    arrived="arrived, not encapsulated",
                    maybe_between=bool(between),
                ),
                dp.native_deliver or dp.local,
                points=receiver_pts,
            ),
            between,
            outer={},
            seen=", not encapsulated",
            unseen=": the pod's own packet, no tunnel",
            points=between_pts,
        )
    )
