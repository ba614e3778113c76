"""Capture points as the explainer sees them, and who sent a frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..topology import CapturePoint
from .model import Evidence

__all__ = ["Endpoint", "Point"]


class Endpoint(NamedTuple):
    """Who sent a frame, as :meth:`Context.requester` names it."""

    label: str
    """``default/cni-7t9p4 eth0``, ``kind-worker/eth0``, ``node 172.18.0.4's underlay NIC``."""
    kind: str
    """Hop kind: ``pod-eth0``, ``underlay`` (a node's NIC), ``node`` (another host interface) or
    ``host`` (a host of an input that shows no overlay)."""
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
