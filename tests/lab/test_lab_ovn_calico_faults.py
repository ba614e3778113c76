"""Checks on the OVN-shaped, Calico-fault and IPv6-fault lab scenarios (captures/lab-ovn-geneve-ping,
lab-calico-port-mismatch, lab-calico-missing-fdb, lab-flannel-ipv6-missing-fdb,
lab-calico-ipv6-no-link-local): what the packets and dumps show, read with tshark, independent
of vxlanlens. No root needed."""

from __future__ import annotations

import json
from pathlib import Path

from test_lab_cni import CAPTURES, fields, link


def _d(name: str) -> Path:
    return CAPTURES / f"lab-{name}"


def test_ovn_geneve_option_in_every_frame(tshark: str) -> None:
    d = _d("ovn-geneve-ping")
    rows = fields(tshark, d / "node-worker-eth0.pcap", "geneve",
                  "geneve.vni", "geneve.option.class", "geneve.option.type",
                  "geneve.option.unknown.data", "icmp.type", "ip.ttl")  # fmt: skip
    assert len(rows) == 2
    by_type = {r[4]: r for r in rows}
    for _vni, cls, typ, data, _, ttl in rows:
        assert int(cls, 0) == 0x0102 and int(typ, 0) == 0x80
        assert int(data.replace(":", ""), 16) >> 31 == 0  # the reserved bit
        assert ttl.split(",")[1] == "63"  # routed once, on the sending node
    # request and reply enter different logical switches: two datapath keys
    assert by_type["8"][0] != by_type["0"][0]
    # the pod receives what the tunnel carried: TTL 63, from its switch's router port
    pod2 = d / "pod-busybox-k4x2p-eth0.pcap"
    got = fields(tshark, pod2, "icmp.type==8", "ip.ttl", "eth.src")
    arp = fields(tshark, pod2, "arp.opcode==2", "arp.src.hw_mac")
    assert got == [["63", arp[0][0]]]


def test_calico_port_mismatch_in_ip_d_link(tshark: str) -> None:
    d = _d("calico-port-mismatch")
    details = [
        link(d / "topology" / n / "ip-d-link.txt", "vxlan.calico")[1]
        for n in ("calico-worker", "calico-worker2")
    ]
    assert "dstport 4789" in details[0] and "dstport 4790" in details[1]
    sent = fields(
        tshark, d / "node-worker-eth0.pcap", "icmp.type==8 && !icmp.type==3", "udp.dstport"
    )
    assert sent == [["4789"]]
    rows = fields(tshark, d / "node-worker2-eth0.pcap", "icmp.type==3 && icmp.code==3", "ip.src")
    assert len(rows) == 1 and rows[0][0].split(",")[0] == "172.18.0.3"  # worker2 refused it


def test_missing_fdb_nothing_on_the_underlay(tshark: str) -> None:
    for name, dev in (
        ("calico-missing-fdb", "vxlan.calico"),
        ("flannel-ipv6-missing-fdb", "flannel-v6.1"),
    ):
        d = _d(name)
        assert fields(tshark, d / "node-worker-eth0.pcap", "udp", "frame.number") == []
        node = "calico-worker" if name.startswith("calico") else "flannel-worker"
        fdb = (d / "topology" / node / "bridge-fdb-show.txt").read_text()
        assert " dst " not in fdb  # no entry maps a VTEP MAC to a node
        assert link(d / "topology" / node / "ip-d-link.txt", dev)


def test_calico_ipv6_router_unanswered(tshark: str) -> None:
    d = _d("calico-ipv6-no-link-local")
    pod = d / "pod-busybox-m8q2v-eth0.pcap"
    ns = fields(tshark, pod, "icmpv6.type==135", "icmpv6.nd.ns.target_address")
    assert ns and all(r == ["fe80::ecee:eeff:feee:eeee"] for r in ns)
    assert fields(tshark, pod, "icmpv6.type==136", "frame.number") == []
    # the cali veth holds no address at all (IPv6 off on it): nothing answers for its router
    addrs = json.loads((d / "topology" / "calico-worker" / "ip-j-d-addr.json").read_text())
    (cali,) = [i for i in addrs if i["ifname"].startswith("cali")]
    assert cali["addr_info"] == []


def test_calico_vni_mismatch_no_icmp_error(tshark: str) -> None:
    d = _d("calico-vni-mismatch")
    ids = [
        link(d / "topology" / n / "ip-d-link.txt", "vxlan.calico")[1].split()[2]
        for n in ("calico-worker", "calico-worker2")
    ]
    assert ids == ["4096", "4097"]
    assert fields(tshark, d / "node-worker2-eth0.pcap", "vxlan", "vxlan.vni") == [["4096"]]
    assert fields(tshark, d / "node-worker2-any.pcap", "icmp.type==3", "frame.number") == []
