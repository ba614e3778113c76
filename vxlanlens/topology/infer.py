"""Inferring a topology from a packets table alone (columns of :mod:`vxlanlens.schema`).

Rules, each giving facts with their evidence frames (``capture``, ``frame_no``; a few per fact):

- **Node underlay addresses** (inferred-high): the outer source and destination IPs of
  tunnelled frames. Nodes stay unnamed (``"node 172.18.0.3"``) until a dump names them.
- **Pods behind nodes** (inferred-high): a tunnelled frame whose VNI is a workload identity
  (≥ 256) comes from a pod: its inner source IP and MAC are the pod's eth0 address and MAC, the
  VNI is its identity, and the outer source IP is its node. The inner destination IP lives
  behind the outer destination node (inferred-low: it may be a host address). The inner
  destination MAC of such a frame is the sender's lxc veth (inferred-low).
- **Gateways and their answering MAC** (inferred-high): a Neighbor Solicitation answered by a
  Neighbor Advertisement for the same target, sent to the solicitor: the solicitor is a pod
  (its MAC and address), the target resolves to the answering MAC (a neighbour entry in the
  pod's namespace), and that MAC is the pod's host-side veth (kind ``lxc``). With the R flag
  the target is a router IP of the pod's node. ARP request/reply pairs give the same facts for
  IPv4 (the router IP then with confidence inferred-low). Which interface the answering MAC is
  follows the overlay's datapath (:attr:`~vxlanlens.overlays.Datapath.gateway_mac`): the pod's
  host-side veth (Cilium's eBPF, Calico's proxy ARP), or a bridge or gateway device every pod of
  the node shares (Flannel's cni0, Antrea's antrea-gw0), which is no single pod's veth.
- **Exchanges across the tunnel**: an ARP or NS exchange some capture shows inside a tunnel
  joins hosts of one L2 segment stretched over the overlay: the requester is a host with its
  MAC, addresses and node (inferred-high), the answering MAC is the target's on that segment
  (inferred-low); no gateway or host veth follows from it.
- **Nodes asking for their pods** (inferred-high): a requester that also sends packets from
  another host's address of its family routes them, and so does one that answered an NS as a
  router (NA with the R flag) or that carries the MAC the overlay gives every host veth
  (Calico's ee:ee:ee:ee:ee:ee): it is the node (its bridge or the pod's veth), not a pod, and
  the answer is the MAC of the pod it asked for.
- **Nodes that route natively** (inferred-high, :mod:`._routed`): a known pod's packet outside
  any tunnel, one routed hop from the pod (TTL 63, 127 or 254), comes from its node's NIC; the
  one address ARP or NDP binds to that MAC is the node's, and the pod lives behind it.
- **Pod CIDRs** (inferred-low): the /24 (IPv4) or /64 (IPv6) around the pod IPs seen behind a
  node, when all of them fall into one such prefix and no other node's pods do.
- **SLL2 interface indexes** (inferred-high): ``tcpdump -i any`` frames carry an ifindex of the
  node's root namespace; the one source MAC of an interface's outgoing frames is its MAC unless
  another interface of the capture received frames from that MAC (a tunnel device sends the
  pod's frames out with the pod's MAC), and an interface carrying tunnelled frames is an
  underlay NIC.
- **Capture points**: decided by :func:`~vxlanlens.topology.placement.place` (one place for the
  whole package), here from the captures alone.

What cannot be known from frames is listed in ``Topology.unknown``.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd

from ..overlays._datapath import Datapath
from ..proto import INITIAL_TTLS, UnknownTopic
from ._infer_rows import (
    EVIDENCE_FRAMES,
    _capture_labels,
    _ev,
    _ev_by,
    _ev_of_codes,
    _frames_at,
    _group,
    _ip,
    _is_unicast_global,
    _lists,
    _native,
    _numbers,
    _objects,
    _src,
    _unicast,
    _values,
)
from ._routed import routed_nodes
from .facts import is_group_mac, packed_canonical
from .merge import merge
from .model import (
    Identity,
    Interface,
    Neighbor,
    Node,
    NodeFact,
    Pod,
    Source,
    Topology,
    Unknown,
)
from .placement import apply_placement, interface_macs, place

__all__ = ["EVIDENCE_FRAMES", "infer"]


def infer(
    packets: pd.DataFrame, datapath: Datapath | None = None, dumps: Topology | None = None
) -> Topology:
    """A topology inferred from a packets table: every fact with evidence frames and a
    confidence, plus what could not be known (see the module docstring for the rules).

    ``datapath`` is the overlay's (whose MAC answers a pod's gateway: its host-side veth, a
    bridge or a gateway device); by default the one of the overlay the packets and the loaded
    ``dumps`` show (:func:`vxlanlens.overlays.recognise`), Cilium's when none is recognised.
    No fact of ``dumps`` enters the result."""
    topo = Topology()
    if len(packets) == 0:
        topo.unknown.append("everything: the packets table is empty")
        return topo
    df = pd.DataFrame(
        {
            "_cap": _capture_labels(packets),
            "_fno": packets["frame_no"].astype("int64")
            if "frame_no" in packets.columns
            else pd.Series(range(1, len(packets) + 1), index=packets.index),
        }
    )
    for c in (
        "tunnel",
        "outer_src_ip",
        "outer_dst_ip",
        "outer_src_mac",
        "src_mac",
        "dst_mac",
        "src_ip",
        "dst_ip",
        "vni",
        "icmp_type",
        "nd_target",
        "nd_flags",
        "nd_lladdr",
        "arp_op",
        "arp_sender_mac",
        "arp_sender_ip",
        "arp_target_mac",
        "arp_target_ip",
        "ifindex",
        "pkt_type",
        "ttl",
    ):
        df[c] = _native(packets, c)
    df = df.reset_index(drop=True)

    node_ips = _nodes(df, topo)
    seen = _Seen(df)
    if datapath is None:  # asked this late: the packets' facts may be measured elsewhere
        from ..overlays import recognise

        datapath = recognise(packets, dumps).profile.datapath
    _tunnelled_pods(df, topo, node_ips, datapath)
    _gateways_ns(df, topo, seen, datapath)
    _gateways_arp(df, topo, seen, datapath)
    routed_nodes(df, topo, datapath)
    _sll2(df, topo)
    out = merge(topo, copy=False)
    if "capture" in packets.columns:
        apply_placement(out, place(packets, out))
    _unknowns(out, df)
    return out


def _nodes(df: pd.DataFrame, topo: Topology) -> set[str]:
    rows = np.flatnonzero((df["tunnel"].notna() & df["outer_src_ip"].notna()).to_numpy())
    # the outer addresses as codes of one list of distinct values (sources first, each in
    # order of first appearance): the table's categories are coded already, no value per row
    at: dict[object, int] = {}
    ends: list[np.ndarray] = []
    for c in ("outer_src_ip", "outer_dst_ip"):
        codes, uniques = pd.factorize(df[c].iloc[rows])
        shared = [at.setdefault(v, len(at)) for v in _values(pd.Series(uniques, dtype=object))]
        ends.append(np.array([*shared, -1], dtype=np.int64)[codes])
    values = list(at)
    ips: dict[str, None] = {}
    for ip in values:  # in order of first appearance, sources first
        if ip:
            ips.setdefault(str(ip), None)
    evidence = _ev_of_codes(df, rows, ends, values)
    partner = _dual_stack_partners(df, rows)
    order = {ip: k for k, ip in enumerate(ips)}
    for ip in ips:
        if order.get(partner.get(ip, ""), len(order)) < order[ip]:
            continue  # stated with its partner, the node's other family's address
        addresses = [ip] + ([partner[ip]] if partner.get(ip) in ips else [])
        facts = []
        for a in addresses:
            src = _src(evidence.get(a, ()), "outer (underlay) address of tunnelled frames")
            facts.append(NodeFact(source=src, confidence="inferred-high", value=a, role="address"))
        topo.nodes.append(Node(source=facts[0].source, confidence="inferred-high", addresses=facts))
    return set(ips)


def _dual_stack_partners(df: pd.DataFrame, rows: np.ndarray) -> dict[str, str]:
    """Outer source addresses of two families that are one node's: tunnelled frames from one
    IPv4 and one IPv6 address, and from no other, carry one outer source MAC, which carries
    no other address (a router forwarding several nodes' frames would carry more). A node of a
    dual-stack underlay tunnels each pod family over its own (Flannel's flannel.N and
    flannel-v6.N)."""
    if "outer_src_mac" not in df.columns or not len(rows):
        return {}
    pairs = _objects(df[["outer_src_ip", "outer_src_mac"]].iloc[rows].drop_duplicates())
    macs_of: dict[str, set[str]] = defaultdict(set)
    ips_of: dict[str, set[str]] = defaultdict(set)
    for ip, mac in pairs.itertuples(index=False):
        if ip and mac:
            macs_of[str(ip)].add(str(mac))
            ips_of[str(mac)].add(str(ip))
    out: dict[str, str] = {}
    for ips in ips_of.values():
        if len(ips) != 2:
            continue
        a, b = sorted(ips)
        if (":" in a) == (":" in b):
            continue  # two addresses of one family behind one MAC: not one dual-stack node
        if len(macs_of[a]) == 1 and len(macs_of[b]) == 1:
            out[a], out[b] = b, a
    return out


def _tunnelled_pods(
    df: pd.DataFrame, topo: Topology, node_ips: set[str], datapath: Datapath
) -> None:
    cols = ["_cap", "_fno", "src_ip", "src_mac", "outer_src_ip", "vni", "dst_mac", "dst_ip",
            "outer_dst_ip"]  # fmt: skip
    # the table's own columns: only distinct rows become Python values (:func:`_objects`)
    sel = (df["tunnel"].notna() & df["outer_src_ip"].notna() & df["src_ip"].notna()).to_numpy(
        dtype=bool
    )
    tun = df.loc[sel, cols]
    if tun.empty:
        return
    behind: dict[str, set[str]] = defaultdict(set)
    # senders: workload identity in the VNI → the inner source is a pod
    vni = _numbers(tun["vni"])
    # ARP and Neighbor Discovery inside the tunnel: an answer goes to the asking host's own MAC
    # (hosts of one stretched segment, see _across_tunnel), no VTEP's and no veth's
    icmp = _numbers(df["icmp_type"])
    resolving = (df["arp_op"].notna() | ((icmp >= 133) & (icmp <= 137))).to_numpy(dtype=bool)[sel]
    snd_at = ((vni >= 256) & _unicast(tun["src_ip"])).to_numpy(dtype=bool)
    snd = tun[snd_at]
    keys = snd[["src_ip", "src_mac", "outer_src_ip", "vni", "dst_mac"]]
    if resolving[snd_at].any():
        keys = keys.assign(dst_mac=keys["dst_mac"].where(~resolving[snd_at]))
    keys = _objects(keys.drop_duplicates())
    vnis_seen: set[int] = set()
    # A MAC that is the inner source one way and the inner destination the other way is a
    # VTEP's (Flannel, Calico: inner frames go VTEP MAC to VTEP MAC), not a pod's or a veth's.
    # Only data frames count.
    data = tun[~resolving]
    vteps = set(map(str, data["src_mac"].dropna().unique())) & set(
        map(str, data["dst_mac"].dropna().unique())
    )
    pod_ev = _ev_by(snd, ["src_ip", "outer_src_ip"])
    vni_ev = _ev_by(snd.assign(_vni=_numbers(snd["vni"])), ["_vni"])
    # one Source per pod address, node and VNI, shared by its facts (and their conflicts)
    made: dict[tuple[object, ...], Source] = {}
    stated: set[tuple[object, ...]] = set()
    for row in keys.itertuples(index=False):
        ip, mac, nip, v, dmac = row
        if str(ip) in node_ips:
            continue
        # on a datapath whose inner frames do not carry the pods' MACs (VTEP or virtual MACs),
        # no inner MAC is a pod's, even where one direction only was captured
        vtep = bool(mac) and (str(mac) in vteps or datapath.inner_macs != "pod")
        # the inner destination is the sender's veth unless it is a VTEP's or a group MAC (a
        # solicited-node multicast or broadcast inner frame names no interface)
        host = None
        if dmac and not vtep and str(dmac) not in vteps and not is_group_mac(str(dmac)):
            host = str(dmac)
        fact = (ip, None if vtep else mac, nip, v, host)
        if fact in stated:
            continue  # the same pod fact from frames to other destination MACs
        stated.add(fact)
        frames = pod_ev.get((ip, nip), ())
        src = made.get((ip, nip, v))
        if src is None:
            note = f"inner source of tunnelled frames from node {nip} with VNI {int(v)}"
            src = made[(ip, nip, v)] = _src(frames, note)
        pod = Pod(
            source=src,
            confidence="inferred-high",
            ips=[str(ip)],
            mac=str(mac) if mac and not vtep else None,
            identity=int(v) if datapath.vni_identity else None,
            node_ip=str(nip),
        )
        if host is not None:
            pod.host_mac = host
            veth = made.get((ip, nip))
            if veth is None:
                note = "inner destination MAC of the pod's tunnelled frames: its lxc veth"
                veth = made[(ip, nip)] = _src(frames, note)
            pod.field_sources["host_mac"] = (veth, "inferred-low")
        topo.pods.append(pod)
        behind[str(nip)].add(str(ip))
        if datapath.vni_identity and int(v) not in vnis_seen:
            vnis_seen.add(int(v))
            topo.identities.append(
                Identity(
                    source=_src(vni_ev.get(float(v), vni_ev.get(v, ())), "VNI of tunnelled frames"),
                    confidence="inferred-high",
                    id=int(v),
                )
            )
    # receivers: the inner destination is routed to the outer destination node. That says
    # where its prefix lives, not that a pod has the address (it may not exist: see the
    # no-such-pod lab scenario), so it feeds the pod-CIDR guess only.
    rcv = tun.loc[_unicast(tun["dst_ip"]) & tun["outer_dst_ip"].notna(), ["dst_ip", "outer_dst_ip"]]
    for ip, nip in _objects(rcv.drop_duplicates()).itertuples(index=False):
        if str(ip) not in node_ips:
            behind[str(nip)].add(str(ip))
    _pod_cidrs(topo, behind)


def _pod_cidrs(topo: Topology, behind: dict[str, set[str]]) -> None:
    guesses: dict[str, list[str]] = {}
    for nip, ips in behind.items():
        addrs = [_packed(x) for x in ips]
        nets = []
        for fam, plen in ((4, 24), (6, 64)):
            # the /plen prefixes of this family's addresses, as the integers above the host bits
            size = 4 if fam == 4 else 16
            host_bits = size * 8 - plen
            prefixes = {int.from_bytes(a, "big") >> host_bits for a in addrs if len(a) == size}
            if len(prefixes) == 1:
                net = ipaddress.ip_network((prefixes.pop() << host_bits, plen))
                nets.append(str(net))
        guesses[nip] = nets
    owners: dict[str, int] = defaultdict(int)
    for nets in guesses.values():
        for n in nets:
            owners[n] += 1
    for nip, nets in guesses.items():
        node = next((n for n in topo.nodes if nip in (f.value for f in n.addresses)), None)
        if node is None:
            continue
        for n in nets:
            if owners[n] == 1:
                node.pod_cidrs.append(
                    NodeFact(
                        source=Source(
                            frames=node.addresses[0].source.frames,
                            note="assumed /24 or /64 around the pod IPs seen behind this node",
                        ),
                        confidence="inferred-low",
                        value=n,
                        role="pod-cidr",
                    )
                )


def _packed(text: str) -> bytes:
    """The 4 or 16 bytes of an address (canonical text without a parse in Python)."""
    return packed_canonical(text) or _ip(text).packed


def _gateways_ns(df: pd.DataFrame, topo: Topology, seen: _Seen, dp: Datapath) -> None:
    t = _numbers(df["icmp_type"])
    has_target = df["nd_target"].notna()
    ns = np.flatnonzero(((t == 135) & has_target).to_numpy())
    na = np.flatnonzero(((t == 136) & has_target).to_numpy())
    if not len(ns) or not len(na):
        return
    cols = ("_cap", "_fno", "nd_target", "nd_lladdr", "src_mac", "dst_mac", "nd_flags", "src_ip",
            "outer_src_ip")  # fmt: skip
    q_cap, q_fno, q_target, q_lladdr, q_smac, _, _, q_sip, q_node = _lists(df, ns, cols)
    a_cap, a_fno, a_target, a_lladdr, a_smac, a_dmac, a_flags, _, a_node = _lists(df, na, cols)
    # the solicitor's MAC: the NS's source link-layer option, else the frame's source MAC;
    # the answering MAC likewise from the NA's target link-layer option
    q_sol = [ll if ll is not None else m for ll, m in zip(q_lladdr, q_smac, strict=True)]
    a_mac = [ll if ll is not None else m for ll, m in zip(a_lladdr, a_smac, strict=True)]
    crossed = _crossed(q_target, q_sol, q_node, a_target, a_dmac, a_node)
    # MACs that answered as routers (NA with the R flag): a node's bridge or veth, never a pod
    routers = {
        str(m) for m, f in zip(a_mac, a_flags, strict=True) if m is not None and "R" in str(f or "")
    }
    na_by = _group(zip(a_cap, a_target, strict=True))
    ns_by = _group(zip(q_cap, q_target, q_sol, strict=True))
    for (cap, target, sol), reqs in ns_by.items():
        if not sol:
            continue
        cand = na_by.get((cap, target))
        if cand is None:
            continue
        # NAs sent to the solicitor (or to an unknown MAC): the first few are all we use
        answers = list(
            islice((k for k in cand if a_dmac[k] is None or a_dmac[k] == sol), EVIDENCE_FRAMES)
        )
        if not answers or not a_mac[answers[0]]:
            continue
        ans = str(a_mac[answers[0]])
        flags = str(a_flags[answers[0]] or "")
        router = "R" in flags
        ips = dict.fromkeys(q_sip[k] for k in reqs if q_sip[k] is not None)
        sol_ips = [str(x) for x in ips if _is_unicast_global(x)]
        if (target, sol) in crossed:
            _across_tunnel(
                topo,
                seen,
                "NS/NA",
                (str(sol), sol_ips, _first(q_node, reqs)),
                (str(target), ans, a_node[answers[0]]),
                partial(_pair_frames, (q_cap, q_fno, reqs), (a_cap, a_fno, answers)),
            )
            continue
        frames = _frames_at(q_cap, q_fno, reqs) + _frames_at(a_cap, a_fno, answers)
        _gateway(
            topo, seen, dp, str(sol), sol_ips, str(target), ans, router, frames, "NS/NA", routers
        )


def _gateways_arp(df: pd.DataFrame, topo: Topology, seen: _Seen, dp: Datapath) -> None:
    op = _numbers(df["arp_op"])
    has_mac = df["arp_sender_mac"].notna()
    req = np.flatnonzero(((op == 1) & has_mac & df["arp_target_ip"].notna()).to_numpy())
    rep = np.flatnonzero(((op == 2) & has_mac & df["arp_sender_ip"].notna()).to_numpy())
    if not len(req) or not len(rep):
        return
    cols = ("_cap", "_fno", "arp_target_ip", "arp_sender_mac", "arp_sender_ip", "arp_target_mac",
            "outer_src_ip")  # fmt: skip
    q_cap, q_fno, q_target, q_smac, q_sip, _, q_node = _lists(df, req, cols)
    a_cap, a_fno, _, a_smac, a_sip, a_tmac, a_node = _lists(df, rep, cols)
    crossed = _crossed(q_target, q_smac, q_node, a_sip, a_tmac, a_node)
    rep_by = _group(zip(a_cap, a_sip, strict=True))
    req_by = _group(zip(q_cap, q_target, q_smac, q_sip, strict=True))
    for (cap, target, sol, sip), reqs in req_by.items():
        if sip == target:
            continue  # gratuitous ARP
        cand = rep_by.get((cap, target))
        if cand is None:
            continue
        # replies to the requester (or to an unknown MAC): the first few are all we use
        answers = list(
            islice((k for k in cand if a_tmac[k] is None or a_tmac[k] == sol), EVIDENCE_FRAMES)
        )
        if not answers:
            continue
        ans = str(a_smac[answers[0]])
        sol_ips = [str(sip)] if _is_unicast_global(sip) else []
        if (target, sol) in crossed:
            _across_tunnel(
                topo,
                seen,
                "ARP",
                (str(sol), sol_ips, _first(q_node, reqs)),
                (str(target), ans, a_node[answers[0]]),
                partial(_pair_frames, (q_cap, q_fno, reqs), (a_cap, a_fno, answers)),
            )
            continue
        frames = _frames_at(q_cap, q_fno, reqs) + _frames_at(a_cap, a_fno, answers)
        _gateway(topo, seen, dp, str(sol), sol_ips, str(target), ans, False, frames, "ARP")


def _crossed(
    q_target: list[Any],
    q_sol: list[Any],
    q_node: list[Any],
    a_target: list[Any],
    a_to: list[Any],
    a_node: list[Any],
) -> set[tuple[Any, Any]]:
    """(target, requester MAC) of the ARP / NS exchanges a capture saw inside a tunnel (a
    request, or an answer sent to the requester, with an outer header): the two ends are on
    one L2 segment stretched over the tunnel, whichever capture shows the exchange."""
    out = {(t, m) for t, m, n in zip(q_target, q_sol, q_node, strict=True) if n is not None}
    out.update((t, m) for t, m, n in zip(a_target, a_to, a_node, strict=True) if n is not None)
    return out


def _pair_frames(
    requests: tuple[list[Any], list[Any], list[int]],
    answers: tuple[list[Any], list[Any], list[int]],
) -> tuple[tuple[str, int], ...]:
    """Evidence frames of an exchange: the first few requests', then the answers' (each given as
    capture names, frame numbers and the positions of its rows)."""
    return _frames_at(*requests) + _frames_at(*answers)


def _first(values: list[Any], positions: list[int]) -> str | None:
    """The first non-null value at ``positions``, as text."""
    return next((str(values[k]) for k in positions if values[k] is not None), None)


def _across_tunnel(
    topo: Topology,
    seen: _Seen,
    how: str,
    asker: tuple[str, list[str], str | None],
    answer: tuple[str, str, Any],
    frames: Callable[[], tuple[tuple[str, int], ...]],
) -> None:
    """An ARP or NS exchange that crossed a tunnel: hosts of one L2 segment stretched over
    the overlay (an L2 overlay such as a VXLAN LAN extension, Weave or an OVN logical switch;
    Cilium, Flannel and Calico answer a pod's ARP and NS on its own node). The requester is a
    host with its MAC and addresses; the answer names the MAC the target address has on that
    segment (inferred-low: a proxy across the tunnel could answer for it). No gateway or
    host-side veth follows from it. ``asker`` is (MAC, addresses, outer source address of the
    request) and ``answer`` (target address, answering MAC, outer source address of the
    answer); ``frames`` gives the evidence frames, asked for only when a fact is new."""
    sol, sol_ips, sol_node = asker
    target, ans, ans_node = answer
    node = str(ans_node) if ans_node is not None else None
    key, ans_key = ("across", tuple(sol_ips), sol, sol_node), ("across", target, ans, node)
    if key in seen.stated and ans_key in seen.stated:
        return  # both hosts stated already (from their exchanges with other peers)
    if target in seen.underlay or any(ip in seen.underlay for ip in sol_ips):
        return  # nodes resolving each other on the underlay
    if sol_ips and key not in seen.stated:
        seen.stated.add(key)
        note = f"sent the {how.split('/')[0]} for {target}, carried across the tunnel"
        topo.pods.append(
            Pod(
                source=_src(frames(), note),
                confidence="inferred-high",
                ips=sol_ips,
                mac=sol,
                node_ip=sol_node,
            )
        )
    if _is_unicast_global(target) and ans_key not in seen.stated:
        seen.stated.add(ans_key)
        note = (
            f"answered the {how} of MAC {sol} for {target} across the tunnel: the MAC {target} "
            "has on the stretched L2 segment"
        )
        topo.pods.append(
            Pod(
                source=_src(frames(), note),
                confidence="inferred-low",
                ips=[target],
                mac=ans,
                node_ip=node,
            )
        )


class _Seen:
    """Facts about the whole table that several rules need, computed once."""

    def __init__(self, df: pd.DataFrame) -> None:
        plain = _objects(
            df.loc[
                df["tunnel"].isna() & df["src_mac"].notna() & df["src_ip"].notna(),
                ["src_mac", "src_ip"],
            ]
        )
        pairs = plain.drop_duplicates()
        self.own_ips: dict[str, list[str]] = defaultdict(list)
        """Source IPs of every source MAC's untunnelled frames."""
        for mac, ip in zip(pairs["src_mac"].tolist(), pairs["src_ip"].tolist(), strict=True):
            self.own_ips[str(mac)].append(str(ip))
        self.underlay: set[str] = set()
        """Addresses of the nodes' underlay: the outer addresses of tunnelled frames."""
        to = _objects(
            df.loc[
                df["tunnel"].isna() & df["dst_mac"].notna() & df["dst_ip"].notna(),
                ["dst_mac", "dst_ip"],
            ]
        ).drop_duplicates()
        self.to_ips: dict[str, set[str]] = defaultdict(set)
        """Destination IPs of the untunnelled frames sent to each MAC."""
        for mac, ip in zip(to["dst_mac"].tolist(), to["dst_ip"].tolist(), strict=True):
            self.to_ips[str(mac)].add(str(ip))
        direct = df["tunnel"].isna() & df["src_mac"].notna() & df["src_ip"].notna()
        direct &= df["ttl"].isin(INITIAL_TTLS).fillna(False)
        # not Neighbor Discovery: an eBPF or proxy responder sends NAs from the address it
        # answers for (hop limit 255) without being that host
        direct &= ~df["icmp_type"].isin(_NDP_TYPES).fillna(False)
        first = _objects(df.loc[direct, ["src_mac", "src_ip"]]).drop_duplicates()
        self.own_direct: dict[str, set[str]] = defaultdict(set)
        """Source IPs of each MAC's untunnelled frames that no router forwarded (TTL or hop
        limit still at an initial value), Neighbor Discovery left out: addresses of the host
        with that MAC."""
        for mac, ip in zip(first["src_mac"].tolist(), first["src_ip"].tolist(), strict=True):
            self.own_direct[str(mac)].add(str(ip))
        self.stated: set[tuple[object, ...]] = set()
        """Pods and interfaces the gateway rules stated already (:func:`_gateway`)."""
        for col in ("outer_src_ip", "outer_dst_ip"):
            self.underlay.update(str(x) for x in df[col].dropna().unique())


def _forwards(seen: _Seen, mac: str, own: list[str]) -> bool:
    """Whether ``mac`` sent (untunnelled) packets from an address of the family of its own
    addresses ``own`` that is not one of them: it routes other hosts' packets (a node's bridge
    or veth asking for a pod), it is no pod."""
    if not own:
        return False
    fams = {_ip(x).version for x in own}
    return any(
        _is_unicast_global(ip) and ip not in own and _ip(ip).version in fams
        for ip in seen.own_ips.get(mac, ())
    )


_NDP_TYPES = (133, 134, 135, 136, 137)
"""ICMPv6 types of Neighbor Discovery (router and neighbor solicitation / advertisement,
redirect)."""

"""TTLs / hop limits hosts send with (Linux 64, Windows 128, NDP and some stacks 255)."""


def _answers_for_itself(seen: _Seen, ans: str, target: str) -> bool:
    """Whether the MAC that answered for ``target`` is that host's own: it sends from
    ``target`` with an initial TTL, frames were sent to it, and every one of them is for an
    address it sends from that way (a gateway or a host veth also receives what it forwards to
    other hosts)."""
    own = seen.own_direct.get(ans, set())
    sent_to = seen.to_ips.get(ans, set())
    # with nothing sent to it but the exchange itself, the answer says no more than before
    return target in own and bool(sent_to) and sent_to <= own


def _gateway(
    topo: Topology,
    seen: _Seen,
    dp: Datapath,
    sol: str,
    sol_ips: list[str],
    target: str,
    ans: str,
    router: bool,
    frames: tuple[tuple[str, int], ...],
    how: str,
    routers: frozenset[str] | set[str] = frozenset(),
) -> None:
    if target in seen.underlay or any(ip in seen.underlay for ip in sol_ips):
        return  # nodes resolving each other on the underlay: not a pod and its gateway
    # the node asking for its pod: the requester routes other hosts' packets, answered as a
    # router elsewhere (NA with R), or carries the MAC the overlay gives every host veth
    if sol == dp.shared_host_mac or sol in routers or _forwards(seen, sol, sol_ips):
        if _forwards(seen, ans, [target]):
            return  # what answered routes other hosts' packets too: a node or router, no pod
        _node_asks(topo, dp, sol, sol_ips, target, ans, frames, how)
        return
    if _answers_for_itself(seen, ans, target):
        # a host on the requester's own link answered for its own address (a pod on the same
        # bridge): it is that host, not the requester's gateway or host veth
        if _is_unicast_global(target) and target not in seen.underlay:
            topo.pods.append(
                Pod(
                    source=_src(frames, f"answered the {how} for its own address {target}"),
                    confidence="inferred-high",
                    ips=[target],
                    mac=ans,
                )
            )
        return
    key = f"inferred:{sol}"
    # the solicitor's own addresses: sources of its frames outside tunnels
    for ip in seen.own_ips.get(sol, ()):
        if _is_unicast_global(ip) and str(ip) not in sol_ips and str(ip) != target:
            sol_ips.append(str(ip))
    sol_ips.sort(key=lambda x: _ip(x).version)
    veth = dp.gateway_mac == "host-veth"
    # A pod asking for several targets, all answered by one MAC, is the same pod and the same
    # answering interface each time: stated once, with the first exchange's frames (merging
    # keeps the first of equal facts; building the others cost more than the rest of the rule)
    pkey = ("pod", tuple(sol_ips), sol, ans if veth else None)
    if pkey not in seen.stated:
        seen.stated.add(pkey)
        psrc = _src(frames, f"sent the {how.split('/')[0]} for {target}")
        pod = Pod(source=psrc, confidence="inferred-high", ips=sol_ips, mac=sol)
        if veth:
            pod.host_mac = ans
            pod.field_sources["host_mac"] = (
                _src(frames, f"answered the pod's {how} for {target}"),
                "inferred-high",
            )
        pod.netns_key = key
        topo.pods.append(pod)
    nb = Neighbor(
        source=_src(frames, f"{how} exchange" + (" with the R flag" if router else "")),
        confidence="inferred-high",
        ip=target,
        lladdr=ans,
        router=router,
        state="seen",
    )
    nb.netns_key = key
    topo.neighbors.append(nb)
    what = (
        "the pod's host-side veth"
        if veth
        else f"the {dp.gateway_mac} holding the pods' gateway (answers for every pod of the node)"
    )
    ikey = ("interface", ans, veth)
    if ikey not in seen.stated:
        seen.stated.add(ikey)
        topo.interfaces.append(
            Interface(
                source=_src(frames, f"answered the {how} of pod MAC {sol} for {target}: {what}"),
                confidence="inferred-high",
                namespace="host",
                kind="lxc" if veth else "other",
                mac=ans,
                pod=None,
            )
        )
    if not router and how == "ARP":
        nb.source = _src(frames, "ARP exchange; the target is probably the pod's IPv4 gateway")


def _node_asks(
    topo: Topology,
    dp: Datapath,
    sol: str,
    sol_ips: list[str],
    target: str,
    ans: str,
    frames: tuple[tuple[str, int], ...],
    how: str,
) -> None:
    """A node resolving one of its pods (the requester routes other hosts' packets): the
    answer is the pod's MAC; on a bridge or gateway datapath the requester is that device."""
    if not _is_unicast_global(target):
        return
    asker = f"MAC {sol} ({', '.join(sol_ips)})"
    topo.pods.append(
        Pod(
            source=_src(frames, f"answered the {how} of the node's {asker} for {target}"),
            confidence="inferred-high",
            ips=[target],
            mac=ans,
        )
    )
    if dp.gateway_mac != "host-veth":
        topo.interfaces.append(
            Interface(
                source=_src(
                    frames,
                    f"asked for pod {target} from {', '.join(sol_ips)}, routing other hosts' "
                    f"packets: the {dp.gateway_mac} holding the pods' gateway",
                ),
                confidence="inferred-high",
                namespace="host",
                kind="other",
                mac=sol,
                pod=None,
            )
        )


def _sll2(df: pd.DataFrame, topo: Topology) -> None:
    rows = _objects(df[df["ifindex"].notna()])
    if rows.empty:
        return
    for cap, frames in rows.groupby("_cap", sort=True):
        own = interface_macs(
            frames.rename(columns={"_cap": "capture", "_fno": "frame_no"}).reset_index(drop=True)
        )
        for idx, grp in frames.groupby("ifindex", sort=True):
            mac = own.get(int(idx))
            tunnelled = grp["tunnel"].notna().any()
            kind = "underlay" if tunnelled else "other"
            note = f"SLL2 interface index in capture {cap}" + (
                " carrying tunnelled frames" if tunnelled else ""
            )
            out = grp[(grp["pkt_type"] == "outgoing") & (grp["src_mac"] == mac)]
            topo.interfaces.append(
                Interface(
                    source=_src(_ev(out if mac else grp), note),
                    confidence="inferred-high",
                    namespace="host",
                    kind=kind,
                    mac=mac,
                    ifindex=int(idx),
                )
            )


def _unknowns(topo: Topology, df: pd.DataFrame) -> None:
    u = topo.unknown
    u.append(
        Unknown(
            UnknownTopic.TOPOLOGY,
            "interface names: no `ip addr` dump given; interfaces are known by MAC or ifindex only",
            "interface-names",
        )
    )
    if topo.pods:
        u.append(
            Unknown(
                UnknownTopic.POD,
                "pod names: no pod or endpoint dump given; pods are known by address and MAC",
                "pod-names",
            )
        )
    if topo.nodes:
        u.append(
            Unknown(
                UnknownTopic.NODE,
                "node names: no node dump given; nodes are known by underlay address",
                "node-names",
            )
        )
    else:
        u.append(
            Unknown(
                UnknownTopic.NODE,
                "node addresses: no tunnelled frame in the captures",
                "node-addresses",
            )
        )
    vnis = sorted({i.id for i in topo.identities if i.id >= 256})
    if vnis:
        shown = ", ".join(map(str, vnis[:8])) + (", ..." if len(vnis) > 8 else "")
        u.append(
            Unknown(
                UnknownTopic.IDENTITY,
                f"identity labels: no identity dump given (VNIs seen: {shown})",
                "identity-labels",
            )
        )
    gws = sorted({n.ip for n in topo.neighbors})
    if gws:
        u.append(
            Unknown(
                UnknownTopic.TOPOLOGY,
                "gateway addresses: whether "
                + ", ".join(gws[:4])
                + (" ..." if len(gws) > 4 else "")
                + " is configured on any interface cannot be told without `ip addr` dumps",
                "gateway-addresses",
            )
        )
    if not any(n.pod_cidrs for n in topo.nodes) and topo.nodes:
        u.append(
            Unknown(
                UnknownTopic.TOPOLOGY,
                "pod CIDRs: no CiliumNode/Node dump and too few pod addresses to guess them",
                "pod-cidrs",
            )
        )
