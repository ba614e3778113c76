"""VTEP findings: a stale VTEP MAC in the sender's entries, outer UDP checksums damaged between
the nodes.

- ``stale-vtep-mac``: on an overlay whose inner frames go VTEP MAC to VTEP MAC (Flannel,
  Calico: :attr:`~vxlanlens.overlays.Datapath.inner_macs` ``vtep``), a frame encapsulated to a
  node with an inner destination MAC that is not that node's VTEP MAC: the VTEP MAC the dumps
  give for the node, or the one the node's own tunnelled frames come from, or the receiving
  node's ``-i any`` capture shows the decapsulated frame as not addressed to the device (packet
  type ``otherhost``). The sender's FDB and neighbour entries that still hold the MAC are cited,
  and that no interface of the dumps has the MAC (``unknown-mac`` leaves out the MACs an FDB
  entry maps to a node, so the stale MAC is said once, here).
- ``missing-fdb-entry``: packets an ``-i any`` capture shows leaving through a VTEP device
  (routed to it) that the same capture never shows encapsulated; the node's neighbour entries on
  the device whose MAC no FDB entry of the node maps to a remote are cited.
- ``outer-udp-checksum``: one tunnelled packet seen at two capture points with the same outer
  addresses and UDP length but two different outer UDP checksums, neither of them the
  pseudo-header sum a sender with checksum offload leaves in the field (what a capture on the
  sending node shows before the NIC fills it in: an artefact, never flagged).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

import pandas as pd

from ...proto import ExchangeStatus, Severity
from .._rows import repeated, text_is
from ..context import Context, na
from ..model import Evidence, Finding
from ._registry import FindingSpec, detector
from ._util import MAX_PER_KIND, _dedup, _src_evs

__all__ = [
    "missing_fdb_entry",
    "outer_udp_checksum",
    "partial_checksum",
    "stale_vtep_mac",
    "tunnel_config_mismatch",
]


def _vtep_macs(ctx: Context, node_ip: str) -> tuple[str | None, dict[str, Any]]:
    """The node owning ``node_ip`` (its name) and its VTEP MACs from the dumps:
    ``{mac: interface}`` of its interfaces whose role is ``tunnel``."""
    node = ctx.topology.node_by_ip(node_ip)
    if node is None or not node.name:
        return None, {}
    dp = ctx.datapath
    out = {
        i.mac: i
        for i in ctx.topology.interfaces_of_node(node.name)
        if i.mac and i.namespace in (None, "host") and dp.role(i.name, i.kind) == "tunnel"
    }
    return node.name, out


@detector(
    FindingSpec(
        "stale-vtep-mac",
        Severity.PROBLEM,
        "frames encapsulated to a node with an inner destination MAC that is not its VTEP's "
        "(the sender's FDB / neighbour entries hold an old MAC)",
    )
)
def stale_vtep_mac(ctx: Context) -> list[Finding]:
    """Tunnelled frames whose inner destination MAC is not the receiving node's VTEP MAC."""
    if ctx.datapath.inner_macs != "vtep":
        return []
    p = ctx.packets
    if p.empty or "tunnel" not in p.columns:
        return []
    tun = p[p["tunnel"].notna() & p["outer_dst_ip"].notna() & p["dst_mac"].notna()]
    if tun.empty:
        return []
    # the MACs each node's own VTEP sends from (inner source MACs of its tunnelled frames)
    sends: dict[str, set[str]] = defaultdict(set)
    for ip, mac in tun[["outer_src_ip", "src_mac"]].drop_duplicates().itertuples(index=False):
        if not na(ip) and not na(mac):
            sends[str(ip)].add(str(mac))
    otherhost = _otherhost(p)
    out: list[Finding] = []
    kinds = set(ctx.datapath.tunnel_devices)
    if kinds:  # the overlay's own tunnels only (Flannel's VTEP rules say nothing of Geneve)
        tun = tun[tun["tunnel"].astype(str).isin(kinds)]
    groups = tun.groupby([tun["outer_dst_ip"].astype(str), tun["dst_mac"].astype(str)], sort=False)
    # frames alone (no dump, no otherhost sighting) accuse a MAC only where the VTEP model holds
    # for some other frames: a node receiving at the MAC it sends from (else these are not
    # VTEP-to-VTEP frames at all, e.g. an overlay stated wrongly)
    model_holds = any(mac in sends.get(nip, set()) for nip, mac in groups.groups)
    answered = _answered_requests(ctx)
    for (nip, mac), rows in groups:
        node, known = _vtep_macs(ctx, nip)
        own = set(known) or sends.get(nip, set())
        seen_other = [
            x
            for key in rows[["src_mac", "src_ip", "dst_ip"]]
            .astype(str)
            .drop_duplicates()
            .itertuples(index=False)
            for x in otherhost.get(tuple(key), [])
        ]
        if mac in own or (not own and not seen_other):
            continue
        if not known and not seen_other and not model_holds:
            continue
        if _delivered(ctx, rows, answered):  # the frames got past the VTEP: no stale MAC
            continue
        who = node or f"node {nip}"
        evs = [Evidence(capture=str(c), frame_no=int(f)) for c, f in
               zip(rows["capture"].tolist()[:6], rows["frame_no"].tolist()[:6], strict=True)]  # fmt: skip
        why = []
        if known:
            i = next(iter(known.values()))
            why.append(f"{who}'s VTEP is {i.label} with MAC {', '.join(sorted(known))}")
            evs += _src_evs(i.source)
        elif own:
            why.append(f"{who}'s VTEP sends from {', '.join(sorted(own))}")
        if seen_other:
            why.append(
                f"{who}'s -i any capture shows the decapsulated frame as not addressed to the "
                "device that received it (packet type otherhost) and nothing further"
            )
            evs += [Evidence(capture=c, frame_no=f) for c, f in seen_other[:3]]
        held = _entries(ctx, mac, nip)
        if held:
            why.append(
                "the sender still maps it to " + nip + " in " + "; ".join(t for t, _ in held)
            )
            evs += [e for _, src in held for e in _src_evs(src)]
        nowhere = ctx.loaded and not any(
            i.confidence == "loaded" for i in ctx.topology.interfaces_by_mac(mac)
        )
        if nowhere:
            why.append("no interface of the dumps has that MAC")
        n = len(rows)
        ids = [c for c in ("src_ip", "dst_ip", "ip_id", "outer_src_ip") if c in rows.columns]
        k = len(rows[ids].astype(str).drop_duplicates()) if ids else n
        out.append(
            Finding(
                "stale-vtep-mac",
                Severity.PROBLEM,
                f"{k} packet(s) ({n} observation(s)) were encapsulated to {who} ({nip}) with "
                f"inner destination MAC "
                f"{mac}, which is not its VTEP's MAC: {'; '.join(why)}. A stale VTEP MAC: the "
                "VTEP was re-created with a new MAC (a node restart) and the sender's FDB and "
                "neighbour entries were not updated, so the receiving node drops the frames "
                "after decapsulation.",
                _dedup(evs),
                {
                    "node_ip": nip,
                    "node": node,
                    "inner_dst_mac": mac,
                    "vtep_macs": sorted(own),
                    "frames": n,
                    "mac_on_no_interface": nowhere,
                },
            )
        )
        if len(out) >= MAX_PER_KIND:
            break
    return out


