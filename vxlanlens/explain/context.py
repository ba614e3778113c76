"""What the explainer works from, and how it names things: MACs, IPs, pods, nodes, capture points."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..topology import CapturePoint, Topology, place
from .model import Evidence

__all__ = [
    "Context",
    "Endpoint",
    "Point",
    "Row",
    "ev",
    "first_row",
    "groups",
    "na",
    "records",
    "vals",
]

BROADCAST = "ff:ff:ff:ff:ff:ff"


def na(value: object) -> bool:
    """True for pandas/NumPy nulls and None."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def vals(value: object) -> object | None:
    """``value`` with nulls as ``None`` and NumPy/pandas scalars as plain Python."""
    if na(value):
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def ev(capture: object, frame: object) -> Evidence | None:
    """Evidence for a frame, or ``None`` when either part is missing."""
    if na(capture) or na(frame):
        return None
    return Evidence(capture=str(capture), frame_no=int(frame))  # type: ignore[arg-type]


def records(df: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ``df`` as dicts of ``columns``, holding the values ``df.iterrows()`` gives
    (nulls included), without building a Series per row."""
    cols = list(columns)
    if df.empty:
        return []
    return [dict(zip(cols, v, strict=True)) for v in df[cols].to_numpy(dtype=object)]


def groups(df: pd.DataFrame, keys: tuple[str, ...]) -> dict[tuple, list[int]]:
    """Row positions of every distinct value of ``keys`` (nulls left out): the groups of
    ``df.groupby(list(keys), observed=True, sort=False)``, in its order, without making a
    DataFrame per group (``df.iloc[positions]`` is the group's)."""
    values = [df[k].tolist() for k in keys]
    nulls = np.logical_or.reduce([df[k].isna().to_numpy() for k in keys])
    out: dict[tuple, list[int]] = {}
    for pos, key in enumerate(zip(*values, strict=True)):
        if not nulls[pos]:
            out.setdefault(key, []).append(pos)
    return out


def _as_text(series: pd.Series) -> pd.Series:
    """``series.astype(str)``; for a categorical, its categories are converted (not every row)."""
    if not isinstance(series.dtype, pd.CategoricalDtype) or series.cat.categories.empty:
        return series.astype(str)
    names = series.cat.categories.astype(str)
    text = names.take(series.cat.codes.to_numpy(), allow_fill=True, fill_value=np.nan)
    return pd.Series(text.array, index=series.index, name=series.name)


def _runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal values in ``ids``: where each run starts and ends, and each item's run."""
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(first)
    return starts, np.append(starts[1:], len(ids)), np.cumsum(first) - 1


def _getter(values: Any) -> Callable[[int], Any]:
    """``values[i]`` for a position ``i`` of a column's array: the same value and type (nulls
    included) as pandas gives, with the per-call checks of pandas done once per column."""
    if isinstance(values, pd.Categorical):
        cats = values.categories
        if cats.dtype == object or isinstance(cats.dtype, pd.StringDtype):
            boxed = cats.tolist()  # the same objects as cats[k] (text)
        else:
            boxed = [cats[k] for k in range(len(cats))]  # NumPy scalars, as pandas gives them
        boxed.append(np.nan)  # code -1 (null) is the last
        codes = values.codes
        return lambda i: boxed[codes[i]]
    if isinstance(
        values, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)
    ):
        kind = values.dtype.numpy_dtype
        data = values.to_numpy(kind, na_value=kind.type(0))
        mask = values.isna()
        null = values.dtype.na_value
        return lambda i: null if mask[i] else data[i]
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        return values.to_numpy().__getitem__
    return values.__getitem__


class _Columns:
    """Getters of a DataFrame's column values by position, made once per column when first
    asked for: ``prepared`` ones (for many look-ups) read the column's arrays directly, the
    others go through ``Series.iloc`` (nothing to prepare, for a look-up or two)."""

    def __init__(self, df: pd.DataFrame, *, prepared: bool = True) -> None:
        self._df = df
        self._prepared = prepared
        self.names = list(df.columns)
        self._getters: dict[str, Callable[[int], Any]] = {}

    def getter(self, column: str) -> Callable[[int], Any]:
        """The getter of ``column`` (``KeyError`` when the table has no such column)."""
        g = self._getters.get(column)
        if g is None:
            series = self._df[column]
            g = _getter(series.array) if self._prepared else series.iloc.__getitem__
            self._getters[column] = g
        return g


class Row(Mapping[str, Any]):
    """One row of a table (the packets table, see :meth:`Context.row`), read column by column
    when asked: ``row[column]`` is what ``table.iloc[position][column]`` gives (same value and
    type, nulls included), without building a Series of every column."""

    __slots__ = ("_columns", "position")

    def __init__(self, columns: _Columns, position: int) -> None:
        self._columns = columns
        self.position = position
        """Position of the row in its table."""

    def __getitem__(self, column: str) -> Any:
        return self._columns.getter(column)(self.position)

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns.names)

    def __len__(self) -> int:
        return len(self._columns.names)


