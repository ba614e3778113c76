"""Issue 12: the failures people open tickets for, on crafted captures (tests/craft.py, with
addresses unlike the reference scenario's): transient failures, grouping per flow, TCP outcomes,
MTU across layers, and the false positives that must not come back."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
import pytest
from craft import Cluster, reference_like_cluster, write_pcaps
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    in6_getnsma,
    in6_getnsmac,
)
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

import vxlanlens
from vxlanlens.explain import Explanation, Finding
from vxlanlens.explain.context import Context
from vxlanlens.explain.findings import DETECTORS


def explain(cluster: Cluster, folder: Path, topology: list[str] | None = None) -> Explanation:
    paths = write_pcaps(cluster, folder)
    return vxlanlens.read(
        [f"{k}={v}" for k, v in sorted(paths.items())], topology=topology
    ).explain()


def by(exp: Explanation, fid: str) -> list[Finding]:
    return [f for f in exp.findings if f.id == fid]


def severe(exp: Explanation) -> list[str]:
    return sorted(f.id for f in exp.findings if f.severity != "info")


def pause(c: Cluster, seconds: float) -> None:
    c.t_us += int(seconds * 1e6)


# --- transient failures and grouping ---------------------------------------------------------


def test_ns_unanswered_then_answered_is_a_transient_failure(tmp_path: Path) -> None:
    c = reference_like_cluster()
    for _ in range(3):  # the kernel's three solicitations, one second apart
        c.ns_gateway("client", answered=False)
        pause(c, 1)
    pause(c, 3)
    c.ns_gateway("client")  # a new resolution, seconds later, answered
    exp = explain(c, tmp_path)
    assert severe(exp) == ["transient-failure"]
    (f,) = by(exp, "transient-failure")
    assert f.severity == "warning"
    assert "3 Neighbor Solicitations" in f.statement and "fd00:aa:1::77" in f.statement
    assert "(1 request and 2 retransmissions)" in f.statement
    assert "first at client#1, last at client#3" in f.statement
    assert "answered at client#5" in f.statement and "6.0 s after" in f.statement
    assert f.details["unanswered"] == 1 and f.details["tries"] == 3
    assert f.details["recovered_frame"] == "client#5"
    assert abs(f.details["recovered_after_s"] - 6.0) < 0.01
    assert abs(f.details["gaps"][0]["window_s"] - 2.0) < 0.01
    assert not by(exp, "ns-unanswered")


def test_unanswered_echoes_of_one_ping_are_one_finding(tmp_path: Path) -> None:
    c = reference_like_cluster()
    for seq in (1, 2, 3):
        c.echo("client", "server", seq=seq, lost="underlay")
        pause(c, 1)
    exp = explain(c, tmp_path)
    (f,) = by(exp, "echo-unanswered")  # one finding, not three
    assert "3 echo requests" in f.statement and "(seq 1-3)" in f.statement
    # seen at two points (client, node-a): still three exchanges, not six
    assert f.details["exchanges"] == 3 and f.details["seq"] == [1, 2, 3]
    assert f.details["first_frame"] == "client#1" and f.details["last_frame"] == "client#3"
    assert {str(e).split("#")[0] for e in f.evidence} == {"client", "node-a"}


def test_two_pings_two_findings(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", seq=1, ident=7, lost="underlay")
    c.echo("client", "server", seq=1, ident=8, lost="underlay", v6=False)
    exp = explain(c, tmp_path)
    assert sorted(f.details["target"] for f in by(exp, "echo-unanswered")) == [
        "10.10.2.6",
        "fd00:aa:2::6",
    ]


def test_one_lost_echo_then_answers_is_said_once(tmp_path: Path) -> None:
    """One request lost among answered ones: its frame is said once ("at"), not as the first and
    the last of a run, and where it was last seen is said of it."""
    c = reference_like_cluster()
    c.echo("client", "server", seq=1)
    pause(c, 1)
    c.echo("client", "server", seq=2, lost="underlay")
    pause(c, 1)
    c.echo("client", "server", seq=3)
    exp = explain(c, tmp_path)
    (f,) = by(exp, "transient-failure")
    assert "1 echo request" in f.statement and "(seq 2)" in f.statement
    assert "went unanswered (at client#" in f.statement and "first at" not in f.statement
    assert "after it. 2 of 3 exchanges of this flow were answered. It was last seen at" in (
        f.statement
    )
    assert "The last unanswered one" not in f.statement
    assert f.details["first_frame"] == f.details["last_frame"] and f.details["tries"] == 1


def test_syn_retried_then_answered_is_transient(tmp_path: Path) -> None:
    c = reference_like_cluster()
    a, b = c.pods["client"], c.pods["server"]
    for sport in (40001, 40001, 40002):  # a SYN and its retransmission, then a new attempt
        c.at(
            "client",
            Ether(src=a.mac, dst=a.lxc_mac)
            / IPv6(src=a.ip6, dst=b.ip6)
            / TCP(sport=sport, dport=443, flags="S", seq=77),
            dt_us=1_000_000,
        )
    c.at(
        "client",
        Ether(src=a.lxc_mac, dst=a.mac)
        / IPv6(src=b.ip6, dst=a.ip6, hlim=63)
        / TCP(sport=443, dport=40002, flags="SA", seq=5, ack=78),
    )
    exp = explain(c, tmp_path)
    assert severe(exp) == ["transient-failure"]
    (f,) = by(exp, "transient-failure")
    assert "2 TCP SYNs" in f.statement and "(source port 40001)" in f.statement
    assert f.details["tries"] == 2 and f.details["kind"] == "tcp"


# --- TCP outcomes ------------------------------------------------------------------------------


def test_syn_answered_by_icmp_unreachable_is_not_unanswered(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.tcp_syn("client", "server", 82, answer=None)
    syn = c.frames["client"][-1][1]
    a, n = c.pods["client"], c.nodes["node-a"]
    c.at(
        "client",
        Ether(src=a.lxc_mac, dst=a.mac)
        / IPv6(src=n.router_ip6, dst=a.ip6)
        / ICMPv6DestUnreach(code=4)
        / Raw(syn[14:]),
    )
    exp = explain(c, tmp_path)
    assert not by(exp, "tcp-unanswered")
    (f,) = by(exp, "destination-unreachable")
    assert f.severity == "warning" and f.details["refusal"] is True
    assert "port unreachable" in f.statement and "not a loss" in f.statement
    assert "neither" not in f.statement


def test_syn_unanswered_groups_attempts(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.tcp_syn("client", "server", 82, answer=None)
    pause(c, 5)
    c.tcp_syn("client", "server", 82, answer=None)  # same source port, later: a new attempt
    exp = explain(c, tmp_path)
    (f,) = by(exp, "tcp-unanswered")
    assert f.severity == "problem" and f.details["exchanges"] == 2
    assert "2 connection attempts" in f.statement and "no SYN/ACK, RST or ICMP error" in f.statement


def test_refused_connection_names_who_answered(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.tcp_syn("client", "server", 81, answer="rst")
    exp = explain(c, tmp_path)
    assert severe(exp) == []
    (f,) = by(exp, "connection-refused")
    assert "fd00:aa:2::6" in f.statement and "port 81" in f.statement
    # only the client pod's capture, no tunnel frame, no dump: nothing shows an overlay, so no
    # tunnel is spoken of (explain/_plain.py)
    assert f.details["through_tunnel"] is False and "tunnel" not in f.statement
    # what the captures do show of its way: its hop limit (it said "answered locally, or ...")
    assert "hop limit 63 (most likely sent with 64) says it was routed once" in f.statement
    assert "answered locally" not in f.statement


def _connection(c: Cluster, retransmit: int = 0, reset: bool = False) -> None:
    a, b = c.pods["client"], c.pods["server"]

    def out(flags: str, seq: int, ack: int, data: bytes = b"") -> None:
        c.at(
            "client",
            Ether(src=a.mac, dst=a.lxc_mac)
            / IPv6(src=a.ip6, dst=b.ip6)
            / TCP(sport=50001, dport=80, flags=flags, seq=seq, ack=ack)
            / Raw(data),
        )

    def back(flags: str, seq: int, ack: int) -> None:
        c.at(
            "client",
            Ether(src=a.lxc_mac, dst=a.mac)
            / IPv6(src=b.ip6, dst=a.ip6, hlim=63)
            / TCP(sport=80, dport=50001, flags=flags, seq=seq, ack=ack),
        )

    out("S", 1000, 0)
    back("SA", 9000, 1001)
    out("A", 1001, 9001)
    for _ in range(1 + retransmit):
        out("PA", 1001, 9001, b"GET / HTTP/1.1\r\n\r\n")
    if reset:
        back("R", 9001, 0)


def test_reset_after_handshake(tmp_path: Path) -> None:
    c = reference_like_cluster()
    _connection(c, reset=True)
    exp = explain(c, tmp_path)
    (f,) = by(exp, "tcp-reset")
    assert f.details["resets"] == 1 and f.details["data_segments"] == 1
    assert "fd00:aa:2::6:80" in f.details["reset_by"][0]
    assert not by(exp, "connection-refused")


def test_retransmitted_segments_counted(tmp_path: Path) -> None:
    c = reference_like_cluster()
    _connection(c, retransmit=2)
    exp = explain(c, tmp_path)
    (f,) = by(exp, "tcp-retransmissions")
    assert f.details["retransmissions"] == 2 and f.details["data_segments"] == 3
    assert not by(exp, "tcp-reset")


# --- MTU --------------------------------------------------------------------------------------


def test_big_packets_all_answered_are_not_mtu_exceeded(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", seq=1, size=1452)  # 1500-byte IPv6 packets, answered
    exp = explain(c, tmp_path)
    assert not by(exp, "mtu-exceeded")
    assert not [f for f in exp.findings if "dropped" in f.statement]


def test_mtu_exceeded_needs_the_drop(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", seq=0)  # the node captures are running
    c.echo("client", "server", seq=1, size=1452, lost="sender")
    c.echo("client", "server", seq=2)
    exp = explain(c, tmp_path)
    (f,) = by(exp, "mtu-exceeded")
    assert "never seen on the underlay" in f.statement and f.details["dropped"] == 1
    assert f.details["answered_with_ptb"] == 0


def test_no_mtu_finding_without_tunnel(tmp_path: Path) -> None:
    c = reference_like_cluster()
    a, b = c.pods["client"], c.pods["server"]
    big = Ether(src=a.mac, dst=b.mac) / IPv6(src=a.ip6, dst=b.ip6) / UDP() / Raw(b"x" * 1900)
    c.at("client", big)
    exp = explain(c, tmp_path)
    assert not [f for f in exp.findings if f.id in ("mtu-exceeded", "outer-fragmentation")]


def _fragmented_tunnel_packet(c: Cluster) -> None:
    a, b = c.pods["client"], c.pods["server"]
    na, nb = c.nodes["node-a"], c.nodes["node-b"]
    c.echo("client", "server")  # a whole tunnel packet: the node addresses are known
    inner = (
        Ether(src=a.mac, dst=a.lxc_mac)
        / IP(src=a.ip4, dst=b.ip4)
        / ICMP(type=8, id=9, seq=1)
        / Raw(b"x" * 1440)
    )
    outer = (
        IP(src=na.ip, dst=nb.ip, id=4321)
        / UDP(sport=40001, dport=8472, chksum=0)
        / VXLAN(flags=8, vni=a.identity)
        / inner
    )
    for point in ("node-a", "node-b"):
        for fr in fragment(outer, fragsize=1400):
            c.at(point, Ether(src=na.mac, dst=nb.mac) / fr)


def test_outer_fragmentation(tmp_path: Path) -> None:
    c = reference_like_cluster()
    _fragmented_tunnel_packet(c)
    exp = explain(c, tmp_path)
    (f,) = by(exp, "outer-fragmentation")
    # one packet, seen at two captures: counted once
    assert f.details["packets"] == 1 and f.details["fragments"] == 4
    assert f.details["first_fragments"] == 2 and f.details["later_fragments"] == 2
    assert f.details["src"] == "192.168.50.11" and f.details["dst"] == "192.168.50.12"
    assert "underlay passes IP fragments" in f.statement


def _dumps(folder: Path, route_mtu: int | None, underlay_mtu: int = 1500) -> list[str]:
    node = folder / "node-a"
    pod = folder / "client"
    node.mkdir(parents=True)
    pod.mkdir(parents=True)
    (node / "ip-a.txt").write_text(
        f"2: eth0@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu {underlay_mtu} qdisc noqueue state UP group default\n"
        "    link/ether 02:42:c0:a8:32:0b brd ff:ff:ff:ff:ff:ff link-netnsid 0\n"
        "    inet 192.168.50.11/24 brd 192.168.50.255 scope global eth0\n"
        "       valid_lft forever preferred_lft forever\n"
        "5: cilium_vxlan: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN group default\n"
        "    link/ether 0e:4c:aa:00:00:01 brd ff:ff:ff:ff:ff:ff\n",
        encoding="utf-8",
    )
    mtu = f" mtu {route_mtu}" if route_mtu else ""
    (pod / "ip-r.txt").write_text(
        f"default via 10.10.1.1 dev eth0{mtu} \n10.10.1.1 dev eth0 scope link \n",
        encoding="utf-8",
    )
    (pod / "ip-a.txt").write_text(
        "7: eth0@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default\n"
        "    link/ether 5a:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n"
        "    inet 10.10.1.5/32 scope global eth0\n"
        "       valid_lft forever preferred_lft forever\n",
        encoding="utf-8",
    )
    return [f"node-a={node}", f"node-a/client={pod}"]


def test_route_mtu_too_large(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", v6=False)
    topo = _dumps(tmp_path / "dumps", route_mtu=None, underlay_mtu=1500)
    exp = explain(c, tmp_path / "caps", topology=topo)
    found = by(exp, "route-mtu-too-large")
    assert found, [f.statement for f in exp.findings]
    (f,) = found
    assert f.details["should_be"] == 1450 and f.details["mtu"] == 1500
    assert "default via 10.10.1.1 dev eth0" in f.statement and "should be 1450" in f.statement
    assert f.severity == "info"  # no packet of the captures was too large
    assert any("ip-r.txt:1" in str(e) for e in f.evidence)


def test_route_mtu_that_fits_is_no_finding(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", v6=False)
    topo = _dumps(tmp_path / "dumps", route_mtu=1450, underlay_mtu=1500)
    exp = explain(c, tmp_path / "caps", topology=topo)
    assert not by(exp, "route-mtu-too-large")


# --- false positives ------------------------------------------------------------------------


def test_router_ip_answered_by_each_lxc_is_no_duplicate(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.pod("client2", "node-a", "5a:00:00:00:00:03", "ca:fe:00:00:00:03", "10.10.1.7",
          "fd00:aa:1::7", 51234)  # fmt: skip
    c.arp_gateway("client")
    c.arp_gateway("client2")
    exp = explain(c, tmp_path)
    assert not by(exp, "duplicate-address")


@pytest.mark.parametrize("tunnelled", [True, False])
def test_peer_answering_arp_and_ns_is_no_gateway(tmp_path: Path, tunnelled: bool) -> None:
    # A pod that ARPs and solicits for a peer on another node, both answered by the peer's own
    # MAC (across the tunnel: one L2 segment stretched over VXLAN; or at the pod: a peer whose
    # eth0 MAC the captures show), has not resolved a gateway. The 300k bench capture said
    # "resolves its IPv4 gateway <peer> to <MAC> (pod <peer> eth0), ... the pod's lxc veth".
    c = reference_like_cluster()
    a, b = c.pods["client"], c.pods["server"]
    node_a, node_b = c.nodes["node-a"], c.nodes["node-b"]
    group = in6_getnsma(socket.inet_pton(socket.AF_INET6, b.ip6))
    frames = [
        (node_a, node_b, Ether(src=a.mac, dst="ff:ff:ff:ff:ff:ff")
         / ARP(op=1, hwsrc=a.mac, psrc=a.ip4, pdst=b.ip4)),
        (node_b, node_a, Ether(src=b.mac, dst=a.mac)
         / ARP(op=2, hwsrc=b.mac, psrc=b.ip4, hwdst=a.mac, pdst=a.ip4)),
        (node_a, node_b, Ether(src=a.mac, dst=in6_getnsmac(group))
         / IPv6(src=a.ip6, dst=socket.inet_ntop(socket.AF_INET6, group), hlim=255)
         / ICMPv6ND_NS(tgt=b.ip6) / ICMPv6NDOptSrcLLAddr(lladdr=a.mac)),
        (node_b, node_a, Ether(src=b.mac, dst=a.mac) / IPv6(src=b.ip6, dst=a.ip6, hlim=255)
         / ICMPv6ND_NA(tgt=b.ip6, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=b.mac)),
    ]  # fmt: skip
    c.echo("client", "server")  # an overlay (Cilium's rules apply); the server's eth0 MAC seen
    for src, dst, inner in frames:
        if tunnelled:
            c.at("node-a", c.encap(src, dst, inner, vni=5))
        else:
            c.at("client", inner)
    assert not by(explain(c, tmp_path), "gateway-is-cilium-host")


def test_gateway_answered_by_the_lxc_mac_from_captures_only(tmp_path: Path) -> None:
    # the captures-only rule itself: the pod's ARP and NS for its routers, both answered by its
    # lxc veth's MAC (Cilium's eBPF), name the IPv4 router IP as cilium_host's, most likely
    c = reference_like_cluster()
    c.echo("client", "server")
    c.arp_gateway("client")
    c.ns_gateway("client")
    (f,) = by(explain(c, tmp_path), "gateway-is-cilium-host")
    assert f.details["gateway"] == c.nodes["node-a"].router_ip4
    assert c.pods["client"].lxc_mac in f.statement and "most likely" in f.statement


def test_two_hosts_claiming_one_ip_is_a_duplicate(tmp_path: Path) -> None:
    c = reference_like_cluster()
    for mac in ("5a:00:00:00:00:0a", "5a:00:00:00:00:0b"):
        c.at(
            "client",
            Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
            / ARP(op=2, hwsrc=mac, psrc="10.10.1.50", hwdst="ff:ff:ff:ff:ff:ff", pdst="10.10.1.50"),
        )
    exp = explain(c, tmp_path)
    (f,) = by(exp, "duplicate-address")
    assert f.details["ip"] == "10.10.1.50"


def test_unsolicited_na_after_dad_is_no_duplicate(tmp_path: Path) -> None:
    c = reference_like_cluster()
    a = c.pods["client"]
    group = in6_getnsma(socket.inet_pton(socket.AF_INET6, a.ip6))
    c.at(
        "client",
        Ether(src=a.mac, dst=in6_getnsmac(group))
        / IPv6(src="::", dst=socket.inet_ntop(socket.AF_INET6, group), hlim=255)
        / ICMPv6ND_NS(tgt=a.ip6),
    )
    pause(c, 1)
    c.at(  # DAD succeeded: the host announces its own address to all nodes
        "client",
        Ether(src=a.mac, dst="33:33:00:00:00:01")
        / IPv6(src=a.ip6, dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(tgt=a.ip6, R=0, S=0, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=a.mac),
    )
    exp = explain(c, tmp_path)
    assert not by(exp, "duplicate-address")


def test_contested_dad_is_a_duplicate(tmp_path: Path) -> None:
    c = reference_like_cluster()
    a = c.pods["client"]
    other = "5a:00:00:00:00:99"
    group = in6_getnsma(socket.inet_pton(socket.AF_INET6, a.ip6))
    c.at(
        "client",
        Ether(src=a.mac, dst=in6_getnsmac(group))
        / IPv6(src="::", dst=socket.inet_ntop(socket.AF_INET6, group), hlim=255)
        / ICMPv6ND_NS(tgt=a.ip6),
    )
    c.at(
        "client",
        Ether(src=other, dst="33:33:00:00:00:01")
        / IPv6(src=a.ip6, dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(tgt=a.ip6, R=0, S=0, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=other),
    )
    exp = explain(c, tmp_path)
    (f,) = by(exp, "duplicate-address")
    assert other in f.statement


def test_mirror_session_is_not_asymmetric(tmp_path: Path) -> None:
    """A mirror (e.g. a traffic-mirroring target) receives both directions of a conversation
    inside VXLAN from one source to one destination: no asymmetry."""
    c = reference_like_cluster()
    a, b = c.pods["client"], c.pods["server"]
    mirror_src, mirror_dst = ("10.99.0.1", "02:00:00:00:99:01"), ("10.99.0.2", "02:00:00:00:99:02")

    def mirrored(inner: Ether) -> Ether:
        return (
            Ether(src=mirror_src[1], dst=mirror_dst[1])
            / IP(src=mirror_src[0], dst=mirror_dst[0])
            / UDP(sport=4789, dport=4789, chksum=0)
            / VXLAN(flags=8, vni=123)
            / inner
        )

    req = Ether(src=a.mac, dst=b.mac) / IPv6(src=a.ip6, dst=b.ip6) / ICMPv6ND_NS(tgt=b.ip6)
    req = req / ICMPv6NDOptSrcLLAddr(lladdr=a.mac)
    rep = Ether(src=b.mac, dst=a.mac) / IPv6(src=b.ip6, dst=a.ip6) / ICMPv6ND_NA(tgt=b.ip6, S=1)
    c.at("mirror", mirrored(req))
    c.at("mirror", mirrored(rep))
    echo_req = Ether(src=a.mac, dst=b.mac) / IP(src=a.ip4, dst=b.ip4) / ICMP(type=8, id=5, seq=1)
    echo_rep = Ether(src=b.mac, dst=a.mac) / IP(src=b.ip4, dst=a.ip4) / ICMP(type=0, id=5, seq=1)
    c.at("mirror", mirrored(echo_req))
    c.at("mirror", mirrored(echo_rep))
    exp = explain(c, tmp_path)
    assert not by(exp, "asymmetric-path")


def test_empty_exchange_table_does_not_crash() -> None:
    crasher = Path(__file__).resolve().parents[3] / "shared" / "captures" / "crashers"
    path = crasher / "icmp_error_only.pcap"
    if not path.exists():
        pytest.skip(f"{path} not present")

    cap = vxlanlens.read(str(path))
    assert isinstance(cap.explain().findings, list)
    for exchanges, journeys in (
        (cap.exchanges.iloc[0:0], cap.journeys),  # no rows
        (pd.DataFrame(), pd.DataFrame()),  # not even columns
    ):
        ctx = Context(
            packets=cap.packets,
            topology=cap.topology,
            exchanges=exchanges,
            journeys=journeys,
            loaded=False,
        )
        for d in DETECTORS:
            assert isinstance(d(ctx), list), d.name


# --- clocks ------------------------------------------------------------------------------------


def test_clock_offset_is_said_and_not_read_as_delay(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", seq=1)
    pause(c, 1)
    c.echo("client", "server", seq=2, lost="underlay")
    pause(c, 1)
    c.echo("client", "server", seq=3)
    # node-b's clock is 2.5 s ahead of everyone else's
    c.frames["node-b"] = [(t + 2_500_000, b) for t, b in c.frames["node-b"]]
    exp = explain(c, tmp_path)
    offsets = {f.details.get("capture"): f for f in by(exp, "clock-offset")}
    assert set(offsets) == {"node-b"}
    f = offsets["node-b"]
    assert abs(f.details["offset_s"] - 2.5) < 0.001 and f.details["method"] == "two-way"
    assert f.details["matched"] >= 4 and f.details["spread_s"] < 0.001
    assert "2.500 s ahead" in f.statement and "not the network" in f.statement
    # the lost echo: node-b was capturing before and after it, in the corrected clock
    (t,) = by(exp, "transient-failure")
    assert "node-b, server captured before and after it" in t.statement
    others = [g for g in exp.findings if g.id != "clock-offset"]
    assert not [g.statement for g in others if "2.5 s" in g.statement or "2500" in g.statement]


def test_clock_offset_unknown_is_said(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", seq=1)
    c.frames.pop("node-a"), c.frames.pop("node-b"), c.frames.pop("server")
    c.ns_gateway("server")  # the server's capture shares no packet with the client's
    exp = explain(c, tmp_path)
    (f,) = by(exp, "clock-offset")
    assert f.details["captures"] == ["server"] and "could not be estimated" in f.statement


def test_close_clocks_give_no_clock_finding(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", seq=1)
    exp = explain(c, tmp_path)
    assert not by(exp, "clock-offset")


def test_local_fragmentation_needed_is_a_black_hole(tmp_path: Path) -> None:
    """The sending node cannot send the tunnel packet (DF on the outer header) and answers
    itself with ICMP fragmentation needed: dropped at encapsulation, named as such."""
    c = reference_like_cluster()
    c.echo("client", "server", seq=0)  # a small one gets through: the node addresses are known
    a, b = c.pods["client"], c.pods["server"]
    na, nb = c.nodes["node-a"], c.nodes["node-b"]
    c.echo("client", "server", seq=1, size=1452, lost="sender")
    big = c.frames["client"][-1][1]
    tunnel = (
        IP(src=na.ip, dst=nb.ip, flags="DF", id=99)
        / UDP(sport=40009, dport=8472, chksum=0)
        / VXLAN(flags=8, vni=a.identity)
        / Ether(big)
    )
    c.at("node-a", Ether(src=na.mac, dst=na.mac) / IP(src=na.ip, dst=na.ip)
         / ICMP(type=3, code=4, nexthopmtu=1500) / Raw(bytes(tunnel)[:548]))  # fmt: skip
    exp = explain(c, tmp_path)
    (f,) = by(exp, "mtu-exceeded")
    assert f.details["dropped_at_encapsulation"] == 1 and "black hole" in f.statement
    assert b.ip6 not in f.statement  # grouped: counts and sizes, not one line per packet


def test_outer_fragments_are_not_called_drops(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", seq=0)
    a, b = c.pods["client"], c.pods["server"]
    na, nb = c.nodes["node-a"], c.nodes["node-b"]
    inner = (
        Ether(src=a.mac, dst=a.lxc_mac)
        / IP(src=a.ip4, dst=b.ip4, flags="DF", id=5)
        / ICMP(type=8, id=9, seq=1)
        / Raw(b"x" * 1472)
    )
    c.at("client", inner)  # a 1500-byte pod packet with DF ...
    outer = (
        IP(src=na.ip, dst=nb.ip, id=4321)
        / UDP(sport=40001, dport=8472, chksum=0)
        / VXLAN(flags=8, vni=a.identity)
        / inner
    )
    for fr in fragment(outer, fragsize=1400):  # ... crosses the underlay in outer fragments
        c.at("node-a", Ether(src=na.mac, dst=nb.mac) / fr)
    exp = explain(c, tmp_path)
    assert not by(exp, "mtu-exceeded")
    assert by(exp, "outer-fragmentation")


def test_a_long_lost_ping_stays_one_short_finding(tmp_path: Path) -> None:
    c = reference_like_cluster()
    for seq in range(1, 301):
        c.echo("client", "server", seq=seq, lost="sender", ident=3)
        pause(c, 0.01)
    exp = explain(c, tmp_path)
    (f,) = by(exp, "echo-unanswered")
    assert f.details["exchanges"] == 300 and "(seq 1-300)" in f.statement
    assert len(f.statement) < 700 and len(f.evidence) <= 12
    assert len(f.details["seq"]) <= 100


def test_segments_mirrored_in_two_vnis_are_not_retransmissions(tmp_path: Path) -> None:
    c = reference_like_cluster()
    a, b = c.pods["client"], c.pods["server"]
    seg = (
        Ether(src=a.mac, dst=b.mac)
        / IP(src=a.ip4, dst=b.ip4)
        / TCP(sport=50002, dport=80, flags="PA", seq=7, ack=9)
        / Raw(b"payload")
    )
    for vni in (1, 2):  # one segment, mirrored into two sessions
        c.at(
            "mirror",
            Ether(src="02:00:00:00:99:01", dst="02:00:00:00:99:02")
            / IP(src="10.99.0.1", dst="10.99.0.2")
            / UDP(sport=4789, dport=4789, chksum=0)
            / VXLAN(flags=8, vni=vni)
            / seg,
        )
    exp = explain(c, tmp_path)
    assert not by(exp, "tcp-retransmissions")


def test_echo_answered_by_host_unreachable_is_a_problem_not_a_loss(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", v6=False, seq=4, lost="sender", dst_ip="10.10.2.99")
    req = c.frames["client"][-1][1]
    a, n = c.pods["client"], c.nodes["node-a"]
    c.at(
        "client",
        Ether(src=a.lxc_mac, dst=a.mac)
        / IP(src=n.router_ip4, dst=a.ip4)
        / ICMP(type=3, code=1)
        / Raw(req[14:]),
    )
    exp = explain(c, tmp_path)
    assert not by(exp, "echo-unanswered")
    (f,) = by(exp, "destination-unreachable")
    assert f.severity == "problem" and f.details["refusal"] is False
    assert "host unreachable" in f.statement and "could not deliver" in f.statement


def test_tunnel_overhead_is_measured_per_pod_family(tmp_path: Path) -> None:
    # A dual-stack overlay may carry IPv4 pods over an IPv4 underlay (50 bytes of VXLAN) and
    # IPv6 pods over an IPv6 one (70 bytes): Flannel's flannel.N and flannel-v6.N. One figure
    # for both made IPv4 routes "too large" while 1400-byte IPv4 pings crossed.
    from types import SimpleNamespace

    from scapy.layers.inet6 import ICMPv6EchoRequest
    from scapy.utils import wrpcap

    from vxlanlens.explain.findings.mtu import _overhead

    inner4 = Ether() / IP(src="10.42.3.17", dst="10.42.9.41") / ICMP() / Raw(b"x" * 100)
    inner6 = Ether() / IPv6(src="fd42:3::11", dst="fd42:9::29") / ICMPv6EchoRequest()
    frames = [
        Ether() / IP(src="10.99.0.21", dst="10.99.0.22") / UDP(sport=1, dport=8472)
        / VXLAN(vni=7) / inner4,
        Ether() / IPv6(src="fd99::21", dst="fd99::22") / UDP(sport=1, dport=8472)
        / VXLAN(vni=7) / inner6,
    ]  # fmt: skip
    path = tmp_path / "dual.pcap"
    wrpcap(str(path), frames)
    cap = vxlanlens.read(str(path))
    ctx = SimpleNamespace(packets=cap.packets, topology=cap.topology)
    assert _overhead(ctx, 4)[0] == 50 and "over IPv4" in _overhead(ctx, 4)[1]
    assert _overhead(ctx, 6)[0] == 70 and "over IPv6" in _overhead(ctx, 6)[1]
    assert _overhead(ctx)[0] == 70  # the worst of all, as before, when no family is asked
