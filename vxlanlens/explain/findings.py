"""Findings: stable ids, a severity, one plain statement each, and the evidence behind it.

Every detector takes the :class:`~vxlanlens.explain.context.Context` and returns findings;
``docs/explanations.md`` lists every id with what triggers it and what to do about it.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from ..topology.model import RESERVED_IDENTITIES, Source
from .context import Context, Row, groups, na, records, vals
from .model import Evidence, Finding

__all__ = ["DETECTORS", "FINDING_IDS", "detect"]

VXLAN_OVERHEAD = {4: 50, 6: 70}
"""Bytes VXLAN adds in front of the pod's IP packet: Ethernet 14 + outer IP (20 / 40) + UDP 8 + VXLAN 8."""
GENEVE_BASE = 8
DEFAULT_UNDERLAY_MTU = 1500
MAX_EVIDENCE = 12
MAX_INNER_MAC_FINDINGS = 8
MAX_VNI_FINDINGS = 12
MAX_DUAL_STACK_FINDINGS = 8
MAX_PER_KIND = 20
"""Findings of one id stated one by one; the rest are counted in one more finding."""
"""VNIs named one by one; the others are counted in one finding."""
"""The inner-MAC pattern of this many distinct conversations is explained; more would repeat it."""


def _src_evs(source: Source) -> list[Evidence]:
    """Evidence for a topology fact: its dump location, or the frames it was inferred from."""
    if source.frames:
        return [Evidence(capture=c, frame_no=int(n)) for c, n in source.frames]
    return [Evidence(source=str(source))]


def _dedup(evidence: list[Evidence]) -> list[Evidence]:
    return list(dict.fromkeys(evidence))[:MAX_EVIDENCE]


def _frame_keys(rows: pd.DataFrame, cap: str, frame: str) -> list[tuple[str, int]]:
    """``(capture, frame_no)`` of the frames named by two columns of ``rows`` (rows missing
    either are left out)."""
    known = (rows[cap].notna() & rows[frame].notna()).tolist()
    return [
        (str(c), int(f))
        for c, f, ok in zip(rows[cap].tolist(), rows[frame].tolist(), known, strict=True)
        if ok
    ]


def _frames(
    rows: pd.DataFrame, cap: str = "request_capture", frame: str = "request_frame"
) -> list[Evidence]:
    """Evidence of the frames named by two columns of ``rows`` (rows missing either left out)."""
    return [Evidence(capture=c, frame_no=f) for c, f in _frame_keys(rows, cap, frame)]


def _pair_frames(rows: pd.DataFrame) -> list[Evidence]:
    """The first few distinct request and reply frames of ``rows``, in capture and frame order."""
    frames = set(_frame_keys(rows, "request_capture", "request_frame"))
    frames.update(_frame_keys(rows, "reply_capture", "reply_frame"))
    first = heapq.nsmallest(MAX_EVIDENCE, frames, key=lambda cf: (cf[0] or "", cf[1] or 0))
    return [Evidence(capture=c, frame_no=f) for c, f in first]


def _us(seconds: object) -> str:
    s = vals(seconds)
    if s is None:
        return "?"
    s = float(s)  # type: ignore[arg-type]
    return f"{s * 1e6:.0f} µs" if s < 1e-3 else f"{s * 1e3:.3f} ms"


def _flags(flags: object) -> str:
    f = vals(flags)
    return ",".join(str(f)) if f else "none"


def _route_gateways(ctx: Context, family: int) -> dict[str, list]:
    """Default-route next hops by pod namespace, from routes loaded from dumps."""
    out: dict[str, list] = defaultdict(list)
    for r in ctx.topology.routes:
        if r.family == family and r.dst == "default" and r.via:
            out[r.via].append(r)
    return out


# --- gateway findings ---------------------------------------------------------------------------