_DELIVERY_CHECKS = 64
"""Frames of a group looked up for a sign that they were delivered (each is a journey look-up)."""


def _answered_requests(ctx: Context) -> set[tuple[str, int]]:
    """``(capture, frame_no)`` of the requests that were answered."""
    ex = ctx.exchanges
    if ex.empty or "request_frame" not in ex.columns:
        return set()
    ok = ex[(ex["status"].astype(object) == ExchangeStatus.ANSWERED.value)]
    ok = ok[ok["request_capture"].notna() & ok["request_frame"].notna()]
    return {
        (str(c), int(f)) for c, f in zip(ok["request_capture"], ok["request_frame"], strict=True)
    }


def _delivered(ctx: Context, rows: pd.DataFrame, answered: set[tuple[str, int]]) -> bool:
    """Whether the captures show tunnelled ``rows`` got past the receiving VTEP: a request
    among them was answered, or their packet was seen later at a pod's interface."""
    for c, f in zip(rows["capture"].tolist()[:_DELIVERY_CHECKS],
                    rows["frame_no"].tolist()[:_DELIVERY_CHECKS], strict=True):  # fmt: skip
        key = (str(c), int(f))
        if key in answered:
            return True
        obs = ctx.journey_frames(*key)
        later = obs[obs.index(key) + 1 :] if key in obs else []
        for oc, _ in later:
            point = ctx.points.get(oc)
            if point is not None and point.kind == "pod":
                return True
    return False


