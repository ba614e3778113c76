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
