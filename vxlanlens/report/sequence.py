"""The sequence of an explanation as lanes and arrows, shared by the ladder plot and the Mermaid
diagram: lanes are interfaces (pod eth0, lxc veth, tunnel device, node eth0) grouped by node and
pod; arrows are the packet's moves between them, in the order of the paths' hops.

Pure Python (no matplotlib): :func:`sequence` turns an :class:`~vxlanlens.explain.Explanation`
into a :class:`Sequence` that renderers draw.
"""

from __future__ import annotations

import re
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field, replace

from ..explain.model import Explanation, Hop, Path

__all__ = ["Arrow", "Lane", "Mark", "Sequence", "message_labels", "sequence"]

_TUNNEL_DEV = re.compile(
    r"\b(cilium_vxlan|cilium_geneve|[\w.-]*vxlan[\w.-]*|[\w.-]*geneve[\w.-]*)\b"
)
_VNI = re.compile(r"\b(VXLAN-GPE|VXLAN|GENEVE|Geneve)\s+VNI\s+(\d+)", re.IGNORECASE)
_IP_IN_PARENS = re.compile(r"\(([0-9a-fA-F:.]+)\)\s*$")


@dataclass(frozen=True)
class Lane:
    """One vertical line of the diagram: an interface (or a place) on a node."""

    key: tuple[str, ...]
    name: str
    """Short interface name: ``eth0``, ``lxc237a31216c0f``, ``cilium_vxlan``."""
    kind: str
    """pod-eth0, lxc, tunnel, underlay or other."""
    node: str | None
    pod: str | None
    observed: bool
    """True when some capture saw a packet here."""

    @property
    def title(self) -> str:
        """Name with its pod (``cni-7t9p4 eth0``) or as is for host interfaces."""
        if self.kind == "pod-eth0" and self.pod:
            return f"{self.pod} {self.name}"
        return self.name

    @property
    def group(self) -> str:
        """The node the lane belongs to, or ``?`` when unknown."""
        return self.node or "?"


@dataclass(frozen=True)
class Arrow:
    """A packet moving from one lane to another (``dst is None``: it went nowhere seen)."""

    src: int
    dst: int | None
    label: str
    path: int
    """Index of the path in ``Explanation.paths``."""
    reply: bool
    observed: bool
    """True when the packet was seen at both ends of the move."""
    src_seen: bool
    dst_seen: bool
    tunnelled: bool
    evidence: str = ""
    """Where the packet was seen at the arrow's end (``capture#frame``), if anywhere."""


@dataclass(frozen=True)
class Mark:
    """A note at a lane after an arrow: ``no answer`` or ``last seen here``."""

    lane: int
    after: int
    """Index of the arrow this mark follows."""
    text: str
    kind: str
    """``unanswered`` or ``last-seen``."""


@dataclass
class Sequence:
    """Lanes (left to right, grouped by node) and arrows (top to bottom, in time order)."""

    lanes: list[Lane] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    paths: list[int] = field(default_factory=list)
    """Indices of the paths drawn."""

    def groups(self) -> list[tuple[str, list[int]]]:
        """(node, lane indices) in lane order; lanes of one node are contiguous."""
        out: list[tuple[str, list[int]]] = []
        for i, lane in enumerate(self.lanes):
            if out and out[-1][0] == lane.group:
                out[-1][1].append(i)
            else:
                out.append((lane.group, [i]))
        return out


def _short_if(place: str, kind: str) -> str:
    """The interface part of a hop's place name."""
    text = place
    if kind == "underlay":
        m = re.match(r"^(.*?)\s+(\S+)(?:\s+\(([^)]*)\))?$", text)
        if m:
            dev, ip = m.group(2), m.group(3)
            return f"{dev} {ip}" if ip else dev
        return text
    for sep in (", ", " on "):
        if sep in text:
            text = text.split(sep, 1)[0]
    if kind == "pod-eth0":
        return text.rsplit(" ", 1)[-1] if " " in text else text
    return text


