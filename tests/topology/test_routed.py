"""Nodes inferred from natively routed pod packets (vxlanlens/topology/_routed.py): a pod's
packet one routed hop from the pod (TTL 63), outside any tunnel, from a MAC that ARP binds to
one address that is no pod's, places the pod on the node with that address."""

from __future__ import annotations

from vxlanlens.topology import infer

from .test_infer import table

POD, POD_MAC, GW_MAC = "10.65.1.7", "b6:5a:0e:c3:71:24", "ee:ee:ee:ee:ee:ee"
NODE, NODE_MAC = "192.168.7.21", "52:54:00:aa:bb:01"
PEER, PEER_MAC = "192.168.7.22", "52:54:00:aa:bb:02"
OTHER_POD = "10.65.2.9"


def _rows(ttl: int, bindings: list[tuple[str, str]]) -> list[dict]:
    """The pod's gateway ARP (so the pod is known), its packet on the wire with ``ttl``, and
    ARP requests binding ``(mac, ip)``."""
    rows = [
        dict(capture="pod", linktype=1, frame_no=1, src_mac=POD_MAC, dst_mac="ff:ff:ff:ff:ff:ff",
             arp_op=1, arp_sender_mac=POD_MAC, arp_sender_ip=POD, arp_target_ip="169.254.1.1"),
        dict(capture="pod", linktype=1, frame_no=2, src_mac=GW_MAC, dst_mac=POD_MAC, arp_op=2,
             arp_sender_mac=GW_MAC, arp_sender_ip="169.254.1.1", arp_target_mac=POD_MAC,
             arp_target_ip=POD),
        dict(capture="wire", linktype=1, frame_no=1, src_mac=NODE_MAC, dst_mac=PEER_MAC,
             src_ip=POD, dst_ip=OTHER_POD, ttl=ttl, icmp_type=8),
    ]  # fmt: skip
    for k, (mac, ip) in enumerate(bindings):
        rows.append(
            dict(capture="wire", linktype=1, frame_no=2 + k, src_mac=mac,
                 dst_mac="ff:ff:ff:ff:ff:ff", arp_op=1, arp_sender_mac=mac, arp_sender_ip=ip,
                 arp_target_ip=PEER)
        )  # fmt: skip
    return rows


def test_one_routed_hop_places_the_pod_on_the_node() -> None:
    topo = infer(table(_rows(63, [(NODE_MAC, NODE)])))
    node = topo.node_by_ip(NODE)
    assert node is not None and node.confidence == "inferred-high"
    pod = topo.pod_by_ip(POD)
    assert pod is not None and pod.node_ip == NODE
    nic = topo.interface_by_mac(NODE_MAC)
    assert nic is not None and nic.kind == "underlay"
    assert "TTL 63" in node.source.note and "wire" in {c for c, _ in node.source.frames}


def test_two_routed_hops_say_nothing() -> None:
    """TTL 62: a router between the subnets sent it, not the pod's node."""
    topo = infer(table(_rows(62, [(NODE_MAC, NODE)])))
    assert topo.node_by_ip(NODE) is None
    pod = topo.pod_by_ip(POD)
    assert pod is not None and pod.node_ip is None


def test_a_mac_claiming_several_addresses_is_not_taken_for_a_node() -> None:
    """A router (or proxy ARP) answering for many addresses names none of them."""
    topo = infer(table(_rows(63, [(NODE_MAC, NODE), (NODE_MAC, "192.168.7.1")])))
    assert topo.node_by_ip(NODE) is None and topo.node_by_ip("192.168.7.1") is None


def test_the_shared_veth_mac_is_no_node() -> None:
    """Calico's ee:ee:ee:ee:ee:ee sends pods' packets with TTL 63 on their own node (local
    delivery) and ARPs from the node's address: it is no NIC of a node."""
    rows = _rows(63, [(GW_MAC, NODE)])
    rows[2]["src_mac"] = GW_MAC
    topo = infer(table(rows))
    assert topo.node_by_ip(NODE) is None


