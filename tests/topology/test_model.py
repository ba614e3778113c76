"""The model: queries, JSON shape, table rendering."""

from __future__ import annotations

import json
from pathlib import Path

from vxlanlens.topology import RESERVED_IDENTITIES, Topology, load_many

DATA = Path(__file__).resolve().parent / "data"
NODE = "cilium-dual-stack-worker"


def topo() -> Topology:
    return load_many(
        [
            f"{NODE}={DATA / 'walkthrough-node-worker.txt'}",
            f"{NODE}/default/cni-7t9p4={DATA / 'walkthrough-pod-cni-7t9p4.txt'}",
            str(DATA / "ciliumnodes.json"),
        ]
    )


def test_reserved_identities_named_without_dumps() -> None:
    t = Topology()
    assert t.identity(6).description == "6 remote-node"
    assert t.identity(1).description == "1 host"
    assert t.identity(10).labels == ["reserved:world-ipv6"]
    assert t.identity(40172) is None
    assert len(RESERVED_IDENTITIES) == 10


def test_queries() -> None:
    t = topo()
    assert t.pod_by_ip("fd00:10:244:1::4749").ref == "default/cni-7t9p4"
    assert t.pod_by_ip("10.244.1.233/32").name == "cni-7t9p4"
    assert t.pod_by_mac("4E-5B-57-45-63-3B").name == "cni-7t9p4"
    assert t.node_by_ip("172.18.0.3").name == NODE
    assert t.node_by_ip("10.244.1.154").name == NODE
    assert t.node_by_ip("fd00:10:244:1::22f1").name == NODE  # CiliumInternalIP
    assert t.node_by_ip("1.1.1.1") is None and t.node_by_ip("junk") is None
    assert t.node_by_pod_cidr("10.244.2.9").name == "cilium-dual-stack-worker2"
    assert t.interface_by_mac("00:00:00:00:00:00") is None
    assert t.interface_by_mac("not a mac") is None


def test_to_dict_shape() -> None:
    d = json.loads(json.dumps(topo().to_dict()))
    assert {"nodes", "interfaces", "pods", "routes", "neighbors", "identities", "conflicts"} <= set(
        d
    )
    for item in d["interfaces"]:
        assert {
            "node",
            "namespace",
            "name",
            "kind",
            "mac",
            "ifindex",
            "addresses",
            "peer",
            "source",
            "confidence",
        } <= set(item)
    pod = next(p for p in d["pods"] if p["name"] == "cni-7t9p4")
    assert {
        "namespace",
        "name",
        "node",
        "ips",
        "mac",
        "host_interface",
        "source",
        "confidence",
    } <= set(pod)
    assert pod["host_interface"] == "lxc237a31216c0f" and pod["namespace"] == "default"
    assert pod["field_sources"]["host_interface"].endswith("[loaded]")


def test_format_table_shows_every_fact_with_its_source() -> None:
    t = topo()
    text = t.format_table()
    for needle in (
        "lxc237a31216c0f",
        "a2:79:14:47:80:b3",
        "walkthrough-node-worker.txt:36",
        "[loaded]",
        "router STALE",
        "ciliumnodes.json $.items[0]",
        "Nodes (2)",
    ):
        assert needle in text, needle
    assert Topology().format_table() == "(empty topology)\n"


def test_docs_example_topology_file_loads(tmp_path: Path) -> None:
    from vxlanlens.topology import load

    doc = (Path(__file__).resolve().parents[2] / "docs" / "topology.md").read_text()
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    block = block.split("dumps:", 1)[0]
    t = load(block)
    assert t.pod("default/cni-8qgcs").host_mac == "9e:2f:0c:71:d4:a8"
    assert t.router_ips("cilium-dual-stack-worker2") == ["10.244.2.71", "fd00:10:244:2::a3c5"]


# --- one index: the model's look-ups and its index give the same answers -------------------


def _crafted() -> Topology:
    from vxlanlens.topology import Interface, Node, NodeFact, Pod, Source

    s = Source(file="crafted.txt", line=1)
    t = Topology()
    t.nodes.append(
        Node(
            source=s,
            confidence="loaded",
            name="n1",
            addresses=[NodeFact(source=s, confidence="loaded", value="192.0.2.1")],
        )
    )
    for name, mac, kind in (
        ("cilium_vxlan", "00:00:00:00:00:00", "cilium_vxlan"),
        ("lo", "00:00:00:00:00:00", "lo"),
        ("weird", "ff:ff:ff:ff:ff:ff", "other"),
        ("mcast", "01:00:5e:00:00:01", "other"),
        ("eth0", "02:00:00:00:00:01", "underlay"),
    ):
        t.interfaces.append(
            Interface(source=s, confidence="loaded", node="n1", namespace="host", name=name,
                      kind=kind, mac=mac, addresses=["192.0.2.1/24"] if name == "eth0" else [])
        )  # fmt: skip
    t.pods.append(
        Pod(source=s, confidence="loaded", namespace="ns", name="p", node="n1",
            ips=["10.0.0.5"], mac="33:33:00:00:00:01", host_mac="00:00:00:00:00:00")
    )  # fmt: skip
    return t


