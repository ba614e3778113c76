"""Merging topologies from several sources, and linking their facts together.

Rules:

- Facts are taken in order of confidence (loaded, then inferred-high, then inferred-low), so a
  loaded fact always wins over an inferred one.
- Objects are matched by name (nodes, pods by namespace/name, interfaces by node, namespace and
  name), else by MAC or address (an unnamed inferred pod joins the loaded pod with its IP or
  eth0 MAC; an unnamed inferred node joins the loaded node with its underlay address).
- A field that one source leaves empty is filled from another (recorded in ``field_sources``);
  two different values are a :class:`~vxlanlens.topology.model.Conflict` holding both claims and
  their sources; the kept value is the most trusted (the first loaded one at equal trust).

Linking, after merging: a pod's ``eth0@ifN`` is paired with the host interface of ifindex N
whose own peer is the pod's eth0 ifindex (that is the pod's lxc veth); the gateway of a pod's
default route becomes a router IP of its node; CiliumEndpoint node addresses become node
names; objects of a pod's namespace dump take the pod's name once it is known.
"""

from __future__ import annotations

import copy as _copy
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .link import compatible as _compatible
from .link import link as _link
from .model import (
    CONFIDENCES,
    CapturePoint,
    Conflict,
    Identity,
    Interface,
    Node,
    Peer,
    Pod,
    Source,
    Topology,
)

__all__ = ["merge"]


def _rank(c: str) -> int:
    return CONFIDENCES.index(c) if c in CONFIDENCES else len(CONFIDENCES)


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == [] or v is False