def gateway_answered_by_ebpf(ctx: Context) -> list[Finding]:
    """An IPv6 gateway on no interface, answered by the pod's own lxc veth MAC."""
    ex = ctx.exchanges
    if ex.empty:
        return []
    nd = ex[(ex["kind"] == "nd") & (ex["status"] == "answered")]
    if nd.empty:
        return []
    gateways = _route_gateways(ctx, 6)
    routers = set(ctx.topology.router_ips())
    out = []
    pairs = nd[["target", "requester_mac"]].astype(str).drop_duplicates()
    left_out = max(0, len(pairs) - MAX_PER_KIND)
    if left_out:
        first = pairs.head(MAX_PER_KIND)
        wanted = set(first.itertuples(index=False, name=None))
        nd = nd[
            [
                k in wanted
                for k in zip(nd["target"].astype(str), nd["requester_mac"].astype(str), strict=True)
            ]
        ]
    for (target, requester_mac), rows in nd.groupby(
        ["target", "requester_mac"], observed=True, sort=False
    ):
        target, requester_mac = str(target), str(requester_mac)
        responders = sorted({str(m) for m in rows["responder_mac"].dropna()})
        flags = sorted({str(f) for f in rows["nd_flags"].dropna()})
        is_router = "R" in "".join(flags)
        pod = ctx.pod_of(mac=requester_mac)
        if pod is None:
            pod = ctx.pod_of(ip=rows["requester_ip"].iloc[0])
        is_gateway = target in gateways or target in routers
        lxc_pod = ctx.topology.pod_by_host_mac(responders[0]) if responders else None
        by_lxc = bool(responders) and (
            (pod is not None and pod.host_mac in responders)
            or (lxc_pod is not None and pod is None)
        )
        if not (is_gateway or is_router):
            continue
        if not by_lxc and ctx.loaded and pod is not None and pod.host_mac:
            continue  # answered by something else than the lxc veth: not this finding
        lookup = ctx.topology.interfaces_with_address(target)
        if lookup.matches:
            continue  # configured somewhere: answered by its owner, nothing special
        mac = responders[0] if responders else "?"
        if pod is not None and pod.host_mac in responders and pod.host_interface:
            who = f"{mac}, the MAC of {pod.host_interface}: the pod's own host-side veth"
        elif pod is not None and pod.host_mac in responders and ctx.loaded:
            who = f"{mac}, the pod's own host-side veth (its name is not in the dumps)"
        elif pod is not None and pod.host_mac in responders:
            who = f"{mac}: by Cilium's datapath, the pod's own host-side lxc veth (no dump was given to name it)"
        elif lxc_pod is not None:
            who = f"{mac}, the host-side veth of {lxc_pod.label}"
        else:
            who = (
                f"{mac}, by Cilium's datapath rule the pod's host-side lxc veth (no dump names it)"
            )
        pod_text = pod.label if pod is not None else f"the pod with MAC {requester_mac}"
        if lookup.checked:
            where = (
                f"is configured on no interface ({lookup.checked} interfaces checked in the dumps)"
            )
        else:
            where = "is not known to be configured on any interface (no interface dump was given, so this could not be checked)"
        neigh = [
            n
            for n in ctx.topology.neighbors
            if n.ip == target and n.lladdr in responders and n.confidence == "loaded"
        ]
        neigh_text = ""
        if neigh:
            n0 = neigh[0]
            state = f" {n0.state}" if n0.state else ""
            router = " router" if n0.router else ""
            neigh_text = f" The pod's neighbour table maps it to {n0.lladdr}{router}{state}."
        lat = rows["latency_s"].dropna()
        lat_text = f" within {_us(lat.max())}" if len(lat) else ""
        lladdr = sorted({str(m) for m in rows["nd_lladdr"].dropna()})
        lladdr_text = f", target link-layer address {lladdr[0]}" if lladdr else ""
        statement = (
            f"The IPv6 gateway {target} of {pod_text} {where}, yet {len(rows)} Neighbor "
            f"Solicitation(s) for it were answered{lat_text} by {who}, with flags "
            f"{', '.join(_flags(f) for f in flags) or 'none'}{lladdr_text}.{neigh_text} Cilium's eBPF program on the "
            f"lxc veth answers the solicitation itself; the address need not exist anywhere as long "
            f"as a hook answers for it (Calico does the same with 169.254.1.1)."
        )
        evidence = _pair_frames(rows) + [e for n in neigh[:2] for e in _src_evs(n.source)]
        evidence += [e for r in gateways.get(target, [])[:2] for e in _src_evs(r.source)]
        evidence = _dedup(evidence)
        out.append(
            Finding(
                "gateway-answered-by-ebpf",
                "info",
                statement,
                evidence,
                {
                    "gateway": target,
                    "pod": pod.label if pod is not None else None,
                    "answered_by": responders,
                    "nd_flags": flags,
                    "interfaces_checked": lookup.checked,
                    "solicitations": len(rows),
                },
            )
        )
    if left_out and out:
        out.append(
            _more(
                "gateway-answered-by-ebpf",
                "info",
                left_out,
                "solicitations of a gateway by other pods, not checked one by one",
            )
        )
    return out


def gateway_is_cilium_host(ctx: Context) -> list[Finding]:
    """A pod's IPv4 next hop is its node's cilium_host address, answered (if ARPed) by the lxc MAC."""
    out = []
    ex = ctx.exchanges
    arp = ex[(ex["kind"] == "arp")] if not ex.empty else ex
    seen: set[str] = set()
    for via, routes in _route_gateways(ctx, 4).items():
        lookup = ctx.topology.interfaces_with_address(via)
        hosts = [i for i in lookup.matches if i.kind == "cilium_host"]
        if not hosts:
            continue
        host = hosts[0]
        pods = sorted({r.namespace for r in routes if r.namespace and r.namespace != "host"})
        if not pods and host.node:
            pods = sorted(
                p.label
                for p in ctx.topology.pods
                if p.node == host.node and p.confidence == "loaded"
            )
        rows = arp[arp["target"].astype(str) == via] if not arp.empty else arp
        answered = rows[rows["status"] == "answered"] if not rows.empty else rows
        if not answered.empty:
            macs = sorted({str(m) for m in answered["responder_mac"].dropna()})
            arp_text = f" Its ARP requests were answered by {', '.join(ctx.mac_text(m) for m in macs)} (Cilium's eBPF on the lxc veth answers ARP, whatever the target except the pod's own address)."
        elif not rows.empty:
            arp_text = " Its ARP requests in the captures got no answer."
        else:
            arp_text = " No ARP for it appears in the captures (the pod's neighbour entry was already cached, or no IPv4 traffic was captured)."
        node = f" of {host.node}" if host.node else ""
        route_text = f" (`{routes[0].text.strip()}`)" if routes[0].text else ""
        statement = (
            f"The IPv4 default route{route_text} of {', '.join(pods) or 'the pod'} points at {via}, the address of "
            f"cilium_host{node}: the node's Cilium router IP is the pods' IPv4 next hop.{arp_text}"
        )
        evidence = [e for r in routes[:2] for e in _src_evs(r.source)] + _src_evs(host.source)
        evidence = _dedup(evidence + (_pair_frames(rows) if not rows.empty else []))
        seen.add(via)
        out.append(
            Finding(
                "gateway-is-cilium-host",
                "info",
                statement,
                evidence,
                {"gateway": via, "interface": host.label, "node": host.node},
            )
        )
    # without dumps: an ARP for a gateway answered by the same MAC that answers the IPv6 gateway
    if not arp.empty:
        nd = ex[(ex["kind"] == "nd") & (ex["status"] == "answered")]
        nd_by = {
            (str(a), str(b)) for a, b in zip(nd["requester_mac"], nd["responder_mac"], strict=True)
        }
        answered = arp[arp["status"] == "answered"]
        requester_ips = answered["requester_ip"].tolist()
        responders = answered["responder_mac"].tolist()
        for (target, req_mac), at in groups(answered, ("target", "requester_mac")).items():
            target = str(target)
            if target in seen or target in ctx.underlay_ips:
                continue
            if str(requester_ips[at[0]]) in ctx.underlay_ips:
                continue  # nodes resolving each other on the underlay
            macs = sorted({str(responders[k]) for k in at if not na(responders[k])})
            if not any((str(req_mac), m) in nd_by for m in macs):
                continue  # only the IPv6 gateway's eBPF signature ties this MAC to an lxc veth
            seen.add(target)
            rows = answered.iloc[at]
            statement = (
                f"The pod with MAC {req_mac} resolves its IPv4 gateway {target} to {', '.join(ctx.mac_text(m) for m in macs)}, "
                f"the same MAC that answers its IPv6 gateway: the pod's lxc veth, where Cilium's eBPF answers ARP. "
                f"{target} is most likely the node's cilium_host router IP (no interface dump was given to confirm it)."
            )
            out.append(
                Finding(
                    "gateway-is-cilium-host",
                    "info",
                    statement,
                    _pair_frames(rows),
                    {"gateway": target, "interface": None, "node": None},
                )
            )
    return out


