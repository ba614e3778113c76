"""Checks on the committed lab captures (captures/lab-*/), made by a real kernel.

These are the checks of issue 7's "How we will know": tshark (with 8472 decoded as VXLAN) must
see VXLAN on 8472 between the node IPs, the inner echo request with the pod's eth0 MAC → its
lxc MAC, hop limit 63 on delivery, and the gateway NS answered by an NA from the lxc MAC with
R=1, S=1, O=0. They run wherever tshark is installed (no root needed).
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parent.parent.parent / "captures"
SCENARIOS = [
    "ipv6-ping",
    "ipv4-ping",
    "no-such-pod",
    "ns-unanswered",
    "mtu-df",
    "tcp-connect",
    "geneve-ipv6-ping",
    "ipv6-underlay",
    # issue 12 item 9: planted faults (their own checks: test_lab_faults.py)
    "mtu-outer-frag",
    "mtu-outer-df",
    "ns-transient",
    "tcp-refused",
    "tcp-syn-dropped",
    "clock-skew",
    "any-3node",
]
PCAPS = [
    "pod-cni-7t9p4-eth0.pcap",
    "pod-cni-8qgcs-eth0.pcap",
    "node-worker-eth0.pcap",
    "node-worker2-eth0.pcap",
    "node-worker-any.pcap",
    "node-worker2-any.pcap",
]
NODES = ["cilium-dual-stack-worker", "cilium-dual-stack-worker2"]
PODS = ["cni-7t9p4", "cni-8qgcs"]

W1, W2 = "172.18.0.4", "172.18.0.3"
W1_6, W2_6 = "fc00:f853:ccd:e793::4", "fc00:f853:ccd:e793::3"
POD1_MAC, LXC1_MAC = "4e:5b:57:45:63:3b", "a2:79:14:47:80:b3"
POD2_MAC, LXC2_MAC = "b6:61:48:ae:63:f5", "5e:0c:93:7a:1d:42"
POD1_6, POD2_6 = "fd00:10:244:1::4749", "fd00:10:244:2::9461"
POD1_4, POD2_4 = "10.244.1.233", "10.244.2.245"
ROUTER1_6, ROUTER1_4 = "fd00:10:244:1::22f1", "10.244.1.154"
ID_CLIENT, ID_SERVER, ID_SHARED = 30155, 48217, 27040


def scen(name: str) -> Path:
    """Folder of one committed lab scenario."""
    return CAPTURES / f"lab-{name}"


def fields(tshark: str, pcap: Path, flt: str, *names: str) -> list[list[str]]:
    """Rows of tshark ``-T fields`` values (8472 decoded as VXLAN) for frames matching ``flt``."""
    argv = [
        tshark,
        "-n",
        "-r",
        str(pcap),
        "-d",
        "udp.port==8472,vxlan",
        "-Y",
        flt,
        "-T",
        "fields",
        "-E",
        "separator=|",
    ]
    for n in names:
        argv += ["-e", n]
    cp = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return [line.split("|") for line in cp.stdout.splitlines() if line.strip()]


def linktype(pcap: Path) -> int:
    """LINKTYPE from a classic pcap header (either byte order)."""
    head = pcap.read_bytes()[:24]
    magic = head[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    return struct.unpack(endian + "I", head[20:24])[0]


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_folder_complete(name: str) -> None:
    d = scen(name)
    for f in PCAPS:
        assert (d / f).is_file(), f"{d / f} missing"
        assert linktype(d / f) == (276 if f.endswith("-any.pcap") else 1), f
    readme = (d / "README.md").read_text()
    assert "## What was run" in readme
    section = readme.split("## What a correct analysis must say", 1)[1]
    bullets = [ln for ln in section.splitlines() if ln.startswith("- ")]
    assert len(bullets) >= 3, f"{name}: too few checkable bullets"
    for who in NODES + PODS:
        t = d / "topology" / who
        for j in (
            "ip-j-d-addr.json",
            "ip-j-r.json",
            "ip-j-6-r.json",
            "ip-j-n.json",
            "ip-j-6-n.json",
        ):
            assert isinstance(json.loads((t / j).read_text()), list), t / j
        for txt in ("ip-d-a-l.txt", "ip-r.txt", "ip-6-r.txt", "ip-n.txt", "ip-6-n.txt"):
            assert (t / txt).is_file(), t / txt


@pytest.mark.parametrize("name", SCENARIOS)
def test_endpoint_list_shape(name: str) -> None:
    for node, pod in zip(NODES, PODS, strict=True):
        eps = json.loads(
            (scen(name) / "topology" / node / "cilium-dbg-endpoint-list.json").read_text()
        )
        byname = {e["status"]["external-identifiers"].get("k8s-pod-name"): e for e in eps}
        assert pod in byname
        net = byname[pod]["status"]["networking"]
        assert net["interface-name"].startswith("lxc")
        assert set(net["addressing"][0]) == {"ipv4", "ipv6"}
        host = [e for e in eps if "reserved:host" in e["status"]["identity"]["labels"]]
        assert host and host[0]["status"]["identity"]["id"] == 1
        # the lxc MAC in the endpoint list is the MAC of that interface in the ip dump
        links = json.loads((scen(name) / "topology" / node / "ip-j-d-addr.json").read_text())
        mac = {lk["ifname"]: lk["address"] for lk in links}
        assert mac[net["interface-name"]] == net["host-mac"]


def test_ipv6_node_capture_vxlan_between_node_ips(tshark: str) -> None:
    rows = fields(
        tshark,
        scen("ipv6-ping") / "node-worker-eth0.pcap",
        "vxlan",
        "ip.src",
        "ip.dst",
        "udp.dstport",
        "vxlan.vni",
        "eth.src",
        "eth.dst",
        "icmpv6.type",
        "ipv6.hlim",
    )
    assert len(rows) == 2
    req, rep = rows
    assert req[0:3] == [W1, W2, "8472"] and rep[0:3] == [W2, W1, "8472"]
    # outer then inner Ethernet: the inner request keeps pod eth0 MAC -> its lxc MAC
    assert req[4].split(",")[1] == POD1_MAC and req[5].split(",")[1] == LXC1_MAC
    assert req[6] == "128" and req[7] == "64"
    assert rep[4].split(",")[1] == POD2_MAC and rep[5].split(",")[1] == LXC2_MAC
    assert rep[6] == "129"
    assert (int(req[3]), int(rep[3])) == (ID_CLIENT, ID_SERVER)  # VNI = sender identity


def test_ipv6_hop_limit_63_on_delivery(tshark: str) -> None:
    got = fields(
        tshark,
        scen("ipv6-ping") / "pod-cni-8qgcs-eth0.pcap",
        "icmpv6.type==128",
        "ipv6.hlim",
        "eth.src",
        "eth.dst",
    )
    assert got == [["63", LXC2_MAC, POD2_MAC]]
    back = fields(
        tshark,
        scen("ipv6-ping") / "pod-cni-7t9p4-eth0.pcap",
        "icmpv6.type==129",
        "ipv6.hlim",
        "eth.src",
        "eth.dst",
    )
    assert back == [["63", LXC1_MAC, POD1_MAC]]


def test_ipv6_gateway_ns_answered_by_lxc_mac(tshark: str) -> None:
    pcap = scen("ipv6-ping") / "pod-cni-7t9p4-eth0.pcap"
    ns = fields(
        tshark, pcap, "icmpv6.type==135", "frame.number", "icmpv6.nd.ns.target_address", "eth.src"
    )
    na = fields(
        tshark,
        pcap,
        "icmpv6.type==136",
        "frame.number",
        "eth.src",
        "ipv6.src",
        "ipv6.hlim",
        "icmpv6.nd.na.flag.r",
        "icmpv6.nd.na.flag.s",
        "icmpv6.nd.na.flag.o",
        "icmpv6.opt.linkaddr",
        "icmpv6.checksum.status",
        "icmpv6.nd.na.target_address",
    )
    assert len(ns) == 1 and ns[0][1:] == [ROUTER1_6, POD1_MAC]
    assert len(na) == 1
    assert int(na[0][0]) > int(ns[0][0])
    assert na[0][1:] == [LXC1_MAC, ROUTER1_6, "255", "1", "1", "0", LXC1_MAC, "1", ROUTER1_6]
    # nothing of the gateway exchange crosses the node's eth0
    assert (
        fields(
            tshark,
            scen("ipv6-ping") / "node-worker-eth0.pcap",
            "icmpv6.type==135 || icmpv6.type==136",
            "frame.number",
        )
        == []
    )


def test_ipv4_arp_answered_by_lxc_and_ttl_63(tshark: str) -> None:
    pod = scen("ipv4-ping") / "pod-cni-7t9p4-eth0.pcap"
    rep = fields(tshark, pod, "arp.opcode==2", "eth.src", "arp.src.hw_mac", "arp.src.proto_ipv4")
    assert rep == [[LXC1_MAC, LXC1_MAC, ROUTER1_4]]
    assert fields(tshark, pod, "icmp.type==0", "ip.ttl") == [["63"]]
    assert fields(
        tshark, scen("ipv4-ping") / "pod-cni-8qgcs-eth0.pcap", "icmp.type==8", "ip.ttl"
    ) == [["63"]]
    enc = fields(
        tshark,
        scen("ipv4-ping") / "node-worker-eth0.pcap",
        "vxlan && icmp.type==8",
        "ip.src",
        "ip.dst",
        "udp.dstport",
        "eth.src",
        "eth.dst",
        "vxlan.vni",
    )
    assert enc == [
        [
            f"{W1},{POD1_4}",
            f"{W2},{POD2_4}",
            "8472",
            f"02:42:ac:12:00:04,{POD1_MAC}",
            f"02:42:ac:12:00:03,{LXC1_MAC}",
            str(ID_CLIENT),
        ]
    ]


def test_no_such_pod_encapsulated_never_answered(tshark: str) -> None:
    d = scen("no-such-pod")
    reqs = fields(
        tshark,
        d / "node-worker2-eth0.pcap",
        "vxlan && (icmp.type==8 || icmpv6.type==128)",
        "ipv6.dst",
        "ip.dst",
    )
    dsts = {r[0] or r[1].split(",")[1] for r in reqs}
    assert dsts == {"fd00:10:244:2::dead", "10.244.2.99"}
    for f in PCAPS:
        assert (
            fields(
                tshark,
                d / f,
                "icmp.type==0 || icmpv6.type==129 || icmp.type==3 || icmpv6.type==1",
                "frame.number",
            )
            == []
        ), f
    assert fields(tshark, d / "pod-cni-8qgcs-eth0.pcap", "frame", "frame.number") == []


def test_ns_unanswered(tshark: str) -> None:
    d = scen("ns-unanswered")
    ns = fields(
        tshark, d / "pod-cni-7t9p4-eth0.pcap", "icmpv6.type==135", "icmpv6.nd.ns.target_address"
    )
    assert len(ns) >= 2 and {r[0] for r in ns} == {ROUTER1_6}
    for f in PCAPS:
        assert (
            fields(tshark, d / f, "icmpv6.type==136 || icmpv6.type==128", "frame.number") == []
        ), f
    assert fields(tshark, d / "node-worker-eth0.pcap", "frame", "frame.number") == []


def test_mtu_df_fits_exactly_and_oversize_never_sent(tshark: str) -> None:
    d = scen("mtu-df")
    big = fields(tshark, d / "node-worker-eth0.pcap", "vxlan", "frame.len", "ip.len", "ip.flags.df")
    assert len(big) == 4
    assert {r[0] for r in big} == {"1514"}
    for f in ("pod-cni-7t9p4-eth0.pcap", "pod-cni-8qgcs-eth0.pcap"):
        lens = fields(tshark, d / f, "ip || ipv6", "frame.len")
        assert max(int(r[0]) for r in lens) == 1464, f  # 1450-byte packets + 14 Ethernet
    df = fields(tshark, d / "pod-cni-7t9p4-eth0.pcap", "icmp.type==8", "ip.flags.df")
    assert df == [["1"]]


def test_tcp_listening_and_closed_ports(tshark: str) -> None:
    pod = scen("tcp-connect") / "pod-cni-7t9p4-eth0.pcap"
    synack = fields(tshark, pod, "tcp.flags.syn==1 && tcp.flags.ack==1", "tcp.srcport")
    rst = fields(tshark, pod, "tcp.flags.reset==1", "tcp.srcport", "ipv6.src", "ip.src")
    assert [r[0] for r in synack] == ["8080", "8080"]
    assert [(r[0], r[1] or r[2]) for r in rst] == [("8081", POD2_6), ("8081", POD2_4)]
    vnis = fields(
        tshark, scen("tcp-connect") / "node-worker-eth0.pcap", "vxlan", "vxlan.vni", "tcp.srcport"
    )
    for vni, sport in vnis:
        assert int(vni) == (ID_SERVER if sport in ("8080", "8081") else ID_CLIENT)


def test_geneve_variant(tshark: str) -> None:
    d = scen("geneve-ipv6-ping")
    rows = fields(
        tshark,
        d / "node-worker-eth0.pcap",
        "udp",
        "udp.dstport",
        "geneve.vni",
        "geneve.proto_type",
        "ip.src",
    )
    assert len(rows) == 4
    assert {r[0] for r in rows} == {"6081"}
    assert {int(r[1], 16) for r in rows} == {ID_SHARED}
    assert fields(tshark, d / "node-worker-eth0.pcap", "vxlan", "frame.number") == []
    assert fields(tshark, d / "pod-cni-8qgcs-eth0.pcap", "icmpv6.type==128", "ipv6.hlim") == [
        ["63"]
    ]


def test_ipv6_underlay(tshark: str) -> None:
    d = scen("ipv6-underlay")
    rows = fields(
        tshark,
        d / "node-worker-eth0.pcap",
        "vxlan",
        "ipv6.src",
        "ipv6.dst",
        "udp.dstport",
        "vxlan.vni",
        "frame.len",
    )
    assert len(rows) == 4
    for src, dst, port, vni, _len in rows:
        first_src, first_dst = src.split(",")[0], dst.split(",")[0]
        assert {first_src, first_dst} == {W1_6, W2_6}
        assert port == "8472"
        assert int(vni) == (ID_CLIENT if first_src == W1_6 else ID_SERVER)
    v6 = [r for r in rows if r[0].count(",") == 1]  # IPv6 in IPv6: 118 + 70 bytes
    assert {r[4] for r in v6} == {"188"}


@pytest.mark.parametrize("name", SCENARIOS)
def test_any_capture_sees_lxc_and_tunnel_device(tshark: str, name: str) -> None:
    """-i any (SLL2) on the sending node has frames on the lxc (ifindex 19)."""
    rows = fields(tshark, scen(name) / "node-worker-any.pcap", "frame", "sll.ifindex")
    assert {"19"} <= {r[0] for r in rows}
    if name not in ("ns-unanswered", "geneve-ipv6-ping"):
        assert {"4", "8"} <= {r[0] for r in rows}  # cilium_vxlan and eth0


@pytest.mark.parametrize("name", SCENARIOS)
def test_readme_frame_numbers_match_captures(tshark: str, name: str) -> None:
    """Every 'frame N' the README's gateway bullet names for an NA/ARP reply is one."""
    readme = (scen(name) / "README.md").read_text()
    section = readme.split("## What a correct analysis must say", 1)[1]
    pod = scen(name) / "pod-cni-7t9p4-eth0.pcap"
    for line in section.splitlines():
        if line.startswith("- Pod cni-7t9p4 eth0") and "is answered in frame" in line:
            n = int(line.split("is answered in frame ")[1].split()[0].rstrip(":"))
            kind = fields(tshark, pod, f"frame.number=={n}", "icmpv6.type", "arp.opcode")[0]
            assert kind in (["136", ""], ["", "2"]), (name, n, kind)
