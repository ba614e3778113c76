"""Where each capture was taken: decided here, once, with its evidence and confidence.

:func:`place` looks at each capture of a packets table against a topology and gives one
:class:`~vxlanlens.topology.model.CapturePoint` per capture. The rules, strongest first:

1. **Stated** (confidence ``loaded``): the user said it (``capture_at={"label": "NODE[:IFACE]"}``,
   see :func:`parse_capture_at`).
2. **``-i any`` captures** (Linux SLL/SLL2 frames, with an interface index) are node captures,
   never a pod's eth0. Their node is the one whose dumps hold the interface indexes with the
   MACs the capture shows leaving them (an interface's own MAC: the source of its outgoing
   frames that no other interface of the capture received), whose interfaces, lxc veths and
   local pods own the source MACs of outgoing frames, and whose underlay address is the outer
   source of outgoing tunnelled frames (the outer destination of incoming ones). Every SLL2
   interface index is named ``node/interface`` from that node's dumps.
3. **Plain captures with tunnelled frames** (a node's underlay NIC): the node whose underlay
   address is an end of every tunnelled frame. When both ends of one wire are (a capture of a
   two-node conversation), two captures of the same packets tell their sides apart: the capture
   nearer node X sees X→Y packets earlier and Y→X packets later than the other one, which holds
   whatever the offset between their clocks (it compares the two directions); with more
   captures all comparisons must agree, and a capture nearer X than one and nearer Y than
   another sits between the nodes (a mirrored switch port, a tap) and keeps both. Failing that, a
   distinctive word shared by the capture's label and one candidate node's name decides, with
   confidence ``inferred-low``; otherwise both candidates are kept and said.
4. **Plain captures without tunnelled frames**: a pod's eth0 (or its lxc peer, which sees the
   same frames) when the frames go to and from that pod's eth0 MAC or its lxc MAC; a node's NIC
   when they are those of node interfaces named in the dumps.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import TopologyError
from .capture_at import apply_placement, parse_capture_at
from .model import (
    CapturePoint,
    Interface,
    Pod,
    Source,
    Topology,
    canonical_mac,
    is_group_mac,
)

__all__ = [
    "SLL_LINKTYPES",
    "apply_placement",
    "interface_macs",
    "label_codes",
    "parse_capture_at",
    "place",
]

SLL_LINKTYPES = frozenset({113, 276})
"""Linux cooked capture v1 and v2 (``tcpdump -i any``)."""

_EVIDENCE = 5
_GENERIC = frozenset(
    "eth0 eth1 ens3 ens4 ens5 node nodes pod any capture cap pcap pcapng tcpdump if lo underlay "
    "host dump trace out in".split()
)
_KEY = ("outer_src_ip", "outer_dst_ip", "outer_sport", "ip_id", "src_ip", "dst_ip",
        "icmp_type", "echo_id", "echo_seq", "tcp_seq", "tcp_ack", "tcp_flags")  # fmt: skip


@dataclass
class _Vote:
    """Evidence for one node: weight, sentences and frames."""

    weight: float = 0.0
    why: list[str] = field(default_factory=list)
    frames: list[tuple[str, int]] = field(default_factory=list)


def _text(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), None, dtype=object)
    s = df[col]
    return np.asarray(s.astype(object).where(s.notna(), None), dtype=object)


def _firsts(
    cols: list[np.ndarray], mask: np.ndarray | None = None
) -> list[tuple[int, tuple[Any, ...]]]:
    """``(first position, values)`` of every distinct combination of ``cols`` (over the rows of
    ``mask``), in order of first appearance: one pass in pandas, whatever the number of rows
    (nulls come back as ``None``)."""
    pos = np.arange(len(cols[0])) if mask is None else np.flatnonzero(mask)
    if not len(pos):
        return []
    frame = pd.DataFrame({k: c[pos] for k, c in enumerate(cols)})
    first = frame.drop_duplicates()
    return [
        (int(pos[i]), tuple(None if isinstance(v, float) and v != v else v for v in row))
        for i, row in zip(
            first.index.tolist(), first.itertuples(index=False, name=None), strict=True
        )
    ]


def label_codes(labels: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's capture label as a code (``-1`` for none) into the distinct labels as text
    (``str`` of each; labels that print alike share a code): a categorical's own codes when
    its labels print apart, never a string per row."""
    if isinstance(labels.dtype, pd.CategoricalDtype):
        codes, texts = labels.cat.codes.to_numpy(), [str(c) for c in labels.cat.categories]
    else:
        codes, uniques = pd.factorize(labels, use_na_sentinel=True)
        texts = [str(u) for u in uniques]
    names = list(dict.fromkeys(texts))
    if len(names) != len(texts):  # two labels alike as text: one code
        at = {name: k for k, name in enumerate(names)}
        codes = np.array([at[t] for t in texts] + [-1], dtype=np.int32)[codes]
    return codes, names