# --- tunnel findings -------------------------------------------------------------------------------


def vni_identity(ctx: Context) -> list[Finding]:
    """What each VNI means: the sender's security identity."""
    p = ctx.packets
    tun = p.loc[p["vni"].notna(), ["capture", "frame_no", "vni", "tunnel", "src_ip", "src_mac"]]
    if tun.empty:
        return []
    out = []
    counts = tun["vni"].value_counts()
    shown = set(counts.index[:MAX_VNI_FINDINGS].tolist())
    if len(counts) > MAX_VNI_FINDINGS:
        rest = counts.iloc[MAX_VNI_FINDINGS:]
        first = tun[tun["vni"].isin(rest.index)].head(MAX_EVIDENCE)
        out.append(
            Finding(
                "vni-identity",
                "info",
                f"{len(counts)} different VNIs are in use; the {MAX_VNI_FINDINGS} seen most often are "
                f"named below, and {len(rest)} more carry {int(rest.sum())} frame(s) between them "
                f"(`vxlanlens packets --columns vni,src_ip,dst_ip` lists them all).",
                [
                    Evidence(capture=str(c), frame_no=int(f))
                    for c, f in zip(first["capture"], first["frame_no"], strict=True)
                ],
                {"vnis": len(counts), "not_shown": len(rest)},
            )
        )
    tun = tun[tun["vni"].isin(shown)]
    for vni, rows in tun.groupby("vni", sort=True):
        vni = int(vni)
        ident = ctx.topology.identity(vni)
        senders = sorted(
            {ctx.pod_label(ip=ip) or str(ip) for ip in rows["src_ip"].dropna().astype(str).unique()}
        )
        senders = senders or sorted({str(m) for m in rows["src_mac"].dropna().astype(str)})
        if ident is not None and ident.labels and vni not in RESERVED_IDENTITIES:
            what = f"identity {ident.description}"
        elif vni in RESERVED_IDENTITIES:
            what = f"the reserved identity {vni} ({RESERVED_IDENTITIES[vni]})"
        elif vni >= 256:
            what = f"identity {vni} (a cluster-allocated identity; labels unknown: no identity dump given)"
        else:
            what = f"identity {vni}"
        tunnels = sorted({str(t) for t in rows["tunnel"].dropna()})
        sent_by = f"Seen on {len(rows)} frame(s) sent by {', '.join(senders[:4])}{' and others' if len(senders) > 4 else ''}."
        if ctx.cilium_likely or (
            ident is not None and ident.labels and ident.confidence == "loaded"
        ):
            statement = (
                f"{'/'.join(t.upper() for t in tunnels)} VNI {vni} is the security identity of the sender, "
                f"not a network: Cilium writes the source {what} into the VNI. {sent_by}"
            )
        else:
            statement = (
                f"{'/'.join(t.upper() for t in tunnels)} VNI {vni}: in Cilium the VNI is the sender's security "
                f"identity, not a network; nothing in this input shows Cilium, so it may also be an ordinary "
                f"VXLAN/Geneve network id (a Cilium identity dump or a capture with different request and "
                f"reply VNIs would tell). {sent_by}"
            )
        evidence = [
            Evidence(capture=str(c), frame_no=int(f))
            for c, f in zip(rows["capture"], rows["frame_no"], strict=True)
        ][:MAX_EVIDENCE]
        if ident is not None and ident.confidence == "loaded" and ident.source.file:
            evidence += _src_evs(ident.source)
        out.append(
            Finding(
                "vni-identity",
                "info",
                statement,
                evidence,
                {"vni": vni, "labels": list(ident.labels) if ident else [], "senders": senders},
            )
        )
    ex = ctx.exchanges
    if not ex.empty:
        both = ex[ex["vni_request"].notna() & ex["vni_reply"].notna()]
        if not both.empty:
            same = both[both["vni_request"] == both["vni_reply"]]
            diff = both[both["vni_request"] != both["vni_reply"]]
            if not diff.empty:
                r = diff.iloc[0]
                out.append(
                    Finding(
                        "vni-identity",
                        "info",
                        f"Request and reply carry different VNIs ({int(r['vni_request'])} and {int(r['vni_reply'])} "
                        f"for {r['key']}): by design, each side puts its own identity in the VNI, so a VNI "
                        f"never pairs a request with its reply.",
                        _pair_frames(diff),
                        {"vni_request": int(r["vni_request"]), "vni_reply": int(r["vni_reply"])},
                    )
                )
            if not same.empty:
                r = same.iloc[0]
                out.append(
                    Finding(
                        "vni-identity",
                        "info",
                        f"Request and reply carry the same VNI {int(r['vni_request'])} ({r['key']}): "
                        + (
                            "the two pods have the same security identity (the same identity labels, e.g. pods of "
                            "one Deployment or DaemonSet). Pods with different labels would send different VNIs."
                            if ctx.cilium_likely
                            else "in Cilium, the two ends have the same identity; in an ordinary overlay, the VNI "
                            "is the network both ends are in."
                        ),
                        _pair_frames(same),
                        {"vni_request": int(r["vni_request"]), "vni_reply": int(r["vni_reply"])},
                    )
                )
    return out


