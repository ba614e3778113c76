"""Annotating a packets table with the topology: which interface, pod and node each MAC and IP
belongs to, and which identity each VNI names.

:func:`annotate` returns a copy of the table with these added columns (all ``category``,
null where the topology cannot resolve the value):

``src_if``          Interface owning ``src_mac``: its name (``eth0`` for a pod's eth0,
                    ``lxc237a31216c0f``), or ``"<kind> <mac>"`` when only inferred (``lxc a2:79:...``).
``dst_if``          Interface owning ``dst_mac`` (same form; null for broadcast/multicast).
``src_pod``         Pod that sent the pod frame: by ``src_ip``, else by ``src_mac`` (its eth0);
                    ``namespace/name``, ``name``, or ``"pod <ip>"`` when unnamed.
``dst_pod``         Pod the pod frame is addressed to: by ``dst_ip``, else by ``dst_mac``.
``src_node``        Node of the sender: the source pod's node, else the node owning ``src_ip``,
                    else the node of ``src_if``; the node's name or ``"node <underlay ip>"``.
``dst_node``        Node of the receiver (same rules with the destination).
``outer_src_node``  Node owning ``outer_src_ip`` (tunnelled frames only).
``outer_dst_node``  Node owning ``outer_dst_ip`` (tunnelled frames only).
``vni_identity``    The Cilium identity named by ``vni``: ``"40172 (k8s:app=cni, ...)"`` when its
                    labels are known, ``"6 remote-node"`` for reserved ids, else the number.

The work is done once per distinct MAC, IP and VNI (a capture has few) and mapped onto rows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SchemaError
from ..schema import Column
from .model import Interface, Node, Pod, Topology

__all__ = ["ANNOTATION_COLUMNS", "annotate"]

_G = "annotation (topology)"
ANNOTATION_COLUMNS: tuple[Column, ...] = (
    Column(
        "src_if",
        "text",
        "category",
        "Interface owning `src_mac` (name, `eth0` for a pod's eth0, or `<kind> <mac>` when only inferred).",
        _G,
    ),
    Column(
        "dst_if",
        "text",
        "category",
        "Interface owning `dst_mac` (same form; null for broadcast/multicast).",
        _G,
    ),
    Column(
        "src_pod",
        "text",
        "category",
        "Pod that sent the pod frame (by `src_ip`, else by `src_mac`): `ns/name`, or `pod <ip>` when unnamed.",
        _G,
    ),
    Column(
        "dst_pod",
        "text",
        "category",
        "Pod the pod frame is addressed to (by `dst_ip`, else by `dst_mac`).",
        _G,
    ),
    Column(
        "src_node",
        "text",
        "category",
        "Node of the sender (source pod's node, else owner of `src_ip`, else node of `src_if`): name or `node <underlay ip>`.",
        _G,
    ),
    Column(
        "dst_node",
        "text",
        "category",
        "Node of the receiver (same rules with the destination).",
        _G,
    ),
    Column(
        "outer_src_node",
        "text",
        "category",
        "Node owning `outer_src_ip` (tunnelled frames only).",
        _G,
    ),
    Column(
        "outer_dst_node",
        "text",
        "category",
        "Node owning `outer_dst_ip` (tunnelled frames only).",
        _G,
    ),
    Column(
        "vni_identity",
        "text",
        "category",
        "Cilium identity named by `vni`: `40172 (k8s:app=cni, ...)`, `6 remote-node`, or the number.",
        _G,
    ),
)


class _Lookup:
    """A column given per distinct value: ``facts[rows[i]]`` is row ``i``'s (the last fact,
    None, for null rows), so nothing is built per row before the columns are combined."""

    __slots__ = ("facts", "rows")

    def __init__(self, facts: list[Any], rows: np.ndarray) -> None:
        self.facts = facts
        self.rows = rows


def _map(
    series: pd.Series | None, n: int, fn: Callable[[Any], tuple[Any, ...]], width: int
) -> list[_Lookup]:
    """``fn`` applied once per distinct value of ``series``: ``fn`` gives ``width`` values,
    each one column over the rows (None for null)."""
    if series is None:
        return [_Lookup([None], np.zeros(n, dtype=np.int64)) for _ in range(width)]
    cat = series if isinstance(series.dtype, pd.CategoricalDtype) else series.astype("category")
    cats = list(cat.cat.categories)
    facts = [fn(c) for c in cats]
    codes = np.asarray(cat.cat.codes)
    rows = np.where(codes < 0, len(cats), codes)
    return [_Lookup([f[k] for f in facts] + [None], rows) for k in range(width)]


def _null(v: Any) -> bool:
    """``pd.isna`` of a fact (a label or None) without pandas' dispatch per value."""
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