def test_model_and_index_agree_on_group_and_zero_macs() -> None:
    t = _crafted()
    idx = t.index
    for mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "33:33:00:00:00:01"):
        assert t.interfaces_by_mac(mac) == [] == idx.interfaces_by_mac(mac), mac
        assert t.interface_by_mac(mac) is None and idx.interface_by_mac(mac) is None
        assert t.pod_by_mac(mac) is None and idx.pod_by_mac(mac) is None
        assert t.pod_by_host_mac(mac) is None and idx.pod_by_host_mac(mac) is None
    assert t.interface_by_mac("02-00-00-00-00-01").name == "eth0"
    assert idx.interface_by_mac("02:00:00:00:00:01") is t.interface_by_mac("02:00:00:00:00:01")
    assert t.node_by_ip("192.0.2.1") is idx.node_by_ip("192.0.2.1") is t.node("n1")
    assert t.interfaces_with_address("192.0.2.1").matches[0].name == "eth0"
    assert t.interfaces_with_address("192.0.2.1").checked == 5
    assert t.pod("ns/p") is t.pod("p", "ns") is t.pod_by_ip("10.0.0.5")
    assert t.pod("other/p") is None


def test_index_is_built_once_and_rebuilt_on_change() -> None:
    from vxlanlens.topology import Pod, Source

    t = _crafted()
    first = t.index
    assert t.index is first and t.indexed() is first  # built once
    t.pods.append(Pod(source=Source(file="x"), confidence="loaded", name="q", ips=["10.0.0.6"]))
    assert t.index is not first  # a fact was added: rebuilt
    assert t.pod_by_ip("10.0.0.6").name == "q"
    t.pods[-1].ips.append("10.0.0.7")  # changed in place: seen after invalidate()
    t.invalidate()
    assert t.pod_by_ip("10.0.0.7").name == "q"
    import copy

    c = copy.deepcopy(t)
    assert c._index is None and c.pod_by_ip("10.0.0.7") is c.pods[-1]


def test_conflicts_summary_one_line_with_count() -> None:
    from vxlanlens.topology import Conflict, Source

    t = Topology()
    assert t.conflicts_summary() == ""
    a, b = Source(file="a.txt", line=3), Source(frames=(("cap", 7),), note="SLL2")
    t.conflicts += [
        Conflict("interface eth0 on n1", "ifindex", [(8, a, "loaded"), (4, b, "inferred-high")],
                 "kept the loaded value over the inferred one"),
        Conflict("pod ns/p", "mac", [("02:00:00:00:00:01", a, "loaded"),
                                     ("02:00:00:00:00:02", Source(file="b.txt", line=9), "loaded")],
                 "kept the first loaded value; the dumps disagree"),
    ]  # fmt: skip
    line = t.conflicts_summary()
    assert "\n" not in line and line.startswith("2 topology conflicts:")
    assert "interface eth0 on n1 ifindex" in line and "pod ns/p mac" in line
    full = str(t.conflicts[1])
    assert "a.txt:3" in full and "b.txt:9" in full and "02:00:00:00:00:02" in full
    assert "a.txt:3" in t.format_table() and "cap#7" in t.format_table()


def test_conflict_subject_of_pods_named_and_unnamed() -> None:
    """A conflict names a pod once: ``pod ns/name``, or an unnamed pod's own label
    (``pod 10.0.0.5``), never ``pod pod ...``."""
    from vxlanlens.topology import Source, merge
    from vxlanlens.topology.facts import Pod

    def one(name: str, host_mac: str) -> Topology:
        pod = Pod(name=name, namespace="ns" if name else "", ips=["10.0.0.5"],
                  mac="02:00:00:00:00:01", host_mac=host_mac, source=Source(note=host_mac),
                  confidence="inferred-high")  # fmt: skip
        return Topology(pods=[pod])

    for name, subject in (("", "pod 10.0.0.5"), ("p", "pod ns/p")):
        merged = merge(one(name, "02:00:00:00:00:0a"), one(name, "02:00:00:00:00:0b"))
        assert [(c.subject, c.field) for c in merged.conflicts] == [(subject, "host_mac")]
