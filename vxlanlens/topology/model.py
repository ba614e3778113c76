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
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..proto import UnknownTopic

__all__ = [
    "CONFIDENCES",
    "INTERFACE_KINDS",
    "RESERVED_IDENTITIES",
    "AddressLookup",
    "CapturePoint",
    "Conflict",
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

CONFIDENCES = ("loaded", "inferred-high", "inferred-low")
"""Confidence labels, most trusted first."""

INTERFACE_KINDS = (
    "pod-eth0",
    "lxc",
    "cilium_host",
    "cilium_net",
    "cilium_vxlan",
    "cilium_geneve",
    "underlay",
    "lo",
    "other",
)

RESERVED_IDENTITIES: dict[int, str] = {
    1: "host",
    2: "world",
    3: "unmanaged",
    4: "health",
    5: "init",
    6: "remote-node",
    7: "kube-apiserver",
    8: "ingress",
    9: "world-ipv4",
    10: "world-ipv6",
}
"""Cilium's reserved security identities (pkg/identity/numericidentity.go), named even when no
identity dump was given."""


def canonical_mac(mac: str | None) -> str | None:
    """``mac`` as lowercase ``aa:bb:cc:dd:ee:ff``, or ``None`` when it is not a 48-bit MAC."""
    if mac is None:
        return None
    s = str(mac).strip().lower().replace("-", ":")
    parts = s.split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        return None
    try:
        return ":".join(f"{int(p, 16):02x}" for p in parts)
    except ValueError:
        return None


def is_group_mac(mac: str) -> bool:
    """Whether a canonical MAC names no single interface: the all-zero MAC (unset, as ``ip``
    prints it for tunnel devices and ``lo``), broadcast, or any multicast (group bit set)."""
    return mac == "00:00:00:00:00:00" or bool(int(mac[:2], 16) & 1)


def canonical_ip(ip: str | None) -> str | None:
    """``ip`` (optionally with ``/len`` or a ``%zone``) in canonical text form, else ``None``."""
    if ip is None:
        return None
    s = str(ip).strip().split("/")[0].split("%")[0]
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        return None


def _conf_rank(c: str) -> int:
    return CONFIDENCES.index(c) if c in CONFIDENCES else len(CONFIDENCES)


@dataclass(frozen=True)
class Source:
    """Where a fact comes from: a place in a dump, or frames of captures."""

    file: str | None = None
    """File name (archive members as ``zip!member!member``), ``"<text>"`` for pasted text."""
    line: int | None = None
    """1-based line in ``file`` (text dumps, YAML)."""
    path: str | None = None
    """JSON path within ``file``, e.g. ``$[3].status.networking.mac``."""
    frames: tuple[tuple[str, int], ...] = ()
    """Evidence frames ``(capture, frame_no)`` of an inferred fact (at most a few)."""
    note: str | None = None
    """How the fact was derived, when it was not read directly."""

    def __str__(self) -> str:
        if self.frames:
            shown = ", ".join(f"{c}#{n}" for c, n in self.frames[:6])
            more = f" (+{len(self.frames) - 6})" if len(self.frames) > 6 else ""
            out = f"frames {shown}{more}"
        else:
            out = self.file or "?"
            if self.line is not None:
                out += f":{self.line}"
            if self.path:
                out += f" {self.path}"
        if self.note:
            out += f" ({self.note})"
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``file``, ``line``, ``path``, ``frames`` (list of ``[capture, frame_no]``), ``note``."""
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "frames": [[c, int(n)] for c, n in self.frames],
            "note": self.note,
        }


@dataclass
class _Fact:
    source: Source
    confidence: str
    netns_key: str | None = field(default=None, repr=False, compare=False)
    """Private: ties the objects of one pod namespace dump together until the pod is named."""

    def _meta(self) -> dict[str, Any]:
        fs = getattr(self, "field_sources", {})
        return {
            "source": str(self.source),
            "confidence": self.confidence,
            "evidence": [[c, int(n)] for c, n in self.source.frames],
            "field_sources": {k: f"{s} [{c}]" for k, (s, c) in sorted(fs.items())},
        }


@dataclass
class NodeFact(_Fact):
    """One address-like fact about a node: an underlay address, a router IP or a pod CIDR."""

    value: str = ""
    """An IP in canonical form (``address``, ``router-ip``) or a network (``pod-cidr``)."""
    role: str = "address"
    """``address`` (underlay), ``router-ip`` (cilium_host / CiliumInternalIP / pod gateway),
    ``pod-cidr``."""


@dataclass
class Node(_Fact):
    """A Kubernetes node (or, when inferred, an underlay address that tunnels traffic)."""

    name: str | None = None
    addresses: list[NodeFact] = field(default_factory=list)
    router_ips: list[NodeFact] = field(default_factory=list)
    pod_cidrs: list[NodeFact] = field(default_factory=list)
    field_sources: dict[str, tuple[Source, str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The name, or ``"node <first address>"`` for an unnamed (inferred) node."""
        if self.name:
            return self.name
        if self.addresses:
            return f"node {self.addresses[0].value}"
        return "node ?"

    def all_ips(self) -> list[str]:
        """Underlay addresses then router IPs, canonical."""
        return [f.value for f in self.addresses] + [f.value for f in self.router_ips]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (see :meth:`Topology.to_dict`)."""
        facts = [
            {"role": f.role, "value": f.value, "source": str(f.source), "confidence": f.confidence}
            for f in (*self.addresses, *self.router_ips, *self.pod_cidrs)
        ]
        return {
            "name": self.name,
            "label": self.label,
            "addresses": [f.value for f in self.addresses],
            "router_ips": [f.value for f in self.router_ips],
            "pod_cidrs": [f.value for f in self.pod_cidrs],
            "facts": facts,
            **self._meta(),
        }


@dataclass(frozen=True)
class Peer:
    """The other end of a veth (or the parent of a stacked device)."""

    ifindex: int | None = None
    """Peer's ifindex (``@ifN``, ``link_index``)."""
    name: str | None = None
    """Peer's name when given (``cilium_host@cilium_net``)."""
    netns: str | None = None
    """``link-netns`` name of the peer's namespace."""
    netnsid: int | None = None
    """``link-netnsid``: the peer lives in another namespace (0 is usually the host's)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ifindex": self.ifindex,
            "name": self.name,
            "netns": self.netns,
            "netnsid": self.netnsid,
        }


@dataclass
class Interface(_Fact):
    """A network interface in a node's root namespace or in a pod's namespace."""

    node: str | None = None
    namespace: str | None = None
    """``"host"`` for the node's root namespace, ``"<ns>/<pod>"`` (or ``"<pod>"``) for a pod's,
    ``"netns:<name>"`` when only the netns name is known, ``None`` when unknown."""
    name: str | None = None
    kind: str = "other"
    """One of :data:`INTERFACE_KINDS`."""
    mac: str | None = None
    ifindex: int | None = None
    addresses: list[str] = field(default_factory=list)
    """Addresses with prefix length, as ``ip`` prints them (``10.244.1.233/32``)."""
    peer: Peer | None = None
    mtu: int | None = None
    pod: str | None = None
    """``"<ns>/<pod>"`` (or ``"<pod>"``) of the pod this interface belongs to (its eth0) or
    serves (its host-side lxc veth)."""
    note: str | None = None
    field_sources: dict[str, tuple[Source, str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The name, or ``"<kind> <mac or ifindex>"`` when the name is unknown."""
        if self.name:
            return self.name
        if self.mac:
            return f"{self.kind} {self.mac}"
        if self.ifindex is not None:
            return f"{self.kind} ifindex {self.ifindex}"
        return f"{self.kind} ?"

    def ips(self) -> list[str]:
        """Addresses without prefix length, canonical."""
        out = []
        for a in self.addresses:
            c = canonical_ip(a)
            if c:
                out.append(c)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON form (see :meth:`Topology.to_dict`)."""
        return {
            "node": self.node,
            "namespace": self.namespace,
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "mac": self.mac,
            "ifindex": self.ifindex,
            "addresses": list(self.addresses),
            "peer": self.peer.to_dict() if self.peer else None,
            "mtu": self.mtu,
            "pod": self.pod,
            "note": self.note,
            **self._meta(),
        }


@dataclass
class Pod(_Fact):
    """A pod (a Cilium endpoint): addresses, eth0 MAC and its host-side veth."""

    namespace: str | None = None
    name: str | None = None
    node: str | None = None
    ips: list[str] = field(default_factory=list)
    """Canonical IPs without prefix length (IPv4 first, then IPv6, in order seen)."""
    mac: str | None = None
    """MAC of the pod's eth0."""
    host_interface: str | None = None
    """Name of the host-side veth (``lxc...``)."""
    host_mac: str | None = None
    """MAC of the host-side veth (answers the pod's gateway ARP/NS)."""
    endpoint_id: int | None = None
    identity: int | None = None
    """Cilium security identity (what goes into the VNI of its tunnelled frames)."""
    host_network: bool = False
    """The pod shares its node's network namespace (its IP is the node's)."""
    node_ip: str | None = None
    """Underlay address of the pod's node when a dump named an address instead of a node
    (CiliumEndpoint ``status.networking.node``)."""
    field_sources: dict[str, tuple[Source, str]] = field(default_factory=dict)

    @property
    def ref(self) -> str | None:
        """``"<ns>/<name>"``, ``"<name>"`` when the namespace is unknown, ``None`` if unnamed."""
        if not self.name:
            return None
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def label(self) -> str:
        """:attr:`ref`, or ``"pod <first IP or MAC>"`` for an unnamed (inferred) pod."""
        return self.ref or f"pod {self.ips[0] if self.ips else self.mac or '?'}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (see :meth:`Topology.to_dict`)."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "label": self.label,
            "node": self.node,
            "ips": list(self.ips),
            "mac": self.mac,
            "host_interface": self.host_interface,
            "host_mac": self.host_mac,
            "endpoint_id": self.endpoint_id,
            "identity": self.identity,
            "host_network": self.host_network,
            "node_ip": self.node_ip,
            **self._meta(),
        }