def _lane_key(hop: Hop) -> tuple[str, ...] | None:
    """Lanes are shared by hops at the same interface; ``None`` for hops that are no interface."""
    if hop.kind == "network":
        return None
    if hop.kind == "ebpf":
        m = _TUNNEL_DEV.search(hop.place)
        if m is None:
            return None
        return ("tunnel", hop.node or "?", m.group(1))
    if hop.kind in ("pod-eth0", "lxc"):
        if hop.pod or hop.node:
            return (hop.kind, hop.node or "?", hop.pod or "?")
        return (hop.kind, hop.place)
    if hop.kind == "underlay":
        return ("underlay", hop.node or hop.place)
    return ("other", hop.place)


def _lane_name(hops: list[Hop], key: tuple[str, ...]) -> str:
    """The most specific interface name the hops of a lane give."""
    kind = key[0]
    if kind == "tunnel":
        return key[2]
    names = [_short_if(h.place, h.kind) for h in hops]
    if kind == "lxc":
        specific = [n for n in names if not n.startswith("lxc veth")]
        if specific:
            return specific[0]
        macs = [h.mac for h in hops if h.mac]
        return f"lxc veth {macs[0]}" if macs else (names[0] if names else "lxc veth")
    if kind == "underlay":
        with_ip = [n for n in names if " " in n]
        return with_ip[0] if with_ip else names[0]
    return names[0] if names else key[-1]


def message_labels(path: Path) -> tuple[str, str]:
    """(request, reply) words for a path's packets: ``NS who-has X`` / ``NA X [R,S]``,
    ``echo req id 44 seq 0`` / ``echo reply id 44 seq 0``, ..."""
    key = path.summary.split(": ", 1)[0]
    notes = " ".join(h.note for h in path.reply_hops)
    if path.kind in ("nd", "arp"):
        m = re.search(r"who-has (\S+)", key)
        target = m.group(1) if m else "?"
        if path.kind == "nd":
            f = re.search(r"flags ([A-Z,]+)", notes)
            flags = f" [{f.group(1)}]" if f else ""
            return f"NS who-has {target}", f"NA {target}{flags}"
        mac = next((h.mac for h in path.reply_hops if h.mac), None)
        return f"ARP who-has {target}", f"ARP reply {target} is-at {mac}" if mac else (
            f"ARP reply {target}"
        )
    if path.kind == "echo":
        m = re.search(r"id (\d+) seq (\d+)", key)
        ids = f" id {m.group(1)} seq {m.group(2)}" if m else ""
        return f"echo req{ids}", f"echo reply{ids}"
    if path.kind == "tcp":
        m = re.search(r":(\d+)\s+\w*$", key) or re.search(r":(\d+)", key.split(">")[-1])
        port = f" to :{m.group(1)}" if m else ""
        return f"TCP SYN{port}", "SYN-ACK or RST"
    if path.kind == "icmp-error":
        return "packet", "ICMP error"
    return path.kind, "reply"


def _tunnel_label(hops: list[Hop]) -> str:
    for h in hops:
        m = _VNI.search(h.note)
        if m:
            proto = m.group(1).upper().replace("GENEVE", "Geneve")
            return f"{proto} VNI {m.group(2)}"
    return "tunnel"


def _unanswered(path: Path) -> bool:
    if path.reply_hops:
        return False
    status = path.summary.rsplit(": ", 1)[-1]
    return "unanswered" in status or any(f.id.endswith("-unanswered") for f in path.findings)


