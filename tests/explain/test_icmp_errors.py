"""Requests answered by an ICMP error (explain/findings/reachability.py): UDP datagrams refused
or not delivered, traceroutes, and time exceeded for a request sent with a low TTL on purpose
against one that ran out on the way."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import ICMP, IP, UDP, IPerror
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

import vxlanlens
from vxlanlens.explain.model import Explanation, Finding

A_MAC, B_MAC, R_MAC = "02:00:00:00:0a:01", "02:00:00:00:0b:02", "02:00:00:00:0f:0f"
A_IP, B_IP = "192.168.50.10", "192.168.50.20"
FAR = "203.0.113.9"
ROUTERS = ("192.168.50.1", "198.51.100.1", "198.51.100.77")


def _write(path: Path, frames: list) -> Path:
    for k, f in enumerate(frames):
        f.time = 1_700_000_000.0 + k * 0.01
    wrpcap(str(path), frames)
    return path


def _explain(path: Path) -> Explanation:
    return vxlanlens.read(str(path)).explain()


def _ids(exp: Explanation, fid: str) -> list[Finding]:
    return [f for f in exp.findings if f.id == fid]


def _udp_refused(host: str, port: int, sport: int) -> list:
    query = IP(src=A_IP, dst=host) / UDP(sport=sport, dport=port) / b"query"
    return [
        Ether(src=A_MAC, dst=B_MAC) / query,
        Ether(src=B_MAC, dst=A_MAC)
        / IP(src=host, dst=A_IP)
        / ICMP(type=3, code=3)
        / IPerror(bytes(query)),
    ]


def test_a_refused_udp_query_is_said_once_per_flow(tmp_path: Path) -> None:
    """Three DNS queries to a host where nothing listens on port 53: one warning for the flow,
    with the ports, the error and who sent it (it made no finding at all)."""
    frames = [f for sport in (40000, 40001, 40002) for f in _udp_refused(B_IP, 53, sport)]
    exp = _explain(_write(tmp_path / "dns.pcap", frames))
    (f,) = _ids(exp, "destination-unreachable")
    assert f.severity == "warning"
    assert f.statement.startswith(
        f"3 UDP datagrams {A_IP} > {B_IP} port 53 (source ports 40000-40002) were answered by "
        "ICMP destination unreachable (port unreachable, code 3)"
    )
    assert f"{B_IP} refused it (nothing listens on that port there" in f.statement
    assert "This is an answer, not a loss." in f.statement
    assert sorted(str(e) for e in f.evidence) == [f"dns#{k}" for k in range(1, 7)]
    d = f.details
    assert (d["kind"], d["requester"], d["target"], d["error_from"]) == ("udp", A_IP, B_IP, B_IP)
    assert d["exchanges"] == 3 and d["refusal"] is True and d["port"] == 53
    assert not _ids(exp, "traceroute")


def test_an_undeliverable_udp_datagram_is_a_problem(tmp_path: Path) -> None:
    """A router's host unreachable for a UDP datagram: it was not delivered (a problem)."""
    dgram = IP(src=A_IP, dst=FAR) / UDP(sport=5000, dport=9999) / b"x"
    frames = [
        Ether(src=A_MAC, dst=R_MAC) / dgram,
        Ether(src=R_MAC, dst=A_MAC)
        / IP(src=ROUTERS[0], dst=A_IP)
        / ICMP(type=3, code=1)
        / IPerror(bytes(dgram)),
    ]
    (f,) = _ids(_explain(_write(tmp_path / "far.pcap", frames)), "destination-unreachable")
    assert f.severity == "problem" and f.details["port"] == 9999
    assert "the sender of the error could not deliver it" in f.statement


def _traceroute(captured: bool) -> list:
    """Three probes per hop to FAR: two routers answer time exceeded, then FAR's port
    unreachable; the probes themselves are in the capture or not."""
    frames = []
    port = 33434
    for ttl in (1, 2, 3):
        for _ in range(3):
            probe = IP(src=A_IP, dst=FAR, ttl=ttl) / UDP(sport=41000, dport=port) / b"p"
            if captured:
                frames.append(Ether(src=A_MAC, dst=R_MAC) / probe)
            quoted = IPerror(bytes(probe))
            quoted.ttl = 1
            if ttl < 3:
                err = IP(src=ROUTERS[ttl - 1], dst=A_IP) / ICMP(type=11, code=0) / quoted
            else:
                err = IP(src=FAR, dst=A_IP) / ICMP(type=3, code=3) / quoted
            frames.append(Ether(src=R_MAC, dst=A_MAC) / err)
            port += 1
    return frames


def test_a_traceroute_is_one_info_naming_the_routers_in_hop_order(tmp_path: Path) -> None:
    for captured in (True, False):
        exp = _explain(_write(tmp_path / f"tr-{captured}.pcap", _traceroute(captured)))
        assert not _ids(exp, "destination-unreachable"), captured
        (f,) = _ids(exp, "traceroute")
        assert f.severity == "info"
        assert f.details == {
            "requester": A_IP,
            "target": FAR,
            "probes": 9,
            "routers": list(ROUTERS[:2]),
            "reached": True,
        }
        assert "9 UDP probes (ports 33434-33442)" in f.statement
        assert f"({ROUTERS[0]}, {ROUTERS[1]})" in f.statement
        assert "the path to it works" in f.statement


def _ping(ttl: int, path: Path) -> Path:
    req = IP(src=A_IP, dst=FAR, ttl=ttl) / ICMP(id=9, seq=1)
    quoted = IPerror(bytes(req))
    quoted.ttl = 1
    return _write(
        path,
        [
            Ether(src=A_MAC, dst=R_MAC) / req,
            Ether(src=R_MAC, dst=A_MAC)
            / IP(src=ROUTERS[2], dst=A_IP)
            / ICMP(type=11, code=0)
            / quoted,
        ],
    )


def test_time_exceeded_for_a_low_ttl_on_purpose_is_no_problem(tmp_path: Path) -> None:
    """``ping -t 2``: the TTL it was sent with ran out, as asked (it was a problem: "the sender
    of the error could not deliver it")."""
    exp = _explain(_ping(2, tmp_path / "ping-t.pcap"))
    (f,) = _ids(exp, "destination-unreachable")
    assert f.severity == "info"
    assert f"it was seen with TTL 2, which ran out at {ROUTERS[2]}" in f.statement
    (path,) = [p for p in exp.paths if p.kind == "echo"]
    assert path.summary.endswith(f": no reply; time exceeded from {ROUTERS[2]} answered it")


def test_time_exceeded_for_a_full_ttl_is_a_loop_or_a_long_path(tmp_path: Path) -> None:
    (f,) = _ids(_explain(_ping(64, tmp_path / "loop.pcap")), "destination-unreachable")
    assert f.severity == "problem"
    assert f"its TTL ran out at {ROUTERS[2]} (it was seen with TTL 64): a routing loop" in (
        f.statement
    )


def test_zeeks_traceroute6_is_a_traceroute(public_dir: Path) -> None:
    """Zeek's communityid/icmp6.pcap holds a traceroute6 whose probes are not captured: time
    exceeded from three routers, then the target's port unreachable: one traceroute, and no
    finding that says a probe was not delivered or refused."""
    exp = _explain(public_dir / "zeek" / "communityid" / "icmp6.pcap")
    (f,) = _ids(exp, "traceroute")
    assert f.details["probes"] == 12 and f.details["reached"] is True
    assert len(f.details["routers"]) == 3
    for d in _ids(exp, "destination-unreachable"):
        assert d.details["target"] != f.details["target"], d.statement