def _otherhost(p: pd.DataFrame) -> dict[tuple[str, str, str], list[tuple[str, int]]]:
    """Untunnelled frames an ``-i any`` capture marks as not addressed to the receiving
    device (``otherhost``; Linux cooked frames carry no destination MAC), by source MAC and
    IP addresses, to be matched with the tunnelled frames that brought them."""
    if "pkt_type" not in p.columns:
        return {}
    rows = p[(p["pkt_type"].astype(object) == "otherhost") & p["tunnel"].isna()]
    out: dict[tuple[str, str, str], list[tuple[str, int]]] = defaultdict(list)
    cols = ["src_mac", "src_ip", "dst_ip", "capture", "frame_no"]
    for mac, sip, dip, c, f in rows[cols].itertuples(index=False):
        if not (na(mac) or na(sip) or na(dip)):
            out[(str(mac), str(sip), str(dip))].append((str(c), int(f)))
    return out


def _entries(ctx: Context, mac: str, node_ip: str) -> list[tuple[str, Any]]:
    """The dumps' FDB entries mapping ``mac`` to ``node_ip`` and neighbour entries resolving
    to ``mac``: ``(text, source)`` each."""
    out: list[tuple[str, Any]] = []
    for e in ctx.topology.fdb:
        if e.mac == mac and e.dst in (None, node_ip):
            where = f"{e.node}'s FDB" if e.node else "an FDB"
            out.append((f"{where} ({e.source})", e.source))
    for nb in ctx.topology.neighbors:
        if nb.lladdr == mac and nb.confidence == "loaded":
            where = f"{nb.node}'s neighbour entry {nb.ip}" if nb.node else f"neighbour {nb.ip}"
            out.append((f"{where} ({nb.source})", nb.source))
    return out[:4]


def partial_checksum(src: str, dst: str, udp_len: int) -> int | None:
    """The value a sender with UDP checksum offload leaves in the field (the folded
    pseudo-header sum, for the NIC to complete), or ``None`` for bad addresses."""
    try:
        a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    except ValueError:
        return None
    total = 17 + udp_len
    for addr in (a, b):
        raw = addr.packed
        total += sum(int.from_bytes(raw[k : k + 2], "big") for k in range(0, len(raw), 2))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