def inner_macs(ctx: Context) -> list[Finding]:
    """What the inner MACs of tunnelled frames are: the sending pod's eth0 and its own lxc veth."""
    p = ctx.packets
    in_tun = p["tunnel"].notna() & p["src_mac"].notna() & p["src_ip"].notna() & p["dst_ip"].notna()
    cols = ["capture", "frame_no", "tunnel", "outer_src_ip", "src_mac", "dst_mac", "src_ip",
            "dst_ip", "echo_id", "echo_seq", "ip_id", "tcp_seq"]  # fmt: skip
    tun = p.loc[in_tun, cols]
    if tun.empty:
        return []
    out = []
    keys = ["src_mac", "dst_mac", "src_ip", "dst_ip"]
    as_text = pd.DataFrame({k: ctx.text(k)[in_tun].where(tun[k].notna(), "-") for k in keys})
    # conversations numbered in order of first appearance; the first rows of the first few
    conversation = as_text.groupby(keys, sort=False).ngroup().to_numpy()
    _, starts = np.unique(conversation, return_index=True)
    first = as_text.iloc[starts[:MAX_INNER_MAC_FINDINGS]]
    for k, (smac, dmac, sip, dip) in enumerate(first.itertuples(index=False)):
        rows = tun[conversation == k]
        sender = ctx.pod_of(ip=sip, mac=smac)
        src_name, dst_name = ctx.mac_name(smac), ctx.mac_name(dmac)
        first = rows.iloc[0]
        node = ctx.node_label(first["outer_src_ip"]) or f"node {first['outer_src_ip']}"
        if not ctx.cilium_likely and not ctx.loaded:
            meaning = (
                "the sender's own MAC → its next hop's MAC (a gateway, or the peer itself on one L2 segment); the frame went into the tunnel "
                "as the sender sent it"
            )
        elif sender is not None and sender.mac == str(smac) and sender.host_mac == str(dmac):
            veth = f" ({sender.host_interface})" if sender.host_interface else ""
            hm = sender.field_sources.get("host_mac")
            loaded = sender.confidence == "loaded" and (hm is None or hm[1] == "loaded")
            how = (
                ""
                if loaded
                else " — by Cilium's datapath rule, inferred from the captures (no dump confirms it)"
            )
            meaning = (
                f"the sending pod's eth0 → its own host-side veth{veth}, both on the sending node "
                f"({sender.node or node}){how}"
            )
        elif src_name and dst_name:
            meaning = f"{src_name} → {dst_name}"
        else:
            meaning = (
                "by Cilium's datapath, the sending pod's eth0 → its host-side lxc veth on the sending "
                f"node {node}: Cilium redirects the pod's frame into the tunnel without rewriting its "
                "Ethernet header (not confirmed by a dump)"
            )
        same_at_pod = _same_frame_elsewhere(ctx, rows.iloc[0])
        same_text = (
            f" The inner frame is the one the pod sent, unchanged ({same_at_pod})."
            if same_at_pod
            else ""
        )
        back = (ctx.text("src_ip") == str(dip)) & (ctx.text("dst_ip") == str(sip))
        other = p.loc[in_tun & back, ["src_mac", "dst_mac"]]
        if not other.empty:
            omac = (str(other["src_mac"].iloc[0]), str(other["dst_mac"].iloc[0]))
            if omac != (str(dmac), str(smac)):
                same_text += (
                    f" These MACs differ from those of the opposite direction ({omac[0]} → {omac[1]}): each "
                    "direction carries its own sender's MACs, which live on different nodes."
                )
        statement = (
            f"Inside the tunnel from {node}, frames {sip} → {dip} carry inner MACs {smac} → {dmac}: "
            f"{meaning}.{same_text}"
        )
        evidence = [
            Evidence(capture=str(c), frame_no=int(f))
            for c, f in zip(rows["capture"], rows["frame_no"], strict=True)
        ][:6]
        out.append(
            Finding(
                "inner-macs",
                "info",
                statement,
                evidence,
                {
                    "src_mac": str(smac),
                    "dst_mac": str(dmac),
                    "src_ip": str(sip),
                    "dst_ip": str(dip),
                },
            )
        )
    return out


def _same_frame_elsewhere(ctx: Context, row: pd.Series) -> str | None:
    """Where the same pod frame (same MACs, addresses, id/seq) was seen outside a tunnel."""
    p = ctx.packets
    at = ctx.untunnelled(row["src_ip"], row["dst_ip"])
    for col in ("src_mac", "dst_mac"):
        at = _keep(at, ctx.text(col).iloc[at] == str(row[col]))
    for col in ("echo_id", "echo_seq", "ip_id", "tcp_seq"):
        if not na(row[col]):
            at = _keep(at, p[col].iloc[at] == row[col])
    if not len(at):
        return None
    h = ctx.row_at(int(at[0]))
    return f"same MACs and addresses as {h['capture']}#{int(h['frame_no'])}"


def hop_limit(ctx: Context) -> list[Finding]:
    """How many routing hops the TTL / hop limit of answers shows."""
    out = []
    ex = ctx.exchanges
    if ex.empty:
        return out
    replies = ex[(ex["kind"].isin(["echo", "tcp"])) & ex["reply_frame"].notna()]
    done: set[tuple] = set()
    cols = ("reply_capture", "reply_frame", "requester_mac", "requester_ip", "answer")
    for r in records(replies, cols):
        row = ctx.row(r["reply_capture"], r["reply_frame"])
        if row is None or na(row["ttl"]) or not na(row["tunnel"]):
            continue
        if na(row["dst_mac"]):  # cooked (-i any) capture: no destination MAC
            if _later_copy(ctx, row):
                continue  # seen again further along (e.g. on the lxc veth after cilium_vxlan)
        elif not na(r["requester_mac"]) and str(row["dst_mac"]) != str(r["requester_mac"]):
            continue  # not (yet) delivered to the requester: e.g. decapsulated, not yet routed
        point = ctx.points.get(str(row["capture"]))
        requester = ctx.pod_label(ip=r["requester_ip"], mac=r["requester_mac"])
        if point is not None and point.kind == "pod" and requester and point.pod != requester:
            continue  # the reply leaving the answering pod, not arriving at the requester
        rpod = ctx.pod_of(ip=r["requester_ip"], mac=r["requester_mac"])
        if point is not None and point.kind == "node" and rpod is not None:
            homes = {rpod.node, getattr(rpod, "node_ip", None)} - {None}
            if homes and not homes & {point.node, point.node_ip}:
                continue  # a node capture on the answering side: the reply has not arrived yet
        key = (str(row["src_ip"]), str(row["dst_ip"]), int(row["ttl"]))
        if key in done:
            continue
        done.add(key)
        ttl = int(row["ttl"])
        sent = _ttl_at_sender(ctx, row)
        if sent is not None:
            initial, where = sent
            how = f"it left its sender with {initial} (seen at {where})"
        else:
            initial = next(x for x in (64, 128, 255) if ttl <= x)
            how = f"assuming the sender's usual initial {initial}"
        hops = initial - ttl
        word = "hop limit" if row["ip_version"] == 6 else "TTL"
        hop_text = {0: "no routing hop", 1: "one routing hop"}.get(hops, f"{hops} routing hops")
        meaning = (
            " — in Cilium's tunnel mode, the delivery to the pod on the receiving node decrements it once"
            if hops == 1
            else ""
        )
        statement = (
            f"The {r['answer'] or 'reply'} from {ctx.ip_text(row['src_ip'])} reached {ctx.point_text(str(row['capture']))} "
            f"with {word} {ttl}; {how}: {hop_text}{meaning}."
        )
        evidence = [Evidence(capture=str(row["capture"]), frame_no=int(row["frame_no"]))]
        if sent is not None:
            evidence.append(
                Evidence(capture=where.split("#")[0], frame_no=int(where.split("#")[1]))
            )
        out.append(
            Finding(
                "hop-limit",
                "info",
                statement,
                evidence,
                {"ttl": ttl, "initial": initial, "hops": hops, "src_ip": key[0]},
            )
        )
    return out


