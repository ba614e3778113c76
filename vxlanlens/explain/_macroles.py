"""MACs named by the recognised overlay's datapath when no dump names them.

With captures only, a MAC that is no pod's and no node's underlay NIC's is known to the
topology as an inferred interface of no kind. The overlay's rules often say what it is:

1. where inner frames go from VTEP MAC to VTEP MAC (Flannel, Calico), the inner source MAC of a
   tunnel packet is the sending node's tunnel device (the node by the outer source address; the
   inner destination MAC is what the sender believes the other VTEP's is, and may be stale);
2. where a bridge (Flannel's cni0) or a gateway device (Antrea's antrea-gw0) holds the pods'
   gateway, that device's MAC is the one that answered a pod's ARP or Neighbor Solicitation for
   an address that is no pod's, and the one a pod's packet to another pod is addressed to (or
   comes from, on the receiving pod's link) when it is not that pod's own MAC.

Before them, whatever the overlay: the MAC that ARP or NDP binds to a node's underlay address,
alone (one MAC for the address, one address for the MAC: a router answering for many is left
out), is that node's NIC.

An earlier rule wins over a later one; a MAC one rule would put on two nodes is left unnamed.
Only the NIC rule names anything for Cilium (or when no overlay is recognised): its inner MACs
are the pods' and its gateway answers from each pod's own veth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._rows import as_text, distinct_rows, na

__all__ = ["MacRole", "overlay_macs"]


@dataclass(frozen=True)
class MacRole:
    """What the overlay's datapath says a MAC is."""

    device: str
    """The device's usual name on this overlay (``flannel.1``, ``cni0``, ``vxlan.calico``)."""
    role: str
    """``tunnel``, ``bridge`` or ``gateway`` (the words of ``Datapath.role``)."""
    node: str | None
    """The label of the node it is on, when known."""

    @property
    def label(self) -> str:
        """``flannel.1 on node 172.18.0.4``."""
        return f"{self.device} on {self.node}" if self.node else self.device


def overlay_macs(ctx: Any) -> dict[str, MacRole]:
    """Every MAC of the input that the recognised overlay's datapath names and no dump or pod
    does, with what it is (``ctx``: the explanation's :class:`~.context.Context`)."""
    rules: list[list[tuple[str, MacRole]]] = [_node_nics(ctx)]
    if ctx.overlay is None or ctx.overlay.name in (None, "cilium"):
        return _resolve(ctx, rules)
    dp = ctx.datapath
    tunnelled = _tunnelled(ctx)
    if dp.inner_macs == "vtep":
        rules.append(_vtep_macs(ctx, tunnelled))
    device = None
    if dp.gateway_mac == "bridge" and dp.forwarder not in (None, "eBPF"):
        device = dp.forwarder
    elif dp.gateway_mac == "gateway":
        device = next((p for p in dp.gateway_names if "*" not in p), None)
    if device:
        nodes = _pod_nodes(ctx, tunnelled)
        rules.append(_gateway_answers(ctx, device, dp.gateway_mac, nodes))
        rules.append(_next_hops(ctx, device, dp.gateway_mac, nodes))
    return _resolve(ctx, rules)


def _resolve(ctx: Any, rules: list[list[tuple[str, MacRole]]]) -> dict[str, MacRole]:
    """One role per MAC: the first rule's, a MAC put on two nodes by one rule left out."""
    out: dict[str, MacRole] = {}
    for found in rules:
        by_mac: dict[str, set[MacRole]] = {}
        for mac, role in found:
            if mac not in out and not _known(ctx, mac):
                by_mac.setdefault(mac, set()).add(role)
        for mac, rs in by_mac.items():
            placed = {r for r in rs if r.node is not None} or rs  # a node known beats none
            if len(placed) == 1:
                out[mac] = placed.pop()
    return out


def _unicast(mac: object) -> bool:
    text = str(mac)
    return not na(mac) and len(text) == 17 and not int(text[:2], 16) & 1


