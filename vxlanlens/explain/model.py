"""Plain data objects of an explanation: evidence, hops, packet paths, findings.

Every fact a renderer shows is a typed field (devices, addresses, tunnel, VNI, echo id and
sequence, status): renderers format these fields and never parse the prose of ``place``,
``note`` or ``summary``, which are for people. Rendering lives in :mod:`vxlanlens.report`;
:meth:`Explanation.to_text` and its siblings import it when called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..proto import ExchangeStatus, HopKind, Severity

__all__ = [
    "SCHEMA_VERSION",
    "SEVERITIES",
    "TUNNEL_KINDS",
    "UNDERLAY_HOST",
    "Evidence",
    "Explanation",
    "Finding",
    "Hop",
    "PacketPath",
]

UNDERLAY_HOST = "underlay host"
"""How a hop's place starts for a host of the underlay that is no known node and no pod (a
router answering or asking ARP on the nodes' link): ``underlay host 172.18.0.1``."""

SCHEMA_VERSION = 1
"""Version of the JSON document produced by :meth:`Explanation.to_dict` (fields are only
added within a version)."""

SEVERITIES = Severity.values()
"""Finding severities, most severe first (``problem``, ``warning``, ``info``)."""

TUNNEL_KINDS = ("vxlan", "geneve", "vxlan-gpe")
"""Values of :attr:`Hop.tunnel` and :attr:`PacketPath.tunnel`: the ``tunnel`` column's."""


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
    severity: Severity
    """How bad it is; a plain string (``"problem"``) is accepted and converted."""
    statement: str
    evidence: list[Evidence] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    """Machine-readable facts behind the statement (addresses, counts, flags)."""

    def __post_init__(self) -> None:
        try:
            self.severity = Severity(self.severity)
        except ValueError:
            raise ValueError(
                f"severity must be one of {SEVERITIES}, got {self.severity!r}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the finding."""
        return {
            "id": self.id,
            "severity": self.severity.value,
            "statement": self.statement,
            "evidence": [e.to_dict() for e in self.evidence],
            "details": self.details,
        }


def _tunnel(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).lower()
    if text not in TUNNEL_KINDS:
        raise ValueError(f"tunnel must be one of {TUNNEL_KINDS} or None, got {value!r}")
    return text


@dataclass
class Hop:
    """One step of a packet's path: an interface or a function it passed through.

    ``place`` and ``note`` are sentences for people; the other fields are the facts behind them
    (what a renderer draws or a script reads).
    """

    place: str
    """Human name of the place: ``cni-7t9p4 eth0``, ``lxc237a31216c0f on worker``, ..."""
    kind: HopKind
    """What kind of place (:class:`~vxlanlens.proto.HopKind`: pod-eth0, lxc, ebpf, tunnel,
    underlay, network, gateway); a plain string is accepted and converted."""
    observed: bool
    """True only when a capture saw the packet at this place (the frames are in
    ``evidence``); False when the hop is inferred."""
    node: str | None = None
    pod: str | None = None
    mac: str | None = None
    note: str = ""
    """What was seen or why the hop is inferred (one sentence)."""
    evidence: list[Evidence] = field(default_factory=list)
    """Frames that saw the packet at this place (never frames of another capture point)."""
    device: str | None = None
    """The interface of the hop: ``eth0`` (a pod's or a node's), the lxc veth's name, or for an
    eBPF hop between a veth and the tunnel the tunnel device it hands the frame to or takes it
    from (``cilium_vxlan``, ``cilium_geneve``); None when no dump or capture names it."""
    ip: str | None = None
    """The address of the place: the pod's address at a pod's eth0, the node's underlay
    address at a node's eth0."""
    tunnel: str | None = None
    """``vxlan``, ``geneve`` or ``vxlan-gpe`` on hops where the packet is in (or enters or
    leaves) a tunnel, as seen in the captures; None elsewhere."""
    vni: int | None = None
    """The tunnel's VNI at this hop (Cilium: the sender's security identity)."""
    outer_src_ip: str | None = None
    outer_dst_ip: str | None = None
    outer_src_port: int | None = None
    outer_dst_port: int | None = None
    """The underlay (outer) header of a tunnelled hop."""

    def __post_init__(self) -> None:
        self.kind = HopKind(self.kind)
        self.tunnel = _tunnel(self.tunnel)

    @property
    def seen(self) -> bool:
        """Alias of :attr:`observed`."""
        return self.observed

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the hop."""
        return {
            "place": self.place,
            "kind": self.kind.value,
            "observed": self.observed,
            "node": self.node,
            "pod": self.pod,
            "mac": self.mac,
            "note": self.note,
            "evidence": [e.to_dict() for e in self.evidence],
            "device": self.device,
            "ip": self.ip,
            "tunnel": self.tunnel,
            "vni": self.vni,
            "outer_src_ip": self.outer_src_ip,
            "outer_dst_ip": self.outer_dst_ip,
            "outer_src_port": self.outer_src_port,
            "outer_dst_port": self.outer_dst_port,
        }


@dataclass
class PacketPath:
    """The path of one exchange (request and answer), with the findings that concern it.

    ``summary`` is a sentence for people; the fields below it are the facts renderers use.
    """

    kind: str
    """``echo``, ``nd``, ``arp``, ``tcp`` or ``icmp-error`` (:class:`~vxlanlens.proto.ExchangeKind`)."""
    summary: str
    hops: list[Hop] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    reply_hops: list[Hop] = field(default_factory=list)
    """The path of the answer, when there is one."""
    key: str | None = None
    """The exchange's key (the ``key`` column of the exchanges table)."""
    status: ExchangeStatus | None = None
    """``answered``, ``unanswered``, ... (answered when any observation was answered)."""
    src_ip: str | None = None
    """The requester's address."""
    dst_ip: str | None = None
    """Where the request went: the echo's or connection's destination, the address an ARP or
    Neighbor Solicitation asks for."""
    target: str | None = None
    """The exchanges table's ``target``: the address asked for (ARP, NS) or reached (echo, TCP)."""
    echo_id: int | None = None
    echo_seq: int | None = None
    dst_port: int | None = None
    """TCP destination port of a handshake."""
    nd_flags: str | None = None
    """Flags of a Neighbor Advertisement answer (``R,S``)."""
    responder_mac: str | None = None
    """The MAC that answered an ARP request or Neighbor Solicitation."""
    tunnel: str | None = None
    """``vxlan``, ``geneve`` or ``vxlan-gpe`` when the request or answer was seen tunnelled."""
    vni: int | None = None
    """VNI of the request when seen tunnelled."""
    reply_vni: int | None = None
    """VNI of the answer when seen tunnelled."""
    last_seen: str | None = None
    """When the request was not answered and the path stops short of its destination: the
    place it was last seen (the path ends there instead of guessing further)."""
    icmp_error: str | None = None
    """The ICMP error that answered the request instead of its reply, in words (``ICMP
    destination unreachable (port unreachable, code 3)``); its path is ``reply_hops`` when it
    was sent between two nodes' underlay addresses."""
    icmp_error_from: str | None = None
    """The address that sent :attr:`icmp_error`."""
    answer: str | None = None
    """What the reply was, as the exchanges table's ``answer`` column says it: ``syn-ack`` or
    ``rst`` for a TCP handshake, ``echo-reply``, ``na``, ``is-at``, or the ICMP error's name;
    None when nothing answered."""

    def __post_init__(self) -> None:
        if self.status is not None:
            self.status = ExchangeStatus(self.status)
        self.tunnel = _tunnel(self.tunnel)

    @property
    def unanswered(self) -> bool:
        """True when the request was never answered."""
        return self.status == ExchangeStatus.UNANSWERED

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the path."""
        return {
            "kind": self.kind,
            "summary": self.summary,
            "hops": [h.to_dict() for h in self.hops],
            "reply_hops": [h.to_dict() for h in self.reply_hops],
            "findings": [f.to_dict() for f in self.findings],
            "key": self.key,
            "status": None if self.status is None else self.status.value,
            "src_ip": self.src_ip,
            "dst_ip": self.dst_ip,
            "target": self.target,
            "echo_id": self.echo_id,
            "echo_seq": self.echo_seq,
            "dst_port": self.dst_port,
            "nd_flags": self.nd_flags,
            "responder_mac": self.responder_mac,
            "tunnel": self.tunnel,
            "vni": self.vni,
            "reply_vni": self.reply_vni,
            "last_seen": self.last_seen,
            "icmp_error": self.icmp_error,
            "icmp_error_from": self.icmp_error_from,
            "answer": self.answer,
        }


def __getattr__(name: str) -> Any:
    """``Path``: the old name of :class:`PacketPath` (deprecated: it shadows ``pathlib.Path``)."""
    if name == "Path":
        import warnings

        warnings.warn(
            "vxlanlens.explain.model.Path is deprecated: use PacketPath",
            DeprecationWarning,
            stacklevel=2,
        )
        return PacketPath
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Explanation:
    """Everything ``explain`` concluded from the captures (and topology, if any).

    Renders itself: :meth:`to_text`, :meth:`to_markdown`, :meth:`to_html`, :meth:`to_json`, and
    in a notebook through ``_repr_html_`` / ``_repr_markdown_``.
    """

    captures: list[dict[str, Any]]
    """One entry per capture: label, path, format, frames, size."""
    topology: dict[str, Any]
    """Summary of the topology used: sources, counts, what was inferred and what is unknown."""
    paths: list[PacketPath] = field(default_factory=list)
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

    def to_text(self) -> str:
        """The explanation as plain text for a terminal (``vxlanlens explain``)."""
        from ..report.text import explanation_text

        return explanation_text(self)

    def to_markdown(self, meta: dict[str, Any] | None = None) -> str:
        """The explanation as Markdown for a ticket; ``meta`` as for
        :func:`vxlanlens.report.markdown.explanation_markdown` (command, version, files)."""
        from ..report.markdown import explanation_markdown

        return explanation_markdown(self, meta)

    def to_html(self, meta: dict[str, Any] | None = None, packets: Any = None) -> str:
        """The explanation as one self-contained HTML document (ladders drawn with matplotlib);
        ``packets`` (the packets table) adds the table of the frames cited as evidence."""
        from ..report.html import explanation_html

        return explanation_html(self, packets=packets, meta=meta)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The versioned JSON document of :meth:`to_dict` (``vxlanlens explain --format json``)."""
        return json.dumps(self.to_dict(), indent=indent, default=str) + "\n"

    def _repr_html_(self) -> str:
        from ..report.html import explanation_html_fragment

        return explanation_html_fragment(self)

    def _repr_markdown_(self) -> str:
        from ..report.markdown import explanation_markdown

        return explanation_markdown(self)

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