def _answer_rows(src: str) -> list[dict]:
    """The known pod's gateway ARP, and a packet to it from ``src`` one routed hop away, from a
    MAC ARP binds to PEER."""
    rows = _rows(64, [(PEER_MAC, PEER)])[:2]
    rows.append(
        dict(capture="wire", linktype=1, frame_no=9, src_mac=PEER_MAC, dst_mac=NODE_MAC,
             src_ip=src, dst_ip=POD, ttl=63, icmp_type=0)
    )  # fmt: skip
    rows.append(
        dict(capture="wire", linktype=1, frame_no=10, src_mac=PEER_MAC,
             dst_mac="ff:ff:ff:ff:ff:ff", arp_op=1, arp_sender_mac=PEER_MAC,
             arp_sender_ip=PEER, arp_target_ip=NODE)
    )  # fmt: skip
    return rows


def test_an_answer_from_the_pods_network_places_its_sender() -> None:
    """No capture shows the other pod but its answer to a known pod, one routed hop from it, from
    a MAC ARP binds to one address: that pod lives behind that node."""
    topo = infer(table(_answer_rows(OTHER_POD)))
    assert topo.node_by_ip(PEER) is not None
    pod = topo.pod_by_ip(OTHER_POD)
    assert pod is not None and pod.node_ip == PEER


def test_an_answer_from_outside_the_pods_network_places_nothing() -> None:
    """A host outside the /16 of the known pods (a VM behind a router) is no pod."""
    topo = infer(table(_answer_rows("172.31.9.9")))
    assert topo.node_by_ip(PEER) is None and topo.pod_by_ip("172.31.9.9") is None


def _wire_only(ttl: int, back: bool, back_ttl: int | None = None) -> list[dict]:
    """Only a capture on the nodes' link: both nodes' ARP, a packet between two addresses
    behind them from one node's NIC to the other's, and (``back``) its answer the other way."""
    rows = [
        dict(capture="wire", linktype=1, frame_no=1, src_mac=NODE_MAC,
             dst_mac="ff:ff:ff:ff:ff:ff", arp_op=1, arp_sender_mac=NODE_MAC,
             arp_sender_ip=NODE, arp_target_ip=PEER),
        dict(capture="wire", linktype=1, frame_no=2, src_mac=PEER_MAC, dst_mac=NODE_MAC,
             arp_op=2, arp_sender_mac=PEER_MAC, arp_sender_ip=PEER, arp_target_mac=NODE_MAC,
             arp_target_ip=NODE),
        dict(capture="wire", linktype=1, frame_no=3, src_mac=NODE_MAC, dst_mac=PEER_MAC,
             src_ip=POD, dst_ip=OTHER_POD, ttl=ttl, icmp_type=8),
    ]  # fmt: skip
    if back:
        rows.append(
            dict(capture="wire", linktype=1, frame_no=4, src_mac=PEER_MAC, dst_mac=NODE_MAC,
                 src_ip=OTHER_POD, dst_ip=POD, ttl=back_ttl or ttl, icmp_type=0)
        )  # fmt: skip
    return rows


def test_link_capture_alone_both_ways_one_hop_finds_nodes_and_pods() -> None:
    """No pod known from elsewhere: two hosts of the link routing addresses one hop behind
    each of them to each other, both ways, are nodes with those pods."""
    topo = infer(table(_wire_only(63, back=True)))
    assert topo.pod_by_ip(POD).node_ip == NODE
    assert topo.pod_by_ip(OTHER_POD).node_ip == PEER
    assert topo.pod_by_ip(POD).confidence == "inferred-low"
    for mac in (NODE_MAC, PEER_MAC):
        assert topo.interface_by_mac(mac).kind == "underlay"


def test_link_capture_alone_one_way_or_far_says_nothing() -> None:
    """One direction only, or the far end many hops away (a router forwarding the wider
    world's traffic): no pod, no node."""
    for rows in (_wire_only(63, back=False), _wire_only(63, back=True, back_ttl=52)):
        topo = infer(table(rows))
        assert topo.pod_by_ip(POD) is None and topo.pod_by_ip(OTHER_POD) is None
        assert topo.node_by_ip(NODE) is None and topo.node_by_ip(PEER) is None
