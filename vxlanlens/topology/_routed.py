"""Nodes that route their pods' packets without a tunnel (native routing: Calico CrossSubnet
within a subnet, BGP or ``Never`` mode, Cilium's native routing), inferred from frames alone.

A pod sends with an initial TTL (64, 128 or 255) or hop limit; the first router its packet
crosses is its own node, which decrements it once and sends the packet out of its NIC from that
NIC's MAC. So a pod's packet seen outside any tunnel with its TTL exactly one below an initial
value, from a MAC that ARP or NDP binds to an address that is not a pod's, was sent by the pod's
node, and that address is the node's: the pod lives behind it. A router between subnets would
have decremented the TTL a second time, and a node's own veth or bridge (Calico's
``ee:ee:ee:ee:ee:ee``, Flannel's ``cni0``) answers for a gateway address, a link-local or a pod
subnet address, which are excluded. A packet to a known pod from an address of the pods'
network (the /16 or /48 around a known pod's) that is no pod yet counts as a pod's packet too:
the answer of a pod no capture shows otherwise. With no pod known at all (no tunnel frame),
two hosts of one link that route addresses one hop behind each of them to each other, in both
directions, are taken for nodes with those pods behind them, with low confidence.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

import numpy as np
import pandas as pd

from ..overlays._datapath import Datapath
from ._infer_rows import _ev, _ip, _is_unicast_global, _numbers, _objects, _src
from .model import Interface, Node, NodeFact, Pod, Topology

__all__ = ["routed_nodes"]

_ONE_HOP = (63, 127, 254)
"""TTL / hop limit after one router, from the usual initial values 64, 128 and 255."""


def _bindings(df: pd.DataFrame) -> dict[str, set[str]]:
    """MAC -> the unicast global addresses ARP (sender of requests and replies) and NDP
    (target of Neighbor Advertisements) bind to it."""
    out: dict[str, set[str]] = defaultdict(set)
    arp = df.loc[df["arp_sender_mac"].notna() & df["arp_sender_ip"].notna()]
    pairs = _objects(arp[["arp_sender_mac", "arp_sender_ip"]].drop_duplicates())
    for mac, ip in pairs.itertuples(index=False):
        out[str(mac)].add(str(ip))
    na = df.loc[(_numbers(df["icmp_type"]) == 136) & df["nd_target"].notna()]
    na = na.loc[na["nd_lladdr"].notna() | na["src_mac"].notna()]
    if not na.empty:
        lladdr = na["nd_lladdr"].astype(object).where(na["nd_lladdr"].notna(), na["src_mac"])
        pairs = _objects(pd.DataFrame({"m": lladdr, "t": na["nd_target"]}).drop_duplicates())
        for mac, ip in pairs.itertuples(index=False):
            out[str(mac)].add(str(ip))
    return out


def _in_pod_subnets(ip: str, topo: Topology) -> bool:
    addr = _ip(ip)
    for n in topo.nodes:
        for f in n.pod_cidrs:
            try:
                if addr in ipaddress.ip_network(str(f.value), strict=False):
                    return True
            except ValueError:
                continue
    return False


def _pod_networks(
    pod_ips: set[str],
) -> set[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The /16 (IPv4) or /48 (IPv6) around each pod address: the pods' network, wider than any
    one node's pod CIDR (a cluster's pod CIDR is usually a /16, IPv6 a /48 or longer)."""
    return {
        ipaddress.ip_network(f"{ip}/{16 if _ip(ip).version == 4 else 48}", strict=False)
        for ip in pod_ips
    }