@detector(
    FindingSpec(
        "outer-udp-checksum",
        Severity.PROBLEM,
        "one tunnelled packet with two different outer UDP checksums at two capture points "
        "(damaged between them; checksum offload at the sender is not flagged)",
    )
)
def outer_udp_checksum(ctx: Context) -> list[Finding]:
    """Outer UDP checksums that changed between capture points for one tunnelled packet."""
    j = ctx.journeys
    p = ctx.packets
    if j is None or j.empty or "outer_udp_checksum" not in p.columns:
        return []
    # explain's journey index holds only which frames are one packet: the packets' own
    # columns are looked up at each observation; a checksum can only differ between two
    # observations, so packets seen once are left out first
    j = _seen_twice(j)
    tunnelled = pd.notna(ctx.values_at(j["capture"], j["frame_no"], "tunnel"))
    tj = _seen_twice(j[tunnelled])
    if tj.empty:
        return []
    csum = ctx.values_at(tj["capture"], tj["frame_no"], "outer_udp_checksum")
    ulen = ctx.values_at(tj["capture"], tj["frame_no"], "outer_udp_len")
    srcs = ctx.values_at(tj["capture"], tj["frame_no"], "outer_src_ip")
    dsts = ctx.values_at(tj["capture"], tj["frame_no"], "outer_dst_ip")
    seen: dict[tuple[Any, ...], list[tuple[str, int, int]]] = defaultdict(list)
    for k, (jid, c, f) in enumerate(tj[["journey", "capture", "frame_no"]].itertuples(index=False)):
        v, n, s, d = csum[k], ulen[k], srcs[k], dsts[k]
        if na(v) or na(n) or na(s) or na(d) or int(v) == 0:
            continue  # no checksum computed (0) is allowed for UDP over IPv4
        if int(v) == partial_checksum(str(s), str(d), int(n)):
            continue  # checksum offload: the sender's capture holds the pseudo-header sum
        seen[(jid, str(s), str(d), int(n))].append((str(c), int(f), int(v)))
    bad: dict[tuple[str, str], list[list[tuple[str, int, int]]]] = defaultdict(list)
    for (_, s, d, _), obs in seen.items():
        if len({v for _, _, v in obs}) > 1:
            bad[(s, d)].append(obs)
    out: list[Finding] = []
    for (s, d), packets in list(bad.items())[:MAX_PER_KIND]:
        obs = packets[0]
        side = {o: _node_side(ctx, o[0]) for o in obs}
        first = next((o for o in obs if side[o] == s), obs[0])
        other = next((o for o in obs if o[2] != first[2] and side[o] == d), None) or next(
            o for o in obs if o[2] != first[2]
        )
        where = {s: " (sending node)", d: " (receiving node)"}
        out.append(
            Finding(
                "outer-udp-checksum",
                Severity.PROBLEM,
                f"{len(packets)} tunnelled packet(s) {ctx.ip_text(s)} → {ctx.ip_text(d)} carry "
                "another outer UDP checksum at one capture point than at another: "
                f"0x{first[2]:04x} at {first[0]}#{first[1]}{where.get(side[first] or '', '')}, "
                f"0x{other[2]:04x} at {other[0]}#{other[1]}{where.get(side[other] or '', '')}, "
                "with the same outer addresses and length. The packet was damaged between "
                "these points (the underlay), and a receiver drops a UDP datagram whose "
                "checksum does not verify. A checksum equal to the pseudo-header sum (checksum "
                "offload at the sender, filled in by the NIC) is not counted.",
                [Evidence(capture=c, frame_no=f) for o in packets[:4] for c, f, _ in o][:12],
                {
                    "outer_src_ip": s,
                    "outer_dst_ip": d,
                    "packets": len(packets),
                    "checksums": sorted({v for o in packets for _, _, v in o})[:8],
                },
            )
        )
    return out