def place(
    packets: pd.DataFrame,
    topology: Topology,
    capture_at: Mapping[str, str] | Iterable[str] | None = None,
) -> list[CapturePoint]:
    """One :class:`CapturePoint` per capture of ``packets`` (in order of first frame): where it
    was taken, how that was decided, the evidence frames and a confidence (rules in the module
    docstring). ``capture_at`` holds what the user stated (``{label: "NODE[:IFACE]"}`` or
    ``LABEL=NODE[:IFACE]`` strings); a label that names no capture raises
    :class:`~vxlanlens.errors.TopologyError`."""
    stated = parse_capture_at(capture_at)
    if len(packets) == 0 or "capture" not in packets.columns:
        if stated:
            raise TopologyError(f"capture placement for {', '.join(stated)}: no such capture")
        return []
    need = {*_KEY, "tunnel", "frame_no", "ts_ns", "src_mac", "dst_mac", "pkt_type", "ifindex",
            "outer_src_mac", "arp_op", "arp_sender_ip", "arp_sender_mac", "nd_target"}  # fmt: skip
    absent = [k for k in sorted(need) if k not in packets.columns]
    if absent:  # a hand-made table: the rules that need these columns find nothing
        packets = packets.assign(**{k: None for k in absent})
        if "frame_no" in absent:
            packets["frame_no"] = range(1, len(packets) + 1)
        if "ts_ns" in absent:
            packets["ts_ns"] = 0
    keep = [c for c in (*sorted(need), "capture", "linktype", "outer_dst_ip") if c in packets]
    packets = packets[list(dict.fromkeys(keep))]
    codes, names = label_codes(packets["capture"])
    firsts = [k for k in pd.unique(codes).tolist() if k >= 0]  # a frame without a label: none
    labels = [names[k] for k in firsts]
    missing = [k for k in stated if k not in labels]
    if missing:
        raise TopologyError(
            f"capture placement for {', '.join(missing)}: no such capture "
            f"(captures: {', '.join(labels)})"
        )
    if len(firsts) == 1 and not (codes < 0).any():  # one capture: its rows are the table
        groups = {labels[0]: packets}
    else:  # each capture's rows in table order
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(-1, len(names)) + 1, side="left")
        groups = {names[k]: packets.iloc[order[bounds[k] : bounds[k + 1]]] for k in firsts}
    out: dict[str, CapturePoint] = {}
    for c in labels:
        df = groups[c]
        if c in stated:
            out[c] = _stated(c, df, topology, stated[c])
        elif _is_any(df):
            out[c] = _any(c, df, topology)
        elif df["tunnel"].notna().any():
            out[c] = _underlay(c, df, topology)
        else:
            out[c] = _plain(c, df, topology)
    _wire_order(out, groups, topology)
    for cp in out.values():
        if cp.kind == "node" and cp.node is None and len(cp.candidates) == 2:
            _by_name(cp, topology)
        if cp.kind == "node" and cp.node is None and cp.candidates:
            cp.how += "; which of them cannot be told"
    return [out[c] for c in labels]


def _is_any(df: pd.DataFrame) -> bool:
    if "linktype" in df.columns and df["linktype"].isin(SLL_LINKTYPES).any():
        return True
    return "ifindex" in df.columns and bool(df["ifindex"].notna().any())


def _frames(df: pd.DataFrame, mask: Any = None) -> tuple[tuple[str, int], ...]:
    """The first few frames of ``df`` (of its rows where ``mask`` holds): only those become
    Python values."""
    sub = df[["capture", "frame_no"]]
    if mask is not None:
        sub = sub[mask]
    head = sub.iloc[:_EVIDENCE]
    return tuple(
        (str(c), int(n))
        for c, n in zip(
            head["capture"].astype(str).tolist(), head["frame_no"].tolist(), strict=True
        )
    )