@dataclass
class Route(_Fact):
    """A route of a node's or a pod's routing table (``ip r`` / ``ip -6 r``)."""

    node: str | None = None
    namespace: str | None = None
    family: int = 4
    dst: str = "default"
    """``"default"`` or a canonical prefix / address."""
    via: str | None = None
    dev: str | None = None
    type: str | None = None
    proto: str | None = None
    scope: str | None = None
    src: str | None = None
    metric: int | None = None
    mtu: int | None = None
    pref: str | None = None
    table: str | None = None
    text: str | None = None
    """The route as ``ip`` printed it (text dumps)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "node": self.node,
            "namespace": self.namespace,
            "family": self.family,
            "dst": self.dst,
            "via": self.via,
            "dev": self.dev,
            "type": self.type,
            "proto": self.proto,
            "scope": self.scope,
            "src": self.src,
            "metric": self.metric,
            "mtu": self.mtu,
            "pref": self.pref,
            "table": self.table,
            **self._meta(),
        }


@dataclass
class Neighbor(_Fact):
    """A neighbour (ARP / NDP cache) entry (``ip n`` / ``ip -6 n``)."""

    node: str | None = None
    namespace: str | None = None
    ip: str = ""
    dev: str | None = None
    lladdr: str | None = None
    router: bool = False
    state: str | None = None
    """``REACHABLE``, ``STALE``, ``PERMANENT``, ``FAILED``, ... (several joined by ``,``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "node": self.node,
            "namespace": self.namespace,
            "ip": self.ip,
            "dev": self.dev,
            "lladdr": self.lladdr,
            "router": self.router,
            "state": self.state,
            **self._meta(),
        }


