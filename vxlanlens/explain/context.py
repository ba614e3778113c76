"""What the explainer works from, and how it names things: MACs, IPs, pods, nodes, capture points."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..topology import Topology
from .model import Evidence

__all__ = ["Context", "Point", "ev", "na", "vals"]

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


@dataclass
class Point:
    """A capture point: which capture, and where it was taken as far as we can tell."""

    capture: str
    kind: str
    """``pod`` (a pod's eth0 or its lxc peer: both see the same frames), ``node`` (a node's
    underlay interface: tunnelled frames), ``mixed`` or ``unknown``."""
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
    _journey_of: dict[tuple[str, int], int] | None = None
    _row_cache: dict[tuple[str, int], pd.Series] = field(default_factory=dict)
    _journey_obs: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    _rows: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.topology, Topology):
            self.topology = self.topology.indexed()  # thousands of look-ups follow
        p = self.packets
        if len(p):
            keys = zip(p["capture"].astype(str), p["frame_no"].astype(int), strict=True)
            self._rows = {k: i for i, k in enumerate(keys)}
        self.underlay_ips = {
            str(x) for col in ("outer_src_ip", "outer_dst_ip") for x in p[col].dropna().unique()
        }
        self.points = {cap: self._classify(str(cap)) for cap in p["capture"].astype(str).unique()}

    # --- rows ------------------------------------------------------------------------------
    def row(self, capture: object, frame: object) -> pd.Series | None:
        """The packets-table row of a frame, or ``None``."""
        if na(capture) or na(frame):
            return None
        key = (str(capture), int(frame))  # type: ignore[call-overload]
        hit = self._row_cache.get(key)
        if hit is None:
            i = self._rows.get(key)
            if i is None:
                return None
            hit = self._row_cache[key] = self.packets.iloc[i]
        return hit

    def values_at(self, captures: pd.Series, frames: pd.Series, column: str) -> np.ndarray:
        """``column`` of the packets at many ``(capture, frame)`` pairs (None where there is none)."""
        values = self.packets[column].astype(object).to_numpy()
        idx = [
            self._rows.get((str(c), int(f)), -1) if not (na(c) or na(f)) else -1
            for c, f in zip(captures.tolist(), frames.tolist(), strict=True)
        ]
        out = np.empty(len(idx), dtype=object)
        for k, i in enumerate(idx):
            v = values[i] if i >= 0 else None
            out[k] = None if na(v) else v
        return out

    # --- journeys --------------------------------------------------------------------------
    def journey_frames(self, capture: object, frame: object) -> list[tuple[str, int]]:
        """Every observation ``(capture, frame_no)`` of the packet seen at this frame, in
        journey order (just this frame when it belongs to no journey)."""
        if na(capture) or na(frame):
            return []
        if self._journey_of is None:
            self._journey_of, self._journey_obs = {}, {}
            j = self.journeys
            if not j.empty:
                order = j.sort_values(["journey", "obs"], kind="stable")
                for jid, c, f in zip(order["journey"].tolist(), order["capture"].astype(str).tolist(),
                                     order["frame_no"].tolist(), strict=True):  # fmt: skip
                    self._journey_of[(c, int(f))] = int(jid)
                    self._journey_obs.setdefault(int(jid), []).append((c, int(f)))
        key = (str(capture), int(frame))  # type: ignore[call-overload]
        jid = self._journey_of.get(key)
        return list(self._journey_obs[jid]) if jid is not None else [key]

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
        if pod is not None:
            return f"{pod.label} eth0"
        pod = self.topology.pod_by_host_mac(m)
        if pod is not None:
            if pod.host_interface:
                return f"{pod.host_interface}, host-side veth of {pod.label}"
            if not self.cilium_likely:
                return f"the MAC that answers {pod.label}'s gateway"
            return f"host-side lxc veth of {pod.label}"
        iface = self.topology.interface_by_mac(m)
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
    def _classify(self, capture: str) -> Point:
        df = self.packets[self.packets["capture"].astype(str) == capture]
        n = len(df)
        for cp in self.topology.captures:
            if cp.capture == capture and (cp.node or cp.pod):
                kind = "pod" if cp.pod else "node"
                node_ip = None
                return Point(
                    capture,
                    kind,
                    node=cp.node,
                    node_ip=node_ip,
                    pod=cp.pod,
                    frames=n,
                    how=str(cp.source),
                )
        tunnelled = df["tunnel"].notna()
        if tunnelled.any():
            return self._classify_node(capture, df, tunnelled)
        macs: Counter[str] = Counter()
        for col in ("src_mac", "dst_mac"):
            for mac in df[col].dropna().astype(str):
                if self.topology.pod_by_mac(mac) is not None:
                    macs[mac] += 1
        if macs:
            mac = macs.most_common(1)[0][0]
            pod = self.topology.pod_by_mac(mac)
            assert pod is not None
            return Point(
                capture,
                "pod",
                node=pod.node,
                pod=pod.label,
                frames=n,
                how=f"frames to and from {mac}, the pod's eth0 MAC",
            )
        return Point(capture, "unknown", frames=n, how="no tunnelled frame and no known pod MAC")

    _GENERIC = frozenset(
        "eth0 eth1 ens3 ens4 ens5 node nodes pod any capture cap pcap pcapng tcpdump if lo underlay host dump trace out in".split()
    )

    def _classify_node(self, capture: str, df: pd.DataFrame, tunnelled: pd.Series) -> Point:
        """A capture with tunnelled frames: the node whose address is an end of every one of them."""
        sub = df[tunnelled]
        n = len(df)
        ends: Counter[str] = Counter()
        for a, b in zip(
            sub["outer_src_ip"].astype(str), sub["outer_dst_ip"].astype(str), strict=True
        ):
            ends.update({a, b})
        always = sorted(ip for ip, k in ends.items() if k == len(sub))
        if len(always) == 1:
            ip = always[0]
            label = self.node_label(ip) or f"node {ip}"
            return Point(
                capture,
                "node",
                node=label,
                node_ip=ip,
                frames=n,
                how=f"{ip} is an end of every tunnelled frame",
            )
        if len(always) == 2:
            ip = self._guess_by_name(capture, always) or self._guess_by_arp(df, always)
            if ip is not None:
                label = self.node_label(ip) or f"node {ip}"
                return Point(
                    capture, "node", node=label, node_ip=ip, frames=n, candidates=tuple(always),
                    how=f"both {always[0]} and {always[1]} are ends of every tunnelled frame; {ip} guessed from the capture's name or its own ARP/NS",
                )  # fmt: skip
            names = " or ".join(self.node_label(ip) or ip for ip in always)
            return Point(
                capture, "node", node=names, frames=n, candidates=tuple(always),
                how=f"both {always[0]} and {always[1]} are ends of every tunnelled frame, so which node it was taken on cannot be told",
            )  # fmt: skip
        return Point(
            capture, "mixed", frames=n, how="tunnelled frames between several pairs of nodes"
        )

    def _guess_by_name(self, capture: str, ips: list[str]) -> str | None:
        """The one candidate node whose name shares a distinctive word with the capture's label."""
        words = {
            w for w in re.split(r"[^a-z0-9]+", capture.lower()) if w and w not in self._GENERIC
        }
        hits = []
        for ip in ips:
            node = self.topology.node_by_ip(ip)
            if node is None or not node.name:
                continue
            if words & set(re.split(r"[^a-z0-9]+", node.name.lower())):
                hits.append(ip)
        return hits[0] if len(hits) == 1 else None

    def _guess_by_arp(self, df: pd.DataFrame, ips: list[str]) -> str | None:
        """The candidate that resolves the other one on the underlay (its own ARP request / NS)."""
        plain = df[df["tunnel"].isna()]
        askers = set(plain.loc[plain["arp_op"] == 1, "arp_sender_ip"].dropna().astype(str))
        askers |= set(plain.loc[plain["icmp_type"] == 135, "src_ip"].dropna().astype(str))
        hits = [ip for ip in ips if ip in askers]
        return hits[0] if len(hits) == 1 else None

    def point_text(self, capture: str) -> str:
        """``pod-eth0 (cni-7t9p4 eth0)`` / ``worker-eth0 (underlay of worker, 172.18.0.3)``."""
        p = self.points.get(capture)
        if p is None:
            return capture
        if p.kind == "pod":
            return f"{capture} ({p.pod} eth0)"
        if p.kind == "node":
            ip = f", {p.node_ip}" if p.node_ip and p.node_ip not in (p.node or "") else ""
            return f"{capture} (underlay of {p.node}{ip})"
        return capture

    def points_of(
        self, kind: str, *, pod: str | None = None, node: str | None = None
    ) -> list[Point]:
        """Capture points of a kind, at a pod or node."""
        return [
            p
            for p in self.points.values()
            if p.kind == kind and (pod is None or p.pod == pod) and (node is None or p.node == node)
        ]

    def interface_at(self, row: pd.Series) -> str | None:
        """The interface a frame was captured on, when the capture says (pcapng name, SLL2 ifindex)."""
        point = self.points.get(str(row["capture"]))
        if not na(row["ifindex"]) and point is not None and point.node:
            for iface in self.topology.interfaces:
                if (
                    iface.ifindex == int(row["ifindex"])
                    and iface.node == point.node
                    and iface.namespace in (None, "host")
                ):
                    return f"{iface.label} on {point.node}"
            return f"ifindex {int(row['ifindex'])}"
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
        df = self.packets[self.packets["capture"].astype(str) == capture]
        if df.empty:
            return None, None
        return df["ts"].min(), df["ts"].max()