def _node_label(t: Topology, ip: str) -> str:
    n = t.node_by_ip(ip)
    return n.label if n is not None else f"node {ip}"


def _node_ip(t: Topology, label: str | None) -> str | None:
    if label is None:
        return None
    n = t.node(label)
    if n is not None and n.addresses:
        return n.addresses[0].value
    if label.startswith("node "):
        return label[5:]
    return None


def _names(node: str, t: Topology, idx_macs: dict[int, str | None]) -> dict[int, str]:
    """SLL2 interface index → ``node/interface`` from the node's dumps (else by kind)."""
    ifs = t.interfaces_of_node(node)
    by_idx: dict[int, list[Interface]] = defaultdict(list)
    for i in ifs:
        if i.ifindex is not None:
            by_idx[i.ifindex].append(i)
    out = {}
    for idx, mac in idx_macs.items():
        cands = by_idx.get(idx, [])
        named = [i for i in cands if i.name and (mac is None or i.mac in (None, mac))]
        if named:
            out[idx] = f"{node}/{named[0].name}"
        elif cands:
            out[idx] = f"{node}/{cands[0].label}"
        elif mac is not None and t.pod_by_host_mac(mac) is not None:
            out[idx] = f"{node}/lxc ifindex {idx}"  # the MAC that answers a pod's gateway
    return out


def interface_macs(df: pd.DataFrame) -> dict[int, str | None]:
    """For the frames of one ``-i any`` capture (``ifindex``, ``pkt_type``, ``src_mac``,
    ``tunnel`` columns): each SLL2 interface index's own MAC: the one source MAC of its outgoing frames, unless
    another interface of the capture received frames from it (then it is forwarded, as the
    pod frames a tunnel device sends out carry the pod's MAC) or it is the sole sender of
    another interface too (a bridge's MAC leaves through the bridge and every port: which one
    owns it the frames do not tell)."""
    idx = pd.to_numeric(df["ifindex"], errors="coerce").astype("float64")
    ptype = _text(df, "pkt_type")
    tunnelled = df["tunnel"].notna().to_numpy() if "tunnel" in df.columns else np.zeros(len(df))
    # a tunnelled frame's own source MAC is the outer one (src_mac is the pod frame's)
    smac = np.where(tunnelled.astype(bool), _text(df, "outer_src_mac"), _text(df, "src_mac"))
    received: dict[str, set[int]] = defaultdict(set)
    sent: dict[int, set[str]] = defaultdict(set)
    out: dict[int, str | None] = {}
    ix = idx.to_numpy()
    for _, (x, m, pt, tu) in _firsts([ix, smac, ptype, tunnelled.astype(bool)], ~np.isnan(ix)):
        i = int(x)
        out.setdefault(i, None)
        if m is None:
            continue
        if pt == "outgoing":
            sent[i].add(str(m))
        elif not tu or pt in ("host", "broadcast", "multicast", "otherhost"):
            received[str(m)].add(i)
    sole: dict[str, list[int]] = defaultdict(list)
    for i, macs in sent.items():
        if len(macs) == 1:
            m = next(iter(macs))
            if not (received.get(m, set()) - {i}) and not is_group_mac(m):
                sole[m].append(i)
    for m, idxs in sole.items():
        if len(idxs) == 1:  # the sole sender of several interfaces: a bridge's MAC on its ports
            out[idxs[0]] = m
    return out


