"""The topology model: nodes, interfaces, pods, routes, neighbours, identities and conflicts.

Plain dataclasses. Every fact carries

``source``
    a :class:`Source`: the file and line (text dumps), the file and JSON/YAML path (structured
    dumps), or the frames it was inferred from (``capture``, ``frame_no`` pairs);
``confidence``
    one of three labels, in decreasing order of trust:

    ``"loaded"``         read from a dump the user gave (or derived from one with no guessing,
                         e.g. the router IP from a pod's ``default via`` route);
    ``"inferred-high"``  inferred from captures by a rule that holds in Cilium's datapath unless
                         something is badly misconfigured (an NA with the R flag answering a
                         pod's NS names the router and the pod's lxc veth MAC);
    ``"inferred-low"``   a plausible guess (pod CIDR assumed /24 or /64 from the pod IPs seen,
                         an outer source MAC taken to be the node's NIC).

When facts about one object come from several sources, the object keeps the source of its
first fact in ``source`` and the others per field in ``field_sources``.

Objects that were only inferred may lack a name (``name is None``); their ``label`` then
describes them by address, e.g. ``"node 172.18.0.3"`` or ``"lxc a2:79:14:47:80:b3"``.

The facts' classes live in :mod:`.facts`, the look-ups in :mod:`.index` (:attr:`Topology.index`),
the terminal rendering in :mod:`.render`; this module holds :class:`Topology` and re-exports
the rest, so ``from vxlanlens.topology.model import Pod`` keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..proto import UnknownTopic
from .facts import (
    CONFIDENCES,
    INTERFACE_KINDS,
    RESERVED_IDENTITIES,
    AddressLookup,
    CapturePoint,
    FdbEntry,
    Identity,
    Interface,
    Neighbor,
    Node,
    NodeFact,
    Peer,
    Pod,
    Route,
    Source,
    canonical_ip,
    canonical_mac,
    is_group_mac,
)
from .index import TopologyIndex

__all__ = [
    "CONFIDENCES",
    "INTERFACE_KINDS",
    "RESERVED_IDENTITIES",
    "AddressLookup",
    "CapturePoint",
    "Conflict",
    "FdbEntry",
    "Identity",
    "Interface",
    "Neighbor",
    "Node",
    "NodeFact",
    "Peer",
    "Pod",
    "Route",
    "Source",
    "Topology",
    "TopologyIndex",
    "Unknown",
    "canonical_ip",
    "canonical_mac",
    "is_group_mac",
]


PLAIN_UNPLACED = "no overlay shown: where it was taken is not known"
"""How a capture is placed when the input shows no overlay and nobody stated where it was taken
(the pod an inference placed it at was a host)."""

PLAIN_UNKNOWN = (
    "overlay: nothing in the input shows one (no tunnel packet, no topology dump, no sign of "
    "Cilium, no node routing other hosts' addresses): the hosts the frames show are not taken "
    "for pods; give dumps (--topology) or say where a capture was taken (--capture-at) to read "
    "them as an overlay's"
)
"""The "not known" line of a topology that an input showing no overlay has."""

PLAIN_NOT_ASKED = frozenset({"pod-names", "node-addresses", "gateway-addresses"})
"""Keys of the "not known" lines an input that shows no overlay does not ask about (it shows no
pod, node or pods' gateway)."""


@dataclass
class Conflict:
    """Two sources disagree about one fact; ``values`` holds every claim with its source."""

    subject: str
    """What the fact is about, e.g. ``"pod default/cni-7t9p4"``."""
    field: str
    """Which fact, e.g. ``"mac"``."""
    values: list[tuple[Any, Source, str]]
    """``(value, source, confidence)`` of every claim, the kept one first."""
    resolution: str = ""
    """Which claim was kept and why."""

    def __str__(self) -> str:
        claims = "; ".join(f"{v!s} from {s} [{c}]" for v, s, c in self.values)
        return f"{self.subject} {self.field}: {claims} -> {self.resolution}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "subject": self.subject,
            "field": self.field,
            "values": [{"value": v, "source": str(s), "confidence": c} for v, s, c in self.values],
            "resolution": self.resolution,
        }