def _first(*columns: _Lookup) -> pd.Categorical:
    """Row by row, the first non-null value of ``columns``, as a categorical (the one
    ``pd.Categorical`` makes of those values), made from codes."""
    labels: dict[Any, int] = {}
    out: np.ndarray | None = None
    for col in columns:
        known = np.array(
            [-1 if _null(v) else labels.setdefault(v, len(labels)) for v in col.facts],
            dtype=np.int64,
        )
        codes = known[col.rows]
        if out is None:
            out = codes
        else:
            holes = out < 0
            out[holes] = codes[holes]
    assert out is not None
    # the labels in use, ascending (what np.unique gives; counting is linear, numpy 2's
    # hash-based unique was a quarter of the stage)
    used = np.flatnonzero(np.bincount(out[out >= 0], minlength=len(labels)))
    names = list(labels)
    proto = _cat(np.array([names[k] for k in used], dtype=object))
    remap = np.full(len(names) + 1, -1, dtype=np.int64)
    remap[used] = proto.codes
    return pd.Categorical.from_codes(remap[out], dtype=proto.dtype)


def _cat(a: np.ndarray) -> pd.Categorical:
    return pd.Categorical(pd.Series(a, dtype=object).where(pd.notna(a), None))


def _copy_on_write() -> bool:
    """Whether pandas copies a shared column before changing it (always from pandas 3)."""
    if int(pd.__version__.split(".", 1)[0]) >= 3:
        return True
    return bool(pd.get_option("mode.copy_on_write"))


def annotate(packets: pd.DataFrame, topology: Topology) -> pd.DataFrame:
    """A copy of ``packets`` with the columns of :data:`ANNOTATION_COLUMNS` added."""
    if not isinstance(packets, pd.DataFrame):
        raise SchemaError(f"expected a pandas DataFrame of packets, found {type(packets).__name__}")
    t = topology.indexed() if isinstance(topology, Topology) else topology
    n = len(packets)

    def col(name: str) -> pd.Series | None:
        return packets[name] if name in packets.columns else None

    def node_label(node: Node | None) -> str | None:
        return node.label if node is not None else None

    @cache  # many pods and rows ask for the same few nodes
    def node_at(ip: str) -> str | None:
        """The label of the node owning ``ip`` (None when no node has it)."""
        return node_label(t.node_by_ip(ip))

    def pod_node(p: Pod | None) -> str | None:
        if p is None:
            return None
        if p.node:
            return p.node
        if p.node_ip:
            return node_at(p.node_ip) or f"node {p.node_ip}"
        return None

    def if_of_mac(mac: Any, p: Pod | None) -> tuple[str | None, str | None]:
        """(interface label, node label) for a MAC; ``p`` is the pod whose eth0 has it."""
        if p is not None:
            return "eth0", pod_node(p)
        i: Interface | None = t.interface_by_mac(str(mac))
        if i is not None:
            node = i.node or (pod_node(t.pod(i.pod)) if i.pod else None)
            return i.label, node
        p = t.pod_by_host_mac(str(mac))
        if p is not None:
            return p.host_interface or f"lxc {p.host_mac}", pod_node(p)
        return None, None

    def pod_of_ip(ip: Any) -> Pod | None:
        return t.pod_by_ip(str(ip))

    @cache  # the same MACs and IPs are on both sides
    def mac_facts(mac: Any) -> tuple[str | None, str | None, str | None, str | None]:
        """(interface label, its node, label of the pod with this eth0 MAC, that pod's node)."""
        p = t.pod_by_mac(str(mac))
        return (*if_of_mac(mac, p), p.label if p else None, pod_node(p))

    @cache
    def ip_facts(ip: Any) -> tuple[str | None, str | None, str | None]:
        """(label of the pod with this IP, that pod's node, the node owning the IP)."""
        p = pod_of_ip(ip)
        return p.label if p else None, pod_node(p), node_at(str(ip))

    # the packets' columns shared, not copied, where pandas copies them before any change
    out = packets.copy(deep=not _copy_on_write())
    cols: dict[str, pd.Categorical] = {}
    for side in ("src", "dst"):
        mac_if, mac_node, mac_pod, mac_pod_node = _map(col(f"{side}_mac"), n, mac_facts, 4)
        ip_pod, ip_pod_node, ip_node = _map(col(f"{side}_ip"), n, ip_facts, 3)
        cols[f"{side}_if"] = _first(mac_if)
        cols[f"{side}_pod"] = _first(ip_pod, mac_pod)
        cols[f"{side}_node"] = _first(ip_pod_node, mac_pod_node, ip_node, mac_node)
    for side in ("src", "dst"):
        (outer,) = _map(col(f"outer_{side}_ip"), n, lambda ip: (ip_facts(ip)[2],), 1)
        cols[f"outer_{side}_node"] = _first(outer)

    def vni_name(v: Any) -> str | None:
        try:
            iv = int(v)
        except (TypeError, ValueError):
            return None
        ident = t.identity(iv)
        return ident.description if ident is not None else str(iv)

    (vni,) = _map(col("vni"), n, lambda v: (vni_name(v),), 1)
    cols["vni_identity"] = _first(vni)
    for c in ANNOTATION_COLUMNS:
        out[c.name] = cols[c.name]
    return out