def _keep(at: np.ndarray, mask: pd.Series) -> np.ndarray:
    """The positions ``at`` where ``mask`` (a comparison over them) is true (null is not)."""
    return at[mask.fillna(False).to_numpy(dtype=bool)]


def _later_copy(ctx: Context, row: Row) -> bool:
    """Whether the same pod packet appears again, outside a tunnel, later in the same capture."""
    p = ctx.packets
    at = ctx.untunnelled(row["src_ip"], row["dst_ip"])
    at = _keep(at, ctx.text("capture").iloc[at] == str(row["capture"]))
    at = _keep(at, p["frame_no"].iloc[at] > int(row["frame_no"]))
    for col in ("ip_proto", "echo_id", "echo_seq", "tcp_seq", "tcp_flags"):
        if not na(row[col]):
            at = _keep(at, p[col].iloc[at] == row[col])
    return bool(len(at))


def _ttl_at_sender(ctx: Context, row: Row) -> tuple[int, str] | None:
    """The TTL the same packet had earlier on its path (e.g. inside the tunnel), if seen."""
    obs = ctx.journey_frames(row["capture"], row["frame_no"])
    if len(obs) < 2 or obs[0] == (str(row["capture"]), int(row["frame_no"])):
        return None
    first = ctx.row(*obs[0])
    if first is None or na(first["ttl"]) or int(first["ttl"]) <= int(row["ttl"]):
        return None
    return int(first["ttl"]), f"{first['capture']}#{int(first['frame_no'])}"


def dual_stack(ctx: Context) -> list[Finding]:
    """Pods with both address families, and which families the captures exercise."""
    p = ctx.packets
    fams = {int(v) for v in p["ip_version"].dropna().unique()}
    if (p["arp_op"].notna()).any():
        fams.add(4)
    exercised = " and ".join(f"IPv{v}" for v in sorted(fams)) or "no IP"
    out = []
    dual = []
    for pod in ctx.topology.pods:
        family = {ip: ipaddress.ip_address(ip).version for ip in pod.ips}
        v4 = [ip for ip in pod.ips if family[ip] == 4]
        v6 = [ip for ip in pod.ips if family[ip] == 6]
        if v4 and v6:
            dual.append((pod, v4, v6))
    if not dual:
        return out
    # per address: the IP versions it was used with and its first frame (one pass)
    both = pd.concat(
        [
            p.loc[p[col].notna(), ["ip_version", "capture", "frame_no"]].assign(
                ip=ctx.text(col)[p[col].notna()]
            )
            for col in ("src_ip", "dst_ip")
        ]
    )
    versions: dict[str, set[int]] = {}
    for ip, ver in both[["ip", "ip_version"]].dropna().drop_duplicates().itertuples(index=False):
        versions.setdefault(ip, set()).add(int(ver))
    first_frame = {
        ip: Evidence(capture=str(c), frame_no=int(f))
        for ip, c, f in both.drop_duplicates("ip")[["ip", "capture", "frame_no"]].itertuples(
            index=False
        )
    }
    if len(dual) > MAX_DUAL_STACK_FINDINGS:
        out.append(
            Finding(
                "dual-stack",
                "info",
                f"{len(dual)} pods have both an IPv4 and an IPv6 address; the first "
                f"{MAX_DUAL_STACK_FINDINGS} are named below (`vxlanlens topology` lists them all).",
                [],
                {"pods": len(dual)},
            )
        )
        dual = dual[:MAX_DUAL_STACK_FINDINGS]
    for pod, v4, v6 in dual:
        used_f = sorted({v for ip in pod.ips for v in versions.get(ip, ())})
        seen_at = [first_frame[ip] for ip in pod.ips if ip in first_frame]
        used_text = " and ".join(f"IPv{v}" for v in used_f) if used_f else "neither family"
        statement = (
            f"{pod.label} is dual-stack: IPv4 {', '.join(v4)} and IPv6 {', '.join(v6)} on one eth0. "
            f"The captures exercise {used_text} for it ({exercised} overall)."
        )
        evidence = _src_evs(pod.source) + seen_at[:1]
        out.append(
            Finding(
                "dual-stack",
                "info",
                statement,
                evidence,
                {"pod": pod.label, "ipv4": v4, "ipv6": v6, "exercised": used_f},
            )
        )
    return out


# --- problems -------------------------------------------------------------------------------------


