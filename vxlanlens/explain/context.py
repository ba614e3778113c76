"""What the explainer works from, and how it names things: MACs, IPs, pods, nodes, capture points."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

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
    _rows: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.packets
        if len(p):
            keys = zip(p["capture"].astype(str), p["frame_no"].astype(int), strict=True)
            self._rows = {k: i for i, k in enumerate(keys)}
        self.points = {cap: self._classify(str(cap)) for cap in p["capture"].astype(str).unique()}

    # --- rows ------------------------------------------------------------------------------
    def row(self, capture: object, frame: object) -> pd.Series | None:
        """The packets-table row of a frame, or ``None``."""
        if na(capture) or na(frame):
            return None
        i = self._rows.get((str(capture), int(frame)))  # type: ignore[arg-type]
        return None if i is None else self.packets.iloc[i]

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
            ips: Counter[str] = Counter()
            sub = df[tunnelled]
            for col in ("outer_src_ip", "outer_dst_ip"):
                ips.update(sub[col].dropna().astype(str))
            # the capture's own node is on one side of (almost) every tunnelled frame
            node_ip, count = ips.most_common(1)[0] if ips else (None, 0)
            kind = "node" if count >= 0.9 * len(sub) and tunnelled.mean() > 0.5 else "mixed"
            label = self.node_label(node_ip) or (f"node {node_ip}" if node_ip else None)
            return Point(
                capture,
                kind,
                node=label,
                node_ip=node_ip,
                frames=n,
                how=f"{node_ip} is an end of the tunnelled frames",
            )
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

    def covers(self, capture: str, ts: pd.Timestamp) -> bool:
        """Whether a capture was running at time ``ts`` (its first to last frame)."""
        df = self.packets[self.packets["capture"].astype(str) == capture]
        if df.empty:
            return False
        return bool(df["ts"].min() <= ts <= df["ts"].max())