def _any(c: str, df: pd.DataFrame, t: Topology) -> CapturePoint:
    votes: dict[str, _Vote] = defaultdict(_Vote)
    idx_macs = interface_macs(df)
    # 1. interface indexes with their MACs, against every node's dumps
    for node in [n.name for n in t.nodes if n.name]:
        ifs = t.interfaces_of_node(node)
        by_idx = {i.ifindex: i for i in ifs if i.ifindex is not None}
        hits: list[Any] = []
        clash: list[Any] = []
        for idx, mac in idx_macs.items():
            i = by_idx.get(idx)
            if i is None or mac is None or i.mac is None:
                continue
            (hits if i.mac == mac else clash).append(f"{idx} ({i.label}, {mac})")
        if hits and not clash:
            v = votes[node]
            v.weight += 3 * len(hits)
            v.why.append(
                f"interface indexes with their MACs match {node}'s dumps: {', '.join(hits[:4])}"
            )
    ptype = _text(df, "pkt_type")
    smac = _text(df, "src_mac")
    # 2. frames from a pod's eth0 arriving on the interface index of that pod's lxc veth
    ifx = pd.to_numeric(df["ifindex"], errors="coerce").astype("float64").to_numpy()
    tun_rows = df["tunnel"].notna().to_numpy()
    fno = df["frame_no"].to_numpy()
    eligible = ~np.isnan(ifx) & ~tun_rows & (ptype != "outgoing") & (smac != None)  # noqa: E711
    for k, (x, m) in _firsts([ifx, smac], eligible):
        p = t.pod_by_mac(str(m))
        if p is None or not p.node:
            continue
        lxc = next(
            (
                i
                for i in t.interfaces_of_node(p.node)
                if i.ifindex == int(x)
                and ((p.host_interface and i.name == p.host_interface) or i.mac == p.host_mac)
            ),
            None,
        )
        if lxc is not None:
            v = votes[p.node]
            v.weight += 3
            v.why.append(
                f"frames from {m} ({p.label}'s eth0) arrive on interface index {int(x)}, "
                f"{lxc.label}, its lxc veth on {p.node}"
            )
            v.frames.append((c, int(fno[k])))
    # 3. source MACs of outgoing frames: interfaces, lxc veths and pods of one node
    for k, (m,) in _firsts([smac], (ptype == "outgoing") & (smac != None)):  # noqa: E711
        owner = _mac_node(t, m)
        if owner is None:
            continue
        node, what = owner
        v = votes[node]
        v.weight += 1
        v.why.append(f"sends frames from {m} ({what})")
        v.frames.append((c, int(fno[k])))
    # 4. outer addresses of tunnelled frames, by direction
    osrc, odst = _text(df, "outer_src_ip"), _text(df, "outer_dst_ip")
    for k, (pt, a, b) in _firsts([ptype, osrc, odst], tun_rows):
        ip = a if pt == "outgoing" else b if pt == "host" else None
        if ip is None:
            continue
        label = _node_label(t, str(ip))
        v = votes[label]
        side = "source of outgoing" if pt == "outgoing" else "destination of incoming"
        text = f"{ip} is the outer {side} tunnelled frames"
        if text not in v.why:
            v.why.append(text)
            v.weight += 2
        v.frames.append((c, int(fno[k])))
    # 5. the host answering ARP / NDP for a node's address, or asking from it: it is that node
    node_ips = {f.value: n.label for n in t.nodes for f in n.addresses}
    if node_ips:
        op = pd.to_numeric(df["arp_op"], errors="coerce").to_numpy()
        na = pd.to_numeric(df["icmp_type"], errors="coerce").to_numpy() == 136
        own = _text(df, "arp_sender_ip").copy()
        own[~np.isin(op, (1, 2))] = None
        nd: np.ndarray = _text(df, "nd_target")
        own = np.where(na & pd.isna(own), nd, own)
        mine = (ptype == "outgoing") & pd.Series(own, dtype=object).isin(node_ips).to_numpy()
        for k, (ip,) in _firsts([own], mine):
            v = votes[node_ips[str(ip)]]
            v.weight += 3
            v.why.append(f"sends ARP/NDP for {ip}, its own address, from {smac[k]}")
            v.frames.append((c, int(fno[k])))
    cp = CapturePoint(
        source=Source(frames=_frames(df), note="Linux cooked capture (tcpdump -i any)"),
        confidence="inferred-high",
        capture=c,
        kind="node",
        interface="any",
    )
    if not votes:
        cp.how = "tcpdump -i any on a node (Linux cooked frames); no evidence says which node"
        cp.confidence = "inferred-low"
        return cp
    ranked = sorted(votes.items(), key=lambda kv: -kv[1].weight)
    best, v = ranked[0]
    cp.node = best
    cp.node_ip = _node_ip(t, best)
    cp.how = "tcpdump -i any on a node (Linux cooked frames): " + "; ".join(v.why[:4])
    others = [n for n, w in ranked[1:] if w.weight > 0]
    if others:
        cp.how += f" (weaker evidence for {', '.join(others)})"
        if ranked[1][1].weight * 2 > v.weight:
            cp.confidence = "inferred-low"
    cp.source = Source(
        frames=tuple(dict.fromkeys(v.frames))[:_EVIDENCE] or _frames(df),
        note="Linux cooked capture (tcpdump -i any)",
    )
    cp.interfaces = _names(best, t, idx_macs)
    for idx in idx_macs:
        cp.interfaces.setdefault(idx, f"{best}/ifindex {idx}")
    return cp