def unanswered(ctx: Context) -> list[Finding]:
    """Requests nobody answered: NS, ARP, echo (with the last point where the packet was seen)."""
    ex = ctx.exchanges
    if ex.empty:
        return []
    out = []
    routers = (
        set(ctx.topology.router_ips()) | set(_route_gateways(ctx, 6)) | set(_route_gateways(ctx, 4))
    )
    # a request counts as unanswered only if no observation point saw it answered
    req = ex[ex["kind"].isin(["nd", "arp", "echo", "tcp"])]
    st = req["status"].astype(str)
    flags = pd.DataFrame(
        {
            "kind": req["kind"].astype(str),
            "key": req["key"].astype(str),
            "ans": st == "answered",
            "un": st == "unanswered",
        }
    )
    agg = flags.groupby(["kind", "key"], sort=False).agg(ans=("ans", "any"), un=("un", "any"))
    lost = agg[agg["un"] & ~agg["ans"]].reset_index()
    count: dict[str, int] = {}
    keep = set()
    for kind, key in zip(lost["kind"], lost["key"], strict=True):
        count[kind] = count.get(kind, 0) + 1
        if count[kind] <= MAX_PER_KIND:
            keep.add((kind, key))
    sel = req[[(k, v) in keep for k, v in zip(flags["kind"], flags["key"], strict=True)]]
    more = {k: n - MAX_PER_KIND for k, n in count.items() if n > MAX_PER_KIND}
    what = {"nd": ("ns-unanswered", "unanswered Neighbor Solicitations"), "arp": ("arp-unanswered", "unanswered ARP requests"),
            "echo": ("echo-unanswered", "unanswered echo requests"), "tcp": ("tcp-unanswered", "unanswered TCP SYNs")}  # fmt: skip
    for kind, n in more.items():
        out.append(_more(what[kind][0], "problem", n, what[kind][1]))
    if not keep:  # req[[]] would select no columns, not no rows
        return out
    for (kind, key), rows in sel.groupby(["kind", "key"], observed=True, sort=False):
        if (rows["status"] == "answered").any() or not (rows["status"] == "unanswered").any():
            continue
        un = rows[rows["status"] == "unanswered"]
        r = un.iloc[0]
        target = str(r["target"])
        who = ctx.pod_label(ip=r["requester_ip"], mac=r["requester_mac"]) or str(r["requester_ip"])
        retrans = int(vals(rows["retransmissions"].max()) or 0)
        tries = f" ({retrans + 1} tries)" if retrans else ""
        evidence = _frames(un)[:MAX_EVIDENCE]
        if kind == "nd":
            if target in routers:
                reason = (
                    "it is the pod's router IP, which Cilium's eBPF program on the lxc veth should answer: "
                    "check that the endpoint's programs are loaded (cilium-dbg bpf endpoint list / cilium-dbg endpoint list)"
                )
            elif ctx.topology.pod_by_ip(target) is not None:
                reason = "it is a pod address; Cilium answers an NS for a local endpoint, so the endpoint may not be local or not ready"
            else:
                reason = (
                    "Cilium's eBPF answers an NS only for the router IP and local endpoints and drops the rest "
                    '("Unknown L3 target address"), so a solicitation for another address stays unanswered'
                )
            out.append(
                Finding(
                    "ns-unanswered",
                    "problem",
                    f"Neighbor Solicitation from {who} for {target} was never answered{tries}: {reason}.",
                    evidence,
                    {"target": target, "requester": who},
                )
            )
        elif kind == "arp":
            if target == str(r["requester_ip"]):
                continue
            reason = (
                "Cilium's eBPF on the lxc veth answers ARP for any target except the pod's own address, so no answer "
                "means the lxc program is missing or the frame never reached it"
            )
            out.append(
                Finding(
                    "arp-unanswered",
                    "problem",
                    f"ARP request from {who} for {target} was never answered{tries}: {reason}.",
                    evidence,
                    {"target": target, "requester": who},
                )
            )
        elif kind == "echo":
            last = _last_seen(ctx, un)
            if (
                ctx.loaded
                and ctx.topology.pod_by_ip(target) is None
                and target not in ctx.underlay_ips
            ):
                home = ctx.topology.node_by_pod_cidr(target)
                last += f"; no pod of the dumps has {target}" + (
                    f" (it lies in the pod CIDR of {home.label})" if home else ""
                )
            out.append(
                Finding(
                    "echo-unanswered",
                    "problem",
                    f"Echo request {key} from {who} was never answered{tries}; {last}.",
                    evidence,
                    {"key": str(key), "target": target},
                )
            )
        elif kind == "tcp":
            out.append(
                Finding(
                    "tcp-unanswered",
                    "problem",
                    f"TCP SYN {key} from {who} got neither SYN/ACK nor RST{tries}; {_last_seen(ctx, un)}.",
                    evidence,
                    {"key": str(key), "target": target},
                )
            )
    return out


def _furthest(ctx: Context, seen: list[tuple[str, int]], exchange: pd.Series) -> tuple[str, int]:
    """The observation furthest along the path (sending pod, sending node, receiving node,
    receiving pod), the latest in time among equals: clocks of different captures cannot
    order packets a few microseconds apart, the path can."""
    rowsof = [(c, f, ctx.row(c, f)) for c, f in seen]
    tunnelled = [r for _, _, r in rowsof if r is not None and not na(r["tunnel"])]
    src_node = str(tunnelled[0]["outer_src_ip"]) if tunnelled else None
    dst_node = str(tunnelled[0]["outer_dst_ip"]) if tunnelled else None
    requester = ctx.pod_label(ip=exchange["requester_ip"], mac=exchange["requester_mac"])

    def rank(item: tuple[str, int, Row | None]) -> float:
        cap, _, r = item
        p = ctx.points.get(cap)
        if p is None or r is None:
            return 0.0
        if p.kind == "pod":
            return 0.0 if p.pod == requester else 3.0
        inside = not na(r["tunnel"])
        if p.node_ip is not None and p.node_ip == dst_node:
            return 2.0 if inside else 2.5
        if p.node_ip is not None and p.node_ip == src_node:
            return 1.0 if inside else 0.5
        return 1.5

    best = max(enumerate(rowsof), key=lambda it: (rank(it[1]), it[0]))[1]
    return best[0], best[1]