def _seen_twice(j: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``j`` (journey observations) whose journey has two or more of them."""
    if j.empty:
        return j
    return j[repeated(j["journey"].to_numpy())]


def _node_side(ctx: Context, capture: str) -> str | None:
    """The underlay address of the node where ``capture`` was taken, when placed."""
    cp = ctx.topology.capture_point(capture)
    if cp is None:
        return None
    if cp.node_ip:
        return str(cp.node_ip)
    node = ctx.topology.node(cp.node) if cp.node else None
    return str(node.addresses[0].value) if node is not None and node.addresses else None


@detector(
    FindingSpec(
        "missing-fdb-entry",
        Severity.PROBLEM,
        "packets routed into a node's VTEP that never left it encapsulated (no FDB entry for "
        "the remote VTEP MAC)",
    )
)
def missing_fdb_entry(ctx: Context) -> list[Finding]:
    """Packets an ``-i any`` capture shows leaving through a VTEP device (routed to it) and the
    same capture never shows encapsulated: the VTEP had no remote to send them to."""
    if ctx.datapath.inner_macs != "vtep":
        return []
    p = ctx.packets
    need = {"ifindex", "pkt_type", "src_ip", "dst_ip", "ip_id", "tunnel", "capture"}
    if p.empty or not need <= set(p.columns):
        return []
    out: list[Finding] = []
    for cp in ctx.topology.captures:
        devs = {
            int(i): name.rsplit("/", 1)[-1]
            for i, name in cp.interfaces.items()
            if ctx.datapath.role(name.rsplit("/", 1)[-1]) == "tunnel"
        }
        if cp.interface != "any" or not devs:
            continue
        # this capture's rows, the columns read here only (not a copy of every column)
        mine = p.loc[
            text_is(p["capture"], cp.capture),
            [c for c in p.columns if c in need or c == "frame_no"],
        ]
        idx = pd.to_numeric(mine["ifindex"], errors="coerce")
        sent = mine[
            idx.isin(list(devs))
            & mine["tunnel"].isna()
            & (mine["pkt_type"].astype(object) == "outgoing")
            & mine["src_ip"].notna()
        ]
        if sent.empty:
            continue
        key = ["src_ip", "dst_ip", "ip_id"]
        tunnelled = mine[mine["tunnel"].notna()][key].astype(str).drop_duplicates()
        seen = set(tunnelled.itertuples(index=False, name=None))
        lost = sent[
            [k not in seen for k in sent[key].astype(str).itertuples(index=False, name=None)]
        ]
        if lost.empty:
            continue
        dev = devs[int(pd.to_numeric(lost["ifindex"]).iloc[0])]
        node = cp.node
        neigh = [
            nb
            for nb in ctx.topology.neighbors
            if nb.node == node and nb.dev == dev and nb.lladdr and nb.confidence == "loaded"
        ]
        have = {e.mac for e in ctx.topology.fdb if e.node == node}
        gaps = [nb for nb in neigh if nb.lladdr not in have]
        dsts = sorted({str(x) for x in lost["dst_ip"]})
        what = f"{dev} on {node or cp.capture}"
        why = ""
        evs = [
            Evidence(capture=str(c), frame_no=int(f))
            for c, f in zip(
                lost["capture"].tolist()[:6], lost["frame_no"].tolist()[:6], strict=True
            )
        ]
        if gaps:
            why = (
                f" The neighbour entr{'y' if len(gaps) == 1 else 'ies'} "
                + ", ".join(f"{nb.ip} → {nb.lladdr} ({nb.source})" for nb in gaps[:3])
                + (" gives" if len(gaps) == 1 else " give")
                + f" the remote VTEP MAC, and no FDB entry of {node} maps "
                + ("it" if len(gaps) == 1 else "them")
                + " to a node"
                + ("" if have else " (no `bridge fdb show` entry of the node in the dumps)")
                + "."
            )
            evs += [e for nb in gaps[:3] for e in _src_evs(nb.source)]
        n = len(lost[key].astype(str).drop_duplicates())
        out.append(
            Finding(
                "missing-fdb-entry",
                Severity.PROBLEM,
                f"{n} packet(s) to {', '.join(dsts[:4])} were routed into {what} (seen leaving "
                f"through it in {cp.capture}) but the same capture never shows them encapsulated: "
                "the VTEP had no remote node to send them to (learning off and no FDB entry for "
                "the destination VTEP MAC), so they never left the node." + why,
                _dedup(evs),
                {
                    "node": node,
                    "device": dev,
                    "packets": n,
                    "destinations": dsts[:20],
                    "vtep_macs": sorted({str(nb.lladdr) for nb in gaps}),
                },
            )
        )
    return out[:MAX_PER_KIND]


_MISMATCH_ATTRS = (("dstport", "UDP port", "outer_dport"), ("id", "VNI", "vni"))


@detector(
    FindingSpec(
        "tunnel-config-mismatch",
        Severity.PROBLEM,
        "the nodes' tunnel devices of one overlay disagree on the UDP port or the VNI "
        "(`ip -d link`); a problem when the captures hold packets sent with the other node's value",
        also=(Severity.WARNING,),
    )
)
def tunnel_config_mismatch(ctx: Context) -> list[Finding]:
    """Tunnel devices of one role and kind whose UDP port or VNI differs between nodes. Devices
    play one role when their names differ only by a number at the end: Flannel names its VTEP
    after the VNI (``flannel.7``), so a node with another VNI has another name (``flannel.8``)."""
    devices: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for i in ctx.topology.interfaces:
        t = i.tunnel or {}
        if i.node and i.name and i.namespace in (None, "host") and t.get("kind"):
            devices[(i.name.rstrip("0123456789") or i.name, str(t["kind"]))].append(i)
    out: list[Finding] = []
    if not devices:
        return out
    p = ctx.packets
    # the tunnelled rows, with the columns read below only (not a copy of the whole table)
    read = ("capture", "frame_no", "outer_dst_ip", "outer_dport", "vni", "src_ip", "dst_ip",
            "ip_id", "outer_src_ip")  # fmt: skip
    cols = [c for c in read if c in p.columns]
    tun = p.loc[p["tunnel"].notna(), cols] if not p.empty and "tunnel" in p.columns else p.iloc[:0]
    for (_role, kind), ifs in devices.items():
        for attr, word, column in _MISMATCH_ATTRS:
            per_node = {i.node: i for i in ifs if i.tunnel.get(attr) is not None}
            values = {i.tunnel[attr] for i in per_node.values()}
            if len(values) < 2:
                continue
            names = sorted({str(i.name) for i in per_node.values()})
            name = names[0] if len(names) == 1 else " / ".join(names)
            listed = ", ".join(
                f"{i.tunnel[attr]} on {node}" + (f" ({i.name})" if len(names) > 1 else "")
                for node, i in sorted(per_node.items())
            )
            evs = [
                e
                for i in per_node.values()
                for e in _src_evs(i.field_sources.get("tunnel", (i.source, ""))[0])
            ]
            sent: list[str] = []
            refusers: set[str] = set()
            count = 0
            frames: list[tuple[str, int]] = []
            for node, i in sorted(per_node.items()):
                local = i.tunnel.get("local") or i.tunnel.get("local6")
                if not local or tun.empty or column not in tun.columns:
                    continue
                to = tun[tun["outer_dst_ip"].astype(str) == str(local)]
                wrong = to[to[column].notna() & (to[column] != int(i.tunnel[attr]))]
                if wrong.empty:
                    continue
                got = sorted({int(v) for v in wrong[column].tolist()})
                ids = [c for c in ("src_ip", "dst_ip", "ip_id", "outer_src_ip") if c in wrong]
                packets = len(wrong[ids].astype(str).drop_duplicates()) if ids else len(wrong)
                count += packets
                refusers.add(str(local))
                sent.append(
                    f"{packets} tunnel packet(s) ({len(wrong)} observation(s)) to {node} "
                    f"({local}) carry {word} "
                    f"{', '.join(map(str, got))} where its {i.name} has {i.tunnel[attr]}"
                )
                frames += list(
                    zip(
                        wrong["capture"].astype(str).tolist(),
                        wrong["frame_no"].tolist(),
                        strict=True,
                    )
                )[:4]
            statement = f"The {kind} devices {name} disagree on the {word}: {listed} (ip -d link)."
            if sent:
                statement += (
                    " In the captures, " + "; ".join(sent) + f": a {kind} device receives only "
                    f"what arrives with its own {word}."
                )
                refused = _port_unreachable(p, refusers)
                if refused:
                    statement += (
                        f" The node refused them (ICMP port unreachable from {refused[0][2]} at "
                        f"{refused[0][0]}#{refused[0][1]}): they were not decapsulated."
                    )
                    frames += [(c, f) for c, f, _ in refused[:2]]
            else:
                statement += (
                    f" No captured packet was sent with the other node's {word}; tunnel traffic "
                    "between these nodes would be."
                )
            evs += [Evidence(capture=c, frame_no=int(f)) for c, f in frames]
            out.append(
                Finding(
                    "tunnel-config-mismatch",
                    Severity.PROBLEM if sent else Severity.WARNING,
                    statement,
                    _dedup(evs),
                    details={
                        "device": name,
                        "kind": kind,
                        "attribute": attr,
                        "values": {n: i.tunnel[attr] for n, i in sorted(per_node.items())},
                        "frames": count,
                    },
                )
            )
    return out[:MAX_PER_KIND]


def _port_unreachable(p: pd.DataFrame, sources: set[str]) -> list[tuple[str, int, str]]:
    """``(capture, frame_no, source)`` of ICMP / ICMPv6 port-unreachable errors sent by one
    of ``sources`` (node addresses)."""
    if p.empty or not sources or "icmp_type" not in p.columns:
        return []
    t = p["icmp_type"].astype("Int64")
    c = p["icmp_code"].astype("Int64")
    v = p["ip_version"].astype("Int64")
    hit = (((v == 4) & (t == 3) & (c == 3)) | ((v == 6) & (t == 1) & (c == 4))).fillna(False)
    rows = p[hit.to_numpy(dtype=bool) & p["src_ip"].astype(str).isin(sources).to_numpy()]
    return [
        (str(cap), int(f), str(src))
        for cap, f, src in rows[["capture", "frame_no", "src_ip"]].itertuples(index=False)
    ]
