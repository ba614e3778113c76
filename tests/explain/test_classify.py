"""What kind of capture each one is (vxlanlens.explain.classify), and what explain makes of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from testpaths import CAPTURES

import vxlanlens
from vxlanlens.explain import CILIUM_FINDINGS


def _classes(exp: vxlanlens.Explanation) -> dict[str, str]:
    return {p["capture"]: p["class"] for p in exp.topology["capture_points"]}


@pytest.mark.parametrize(
    ("name", "kind", "words"),
    [
        ("tx-gwlb-for-demo/geneve.pcap", "cloud-tunnel", "0x0167"),
        ("suricata-verify/bug-6402-01/input.pcap", "cloud-tunnel", "AWS"),
        ("zeek/tunnels/geneve-many-options.pcap", "mirror", "one way"),
        ("zeek/arp-who-has.pcap", "lan", "none tunnelled"),
    ],
)
def test_corpus_captures_that_are_no_pod_overlay(
    public_dir: Path, name: str, kind: str, words: str
) -> None:
    exp = vxlanlens.read(str(public_dir / name)).explain()
    (point,) = exp.topology["capture_points"]
    assert point["class"] == kind and words in point["class_evidence"]
    assert not [f for f in exp.findings if f.id in CILIUM_FINDINGS]
    assert exp.unknowns[0].startswith("No capture shows a pod overlay")
    if kind == "lan":
        # nothing to draw a model on: host to host through the network (explain/_plain.py)
        assert "The paths run from host to host" in exp.unknowns[0]
        assert "hops marked `inferred` are drawn on" not in exp.unknowns[0]
        assert "`--cni` states the overlay" in exp.unknowns[0]
    else:
        # the paths' inferred hops follow a model nothing here shows: said, not claimed as seen
        assert "hops marked `inferred` are drawn on" in exp.unknowns[0]
        assert "may not fit this network" in exp.unknowns[0]
    assert kind.split("-")[0] in exp.to_text()  # the capture line says what it is


def test_plain_vxlan_between_two_hosts_is_an_underlay(public_dir: Path) -> None:
    exp = vxlanlens.read(str(public_dir / "tcpdump" / "vxlan.pcap")).explain()
    assert set(_classes(exp).values()) == {"node-underlay"}
    assert "no topology dump names them" in exp.topology["capture_points"][0]["class_evidence"]


def test_lab_captures_are_pods_and_node_underlays() -> None:
    d = CAPTURES / "lab-ipv4-ping"
    exp = vxlanlens.read(
        sorted(str(p) for p in d.glob("*.pcap")), topology=str(d / "topology")
    ).explain()
    classes = _classes(exp)
    assert {c for c, k in classes.items() if k == "pod"} == {
        "pod-cni-7t9p4-eth0",
        "pod-cni-8qgcs-eth0",
    }
    assert {k for c, k in classes.items() if c.startswith("node-")} == {"node-underlay"}
    assert not exp.unknowns or not exp.unknowns[0].startswith("No capture shows a pod overlay")