def _known(ctx: Any, mac: str) -> bool:
    """Whether a pod or a dump already says what the MAC is."""
    topo = ctx.topology
    pod = topo.pod_by_mac(mac)
    if pod is not None and pod.mac == mac:
        return True
    iface = topo.interface_by_mac(mac)
    return iface is not None and iface.confidence == "loaded"


def _tunnelled(ctx: Any) -> pd.DataFrame:
    """The distinct inner MACs and addresses and outer addresses of the tunnel packets (a
    mirror transport is peeled before the overlay: its VXLAN is never in ``tunnel``)."""
    p = ctx.packets
    cols = ["src_mac", "dst_mac", "src_ip", "outer_src_ip", "outer_dst_ip", "tunnel", "vni"]
    if p.empty or any(c not in p.columns for c in cols):
        return pd.DataFrame(columns=cols)
    # the distinct rows found on the columns' codes, then made text (not every row's text)
    sub = distinct_rows(p.loc[p["tunnel"].notna().to_numpy(), cols], cols)
    return pd.DataFrame({c: (sub[c] if c == "vni" else as_text(sub[c])) for c in cols})


def _text_pairs(
    p: pd.DataFrame, mac: str, ip: str, rows: np.ndarray | None = None
) -> list[tuple[str, str]]:
    """The distinct (``mac``, ``ip``) pairs as text (:func:`as_text`: a null stays null), in
    order of first appearance, of the rows where ``mac`` is known, among ``rows`` (a mask)
    when given, else where ``ip`` is known too."""
    known = p[mac].notna().to_numpy() & (p[ip].notna().to_numpy() if rows is None else rows)
    sub = distinct_rows(p.loc[known, [mac, ip]], [mac, ip])  # two columns, not every one
    return list(zip(as_text(sub[mac]).tolist(), as_text(sub[ip]).tolist(), strict=True))


def _node_nics(ctx: Any) -> list[tuple[str, MacRole]]:
    """(MAC, role) of the node NICs that ARP / NDP binds to a node's underlay address."""
    p = ctx.packets
    pairs: list[tuple[str, str]] = []
    if not p.empty and {"arp_sender_mac", "arp_sender_ip"} <= set(p.columns):
        pairs += _text_pairs(p, "arp_sender_mac", "arp_sender_ip")
    if not p.empty and {"icmp_type", "nd_target", "nd_lladdr"} <= set(p.columns):
        na_rows = (p["icmp_type"] == 136).fillna(False).to_numpy(dtype=bool)
        pairs += _text_pairs(p, "nd_lladdr", "nd_target", na_rows)
    ips_of: dict[str, set[str]] = {}
    macs_of: dict[str, set[str]] = {}
    shared = ctx.datapath.shared_host_mac  # every host veth's (Calico's): no NIC
    for mac, ip in pairs:
        if mac == shared:
            continue
        ips_of.setdefault(mac, set()).add(ip)
        macs_of.setdefault(ip, set()).add(mac)
    out = []
    for mac, ips in ips_of.items():
        if len(ips) != 1 or not _unicast(mac):
            continue
        ip = next(iter(ips))
        node = ctx.topology.node_by_ip(ip)
        if node is None or len(macs_of[ip]) != 1:
            continue
        if ip in {f.value for f in node.addresses}:
            out.append((mac, MacRole("underlay NIC", "underlay", node.label)))
    return out


