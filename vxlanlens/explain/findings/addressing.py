"""Addressing findings: dual-stack pods, unknown MACs, duplicate addresses."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from ...proto import Severity
from ..context import Context, na
from ..model import Evidence, Finding
from ._registry import FindingSpec, detector
from ._util import (
    MAX_DUAL_STACK_FINDINGS,
    MAX_EVIDENCE,
    _dedup,
    _pair_frames,
    _src_evs,
)


@detector(FindingSpec("dual-stack", Severity.INFO, "pods with both address families"))
def dual_stack(ctx: Context) -> list[Finding]:
    """Pods with both address families, and which families the captures exercise."""
    p = ctx.packets
    fams = {int(v) for v in p["ip_version"].dropna().unique()}
    if (p["arp_op"].notna()).any():
        fams.add(4)
    exercised = " and ".join(f"IPv{v}" for v in sorted(fams)) or "no IP"
    out: list[Finding] = []
    dual: list[tuple[Any, list[str], list[str]]] = []
    for pod in ctx.topology.pods:
        # the topology's addresses are canonical text: IPv6 ones (IPv4-mapped too) have a colon
        v4 = [ip for ip in pod.ips if ":" not in ip]
        v6 = [ip for ip in pod.ips if ":" in ip]
        if v4 and v6:
            dual.append((pod, v4, v6))
    if not dual:
        return out
    # per address of the pods named: the IP versions it was used with and its first frame (one
    # pass over the frames from or to these addresses)
    named = {ip for pod, _, _ in dual[:MAX_DUAL_STACK_FINDINGS] for ip in pod.ips}
    parts = []
    for col in ("src_ip", "dst_ip"):
        at, text = _rows_with_text(ctx, col, named)
        parts.append(p[["ip_version", "capture", "frame_no"]].iloc[at].assign(ip=text))
    both = pd.concat(parts)
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
                Severity.INFO,
                f"{len(dual)} {'hosts' if ctx.plain else 'pods'} have both an IPv4 and an IPv6 "
                "address; the first "
                f"{MAX_DUAL_STACK_FINDINGS} are named below (`vxlanlens topology` lists them all).",
                [],
                {"pods": len(dual)},
            )
        )
        dual = dual[:MAX_DUAL_STACK_FINDINGS]
    for pod, v4, v6 in dual:
        used_f = sorted({v for ip in pod.ips for v in versions.get(ip, ())})
        # a frame of each family the captures exercise for it (the first address of each)
        seen_at = [
            next(first_frame[ip] for ip in ips if ip in first_frame)
            for ips in (v4, v6)
            if any(ip in first_frame for ip in ips)
        ]
        used_text = " and ".join(f"IPv{v}" for v in used_f) if used_f else "neither family"
        # no overlay shown: a host (its MAC), not a pod, and no eth0 assumed
        who, where = (
            (f"The host with MAC {pod.mac}" if pod.mac else f"Host {v4[0]}", "one interface")
            if ctx.plain
            else (pod.label, "one eth0")
        )
        statement = (
            f"{who} is dual-stack: IPv4 {', '.join(v4)} and IPv6 "
            f"{', '.join(v6)} on {where}. The captures exercise {used_text} for it ({exercised} "
            "overall)."
        )
        evidence = _dedup(_src_evs(pod.source) + seen_at)
        out.append(
            Finding(
                "dual-stack",
                Severity.INFO,
                statement,
                evidence,
                {
                    "pod": who if ctx.plain else pod.label,
                    "ipv4": v4,
                    "ipv6": v6,
                    "exercised": used_f,
                },
            )
        )
    return out


@detector(
    FindingSpec(
        "unknown-mac",
        Severity.WARNING,
        "MACs in pod frames that no dump explains",
        also=(Severity.INFO,),
    )
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
    # a MAC a dump's FDB entry maps to a remote node is that node's VTEP as the sender's
    # entries say; when no VTEP has it any more, stale-vtep-mac says so with these frames
    remote_vteps = {e.mac for e in ctx.topology.fdb if e.mac and e.dst}
    for mac, frames in counts.items():
        if mac == ctx.datapath.virtual_mac or mac in remote_vteps or mac in ctx.router_ports:
            # a MAC the overlay writes into frames and no interface has (Antrea's; OVN's
            # router ports: ovn-logical-ports names them)
            continue
        if int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
            # multicast, and the all-zero MAC (loopback frames, "no address"): no interface owns them
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
    claims = _claimed(ctx, set(shown))

    def text(m: str) -> str:
        name = ctx.mac_name(m)
        if name:
            return f"{m} ({name})"
        ips = claims.get(m)
        return f"{m} (claims {', '.join(ips[:3])} in ARP/NDP)" if ips else m

    return [
        Finding(
            "unknown-mac",
            Severity.INFO if explained else Severity.WARNING,
            f"{len(unknown)} MAC(s) in the frames belong to no interface of the dumps given: {', '.join(text(m) for m in shown)}"
            f"{' ...' if len(unknown) > 6 else ''}."
            + (" What they are is inferred from the captures only." if explained else "")
            + " Add the dumps of the node, pod or router they belong to (e.g. the other node's ip -j addr) to name them.",
            evidence,
            {"macs": sorted(unknown), "claimed_ips": {m: claims[m] for m in sorted(claims)}},
        )
    ]


def _claimed(ctx: Context, macs: set[str]) -> dict[str, list[str]]:
    """The addresses each MAC claimed as the answer of an ARP request or Neighbor Solicitation
    (or as the sender of one), in the order first seen."""
    ex = ctx.exchanges
    out: dict[str, list[str]] = {}
    if ex.empty or not macs or "kind" not in ex.columns:
        return out
    nd_arp = ex["kind"].astype(str).isin(["arp", "nd"]).to_numpy()
    for mac_col, ip_col in (("responder_mac", "responder_ip"), ("requester_mac", "requester_ip")):
        sel = nd_arp & ex[mac_col].astype(object).isin(macs).to_numpy()
        for mac, ip in zip(
            ex.loc[sel, mac_col].astype(str), ex.loc[sel, ip_col].astype(str), strict=True
        ):
            if ip not in ("nan", "0.0.0.0", "::") and ip not in out.setdefault(mac, []):
                out[mac].append(ip)
    return out


@detector(FindingSpec("duplicate-address", Severity.PROBLEM, "one IP claimed by different hosts"))
def duplicate_address(ctx: Context) -> list[Finding]:
    """One IPv4 address claimed by different hosts in ARP, and contested DAD probes.

    A MAC *owns* an address when it sends ARP with that sender address on its own initiative
    (requests, gratuitous announcements); a MAC *answers* for it when it sends an ARP reply.
    Different hosts claim one address when several MACs own it, or when one requester got
    answers from several MACs. Proxy answers for a router IP, each pod's lxc veth answering its
    own pod with its own MAC, are neither."""
    out = []
    p = ctx.packets
    arp = p[
        p["arp_sender_ip"].notna()
        & p["arp_sender_mac"].notna()
        & p["arp_op"].notna()
        & (ctx.text("arp_sender_ip") != "0.0.0.0")
    ]
    ips = arp["arp_sender_ip"].astype(str).tolist()
    senders = arp["arp_sender_mac"].astype(str).tolist()
    ops = arp["arp_op"].astype(int).tolist()
    targets = arp["arp_target_ip"].astype(str).tolist()
    to_mac = arp["arp_target_mac"].tolist()
    eth_dst = arp["dst_mac"].tolist()
    owners: dict[str, dict[str, list[int]]] = {}
    answers: dict[str, dict[str, dict[str, list[int]]]] = {}
    for k, ip in enumerate(ips):
        gratuitous = targets[k] == ip
        if ops[k] == 1 or gratuitous:
            owners.setdefault(ip, {}).setdefault(senders[k], []).append(k)
        elif ops[k] == 2:
            requester = to_mac[k] if not na(to_mac[k]) else eth_dst[k]
            answers.setdefault(ip, {}).setdefault(str(requester), {}).setdefault(
                senders[k], []
            ).append(k)
    for ip in dict.fromkeys(ips):
        own = owners.get(ip, {})
        conflicts: dict[str, list[int]] = {}
        how = ""
        if len(own) > 1:
            conflicts = own
            how = "each uses it as its own address (ARP requests or announcements sent from it)"
        else:
            for requester, by_mac in answers.get(ip, {}).items():
                if len(by_mac) > 1:
                    conflicts = by_mac
                    how = f"each answered the same requester {ctx.mac_text(requester)} for it"
                    break
        if not conflicts:
            continue
        macs = sorted(conflicts)
        at = sorted(k for v in conflicts.values() for k in v)
        first = arp.iloc[at[:MAX_EVIDENCE]]
        out.append(
            Finding(
                "duplicate-address",
                Severity.PROBLEM,
                f"{ip} is claimed by {len(macs)} MACs in ARP: {', '.join(ctx.mac_text(m) for m in macs)}; "
                f"{how}. Traffic for {ip} goes to whichever answered last.",
                [
                    Evidence(capture=str(c), frame_no=int(f))
                    for c, f in zip(first["capture"], first["frame_no"], strict=True)
                ],
                {"ip": ip, "macs": macs},
            )
        )
    ex = ctx.exchanges
    if not ex.empty and "kind" in ex:
        dad = ex[
            (ex["kind"] == "nd")
            & (ex["requester_ip"].astype(str) == "::")
            & (ex["status"] == "answered")
        ]
        # an unsolicited NA from the prober itself (after DAD succeeded) contests nothing
        dad = dad[dad["requester_mac"].astype(str) != dad["responder_mac"].astype(str)]
        for _, r in dad.iterrows():
            out.append(
                Finding(
                    "duplicate-address",
                    Severity.PROBLEM,
                    f"Duplicate address detection for {r['target']} by {ctx.mac_text(r['requester_mac'])} was answered by {ctx.mac_text(r['responder_mac'])}: the address is already in use.",
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


def _rows_with_text(ctx: Context, column: str, texts: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in table order) of the packets whose ``column``, as text, is one of
    ``texts``, and that text (an object array)."""
    s = ctx.packets[column]
    if isinstance(s.dtype, pd.CategoricalDtype):
        names = s.cat.categories.astype(str)
        codes = s.cat.codes.to_numpy()
        at = np.flatnonzero(np.isin(codes, np.flatnonzero(names.isin(list(texts)))))
        return at, names.to_numpy(dtype=object)[codes[at]]
    text = ctx.text(column)
    at = np.flatnonzero((s.notna() & text.isin(list(texts))).to_numpy(dtype=bool))
    return at, text.iloc[at].to_numpy(dtype=object)
