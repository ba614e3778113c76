"""The explainer's view of capture points and of who sent what: read from the topology's
placement, and a node's NIC never named a pod."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain.context import Context

LAB = Path(__file__).resolve().parents[2] / "captures" / "lab-ipv4-ping"
W1, W2 = "cilium-dual-stack-worker", "cilium-dual-stack-worker2"


@cache
def _ctx(dumps: bool) -> Context:
    cap = vxlanlens.read(
        [f"n{k}={p}" for k, p in enumerate(sorted(LAB.glob("*.pcap")))],
        topology=str(LAB / "topology") if dumps else None,
    )
    return Context(
        packets=cap.annotated, topology=cap.topology, exchanges=cap.exchanges,
        journeys=cap.journeys, loaded=dumps,
    )  # fmt: skip


def test_node_arp_sender_is_the_node_nic_not_a_pod() -> None:
    ctx = _ctx(True)
    who = ctx.requester("172.18.0.4", "02:42:ac:12:00:04")  # worker's eth0, from its dumps
    assert (who.label, who.kind, who.node, who.pod) == (f"{W1}/eth0", "underlay", W1, None)
    assert not (ctx.mac_name("02:42:ac:12:00:04") or "").startswith("pod ")
    pod = ctx.requester("10.244.1.233", "4e:5b:57:45:63:3b")
    assert (pod.label, pod.kind, pod.node) == ("default/cni-7t9p4 eth0", "pod-eth0", W1)


def test_node_arp_sender_without_dumps_is_still_a_node() -> None:
    ctx = _ctx(False)
    who = ctx.requester("172.18.0.4", "02:42:ac:12:00:04")
    assert who.kind == "underlay" and who.pod is None and "172.18.0.4" in who.label
    unknown = ctx.requester("192.0.2.9", "02:00:00:00:00:99")
    assert unknown.kind == "pod-eth0" and unknown.label == "pod 02:00:00:00:00:99 eth0"


@pytest.mark.parametrize("dumps", [True, False])
def test_points_come_from_the_topology(dumps: bool) -> None:
    ctx = _ctx(dumps)
    placed = {c.capture: c for c in ctx.topology.captures}
    assert set(ctx.points) == set(placed)
    for label, p in ctx.points.items():
        c = placed[label]
        assert (p.node, p.pod, p.how, p.confidence) == (c.node, c.pod, c.how, c.confidence)
        assert [str(e) for e in p.evidence] == [f"{a}#{n}" for a, n in c.source.frames]
    anys = [p for p in ctx.points.values() if p.interface == "any"]
    assert len(anys) == 2 and all(p.kind == "node" and p.pod is None for p in anys)
