"""Checks on the IPv6, Antrea and VTEP-fault lab scenarios (captures/lab-flannel-ipv6-ping,
lab-calico-ipv6-ping, lab-antrea-geneve-ping, lab-flannel-stale-vtep-mac,
lab-flannel-outer-udp-checksum): what the packets and dumps show, read with tshark,
independent of vxlanlens. No root needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lab_cni import CAPTURES, fields, link

W1, W2 = "fc00:f853:ccd:e793::4", "fc00:f853:ccd:e793::3"
V6 = {
    "flannel-ipv6-ping": ("flannel-v6.1", 1, 8472, ("flannel-worker", "flannel-worker2")),
    "calico-ipv6-ping": ("vxlan-v6.calico", 4096, 4789, ("calico-worker", "calico-worker2")),
}


def _d(name: str) -> Path:
    return CAPTURES / f"lab-{name}"


@pytest.mark.parametrize("name", sorted(V6))
def test_ipv6_vtep_over_ipv6_underlay(tshark: str, name: str) -> None:
    dev, vni, port, nodes = V6[name]
    d = _d(name)
    vtep = [link(d / "topology" / n / "ip-d-link.txt", dev)[0] for n in nodes]
    flt = f"udp.dstport=={port} && icmpv6.type==128"
    rows = fields(tshark, d / "node-worker-eth0.pcap", flt, "ipv6.src", "eth.dst", "ipv6.hlim")
    assert len(rows) == 1
    src, dst, hlim = rows[0]
    assert src.split(",")[0] == W1
    assert dst.split(",")[1] == vtep[1]  # inner destination: the remote VTEP
    assert hlim.split(",")[1] == "63"
    assert fields(tshark, d / "node-worker-eth0.pcap", flt, "vxlan.vni") == [[str(vni)]]
    pod2 = next(d.glob("pod-busybox-k4x2p-eth0.pcap"), None) or sorted(d.glob("pod-*.pcap"))[1]
    assert fields(tshark, pod2, "icmpv6.type==128", "ipv6.hlim") == [["62"]]


def test_calico_ipv6_pod_routes_via_link_local() -> None:
    routes = (_d("calico-ipv6-ping") / "topology" / "busybox-m8q2v" / "ip-6-r.txt").read_text()
    assert "default via fe80::ecee:eeff:feee:eeee dev eth0" in routes


def test_antrea_geneve_vni0_virtual_mac(tshark: str) -> None:
    d = _d("antrea-geneve-ping")
    gw = link(d / "topology" / "antrea-worker" / "ip-d-link.txt", "antrea-gw0")[0]
    rows = fields(tshark, d / "node-worker-eth0.pcap", "geneve && icmp.type==8",
                  "udp.dstport", "geneve.vni", "eth.src", "eth.dst", "ip.ttl")  # fmt: skip
    assert len(rows) == 1
    port, vni, src, dst, ttl = rows[0]
    assert port == "6081" and int(vni, 0) == 0
    assert src.split(",")[1] == gw and dst.split(",")[1] == "aa:bb:cc:dd:ee:ff"
    assert ttl.split(",")[1] == "63"
    assert fields(tshark, d / "pod-busybox-k4x2p-eth0.pcap", "icmp.type==8", "ip.ttl") == [["62"]]


def test_stale_vtep_mac_inner_destination_is_not_the_vtep(tshark: str) -> None:
    d = _d("flannel-stale-vtep-mac")
    vtep2 = link(d / "topology" / "flannel-worker2" / "ip-d-link.txt", "flannel.1")[0]
    fdb = (d / "topology" / "flannel-worker" / "bridge-fdb-show.txt").read_text().split()
    rows = fields(tshark, d / "node-worker-eth0.pcap", "vxlan && icmp.type==8", "eth.dst")
    inner = rows[0][0].split(",")[1]
    assert inner != vtep2 and inner == fdb[0]  # the FDB still holds the old MAC
    # worker2 decapsulates it on flannel.1 as a frame for another host (packet type 3)
    other = fields(tshark, d / "node-worker2-any.pcap", "icmp.type==8 && !vxlan", "sll.pkttype")
    assert other == [["3"]]
    assert fields(tshark, d / "pod-busybox-k4x2p-eth0.pcap", "icmp", "icmp.type") == []


def test_outer_udp_checksum_differs_between_nodes(tshark: str) -> None:
    d = _d("flannel-outer-udp-checksum")
    sent = fields(tshark, d / "node-worker-eth0.pcap", "vxlan && icmp.type==8", "udp.checksum")
    got = fields(tshark, d / "node-worker2-eth0.pcap", "vxlan && icmp.type==8", "udp.checksum")
    assert len(sent) == len(got) == 1 and sent != got
    assert (
        fields(tshark, d / "node-worker2-any.pcap", "icmp.type==8 && !vxlan", "frame.number") == []
    )