def _last_seen(ctx: Context, rows: pd.DataFrame) -> str:
    """Where an unanswered request was last seen, and which captures did not see it."""
    seen: list[tuple[str, int]] = []
    for c, f in zip(rows["request_capture"], rows["request_frame"], strict=True):
        if not na(c):
            seen.append((str(c), int(f)))
    if seen:
        seen = ctx.journey_frames(*seen[0])
    last_cap, last_frame = _furthest(ctx, seen, rows.iloc[0])
    row = ctx.row(last_cap, last_frame)
    inside = ""
    if row is not None and not na(row["tunnel"]):
        inside = f" inside {str(row['tunnel']).upper()} from {ctx.ip_text(row['outer_src_ip'])} to {ctx.ip_text(row['outer_dst_ip'])}"
    where = ctx.point_text(last_cap).removeprefix(last_cap).strip(" ()")
    iface = ctx.interface_at(row) if row is not None else None
    if iface:
        where = f"{iface}; {where}" if where else iface
    text = (
        f"it was last seen at {last_cap}#{last_frame}" + (f" ({where})" if where else "") + inside
    )
    caps_seen = {c for c, _ in seen}
    ts = row["ts"] if row is not None else None
    running, maybe = [], []
    for c, p in ctx.points.items():
        if c in caps_seen or ts is None or p.kind not in ("node", "pod"):
            continue
        start, end = ctx.span(c)
        if start is None or start > ts:
            continue
        (running if end is not None and end >= ts else maybe).append(c)
    if running:
        text += f"; {', '.join(running)} captured before and after it and did not see it"
    if maybe:
        text += f"; {', '.join(maybe)} did not see it either (its last frame is earlier: it may have stopped)"
    if (running or maybe) and row is not None and not na(row["tunnel"]):
        text += ": it was lost after leaving the sending node (in the underlay, or in the receiving node's datapath)"
    return text


def mtu(ctx: Context) -> list[Finding]:
    """Inner packets larger than the underlay MTU minus the tunnel overhead; Packet Too Big."""
    out = []
    p = ctx.packets
    ex = ctx.exchanges
    if not ex.empty:
        errs = ex[
            (ex["kind"] == "icmp-error") & ex["answer"].isin(["packet-too-big", "frag-needed"])
        ]
        for _, r in errs.iterrows():
            mtu_v = vals(r["mtu"])
            quoted = (
                f" about {r['request_capture']}#{int(r['request_frame'])}"
                if not na(r["request_frame"])
                else ""
            )
            out.append(
                Finding(
                    "packet-too-big",
                    "warning",
                    f"{'ICMPv6 Packet Too Big' if r['answer'] == 'packet-too-big' else 'ICMP fragmentation needed'} from "
                    f"{ctx.ip_text(r['responder_ip'])} to {ctx.ip_text(r['requester_ip'])}{quoted}: the path MTU is {mtu_v}. "
                    f"With a 1500-byte underlay, VXLAN leaves 1450 bytes for the pod's packets over IPv4 (1430 over IPv6).",
                    _pair_frames(pd.DataFrame([r])),
                    {"mtu": mtu_v},
                )
            )
    ip_len = p["ip_len"]
    if ip_len.notna().any():
        overhead = VXLAN_OVERHEAD[4]
        outer = p["outer_ip_version"]
        tunnelled = outer.notna()
        if tunnelled.any() and (outer[tunnelled] == 6).mean() > 0.5:
            overhead = VXLAN_OVERHEAD[6]
        underlay = _underlay_mtu(ctx)
        known = _underlay_known(ctx)
        if not known:
            # frames seen on the underlay prove at least that much MTU
            eth = tunnelled & (p["linktype"] == 1) & p["decode_error"].isna()
            if eth.any():
                underlay = max(underlay, int(p.loc[eth, "wire_len"].max()) - 14)
        limit = underlay - overhead
        big = p[(ip_len > limit).fillna(False)]
        big = big[(big["dont_fragment"].fillna(False)) | (big["ip_version"] == 6)]
        if not big.empty:
            worst = int(big["ip_len"].max())
            keys = big[
                [
                    "src_ip",
                    "dst_ip",
                    "ip_proto",
                    "ip_len",
                    "ip_id",
                    "echo_id",
                    "echo_seq",
                    "tcp_seq",
                ]
            ]
            distinct = len(keys.astype(str).drop_duplicates())
            assumed = (
                "" if known else " (no dump gives it: 1500, or the largest underlay frame seen)"
            )
            out.append(
                Finding(
                    "mtu-exceeded",
                    "problem",
                    f"{distinct} pod packet(s) of up to {worst} bytes that may not be fragmented exceed {limit} bytes "
                    f"({len(big)} observation(s)), the underlay MTU {underlay}{assumed} minus the {overhead}-byte "
                    f"tunnel overhead: they cannot be encapsulated whole and are dropped or answered with Packet Too Big.",
                    _dedup(
                        [
                            Evidence(capture=str(c), frame_no=int(f))
                            for c, f in zip(big["capture"], big["frame_no"], strict=True)
                        ]
                    ),
                    {
                        "limit": limit,
                        "largest": worst,
                        "underlay_mtu": underlay,
                        "overhead": overhead,
                        "packets": distinct,
                    },
                )
            )
    return out


def _underlay_known(ctx: Context) -> bool:
    return any(i.kind == "underlay" and i.mtu for i in ctx.topology.interfaces)


def _underlay_mtu(ctx: Context) -> int:
    mtus = [i.mtu for i in ctx.topology.interfaces if i.kind == "underlay" and i.mtu]
    return min(mtus) if mtus else DEFAULT_UNDERLAY_MTU


def asymmetric_path(ctx: Context) -> list[Finding]:
    """A reply that came back from another node than the one the request was tunnelled to."""
    out = []
    ex = ctx.exchanges
    if ex.empty:
        return out
    both = ex[
        ex["reply_frame"].notna() & ex["request_frame"].notna() & ex["tunnelled"].fillna(False)
    ]
    if both.empty:
        return out
    to = ctx.values_at(both["request_capture"], both["request_frame"], "outer_dst_ip")
    back = ctx.values_at(both["reply_capture"], both["reply_frame"], "outer_src_ip")
    odd = [
        k
        for k in range(len(both))
        if to[k] is not None and back[k] is not None and str(to[k]) != str(back[k])
    ]
    for k in odd[:MAX_PER_KIND]:
        r = both.iloc[k]
        out.append(
            Finding(
                "asymmetric-path",
                "warning",
                f"{r['key']}: the request was tunnelled to {ctx.ip_text(to[k])} but the reply came "
                f"back from {ctx.ip_text(back[k])}: the two directions take different paths "
                f"(stale routes or pod CIDR on another node?).",
                _pair_frames(pd.DataFrame([r])),
                {"request_to": str(to[k]), "reply_from": str(back[k])},
            )
        )
    if len(odd) > MAX_PER_KIND:
        out.append(
            _more(
                "asymmetric-path",
                "warning",
                len(odd) - MAX_PER_KIND,
                "exchanges with the same asymmetry",
            )
        )
    return out


