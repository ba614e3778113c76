"""Unanswered requests seen only at a capture point that could not show an answer, and
exchanges counted once however many captures saw them."""

from __future__ import annotations

from pathlib import Path

from testpaths import CAPTURES

import vxlanlens


def test_one_way_tunnel_capture_does_not_claim_losses(public_dir: Path) -> None:
    """A cloud Geneve capture carries one tunnel direction only: SYNs from hosts nothing is
    ever addressed to are not losses; echo requests from a host the capture does see traffic
    for stay problems."""
    exp = vxlanlens.read(str(public_dir / "tx-gwlb-for-demo" / "geneve.pcap")).explain()
    syns = [f for f in exp.findings if f.id == "tcp-unanswered"]
    assert syns and all(f.severity == "info" for f in syns)
    assert all(f.details["one_way_captures"] == ["geneve"] for f in syns)
    assert all("do not show a loss" in f.statement for f in syns)
    echoes = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert echoes and all(f.severity == "problem" for f in echoes)
    assert all("one_way_captures" not in f.details for f in echoes)


def test_a_lost_echo_in_an_overlay_stays_a_problem() -> None:
    d = CAPTURES / "lab-no-such-pod"
    exp = vxlanlens.read(
        sorted(str(p) for p in d.glob("*.pcap")), topology=str(d / "topology")
    ).explain()
    lost = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert len(lost) == 2 and all(f.severity == "problem" for f in lost)


def test_exchanges_counted_once_across_captures() -> None:
    d = CAPTURES / "lab-mtu-outer-frag"
    cap = vxlanlens.read(sorted(str(p) for p in d.glob("*.pcap")), topology=str(d / "topology"))
    exp = cap.explain()
    # 3 IPv4 and 3 IPv6 pings, each seen at several of the 6 captures
    assert exp.counts["echo_answered"] == 6
    assert exp.counts["exchange_rows"] == len(cap.exchanges) > exp.counts["exchanges"]