def sequence(exp: Explanation, path_index: int | Seq[int] | None = None) -> Sequence:
    """Lanes and arrows of one path (``path_index``), of several, or of all paths (``None``).

    A request with no hop after the sender and no reply (an NS nobody answered) becomes an
    arrow with ``dst=None`` followed by a ``no answer`` mark.
    """
    n = len(exp.paths)
    if path_index is None:
        indices = list(range(n))
    elif isinstance(path_index, int):
        if not -n <= path_index < n:
            raise IndexError(
                f"path_index {path_index} out of range: the explanation has {n} path(s)"
            )
        indices = [path_index % n]
    else:
        indices = list(path_index)

    # lanes: collect hops per key in order of appearance
    order: list[tuple[str, ...]] = []
    hops_of: dict[tuple[str, ...], list[Hop]] = {}
    for i in indices:
        p = exp.paths[i]
        for h in (*p.hops, *p.reply_hops):
            k = _lane_key(h)
            if k is None:
                continue
            if k not in hops_of:
                order.append(k)
                hops_of[k] = []
            hops_of[k].append(h)
    # group by node, nodes in order of first appearance, lanes in order within a node
    node_order: list[str] = []
    for k in order:
        node = hops_of[k][0].node or "?"
        if node not in node_order:
            node_order.append(node)
    order.sort(key=lambda k: node_order.index(hops_of[k][0].node or "?"))
    lanes = [
        Lane(
            key=k,
            name=_lane_name(hops_of[k], k),
            kind=k[0],
            node=hops_of[k][0].node,
            pod=next((h.pod for h in hops_of[k] if h.pod), None)
            if k[0] in ("pod-eth0", "lxc")
            else None,
            observed=any(h.observed for h in hops_of[k]),
        )
        for k in order
    ]
    index = {k: i for i, k in enumerate(order)}

    seq = Sequence(lanes=lanes, paths=indices)
    for i in indices:
        p = exp.paths[i]
        req_label, rep_label = message_labels(p)
        req = list(p.hops)
        if p.reply_hops and req and p.reply_hops[0].place != req[-1].place:
            # the request reached whatever answered it; seen there as much as where it was sent
            req.append(
                replace(p.reply_hops[0], observed=req[-1].observed, evidence=req[-1].evidence)
            )
        _chain(seq, index, req, req_label, i, reply=False)
        if p.reply_hops:
            _chain(seq, index, list(p.reply_hops), rep_label, i, reply=True)
        elif _unanswered(p):
            lanes_req = [index[k] for k in (_lane_key(h) for h in req) if k is not None]
            if not lanes_req:
                continue
            if len(lanes_req) == 1:
                seq.arrows.append(
                    Arrow(
                        lanes_req[0], None, req_label, i, False, False,
                        req[0].observed, False, False, _ev(req[0]),
                    )
                )  # fmt: skip
            seen = [h for h in req if h.observed and _lane_key(h) is not None]
            after = len(seq.arrows) - 1
            if seen and len(lanes_req) > 1:
                last = _lane_key(seen[-1])
                if last is not None and index[last] != lanes_req[-1]:
                    seq.marks.append(Mark(index[last], after, "last seen here", "last-seen"))
            if len(lanes_req) > 1:
                seq.marks.append(Mark(lanes_req[-1], after, "no answer", "unanswered"))
    return seq


def _ev(h: Hop) -> str:
    return str(h.evidence[0]) if h.evidence else ""


def _chain(
    seq: Sequence,
    index: dict[tuple[str, ...], int],
    hops: list[Hop],
    label: str,
    path: int,
    *,
    reply: bool,
) -> None:
    """Arrows between consecutive interface hops; moves between tunnel devices and node eth0s
    (and across the underlay) are tunnelled and carry the VNI label."""
    tun = _tunnel_label(hops)
    prev: Hop | None = None
    crossed = False
    for h in hops:
        if h.kind == "network":
            crossed = True
            continue
        k = _lane_key(h)
        if k is None:
            continue
        if prev is not None:
            pk = _lane_key(prev)
            assert pk is not None
            if index[pk] != index[k]:
                kinds = (pk[0], k[0])
                if crossed or kinds == ("underlay", "underlay"):
                    tunnelled, text = True, tun
                elif kinds == ("tunnel", "underlay"):
                    tunnelled, text = True, "encap"
                elif kinds == ("underlay", "tunnel"):
                    tunnelled, text = True, "decap"
                else:
                    tunnelled, text = False, label
                seq.arrows.append(
                    Arrow(
                        src=index[pk],
                        dst=index[k],
                        label=text,
                        path=path,
                        reply=reply,
                        observed=prev.observed and h.observed,
                        src_seen=prev.observed,
                        dst_seen=h.observed,
                        tunnelled=tunnelled,
                        evidence=_ev(h),
                    )
                )
        prev = h
        crossed = False
