"""The look-ups of a :class:`~vxlanlens.topology.model.Topology`, by dictionary
(:attr:`Topology.index <vxlanlens.topology.model.Topology.index>`)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .facts import (
    RESERVED_IDENTITIES,
    AddressLookup,
    Identity,
    Interface,
    Node,
    Pod,
    Source,
    canonical_ip,
    canonical_mac,
    conf_rank,
    is_group_mac,
)

if TYPE_CHECKING:
    from .model import Topology

__all__ = ["TopologyIndex"]


_cached_ip = lru_cache(maxsize=1 << 16)(canonical_ip)
_cached_mac = lru_cache(maxsize=1 << 16)(canonical_mac)


def _ip_text(ip: Any) -> str | None:
    """:func:`~vxlanlens.topology.facts.canonical_ip`, remembered per text (the same few
    addresses are looked up for many rows)."""
    return _cached_ip(ip) if type(ip) is str else canonical_ip(ip)


def _mac_text(mac: Any) -> str | None:
    """:func:`~vxlanlens.topology.facts.canonical_mac`, remembered per text."""
    return _cached_mac(mac) if type(mac) is str else canonical_mac(mac)


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
        by_rank = sorted(topology.pods, key=lambda p: conf_rank(p.confidence))  # stable
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
        for i in sorted(topology.interfaces, key=lambda i: conf_rank(i.confidence)):
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
        c = _ip_text(ip)
        return None if c is None else self._pod_ip.get(c)

    def pod_by_mac(self, mac: str) -> Pod | None:
        """See :meth:`Topology.pod_by_mac`."""
        m = _mac_text(mac)
        return None if m is None else self._pod_mac.get(m)

    def pod_by_host_mac(self, mac: str) -> Pod | None:
        """See :meth:`Topology.pod_by_host_mac`."""
        m = _mac_text(mac)
        return None if m is None else self._pod_host_mac.get(m)

    def interfaces_by_mac(self, mac: str) -> list[Interface]:
        """See :meth:`Topology.interfaces_by_mac`."""
        m = _mac_text(mac)
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
        c = _ip_text(ip)
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
            c = _ip_text(ip)
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
        c = _ip_text(ip) or str(ip)
        return AddressLookup(
            address=c, matches=tuple(self._addr_ifs.get(c, ())), checked=len(self._checked)
        )
