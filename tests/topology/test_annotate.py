"""Annotation of a packets table with interfaces, pods, nodes and identities."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vxlanlens.topology import ANNOTATION_COLUMNS, annotate, infer, load_many, merge

from .test_infer import LXC_MAC, POD_MAC, table, walkthrough_rows

DATA = Path(__file__).resolve().parent / "data"
NODE = "cilium-dual-stack-worker"


def topo():  # type: ignore[no-untyped-def]
    return load_many(
        [
            f"{NODE}={DATA / 'walkthrough-node-worker.txt'}",
            f"{NODE}/cni-7t9p4={DATA / 'walkthrough-pod-cni-7t9p4.txt'}",
            str(DATA / "cilium-identity-list.txt"),
        ]
    )


def test_annotate_with_loaded_topology() -> None:
    p = table(walkthrough_rows())
    a = annotate(p, merge(topo(), infer(p)))
    assert list(a.columns[-len(ANNOTATION_COLUMNS) :]) == [c.name for c in ANNOTATION_COLUMNS]
    assert all(isinstance(a[c.name].dtype, pd.CategoricalDtype) for c in ANNOTATION_COLUMNS)
    assert len(a) == len(p) and "src_if" not in p.columns  # a copy
    na = a.iloc[1]
    assert (na.src_if, na.dst_if, na.dst_pod, na.src_node) == (
        "lxc237a31216c0f",
        "eth0",
        "cni-7t9p4",
        NODE,
    )
    req = a.iloc[3]
    assert (req.src_pod, req.outer_src_node, req.dst_node) == ("cni-7t9p4", NODE, "node 172.18.0.4")
    assert req.vni_identity.startswith("40172 (k8s:app=cni")
    assert pd.isna(a.iloc[0].dst_if)  # multicast


def test_annotate_inferred_only_and_reserved_identity() -> None:
    rows = walkthrough_rows()
    rows[4]["vni"] = 6
    p = table(rows)
    a = annotate(p, infer(p))
    assert a.iloc[1].src_if == f"lxc {LXC_MAC}"
    assert a.iloc[3].src_pod == "pod fd00:10:244:1::4749"
    assert a.iloc[4].vni_identity == "6 remote-node"
    assert a.iloc[3].outer_dst_node == "node 172.18.0.4"
    assert a.iloc[2].src_if == "eth0" and a.iloc[2].src_mac == POD_MAC
