"""MACs named by the recognised overlay's datapath from captures alone (no dump): the VTEP MACs
(inner source MAC of tunnel packets) and the bridge or gateway device that answers the pods'
gateway. Each name given from the frames must be what the scenario's own dumps say of that MAC
(device and node); a stale VTEP MAC, which is no device's, is never named; Cilium's MACs are
left to its own rules."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain.context import Context
from vxlanlens.overlays import recognise

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
NAMED = [
    "lab-flannel-ping",
    "lab-flannel-ipv6-ping",
    "lab-calico-ping",
    "lab-calico-ipv6-ping",
    "lab-antrea-geneve-ping",
]


@cache
def _capture(name: str, dumps: bool) -> vxlanlens.Capture:
    folder = CAPTURES / name
    return vxlanlens.read(
        [str(p) for p in sorted(folder.glob("*.pcap"))],
        topology=[str(folder / "topology")] if dumps else None,
    )


def _context(cap: vxlanlens.Capture) -> Context:
    overlay = recognise(cap.annotated, cap.topology, cap.exchanges)
    return Context(
        packets=cap.annotated,
        topology=cap.topology,
        exchanges=cap.exchanges,
        journeys=cap._journey_index,
        loaded=False,
        overlay=overlay,
    )


@pytest.mark.parametrize("name", NAMED)
def test_frames_only_names_agree_with_the_dumps(name: str) -> None:
    frames = _context(_capture(name, dumps=False))
    dumps = _capture(name, dumps=True).topology
    macs = {str(m) for m in frames.packets["src_mac"].dropna().unique()}
    named = {m: frames.overlay_mac(m) for m in macs}
    named = {m: r for m, r in named.items() if r is not None}
    assert named, "the overlay's rules name some MAC"
    roles = {r.role for r in named.values()}
    assert "tunnel" in roles or "gateway" in roles
    for mac, role in named.items():
        iface = dumps.interface_by_mac(mac)
        assert iface is not None, f"{mac} ({role.label}) is in no dump"
        if role.role == "underlay":  # a node's NIC: frames do not tell its name
            assert iface.kind == "underlay" and role.device == "underlay NIC", (mac, role)
        else:
            assert iface.name == role.device, (mac, role, iface.name)
        # the node: frames-only labels it by underlay address, the dumps by name
        node = dumps.node_by_ip(role.node.removeprefix("node ")) if role.node else None
        assert role.node is None or (node is not None and node.label == iface.node), (mac, role)
        assert frames.mac_name(mac) == f"{role.label} (inferred)"


def test_vtep_macs_and_the_bridge_are_named_on_flannel() -> None:
    ctx = _context(_capture("lab-flannel-ping", dumps=False))
    p = ctx.packets[ctx.packets["tunnel"].notna()]
    for mac, outer in set(
        zip(p["src_mac"].astype(str), p["outer_src_ip"].astype(str), strict=True)
    ):
        role = ctx.overlay_mac(mac)
        assert role is not None and role.role == "tunnel" and role.device == "flannel.1"
        assert role.node == ctx.node_label(outer) or role.node == f"node {outer}"
    ex = ctx.exchanges
    arp = ex[(ex["kind"].astype(str) == "arp") & (ex["status"].astype(str) == "answered")]
    gateway = [
        str(m)
        for m, ip in zip(arp["responder_mac"], arp["requester_ip"], strict=True)
        if ctx.pod_of(ip=str(ip)) is not None
    ]
    assert gateway and all(ctx.overlay_mac(m).device == "cni0" for m in gateway)


def test_a_stale_vtep_mac_is_not_named() -> None:
    """The sender addresses the other VTEP by a MAC it no longer has: that MAC is no device's."""
    ctx = _context(_capture("lab-flannel-stale-vtep-mac", dumps=False))
    dumps = _capture("lab-flannel-stale-vtep-mac", dumps=True).topology
    p = ctx.packets[ctx.packets["tunnel"].notna()]
    stale = {str(m) for m in p["dst_mac"].dropna().unique()} - {
        i.mac for i in dumps.interfaces if i.mac
    }
    assert stale, "the capture holds the stale MAC"
    assert all(ctx.overlay_mac(m) is None for m in stale)


def test_dumps_win_and_cilium_is_left_alone() -> None:
    ctx = _context(_capture("lab-flannel-ping", dumps=True))
    macs = {str(m) for m in ctx.packets["src_mac"].dropna().unique()}
    assert all(ctx.overlay_mac(m) is None for m in macs)  # every MAC is in the dumps
    # on Cilium only a node's NIC is named (ARP binds it to the node's address): no VTEP, no
    # bridge, no gateway device
    cilium = _context(_capture("lab-ipv4-ping", dumps=False))
    macs = {str(m) for m in cilium.packets["src_mac"].dropna().unique()}
    roles = {m: cilium.overlay_mac(m) for m in macs}
    assert {r.role for r in roles.values() if r is not None} <= {"underlay"}
    dumps = _capture("lab-ipv4-ping", dumps=True).topology
    for m, r in roles.items():
        if r is not None:
            iface = dumps.interface_by_mac(m)
            assert iface is not None and iface.kind == "underlay", (m, r)


def test_the_gateway_answer_is_a_bridge_hop_on_its_node() -> None:
    """Frames only: the hop that answered a Flannel pod's ARP for its gateway is cni0 (a bridge
    hop on the pod's node), not a host-side veth of no name."""
    from vxlanlens.proto import HopKind

    exp = _capture("lab-flannel-ping", dumps=False).explain()
    arp = next(p for p in exp.paths if p.kind == "arp" and p.reply_hops)
    answer = arp.reply_hops[0]
    assert (answer.kind, answer.device) == (HopKind.BRIDGE, "cni0")
    assert answer.node is not None and answer.node.startswith("node ")


@pytest.mark.parametrize("name", ["lab-flannel-ipv6-ping", "lab-calico-ipv6-ping"])
def test_frames_only_ipv6_tunnel_hops_name_the_ipv6_device(name: str) -> None:
    """Over an IPv6 underlay the overlay's IPv6 VTEP carries the pods' traffic: the tunnel hops
    drawn from captures alone name the device the scenario's dumps list (was the IPv4 one)."""
    from vxlanlens.proto import HopKind

    exp = _capture(name, dumps=False).explain()
    dumps = _capture(name, dumps=True).explain()
    devices = {
        h.device for p in exp.paths for h in (*p.hops, *p.reply_hops) if h.kind == HopKind.TUNNEL
    }
    expected = {
        h.device for p in dumps.paths for h in (*p.hops, *p.reply_hops) if h.kind == HopKind.TUNNEL
    }
    assert devices and devices == expected


def test_an_ovn_router_port_answer_is_a_gateway_hop() -> None:
    """OVN's logical router port answers a pod's ARP for its gateway: no interface holds it, so
    the answer is a gateway hop of no pod (was the pod's host-side veth)."""
    from vxlanlens.proto import HopKind

    for dumps in (False, True):
        exp = _capture("lab-ovn-geneve-ping", dumps=dumps).explain()
        arp = [p for p in exp.paths if p.kind == "arp" and p.reply_hops]
        assert arp
        for p in arp:
            answer = p.reply_hops[0]
            assert (answer.kind, answer.pod) == (HopKind.GATEWAY, None), (dumps, p.summary)
