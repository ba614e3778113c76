"""`explain` on the lab's failure scenarios (captures/lab-*/, made by the Linux kernel): what each
README's "What a correct analysis must say" requires. Each test skips until its scenario ships."""

from __future__ import annotations

from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import Explanation, Finding

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def run(name: str) -> Explanation:
    folder = CAPTURES / f"lab-{name}"
    caps = sorted(str(p) for p in folder.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{folder} not shipped")
    topo = folder / "topology"
    return vxlanlens.read(caps, topology=[str(topo)] if topo.is_dir() else None).explain()


def by(exp: Explanation, fid: str) -> list[Finding]:
    return [f for f in exp.findings if f.id == fid]


def severe(exp: Explanation) -> list[str]:
    return sorted(f.id for f in exp.findings if f.severity != "info")


def test_ns_transient_fails_then_recovers() -> None:
    exp = run("ns-transient")
    assert severe(exp) == ["transient-failure", "transient-failure"]
    kinds = {f.details["kind"]: f for f in by(exp, "transient-failure")}
    assert set(kinds) == {"nd", "arp"}
    for f in kinds.values():
        assert f.details["tries"] == 3 and f.details["unanswered"] == 1
        assert f.details["answered"] == 1 and "recovered" in f.statement
    assert not by(exp, "ns-unanswered") and not by(exp, "arp-unanswered")


def test_tcp_refused_is_an_answer() -> None:
    exp = run("tcp-refused")
    assert severe(exp) == []
    refused = by(exp, "connection-refused")
    assert refused and all(f.details["through_tunnel"] for f in refused)


def test_udp_refused_is_an_answer() -> None:
    """Kernel-made: a DNS query to a pod where nothing listens on UDP 53, per family, answered by
    the pod kernel's port unreachable through the tunnel: one warning per flow naming the pod
    that refused, no loss."""
    exp = run("udp-refused")
    found = by(exp, "destination-unreachable")
    assert severe(exp) == ["destination-unreachable", "destination-unreachable"]
    assert sorted(f.details["target"] for f in found) == ["10.244.2.245", "fd00:10:244:2::9461"]
    for f in found:
        d = f.details
        assert (d["kind"], d["port"], d["refusal"], d["exchanges"]) == ("udp", 53, True, 1)
        assert d["error_from"] == d["target"] and "port unreachable" in d["error"]
        assert f"{d['target']} refused it" in f.statement
    assert not by(exp, "echo-unanswered") and not by(exp, "traceroute")
    # each datagram and its error drawn through the overlay, every hop seen by a capture
    errors = [p for p in exp.paths if p.kind == "icmp-error"]
    assert len(errors) == 2
    for p in errors:
        assert p.hops[0].place.endswith("cni-7t9p4 eth0")
        assert p.hops[-1].place.endswith("cni-8qgcs eth0")
        assert p.reply_hops[0].place.endswith("cni-8qgcs eth0")
        assert p.reply_hops[-1].place.endswith("cni-7t9p4 eth0")
        assert any(h.tunnel for h in p.hops) or any("VXLAN" in h.note for h in p.hops)
        assert "destination-unreachable" in {f.id for f in p.findings}


def test_tcp_syn_dropped_on_the_peer_node() -> None:
    exp = run("tcp-syn-dropped")
    found = by(exp, "tcp-unanswered")
    assert len(found) == 2 and severe(exp) == ["tcp-unanswered", "tcp-unanswered"]
    for f in found:
        assert f.details["tries"] == 4 and "no SYN/ACK, RST or ICMP error" in f.statement
        assert "last seen at node-worker2-any#" in f.statement
    assert not by(exp, "connection-refused")


def test_mtu_outer_frag_is_fragmentation_not_loss() -> None:
    exp = run("mtu-outer-frag")
    assert not by(exp, "mtu-exceeded") and not by(exp, "echo-unanswered")
    (frag,) = by(exp, "outer-fragmentation")
    assert frag.details["packets"] == 6
    routes = by(exp, "route-mtu-too-large")
    assert routes and routes[0].details["should_be"] == 1450 and routes[0].details["mtu"] == 1500


def test_mtu_outer_df_is_a_black_hole() -> None:
    exp = run("mtu-outer-df")
    (mtu,) = by(exp, "mtu-exceeded")
    assert mtu.details["dropped_at_encapsulation"] == 6 and "black hole" in mtu.statement
    assert by(exp, "route-mtu-too-large")


def test_clock_skew_is_an_offset_not_a_delay() -> None:
    exp = run("clock-skew")
    assert severe(exp) == []
    offsets = by(exp, "clock-offset")
    assert offsets and all(abs(f.details["offset_s"] - 2.5) < 0.01 for f in offsets)
