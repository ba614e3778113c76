"""The facts of the topology model: nodes, interfaces, pods, routes, neighbours, identities
and capture points, each with its :class:`Source` and confidence (see
:mod:`vxlanlens.topology.model`), plus the canonical forms of MACs and IPs."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CONFIDENCES",
    "INTERFACE_KINDS",
    "RESERVED_IDENTITIES",
    "AddressLookup",
    "CapturePoint",
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
    "canonical_ip",
    "canonical_mac",
    "conf_rank",
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


def packed_canonical(text: str) -> bytes | None:
    """The 4 or 16 bytes of ``text`` when it is an address in canonical form already, else
    None. Text that the C library formats back unchanged is canonical (dotted quad without
    leading zeros; RFC 5952 IPv6, which is also what ``ipaddress`` writes, except for a dotted
    IPv4 tail, left to ``ipaddress``): no parse in Python."""
    fam = socket.AF_INET6 if ":" in text else socket.AF_INET
    try:
        b = socket.inet_pton(fam, text)
        if socket.inet_ntop(fam, b) == text and (fam == socket.AF_INET or "." not in text):
            return b
    except (OSError, ValueError):
        pass
    return None


def canonical_ip(ip: str | None) -> str | None:
    """``ip`` (optionally with ``/len`` or a ``%zone``) in canonical text form, else ``None``."""
    if ip is None:
        return None
    s = str(ip).strip().split("/")[0].split("%")[0]
    if packed_canonical(s) is not None:
        return s
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        return None


def conf_rank(c: str) -> int:
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
        # kept once made (a source is shared by many facts and conflicts; it never changes)
        text: str | None = self.__dict__.get("_str")
        if text is None:
            text = self._render()
            object.__setattr__(self, "_str", text)
        return text

    def _render(self) -> str:
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
    tunnel: dict[str, Any] | None = None
    """A VXLAN / Geneve device's attributes from ``ip -d link`` (text or JSON): ``kind``
    (``vxlan`` / ``geneve``), ``id`` (VNI), ``dstport``, ``local``, ``remote``, ``dev``,
    ``learning`` and ``udpcsum`` (booleans), each present only when the dump shows it."""
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
            "tunnel": dict(self.tunnel) if self.tunnel else None,
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
class FdbEntry(_Fact):
    """A forwarding-database entry (``bridge fdb show``): on a VXLAN / Geneve device, which
    remote tunnel endpoint (``dst``) frames for ``mac`` are sent to."""

    node: str | None = None
    dev: str | None = None
    """The device (``flannel.1``); ``None`` when the dump was ``bridge fdb show dev X``."""
    mac: str = ""
    dst: str | None = None
    """Remote VTEP address (``dst``)."""
    vni: int | None = None
    port: int | None = None
    vlan: int | None = None
    master: str | None = None
    flags: list[str] = field(default_factory=list)
    """``self``, ``master``, ``extern_learn``, ``offload``, ``sticky``, ``router``, ..."""
    state: str | None = None
    """``permanent``, ``static``, ``stale`` (``None``: a learned, reachable entry)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "node": self.node,
            "dev": self.dev,
            "mac": self.mac,
            "dst": self.dst,
            "vni": self.vni,
            "port": self.port,
            "vlan": self.vlan,
            "master": self.master,
            "flags": list(self.flags),
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


@dataclass(frozen=True)
class AddressLookup:
    """Answer of :meth:`Topology.interfaces_with_address`: the matching interfaces, and how many
    interfaces were checked (zero checked means there was nothing to check against)."""

    address: str
    matches: tuple[Interface, ...]
    checked: int

    def __bool__(self) -> bool:
        return bool(self.matches)