def _mac_node(t: Topology, mac: str) -> tuple[str, str] | None:
    """The node a unicast MAC lives on, and what it is there, when the model knows."""
    m = canonical_mac(mac)
    if m is None or is_group_mac(m):
        return None
    i = t.interface_by_mac(m)
    if i is not None and i.node and i.namespace in (None, "host"):
        return i.node, f"{i.label} on {i.node}"
    p = t.pod_by_host_mac(m)
    if p is not None and p.node:
        return p.node, f"the lxc veth of {p.label}"
    p = t.pod_by_mac(m)
    if p is not None and p.node:
        return p.node, f"eth0 of {p.label}"
    return None


def _underlay(c: str, df: pd.DataFrame, t: Topology) -> CapturePoint:
    sub = df.loc[  # only the columns read: a copy of every column was the stage's peak
        df["tunnel"].notna() & df["outer_src_ip"].notna() & df["outer_dst_ip"].notna(),
        ["outer_src_ip", "outer_dst_ip", "capture", "frame_no"],
    ]
    ends: Counter[str] = Counter()  # tunnelled frames per node at either end
    pairs = Counter(
        {
            (str(a), str(b)): int(n)
            for (a, b), n in sub.groupby(
                ["outer_src_ip", "outer_dst_ip"], observed=True, sort=False
            )
            .size()
            .items()
        }
    )
    # a node's IPv4 and IPv6 underlay addresses are one end (a dual-stack underlay tunnels
    # each pod family over its own), named by its first address seen
    first: dict[str, str] = {}

    def end(ip: str) -> str:
        n = t.node_by_ip(ip)
        return first.setdefault(n.label if n is not None else ip, ip)

    for (a, b), k in pairs.items():
        for ip in {end(a), end(b)}:
            ends[ip] += k
    always = sorted(ip for ip, k in ends.items() if k == len(sub))
    cp = CapturePoint(
        source=Source(frames=_frames(sub), note="outer addresses of the tunnelled frames"),
        confidence="inferred-high",
        capture=c,
        kind="node",
    )
    if len(always) == 1:
        ip = always[0]
        cp.node, cp.node_ip = _node_label(t, ip), ip
        cp.how = f"{ip} is an end of every tunnelled frame"
    elif len(always) == 2:
        cp.candidates = tuple(always)
        cp.how = f"both {always[0]} and {always[1]} are ends of every tunnelled frame"
    else:
        cp.kind = "mixed"
        cp.how = "tunnelled frames between several pairs of nodes"
    return cp