@dataclass
class Identity(_Fact):
    """A Cilium security identity: its number (the VNI of tunnelled frames) and labels."""

    id: int = 0
    labels: list[str] = field(default_factory=list)

    @property
    def reserved(self) -> bool:
        """Whether the id is one of Cilium's reserved identities (below 256)."""
        return 0 < self.id < 256

    @property
    def description(self) -> str:
        """``"6 remote-node"`` for reserved ids, ``"40172 (k8s:app=cni, ...)"`` otherwise."""
        if self.id in RESERVED_IDENTITIES:
            return f"{self.id} {RESERVED_IDENTITIES[self.id]}"
        if not self.labels:
            return str(self.id)
        shown = [lab for lab in self.labels if not lab.startswith("k8s:io.cilium.k8s.")]
        shown = shown or list(self.labels)
        more = ", ..." if len(shown) < len(self.labels) or len(shown) > 3 else ""
        return f"{self.id} ({', '.join(shown[:3])}{more})"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "labels": list(self.labels),
            "description": self.description,
            **self._meta(),
        }


@dataclass
class CapturePoint(_Fact):
    """Where a capture was taken: node, interface and pod, how that was decided and on what
    evidence (``source``: the frames and dumps behind it; ``confidence``: ``loaded`` when the
    user stated it, else how sure the rule is). Decided by :func:`vxlanlens.topology.place`.
    """

    capture: str = ""
    node: str | None = None
    """Label of the node (its name, or ``node <underlay ip>`` while unnamed)."""
    pod: str | None = None
    """Label of the pod whose eth0 (or lxc peer) the capture was taken on."""
    node_ip: str | None = None
    """Underlay address of the capture's node (named in ``node`` once a dump names it)."""
    kind: str = ""
    """``pod`` (a pod's eth0 or its lxc peer: both see the same frames), ``node`` (a node's
    interface: its underlay NIC, or every interface with ``-i any``), ``mixed`` (tunnelled
    frames between several pairs of nodes) or ``unknown``; ``""`` when not yet decided."""
    interface: str | None = None
    """Interface captured on: ``any`` for ``tcpdump -i any`` (Linux SLL/SLL2), a name when
    stated or known (``eth0``, ``lxc237a31216c0f``), else ``None``."""
    how: str = ""
    """How the place was decided, in words (the rules and the evidence that settled it)."""
    candidates: tuple[str, ...] = ()
    """Underlay IPs the capture could have been taken at, when evidence left several."""
    interfaces: dict[int, str] = field(default_factory=dict)
    """``-i any`` captures: SLL2 interface index → ``node/interface`` name from the node's
    dumps (``kind-worker2/lxc0d8e3f6a2b71``), or ``node/<kind> ifindex N`` when only
    inferred."""
    stated: bool = False
    """The user said where the capture was taken (``capture_at``)."""

    @property
    def decided(self) -> bool:
        """Whether placement has run on this capture (``kind`` is set)."""
        return bool(self.kind)

    def interface_name(self, ifindex: int) -> str | None:
        """``node/interface`` of an SLL2 interface index of this capture, if known."""
        return self.interfaces.get(int(ifindex))

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``capture``, ``kind``, ``node``, ``pod``, ``node_ip``, ``interface``,
        ``how``, ``candidates``, ``interfaces`` (SLL2 index as text → name), ``stated``, and
        ``source``/``confidence``/``evidence`` like every fact."""
        return {
            "capture": self.capture,
            "kind": self.kind or None,
            "node": self.node,
            "pod": self.pod,
            "node_ip": self.node_ip,
            "interface": self.interface,
            "how": self.how,
            "candidates": list(self.candidates),
            "interfaces": {str(k): v for k, v in sorted(self.interfaces.items())},
            "stated": self.stated,
            **self._meta(),
        }


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


@dataclass(frozen=True)
class AddressLookup:
    """Answer of :meth:`Topology.interfaces_with_address`: the matching interfaces, and how many
    interfaces were checked (zero checked means there was nothing to check against)."""

    address: str
    matches: tuple[Interface, ...]
    checked: int

    def __bool__(self) -> bool:
        return bool(self.matches)


@dataclass
class Topology:
    """Everything known about the cluster; see the module docstring for sources/confidence."""

    nodes: list[Node] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    neighbors: list[Neighbor] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
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

    def is_empty(self) -> bool:
        """True when the model holds no fact at all."""
        return not (
            self.nodes
            or self.interfaces
            or self.pods
            or self.routes
            or self.neighbors
            or self.identities
            or self.captures
        )

    # --- output -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-able model: ``nodes``, ``interfaces``, ``pods``, ``routes``, ``neighbors``,
        ``identities``, ``captures``, ``conflicts``, ``unknown`` (text), ``unknown_topics``
        (``topic``, ``key``, ``text``), ``probable`` (objects probably the same as others, with
        the evidence), ``notes``, ``sources``; every
        item has ``source`` (text), ``confidence``, ``evidence`` (``[capture, frame_no]`` pairs)
        and ``field_sources`` (fields contributed by other sources)."""
        return {
            "nodes": [n.to_dict() for n in self.nodes],
            "interfaces": [i.to_dict() for i in self.interfaces],
            "pods": [p.to_dict() for p in self.pods],
            "routes": [r.to_dict() for r in self.routes],
            "neighbors": [n.to_dict() for n in self.neighbors],
            "identities": [i.to_dict() for i in self.identities],
            "captures": [c.to_dict() for c in self.captures],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "unknown": [str(u) for u in self.unknown],
            "unknown_topics": [
                u.to_dict() if isinstance(u, Unknown) else Unknown(UnknownTopic.OTHER, u).to_dict()
                for u in self.unknown
            ],
            "probable": [x.to_dict() for x in self.probable],
            "notes": list(self.notes),
            "sources": list(self.sources),
        }

    def format_table(self) -> str:
        """Plain-text rendering for a terminal: one section per kind of fact, every fact with
        its source and confidence."""
        out: list[str] = []

        def section(
            title: str, header: list[str], rows: list[list[str]], count: int | None = None
        ) -> None:
            if not rows:
                return
            widths = [max(len(header[k]), *(len(r[k]) for r in rows)) for k in range(len(header))]
            widths[-1] = 0  # last column (source) is not padded
            out.append(f"{title} ({len(rows) if count is None else count})")
            out.append(
                "  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)).rstrip()
            )
            for r in rows:
                out.append(
                    "  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip()
                )
            out.append("")

        def src(f: _Fact) -> str:
            s = f"{f.source} [{f.confidence}]"
            fs = getattr(f, "field_sources", {})
            if fs:
                s += "; " + "; ".join(f"{k} from {v} [{c}]" for k, (v, c) in sorted(fs.items()))
            return s

        def d(v: Any) -> str:
            return "-" if v in (None, "", []) else str(v)

        node_rows = []
        for n in self.nodes:
            node_rows.append([n.label, "node", "", src(n)])
            for f in (*n.addresses, *n.router_ips, *n.pod_cidrs):
                node_rows.append(["", f.role, f.value, f"{f.source} [{f.confidence}]"])
        section("Nodes", ["node", "fact", "value", "source"], node_rows, len(self.nodes))
        section(
            "Interfaces",
            ["node", "namespace", "ifindex", "name", "kind", "mac", "addresses", "peer", "source"],
            [
                [
                    d(i.node),
                    d(i.namespace),
                    d(i.ifindex),
                    i.label,
                    i.kind,
                    d(i.mac),
                    d(",".join(i.addresses)),
                    d(_peer_text(i.peer)),
                    src(i),
                ]
                for i in self.interfaces
            ],
        )
        section(
            "Pods",
            ["pod", "node", "ips", "mac", "host interface", "identity", "source"],
            [
                [
                    p.label,
                    d(p.node),
                    d(",".join(p.ips)),
                    d(p.mac),
                    d(" ".join(x for x in (p.host_interface, p.host_mac) if x)),
                    d(p.identity),
                    src(p),
                ]
                for p in self.pods
            ],
        )
        section(
            "Routes",
            ["node", "namespace", "route", "source"],
            [[d(r.node), d(r.namespace), _route_text(r), src(r)] for r in self.routes],
        )
        section(
            "Neighbours",
            ["node", "namespace", "ip", "dev", "lladdr", "flags", "source"],
            [
                [
                    d(n.node),
                    d(n.namespace),
                    n.ip,
                    d(n.dev),
                    d(n.lladdr),
                    d(" ".join(x for x in ("router" if n.router else "", n.state or "") if x)),
                    src(n),
                ]
                for n in self.neighbors
            ],
        )
        section(
            "Identities",
            ["id", "labels", "source"],
            [[str(i.id), d(", ".join(i.labels)), src(i)] for i in self.identities],
        )
        section(
            "Captures",
            ["capture", "kind", "node", "interface", "pod", "how", "source"],
            [
                [
                    c.capture,
                    d(c.kind),
                    d(c.node or (f"node {c.node_ip}" if c.node_ip else None)),
                    d(c.interface),
                    d(c.pod),
                    d(c.how),
                    src(c),
                ]
                for c in self.captures
            ],
        )
        if self.probable:
            out.append(f"Probably the same ({len(self.probable)})")
            out += [f"  {x}" for x in self.probable]
            out.append("")
        if self.conflicts:
            out.append(f"Conflicts ({len(self.conflicts)})")
            for c in self.conflicts:
                out.append(f"  {c}")
            out.append("")
        if self.unknown:
            out.append("Not known")
            out += [f"  {u}" for u in self.unknown]
            out.append("")
        if self.notes:
            out.append("Notes")
            out += [f"  {u}" for u in self.notes]
            out.append("")
        if not out:
            return "(empty topology)\n"
        return "\n".join(out).rstrip("\n") + "\n"


