"""Inference follows the overlay's datapath: whose MAC answers a pod's gateway (its host-side
veth, a bridge, a gateway device) and who asks for a pod (a node routing other hosts' packets)."""

from __future__ import annotations

import pytest
from testpaths import CAPTURES

from vxlanlens.overlays import profile
from vxlanlens.topology import infer
from vxlanlens.topology.placement import interface_macs

from .test_infer import table

POD, GW_MAC, NODE_MAC, POD2 = (
    "2e:84:b1:0c:6f:11",
    "1a:7d:c2:40:9e:22",
    "ba:14:e9:63:d0:33",
    "f6:0b:53:a8:c1:44",
)


def _gateway_arp() -> list[dict]:
    """A pod resolving its gateway 10.9.1.1; the answer comes from GW_MAC."""
    return [
        dict(capture="pod", frame_no=1, linktype=1, src_mac=POD, dst_mac="ff:ff:ff:ff:ff:ff",
             arp_op=1, arp_sender_mac=POD, arp_sender_ip="10.9.1.5", arp_target_ip="10.9.1.1"),
        dict(capture="pod", frame_no=2, linktype=1, src_mac=GW_MAC, dst_mac=POD, arp_op=2,
             arp_sender_mac=GW_MAC, arp_sender_ip="10.9.1.1", arp_target_mac=POD,
             arp_target_ip="10.9.1.5"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("cni", "kind", "host_mac"),
    [("cilium", "lxc", GW_MAC), ("calico", "lxc", GW_MAC), ("flannel", "other", None)],
)
def test_gateway_answer_by_datapath(cni: str, kind: str, host_mac: str | None) -> None:
    t = infer(table(_gateway_arp()), profile(cni).datapath)
    pod = t.pod_by_mac(POD)
    assert pod is not None and pod.ips == ["10.9.1.5"]
    assert pod.host_mac == host_mac
    assert t.interface_by_mac(GW_MAC).kind == kind
    if cni == "flannel":
        assert "bridge" in t.interface_by_mac(GW_MAC).source.note


def _node_asks() -> list[dict]:
    """A node's bridge (10.9.2.1) resolving its pod 10.9.2.7 for a packet from another pod."""
    return [
        dict(capture="pod2", frame_no=1, linktype=1, src_mac=NODE_MAC, dst_mac="ff:ff:ff:ff:ff:ff",
             arp_op=1, arp_sender_mac=NODE_MAC, arp_sender_ip="10.9.2.1",
             arp_target_ip="10.9.2.7"),
        dict(capture="pod2", frame_no=2, linktype=1, src_mac=POD2, dst_mac=NODE_MAC, arp_op=2,
             arp_sender_mac=POD2, arp_sender_ip="10.9.2.7", arp_target_mac=NODE_MAC,
             arp_target_ip="10.9.2.1"),
        dict(capture="pod2", frame_no=3, linktype=1, src_mac=NODE_MAC, dst_mac=POD2,
             src_ip="10.9.1.5", dst_ip="10.9.2.7", icmp_type=8),
    ]  # fmt: skip


@pytest.mark.parametrize("cni", ["flannel", "cilium"])
def test_node_asking_for_its_pod_is_no_pod(cni: str) -> None:
    t = infer(table(_node_asks()), profile(cni).datapath)
    assert t.pod_by_mac(NODE_MAC) is None  # the asker routes 10.9.1.5's packets: no pod
    pod = t.pod_by_mac(POD2)
    assert pod is not None and pod.ips == ["10.9.2.7"]
    assert not any(i.kind == "lxc" and i.mac == POD2 for i in t.interfaces)
    bridge = t.interface_by_mac(NODE_MAC)
    if cni == "flannel":
        assert bridge is not None and "bridge" in bridge.source.note
    else:
        assert bridge is None


def test_without_forwarded_packets_the_asker_stays_a_pod() -> None:
    rows = _node_asks()[:2]
    t = infer(table(rows), profile("flannel").datapath)
    assert t.pod_by_mac(NODE_MAC) is not None


def test_a_bridge_mac_sent_out_of_several_interfaces_is_none_of_theirs() -> None:
    rows = [
        dict(capture="any", frame_no=1, linktype=276, ifindex=4, pkt_type="outgoing",
             src_mac=GW_MAC),
        dict(capture="any", frame_no=2, linktype=276, ifindex=3, pkt_type="outgoing",
             src_mac=GW_MAC),
        dict(capture="any", frame_no=3, linktype=276, ifindex=8, pkt_type="outgoing",
             src_mac=NODE_MAC),
    ]  # fmt: skip
    macs = interface_macs(table(rows))
    assert macs == {4: None, 3: None, 8: NODE_MAC}


@pytest.mark.parametrize(
    "scenario",
    [
        "lab-flannel-ping",
        "lab-flannel-port-mismatch",
        "lab-flannel-missing-fdb",
        "lab-calico-ping",
        "lab-flannel-ipv6-ping",
        "lab-calico-ipv6-ping",
        "lab-flannel-stale-vtep-mac",
        "lab-flannel-outer-udp-checksum",
        "lab-calico-proxy-arp-off",
    ],
)
def test_lab_overlays_infer_without_conflicts(scenario: str) -> None:
    import vxlanlens

    d = CAPTURES / scenario
    cap = vxlanlens.read(sorted(str(p) for p in d.glob("*.pcap")), topology=[str(d / "topology")])
    assert cap.topology.conflicts == []