class _Merger:
    def __init__(self) -> None:
        self.out = Topology()
        self.alias: dict[str, str] = {}
        # pods by name, eth0 MAC and IP, so that matching a pod is not a scan of all pods
        self._pod_keys: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        self._if_keys: dict[tuple[str, object], list[int]] = defaultdict(list)
        self._dead_pods: set[int] = set()  # pods merged into an earlier one after they were added

    def _index_pod(self, i: int, p: Pod) -> None:
        keys = [("name", p.name), ("mac", p.mac)] + [("ip", ip) for ip in p.ips]
        for key in keys:
            if key[1]:
                at = self._pod_keys[key]
                if i not in at:
                    at.append(i)

    # --- conflicts -------------------------------------------------------------------------
    def conflict(
        self,
        subject: str,
        fname: str,
        kept: Any,
        kept_src: Source,
        kept_conf: str,
        other: Any,
        other_src: Source,
        other_conf: str,
    ) -> None:
        if kept_conf == "loaded" and other_conf == "loaded":
            res = "kept the first loaded value; the dumps disagree"
        elif kept_conf == "loaded":
            res = "kept the loaded value over the inferred one"
        else:
            res = "kept the more confident inferred value"
        self.out.conflicts.append(
            Conflict(
                subject=subject,
                field=fname,
                values=[(kept, kept_src, kept_conf), (other, other_src, other_conf)],
                resolution=res,
            )
        )

    def fields(
        self, subject: str | Callable[[], str], dst: Any, src: Any, names: tuple[str, ...]
    ) -> None:
        """Fill ``dst``'s empty fields ``names`` from ``src``, add list items it lacks and
        record a conflict for every other difference. ``subject`` may be a callable giving it
        (as ``dst`` is named before this call), called only when it is needed."""
        sd, dd = src.__dict__, dst.__dict__  # plain attributes: no getattr per field
        for f in names:
            b = sd[f]
            # most fields of most facts are unset (:func:`_empty`, without a call per field)
            if b is None or b == "" or b == [] or b is False:
                continue
            a = dd[f]
            if a == b and a is not False and not isinstance(a, Peer):
                continue  # the same value (or list): nothing to fill, add, merge or record
            if isinstance(a, list):
                added = False
                for x in b:
                    if x not in a:
                        if not isinstance(subject, str):
                            subject = subject()  # named before anything changes
                        a.append(x)
                        added = True
                if added and src.source != dst.source:
                    dst.field_sources.setdefault(f, (src.source, src.confidence))
                continue
            if not isinstance(subject, str):
                subject = subject()
            if _empty(a):
                setattr(dst, f, b)
                if src.source != dst.source and f != "netns_key":
                    dst.field_sources[f] = (src.source, src.confidence)
                continue
            if isinstance(a, Peer) and isinstance(b, Peer):
                both = _merge_peer(a, b)
                if both is not None:
                    setattr(dst, f, both)
                    continue
            if f == "netns_key":
                if a != b:
                    self.alias[b] = a
                continue
            if a != b:
                ks, kc = dst.field_sources.get(f, (dst.source, dst.confidence))
                self.conflict(subject, f, a, ks, kc, b, src.source, src.confidence)
        if src.field_sources:
            for f, sc in src.field_sources.items():
                dst.field_sources.setdefault(f, sc)

    # --- nodes ---------------------------------------------------------------------------------
    def node(self, n: Node) -> None:
        nodes = self.out.nodes
        ips = {f.value for f in n.addresses}
        match = None
        if n.name:
            match = next((m for m in nodes if m.name == n.name), None)
            if match is None:
                match = next(
                    (m for m in nodes if m.name is None and ips & {f.value for f in m.addresses}),
                    None,
                )
                if match is not None:
                    match.name = n.name
        else:
            match = next((m for m in nodes if ips & {f.value for f in m.addresses}), None)
        if match is None:
            nodes.append(n)
            return
        for attr in ("addresses", "router_ips", "pod_cidrs"):
            have = {f.value for f in getattr(match, attr)}
            for f in getattr(n, attr):
                if f.value not in have:
                    getattr(match, attr).append(f)
                    have.add(f.value)
        if _rank(n.confidence) < _rank(match.confidence):
            match.source, match.confidence = n.source, n.confidence

    # --- interfaces ----------------------------------------------------------------------------
    def _index_iface(self, k: int, i: Interface) -> None:
        for key in (("name", i.name), ("mac", i.mac), ("ifindex", i.ifindex)):
            if key[1] is not None and k not in self._if_keys[key]:
                self._if_keys[key].append(k)

    def interface(self, i: Interface) -> None:
        ifaces = self.out.interfaces
        keys = (("name", i.name), ("mac", i.mac), ("ifindex", i.ifindex))
        near = sorted({k for key in keys if key[1] is not None for k in self._if_keys.get(key, ())})
        for k in near:  # in insertion order, as a scan of every interface would meet them
            m = ifaces[k]
            if not _compatible(m.node, i.node) or not _compatible(m.name, i.name):
                continue
            same = False
            if m.name and i.name and m.name == i.name:
                same = (m.node == i.node or None in (m.node, i.node)) and _ns_compatible(m, i)
                if (
                    same
                    and m.node is None
                    and i.node is None
                    and m.mac
                    and i.mac
                    and m.mac != i.mac
                ):
                    same = False
            elif (m.mac and i.mac and m.mac == i.mac) or (
                m.ifindex is not None
                and m.ifindex == i.ifindex
                and m.node
                and m.node == i.node
                and m.namespace == i.namespace
                and (m.name is None or i.name is None)
            ):
                same = True
            if same:
                self.fields(
                    lambda m=m: f"interface {m.label} on {m.node or '?'}",  # type: ignore[misc]
                    m,
                    i,
                    (
                        "node",
                        "namespace",
                        "name",
                        "mac",
                        "ifindex",
                        "addresses",
                        "peer",
                        "mtu",
                        "pod",
                        "note",
                        "tunnel",
                        "netns_key",
                    ),
                )
                if m.kind == "other" and i.kind != "other":
                    m.kind = i.kind
                self._index_iface(k, m)
                return
        ifaces.append(i)
        self._index_iface(len(ifaces) - 1, i)

    # --- pods ------------------------------------------------------------------------------------
    def _pod_match(self, p: Pod, skip: int = -1) -> int | None:
        """The position of the first pod (in insertion order) that ``p`` is: the same name, or
        on a compatible node the same eth0 MAC or a shared address (``skip``: a position
        left out, the pod itself)."""
        pods, at, dead = self.out.pods, self._pod_keys, self._dead_pods
        near: set[int] = set()
        if p.name:
            near.update(at.get(("name", p.name), ()))
        if p.mac:
            near.update(at.get(("mac", p.mac), ()))
        for ip in p.ips:
            if ip:
                near.update(at.get(("ip", ip), ()))
        near.discard(skip)
        for i in sorted(near) if len(near) > 1 else near:  # as a scan of every pod meets them
            if i in dead:
                continue
            m = pods[i]
            if m.name and p.name:
                if m.name == p.name and _compatible(m.namespace, p.namespace):
                    return i
                continue
            if not _compatible(m.node, p.node):
                continue
            if (m.mac and p.mac and m.mac == p.mac) or (
                not m.host_network and not p.host_network and set(m.ips) & set(p.ips)
            ):
                return i
        return None

    def _pod_into(self, m: Pod, p: Pod) -> None:
        """Merge pod ``p`` into pod ``m`` (``m`` keeps its values; differences are conflicts)."""
        self.fields(
            lambda: f"pod {m.ref}" if m.ref else m.label,  # an unnamed pod's says "pod" already
            m,
            p,
            (
                "namespace",
                "name",
                "node",
                "ips",
                "mac",
                "host_interface",
                "host_mac",
                "endpoint_id",
                "identity",
                "node_ip",
                "netns_key",
            ),
        )
        m.host_network = m.host_network or p.host_network

    def pod(self, p: Pod) -> None:
        pods = self.out.pods
        i = self._pod_match(p)
        if i is None:
            pods.append(p)
            self._index_pod(len(pods) - 1, p)
            return
        while True:
            m = pods[i]
            keys_before = (m.name, m.mac, len(m.ips))  # what the pod is indexed by (ips only grow)
            self._pod_into(m, p)
            if (m.name, m.mac, len(m.ips)) == keys_before:
                return
            self._index_pod(i, m)
            # what it gained may make it a pod met before under its other key (its MAC with one
            # address, its other address without a MAC): the two are one pod, the earlier kept
            j = self._pod_match(m, skip=i)
            if j is None:
                return
            keep, drop = min(i, j), max(i, j)
            self._dead_pods.add(drop)
            i, p = keep, pods[drop]

    def identity(self, ident: Identity) -> None:
        for m in self.out.identities:
            if m.id == ident.id:
                if not m.labels:
                    m.labels = list(ident.labels)
                elif ident.labels and set(m.labels) != set(ident.labels):
                    self.conflict(
                        f"identity {m.id}",
                        "labels",
                        m.labels,
                        m.source,
                        m.confidence,
                        ident.labels,
                        ident.source,
                        ident.confidence,
                    )
                return
        self.out.identities.append(ident)

    def capture(self, c: CapturePoint) -> None:
        for m in self.out.captures:
            if m.capture == c.capture:
                if m.node is None:
                    m.node = c.node
                if m.pod is None:
                    m.pod = c.pod
                return
        self.out.captures.append(c)