def _peer_text(p: Peer | None) -> str:
    if p is None:
        return ""
    parts = []
    if p.name:
        parts.append(p.name)
    if p.ifindex is not None:
        parts.append(f"if{p.ifindex}")
    if p.netns:
        parts.append(f"netns {p.netns}")
    elif p.netnsid is not None:
        parts.append(f"netnsid {p.netnsid}")
    return " ".join(parts)


def _route_text(r: Route) -> str:
    if r.text:
        return r.text
    parts = [x for x in (r.type, r.dst) if x]
    for k, v in (
        ("via", r.via),
        ("dev", r.dev),
        ("proto", r.proto),
        ("scope", r.scope),
        ("src", r.src),
        ("metric", r.metric),
        ("mtu", r.mtu),
        ("pref", r.pref),
    ):
        if v is not None:
            parts += [k, str(v)]
    return " ".join(parts)


class TopologyIndex:
    """:attr:`Topology.index`: every look-up of a :class:`Topology`, by dictionary.

    Built from the model as it is; :attr:`Topology.index` rebuilds it when facts were added or
    removed (or after :meth:`Topology.invalidate`). Anything that is not a look-up (``pods``,
    ``routes``, ``to_dict()``, ...) is the topology's own.
    """

    def __init__(self, topology: Topology) -> None:
        self._t = topology
        self.signature = topology._signature()
        """The model's :meth:`Topology._signature` when this index was built."""
        by_rank = sorted(topology.pods, key=lambda p: _conf_rank(p.confidence))  # stable
        self._pod_ip: dict[str, Pod] = {}
        self._pod_mac: dict[str, Pod] = {}
        self._pod_name: dict[str, list[Pod]] = {}
        for p in topology.pods:
            if p.name:
                self._pod_name.setdefault(p.name, []).append(p)
        for p in by_rank:
            if not p.host_network:
                for ip in p.ips:
                    self._pod_ip.setdefault(ip, p)
            if p.mac and not is_group_mac(p.mac):
                self._pod_mac.setdefault(p.mac, p)
        self._pod_host_mac: dict[str, Pod] = {}
        for p in topology.pods:
            if p.host_mac and not is_group_mac(p.host_mac):
                self._pod_host_mac.setdefault(p.host_mac, p)
        self._if_mac: dict[str, list[Interface]] = {}
        for i in sorted(topology.interfaces, key=lambda i: _conf_rank(i.confidence)):
            if i.mac and not is_group_mac(i.mac):
                self._if_mac.setdefault(i.mac, []).append(i)
        self._if_node: dict[str, list[Interface]] = {}
        for i in topology.interfaces:
            if i.node and i.namespace in (None, "host"):
                self._if_node.setdefault(i.node, []).append(i)
        self._node_name: dict[str, Node] = {}
        self._node_addr: dict[str, Node] = {}
        self._node_router: dict[str, Node] = {}
        for n in topology.nodes:
            if n.name:
                self._node_name.setdefault(n.name, n)
            for f in n.addresses:
                self._node_addr.setdefault(f.value, n)
            for f in n.router_ips:
                self._node_router.setdefault(f.value, n)
        self._host_if_node: dict[str, str] = {}
        for i in topology.interfaces:
            if i.namespace == "host" and i.node:
                for ip in i.ips():
                    self._host_if_node.setdefault(ip, i.node)
        self._checked = [i for i in topology.interfaces if i.confidence == "loaded" and i.name]
        self._addr_ifs: dict[str, list[Interface]] = {}
        for i in self._checked:
            for ip in i.ips():
                self._addr_ifs.setdefault(ip, []).append(i)
        self._cidrs: list[tuple[Any, Node]] = []
        for n in topology.nodes:
            for f in n.pod_cidrs:
                try:
                    self._cidrs.append((ipaddress.ip_network(f.value, strict=False), n))
                except ValueError:
                    continue
        self._identity: dict[int, Identity] = {}
        for ident in topology.identities:
            self._identity.setdefault(ident.id, ident)
        self._cache: dict[tuple[str, object], object] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._t, name)

    @property
    def topology(self) -> Topology:
        """The model this index answers for."""
        return self._t

    def node(self, name: str) -> Node | None:
        """See :meth:`Topology.node`."""
        return self._node_name.get(name)

    def pod(self, name: str, namespace: str | None = None) -> Pod | None:
        """See :meth:`Topology.pod`."""
        if "/" in name and namespace is None:
            namespace, name = name.split("/", 1)
        for p in self._pod_name.get(name, ()):
            if namespace is None or p.namespace in (None, namespace):
                return p
        return None

    def pod_by_ip(self, ip: str) -> Pod | None:
        """See :meth:`Topology.pod_by_ip`."""
        c = canonical_ip(ip)
        return None if c is None else self._pod_ip.get(c)

    def pod_by_mac(self, mac: str) -> Pod | None:
        """See :meth:`Topology.pod_by_mac`."""
        m = canonical_mac(mac)
        return None if m is None else self._pod_mac.get(m)

    def pod_by_host_mac(self, mac: str) -> Pod | None:
        """See :meth:`Topology.pod_by_host_mac`."""
        m = canonical_mac(mac)
        return None if m is None else self._pod_host_mac.get(m)

    def interfaces_by_mac(self, mac: str) -> list[Interface]:
        """See :meth:`Topology.interfaces_by_mac`."""
        m = canonical_mac(mac)
        return [] if m is None else list(self._if_mac.get(m, []))

    def interface_by_mac(self, mac: str) -> Interface | None:
        """See :meth:`Topology.interface_by_mac`."""
        found = self.interfaces_by_mac(mac)
        return found[0] if found else None

    def interfaces_of_node(self, node: str) -> list[Interface]:
        """See :meth:`Topology.interfaces_of_node`."""
        return list(self._if_node.get(node, ()))

    def node_by_ip(self, ip: str) -> Node | None:
        """See :meth:`Topology.node_by_ip`."""
        c = canonical_ip(ip)
        if c is None:
            return None
        n = self._node_addr.get(c) or self._node_router.get(c)
        if n is not None:
            return n
        name = self._host_if_node.get(c)
        return self.node(name) if name else None

    def node_by_pod_cidr(self, ip: str) -> Node | None:
        """See :meth:`Topology.node_by_pod_cidr` (remembered per address)."""
        key = ("cidr", ip)
        if key not in self._cache:
            best: tuple[int, Node] | None = None
            c = canonical_ip(ip)
            if c is not None:
                addr = ipaddress.ip_address(c)
                for net, n in self._cidrs:
                    if (
                        addr.version == net.version
                        and addr in net
                        and (best is None or net.prefixlen > best[0])
                    ):
                        best = (net.prefixlen, n)
            self._cache[key] = best[1] if best else None
        return self._cache[key]  # type: ignore[return-value]

    def identity(self, id: int) -> Identity | None:
        """See :meth:`Topology.identity`."""
        found = self._identity.get(id)
        if found is not None:
            return found
        if id in RESERVED_IDENTITIES:
            return Identity(
                source=Source(note="reserved identity, built in"),
                confidence="loaded",
                id=int(id),
                labels=[f"reserved:{RESERVED_IDENTITIES[id]}"],
            )
        return None

    def interfaces_with_address(self, ip: str) -> AddressLookup:
        """See :meth:`Topology.interfaces_with_address`."""
        c = canonical_ip(ip) or str(ip)
        return AddressLookup(
            address=c, matches=tuple(self._addr_ifs.get(c, ())), checked=len(self._checked)
        )
