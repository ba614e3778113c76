"""The hops of one direction of a packet between two pods, named by the overlay's datapath.

Roles, not CNI names: the pod's eth0, the host side of its veth, the forwarder (Cilium's eBPF
program, a Linux or OVS bridge, or the node's own routing), the tunnel device, the nodes'
underlay, and the same backwards on the receiving node. What each role is called and does comes
from :attr:`Context.datapath` (the recognised overlay's profile); which frames are cited at a hop
comes from where the captures saw them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..proto import HopKind
from ._hops import (
    Draft,
    captured_on,
    evs,
    finish,
    frame_text,
    int_of,
    on_node,
    text_of,
    tunnel_of,
)
from ._native import native_hops, native_rows
from ._underlay import End, arrival_note, outer_fields, underlay_leg
from .context import Context, Point, Row, na, vals
from .model import Hop

__all__ = ["direction", "node_nic"]

_KIND_PROTOCOL = {"cilium_vxlan": "vxlan", "cilium_geneve": "geneve"}


@dataclass
class _Side:
    """Frames a node capture saw outside the tunnel on one node, by the role of the interface."""

    veth: list[Row] = field(default_factory=list)
    bridge: list[Row] = field(default_factory=list)
    tunnel: list[Row] = field(default_factory=list)
    other: list[Row] = field(default_factory=list)
    veth_names: list[str] = field(default_factory=list)
    tunnel_names: list[str] = field(default_factory=list)
    beyond_veth: list[Row] = field(default_factory=list)
    """Every frame not on the host veth, in the order seen (what Cilium's one hop cites)."""

    def add(self, row: Row, name: str | None, role: str | None) -> None:
        """File ``row`` under the role of the interface it was captured on."""
        if role != "host-veth":
            self.beyond_veth.append(row)
        if role == "host-veth":
            self.veth.append(row)
            if name:
                self.veth_names.append(name)
        elif role == "bridge":
            self.bridge.append(row)
        elif role == "tunnel":
            self.tunnel.append(row)
            if name:
                self.tunnel_names.append(name)
        else:
            self.other.append(row)

    def at_tunnel(self) -> list[Row]:
        """Frames on the tunnel device or on an interface of no known role, in the order seen."""
        return [r for r in self.beyond_veth if not any(r is b for b in self.bridge)]


def node_nic(ctx: Context, mac: object) -> bool:
    """Whether ``mac`` is a node's underlay NIC (by the dumps, or ARP binding it to a node's
    address): a packet first seen from it was already routed by its node."""
    if na(mac):
        return False
    iface = ctx.topology.interface_by_mac(str(mac))
    if iface is not None and iface.kind == "underlay" and ctx.topology.pod_by_mac(str(mac)) is None:
        return True
    said = ctx.overlay_mac(mac)
    return said is not None and said.role == "underlay"


def _protocol(ctx: Context, name: str, kind: str | None) -> str | None:
    return _KIND_PROTOCOL.get(kind or "") or ctx.datapath.tunnel_protocol(name)


def _tunnel_device(
    ctx: Context,
    node: str | None,
    protocol: str | None,
    vni: int | None,
    seen_on: list[str],
    underlay_ip: str | None = None,
) -> str | None:
    """A node's tunnel device for a protocol: the one a capture saw the packet on, else the one
    the dumps give the node, else the overlay's usual name for the protocol (its IPv6 one when
    the node's ``underlay_ip`` is IPv6)."""
    for name in seen_on:
        if protocol is None or _protocol(ctx, name, None) in (None, protocol):
            return name
    dp = ctx.datapath
    v6 = underlay_ip is not None and ":" in underlay_ip
    # the node's root-namespace interfaces, in model order (indexed: not a scan of them all)
    found_any: str | None = None
    for iface in ctx.topology.interfaces_of_node(node) if node is not None else ():
        # the overlay's name for a tunnel device, else what the dump says the device is
        dumped = str((iface.tunnel or {}).get("kind") or "") or None
        if dp.role(iface.name, iface.kind) != "tunnel" and dumped is None:
            continue
        found = _protocol(ctx, iface.name or "", iface.kind) or dumped
        if protocol is None or found in (None, protocol):
            local = str((iface.tunnel or {}).get("local") or "")
            if not local or (":" in local) == v6:
                return iface.name or iface.kind  # on this underlay family (or not said)
            found_any = found_any or iface.name or iface.kind
    # a device of the other underlay family (dual stack: flannel.N carries IPv4, flannel-v6.N
    # IPv6) only when the node has none of this one
    return found_any or dp.tunnel_device(protocol, vni, ipv6=v6)


def _where(ctx: Context, rows: list[Row]) -> str:
    return ", ".join(dict.fromkeys(w for r in rows[:3] if (w := ctx.interface_at(r))))


def _seen_note(ctx: Context, rows: list[Row], what: str) -> str:
    if not rows:
        return ""
    where = _where(ctx, rows)
    return f"{what} ({where})" if where else what


def direction(
    ctx: Context,
    points: dict[str, Point],
    obs: list[tuple[Point, Row]],
    src_ip: str,
    dst_ip: str,
    src_mac: object,
    *,
    reached: bool,
    ended: tuple[str | None, str] | None = None,
) -> tuple[list[Hop], str | None]:
    """Hops from the pod with ``src_ip`` to the pod with ``dst_ip`` through the overlay, bounded
    by where the captures saw the packet (``reached``: it is known to have arrived, e.g. it was
    answered; ``ended``: who answered it with an ICMP error instead, and that in words);
    returns the hops and the place it was last seen when the path stops short."""
    dp = ctx.datapath
    spod = ctx.pod_of(ip=src_ip, mac=src_mac)
    dpod = ctx.pod_of(ip=dst_ip)
    tun = [row for _, row in obs if not na(row["tunnel"])]
    outer_src = str(tun[0]["outer_src_ip"]) if tun else None
    outer_dst = str(tun[0]["outer_dst_ip"]) if tun else None
    snode = (
        ctx.node_of_pod(spod)
        or ctx.node_label(outer_src)
        or (f"node {outer_src}" if outer_src else None)
    )
    dnode = (
        ctx.node_of_pod(dpod)
        or ctx.node_label(outer_dst)
        or ctx.node_of_pod_ip(dst_ip)
        or (f"node {outer_dst}" if outer_dst else None)
    )
    slabel = spod.label if spod is not None else f"pod {src_ip}"
    dlabel = dpod.label if dpod is not None else f"pod {dst_ip}"
    no_pod = dpod is None and ctx.loaded and not ctx.topology.is_empty()
    if no_pod:
        dlabel = f"{dst_ip} (no pod of the dumps)"
    src_mac_text = None if na(src_mac) else str(src_mac)

    # a packet seen in a tunnel crossed nodes, whatever the dumps say of the pods' nodes
    if tun:
        local = False
    elif (a := ctx.node_of_pod(spod)) is not None and (b := ctx.node_of_pod(dpod)) is not None:
        local = a == b
    else:
        local = spod is not None and dpod is not None
    if local:  # one node for both ends, when only one of them is known
        snode = snode or dnode
        dnode = dnode or snode

    def at_pod(p: Point, pod: Any) -> bool:
        return p.kind == "pod" and pod is not None and p.pod == pod.label

    def own(row: Row, column: str, pod: Any) -> bool:
        """Whether a pod capture's frame is the pod's own copy (its MAC at ``column``), when
        the pod's MAC is known: another pod's copy of the packet is not cited here."""
        mac = getattr(pod, "mac", None)
        return not mac or na(row[column]) or str(row[column]) == str(mac)

    sender_pts = {p.capture for p in points.values() if on_node(p, outer_src, snode)}
    receiver_pts = {p.capture for p in points.values() if on_node(p, outer_dst, dnode)}
    if local:
        receiver_pts = sender_pts
    between_pts = {
        p.capture
        for p in points.values()
        if p.kind in ("node", "mixed") and p.capture not in sender_pts | receiver_pts
    }
    spod_pts = {p.capture for p in points.values() if at_pod(p, spod)}
    dpod_pts = {p.capture for p in points.values() if at_pod(p, dpod)}

    # 1. the sending pod's eth0
    seen = [
        row for p, row in obs if at_pod(p, spod) and na(row["tunnel"]) and own(row, "src_mac", spod)
    ]
    nic = node_nic(ctx, src_mac)  # the packet's first copy is already the node's
    if not seen and not nic:
        # a capture at no known pod, or at this one, with the sender's MAC: not the capture of
        # another pod (on one L2 segment the receiver sees the sender's own MAC)
        seen = [
            row
            for p, row in obs
            if (p.kind == "unknown" or (p.kind == "pod" and p.pod in (None, slabel)))
            and na(row["tunnel"])
            and str(row["src_mac"]) == str(src_mac)
        ]
    first_seen = seen[0] if seen else None

    pre, post = _Side(), _Side()
    for p, row in obs:
        if p.kind != "node" or not na(row["tunnel"]):
            continue
        name, role = captured_on(ctx, p, row)
        if local:
            if p.capture not in sender_pts:
                continue
            mine = spod is not None and spod.host_interface
            sending = (name == spod.host_interface) if mine else str(row["src_mac"]) == str(src_mac)
        elif p.capture in sender_pts:
            sending = True
        elif p.capture in receiver_pts:
            sending = False
        else:
            continue
        (pre if sending else post).add(row, name, role)

    drafts: list[Draft] = [
        Draft(
            Hop(
                f"{slabel} eth0",
                HopKind.POD_ETH0,
                bool(seen),
                node=snode,
                pod=slabel,
                mac=src_mac_text,
                evidence=evs(seen[:2]),
                device="eth0",
                ip=src_ip,
            ),
            f"sent {frame_text(ctx, first_seen)}"
            if first_seen is not None
            else "no capture at the sending pod",
            points=spod_pts,
        )
    ]
    # 2. the host side of its veth
    bridged = dp.forwarder is not None and not dp.merged
    first_dst = (
        text_of(first_seen["dst_mac"])  # none in a cooked (SLL) capture
        if first_seen is not None
        else (text_of(tun[0]["dst_mac"]) if tun and dp.merged else None)
    )
    # the pod's frames are addressed to its veth (Cilium, Calico) or to the bridge's gateway
    veth_mac = None if bridged else first_dst
    veth_dev = spod.host_interface if spod is not None and spod.host_interface else None
    if veth_dev is not None and dp.role(veth_dev) not in (None, "host-veth"):
        veth_dev = None  # e.g. the bridge, inferred as the MAC that answered the gateway
    veth_dev = veth_dev or next(iter(pre.veth_names), None)
    veth_name = veth_dev or (f"{dp.host_veth} {veth_mac}" if veth_mac else dp.host_veth)
    veth_note = (
        f"the other end of the pod's veth, a port of {dp.forwarder_device or 'the bridge'}: "
        "every frame the pod sends arrives here"
        if bridged
        else "the other end of the pod's veth: every frame the pod sends arrives here "
        "(the frames' destination MAC is this veth's)"
    )
    drafts.append(
        Draft(
            Hop(
                f"{veth_name} on {snode or '?'}",
                HopKind.LXC,
                bool(pre.veth),
                node=snode,
                pod=slabel,
                mac=veth_mac,
                evidence=evs(pre.veth[:2]),
                device=veth_dev,
            ),
            veth_note,
            dp.local if local and dp.forwarder is None else "",
            points=sender_pts,
        )
    )
    if local:
        if dp.forwarder is not None:
            beyond = pre.beyond_veth
            drafts.append(
                Draft(
                    Hop(
                        f"eBPF on {veth_name}"
                        if dp.merged
                        else f"{dp.forwarder} on {snode or '?'}",
                        HopKind.EBPF if dp.merged else HopKind.BRIDGE,
                        bool(beyond),
                        node=snode,
                        evidence=evs(beyond[:2]),
                        device=dp.forwarder_device,
                    ),
                    "",
                    dp.local,
                    points=sender_pts,
                )
            )
    elif (
        dp.native
        and not tun
        and not (pre.tunnel or post.tunnel)
        and (nic or native_rows(pre.other, post.other, src_mac)[0])
    ):
        # routed between the nodes without a tunnel, as the overlay's datapath allows (Calico
        # CrossSubnet, nodes of one subnet): the sending node's own frame carries the pod's packet
        sent, recv = native_rows(pre.other, post.other, src_mac, nic=nic)
        between = [row for p, row in obs if p.capture in between_pts and na(row["tunnel"])]
        native_hops(
            ctx,
            drafts,
            points,
            (sent, between, recv),
            nodes=(snode, dnode),
            pts=(sender_pts, receiver_pts, between_pts),
        )
    else:
        _cross_nodes(
            ctx,
            drafts,
            obs,
            tun,
            pre,
            post,
            veth_name=veth_name,
            nodes=(snode, dnode),
            outer=(outer_src, outer_dst),
            pts=(sender_pts, receiver_pts, between_pts),
        )
    # the destination pod's host veth
    dveth_dev = dpod.host_interface if dpod is not None and dpod.host_interface else None
    if dveth_dev is not None and dp.role(dveth_dev) not in (None, "host-veth"):
        dveth_dev = None
    dveth_dev = dveth_dev or next(iter(post.veth_names), None)
    drafts.append(
        Draft(
            Hop(
                f"{dveth_dev or dp.host_veth} on {dnode or '?'}",
                HopKind.LXC,
                bool(post.veth),
                node=dnode,
                pod=dlabel,
                mac=dpod.host_mac if dpod is not None and not bridged else None,
                evidence=evs(post.veth[:2]),
                device=dveth_dev,
            ),
            "host side of the destination pod's veth",
            points=receiver_pts,
        )
    )
    # the destination pod's eth0
    got = [
        row for p, row in obs if at_pod(p, dpod) and na(row["tunnel"]) and own(row, "dst_mac", dpod)
    ]
    drafts.append(
        Draft(
            Hop(
                f"{dlabel} eth0",
                HopKind.POD_ETH0,
                bool(got),
                node=dnode,
                pod=dlabel,
                mac=dpod.mac if dpod is not None else None,
                evidence=evs(got[:2]),
                device="eth0",
                ip=dst_ip,
            ),
            ("received " + frame_text(ctx, got[0]))
            if got
            else "no pod of the dumps has this address"
            if dpod is None and ctx.loaded
            else "no capture at the destination pod",
            points=dpod_pts,
        )
    )
    wide = {c for c, p in points.items() if p.interface == "any"}
    return finish(drafts, reached=reached, dst_text=dst_ip, no_pod=no_pod, ended=ended, wide=wide)


def _cross_nodes(
    ctx: Context,
    drafts: list[Draft],
    obs: list[tuple[Point, Row]],
    tun: list[Row],
    pre: _Side,
    post: _Side,
    *,
    veth_name: str,
    nodes: tuple[str | None, str | None],
    outer: tuple[str | None, str | None],
    pts: tuple[set[str], set[str], set[str]],
) -> None:
    """Append the hops from the sending node's forwarder to the receiving node's forwarder."""
    dp = ctx.datapath
    snode, dnode = nodes
    outer_src, outer_dst = outer
    sender_pts, receiver_pts, between_pts = pts
    sent = [row for p, row in obs if p.capture in sender_pts and not na(row["tunnel"])]
    recv = [row for p, row in obs if p.capture in receiver_pts and not na(row["tunnel"])]
    between = [row for p, row in obs if p.capture in between_pts and not na(row["tunnel"])]
    # a capture of one of the two nodes whose node cannot be told, or one of tunnel packets
    # between several pairs of nodes ("mixed"): where several nodes' traffic passes
    on_a_node = any(
        p.kind != "mixed" for p, row in obs if p.capture in between_pts and not na(row["tunnel"])
    )
    s_tun = tunnel_of(sent[0]) if sent else tunnel_of(tun[0]) if tun else None
    r_tun = tunnel_of(recv[0]) if recv else tunnel_of(tun[0]) if tun else None
    t0 = sent[0] if sent else tun[0] if tun else None
    vni = int_of(t0["vni"]) if t0 is not None else None
    s_dev = _tunnel_device(ctx, snode, s_tun, vni, pre.tunnel_names, outer_src)
    r_dev = _tunnel_device(ctx, dnode, r_tun, vni, post.tunnel_names, outer_dst)

    # the sending node's forwarder and tunnel device
    if dp.merged:
        beyond = pre.beyond_veth
        drafts.append(
            Draft(
                Hop(
                    f"eBPF on {veth_name} → {s_dev or 'the tunnel device'}",
                    HopKind.EBPF,
                    bool(beyond),
                    node=snode,
                    evidence=evs(beyond[:2]),
                    device=s_dev,
                    tunnel=s_tun,
                ),
                _seen_note(ctx, beyond, "seen before encapsulation"),
                dp.send,
                points=sender_pts,
            )
        )
    else:
        if dp.forwarder is not None:
            drafts.append(
                Draft(
                    Hop(
                        f"{dp.forwarder} on {snode or '?'}",
                        HopKind.BRIDGE,
                        bool(pre.bridge),
                        node=snode,
                        evidence=evs(pre.bridge[:2]),
                        device=dp.forwarder_device,
                    ),
                    _seen_note(ctx, pre.bridge, "seen on the bridge"),
                    dp.send,
                    points=sender_pts,
                )
            )
        at_dev = pre.at_tunnel()
        drafts.append(
            Draft(
                Hop(
                    f"{s_dev or 'tunnel device'} on {snode or '?'}",
                    HopKind.TUNNEL,
                    bool(at_dev),
                    node=snode,
                    evidence=evs(at_dev[:2]),
                    device=s_dev,
                    tunnel=s_tun,
                ),
                _seen_note(ctx, at_dev, "seen before encapsulation"),
                dp.encap if dp.forwarder is not None else dp.send,
                points=sender_pts,
            )
        )
    # the sending node's eth0, the underlay between the nodes, the receiving node's eth0
    vlan = (
        int_of(t0["outer_vlan"]) if t0 is not None and "outer_vlan" in ctx.packets.columns else None
    )
    on_vlan = f" on VLAN {vlan}" if vlan is not None else ""
    tun_text = (
        f"{str(t0['tunnel']).upper()} VNI {vals(t0['vni'])}{dp.tunnel_note(t0)}{on_vlan}, {t0['outer_src_ip']}:{vals(t0['outer_sport'])} → "
        f"{t0['outer_dst_ip']}:{vals(t0['outer_dport'])}; inner {frame_text(ctx, t0)}"
        if t0 is not None
        else "not captured"
    )
    r0 = recv[0] if recv else t0
    drafts.extend(
        underlay_leg(
            End(
                snode,
                outer_src,
                sent,
                tun_text
                if sent
                else f"encapsulated here (inferred); {tun_text}"
                if t0 is not None
                else "encapsulated here (inferred; no node capture)",
                points=sender_pts,
            ),
            End(
                dnode,
                outer_dst,
                recv,
                arrival_note(ctx, recv, receiver_pts, arrived="arrived", maybe_between=on_a_node),
                points=receiver_pts,
                # the tunnel as the receiver saw it
                outer={"tunnel": r_tun, "vni": int_of(r0["vni"])} if r0 is not None else {},
            ),
            between,
            outer=outer_fields(t0),
            seen=", in a capture taken on one of the two nodes: which one cannot be told from "
            "its frames"
            if on_a_node
            else ", in a capture of tunnel packets between several pairs of nodes: taken where "
            "their traffic passes (a switch's mirror port, a bridge or a router), not on either "
            "node",
            points=between_pts,
        )
    )
    # the receiving node's tunnel device (and forwarder)
    if dp.merged:
        beyond = post.beyond_veth
        drafts.append(
            Draft(
                Hop(
                    f"{r_dev or 'tunnel device'} → eBPF on {dnode or '?'}",
                    HopKind.TUNNEL,
                    bool(beyond),
                    node=dnode,
                    evidence=evs(beyond[:2]),
                    device=r_dev,
                    tunnel=r_tun,
                ),
                _seen_note(ctx, beyond, "seen decapsulated") if beyond else "decapsulated",
                dp.decap,
                points=receiver_pts,
            )
        )
        return
    at_dev = post.at_tunnel()
    drafts.append(
        Draft(
            Hop(
                f"{r_dev or 'tunnel device'} on {dnode or '?'}",
                HopKind.TUNNEL,
                bool(at_dev),
                node=dnode,
                evidence=evs(at_dev[:2]),
                device=r_dev,
                tunnel=r_tun,
            ),
            _seen_note(ctx, at_dev, "seen"),
            dp.decap,
            points=receiver_pts,
        )
    )
    if dp.forwarder is not None:
        drafts.append(
            Draft(
                Hop(
                    f"{dp.forwarder} on {dnode or '?'}",
                    HopKind.BRIDGE,
                    bool(post.bridge),
                    node=dnode,
                    evidence=evs(post.bridge[:2]),
                    device=dp.forwarder_device,
                ),
                _seen_note(ctx, post.bridge, "seen on the bridge"),
                dp.deliver,
                points=receiver_pts,
            )
        )
