"""Plain data objects of an explanation: evidence, hops, paths, findings. Rendering lives elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RENDERERS",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "Evidence",
    "Explanation",
    "Finding",
    "Hop",
    "Path",
]

SCHEMA_VERSION = 1
"""Version of the JSON document produced by :meth:`Explanation.to_dict`."""

SEVERITIES = ("problem", "warning", "info")
"""Finding severities, most severe first."""

RENDERERS: dict[str, Callable[[Explanation], str]] = {}
"""Notebook faces (``"html"``, ``"markdown"``), registered by :mod:`vxlanlens.report` so that
this module never imports the layer that renders it."""


@dataclass(frozen=True, order=True)
class Evidence:
    """A frame of a capture, or a place in a topology dump, that supports a statement."""

    capture: str | None = None
    frame_no: int | None = None
    source: str | None = None
    """A topology source (``file:line``) when the evidence is not a frame."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"capture", "frame_no"}`` or ``{"source"}``."""
        if self.source is not None:
            return {"source": self.source}
        return {"capture": self.capture, "frame_no": self.frame_no}

    def __str__(self) -> str:
        return self.source if self.source is not None else f"{self.capture}#{self.frame_no}"


@dataclass
class Finding:
    """A stated conclusion with a stable id, a severity and the evidence behind it."""

    id: str
    severity: str
    statement: str
    evidence: list[Evidence] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    """Machine-readable facts behind the statement (addresses, counts, flags)."""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the finding."""
        return {
            "id": self.id,
            "severity": self.severity,
            "statement": self.statement,
            "evidence": [e.to_dict() for e in self.evidence],
            "details": self.details,
        }


@dataclass
class Hop:
    """One step of a packet's path: an interface or a function it passed through."""

    place: str
    """Human name of the place: ``pod cni-7t9p4 eth0``, ``lxc237a31216c0f``, ``eBPF on lxc...``."""
    kind: str
    """pod-eth0, lxc, ebpf, tunnel, underlay, node-eth0, ... (interface kinds of the topology)."""
    observed: bool
    """True when a capture saw the packet here; False when the hop is inferred."""
    node: str | None = None
    pod: str | None = None
    mac: str | None = None
    note: str = ""
    """What was seen or why the hop is inferred (one sentence)."""
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the hop."""
        return {
            "place": self.place,
            "kind": self.kind,
            "observed": self.observed,
            "node": self.node,
            "pod": self.pod,
            "mac": self.mac,
            "note": self.note,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass
class Path:
    """The path of one exchange or journey, with the findings that concern it."""

    kind: str
    """``echo``, ``nd``, ``arp``, ``tcp`` or ``icmp-error``."""
    summary: str
    hops: list[Hop] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    reply_hops: list[Hop] = field(default_factory=list)
    """The path of the answer, when there is one."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the path."""
        return {
            "kind": self.kind,
            "summary": self.summary,
            "hops": [h.to_dict() for h in self.hops],
            "reply_hops": [h.to_dict() for h in self.reply_hops],
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class Explanation:
    """Everything ``explain`` concluded from the captures (and topology, if any)."""

    captures: list[dict[str, Any]]
    """One entry per capture: label, path, format, frames, size."""
    topology: dict[str, Any]
    """Summary of the topology used: sources, counts, what was inferred and what is unknown."""
    paths: list[Path] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    """Every finding (path findings included), most severe first."""
    unknowns: list[str] = field(default_factory=list)
    """What could not be known from the input, in plain words."""
    counts: dict[str, int] = field(default_factory=dict)

    def by_severity(self) -> dict[str, int]:
        """Number of findings per severity."""
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def finding_ids(self) -> list[str]:
        """The ids of all findings, in order."""
        return [f.id for f in self.findings]

    def _repr_html_(self) -> str | None:
        render = RENDERERS.get("html")
        return render(self) if render is not None else None

    def _repr_markdown_(self) -> str | None:
        render = RENDERERS.get("markdown")
        return render(self) if render is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON document of ``vxlanlens explain --format json``."""
        return {
            "schema_version": SCHEMA_VERSION,
            "captures": self.captures,
            "topology": self.topology,
            "counts": self.counts,
            "findings_by_severity": self.by_severity(),
            "paths": [p.to_dict() for p in self.paths],
            "findings": [f.to_dict() for f in self.findings],
            "unknowns": self.unknowns,
        }
