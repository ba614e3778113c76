"""Checks on the kernel-made failure scenarios (issue 12 item 9): captures/lab-<fault>/.

Each test reads the committed pcaps with tshark (8472 decoded as VXLAN) and checks that the
planted fault is really in the packets — outer fragments present, DF black hole, NS unanswered
then answered, RST present, SYNs unanswered, a 2.5 s clock offset — independently of the
README generator and of vxlanlens's own explanations. No root needed.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parent.parent.parent / "captures"
FAULTS = [
    "mtu-outer-frag",
    "mtu-outer-df",
    "ns-transient",
    "tcp-refused",
    "udp-refused",
    "tcp-syn-dropped",
    "clock-skew",
    "any-3node",
]
W1, W2 = "172.18.0.4", "172.18.0.3"
POD1_MAC, LXC1_MAC = "4e:5b:57:45:63:3b", "a2:79:14:47:80:b3"
POD2_MAC = "b6:61:48:ae:63:f5"
POD1_6, POD2_6 = "fd00:10:244:1::4749", "fd00:10:244:2::9461"
POD1_4, POD2_4 = "10.244.1.233", "10.244.2.245"
ROUTER1_6, ROUTER1_4 = "fd00:10:244:1::22f1", "10.244.1.154"
ID_CLIENT, ID_SERVER = 30155, 48217
LXC1_IFINDEX, LXC2_IFINDEX, TUNNEL_IFINDEX, W2_ETH0_IFINDEX = "19", "12", "4", "6"


def scen(name: str) -> Path:
    return CAPTURES / f"lab-{name}"


def fields(tshark: str, pcap: Path, flt: str, *names: str, defrag: bool = True) -> list[list[str]]:
    """Rows of tshark ``-T fields`` values for frames matching ``flt``."""
    argv = [tshark, "-n", "-r", str(pcap), "-d", "udp.port==8472,vxlan"]
    if not defrag:
        argv += ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]
    argv += ["-Y", flt, "-T", "fields", "-E", "separator=|"]
    for n in names:
        argv += ["-e", n]
    cp = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return [line.split("|") for line in cp.stdout.splitlines() if line.strip()]


def count(tshark: str, pcap: Path, flt: str = "frame", defrag: bool = True) -> int:
    return len(fields(tshark, pcap, flt, "frame.number", defrag=defrag))


@pytest.mark.parametrize("name", FAULTS)
def test_readme_frame_counts_match_captures(tshark: str, name: str) -> None:
    """The README's capture table gives each file's real frame count."""
    readme = (scen(name) / "README.md").read_text()
    rows = re.findall(r"^\| (\S+\.pcap) \| [^|]+ \| (\d+) \|", readme, re.M)
    assert len(rows) == (9 if name == "any-3node" else 6), rows
    for fname, n in rows:
        assert count(tshark, scen(name) / fname) == int(n), fname
    assert "**Planted" in readme or name in ("tcp-refused", "udp-refused", "any-3node")


# -- lab-mtu-outer-frag ---------------------------------------------------------------------


def test_outer_frag_route_mtu_planted() -> None:
    d = scen("mtu-outer-frag") / "topology"
    assert (
        "default via 10.244.1.154 dev eth0 mtu 1500" in (d / "cni-7t9p4" / "ip-r.txt").read_text()
    )
    assert " mtu 1500 " in (d / "cni-7t9p4" / "ip-6-r.txt").read_text()
    assert "default via 10.244.2.71 dev eth0 mtu 1450" in (d / "cni-8qgcs" / "ip-r.txt").read_text()


def test_outer_frag_requests_leave_pod_whole(tshark: str) -> None:
    pod = scen("mtu-outer-frag") / "pod-cni-7t9p4-eth0.pcap"
    v4 = fields(tshark, pod, "icmp.type==8", "ip.len", "ip.flags.df", "ip.flags.mf")
    assert v4 == [["1500", "1", "0"]] * 3
    v6 = fields(tshark, pod, "icmpv6.type==128", "ipv6.plen")
    assert v6 == [["1460"]] * 3


def test_outer_frag_outer_fragments_on_both_eth0(tshark: str) -> None:
    """Each request = a 1514-byte first fragment (MF) + an 84-byte last one, DF clear."""
    for node in ("worker", "worker2"):
        pcap = scen("mtu-outer-frag") / f"node-{node}-eth0.pcap"
        first = fields(
            tshark,
            pcap,
            f"ip.src=={W1} && ip.flags.mf==1",
            "frame.len",
            "ip.flags.df",
            "ip.frag_offset",
            "ip.id",
            defrag=False,
        )
        last = fields(
            tshark,
            pcap,
            f"ip.src=={W1} && ip.flags.mf==0 && ip.frag_offset>0",
            "frame.len",
            "ip.flags.df",
            "ip.frag_offset",
            "ip.id",
            defrag=False,
        )
        # first value of each field = the outer header (tshark still decodes the inner one
        # inside a first fragment)
        first = [[v.split(",")[0] for v in r] for r in first]
        last = [[v.split(",")[0] for v in r] for r in last]
        assert [r[:3] for r in first] == [["1514", "0", "0"]] * 6, node
        assert [r[:3] for r in last] == [["84", "0", "185"]] * 6, node  # 185 * 8 = 1480
        assert [r[3] for r in first] == [r[3] for r in last]  # pairs share the IP id
        # nothing from worker2 is fragmented on the outer header (its inner replies are)
        back = fields(
            tshark, pcap, f"ip.src=={W2}", "ip.src", "ip.flags.mf", "ip.frag_offset", defrag=False
        )
        outer = [[v.split(",")[0] for v in r] for r in back if r[0].split(",")[0] == W2]
        assert len(outer) == 12 and all(r[1:] == ["0", "0"] for r in outer), node


def test_outer_frag_replies_inner_fragmented_and_all_answered(tshark: str) -> None:
    d = scen("mtu-outer-frag")
    pod2 = d / "pod-cni-8qgcs-eth0.pcap"
    delivered = fields(tshark, pod2, "icmp.type==8 || icmpv6.type==128", "frame.number")
    assert len(delivered) == 6
    inner4 = fields(tshark, pod2, f"ip.src=={POD2_4} && ip.flags.mf==1", "ip.len", defrag=False)
    assert inner4 and all(int(r[0]) <= 1450 for r in inner4)
    inner6 = fields(
        tshark, pod2, f"ipv6.src=={POD2_6} && ipv6.fraghdr", "frame.number", defrag=False
    )
    assert len(inner6) == 6  # 3 replies x 2 fragments
    pod1 = d / "pod-cni-7t9p4-eth0.pcap"
    assert count(tshark, pod1, "icmp.type==0") == 3
    assert count(tshark, pod1, "icmpv6.type==129") == 3
    for f in d.glob("*.pcap"):
        assert count(tshark, f, "icmp.type==3 || icmpv6.type==2 || icmpv6.type==1") == 0, f


def test_vxlanlens_reassembles_outer_fragments() -> None:
    """Each 1550-byte VXLAN packet, fragmented on the underlay, is decoded once on its last
    fragment: the echo request inside is seen, and pairs with its reply."""
    vxlanlens = pytest.importorskip("vxlanlens")
    cap = vxlanlens.read(str(scen("mtu-outer-frag") / "node-worker-eth0.pcap"))
    df = cap.packets
    assert df["decode_error"].dropna().tolist() == []
    held = df[df["frag_count"].notna() & df["tunnel"].notna() & df["outer_frag_offset"].gt(0)]
    # 3 IPv4 and 3 IPv6 echo requests of 1500 bytes, each in 2 outer fragments
    assert len(held) == 6
    assert set(held["icmp_type"].astype(int)) == {8, 128}
    assert (held["reasm_len"] == 1550).all() and (held["frag_count"] == 2).all()
    assert (held["outer_dont_fragment"] == False).all()  # noqa: E712 - DF clear: fragmented
    # the first fragments point to them and are not decoded as packets of their own
    firsts = df[df["reassembled_in"].isin(held["frame_no"]) & df["frag_count"].isna()]
    assert len(firsts) == 6 and firsts["icmp_type"].isna().all()
    assert firsts["tunnel"].isna().all()
    ex = cap.exchanges
    echo = ex[ex["kind"].astype(str).str.startswith("echo")]
    assert (echo["status"].astype(str) == "answered").sum() == 6, echo[["kind", "status"]]
    assert not (echo["status"].astype(str) == "unsolicited").any()


# -- lab-mtu-outer-df -----------------------------------------------------------------------


def test_outer_df_black_hole(tshark: str) -> None:
    d = scen("mtu-outer-df")
    pod1 = d / "pod-cni-7t9p4-eth0.pcap"
    assert count(tshark, pod1, "icmp.type==8 && ip.len==1500") == 3
    assert count(tshark, pod1, "icmpv6.type==128 && ipv6.plen==1460") == 3
    assert count(tshark, pod1, "icmp.type==0") == 1  # only the small ping is answered
    assert count(tshark, pod1, "icmpv6.type==129 || icmp.type==3 || icmpv6.type==2") == 0
    # the big ones never leave the sending node's eth0
    assert count(tshark, d / "node-worker-eth0.pcap", "frame.len>200") == 0
    assert count(tshark, d / "node-worker2-eth0.pcap", "frame.len>200") == 0
    assert count(tshark, d / "pod-cni-8qgcs-eth0.pcap", "icmp.type==8 || icmpv6.type==128") == 1
    # ... but reach the tunnel device, and the node's stack answers itself with frag-needed
    anyf = d / "node-worker-any.pcap"
    on_tunnel = fields(
        tshark, anyf, f"sll.ifindex=={TUNNEL_IFINDEX} && frame.len>1500", "sll.pkttype"
    )
    assert on_tunnel == [["4"]] * 6
    errs = fields(
        tshark,
        anyf,
        "icmp.type==3 && icmp.code==4",
        "sll.ifindex",
        "ip.src",
        "ip.dst",
        "icmp.mtu",
        "ip.flags.df",
        "udp.dstport",
    )
    assert len(errs) == 6
    for ifindex, src, dst, mtu, df, dport in errs:
        assert ifindex == "1" and mtu == "1500" and dport.split(",")[0] == "8472"
        assert src.split(",")[:2] == [W1, W1] and dst.split(",")[:2] == [W1, W2]
        assert df.split(",")[1] == "1"  # the quoted outer header has DF set


# -- lab-ns-transient -----------------------------------------------------------------------


def test_ns_unanswered_three_times_then_answered(tshark: str) -> None:
    pod1 = scen("ns-transient") / "pod-cni-7t9p4-eth0.pcap"
    ns = fields(
        tshark,
        pod1,
        f"icmpv6.type==135 && icmpv6.nd.ns.target_address=={ROUTER1_6}",
        "frame.number",
        "frame.time_relative",
    )
    na = fields(tshark, pod1, "icmpv6.type==136", "frame.number", "eth.src", "icmpv6.nd.na.flag.r")
    assert len(ns) == 4 and len(na) == 1
    times = [float(t) for _n, t in ns]
    assert all(0.9 < b - a < 1.2 for a, b in itertools.pairwise(times[:3]))
    assert times[3] - times[2] > 3.0  # restored seconds later
    assert int(ns[2][0]) < int(ns[3][0]) < int(na[0][0])  # only the fourth NS is answered
    assert na[0][1:] == [LXC1_MAC, "1"]


def test_arp_unanswered_three_times_then_answered(tshark: str) -> None:
    pod1 = scen("ns-transient") / "pod-cni-7t9p4-eth0.pcap"
    req = fields(tshark, pod1, f"arp.opcode==1 && arp.dst.proto_ipv4=={ROUTER1_4}", "frame.number")
    rep = fields(tshark, pod1, "arp.opcode==2", "frame.number", "arp.src.hw_mac")
    assert len(req) == 4 and len(rep) == 1
    assert int(req[2][0]) < int(req[3][0]) < int(rep[0][0]) and rep[0][1] == LXC1_MAC
    assert count(tshark, pod1, "icmp.type==0") == 1 and count(tshark, pod1, "icmpv6.type==129") == 1
    assert (
        count(
            tshark,
            scen("ns-transient") / "node-worker-eth0.pcap",
            "arp.dst.proto_ipv4==" + ROUTER1_4 + " || icmpv6.type==135",
        )
        == 0
    )


# -- lab-tcp-refused ------------------------------------------------------------------------


def test_tcp_refused_rst_from_remote_pod(tshark: str) -> None:
    d = scen("tcp-refused")
    pod1 = d / "pod-cni-7t9p4-eth0.pcap"
    syn = fields(tshark, pod1, "tcp.flags.syn==1 && tcp.flags.ack==0", "tcp.dstport")
    rst = fields(tshark, pod1, "tcp.flags.reset==1", "tcp.srcport", "tcp.flags.ack")
    assert syn == [["8080"], ["8080"]] and rst == [["8080", "1"], ["8080", "1"]]
    assert count(tshark, pod1, "tcp.flags.syn==1 && tcp.flags.ack==1") == 0
    pod2 = d / "pod-cni-8qgcs-eth0.pcap"
    assert fields(tshark, pod2, "tcp.flags.reset==1", "eth.src") == [[POD2_MAC], [POD2_MAC]]
    vni = fields(tshark, d / "node-worker-eth0.pcap", "vxlan && tcp.flags.reset==1", "vxlan.vni")
    assert vni == [[str(ID_SERVER)], [str(ID_SERVER)]]


def test_tcp_refused_sysdump_shape() -> None:
    zips = sorted(scen("tcp-refused").glob("cilium-sysdump-*.zip"))
    assert len(zips) == 1
    yaml = pytest.importorskip("yaml")
    with zipfile.ZipFile(zips[0]) as zf:
        names = zf.namelist()
        top = names[0].split("/")[0]
        assert top == zips[0].stem and all(n.startswith(top + "/") for n in names)
        base = [n.split("/", 1)[1] for n in names]
        pods_f = next(n for n in names if re.search(r"/k8s-pods-\d{8}-\d{6}\.yaml$", n))
        nodes_f = next(n for n in names if re.search(r"/k8s-nodes-\d{8}-\d{6}\.yaml$", n))
        pods = yaml.safe_load(zf.read(pods_f))
        nodes = yaml.safe_load(zf.read(nodes_f))
        assert pods["kind"] == "PodList" and nodes["kind"] == "NodeList"
        for item in pods["items"] + nodes["items"]:
            assert "kind" not in item and "apiVersion" not in item
        agents = {
            p["metadata"]["name"]: p["spec"]["nodeName"]
            for p in pods["items"]
            if p["metadata"]["namespace"] == "kube-system"
        }
        assert sorted(agents.values()) == ["cilium-dual-stack-worker", "cilium-dual-stack-worker2"]
        apps = {
            p["metadata"]["name"]: p["status"]["podIP"]
            for p in pods["items"]
            if p["metadata"]["namespace"] == "default"
        }
        assert apps == {"cni-7t9p4": POD1_4, "cni-8qgcs": POD2_4}
        bugtools = [b for b in base if b.startswith("cilium-bugtool-")]
        assert sorted(
            b.rsplit("-", 2)[0].removeprefix("cilium-bugtool-") for b in bugtools
        ) == sorted(agents)
        for b in bugtools:
            with tarfile.open(fileobj=io.BytesIO(zf.read(f"{top}/{b}")), mode="r:gz") as tf:
                files = {
                    Path(m.name).name: tf.extractfile(m).read().decode()
                    for m in tf.getmembers()
                    if m.isfile()
                }  # type: ignore[union-attr]
            assert {"ip-a.md", "ip--4-r.md", "ip--6-r.md", "ip--d-l.md"} <= set(files)
            assert "cilium_vxlan" in files["ip-a.md"]
            eps = json.loads(files["cilium-dbg-endpoint-list--o-json.md"])
            assert any(e["status"]["identity"]["id"] == 1 for e in eps)


# -- lab-tcp-syn-dropped --------------------------------------------------------------------


def test_syn_dropped_on_peer_node(tshark: str) -> None:
    d = scen("tcp-syn-dropped")
    pod1 = d / "pod-cni-7t9p4-eth0.pcap"
    syn = fields(
        tshark,
        pod1,
        "tcp.flags.syn==1",
        "ipv6.dst",
        "ip.dst",
        "tcp.srcport",
        "tcp.seq_raw",
        "frame.time_relative",
    )
    assert len(syn) == 8
    for fam in (slice(0, 4), slice(4, 8)):
        group = syn[fam]
        assert len({(r[2], r[3]) for r in group}) == 1  # same port and ISN: retransmissions
        t = [float(r[4]) for r in group]
        assert all(0.9 < b - a < 2.5 for a, b in itertools.pairwise(t))
    assert count(tshark, pod1, "tcp.srcport==8080 || icmp || icmpv6.type<128") == 0
    assert count(tshark, d / "pod-cni-8qgcs-eth0.pcap") == 0
    assert count(tshark, d / "node-worker2-eth0.pcap", "vxlan && tcp.flags.syn==1") == 8
    w2 = fields(tshark, d / "node-worker2-any.pcap", "tcp.flags.syn==1", "sll.ifindex")
    assert sorted({r[0] for r in w2}) == sorted({W2_ETH0_IFINDEX, TUNNEL_IFINDEX})
    assert LXC2_IFINDEX not in {r[0] for r in w2}


# -- lab-clock-skew -------------------------------------------------------------------------


def test_clock_skew_two_and_a_half_seconds(tshark: str) -> None:
    d = scen("clock-skew")

    def epochs(pcap: Path, flt: str) -> list[float]:
        return [float(r[0]) for r in fields(tshark, pcap, flt, "frame.time_epoch")]

    for req, rep in (("icmpv6.type==128", "icmpv6.type==129"), ("icmp.type==8", "icmp.type==0")):
        q1 = epochs(d / "node-worker-eth0.pcap", f"vxlan && {req}")
        q2 = epochs(d / "node-worker2-eth0.pcap", f"vxlan && {req}")
        r1 = epochs(d / "node-worker-eth0.pcap", f"vxlan && {rep}")
        r2 = epochs(d / "node-worker2-eth0.pcap", f"vxlan && {rep}")
        assert len(q1) == len(q2) == len(r1) == len(r2) == 1
        fwd, back = q2[0] - q1[0], r1[0] - r2[0]
        assert abs((fwd - back) / 2 - 2.5) < 0.001  # worker2's files are 2.5 s ahead
        assert 0 <= (fwd + back) / 2 < 0.001  # the real one-way delay is microseconds
    # the unshifted pod capture agrees with its node to the microsecond
    p1 = epochs(d / "pod-cni-7t9p4-eth0.pcap", "icmp.type==8")
    n1 = epochs(d / "node-worker-eth0.pcap", "vxlan && icmp.type==8")
    assert 0 <= n1[0] - p1[0] < 0.001
    p2 = epochs(d / "pod-cni-8qgcs-eth0.pcap", "icmp.type==8")
    assert 2.5 <= p2[0] - p1[0] < 2.501


# -- lab-any-3node --------------------------------------------------------------------------

NODES3 = {
    "worker": ("cilium-dual-stack-worker", W1),
    "worker2": ("cilium-dual-stack-worker2", W2),
    "worker3": ("cilium-dual-stack-worker3", "172.18.0.5"),
}
POD3_4, POD3_6 = "10.244.3.87", "fd00:10:244:3::c2d1"


def _links(dump: Path) -> dict[str, tuple[int, str]]:
    """name → (ifindex, MAC) from an ``ip -d link`` text dump."""
    out = {}
    lines = dump.read_text().splitlines()
    for i, ln in enumerate(lines):
        m = re.match(r"^(\d+): ([^:@]+)", ln)
        if m:
            mac = re.search(r"link/\S+ (\S+)", lines[i + 1])
            out[m.group(2)] = (int(m.group(1)), mac.group(1) if mac else "")
    return out


def test_3node_any_captures_bind_to_node_dumps(tshark: str) -> None:
    d = scen("any-3node")
    for short, (node, node_ip) in NODES3.items():
        pcap = d / f"node-{short}-any.pcap"
        assert pcap.read_bytes()[20:24] in (b"\x14\x01\x00\x00", b"\x00\x00\x01\x14")  # SLL2
        links = _links(d / "topology" / node / "ip-d-link.txt")
        assert (d / "topology" / node / "ip-a.txt").read_text().count(links["eth0"][1]) == 1
        # outgoing VXLAN frames on that node's eth0: SLL2 ifindex + source MAC = the dump's eth0
        out = fields(
            tshark,
            pcap,
            f"vxlan && ip.src=={node_ip} && sll.pkttype==4",
            "sll.ifindex",
            "sll.src.eth",
        )
        assert out, short
        assert {(int(i), m) for i, m in out} == {links["eth0"]}, short
        # and the tunnel device is ifindex 4 there
        tun = fields(tshark, pcap, "!vxlan && sll.ifindex==4", "frame.number")
        assert tun and links["cilium_vxlan"][0] == 4


def test_3node_pings_answered_and_switched_underlay(tshark: str) -> None:
    d = scen("any-3node")
    pod1 = d / "pod-cni-7t9p4-eth0.pcap"
    for dst in (POD2_6, POD3_6):
        assert count(tshark, pod1, f"icmpv6.type==129 && ipv6.src=={dst}") == 1
    for dst in (POD2_4, POD3_4):
        assert count(tshark, pod1, f"icmp.type==0 && ip.src=={dst}") == 1
    to3 = fields(tshark, d / "node-worker-eth0.pcap", "vxlan && ip.dst==172.18.0.5", "vxlan.vni")
    assert to3 == [[str(ID_CLIENT)]] * 2
    back3 = fields(tshark, d / "node-worker3-eth0.pcap", "vxlan && ip.src==172.18.0.5", "vxlan.vni")
    assert back3 == [[str(ID_SERVER)]] * 2  # cni-5mrzl has cni-8qgcs's labels: same identity
    # worker2 never sees worker<->worker3 tunnel traffic (learning bridge), only the ARP broadcast
    assert count(tshark, d / "node-worker2-any.pcap", "vxlan && ip.addr==172.18.0.5") == 0
    assert count(tshark, d / "node-worker2-any.pcap", "arp.dst.proto_ipv4==172.18.0.5") == 1
    assert count(tshark, d / "node-worker3-any.pcap", "vxlan && ip.addr==172.18.0.3") == 0