def _plain(c: str, df: pd.DataFrame, t: Topology) -> CapturePoint:
    pods: Counter[str] = Counter()
    pod_of: dict[str, Pod] = {}
    nodes: Counter[str] = Counter()
    what: dict[str, str] = {}
    for col in ("src_mac", "dst_mac"):
        for m, k in df[col].astype(object).value_counts(dropna=True).items():
            m = canonical_mac(m) if isinstance(m, str) else None
            if m is None or is_group_mac(m):
                continue
            i = t.interface_by_mac(str(m))
            if i is not None and i.kind == "underlay" and i.node and i.confidence == "loaded":
                nodes[i.node] += k
                what.setdefault(i.node, f"{m}, {i.label} of {i.node}")
                continue
            p = t.pod_by_mac(str(m)) or t.pod_by_host_mac(str(m))
            if p is not None and not p.host_network:
                pods[p.label] += k
                pod_of[p.label] = p
                if p.mac == m:  # the pod's own MAC says it best
                    what[p.label] = f"{m}, the pod's eth0 MAC"
                else:
                    what.setdefault(p.label, f"{m}, the MAC of the pod's lxc veth")
    cp = CapturePoint(
        source=Source(frames=_frames(df)), confidence="inferred-high", capture=c, kind="unknown"
    )
    if pods:
        # a pod's own eth0 MAC names it; a host-side MAC may be shared (Calico's ee:ee:...)
        owned = [x for x, _ in pods.most_common() if what.get(x, "").endswith("eth0 MAC")]
        label = owned[0] if owned else pods.most_common(1)[0][0]
        p = pod_of[label]
        cp.kind, cp.pod = "pod", label
        cp.node = p.node if p is not None else None
        if cp.node is None and p is not None and p.node_ip:
            cp.node = _node_label(t, p.node_ip)
        cp.node_ip = _node_ip(t, cp.node)
        cp.how = f"frames to and from {what[label]}"
        if len(pods) > 1:
            cp.how += f" (also frames of {', '.join(x for x in pods if x != label)})"
            cp.confidence = "inferred-low"
        return cp
    if nodes:
        cp.kind = "node"
        if len(nodes) == 1:
            cp.node = next(iter(nodes))
            cp.node_ip = _node_ip(t, cp.node)
            cp.how = f"no tunnelled frame; frames to and from {what[cp.node]}"
        else:
            cp.candidates = tuple(ip for n in nodes if (ip := _node_ip(t, n)))
            cp.how = "no tunnelled frame; frames of the NICs of " + " and ".join(nodes)
        return cp
    arp = _arp_nodes(df, t)
    if arp:
        cp.kind = "node"
        if len(arp) == 1:
            cp.node = _node_label(t, arp[0])
            cp.node_ip = arp[0]
            cp.how = f"no tunnelled frame; ARP of {arp[0]}, a node's address, on this link"
        else:
            cp.candidates = tuple(arp)
            cp.how = (
                "no tunnelled frame; ARP of the nodes' addresses "
                + " and ".join(arp)
                + ", on the link between them"
            )
        return cp
    cp.confidence = "inferred-low"
    cp.how = "no tunnelled frame and no known pod or node MAC"
    return cp


def _arp_nodes(df: pd.DataFrame, t: Topology) -> list[str]:
    """Node addresses that the frames' ARP binds to a MAC (sender of a request or a reply), in
    order of first appearance: a link these nodes' NICs are on. Empty when there are more than
    two (a LAN, not one node's link)."""
    node_ips = {f.value for n in t.nodes for f in n.addresses}
    if not node_ips:
        return []
    op = pd.to_numeric(df["arp_op"], errors="coerce").to_numpy()
    ips = _text(df, "arp_sender_ip")
    macs = _text(df, "arp_sender_mac")
    mine = np.isin(op, (1, 2)) & pd.Series(ips, dtype=object).isin(node_ips).to_numpy()
    mine &= macs != None  # noqa: E711
    found = list(dict.fromkeys(str(ip) for ip in ips[mine]))
    return found if len(found) <= 2 else []


def _keys(df: pd.DataFrame) -> pd.DataFrame:
    """The tunnelled packets of a capture by content (first sighting): the key columns, its
    time ``ts`` (ns) and outer source ``from``."""
    sub = df[df["tunnel"].notna()]
    out = pd.DataFrame({k: _text(sub, k) for k in _KEY})
    out["ts"] = sub["ts_ns"].astype("int64").to_numpy()
    return out.drop_duplicates(list(_KEY)).rename(columns={"outer_src_ip": "from"})