def _merge_peer(a: Peer, b: Peer) -> Peer | None:
    out = {}
    for k in ("ifindex", "name", "netns", "netnsid"):
        x, y = getattr(a, k), getattr(b, k)
        if x is not None and y is not None and x != y:
            return None
        out[k] = x if x is not None else y
    return Peer(**out)


def _ns_compatible(a: Interface, b: Interface) -> bool:
    if a.namespace == b.namespace or None in (a.namespace, b.namespace):
        return True
    # an unnamed pod namespace ("pod") can turn out to be a named one
    return "host" not in (a.namespace, b.namespace) and "pod" in (a.namespace, b.namespace)


_ADDERS = {
    "nodes": "node",
    "interfaces": "interface",
    "pods": "pod",
    "identities": "identity",
    "captures": "capture",
}
"""The :class:`_Merger` method that adds each kind of fact."""


def merge(*topologies: Topology, copy: bool = True) -> Topology:
    """One model from several: loaded facts win, conflicts are kept, then facts are linked
    (veth pairs, router IPs, node names). The inputs are not modified, unless ``copy=False``
    (for a caller that throws the inputs away: it saves copying every fact)."""
    src = [_copy.deepcopy(t) for t in topologies] if copy else list(topologies)
    m = _Merger()
    out = m.out
    for kind in _ADDERS:
        items = [x for t in src for x in getattr(t, kind)]
        items.sort(key=lambda x: _rank(x.confidence))
        if kind in _KEYS:
            items = _distinct(items, _KEYS[kind])
        add: Callable[[Any], None] = getattr(m, _ADDERS[kind])
        for x in items:
            add(x)
    seen_r: set[tuple[Any, ...]] = set()
    for r in sorted((r for t in src for r in t.routes), key=lambda x: _rank(x.confidence)):
        rkey = (r.node, r.namespace, r.netns_key, r.family, r.dst, r.via, r.dev, r.table)
        if rkey not in seen_r:
            seen_r.add(rkey)
            out.routes.append(r)
    seen_n: set[tuple[Any, ...]] = set()
    for nb in sorted((n for t in src for n in t.neighbors), key=lambda x: _rank(x.confidence)):
        nkey = (nb.node, nb.namespace, nb.netns_key, nb.ip, nb.dev, nb.lladdr)
        if nkey not in seen_n:
            seen_n.add(nkey)
            out.neighbors.append(nb)
    seen_f: set[tuple[Any, ...]] = set()
    for f in sorted((f for t in src for f in t.fdb), key=lambda x: _rank(x.confidence)):
        fkey = (f.node, f.dev, f.mac, f.dst, f.vni, f.vlan, f.master)
        if fkey not in seen_f:
            seen_f.add(fkey)
            out.fdb.append(f)
    if m._dead_pods:
        out.pods = [p for k, p in enumerate(out.pods) if k not in m._dead_pods]
    for t in src:
        out.conflicts.extend(t.conflicts)
        for attr in ("notes", "sources", "unknown"):
            for x in getattr(t, attr):
                if x not in getattr(out, attr):
                    getattr(out, attr).append(x)
    _link(out, m)
    out.unknown = [u for u in out.unknown if _still_unknown(u, out)]
    return out