def _vtep_macs(ctx: Any, tunnelled: pd.DataFrame) -> list[tuple[str, MacRole]]:
    """(MAC, role) of the inner source MACs of tunnel packets: the sending node's VTEP. The
    inner destination MAC is only what the sender's neighbour entry says the other VTEP's is
    (a stale one names no device), so it is named only when that node is seen sending from it;
    no MAC is inferred for a node whose dumps list its tunnel device."""
    dp = ctx.datapath
    dumped = {
        i.node
        for i in ctx.topology.interfaces
        if i.confidence == "loaded" and i.node and dp.role(i.name, i.kind) == "tunnel"
    }
    out = []
    pairs = tunnelled[["src_mac", "outer_src_ip", "tunnel", "vni"]].drop_duplicates()
    for mac, ip, tunnel, vni in pairs.itertuples(index=False, name=None):
        if not _unicast(mac) or na(ip) or ip == "nan":
            continue
        node = ctx.node_label(ip) or f"node {ip}"
        if node in dumped:
            continue
        device = dp.tunnel_device(
            str(tunnel).lower(), None if na(vni) else int(vni), ipv6=":" in ip
        )
        out.append((mac, MacRole(device or "tunnel device", "tunnel", node)))
    return out


def _pod_nodes(ctx: Any, tunnelled: pd.DataFrame) -> dict[str, str]:
    """Pod address → node label, from the tunnel packets' outer source address where no
    pod or pod CIDR of the topology says it (an address sent from two nodes is left out)."""
    seen: dict[str, set[str]] = {}
    for ip, outer in (
        tunnelled[["src_ip", "outer_src_ip"]].drop_duplicates().itertuples(index=False, name=None)
    ):
        if ip != "nan" and outer != "nan":
            seen.setdefault(ip, set()).add(outer)
    return {
        ip: ctx.node_label(next(iter(outer))) or f"node {next(iter(outer))}"
        for ip, outer in seen.items()
        if len(outer) == 1
    }


def _node(ctx: Any, pod: Any, ip: str, nodes: dict[str, str]) -> str | None:
    return pod.node or ctx.node_of_pod_ip(ip) or nodes.get(ip)


def _gateway_answers(
    ctx: Any, device: str, role: str, nodes: dict[str, str]
) -> list[tuple[str, MacRole]]:
    """The MACs that answered a pod's ARP / NS for an address that is no pod's."""
    ex = ctx.exchanges
    if ex.empty or "kind" not in ex.columns:
        return []
    sel = as_text(ex["kind"]).isin(["arp", "nd"]) & (as_text(ex["status"]) == "answered")
    sel &= ex["responder_mac"].notna()
    if not sel.any():
        return []
    rows = ex.loc[sel, ["requester_ip", "requester_mac", "target", "responder_mac"]]
    out = []
    for rip, rmac, target, mac in rows.astype(str).drop_duplicates().itertuples(index=False):
        pod = ctx.pod_of(ip=rip, mac=rmac)
        if pod is None or not _unicast(mac) or ctx.pod_of(ip=target) is not None:
            continue
        out.append((mac, MacRole(device, role, _node(ctx, pod, rip, nodes))))
    return out


def _next_hops(
    ctx: Any, device: str, role: str, nodes: dict[str, str]
) -> list[tuple[str, MacRole]]:
    """The MACs a pod's packet to another pod is routed through, outside the tunnel: on the
    sending pod's link the destination MAC when it is not the receiving pod's, on the
    receiving pod's link the source MAC when it is not the sending pod's."""
    p = ctx.packets
    cols = ["src_mac", "dst_mac", "src_ip", "dst_ip"]
    if p.empty or any(c not in p.columns for c in cols):
        return []
    sel = p["tunnel"].isna().to_numpy() & p["src_ip"].notna().to_numpy()
    sub = p.loc[sel, cols]
    distinct = pd.DataFrame({c: as_text(sub[c]) for c in cols}).drop_duplicates()
    topo = ctx.topology
    out = []
    for smac, dmac, sip, dip in distinct.itertuples(index=False, name=None):
        sender, receiver = topo.pod_by_ip(sip), topo.pod_by_ip(dip)
        if sender is None or receiver is None or sender is receiver:
            continue
        if sender.mac == smac and receiver.mac != dmac and _unicast(dmac):
            out.append((dmac, MacRole(device, role, _node(ctx, sender, sip, nodes))))
        if receiver.mac == dmac and sender.mac != smac and _unicast(smac):
            out.append((smac, MacRole(device, role, _node(ctx, receiver, dip, nodes))))
    return out