def _in(ip: str, nets: set[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    addr = _ip(ip)
    return any(addr.version == n.version and addr in n for n in nets)


def _routed_pairs(df: pd.DataFrame, topo: Topology) -> set[str]:
    """With no pod known yet (no tunnel frame), the addresses that two hosts of one link route
    to each other natively, each one routed hop from its own host, in both directions: pods
    behind their nodes. Each is added as a pod (address and node only); gives their addresses.

    A packet from A to B sent from the MAC ARP binds to host N alone (A not N) to the MAC ARP
    binds to host M alone (B not M), with A's TTL one below an initial value, and its answer
    from B to A sent from M's MAC to N's with B's TTL one below: A lives right behind N and B
    right behind M. A router forwarding traffic of the wider world would not show both ends one
    hop away."""
    binds = _bindings(df)
    owner = {mac: next(iter(ips)) for mac, ips in binds.items() if len(ips) == 1}
    if len(owner) < 2:
        return set()
    ttl = _numbers(df["ttl"]).to_numpy()
    rows = (
        df["tunnel"].isna().to_numpy()
        & np.isin(ttl, _ONE_HOP)
        & df["src_mac"].isin(list(owner)).to_numpy()
        & df["dst_mac"].isin(list(owner)).to_numpy()
        & df["src_ip"].notna().to_numpy()
        & df["dst_ip"].notna().to_numpy()
    )
    if not rows.any():
        return set()
    seen = df.loc[rows]
    cols = ["src_mac", "dst_mac", "src_ip", "dst_ip"]
    hops: dict[tuple[str, str, str, str], pd.DataFrame] = {}
    for key, grp in seen.groupby(cols, observed=True, sort=False):
        smac, dmac, sip, dip = (str(v) for v in key)
        n, m = owner[smac], owner[dmac]
        if n == m or sip in (n, m) or dip in (n, m) or smac == dmac:
            continue  # a host's own packet, or one host on both sides: nothing routed across
        if not (_is_unicast_global(sip) and _is_unicast_global(dip)):
            continue
        hops[(smac, dmac, sip, dip)] = grp
    placed: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {}
    for (smac, dmac, sip, dip), grp in hops.items():
        back = hops.get((dmac, smac, dip, sip))
        if back is None:
            continue  # one direction only: not telling who routes what
        placed.setdefault(sip, (owner[smac], _ev(grp)))
        placed.setdefault(dip, (owner[dmac], _ev(back)))
    bound = {ip for ips in binds.values() for ip in ips}
    out: set[str] = set()
    for ip, (node_ip, frames) in placed.items():
        if ip in bound:
            continue  # an address ARP binds on this link is a host of the link, not behind one
        why = (
            f"its packets cross the link one routed hop from it, from the MAC of {node_ip} to "
            "the host that routes the other end's packets back the same way: it lives behind "
            f"{node_ip} (native routing between nodes)"
        )
        topo.pods.append(
            Pod(source=_src(frames, why), confidence="inferred-low", ips=[ip], node_ip=node_ip)
        )
        out.add(ip)
    return out


def routed_nodes(df: pd.DataFrame, topo: Topology, datapath: Datapath) -> None:
    """Add the nodes (address, NIC MAC) that sent known pods' packets one routed hop from the
    pod outside any tunnel, and place those pods behind them (rules in the module docstring)."""
    pod_ips = {ip for p in topo.pods for ip in p.ips}
    # with no pod known from elsewhere, the pods are the routed pairs' ends: what follows
    # rests on that guess alone, so it is told with low confidence
    conf = "inferred-high"
    if not pod_ips:
        pod_ips, conf = _routed_pairs(df, topo), "inferred-low"
    if not pod_ips:
        return
    ttl = _numbers(df["ttl"]).to_numpy()
    known = {str(f.value): n for n in topo.nodes for f in n.addresses}
    from_pod = df["src_ip"].isin(list(pod_ips)).to_numpy()
    # a packet to a known pod from an address of the pods' network that is no pod yet (the
    # answer of a pod no capture shows otherwise) counts as a pod's too
    to_pod = df["dst_ip"].isin(list(pod_ips)).to_numpy() & ~from_pod
    if to_pod.any():
        nets = _pod_networks(pod_ips)
        peers = {
            str(ip)
            for ip in df.loc[to_pod, "src_ip"].dropna().unique()
            if str(ip) not in known and _in(str(ip), nets) and _is_unicast_global(str(ip))
        }
        to_pod &= df["src_ip"].isin(list(peers)).to_numpy()
    rows = (
        df["tunnel"].isna().to_numpy()
        & np.isin(ttl, _ONE_HOP)
        & df["src_mac"].notna().to_numpy()
        & (from_pod | to_pod)
    )
    if not rows.any():
        return
    sent = df.loc[rows]
    pod_macs = {p.mac for p in topo.pods if p.mac} | {p.host_mac for p in topo.pods if p.host_mac}
    shared = {datapath.shared_host_mac} - {None}
    binds = _bindings(df)
    added: dict[str, str] = {}
    for (mac, pod_ip), grp in sent.groupby(["src_mac", "src_ip"], observed=True, sort=False):
        mac, pod_ip = str(mac), str(pod_ip)
        if mac in pod_macs or mac in shared:
            continue
        version = _ip(pod_ip).version
        own = sorted(
            ip
            for ip in binds.get(mac, ())
            if _is_unicast_global(ip)
            and ip not in pod_ips
            and _ip(ip).version == version
            and not _in_pod_subnets(ip, topo)
        )
        if len(own) != 1:
            continue  # no address, or several (a router answering for many): not telling
        node_ip = own[0]
        frames = _ev(grp)
        ttl_seen = int(_numbers(grp["ttl"]).iloc[0])
        why = (
            f"sent pod {pod_ip}'s packets outside any tunnel with TTL {ttl_seen} (one routed "
            f"hop from the pod) from {mac}, which ARP/NDP binds to {node_ip}: the pod's node"
        )
        if node_ip not in known and node_ip not in added:
            src = _src(frames, why)
            topo.nodes.append(
                Node(
                    source=src,
                    confidence=conf,
                    addresses=[
                        NodeFact(source=src, confidence=conf, value=node_ip, role="address")
                    ],
                )
            )
            added[node_ip] = mac
        if node_ip in added and added[node_ip] == mac:
            topo.interfaces.append(
                Interface(
                    source=_src(frames, f"the NIC of node {node_ip}: {why}"),
                    confidence=conf,
                    namespace="host",
                    kind="underlay",
                    mac=mac,
                )
            )
        topo.pods.append(
            Pod(source=_src(frames, why), confidence=conf, ips=[pod_ip], node_ip=node_ip)
        )