def _wire_order(
    points: dict[str, CapturePoint], groups: dict[str, pd.DataFrame], t: Topology
) -> None:
    """Tell apart the two sides of one wire: of two plain captures of the same packets between
    X and Y, the one nearer X sees X→Y packets earlier and Y→X packets later, relative to the
    other one, whatever the offset between their clocks."""
    plain = [
        c for c, p in points.items() if p.kind == "node" and p.interface != "any" and not p.stated
    ]
    open_ = [c for c in plain if points[c].node is None and len(points[c].candidates) == 2]
    if not open_:
        return
    keys = {c: _keys(groups[c]) for c in plain}
    on = ["from", *_KEY[1:]]
    for a in open_:
        x, y = points[a].candidates
        # every other capture of the same packets gives a verdict; a capture nearer X than one
        # and nearer Y than another lies between the nodes on the wire (a mirrored switch port,
        # a tap): its side cannot be told, so only verdicts that all agree place it
        verdicts: list[tuple[str, str, str, int, float]] = []
        for b in plain:
            if b == a:
                continue
            pb = points[b]
            if pb.node is None and set(pb.candidates) != {x, y}:
                continue
            both = keys[a].merge(keys[b], on=on, suffixes=("_a", "_b"))
            delta = both["ts_b"] - both["ts_a"]
            d_xy, d_yx = delta[both["from"] == x], delta[both["from"] == y]
            if d_xy.empty or d_yx.empty:
                continue
            diff = float(d_xy.median()) - float(d_yx.median())
            if diff == 0:
                continue
            near_a, near_b = (x, y) if diff > 0 else (y, x)
            if pb.node is not None and pb.node_ip not in (None, near_b):
                continue  # b is placed elsewhere: no conclusion
            verdicts.append((near_a, near_b, b, len(both), diff))
        sides = {v[0] for v in verdicts}
        if len(sides) > 1:
            pa = points[a]
            near = {v[2]: v[0] for v in verdicts}
            pa.how += (
                "; it sits between the nodes on the wire ("
                + ", ".join(f"nearer {ip} than {b} is" for b, ip in near.items())
                + "), as a mirrored switch port or a tap does"
            )
            continue
        if not verdicts:
            continue
        # the comparison with the widest gap (the capture farthest along the wire) is cited
        ip, far, other, n, diff = max(verdicts, key=lambda v: abs(v[4]))
        p = points[a]
        p.node, p.node_ip = _node_label(t, ip), ip
        p.confidence = "inferred-high"
        p.how += (
            f"; of the {n} tunnelled packets seen by both {a} and {other}, "
            f"{a} sees those from {ip} earlier and those from {far} later than {other} "
            f"does (by {abs(diff) / 2e3:.1f} µs each way on median, whatever the "
            f"offset between their clocks): {a} is on {ip}'s side"
        )


def _by_name(cp: CapturePoint, t: Topology) -> None:
    """The one candidate node whose name shares a distinctive word with the capture's label."""
    words = {w for w in re.split(r"[^a-z0-9]+", cp.capture.lower()) if w and w not in _GENERIC}
    hits = []
    for ip in cp.candidates:
        node = t.node_by_ip(ip)
        if (
            node is not None
            and node.name
            and words & set(re.split(r"[^a-z0-9]+", node.name.lower()))
        ):
            hits.append((ip, node.name))
    if len(hits) == 1:
        ip, name = hits[0]
        cp.node, cp.node_ip = name, ip
        cp.how += f"; {ip} guessed from the capture's name, which shares a word with {name}"
        cp.confidence = "inferred-low"


def _stated(c: str, df: pd.DataFrame, t: Topology, where: str) -> CapturePoint:
    node_text, _, iface = where.partition(":")
    n = t.node(node_text) or t.node_by_ip(node_text)
    node = n.label if n is not None else node_text
    cp = CapturePoint(
        source=Source(note=f"stated by the user: {c}={where}"),
        confidence="loaded",
        capture=c,
        kind="node",
        node=node,
        node_ip=_node_ip(t, node),
        interface=iface or None,
        stated=True,
    )
    cp.how = f"stated by the user ({where})"
    if n is None:
        cp.how += f"; no dump names a node {node_text}"
    if iface and iface != "any":
        found = next((i for i in t.interfaces_of_node(node) if i.name == iface), None)
        pod = t.pod(iface)
        if found is not None and found.pod and found.kind == "lxc":
            cp.kind, cp.pod = "pod", found.pod
            cp.how += f"; {iface} is the lxc veth of {found.pod} (sees its eth0's frames)"
        elif pod is not None:
            cp.kind, cp.pod, cp.interface = "pod", pod.label, "eth0"
            cp.how += f"; {pod.label}'s eth0"
    if _is_any(df):
        cp.interface = "any" if not iface else cp.interface
        cp.interfaces = _names(node, t, interface_macs(df))
    return cp