class Unknown(str):
    """One thing that could not be known: the text (what ``str()`` gives, so renderers keep
    printing it), its :class:`~vxlanlens.proto.UnknownTopic` in ``topic``, and in ``key`` what
    would resolve it (``interface-names``, ``pod-names``, ``node-names``, ``identity-labels``,
    ``gateway-addresses``, ``node-addresses``, ``pod-cidrs``; ``""`` for anything else), which
    :func:`~vxlanlens.topology.merge` uses to drop entries that other sources answered."""

    topic: UnknownTopic
    key: str

    def __new__(cls, topic: UnknownTopic | str, text: str, key: str = "") -> Unknown:
        self = super().__new__(cls, text)
        self.topic = UnknownTopic(topic)
        self.key = key
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Unknown, (self.topic, str(self), self.key))

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``topic``, ``key``, ``text``."""
        return {"topic": str(self.topic), "key": self.key, "text": str(self)}


@dataclass
class Likeness:
    """Two objects of the model that are probably one (a node known by its underlay address
    beside a named node, a pod known by an address beside a named pod), with the evidence; the
    evidence was not strong enough to merge them."""

    subject: str
    """Label of the object, e.g. ``"node 172.18.0.4"``."""
    other: str
    """Label of the object it is probably the same as."""
    why: str
    """The evidence, in words."""

    def __str__(self) -> str:
        return f"{self.subject} is probably {self.other}: {self.why}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"subject": self.subject, "other": self.other, "why": self.why}


@dataclass
class Topology:
    """Everything known about the cluster; see the module docstring for sources/confidence."""

    nodes: list[Node] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    neighbors: list[Neighbor] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    fdb: list[FdbEntry] = field(default_factory=list)
    """Forwarding-database entries of tunnel devices (``bridge fdb show``)."""
    captures: list[CapturePoint] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """What could not be known, one line each (e.g. ``"interface names: no dump given"``)."""
    notes: list[str] = field(default_factory=list)
    """Things the loaders skipped or decided, one line each."""
    sources: list[str] = field(default_factory=list)
    """Files (and archive members) the facts were loaded from."""

    probable: list[Likeness] = field(default_factory=list)
    """Objects that are probably the same as others, with the evidence (not merged)."""
    hosts: list[Pod] = field(default_factory=list)
    """Hosts of a plain network: in :meth:`as_plain`, the pods an inference took from the
    frames of an input that shows no overlay and the MACs that answered its ARP or Neighbor
    Solicitations (empty otherwise)."""
    _index: TopologyIndex | None = field(default=None, init=False, repr=False, compare=False)
    _version: int = field(default=0, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_index"] = None  # rebuilt on demand (copies and pickles do not carry it)
        return state

    # --- the index ------------------------------------------------------------------------
    def _signature(self) -> tuple[int, ...]:
        return (
            self._version,
            id(self.nodes),
            len(self.nodes),
            id(self.interfaces),
            len(self.interfaces),
            id(self.pods),
            len(self.pods),
            id(self.identities),
            len(self.identities),
        )

    @property
    def index(self) -> TopologyIndex:
        """The one index every look-up goes through (built on first use, rebuilt when facts
        were added or removed, or after :meth:`invalidate`)."""
        idx = self._index
        if idx is None or idx.signature != self._signature():
            idx = self._index = TopologyIndex(self)
        return idx

    def invalidate(self) -> None:
        """Drop the index: call after changing facts in place (a pod's ``ips``, a node's
        ``addresses``); adding or removing facts is noticed without it."""
        self._version += 1
        self._index = None

    def indexed(self) -> TopologyIndex:
        """The topology's index (:attr:`index`): the same look-ups, answered by dictionaries."""
        return self.index

    # --- queries (all answered by the index) ---------------------------------------------
    def node(self, name: str) -> Node | None:
        """The node called ``name``."""
        return self.index.node(name)

    def node_by_ip(self, ip: str) -> Node | None:
        """The node owning ``ip``: an underlay address or router IP, else an address on one of
        the node's host-namespace interfaces (``None`` when no node has it)."""
        return self.index.node_by_ip(ip)

    def node_by_pod_cidr(self, ip: str) -> Node | None:
        """The node whose pod CIDR contains ``ip`` (longest prefix)."""
        return self.index.node_by_pod_cidr(ip)

    def interfaces_by_mac(self, mac: str) -> list[Interface]:
        """All interfaces with this MAC (usually one), loaded ones first; none for the all-zero
        MAC, broadcast and multicast MACs (they name no single interface)."""
        return self.index.interfaces_by_mac(mac)

    def interface_by_mac(self, mac: str) -> Interface | None:
        """The interface with this MAC (the most trusted one when several share it)."""
        return self.index.interface_by_mac(mac)

    def interfaces_with_address(self, ip: str) -> AddressLookup:
        """Which interfaces have ``ip`` configured, and how many interfaces with a known address
        list were checked (interfaces known only from captures are not counted)."""
        return self.index.interfaces_with_address(ip)

    def interfaces_of_node(self, node: str) -> list[Interface]:
        """The interfaces of ``node``'s root namespace (and of an unknown namespace), in model
        order."""
        return self.index.interfaces_of_node(node)

    def pod(self, name: str, namespace: str | None = None) -> Pod | None:
        """The pod called ``name`` (``"ns/name"`` accepted), in ``namespace`` if given."""
        return self.index.pod(name, namespace)

    def pod_by_ip(self, ip: str) -> Pod | None:
        """The pod with this IP (host-network pods excluded: their IP is the node's)."""
        return self.index.pod_by_ip(ip)

    def pod_by_mac(self, mac: str) -> Pod | None:
        """The pod whose eth0 has this MAC (none for group or all-zero MACs)."""
        return self.index.pod_by_mac(mac)

    def pod_by_host_mac(self, mac: str) -> Pod | None:
        """The pod whose host-side veth (lxc) has this MAC (none for group or all-zero MACs)."""
        return self.index.pod_by_host_mac(mac)

    def identity(self, id: int) -> Identity | None:
        """The identity with this number: from a dump, or a reserved one (1-10) named without
        any dump; ``None`` when unknown."""
        return self.index.identity(id)

    def capture_point(self, capture: str) -> CapturePoint | None:
        """Where ``capture`` was taken, as placed (see :func:`vxlanlens.topology.place`)."""
        for c in self.captures:
            if c.capture == capture:
                return c
        return None

    def conflicts_summary(self) -> str:
        """One line for renderers: ``""`` when sources agree, else the count and what the
        conflicts are about, e.g. ``"2 topology conflicts: interface eth0 on a ifindex,
        interface eth0 on b ifindex"`` (each one in full: ``str(conflict)``)."""
        n = len(self.conflicts)
        if not n:
            return ""
        about = list(dict.fromkeys(f"{c.subject} {c.field}" for c in self.conflicts))
        shown = ", ".join(about[:3]) + (f", and {len(about) - 3} more" if len(about) > 3 else "")
        return f"{n} topology conflict{'s' if n > 1 else ''}: {shown}"

    def router_ips(self, node: str | None = None) -> list[str]:
        """Router IPs of ``node`` (of all nodes when ``None``)."""
        return [f.value for n in self.nodes if node in (None, n.name) for f in n.router_ips]

    def as_plain(self) -> Topology:
        """This topology as an input that shows no overlay has it (see
        :meth:`vxlanlens.Capture.shows_overlay`): the pods an inference took from the frames,
        and the MACs that answered an ARP or Neighbor Solicitation, are ``hosts`` (an answering
        MAC is not a pod's veth nor a gateway's device); a neighbour entry is a host's; a
        capture placed at a pod is not placed (``kind`` ``unknown``); and "not known" says that
        nothing shows an overlay instead of asking for pod names, node addresses and whether a
        pods' gateway address is configured."""
        named = {p.label: host_label(p) for p in self.pods}
        hosts = [*self.hosts, *(_as_host(p) for p in self.pods)]
        known = {ip for h in hosts for ip in h.ips}
        neighbors = []
        for nb in self.neighbors:
            # "ARP exchange; the target is probably the pod's IPv4 gateway": the exchange only
            what = (nb.source.note or "").split(";")[0]
            neighbors.append(
                replace(
                    nb,
                    namespace=named.get(nb.namespace or "", nb.namespace),
                    source=replace(nb.source, note=what or None),
                )
            )
            if nb.lladdr and nb.ip not in known:
                known.add(nb.ip)
                how = what.split(" exchange")[0] or "ARP or NDP"
                hosts.append(
                    Pod(
                        source=replace(nb.source, note=f"answered the {how} for {nb.ip}"),
                        confidence=nb.confidence,
                        ips=[nb.ip],
                        mac=nb.lladdr,
                    )
                )
        answering = {nb.lladdr for nb in self.neighbors if nb.lladdr}
        interfaces = [  # an answering MAC the inference took for a veth or gateway device
            i
            for i in self.interfaces
            if not (i.mac in answering and i.confidence.startswith("inferred"))
        ]
        captures = [
            replace(c, kind="unknown", pod=None, how=PLAIN_UNPLACED) if c.kind == "pod" else c
            for c in self.captures
        ]
        unknown: list[str] = [
            u for u in self.unknown if getattr(u, "key", "") not in PLAIN_NOT_ASKED
        ]
        unknown.append(Unknown(UnknownTopic.CNI, PLAIN_UNKNOWN, "overlay"))
        return replace(
            self,
            pods=[],
            hosts=hosts,
            interfaces=interfaces,
            neighbors=neighbors,
            captures=captures,
            unknown=unknown,
        )

    def is_empty(self) -> bool:
        """True when the model holds no fact at all."""
        return not (
            self.nodes
            or self.interfaces
            or self.pods
            or self.routes
            or self.neighbors
            or self.identities
            or self.fdb
            or self.captures
        )

    # --- output -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-able model: ``nodes``, ``interfaces``, ``pods``, ``routes``, ``neighbors``,
        ``identities``, ``fdb`` (forwarding-database entries), ``captures``, ``conflicts``, ``unknown`` (text), ``unknown_topics``
        (``topic``, ``key``, ``text``), ``probable`` (objects probably the same as others, with
        the evidence), ``hosts`` (hosts of a plain network, :meth:`as_plain`; ``label``, ``ips``,
        ``mac``), ``notes``, ``sources``; every
        item has ``source`` (text), ``confidence``, ``evidence`` (``[capture, frame_no]`` pairs)
        and ``field_sources`` (fields contributed by other sources)."""
        return {
            "nodes": [n.to_dict() for n in self.nodes],
            "interfaces": [i.to_dict() for i in self.interfaces],
            "pods": [p.to_dict() for p in self.pods],
            "routes": [r.to_dict() for r in self.routes],
            "neighbors": [n.to_dict() for n in self.neighbors],
            "identities": [i.to_dict() for i in self.identities],
            "fdb": [f.to_dict() for f in self.fdb],
            "captures": [c.to_dict() for c in self.captures],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "unknown": [str(u) for u in self.unknown],
            "unknown_topics": [
                u.to_dict() if isinstance(u, Unknown) else Unknown(UnknownTopic.OTHER, u).to_dict()
                for u in self.unknown
            ],
            "probable": [x.to_dict() for x in self.probable],
            "hosts": [_host_dict(h) for h in self.hosts],
            "notes": list(self.notes),
            "sources": list(self.sources),
        }

    def format_table(self) -> str:
        """Plain-text rendering for a terminal: one section per kind of fact, every fact with
        its source and confidence."""
        from .render import format_table

        return format_table(self)


def host_label(host: Pod) -> str:
    """``host <first IP or MAC>``: how a host of a plain network is named."""
    return f"host {host.ips[0] if host.ips else host.mac or '?'}"


def _as_host(pod: Pod) -> Pod:
    """A pod of the inference as a host of a plain network: its addresses and MAC only."""
    return Pod(
        source=pod.source,
        confidence=pod.confidence,
        ips=list(pod.ips),
        mac=pod.mac,
        field_sources={k: v for k, v in pod.field_sources.items() if k in ("ips", "mac")},
    )


def _host_dict(host: Pod) -> dict[str, Any]:
    """JSON form of a host: ``label`` (``host <address>``), ``ips``, ``mac`` and the source."""
    d = host.to_dict()
    return {"label": host_label(host), "ips": d["ips"], "mac": d["mac"]} | {
        k: d[k] for k in ("source", "confidence", "evidence", "field_sources")
    }
