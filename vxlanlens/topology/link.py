"""Linking a merged topology: pods to nodes and interfaces, veth pairs, host dumps, inferred
nodes folded into named ones, objects that are probably the same (see :func:`link`)."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import replace
from typing import Any, Protocol

from .model import (
    Interface,
    Likeness,
    Neighbor,
    Node,
    NodeFact,
    Pod,
    Route,
    Source,
    Topology,
)

__all__ = ["ConflictRecorder", "compatible", "link"]


class ConflictRecorder(Protocol):
    """What :func:`link` needs of the merger: namespace-key aliases and a conflict log."""

    alias: dict[str, str]

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
        """Record that two sources disagree about ``subject``'s ``fname``."""


def compatible(a: Any, b: Any) -> bool:
    return a is None or b is None or a == b


def link(t: Topology, m: ConflictRecorder) -> None:
    """Link the facts of a merged model in place: pods to their nodes, veth pairs, router
    IPs, node names; conflicts found on the way go to ``m``."""
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
            hi = t.interface_by_mac(p.host_mac)
            if hi is not None and hi.name and hi.namespace == "host":
                p.host_interface = hi.name
                p.field_sources.setdefault("host_interface", (hi.source, hi.confidence))
        if p.host_interface or p.host_mac:
            near = by_mac.get(p.host_mac, []) if p.host_mac else []
            near = near + [i for i in by_name.get(p.host_interface or "", []) if i not in near]
            if len(near) > 1:
                near.sort(key=t.interfaces.index)
            for i in near:
                if i.namespace != "host" or not compatible(i.node, p.node):
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
    gws: list[tuple[str, Route | Neighbor, str]] = [
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
        gw_pod = by_key.get(fact.netns_key) if fact.netns_key else None
        if gw_pod is None and fact.namespace not in (None, "pod"):
            gw_pod = t.pod(fact.namespace)
        n = None
        node_name = (gw_pod.node if gw_pod else None) or fact.node
        if node_name:
            n = _ensure_node(t, node_name, fact.source)
        elif gw_pod is not None and gw_pod.node_ip:
            n = t.node_by_ip(gw_pod.node_ip)
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
            first = nowner.setdefault(f.value, n)
            if first is not n and first.name and n.name:
                m.conflict(
                    f"address {f.value}",
                    "node",
                    first.name,
                    first.source,
                    first.confidence,
                    n.name,
                    f.source,
                    f.confidence,
                )


def _propagate(t: Topology, by_key: dict[str, Pod]) -> None:
    names: dict[int, str] = {}  # each pod's name, made once (no pod changes in this loop)
    for objs in (t.interfaces, t.routes, t.neighbors):
        for o in objs:
            p = by_key.get(o.netns_key) if o.netns_key else None
            if p is None:
                continue
            name = names.get(id(p))
            if name is None:
                name = names[id(p)] = p.ref or p.label
            o.namespace = name
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
    named_by_node: dict[str, list] = {}
    for q in t.pods:
        if q.name and q.node and not q.host_network:
            named_by_node.setdefault(q.node, []).append(q)
    for p in t.pods:
        if p.name or not p.ips:
            continue
        node = p.node or (
            n.label if p.node_ip and (n := t.node_by_ip(p.node_ip)) is not None else None
        )
        target = node_of.get(node or "", node)
        if not target:
            continue
        fams = {":" in ip for ip in p.ips}
        cands = [
            q
            for q in named_by_node.get(target, ())
            if not ({":" in ip for ip in q.ips} & fams)
            and (q.mac is None or p.mac is None or q.mac == p.mac)
        ]
        if len(cands) == 1:
            q = cands[0]
            via = f" (probably {target})" if target != node else ""
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