def first_row(df: pd.DataFrame) -> Row:
    """``df.iloc[0]``, read column by column when asked (the same values), for a table of which
    a few columns of the first row are read."""
    return Row(_Columns(df, prepared=False), 0)


class Endpoint(NamedTuple):
    """Who sent a frame, as :meth:`Context.requester` names it."""

    label: str
    """``default/cni-7t9p4 eth0``, ``kind-worker/eth0``, ``node 172.18.0.4's underlay NIC``."""
    kind: str
    """Hop kind: ``pod-eth0``, ``underlay`` (a node's NIC) or ``node`` (another host interface)."""
    node: str | None
    """Node label, when known."""
    pod: str | None
    """Pod label, for a pod."""


@dataclass
class Point:
    """A capture point: which capture, and where it was taken as far as we can tell (decided by
    :func:`vxlanlens.topology.place`, read from ``Topology.captures``)."""

    capture: str
    kind: str
    """``pod`` (a pod's eth0 or its lxc peer: both see the same frames), ``node`` (a node's
    interface: its underlay NIC, or all of them with ``-i any``), ``mixed`` or ``unknown``."""
    node: str | None = None
    """Node label (name, or ``node <ip>``)."""
    node_ip: str | None = None
    pod: str | None = None
    """Pod label."""
    frames: int = 0
    how: str = ""
    """How the place was recognised, in words."""
    candidates: tuple[str, ...] = ()
    """Underlay IPs the capture could have been taken at, when it cannot be told which."""
    confidence: str = ""
    """``loaded`` (stated by the user), ``inferred-high`` or ``inferred-low``."""
    evidence: tuple[Evidence, ...] = ()
    """Frames that placed the capture."""
    interface: str | None = None
    """``any`` for ``tcpdump -i any``, an interface name when known, else ``None``."""
    interfaces: dict[int, str] = field(default_factory=dict)
    """``-i any``: SLL2 interface index → ``node/interface``."""
    stated: bool = False
    """The user said where the capture was taken."""

    @classmethod
    def of(cls, cp: CapturePoint, frames: int, topology: Any = None) -> Point:
        """The point of a placed :class:`~vxlanlens.topology.CapturePoint` (a node capture
        whose node cannot be told gets ``node`` = ``"<candidate> or <candidate>"``, labels from
        ``topology`` when given)."""
        evidence = tuple(Evidence(capture=c, frame_no=int(n)) for c, n in cp.source.frames)
        node = cp.node
        if node is None and cp.kind == "node" and cp.candidates:
            found = [
                topology.node_by_ip(ip) if topology is not None else None for ip in cp.candidates
            ]
            node = " or ".join(
                n.label if n is not None else f"node {ip}"
                for n, ip in zip(found, cp.candidates, strict=True)
            )
        kind = cp.kind or "unknown"
        if kind == "node" and node is None:
            kind = "unknown"  # a node capture, but which node cannot be told
        return cls(
            capture=cp.capture,
            kind=kind,
            node=node,
            node_ip=cp.node_ip,
            pod=cp.pod,
            frames=frames,
            how=cp.how,
            candidates=tuple(cp.candidates),
            confidence=cp.confidence,
            evidence=evidence,
            interface=cp.interface,
            interfaces=dict(cp.interfaces),
            stated=cp.stated,
        )

    @property
    def label(self) -> str:
        """Where, in words: ``underlay of kind-worker``, ``every interface of kind-worker
        (-i any)``, ``default/cni-7t9p4 eth0``, or ``""`` when unknown."""
        if self.kind == "pod":
            return f"{self.pod} eth0"
        if self.kind == "node":
            where = self.node or "a node"
            if self.interface == "any":
                return f"every interface of {where} (-i any)"
            if self.interface:
                return f"{self.interface} of {where}"
            return f"underlay of {where}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``capture``, ``kind``, ``node``, ``node_ip``, ``pod``, ``frames``, ``how``,
        ``candidates``, ``confidence``, ``evidence`` (``capture#frame``), ``interface``,
        ``interfaces`` (SLL2 index as text → ``node/interface``), ``stated``."""
        return {
            "capture": self.capture,
            "kind": self.kind,
            "node": self.node,
            "node_ip": self.node_ip,
            "pod": self.pod,
            "frames": self.frames,
            "how": self.how,
            "candidates": list(self.candidates),
            "confidence": self.confidence,
            "evidence": [str(e) for e in self.evidence],
            "interface": self.interface,
            "interfaces": {str(k): v for k, v in sorted(self.interfaces.items())},
            "stated": self.stated,
        }


@dataclass
class Context:
    """The packets (annotated), the topology and the exchanges an explanation is built from."""

    packets: pd.DataFrame
    topology: Topology
    exchanges: pd.DataFrame
    journeys: pd.DataFrame
    loaded: bool
    """Whether any topology dump was given (facts not only inferred from the captures)."""
    points: dict[str, Point] = field(default_factory=dict)
    underlay_ips: set[str] = field(default_factory=set)
    """Addresses of the nodes' underlay (outer addresses of tunnelled frames)."""
    _cilium: list[str] | None = None
    _journey_pos: dict[tuple[str, int], int] | None = None
    _journey_obs: list[tuple[str, int]] = field(default_factory=list)
    _journey_start: list[int] = field(default_factory=list)
    _journey_end: list[int] = field(default_factory=list)
    _rows: dict[tuple[str, int], int] = field(default_factory=dict)
    _columns: _Columns | None = None
    _capture_of_row: pd.Series | None = None
    _spans: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]] = field(default_factory=dict)
    _texts: dict[str, pd.Series] = field(default_factory=dict)
    _flows: dict[tuple[str, str], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.topology, Topology):
            self.topology = self.topology.indexed()  # thousands of look-ups follow
        p = self.packets
        self._columns = _Columns(p)
        self._capture_of_row = self.text("capture")
        if len(p):
            keys = zip(
                self._capture_of_row.tolist(), p["frame_no"].astype(int).tolist(), strict=True
            )
            # a frame listed twice is found at its last row
            self._rows = dict(zip(keys, range(len(p)), strict=True))
        self.underlay_ips = {
            str(x) for col in ("outer_src_ip", "outer_dst_ip") for x in p[col].dropna().unique()
        }
        self.points = self._place()

    # --- rows ------------------------------------------------------------------------------
    def text(self, column: str) -> pd.Series:
        """``packets[column].astype(str)``, made once per column (for comparisons with text)."""
        hit = self._texts.get(column)
        if hit is None:
            hit = self._texts[column] = _as_text(self.packets[column])
        return hit

    def untunnelled(self, src_ip: object, dst_ip: object) -> np.ndarray:
        """Positions (in table order) of the frames outside tunnels whose source and destination
        addresses, as text, are those of ``src_ip`` and ``dst_ip``."""
        if self._flows is None:
            plain = np.flatnonzero(self.packets["tunnel"].isna().to_numpy())
            ends = pd.DataFrame(
                {c: self.text(c).iloc[plain].to_numpy() for c in ("src_ip", "dst_ip")}
            )
            by_ends = ends.groupby(["src_ip", "dst_ip"], sort=False).indices
            self._flows = {(str(s), str(d)): plain[at] for (s, d), at in by_ends.items()}
        hit = self._flows.get((str(src_ip), str(dst_ip)))
        return hit if hit is not None else np.zeros(0, dtype=np.int64)

    def row_at(self, position: int) -> Row:
        """The packets-table row at ``position`` (read column by column when asked)."""
        assert self._columns is not None
        return Row(self._columns, position)

    def row(self, capture: object, frame: object) -> Row | None:
        """The packets-table row of a frame (read column by column when asked), or ``None``."""
        if na(capture) or na(frame):
            return None
        i = self._rows.get((str(capture), int(frame)))  # type: ignore[call-overload]
        return None if i is None else self.row_at(i)

    def values_at(self, captures: pd.Series, frames: pd.Series, column: str) -> np.ndarray:
        """``column`` of the packets at many ``(capture, frame)`` pairs (None where there is none)."""
        values = self.packets[column].astype(object).to_numpy()
        known = (captures.notna() & frames.notna()).tolist()
        at = np.array(
            [
                self._rows.get((str(c), int(f)), -1) if ok else -1
                for c, f, ok in zip(captures.tolist(), frames.tolist(), known, strict=True)
            ],
            dtype=np.int64,
        )
        if not len(values):
            return np.full(len(at), None, dtype=object)
        out = values[at]
        out[(at < 0) | pd.isna(out)] = None
        return out

    # --- journeys --------------------------------------------------------------------------
    def journey_frames(self, capture: object, frame: object) -> list[tuple[str, int]]:
        """Every observation ``(capture, frame_no)`` of the packet seen at this frame, in
        journey order (just this frame when it belongs to no journey)."""
        if na(capture) or na(frame):
            return []
        if self._journey_pos is None:
            self._index_journeys()
            assert self._journey_pos is not None
        key = (str(capture), int(frame))  # type: ignore[call-overload]
        at = self._journey_pos.get(key)
        if at is None:
            return [key]
        return self._journey_obs[self._journey_start[at] : self._journey_end[at]]

    def _index_journeys(self) -> None:
        """List the observations of the journeys of more than one observation in journey order,
        with where each one's journey starts and ends in that list, and each frame's place in it.

        A frame in no journey or alone in its journey is its own journey (a frame in several
        journeys belongs to the last, so a one-observation journey is listed if its frame is
        in another one too)."""
        self._journey_pos = {}
        j = self.journeys
        if j.empty:
            return
        order = j.sort_values(["journey", "obs"], kind="stable")
        jids = order["journey"].to_numpy(dtype=np.int64)
        starts, ends, run = _runs(jids)
        keep = ((ends - starts)[run] > 1) | order.duplicated(["capture", "frame_no"], keep=False)
        keep = np.asarray(keep, dtype=bool)
        if not keep.any():
            return
        order, jids = order[keep], jids[keep]
        self._journey_obs = list(
            zip(
                _as_text(order["capture"]).tolist(),
                order["frame_no"].to_numpy(dtype=np.int64).tolist(),
                strict=True,
            )
        )
        self._journey_pos = dict(zip(self._journey_obs, range(len(jids)), strict=True))
        starts, ends, run = _runs(jids)
        self._journey_start = starts[run].tolist()
        self._journey_end = ends[run].tolist()

    # --- names -----------------------------------------------------------------------------
    def mac_name(self, mac: object) -> str | None:
        """What a MAC is: ``lxc237a31216c0f`` / ``cni-7t9p4 eth0`` / ``broadcast``, or None."""
        if na(mac):
            return None
        m = str(mac)
        if m == BROADCAST:
            return "broadcast"
        if m.startswith("33:33:"):
            return "IPv6 multicast"
        if int(m[:2], 16) & 1:
            return "multicast"
        pod = self.topology.pod_by_mac(m)
        iface = self.topology.interface_by_mac(m)
        if pod is not None and not (
            pod.confidence != "loaded"
            and iface is not None
            and iface.confidence == "loaded"
            and iface.namespace == "host"
        ):
            return f"{pod.label} eth0"
        pod = self.topology.pod_by_host_mac(m)
        if pod is not None:
            if pod.host_interface:
                return f"{pod.host_interface}, host-side veth of {pod.label}"
            if not self.cilium_likely:
                return f"the MAC that answers {pod.label}'s gateway"
            return f"host-side lxc veth of {pod.label}"
        if iface is not None:
            where = f" on {iface.node}" if iface.node else ""
            suffix = "" if iface.confidence == "loaded" else " (inferred)"
            return f"{iface.label}{where}{suffix}"
        return None

    def mac_text(self, mac: object) -> str:
        """``aa:..:ff (what it is)`` or just the MAC."""
        if na(mac):
            return "?"
        name = self.mac_name(mac)
        return f"{mac} ({name})" if name else str(mac)

    def pod_label(self, ip: object = None, mac: object = None) -> str | None:
        """The label of the pod with this IP (or eth0 MAC), if known."""
        pod = None
        if not na(ip):
            pod = self.topology.pod_by_ip(str(ip))
        if pod is None and not na(mac):
            pod = self.topology.pod_by_mac(str(mac))
        return pod.label if pod is not None else None

    def pod_of(self, ip: object = None, mac: object = None):
        """The pod with this IP (or eth0 MAC), if known."""
        pod = None
        if not na(ip):
            pod = self.topology.pod_by_ip(str(ip))
        if pod is None and not na(mac):
            pod = self.topology.pod_by_mac(str(mac))
        return pod

    def requester(self, ip: object = None, mac: object = None) -> Endpoint:
        """Who sent a frame (an ARP request, an NS) from ``ip`` / ``mac``: a pod's eth0 (by IP,
        else by eth0 MAC), else a node's NIC (the MAC of a host interface in the dumps, or the
        node's underlay address), else an unknown pod's eth0 (``pod <mac> eth0``). A node
        resolving a neighbour on the underlay is never named a pod."""
        pod = self.pod_of(ip=ip)
        m = None if na(mac) else str(mac)
        iface = self.topology.interface_by_mac(m) if m else None
        nic = (
            iface
            if iface is not None
            and iface.confidence == "loaded"
            and iface.namespace == "host"
            and iface.node
            else None
        )
        if pod is None and nic is None and m:
            pod = self.topology.pod_by_mac(m)
        if pod is not None:
            return Endpoint(f"{pod.label} eth0", "pod-eth0", pod.node, pod.label)
        if nic is not None:
            kind = "underlay" if nic.kind == "underlay" else "node"
            return Endpoint(f"{nic.node}/{nic.label}", kind, nic.node, None)
        node = self.topology.node_by_ip(str(ip)) if not na(ip) else None
        if node is not None and not na(ip) and str(ip) in node.all_ips():
            return Endpoint(f"{node.label}'s underlay NIC", "underlay", node.label, None)
        return Endpoint(f"pod {m or ip} eth0", "pod-eth0", None, None)

    def node_label(self, ip: object) -> str | None:
        """The label of the node with this underlay (or router) IP, if known."""
        if na(ip):
            return None
        node = self.topology.node_by_ip(str(ip))
        return node.label if node is not None else None

    def node_of_pod_ip(self, ip: object) -> str | None:
        """The node a pod address lives on: from its pod, else from the node's pod CIDRs."""
        if na(ip):
            return None
        pod = self.topology.pod_by_ip(str(ip))
        if pod is not None and pod.node:
            return pod.node
        node = self.topology.node_by_pod_cidr(str(ip))
        return node.label if node is not None else None

    def ip_text(self, ip: object) -> str:
        """``fd00::1 (pod x)`` or the address."""
        if na(ip):
            return "?"
        who = self.pod_label(ip=ip) or self.node_label(ip)
        return f"{ip} ({who})" if who else str(ip)

    # --- capture points ----------------------------------------------------------------------
    def _place(self) -> dict[str, Point]:
        """The capture points, as placed in ``topology.captures``; captures the topology has not
        placed are placed here by the same function (:func:`vxlanlens.topology.place`)."""
        caps = [str(c) for c in self._capture_of_row.unique()]
        counts = self._capture_of_row.value_counts().to_dict()
        placed = {c.capture: c for c in self.topology.captures if c.decided}
        if any(c not in placed for c in caps):
            for cp in place(self.packets, self.topology):
                placed.setdefault(cp.capture, cp)
        return {
            c: Point.of(placed[c], int(counts.get(c, 0)), self.topology)
            for c in caps
            if c in placed
        }

    def point_text(self, capture: str) -> str:
        """``pod-eth0 (cni-7t9p4 eth0)`` / ``worker-eth0 (underlay of worker, 172.18.0.3)``."""
        p = self.points.get(capture)
        if p is None or not p.label:
            return capture
        if p.kind == "node" and p.node:
            ip = f", {p.node_ip}" if p.node_ip and p.node_ip not in p.node else ""
            if p.interface == "any":
                return f"{capture} (every interface of {p.node}{ip}, -i any)"
            if p.interface:
                return f"{capture} ({p.interface} of {p.node}{ip})"
            return f"{capture} (underlay of {p.node}{ip})"
        return f"{capture} ({p.label})"

    def points_of(
        self, kind: str, *, pod: str | None = None, node: str | None = None
    ) -> list[Point]:
        """Capture points of a kind, at a pod or node."""
        return [
            p
            for p in self.points.values()
            if p.kind == kind and (pod is None or p.pod == pod) and (node is None or p.node == node)
        ]

    def interface_at(self, row: Mapping[str, Any]) -> str | None:
        """The interface a frame was captured on, when the capture says: ``node/interface`` for
        an SLL2 ifindex found in the node's dumps (``ifindex N`` otherwise), the pcapng name."""
        point = self.points.get(str(row["capture"]))
        if not na(row["ifindex"]):
            name = point.interfaces.get(int(row["ifindex"])) if point is not None else None
            return name or f"ifindex {int(row['ifindex'])}"
        if not na(row["interface"]) and str(row["interface"]) not in ("", "if0"):
            return str(row["interface"])
        return None

    @property
    def cilium_signals(self) -> list[str]:
        """What in the input says it comes from Cilium (empty when nothing does)."""
        if self._cilium is not None:
            return self._cilium
        out: list[str] = []
        kinds = {i.kind for i in self.topology.interfaces if i.confidence == "loaded"}
        named = sorted(kinds & {"cilium_host", "cilium_net", "cilium_vxlan", "cilium_geneve"})
        if named:
            out.append(f"the dumps show {', '.join(named)}")
        if any(i.confidence == "loaded" and i.labels for i in self.topology.identities):
            out.append("the dumps list Cilium identities")
        ex = self.exchanges
        if not ex.empty and "nd_flags" in ex:
            na_rs = ex[(ex["kind"] == "nd") & (ex["nd_flags"].astype(str) == "RS")]
            if not na_rs.empty:
                out.append(
                    "a pod's gateway was answered with the R and S flags but not O, as Cilium's eBPF answers"
                )
        if not ex.empty and {"vni_request", "vni_reply"} <= set(ex.columns):
            both = ex[ex["vni_request"].notna() & ex["vni_reply"].notna()]
            if not both.empty and (both["vni_request"] != both["vni_reply"]).any():
                out.append(
                    "requests and replies carry different VNIs, as Cilium's per-sender identities do"
                )
        self._cilium = out
        return out

    @property
    def cilium_likely(self) -> bool:
        """Whether the input shows signs of Cilium's datapath (see :attr:`cilium_signals`)."""
        return bool(self.cilium_signals)

    def span(self, capture: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """Time of a capture's first and last frame (``None`` when it has none)."""
        if capture not in self._spans:
            ts = self.packets.loc[self._capture_of_row == capture, "ts"]
            self._spans[capture] = (None, None) if ts.empty else (ts.min(), ts.max())
        return self._spans[capture]
