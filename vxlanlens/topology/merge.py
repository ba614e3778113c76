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
import ipaddress
from collections import defaultdict
from dataclasses import replace
from typing import Any

from .model import (
    CONFIDENCES,
    CapturePoint,
    Conflict,
    Identity,
    Interface,
    Likeness,
    Node,
    NodeFact,
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
        self._pod_keys: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._if_keys: dict[tuple[str, object], list[int]] = defaultdict(list)

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

    def fields(self, subject: str, dst: Any, src: Any, names: tuple[str, ...]) -> None:
        for f in names:
            b = getattr(src, f)
            if b is None or _empty(b):  # most fields of most facts are unset
                continue
            a = getattr(dst, f)
            if isinstance(a, list):
                added = False
                for x in b:
                    if x not in a:
                        a.append(x)
                        added = True
                if added and src.source != dst.source:
                    dst.field_sources.setdefault(f, (src.source, src.confidence))
                continue
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
                    f"interface {m.label} on {m.node or '?'}",
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
    def pod(self, p: Pod) -> None:
        pods = self.out.pods
        keys = [("name", p.name), ("mac", p.mac)] + [("ip", ip) for ip in p.ips]
        candidates = sorted({i for key in keys if key[1] for i in self._pod_keys.get(key, ())})
        match = None
        for i in candidates:  # in insertion order, as a scan of every pod would meet them
            m = pods[i]
            if m.name and p.name:
                if m.name == p.name and _compatible(m.namespace, p.namespace):
                    match = (i, m)
                    break
                continue
            if not _compatible(m.node, p.node):
                continue
            if (m.mac and p.mac and m.mac == p.mac) or (
                not m.host_network and not p.host_network and set(m.ips) & set(p.ips)
            ):
                match = (i, m)
                break
        if match is None:
            pods.append(p)
            self._index_pod(len(pods) - 1, p)
            return
        i, m = match
        self.fields(
            f"pod {m.label}",
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
        self._index_pod(i, m)

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


def _compatible(a: Any, b: Any) -> bool:
    return a is None or b is None or a == b


def _ns_compatible(a: Interface, b: Interface) -> bool:
    if a.namespace == b.namespace or None in (a.namespace, b.namespace):
        return True
    # an unnamed pod namespace ("pod") can turn out to be a named one
    return "host" not in (a.namespace, b.namespace) and "pod" in (a.namespace, b.namespace)


def merge(*topologies: Topology, copy: bool = True) -> Topology:
    """One model from several: loaded facts win, conflicts are kept, then facts are linked
    (veth pairs, router IPs, node names). The inputs are not modified, unless ``copy=False``
    (for a caller that throws the inputs away: it saves copying every fact)."""
    src = [_copy.deepcopy(t) for t in topologies] if copy else list(topologies)
    m = _Merger()
    out = m.out
    for kind in ("nodes", "interfaces", "pods", "identities", "captures"):
        items = [x for t in src for x in getattr(t, kind)]
        items.sort(key=lambda x: _rank(x.confidence))
        add = {
            "nodes": m.node,
            "interfaces": m.interface,
            "pods": m.pod,
            "identities": m.identity,
            "captures": m.capture,
        }[kind]
        for x in items:
            add(x)
    seen_r: set[tuple[Any, ...]] = set()
    for r in sorted((r for t in src for r in t.routes), key=lambda x: _rank(x.confidence)):
        key = (r.node, r.namespace, r.netns_key, r.family, r.dst, r.via, r.dev, r.table)
        if key not in seen_r:
            seen_r.add(key)
            out.routes.append(r)
    seen_n: set[tuple[Any, ...]] = set()
    for nb in sorted((n for t in src for n in t.neighbors), key=lambda x: _rank(x.confidence)):
        key = (nb.node, nb.namespace, nb.netns_key, nb.ip, nb.dev, nb.lladdr)
        if key not in seen_n:
            seen_n.add(key)
            out.neighbors.append(nb)
    for t in src:
        out.conflicts.extend(t.conflicts)
        for attr in ("notes", "sources", "unknown"):
            for x in getattr(t, attr):
                if x not in getattr(out, attr):
                    getattr(out, attr).append(x)
    _link(out, m)
    out.unknown = [u for u in out.unknown if _still_unknown(u, out)]
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


def _link(t: Topology, m: _Merger) -> None:
    # pods known by the address of their node (CiliumEndpoint status.networking.node)
    for p in t.pods:
        if p.node is None and p.node_ip:
            n = t.node_by_ip(p.node_ip)
            if n is not None and n.name:
                p.node = n.name
                p.field_sources["node"] = (
                    replace(p.source, note=f"node with address {p.node_ip}"),
                    p.confidence,
                )
    # a pod namespace dump's objects take the pod's identity
    for objs in (t.interfaces, t.routes, t.neighbors, t.pods):
        for o in objs:
            while o.netns_key in m.alias:
                o.netns_key = m.alias[o.netns_key]
    by_key = {p.netns_key: p for p in t.pods if p.netns_key}
    t.invalidate()
    _fold_inferred_nodes(t)
    t.invalidate()
    _propagate(t, by_key)
    _pair_veths(t, by_key)
    _propagate(t, by_key)
    _host_dumps(t)
    # host interfaces named by a pod (endpoint list) ↔ interfaces of that node
    by_mac: dict[str, list[Interface]] = defaultdict(list)
    by_name: dict[str, list[Interface]] = defaultdict(list)
    for i in t.interfaces:
        if i.mac:
            by_mac[i.mac].append(i)
        if i.name:
            by_name[i.name].append(i)
    t.invalidate()  # nodes, names and namespaces were filled in above
    for p in t.pods:
        if p.host_mac and not p.host_interface:
            i = t.interface_by_mac(p.host_mac)
            if i is not None and i.name and i.namespace == "host":
                p.host_interface = i.name
                p.field_sources.setdefault("host_interface", (i.source, i.confidence))
        if p.host_interface or p.host_mac:
            near = by_mac.get(p.host_mac, []) if p.host_mac else []
            near = near + [i for i in by_name.get(p.host_interface or "", []) if i not in near]
            if len(near) > 1:
                near.sort(key=t.interfaces.index)
            for i in near:
                if i.namespace != "host" or not _compatible(i.node, p.node):
                    continue
                if (p.host_mac and i.mac == p.host_mac) or (
                    p.host_interface and i.name == p.host_interface and i.node and i.node == p.node
                ):
                    if i.pod is None and p.ref:
                        i.pod = p.ref
                    if p.host_mac is None and i.mac:
                        p.host_mac = i.mac
                        p.field_sources.setdefault("host_mac", (i.source, i.confidence))
                    if p.node is None and i.node:
                        p.node = i.node
                        p.field_sources.setdefault("node", (i.source, i.confidence))
    # captures and pods known by their node's address
    t.invalidate()
    for c in t.captures:
        # a capture placed on an unnamed node is labelled "node <ip>" until a dump names it
        if c.node_ip and c.node in (None, f"node {c.node_ip}"):
            n = t.node_by_ip(c.node_ip)
            if n is not None and n.name:
                c.node = n.name
    # router IPs from the pods' default routes and from router neighbour entries
    gws = [
        (r.via, r, "gateway of a pod's default route")
        for r in t.routes
        if r.dst == "default" and r.via and r.namespace not in (None, "host")
    ]
    gws += [
        (nb.ip, nb, "a pod's neighbour entry with the router flag")
        for nb in t.neighbors
        if nb.router and nb.namespace != "host" and (nb.netns_key or nb.namespace)
    ]
    for ip, fact, why in gws:
        p = by_key.get(fact.netns_key) if fact.netns_key else None
        if p is None and fact.namespace not in (None, "pod"):
            p = t.pod(fact.namespace)
        n = None
        node_name = (p.node if p else None) or fact.node
        if node_name:
            n = _ensure_node(t, node_name, fact.source)
        elif p is not None and p.node_ip:
            n = t.node_by_ip(p.node_ip)
        if n is None or ipaddress.ip_address(ip).is_link_local:
            continue
        if ip not in {f.value for f in n.router_ips}:
            n.router_ips.append(
                NodeFact(
                    source=replace(fact.source, note=why),
                    confidence=fact.confidence,
                    value=ip,
                    role="router-ip",
                )
            )
    # every node named anywhere exists
    for objs in (t.pods, t.interfaces, t.routes, t.neighbors):
        for o in objs:
            if o.node:
                _ensure_node(t, o.node, o.source)
    # host-network pods: their IP is their node's
    node_ips = {f.value for n in t.nodes for f in n.addresses}
    for p in t.pods:
        if p.ips and not p.host_network and set(p.ips) <= node_ips and p.confidence == "loaded":
            p.host_network = True
    # the same IP claimed by two different named pods, or by two named nodes
    owner: dict[str, Pod] = {}
    for p in t.pods:
        if p.host_network or not p.name:
            continue
        for ip in p.ips:
            q = owner.setdefault(ip, p)
            if q is not p and q.ref != p.ref:
                m.conflict(
                    f"ip {ip}", "pod", q.ref, q.source, q.confidence, p.ref, p.source, p.confidence
                )
    t.invalidate()
    _node_nics_are_not_pods(t)
    _probably_same(t)
    nowner: dict[str, Node] = {}
    for n in t.nodes:
        for f in n.addresses:
            q = nowner.setdefault(f.value, n)
            if q is not n and q.name and n.name:
                m.conflict(
                    f"address {f.value}",
                    "node",
                    q.name,
                    q.source,
                    q.confidence,
                    n.name,
                    f.source,
                    f.confidence,
                )


def _propagate(t: Topology, by_key: dict[str, Pod]) -> None:
    for objs in (t.interfaces, t.routes, t.neighbors):
        for o in objs:
            p = by_key.get(o.netns_key) if o.netns_key else None
            if p is None:
                continue
            o.namespace = p.ref or p.label
            if o.node is None and p.node:
                o.node = p.node
            if isinstance(o, Interface) and o.kind == "pod-eth0":
                o.pod = p.ref


def _fold_inferred_nodes(t: Topology) -> None:
    """An unnamed (inferred) node is a named node when the dumps tie them: its address is the
    node address of a pod placed on the named node, or an address of one of the named node's
    host interfaces in its dumps (its eth0)."""
    ties: list[tuple[str, str, Source]] = []  # (address, node name, why)
    for p in t.pods:
        if p.node and p.node_ip:
            ties.append((p.node_ip, p.node, replace(p.source, note=f"node address of {p.label}")))
    for i in t.interfaces:
        if i.namespace == "host" and i.node and i.confidence == "loaded":
            for ip in i.ips():
                ties.append((ip, i.node, replace(i.source, note=f"address of {i.label}")))
    for ip, name, why in ties:
        named = t.node(name)
        if named is None:
            continue
        for u in list(t.nodes):
            if u.name is None and ip in (f.value for f in u.addresses):
                for attr in ("addresses", "router_ips", "pod_cidrs"):
                    have = {f.value for f in getattr(named, attr)}
                    for f in getattr(u, attr):
                        if f.value not in have:
                            getattr(named, attr).append(f)
                named.field_sources.setdefault("addresses", (why, "loaded"))
                t.nodes.remove(u)
                t.invalidate()


def _host_dumps(t: Topology) -> None:
    """An unbound host dump whose node became known (through a veth pair) gives that node all
    its interfaces, its underlay addresses and its cilium_host IPv4 router IP."""
    groups: dict[str, list[Interface]] = {}
    for i in t.interfaces:
        if i.netns_key and i.netns_key.startswith("host@"):
            groups.setdefault(i.netns_key, []).append(i)
    for members in groups.values():
        nodes = {i.node for i in members if i.node}
        if len(nodes) != 1:
            continue
        name = next(iter(nodes))
        n = _ensure_node(t, name, members[0].source)
        for i in members:
            if i.node is None:
                i.node = name
                i.field_sources.setdefault(
                    "node", (replace(i.source, note="same dump as a paired veth"), "loaded")
                )
            for ip in i.ips():
                if ipaddress.ip_address(ip).is_link_local:
                    continue
                if i.kind == "underlay" and ip not in {f.value for f in n.addresses}:
                    n.addresses.append(
                        NodeFact(source=i.source, confidence="loaded", value=ip, role="address")
                    )
                if (
                    i.kind == "cilium_host"
                    and ipaddress.ip_address(ip).version == 4
                    and ip not in {f.value for f in n.router_ips}
                ):
                    n.router_ips.append(
                        NodeFact(
                            source=replace(i.source, note="IPv4 address of cilium_host"),
                            confidence="loaded",
                            value=ip,
                            role="router-ip",
                        )
                    )


def _ensure_node(t: Topology, name: str, source: Source) -> Node:
    n = t.node(name)
    if n is None:
        n = Node(source=source, confidence="loaded", name=name)
        t.nodes.append(n)
    return n


def _pair_veths(t: Topology, by_key: dict[str, Pod]) -> None:
    host_by_idx: dict[int, list[Interface]] = {}
    for i in t.interfaces:
        if i.namespace == "host" and i.ifindex is not None and i.confidence == "loaded":
            host_by_idx.setdefault(i.ifindex, []).append(i)
    for i in t.interfaces:
        if i.kind != "pod-eth0" or i.peer is None or i.peer.ifindex is None:
            continue
        p = by_key.get(i.netns_key) if i.netns_key else (t.pod(i.pod) if i.pod else None)
        if p is None:
            continue
        cands = [
            h
            for h in host_by_idx.get(i.peer.ifindex, [])
            if h.peer is not None
            and h.peer.ifindex is not None
            and h.peer.ifindex == i.ifindex
            and (p.node is None or h.node in (None, p.node))
        ]
        nodes = {h.node for h in cands}
        if len(cands) != 1:
            if len(cands) > 1:
                t.notes.append(
                    f"{p.label}: eth0@if{i.peer.ifindex} matches {len(cands)} host interfaces on "
                    f"nodes {sorted(map(str, nodes))}; bind the dump with NODE/POD=PATH"
                )
            continue
        h = cands[0]
        note = f"veth pair: {i.name}@if{i.peer.ifindex} in the pod, {h.name}@if{h.peer.ifindex} on the node"  # type: ignore[union-attr]
        why = replace(h.source, note=note)
        if p.host_interface is None:
            p.host_interface = h.name
            p.field_sources["host_interface"] = (why, "loaded")
        if p.host_mac is None and h.mac:
            p.host_mac = h.mac
            p.field_sources["host_mac"] = (why, "loaded")
        if p.node is None and h.node:
            p.node = h.node
            p.field_sources["node"] = (why, "loaded")
            i.node = h.node
        if h.pod is None:
            h.pod = p.ref
        if h.node is None and p.node:
            h.node = p.node
            h.field_sources["node"] = (
                replace(i.source, note=f"veth peer of {p.label}'s eth0"),
                p.confidence,
            )


def _node_nics_are_not_pods(t: Topology) -> None:
    """An unnamed pod inferred from an ARP/NS exchange whose MAC is a host interface of a node
    in the dumps (its eth0) is that node resolving a neighbour on the underlay, not a pod: the
    pod and the neighbour entry inferred with it are dropped, with a note."""
    drop: set[int] = set()
    for p in t.pods:
        if p.name or p.confidence == "loaded" or not p.mac:
            continue
        i = t.interface_by_mac(p.mac)
        if i is not None and i.confidence == "loaded" and i.namespace == "host" and i.node:
            drop.add(id(p))
            t.notes.append(
                f"{p.label}: not a pod; {p.mac} is {i.label} of {i.node} ({i.source}), so its "
                f"ARP/NS ({p.source}) is the node resolving a neighbour"
            )
    if not drop:
        return
    keys = {p.netns_key for p in t.pods if id(p) in drop and p.netns_key}
    t.pods = [p for p in t.pods if id(p) not in drop]
    t.neighbors = [n for n in t.neighbors if not (n.confidence != "loaded" and n.netns_key in keys)]
    t.invalidate()


def _probably_same(t: Topology) -> None:
    """Objects that are probably one, with the evidence, when nothing ties them for sure: the
    one unnamed node and the one named node without an underlay address; an unnamed pod and
    the one named pod of its node that has no address of the unnamed pod's family."""
    t.probable = []
    unnamed = [n for n in t.nodes if not n.name and n.addresses]
    bare = [n for n in t.nodes if n.name and not n.addresses]
    node_of: dict[str, str] = {}  # unnamed node label -> probable name
    for u in unnamed:
        cidrs = [
            (ipaddress.ip_network(f.value, strict=False), n.name)
            for n in t.nodes
            if n.name
            for f in n.pod_cidrs
            if f.confidence == "loaded"
        ]
        addrs = {f.value for f in u.addresses}
        by_cidr = {
            name
            for p in t.pods
            if p.node_ip in addrs
            for ip in p.ips
            for net, name in cidrs
            if ipaddress.ip_address(ip) in net
        }
        if len(by_cidr) == 1:
            name = next(iter(by_cidr))
            why = f"pods behind {u.label} have addresses in {name}'s pod CIDR"
        elif len(unnamed) == 1 and len(bare) == 1:
            name = str(bare[0].name)
            named = [n.name for n in t.nodes if n.name and n.addresses]
            why = (
                f"the captures show {u.label} and the dumps name {bare[0].name} with no address "
                + (
                    f"(the other nodes' addresses are known: {', '.join(map(str, named))})"
                    if named
                    else ""
                )
            ).rstrip()
        else:
            continue
        node_of[u.label] = name
        t.probable.append(Likeness(subject=u.label, other=name, why=why))
    for p in t.pods:
        if p.name or not p.ips:
            continue
        node = p.node or (
            n.label if p.node_ip and (n := t.node_by_ip(p.node_ip)) is not None else None
        )
        name = node_of.get(node or "", node)
        if not name:
            continue
        fams = {":" in ip for ip in p.ips}
        cands = [
            q
            for q in t.pods
            if q.name
            and q.node == name
            and not q.host_network
            and not ({":" in ip for ip in q.ips} & fams)
            and (q.mac is None or p.mac is None or q.mac == p.mac)
        ]
        if len(cands) == 1:
            q = cands[0]
            via = f" (probably {name})" if name != node else ""
            t.probable.append(
                Likeness(
                    subject=p.label,
                    other=str(q.label),
                    why=(
                        f"{p.label} is on {node}{via}, where the dumps list one pod with no "
                        f"{' or '.join('IPv6' if v6 else 'IPv4' for v6 in sorted(fams))} "
                        f"address: {q.label} "
                        f"({', '.join(q.ips) or 'no address'})"
                    ),
                )
            )
