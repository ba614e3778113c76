"""Where captures were taken: topology.place, on the lab's kernel-made captures (under labels
that say nothing, as held-out captures would) and on crafted changes of them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

import vxlanlens
from vxlanlens.errors import TopologyError
from vxlanlens.topology import (
    CapturePoint,
    Interface,
    Neighbor,
    Node,
    NodeFact,
    Pod,
    Source,
    Topology,
    load_many,
    merge,
    parse_capture_at,
    place,
)

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
W1, W2 = "cilium-dual-stack-worker", "cilium-dual-stack-worker2"
# the lab's addressing (captures/lab-*/README.md): worker is .4 / ::4, worker2 is .3 / ::3
FILES = {
    "a": "node-worker-any",
    "b": "node-worker-eth0",
    "c": "node-worker2-any",
    "d": "node-worker2-eth0",
    "e": "pod-cni-7t9p4-eth0",
    "f": "pod-cni-8qgcs-eth0",
}
EXPECTED = {
    "a": ("node", W1, "any", None),
    "b": ("node", W1, None, None),
    "c": ("node", W2, "any", None),
    "d": ("node", W2, None, None),
    "e": ("pod", W1, None, "default/cni-7t9p4"),
    "f": ("pod", W2, None, "default/cni-8qgcs"),
}
SCENARIOS = ["lab-ipv4-ping", "lab-ipv6-underlay", "lab-tcp-connect", "lab-geneve-ipv6-ping"]


@cache
def _read(scenario: str, dumps: bool) -> vxlanlens.Capture:
    d = CAPTURES / scenario
    specs = [f"{k}={d / (v + '.pcap')}" for k, v in FILES.items()]
    return vxlanlens.read(specs, topology=str(d / "topology") if dumps else None)


def _points(cap: vxlanlens.Capture) -> dict[str, CapturePoint]:
    return {c.capture: c for c in cap.topology.captures}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_held_out_captures_placed_with_dumps(scenario: str) -> None:
    points = _points(_read(scenario, True))
    assert set(points) == set(EXPECTED)
    for label, (kind, node, iface, pod) in EXPECTED.items():
        p = points[label]
        assert (p.kind, p.node, p.interface, p.pod) == (kind, node, iface, pod), (label, p.how)
        assert p.how and p.source.frames, label  # says how, with evidence frames
        assert p.confidence == "inferred-high", (label, p.how)
    # -i any: every interface index named from the node's own dumps
    assert points["a"].interfaces[19] == f"{W1}/lxc237a31216c0f"
    assert points["c"].interfaces[12] == f"{W2}/lxc9e2b4c7d1a05"
    cap = _read(scenario, True)
    for label, node in (("a", W1), ("c", W2)):  # tunnel devices share an ifindex across nodes
        seen = set(cap.packets.loc[cap.packets["capture"] == label, "ifindex"].dropna().astype(int))
        names = points[label].interfaces
        assert set(names) == seen
        for idx, name in names.items():
            iface = next(i for i in cap.topology.interfaces_of_node(node) if i.ifindex == idx)
            assert name == f"{node}/{iface.name}"
    assert "interface indexes with their MACs" in points["a"].how
    assert "earlier" in points["b"].how and "whatever the offset" in points["b"].how


@pytest.mark.parametrize("scenario", ["lab-ipv4-ping", "lab-ipv6-underlay"])
def test_held_out_captures_placed_without_dumps(scenario: str) -> None:
    cap = _read(scenario, False)
    points = _points(cap)
    fam6 = "underlay" in scenario
    w1 = "fc00:f853:ccd:e793::4" if fam6 else "172.18.0.4"
    w2 = "fc00:f853:ccd:e793::3" if fam6 else "172.18.0.3"
    assert (points["a"].node_ip, points["a"].interface) == (w1, "any")
    assert (points["c"].node_ip, points["c"].interface) == (w2, "any")
    assert points["b"].node_ip == w1 and points["d"].node_ip == w2
    assert points["e"].kind == points["f"].kind == "pod"
    assert points["e"].node_ip == w1 and points["f"].node_ip == w2
    for p in points.values():
        assert p.pod is None or p.kind == "pod"
        assert "guessed from the capture's name" not in p.how  # labels say nothing here


def test_wire_order_holds_whatever_the_clock_offset() -> None:
    cap = _read("lab-ipv4-ping", True)
    pk = cap.packets[cap.packets["capture"].astype(str).isin(["b", "d"])].copy()
    for shift in (5_000_000, -5_000_000):  # 5 ms: far more than the wire's latency
        moved = pk.copy()
        moved.loc[moved["capture"].astype(str) == "d", "ts_ns"] += shift
        got = {p.capture: p.node for p in place(moved, cap.topology)}
        assert got == {"b": W1, "d": W2}, shift
    # one direction only: no wire-order decision, both candidates said
    one = pk[pk["outer_src_ip"].astype(str) != "172.18.0.3"]
    got = {p.capture: p for p in place(one, cap.topology)}
    assert got["b"].node is None and set(got["b"].candidates) == {"172.18.0.3", "172.18.0.4"}
    assert "cannot be told" in got["b"].how


def test_any_capture_without_tunnel_is_never_a_pod() -> None:
    d = CAPTURES / "lab-ns-unanswered"
    specs = [f"x={d / 'node-worker-any.pcap'}", f"y={d / 'pod-cni-7t9p4-eth0.pcap'}"]
    with_dumps = _points(vxlanlens.read(specs, topology=str(d / "topology")))
    assert with_dumps["x"].kind == "node" and with_dumps["x"].pod is None
    assert with_dumps["x"].node == W1 and with_dumps["x"].interface == "any"
    assert "arrive on interface index 19" in with_dumps["x"].how
    assert with_dumps["y"].pod == "default/cni-7t9p4"
    alone = _points(vxlanlens.read(specs))
    assert alone["x"].kind == "node" and alone["x"].pod is None and alone["x"].interface == "any"
    exp = vxlanlens.read(specs).explain()
    points = {p["capture"]: p for p in exp.topology["capture_points"]}
    assert points["x"]["kind"] != "pod"


def test_stated_placement_wins_and_is_checked() -> None:
    d = CAPTURES / "lab-ipv4-ping"
    specs = [f"p={d / 'node-worker-eth0.pcap'}", f"q={d / 'node-worker2-any.pcap'}"]
    cap = vxlanlens.read(
        specs, topology=str(d / "topology"), capture_at=[f"p={W1}:eth0", f"q={W2}:any"]
    )
    points = _points(cap)
    assert (points["p"].node, points["p"].interface, points["p"].stated) == (W1, "eth0", True)
    assert points["p"].confidence == "loaded" and "stated by the user" in points["p"].how
    assert points["q"].interfaces[12] == f"{W2}/lxc9e2b4c7d1a05"
    lxc = vxlanlens.read(
        specs[:1], topology=str(d / "topology"), capture_at={"p": f"{W1}:lxc237a31216c0f"}
    )
    assert _points(lxc)["p"].kind == "pod" and _points(lxc)["p"].pod == "default/cni-7t9p4"
    with pytest.raises(TopologyError, match="no capture has that label"):
        vxlanlens.read(specs, capture_at={"nope": W1})
    assert parse_capture_at([f"a={W1}:any", "b=n"]) == {"a": f"{W1}:any", "b": "n"}
    for bad in ("no-equals", "a=", "a=:eth0"):
        with pytest.raises(TopologyError):
            parse_capture_at([bad])


def test_explain_reads_placement_from_the_topology() -> None:
    cap = _read("lab-ipv4-ping", True)
    exp = cap.explain()
    from vxlanlens.explain.context import Context

    ctx = Context(
        packets=cap.annotated, topology=cap.topology, exchanges=cap.exchanges,
        journeys=cap.journeys, loaded=True,
    )  # fmt: skip
    for c in cap.topology.captures:
        p = ctx.points[c.capture]
        assert (p.kind, p.node, p.pod, p.how) == (c.kind, c.node, c.pod, c.how)
        d = p.to_dict()
        assert d["confidence"] == c.confidence and d["evidence"]
    assert ctx.points["a"].interface == "any"
    row = ctx.row("a", 1)
    assert ctx.interface_at(row) == f"{W1}/lxc237a31216c0f"
    assert "every interface of" in ctx.point_text("a") and "-i any" in ctx.point_text("a")
    by = {p["capture"]: p for p in exp.topology["capture_points"]}
    assert by["c"]["node"] == W2 and by["f"]["pod"] == "default/cni-8qgcs"


# --- merging what the captures show with what the dumps say ---------------------------------


def _src(n: int) -> Source:
    return Source(frames=(("cap", n),), note="crafted")


def test_node_nic_arp_is_not_a_pod() -> None:
    loaded = Topology(
        interfaces=[
            Interface(source=Source(file="n1-ip-a.txt", line=7), confidence="loaded", node="n1",
                      namespace="host", name="eth0", kind="underlay", mac="02:00:00:00:00:01",
                      addresses=["192.0.2.1/24"]),
        ]
    )  # fmt: skip
    inferred = Topology()
    pod = Pod(source=_src(1), confidence="inferred-high", ips=["192.0.2.1"],
              mac="02:00:00:00:00:01", host_mac="02:00:00:00:00:02")  # fmt: skip
    pod.netns_key = "inferred:02:00:00:00:00:01"
    nb = Neighbor(source=_src(1), confidence="inferred-high", ip="192.0.2.2",
                  lladdr="02:00:00:00:00:02")  # fmt: skip
    nb.netns_key = pod.netns_key
    inferred.pods.append(pod)
    inferred.neighbors.append(nb)
    t = merge(loaded, inferred)
    assert t.pods == [] and t.neighbors == []
    assert any("not a pod" in n and "n1-ip-a.txt:7" in n for n in t.notes)
    assert t.interface_by_mac("02:00:00:00:00:01").name == "eth0"


def test_unnamed_node_tied_by_the_dumps_is_merged() -> None:
    s = Source(file="n2-ip-a.txt", line=3)
    loaded = Topology(
        nodes=[Node(source=s, confidence="loaded", name="n2")],
        interfaces=[Interface(source=s, confidence="loaded", node="n2", namespace="host",
                              name="ens5", kind="underlay", addresses=["198.51.100.7/24"])],
    )  # fmt: skip
    fact = NodeFact(source=_src(2), confidence="inferred-high", value="198.51.100.7")
    inferred = Topology(nodes=[Node(source=_src(2), confidence="inferred-high", addresses=[fact])])
    t = merge(loaded, inferred)
    assert [n.label for n in t.nodes] == ["n2"]
    assert t.node_by_ip("198.51.100.7").name == "n2"


def test_reference_scenario_probably_the_same() -> None:
    d = CAPTURES / "cilium-dual-stack"
    cap = vxlanlens.read([str(d / "pod-eth0.pcap"), str(d / "worker-eth0.pcap")],
                         topology=str(d / "topology"))  # fmt: skip
    t = cap.topology
    likes = {x.subject: x for x in t.probable}
    unnamed = [n.label for n in t.nodes if not n.name]
    assert len(unnamed) == 1 and likes[unnamed[0]].other == W2
    pods = [p.label for p in t.pods if not p.name]
    assert len(pods) == 1 and likes[pods[0]].other == "cni-8qgcs"
    assert "IPv6" in likes[pods[0]].why
    assert "Probably the same (2)" in t.format_table()
    assert {x["other"] for x in t.to_dict()["probable"]} == {W2, "cni-8qgcs"}


def test_unknowns_carry_topics_and_are_dropped_by_key() -> None:
    from vxlanlens.proto import UnknownTopic
    from vxlanlens.topology import Unknown, infer

    cap = _read("lab-ipv4-ping", False)
    t = infer(cap.packets)
    assert all(isinstance(u, Unknown) for u in t.unknown)
    topics = {u.key: u.topic for u in t.unknown}
    assert topics["pod-names"] == UnknownTopic.POD and topics["node-names"] == UnknownTopic.NODE
    loaded = load_many([str(CAPTURES / "lab-ipv4-ping" / "topology")])
    loaded.unknown.append("something a loader could not tell")  # plain text: kept
    m = merge(loaded, t)
    keys = {getattr(u, "key", "") for u in m.unknown}
    assert "pod-names" not in keys and "node-names" not in keys
    assert "something a loader could not tell" in m.unknown
    assert all(isinstance(x, str) for x in m.to_dict()["unknown"])
    assert {d["topic"] for d in m.to_dict()["unknown_topics"]} <= {str(x) for x in UnknownTopic}


def test_place_on_a_table_without_captures() -> None:
    assert place(pd.DataFrame({"frame_no": []}), Topology()) == []


def test_merge_names_the_node_of_a_capture_placed_without_dumps() -> None:
    from vxlanlens.topology import infer

    cap = _read("lab-ipv4-ping", False)
    inferred = infer(cap.packets)
    assert {c.capture: c.node for c in inferred.captures}["a"] == "node 172.18.0.4"
    m = merge(load_many([str(CAPTURES / "lab-ipv4-ping" / "topology")]), inferred)
    assert {c.capture: c.node for c in m.captures}["a"] == W1


def test_one_eth0_capture_alone_is_not_guessed() -> None:
    d = CAPTURES / "lab-ipv4-ping"
    # the node's own ARP request is on both nodes' wire: it must not decide the side
    cap = vxlanlens.read([f"x={d / 'node-worker2-eth0.pcap'}"])
    (p,) = cap.topology.captures
    assert p.kind == "node" and p.node is None
    assert set(p.candidates) == {"172.18.0.3", "172.18.0.4"} and "cannot be told" in p.how
    exp = cap.explain()
    (point,) = exp.topology["capture_points"]
    assert point["kind"] == "node" and " or " in point["node"]


def test_a_capture_that_cannot_be_placed_is_listed_as_unknown() -> None:
    from vxlanlens.proto import UnknownTopic

    d = CAPTURES / "lab-ipv4-ping"
    cap = vxlanlens.read([f"x={d / 'node-worker2-eth0.pcap'}"])
    (u,) = [u for u in cap.topology.unknown if u.topic == UnknownTopic.PLACEMENT]
    assert u.key == "placement:x" and "where x was taken" in u and "capture_at" in u
    stated = vxlanlens.read([f"x={d / 'node-worker2-eth0.pcap'}"], capture_at={"x": "n2:eth0"})
    assert not [u for u in stated.topology.unknown if getattr(u, "key", "") == "placement:x"]
    assert stated.topology.captures[0].node == "n2"


def test_frames_without_a_capture_label_are_placed_nowhere() -> None:
    """A hand-made table with a missing label: the labelled captures are placed as without
    those frames (a missing label made a KeyError), in order of first frame."""
    cap = _read("lab-ipv4-ping", True)
    pk = cap.packets.reset_index(drop=True)
    want = [(p.capture, p.kind, p.node, p.pod) for p in place(pk, cap.topology)]
    holed = pk.copy()
    holed["capture"] = holed["capture"].astype(object)
    extra = holed.iloc[[0, len(holed) // 2]].copy()
    extra["capture"] = None
    holed = pd.concat([extra.iloc[:1], holed, extra.iloc[1:]], ignore_index=True)
    got = [(p.capture, p.kind, p.node, p.pod) for p in place(holed, cap.topology)]
    assert got == want