def _pod_key(p: Pod) -> tuple[Any, ...]:
    return (
        p.confidence,
        p.namespace,
        p.name,
        p.node,
        tuple(p.ips),
        p.mac,
        p.host_interface,
        p.host_mac,
        p.endpoint_id,
        p.identity,
        p.host_network,
        p.node_ip,
        p.netns_key,
    )


def _interface_key(i: Interface) -> tuple[Any, ...]:
    return (
        i.confidence,
        i.node,
        i.namespace,
        i.name,
        i.kind,
        i.mac,
        i.ifindex,
        tuple(i.addresses),
        i.peer,
        i.mtu,
        i.pod,
        i.note,
        None if i.tunnel is None else repr(sorted(i.tunnel.items())),
        i.netns_key,
    )


_KEYS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "pods": _pod_key,
    "interfaces": _interface_key,
}
"""For the kinds of fact inference states many times over: the value of every field but
where it comes from (``source``, ``field_sources``)."""


def _distinct(items: list[Any], key: Callable[[Any], tuple[Any, ...]]) -> list[Any]:
    """``items`` without the repeats of an earlier fact (equal ``key``). Merging such a repeat
    changes nothing (every field is equal: nothing to fill, add or record) but costs a match;
    inference states the same pod or interface once per capture and conversation. The first
    of each is kept, with its evidence."""
    seen: set[tuple[Any, ...]] = set()
    out: list[Any] = []
    for x in items:
        k = key(x)
        if k not in seen:
            seen.add(k)
            out.append(x)
    return out


def _still_unknown(entry: str, t: Topology) -> bool:
    """Whether an unknown is still unknown once every source is merged, by its ``key`` (plain
    text entries, without a key, are kept)."""
    key = getattr(entry, "key", "")
    if key in ("interface-names", "gateway-addresses"):
        return not any(i.name and i.confidence == "loaded" for i in t.interfaces)
    if key == "pod-names":
        return not any(p.name for p in t.pods)
    if key == "node-names":
        return not any(n.name for n in t.nodes)
    if key == "identity-labels":
        return not any(i.labels and i.confidence == "loaded" for i in t.identities)
    return True
