"""Crafted failure scenarios: each gives the right problem finding, and no false ones.

The captures are built by tests/craft.py with addresses unlike the reference scenario's, so
nothing here can pass by matching the reference's values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from craft import Cluster, reference_like_cluster, write_pcaps

import vxlanlens
from vxlanlens.explain import Explanation


def explain(cluster: Cluster, folder: Path) -> Explanation:
    paths = write_pcaps(cluster, folder)
    return vxlanlens.read([f"{k}={v}" for k, v in sorted(paths.items())]).explain()


def ids(exp: Explanation, severity: str | None = None) -> list[str]:
    return [f.id for f in exp.findings if severity is None or f.severity == severity]


def test_healthy_exchange_has_no_problem(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.ns_gateway("client", from_link_local=True)
    c.arp_gateway("client")
    c.echo("client", "server")
    c.echo("client", "server", v6=False, seq=1)
    exp = explain(c, tmp_path)
    assert ids(exp, "problem") == [] and ids(exp, "warning") == []
    assert "gateway-answered-by-ebpf" in ids(exp)
    # request and reply VNIs differ here (different identities): said, and paired anyway
    assert any("different VNIs (51234 and 60001" in f.statement for f in exp.findings)
    echo = [p for p in exp.paths if p.kind == "echo"]
    assert len(echo) == 2 and all("answered" in p.summary for p in echo)


def test_ns_never_answered(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.ns_gateway("client", answered=False)
    exp = explain(c, tmp_path)
    assert ids(exp, "problem") == ["ns-unanswered"]
    (f,) = exp.findings
    assert "fd00:aa:1::77" in f.statement and [str(e) for e in f.evidence] == ["client#1"]
    assert "gateway-answered-by-ebpf" not in ids(exp)


def test_echo_lost_after_encapsulation(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.ns_gateway("client")
    c.echo("client", "server")  # a good one first: the captures are running
    c.echo("client", "server", seq=7, lost="underlay")
    c.echo("client", "server", seq=8)  # and a good one after: node-b was capturing
    exp = explain(c, tmp_path)
    # one echo lost between answered ones: the ping recovered, a warning, not a problem
    assert ids(exp, "problem") == []
    assert ids(exp, "warning") == ["transient-failure"]
    (f,) = [f for f in exp.findings if f.id == "transient-failure"]
    assert "1 echo request" in f.statement and "seq 7" in f.statement
    assert "last seen at node-a#" in f.statement and "inside VXLAN" in f.statement
    assert "node-b" in f.statement and "did not see it" in f.statement
    assert "lost after leaving the sending node" in f.statement
    assert f.details["unanswered"] == 1 and f.details["answered"] == 2
    assert f.details["recovered_frame"].startswith("client#")
    assert {"client#", "node-a#"} <= {str(e).split("#")[0] + "#" for e in f.evidence}


def test_echo_lost_for_good(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server")  # answered
    c.echo("client", "server", seq=7, lost="underlay")
    c.echo("client", "server", seq=8, lost="underlay")
    c.t_us += 2_000_000  # the captures go on: another flow, answered two seconds later
    c.echo("client", "server", ident=45, seq=1)
    exp = explain(c, tmp_path)
    assert ids(exp, "problem") == ["echo-unanswered"]
    (f,) = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert "2 echo requests" in f.statement and "seq 7-8" in f.statement
    assert "were never answered" in f.statement
    assert "lost after leaving the sending node" in f.statement
    assert "Earlier requests of this flow were answered" in f.statement
    assert "cannot be ruled out" not in f.statement
    assert f.details["exchanges"] == 2 and f.details["seq"] == [7, 8]
    assert "near_capture_end" not in f.details


@pytest.mark.parametrize("v6", [True, False])
def test_echo_cut_off_by_the_end_of_the_captures(tmp_path: Path, v6: bool) -> None:
    """A flow answered until capturing stopped: its last requests are the captures' last
    frames. Nothing shows a loss: a warning, "not answered in the captures", not a problem."""
    c = reference_like_cluster()
    for seq in (1, 2, 3):
        c.echo("client", "server", v6=v6, seq=seq)
        c.t_us += 1_000_000
    c.echo("client", "server", v6=v6, seq=4, lost="underlay")  # the captures end here
    exp = explain(c, tmp_path)
    assert ids(exp, "problem") == []
    (f,) = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert f.severity == "warning"
    assert "was not answered in the captures" in f.statement
    assert "never answered" not in f.statement
    assert "cannot be ruled out" in f.statement
    assert f.details["near_capture_end"] == 1 and f.details["seq"] == [4]


def _ping_ending_in_a_request(
    path: Path, stopped_s: float | None, ifdrop: int = 0, lost: int = 4
) -> None:
    """A pcapng pod capture: three answered pings a second apart, then a request as the
    file's last frame; ``stopped_s`` after it, an Interface Statistics Block (as dumpcap
    writes when it stops) says capturing stopped."""
    from craft import epb, idb, isb, shb
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import Ether

    a, b = ("02:aa:00:00:00:01", "10.77.1.5"), ("02:aa:00:00:00:02", "10.77.2.9")
    out, t_us = shb() + idb(1, name="eth0"), 1_700_000_000_000_000

    def ping(src: tuple[str, str], dst: tuple[str, str], kind: int, seq: int) -> bytes:
        pkt = Ether(src=src[0], dst=dst[0]) / IP(src=src[1], dst=dst[1]) / ICMP(type=kind, seq=seq)
        return bytes(pkt / (b"p" * 56))

    for seq in range(1, lost):
        out += epb(ping(a, b, 8, seq), ts=t_us) + epb(ping(b, a, 0, seq), ts=t_us + 300)
        t_us += 1_000_000
    out += epb(ping(a, b, 8, lost), ts=t_us)
    if stopped_s is not None:
        out += isb(0, ts=t_us, end=t_us + int(stopped_s * 1e6), ifdrop=ifdrop)
    path.write_bytes(out)


def test_a_capture_that_says_it_ran_on_settles_a_request_at_its_end(tmp_path: Path) -> None:
    """The file's statistics say capturing went on 2 s after its last frame, a request: it
    was not answered in that time, a problem; without them, the capture may have stopped
    before the answer came: a warning."""
    # a stop time more than a day after the last frame is taken for a wrong clock: left
    cases = ((2.0, "problem"), (None, "warning"), (0.1, "warning"), (2 * 86400.0, "warning"))
    for stopped_s, severity in cases:
        path = tmp_path / f"pod-{stopped_s}.pcapng"
        _ping_ending_in_a_request(path, stopped_s)
        exp = vxlanlens.read([f"pod={path}"]).explain()
        (f,) = [f for f in exp.findings if f.id == "echo-unanswered"]
        assert f.severity == severity, f.statement
        assert ("never answered" in f.statement) == (severity == "problem")
        assert ("cannot be ruled out" in f.statement) == (severity == "warning")
        (cap,) = exp.to_dict()["captures"]
        if stopped_s is None:
            assert cap["stopped"] is None and cap["dropped"] is None
            assert "a capture file does not record when capturing stopped" in f.statement
        elif stopped_s < 0.5:  # it stopped too soon after the request to tell
            assert "before every capture that saw it stopped (pcapng statistics)" in f.statement
        elif stopped_s > 86400:
            assert cap["stopped"] is not None
            assert "a capture file does not record when capturing stopped" in f.statement
        else:
            assert cap["stopped"] == "2023-11-14T22:13:25+00:00" and cap["dropped"] == 0


def test_a_capture_that_dropped_packets_shows_no_loss(tmp_path: Path) -> None:
    """The capture that saw the request says its capturing dropped packets: the answer may
    be one of them, so the request is "not answered in the captures", a warning, with the
    count (in the statement, the details and the capture's line)."""
    path = tmp_path / "pod.pcapng"
    _ping_ending_in_a_request(path, stopped_s=2.0, ifdrop=3, lost=1)
    exp = vxlanlens.read([f"pod={path}"]).explain()
    (f,) = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert f.severity == "warning" and "not answered in the captures" in f.statement
    assert "pod says its capturing dropped 3 packets (pcapng statistics)" in f.statement
    assert f.details["capture_drops"] == {"pod": 3}
    assert "3 dropped while capturing" in exp.to_text()
    from vxlanlens.report.html import explanation_html
    from vxlanlens.report.markdown import explanation_markdown

    assert "| pod | 1 (3 dropped while capturing) |" in explanation_markdown(exp)
    assert "<td>1 (3 dropped while capturing)</td>" in explanation_html(exp)


def test_a_lone_request_at_the_end_stays_a_problem(tmp_path: Path) -> None:
    """Nothing of the flow answered, its one request the captures' last frame (a ping that
    failed, then the captures were stopped): the severity stays, the caveat is said."""
    c = reference_like_cluster()
    c.echo("client", "server", seq=4, lost="underlay")
    exp = explain(c, tmp_path)
    (f,) = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert f.severity == "problem" and "never answered" in f.statement
    assert "cannot be ruled out" in f.statement and f.details["near_capture_end"] == 1


def test_oversized_inner_packet(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.echo("client", "server")
    c.echo("client", "server", seq=1, size=1452, lost="sender")  # 1500-byte IPv6 packet
    c.packet_too_big("client", c.frames["client"][-1][1])
    exp = explain(c, tmp_path)
    # the oversized echo was answered by Packet Too Big: an answer, not a loss
    assert ids(exp, "problem") == ["mtu-exceeded"]
    assert ids(exp, "warning") == ["packet-too-big"]
    (mtu,) = [f for f in exp.findings if f.id == "mtu-exceeded"]
    assert (
        mtu.details["limit"] == 1450
        and mtu.details["largest"] == 1500
        and mtu.details["packets"] == 1
    )
    (ptb,) = [f for f in exp.findings if f.id == "packet-too-big"]
    assert "1450" in ptb.statement


def test_reply_taking_another_path(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.node("node-c", "192.168.50.13", "02:42:c0:a8:32:0d", "10.10.3.1", "fd00:aa:3::99")
    c.echo("client", "server", reply_via="node-c")
    exp = explain(c, tmp_path)
    assert ids(exp, "problem") == []
    assert ids(exp, "warning") == ["asymmetric-path"]
    (f,) = [f for f in exp.findings if f.id == "asymmetric-path"]
    assert f.details["request_to"] == "192.168.50.12"
    assert f.details["reply_from"] == "192.168.50.13"
    # seen at the client, node-a and node-b: one exchange
    assert f.details["exchanges"] == 1 and f.statement.startswith("1 exchange(s)")


def test_arp_never_answered_and_tcp_refused(tmp_path: Path) -> None:
    c = reference_like_cluster()
    c.arp_gateway("client", answered=False)
    c.tcp_syn("client", "server", 81, answer="rst")
    c.tcp_syn("client", "server", 80, answer="synack")
    exp = explain(c, tmp_path)
    assert ids(exp, "problem") == ["arp-unanswered"]
    tcp = [p for p in exp.paths if p.kind == "tcp"]
    assert len(tcp) == 2 and all("answered" in p.summary for p in tcp)


@pytest.mark.parametrize("lost", ["underlay", "remote"])
def test_unanswered_echo_without_node_captures(tmp_path: Path, lost: str) -> None:
    c = reference_like_cluster()
    c.echo("client", "server", seq=3, lost=lost)
    for point in ("node-a", "node-b", "server"):
        c.frames.pop(point, None)
    exp = explain(c, tmp_path)
    assert ids(exp, "problem") == ["echo-unanswered"]
    assert "last seen at client#1" in exp.findings[0].statement


def test_request_at_the_end_of_the_capture_is_not_sure(tmp_path: Path) -> None:
    """A request that is among the last frames of every capture that saw it keeps its finding
    (the sender may have waited long after: a capture file does not record when capturing
    stopped) but says that an answer after the last frame cannot be ruled out; a request the
    capture went on long after (other traffic 2 s later) is plainly unanswered."""
    c = reference_like_cluster()
    c.ns_gateway("client", answered=False)
    (f,) = explain(c, tmp_path / "end").findings
    assert f.id == "ns-unanswered" and f.severity == "problem"
    assert "an answer after that cannot be ruled out" in f.statement
    assert f.details["near_capture_end"] == 1
    c = reference_like_cluster()
    c.ns_gateway("client", answered=False)
    c.t_us += 2_000_000
    c.arp_gateway("client")  # the client's capture was still running 2 s later
    exp = explain(c, tmp_path / "later")
    (f,) = [f for f in exp.findings if f.id == "ns-unanswered"]
    assert f.severity == "problem" and "cannot be ruled out" not in f.statement
    assert "near_capture_end" not in f.details


def test_unanswered_on_a_plain_lan_is_told_in_no_cni_words(tmp_path: Path) -> None:
    """No overlay in the input and nothing of Cilium: an unanswered ARP request or Neighbor
    Solicitation gets a reason in no CNI's words (it was Cilium's eBPF on an lxc veth)."""
    from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
    from scapy.layers.l2 import ARP, Ether
    from scapy.utils import wrpcap

    mac = "52:54:00:12:34:56"
    frames = [
        Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc="192.0.2.10", pdst="192.0.2.99"),
        Ether(src=mac, dst="33:33:ff:00:00:99") / IPv6(src="2001:db8::10", dst="ff02::1:ff00:99", hlim=255) / ICMPv6ND_NS(tgt="2001:db8::99"),
    ]  # fmt: skip
    for k, f in enumerate(frames):
        f.time = 1_700_000_000 + k
    path = tmp_path / "lan.pcap"
    wrpcap(str(path), frames)
    exp = vxlanlens.read(str(path)).explain()
    found = {f.id: f for f in exp.findings}
    assert {"arp-unanswered", "ns-unanswered"} <= set(found)
    for f in found.values():
        assert (
            "Cilium" not in f.statement and "lxc" not in f.statement and "eBPF" not in f.statement
        )
    assert "no host on the requester's link answered" in found["arp-unanswered"].statement
