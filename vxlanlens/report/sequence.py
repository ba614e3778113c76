"""The sequence of an explanation as lanes and arrows, shared by the ladder plot and the Mermaid
diagram: lanes are interfaces (pod eth0, lxc veth, tunnel device, node eth0) grouped by node and
pod; arrows are the packet's moves between them, in the order of the paths' hops.

Pure Python (no matplotlib): :func:`sequence` turns an :class:`~vxlanlens.explain.Explanation`
into a :class:`Sequence` that renderers draw.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import dataclass, field, replace

from ..explain.model import UNDERLAY_HOST, Explanation, Hop, PacketPath
from ..proto import TCP_ANSWER_WORDS, HopKind, Severity

__all__ = ["Arrow", "Lane", "Mark", "Sequence", "message_labels", "sequence"]

_TUNNEL_NAMES = {"vxlan": "VXLAN", "geneve": "Geneve", "vxlan-gpe": "VXLAN-GPE"}


@dataclass(frozen=True)
class Lane:
    """One vertical line of the diagram: an interface (or a place) on a node."""

    key: tuple[str, ...]
    name: str
    """Short interface name: ``eth0``, ``lxc237a31216c0f``, ``cilium_vxlan``."""
    kind: str
    """pod-eth0, lxc, tunnel, underlay, host (of an input that shows no overlay) or other."""
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

    outside: bool = False
    """True for a host of the underlay that is no node (a router): grouped apart."""

    @property
    def group(self) -> str:
        """The node the lane belongs to, ``underlay, not a node`` for a host of the underlay that is
        none, ``hosts`` for the hosts of an input that shows no overlay, or ``node not known``
        (the captures do not say)."""
        if self.outside:
            return "underlay, not a node"
        if self.kind == "host":
            return "hosts"
        return self.node or "node not known"


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
    between: str = ""
    """Where the packet was seen on the underlay network between the two ends (a capture that
    cannot be told which node's it is: ``capture#frame``), if anywhere."""
    unsure: bool = False
    """For a request that went nowhere seen (``dst is None``): not answered in the captures,
    but they cannot show that no answer came (it came as capturing stopped, or a capture that
    saw it dropped packets: its finding is a warning, not a problem)."""
    outcome: str = "no answer"
    """What became of a request that went nowhere seen (``dst is None``), drawn at its end:
    ``no answer``, ``no answer in the captures`` (:attr:`unsure`), or the ICMP error that
    answered it instead (``packet too big from fd42::1``)."""


@dataclass(frozen=True)
class Mark:
    """A note at a lane after an arrow: ``no answer`` or ``last seen here``."""

    lane: int
    after: int
    """Index of the arrow this mark follows."""
    text: str
    kind: str
    """``unanswered``, ``unsure`` (not answered in the captures, which cannot show that no
    answer came: :attr:`Arrow.unsure`) or ``last-seen``."""


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


def _lane_key(hop: Hop) -> tuple[str, ...] | None:
    """Lanes are shared by hops at the same interface; ``None`` for hops that are no interface
    (the underlay network, an eBPF program that hands the frame to no tunnel device)."""
    if hop.kind == HopKind.NETWORK:
        return None
    if hop.kind == HopKind.EBPF or hop.kind == HopKind.TUNNEL:
        if hop.device is None and hop.tunnel is None:
            return None
        return ("tunnel", hop.node or "?", hop.device or "tunnel device")
    if hop.kind in (HopKind.POD_ETH0, HopKind.LXC):
        if hop.pod or hop.node:
            return (hop.kind.value, hop.node or "?", hop.pod or "?")
        return (hop.kind.value, hop.place)
    if hop.kind == HopKind.UNDERLAY:
        return ("underlay", hop.node or hop.place)
    if hop.kind == HopKind.HOST:
        return ("host", hop.place)
    return ("other", hop.place)


def _host_veth(exp: Explanation) -> str:
    """What the explanation's overlay calls a pod's host-side veth no dump names (``lxc veth``
    for Cilium and when none is recognised, ``cali veth`` for Calico, ...)."""
    from ..overlays import CILIUM_PROFILE, profile

    overlay = exp.topology.get("overlay") or {}
    if overlay.get("host_veth"):
        return str(overlay["host_veth"])  # the word the paths use
    name = overlay.get("name")
    try:
        return (profile(name) if name else CILIUM_PROFILE).datapath.host_veth
    except ValueError:
        return CILIUM_PROFILE.datapath.host_veth


def _lane_name(hops: list[Hop], key: tuple[str, ...], veth: str = "lxc veth") -> str:
    """The most specific interface name the hops of a lane give (``veth``: what an unnamed
    host-side veth is called)."""
    kind = key[0]
    if kind == "tunnel":
        return key[2]
    devices = [h.device for h in hops if h.device]
    if kind == "pod-eth0":
        return devices[0] if devices else "eth0"
    if kind == "lxc":
        if devices:
            return devices[0]
        macs = [h.mac for h in hops if h.mac]
        return f"{veth} {macs[0]}" if macs else veth
    if kind == "host":
        return key[1].removeprefix("host ")  # its address (or MAC)
    if kind == "underlay" and hops and hops[0].place.startswith(UNDERLAY_HOST):
        return hops[0].place.removeprefix(UNDERLAY_HOST).strip()  # its address
    if kind == "underlay":
        dev = devices[0] if devices else "eth0"
        ip = next((h.ip for h in hops if h.ip), None)
        node = hops[0].node or ""
        return f"{dev} {ip}" if ip and ip not in node else dev
    if devices:
        return devices[0]
    if not hops:
        return key[-1]
    # an unnamed bridge or gateway device: its place without the node its lane is boxed in
    boxed_in = hops[0].node
    place = hops[0].place
    return (
        place.removesuffix(f" on {boxed_in}") if boxed_in and place != f" on {boxed_in}" else place
    )


def message_labels(path: PacketPath) -> tuple[str, str]:
    """(request, reply) words for a path's packets: ``NS who-has X`` / ``NA X [R,S]``,
    ``echo req id 44 seq 0`` / ``echo reply id 44 seq 0``, ...; the reply is the ICMP error
    when one answered the request instead."""
    request, reply = _labels(path)
    return request, path.icmp_error or reply


def _labels(path: PacketPath) -> tuple[str, str]:
    if path.kind in ("nd", "arp"):
        target = path.target or "?"
        if path.kind == "nd":
            flags = f" [{path.nd_flags}]" if path.nd_flags else ""
            return f"NS who-has {target}", f"NA {target}{flags}"
        mac = path.responder_mac
        return f"ARP who-has {target}", f"ARP reply {target} is-at {mac}" if mac else (
            f"ARP reply {target}"
        )
    if path.kind == "echo":
        ids = (
            f" id {path.echo_id} seq {path.echo_seq}"
            if path.echo_id is not None and path.echo_seq is not None
            else ""
        )
        return f"echo req{ids}", f"echo reply{ids}"
    if path.kind == "tcp":
        port = f" to :{path.dst_port}" if path.dst_port is not None else ""
        return f"TCP SYN{port}", TCP_ANSWER_WORDS.get(path.answer or "", "SYN-ACK or RST")
    if path.kind == "icmp-error":
        return "packet", "ICMP error"
    return path.kind, "reply"


def _tunnel_label(hops: list[Hop]) -> str:
    """``VXLAN VNI 40172`` from the first hop that carries a tunnel and a VNI."""
    for h in hops:
        if h.tunnel is not None and h.vni is not None:
            return f"{_TUNNEL_NAMES.get(h.tunnel, h.tunnel.upper())} VNI {h.vni}"
    return "tunnel"


def _unanswered(path: PacketPath) -> bool:
    if path.reply_hops:
        return False
    return path.unanswered or any(f.id.endswith("-unanswered") for f in path.findings)


def _unsure(path: PacketPath) -> bool:
    """Whether an unanswered request's findings say only that no answer is in the captures
    (warnings: capturing stopped, or packets were dropped), none that it was never answered."""
    said = [f for f in path.findings if f.id.endswith("-unanswered")]
    return bool(said) and all(f.severity == Severity.WARNING for f in said)


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

    veth = _host_veth(exp)
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
    def outside(k: tuple[str, ...]) -> bool:
        return k[0] == "underlay" and all(
            h.node is None and h.place.startswith(UNDERLAY_HOST) for h in hops_of[k]
        )

    def group_of(k: tuple[str, ...]) -> str:
        return hops_of[k][0].node or ("\0outside" if outside(k) else "?")

    node_order: list[str] = []
    for k in order:
        node = group_of(k)
        if node not in node_order:
            node_order.append(node)
    order.sort(key=lambda k: node_order.index(group_of(k)))
    lanes = [
        Lane(
            key=k,
            name=_lane_name(hops_of[k], k, veth),
            kind=k[0],
            node=hops_of[k][0].node,
            pod=next((h.pod for h in hops_of[k] if h.pod), None)
            if k[0] in ("pod-eth0", "lxc")
            else None,
            observed=any(h.observed for h in hops_of[k]),
            outside=outside(k),
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
            # the request reached whatever answered it (inferred: no capture saw it arrive there)
            req.append(replace(p.reply_hops[0], observed=False, evidence=[]))
        _chain(seq, index, req, req_label, i, reply=False)
        if p.reply_hops:
            # an ICMP error between nodes crosses the underlay outside the tunnel
            plain = p.kind == "icmp-error" or p.icmp_error is not None
            rep = list(p.reply_hops)
            if rep[-1].kind == HopKind.NETWORK and rep[-1].observed:
                # last seen on the underlay, by a capture of neither end for sure: drawn on
                # to where the request left the requester's node (not seen arriving there)
                cut = next((k for k, h in enumerate(req) if h.kind == HopKind.NETWORK), 0)
                ends = [h for h in req[:cut] if _lane_key(h) is not None]
                if ends:
                    rep.append(replace(ends[-1], observed=False, evidence=[]))
            _chain(seq, index, rep, rep_label, i, reply=True, plain=plain)
        elif _unanswered(p):
            on_lanes = [h for h in req if _lane_key(h) is not None]
            if not on_lanes:
                continue
            lanes_req = [index[k] for k in (_lane_key(h) for h in on_lanes) if k is not None]
            last = on_lanes[-1]
            unsure = _unsure(p) and p.icmp_error is None
            outcome = (
                f"{p.icmp_error} from {p.icmp_error_from}"
                if p.icmp_error is not None and p.icmp_error_from
                else p.icmp_error or (_UNSURE if unsure else "no answer")
            )
            if len(lanes_req) == 1 or p.last_seen is not None:
                # went out and was not seen again: a stub ending in a cross (seen on the way
                # when a network hop after its last lane saw it)
                after_last = req[req.index(last) + 1 :]
                on_way = next(
                    (_ev(h) for h in after_last if h.kind == HopKind.NETWORK and h.observed), ""
                )
                seq.arrows.append(
                    Arrow(
                        lanes_req[-1], None, req_label, i, False, False,
                        last.observed, False, False, _ev(last), on_way, unsure, outcome,
                    )
                )  # fmt: skip
            after = len(seq.arrows) - 1
            if len(lanes_req) == 1:
                continue
            if p.last_seen is not None:
                seq.marks.append(Mark(lanes_req[-1], after, "last seen here", "last-seen"))
                continue
            seen = [h for h in on_lanes if h.observed]
            if seen:
                k = _lane_key(seen[-1])
                if k is not None and index[k] != lanes_req[-1]:
                    seq.marks.append(Mark(index[k], after, "last seen here", "last-seen"))
            seq.marks.append(
                Mark(lanes_req[-1], after, outcome, "unsure" if unsure else "unanswered")
            )
    return seq


_UNSURE = "no answer in the captures"
"""What is drawn at a request :func:`_unsure` says may have been answered unseen."""


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
    plain: bool = False,
) -> None:
    """Arrows between consecutive interface hops; moves between tunnel devices and node eth0s
    (and across the underlay) are tunnelled and carry the VNI label, unless no hop says it was
    tunnelled and either ``plain`` (a packet sent between nodes outside the tunnel) or a node's
    eth0 at either end saw it outside a tunnel (routed natively)."""
    tun = _tunnel_label(hops)
    # a path no hop of which is a tunnel device or carries a tunnel was routed natively
    untunnelled = not any(h.kind == HopKind.TUNNEL or h.tunnel for h in hops)
    prev: Hop | None = None
    crossed = False
    between = ""
    for h in hops:
        if h.kind == HopKind.NETWORK:
            crossed = True
            if h.observed:
                between = _ev(h)
            continue
        k = _lane_key(h)
        if k is None:
            continue
        if prev is not None:
            pk = _lane_key(prev)
            assert pk is not None
            if index[pk] != index[k]:
                kinds = (pk[0], k[0])
                # a node's eth0 seen carrying the packet outside any tunnel (natively routed,
                # or an error between nodes) crosses the network as it is
                outside = (prev.tunnel or h.tunnel) is None and (
                    plain
                    or untunnelled
                    or (prev.observed and prev.kind == HopKind.UNDERLAY)
                    or (h.observed and h.kind == HopKind.UNDERLAY)
                )
                if (crossed and not outside) or (
                    kinds == ("underlay", "underlay") and (prev.tunnel or h.tunnel) is not None
                ):
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
                        between=between,
                    )
                )
        prev = h
        crossed = False
        between = ""