def _more(fid: str, severity: str, n: int, what: str) -> Finding:
    """One finding that counts the cases left out of a long list."""
    return Finding(
        fid,
        severity,
        f"... and {n} more {what} (`vxlanlens exchanges` lists them all).",
        [],
        {"more": n},
    )


def unknown_mac(ctx: Context) -> list[Finding]:
    """Unicast MACs in pod frames that no dump explains (only when dumps were given)."""
    if not ctx.loaded:
        return []
    p = ctx.packets
    counts: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for col in ("src_mac", "dst_mac"):
        sub = p[p[col].notna()]
        for mac, c, f in zip(
            sub[col].astype(str), sub["capture"].astype(str), sub["frame_no"], strict=True
        ):
            if len(counts[mac]) < 3:
                counts[mac].append((c, int(f)))
    unknown = {}
    for mac, frames in counts.items():
        if int(mac[:2], 16) & 1:
            continue
        ifaces = ctx.topology.interfaces_by_mac(mac)
        if any(i.confidence == "loaded" for i in ifaces):
            continue
        pod = ctx.topology.pod_by_mac(mac) or ctx.topology.pod_by_host_mac(mac)
        if pod is not None and pod.confidence == "loaded":
            continue
        unknown[mac] = frames
    if not unknown:
        return []
    shown = sorted(unknown)[:6]
    evidence = _dedup([Evidence(capture=c, frame_no=f) for m in shown for c, f in unknown[m][:2]])
    explained = all(ctx.mac_name(m) for m in unknown)
    return [
        Finding(
            "unknown-mac",
            "info" if explained else "warning",
            f"{len(unknown)} MAC(s) in pod frames belong to no interface of the dumps given: {', '.join(ctx.mac_text(m) for m in shown)}"
            f"{' ...' if len(unknown) > 6 else ''}."
            + (" What they are is inferred from the captures only." if explained else "")
            + " Add the dumps of the node or pod they belong to (e.g. the other node's ip -j addr) to name them.",
            evidence,
            {"macs": sorted(unknown)},
        )
    ]


def duplicate_address(ctx: Context) -> list[Finding]:
    """One IP claimed by several MACs (ARP senders, contested DAD)."""
    out = []
    p = ctx.packets
    arp = p[
        p["arp_sender_ip"].notna()
        & p["arp_sender_mac"].notna()
        & (p["arp_sender_ip"].astype(str) != "0.0.0.0")
    ]
    routers = set(ctx.topology.router_ips()) | set(_route_gateways(ctx, 4))
    # the ARP frames of every sender IP (IPs in order of first appearance, frames in row order)
    ips = arp["arp_sender_ip"].astype(str).tolist()
    senders = arp["arp_sender_mac"].tolist()
    by_ip: dict[str, list[int]] = {}
    for k, ip in enumerate(ips):
        by_ip.setdefault(ip, []).append(k)
    lxc_like: set[str] | None = None
    for ip, at in by_ip.items():
        macs = sorted({str(senders[k]) for k in at})
        if len(macs) < 2:
            continue
        if ip in routers or all(ctx.topology.pod_by_host_mac(m) for m in macs):
            continue  # each lxc veth answers for the router IP with its own MAC: by design
        if lxc_like is None:
            lxc_like = _gateway_responders(ctx)
        if ip in lxc_like:
            continue
        first = arp.iloc[at[:MAX_EVIDENCE]]
        out.append(
            Finding(
                "duplicate-address",
                "problem",
                f"{ip} is claimed by {len(macs)} MACs in ARP: {', '.join(ctx.mac_text(m) for m in macs)}.",
                [
                    Evidence(capture=str(c), frame_no=int(f))
                    for c, f in zip(first["capture"], first["frame_no"], strict=True)
                ],
                {"ip": ip, "macs": macs},
            )
        )
    ex = ctx.exchanges
    if not ex.empty:
        dad = ex[
            (ex["kind"] == "nd")
            & (ex["requester_ip"].astype(str) == "::")
            & (ex["status"] == "answered")
        ]
        for _, r in dad.iterrows():
            out.append(
                Finding(
                    "duplicate-address",
                    "problem",
                    f"Duplicate address detection for {r['target']} was answered by {ctx.mac_text(r['responder_mac'])}: the address is already in use.",
                    _pair_frames(pd.DataFrame([r])),
                    {"ip": str(r["target"]), "macs": [str(r["responder_mac"])]},
                )
            )
    return out


def _gateway_responders(ctx: Context) -> set[str]:
    """Targets answered with the R flag or to several pods by their own lxc: router-like IPs."""
    ex = ctx.exchanges
    if ex.empty:
        return set()
    nd = ex[(ex["kind"] == "nd") & ex["nd_flags"].astype(str).str.contains("R", na=False)]
    return {str(t) for t in nd["target"].dropna()}


DETECTORS: tuple[Callable[[Context], list[Finding]], ...] = (
    unanswered,
    mtu,
    asymmetric_path,
    duplicate_address,
    gateway_answered_by_ebpf,
    gateway_is_cilium_host,
    vni_identity,
    inner_macs,
    hop_limit,
    dual_stack,
    unknown_mac,
)

FINDING_IDS: tuple[str, ...] = (
    "gateway-answered-by-ebpf",
    "gateway-is-cilium-host",
    "vni-identity",
    "inner-macs",
    "hop-limit",
    "dual-stack",
    "ns-unanswered",
    "arp-unanswered",
    "echo-unanswered",
    "tcp-unanswered",
    "mtu-exceeded",
    "packet-too-big",
    "asymmetric-path",
    "unknown-mac",
    "duplicate-address",
)
"""Every finding id vxlanlens can emit (documented in docs/explanations.md)."""


def detect(
    ctx: Context, detectors: Iterable[Callable[[Context], list[Finding]]] = DETECTORS
) -> list[Finding]:
    """All findings, most severe first (stable within a severity)."""
    found: list[Finding] = []
    for d in detectors:
        found.extend(d(ctx))
    order = {"problem": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda f: order[f.severity])
