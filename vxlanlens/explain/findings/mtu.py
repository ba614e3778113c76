"""MTU findings: packets too large for the overlay (only with a drop or a Packet Too Big to show
for it), Packet Too Big messages, and pod routes whose MTU is larger than the overlay allows
(tunnel packets fragmented on the underlay: :mod:`.fragmentation`)."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

from ...proto import ExchangeKind, Severity
from .._rows import text_isin
from ..context import Context, na, vals
from ..model import Evidence, Finding
from ._registry import FindingSpec, detector
from ._requests import clock_offsets_by_capture, corrected
from ._util import (
    DEFAULT_UNDERLAY_MTU,
    MAX_PER_KIND,
    VXLAN_OVERHEAD,
    _dedup,
    _more,
    _src_evs,
)
from .fragmentation import outer_fragment_times

PTB_ANSWERS = ("packet-too-big", "frag-needed")
OUTER_IP_HEADER = {4: 20, 6: 40}


def _overhead(ctx: Context, family: int | None = None) -> tuple[int, str]:
    """Bytes the tunnel adds in front of the pod's IP packet, and how that is known: measured
    on the tunnelled frames of the captures (outer IP header + UDP length - inner IP length:
    covers VXLAN/Geneve with options, an inner VLAN tag, an IPv4 or IPv6 underlay), else from
    the tunnel devices of the dumps, else VXLAN over IPv4. With ``family`` (4 or 6), measured
    on the tunnelled packets of that family when there are any: a dual-stack overlay may carry
    IPv4 over an IPv4 underlay and IPv6 over an IPv6 one (Flannel's flannel.N and
    flannel-v6.N), 20 bytes apart."""
    p = ctx.packets
    cols = ["tunnel", "outer_udp_len", "ip_len", "outer_ip_version"]  # only these are read
    usable = (
        p["tunnel"].notna()
        & p["outer_udp_len"].notna()
        & p["ip_len"].notna()
        & p["outer_ip_version"].notna()
        & p["decode_error"].isna()
    )
    if family is not None:
        mine = usable & (p["ip_version"] == family).fillna(False)
        if mine.any():
            usable = mine
        else:
            # none of this family was tunnelled: the dumps' devices say which underlay carries it
            said = _underlay_family(ctx, family)
            if said is not None and p["tunnel"].eq("vxlan").any():
                version, device = said
                return VXLAN_OVERHEAD[version], (
                    f"VXLAN over IPv{version}, the underlay of {device} in the dumps: no IPv{family} "
                    "packet was tunnelled to measure"
                )
    t = p.loc[usable, cols]
    if not t.empty:
        hdr = t["outer_ip_version"].astype(int).map(OUTER_IP_HEADER).astype(int)
        over = hdr + t["outer_udp_len"].astype(int) - t["ip_len"].astype(int)
        over = over[over > 0]
        if not over.empty:
            worst = int(over.max())
            tunnels = "/".join(sorted({str(x).upper() for x in t["tunnel"].dropna().unique()}))
            versions = "/".join(
                f"IPv{v}" for v in sorted({int(v) for v in t["outer_ip_version"].unique()})
            )
            return worst, f"{tunnels} over {versions}, measured on {len(over)} tunnelled frame(s)"
    if any(i.kind == "cilium_geneve" for i in ctx.topology.interfaces):
        return VXLAN_OVERHEAD[4], "Geneve over IPv4 without options (assumed from the dumps)"
    return VXLAN_OVERHEAD[4], "VXLAN over IPv4 (assumed: no tunnelled frame to measure)"


def _underlay_family(ctx: Context, family: int) -> tuple[int, str] | None:
    """The underlay IP version that carries pod packets of ``family``, from the VXLAN / Geneve
    devices of the dumps (their ``local`` address), with the device's name: devices of both
    underlay families (Flannel's flannel.N and flannel-v6.N, Calico's vxlan.calico and
    vxlan-v6.calico) carry each pod family over its own; one family's devices carry both. None
    when no dump says."""
    by_version: dict[int, str] = {}
    version: int
    for i in ctx.topology.interfaces:
        local = (i.tunnel or {}).get("local") if i.confidence == "loaded" else None
        if not local:
            continue
        try:
            version = ipaddress.ip_address(str(local)).version
        except ValueError:
            continue
        by_version.setdefault(version, i.name or "a tunnel device")
    if len(by_version) == 2:
        return family, by_version[family]
    if len(by_version) == 1:
        ((version, name),) = by_version.items()
        return version, name
    return None


def _underlay(ctx: Context, node: str | None = None) -> tuple[int, list, bool]:
    """The underlay MTU (of ``node`` when given and known), the interfaces it comes from, and
    whether a dump gives it (else 1500, or the largest underlay frame seen)."""
    ifaces = [i for i in ctx.topology.interfaces if i.kind == "underlay" and i.mtu]
    if node is not None and any(i.node == node for i in ifaces):
        ifaces = [i for i in ifaces if i.node == node]
    if ifaces:
        mtu = min(int(i.mtu) for i in ifaces)  # type: ignore[arg-type]
        return mtu, [i for i in ifaces if i.mtu == mtu], True
    p = ctx.packets
    eth = p["tunnel"].notna() & (p["linktype"] == 1) & p["decode_error"].isna()
    mtu = DEFAULT_UNDERLAY_MTU
    if eth.any():
        tags = (p.loc[eth, "outer_vlan"].notna().astype(int) * 4).to_numpy()
        mtu = max(mtu, int((p.loc[eth, "wire_len"].astype(int).to_numpy() - 14 - tags).max()))
    return mtu, [], False


@detector(
    FindingSpec(
        "mtu-exceeded",
        Severity.PROBLEM,
        "packets too large for the overlay that were dropped or answered with Packet Too Big",
    ),
    FindingSpec("packet-too-big", Severity.WARNING, "ICMP Packet Too Big / fragmentation needed"),
)
def mtu(ctx: Context) -> list[Finding]:
    """Pod packets that may not be fragmented, larger than the underlay MTU minus the tunnel
    overhead, with what the captures show happened to them (Packet Too Big, or not seen past
    the sending node while the node captures were running); Packet Too Big messages grouped by
    sender and MTU."""
    out = _ptb(ctx)
    p = ctx.packets
    if not p["tunnel"].notna().any():
        return out  # no overlay traffic: nothing to measure against
    underlay, _, known = _underlay(ctx)
    over = {fam: _overhead(ctx, fam) for fam in (4, 6)}  # (bytes, how) per pod IP family
    ip_len, version = p["ip_len"], p["ip_version"]
    too_big = (
        ((version == 4) & (ip_len > underlay - over[4][0]) & p["dont_fragment"])
        | ((version == 6) & (ip_len > underlay - over[6][0]))
    ).fillna(False)
    plain = p["tunnel"].isna() & too_big
    plain &= ~text_isin(p["src_ip"], ctx.underlay_ips)  # underlay traffic is not pod traffic
    big = p[plain]
    if big.empty:
        return out
    ptb_about = _quoted_by_ptb(ctx)
    offsets = clock_offsets_by_capture(ctx)
    local_errors = _local_tunnel_errors(ctx, offsets)
    outer_frags = outer_fragment_times(ctx, offsets)
    node_points = [c for c, pt in ctx.points.items() if pt.kind == "node"]
    answered_ptb: dict[tuple[str, int], list[Evidence]] = {}
    dropped: dict[tuple[str, int], list[Evidence]] = {}
    refused_locally: dict[tuple[str, int], list[Evidence]] = {}
    carried: set[tuple[str, int]] = set()
    for c, f, ts in zip(
        big["capture"].astype(str), big["frame_no"].astype(int), big["ts"], strict=True
    ):
        seen = ctx.journey_frames(c, f)
        packet = seen[0] if seen else (c, f)
        if packet in answered_ptb or packet in dropped or packet in carried:
            continue
        if packet in refused_locally:
            continue
        ptb = [ptb_about[o] for o in seen if o in ptb_about]
        if ptb:
            answered_ptb[packet] = [Evidence(capture=c, frame_no=f), ptb[0]]
            continue
        if _delivered(ctx, seen):
            carried.add(packet)  # encapsulated, or seen past the sending node: it got through
            continue
        t0 = corrected(ts, c, offsets)
        if any(abs(t - t0) <= NEAR_S for t in outer_frags):
            carried.add(packet)  # fragmented outside: outer fragments left at that time
            continue
        last = max(corrected(ctx.row(*o)["ts"], o[0], offsets) for o in seen)  # type: ignore[index]
        home = ctx.points.get(seen[0][0]) if seen else None
        home_ip = home.node_ip if home is not None else None
        err = next(
            (
                e
                for node_ip, t, e in local_errors
                if (home_ip is None or node_ip == home_ip) and 0 <= t - last <= NEAR_S
            ),
            None,
        )
        if err is not None:
            refused_locally[packet] = [Evidence(capture=c, frame_no=f), err]
            continue
        running = [n for n in node_points if n not in {o[0] for o in seen} and _running(ctx, n, ts)]
        if running:
            dropped[packet] = [Evidence(capture=c, frame_no=f)]
    if not answered_ptb and not dropped and not refused_locally:
        return out
    counted = list(answered_ptb) + list(refused_locally) + list(dropped)
    worst_key = max(counted, key=lambda k: int(vals(ctx.row(*k)["ip_len"]) or 0))  # type: ignore[index, call-overload]
    worst = int(vals(ctx.row(*worst_key)["ip_len"]) or 0)  # type: ignore[index, call-overload]
    families = sorted({int(vals(ctx.row(*k)["ip_version"]) or 4) for k in counted})  # type: ignore[index, call-overload]
    fam = int(vals(ctx.row(*worst_key)["ip_version"]) or 4)  # type: ignore[index, call-overload]
    overhead, how = over[fam]
    limit = underlay - overhead
    other = 6 if fam == 4 else 4
    if len(families) > 1 and over[4][0] != over[6][0]:
        how += (
            f"; IPv{other} packets: {underlay - over[other][0]} bytes, "
            f"{over[other][0]} bytes of {over[other][1]}"
        )
    assumed = "" if known else " (no dump gives it: 1500, or the largest underlay frame seen)"
    parts = []
    if answered_ptb:
        parts.append(f"{len(answered_ptb)} answered with Packet Too Big / fragmentation needed")
    if refused_locally:
        parts.append(
            f"{len(refused_locally)} dropped at encapsulation: the sending node answered its own "
            "tunnel packet with ICMP fragmentation needed, an error the pod never receives (a "
            "black hole for the pod)"
        )
    if dropped:
        parts.append(
            f"{len(dropped)} never seen on the underlay although "
            f"{', '.join(sorted(node_points))} {'was' if len(node_points) == 1 else 'were'} capturing: dropped before encapsulation"
        )
    evidence = _dedup(
        [
            e
            for evs in [*answered_ptb.values(), *refused_locally.values(), *dropped.values()]
            for e in evs
        ]
    )
    out.insert(
        0,
        Finding(
            "mtu-exceeded",
            Severity.PROBLEM,
            f"{len(counted)} pod packet(s) of up to {worst} bytes that may not be fragmented exceed "
            f"{limit} bytes, the underlay MTU {underlay}{assumed} minus the {overhead}-byte tunnel "
            f"overhead ({how}): {'; '.join(parts)}.",
            evidence,
            {
                "limit": limit,
                "largest": worst,
                "underlay_mtu": underlay,
                "overhead": overhead,
                "packets": len(counted),
                "answered_with_ptb": len(answered_ptb),
                "dropped": len(dropped) + len(refused_locally),
                "dropped_at_encapsulation": len(refused_locally),
                "encapsulated_anyway": len(carried),
            },
        ),
    )
    return out


NEAR_S = 1.0
"""Events this close (seconds, reference clock) are taken as about the same packet."""


def _delivered(ctx: Context, seen: list[tuple[str, int]]) -> bool:
    """Whether a packet was seen inside a tunnel or at a point past its sender's node."""
    first = ctx.points.get(seen[0][0]) if seen else None
    for c, f in seen:
        row = ctx.row(c, f)
        if row is not None and not na(row["tunnel"]):
            return True
        pt = ctx.points.get(c)
        if first is None or pt is None:
            continue
        if pt.node_ip and first.node_ip and pt.node_ip != first.node_ip:
            return True
        if pt.pod and first.pod and pt.pod != first.pod:
            return True
        if pt.node and first.node and pt.node != first.node:
            return True
    return False


def _local_tunnel_errors(
    ctx: Context, offsets: dict[str, float | None]
) -> list[tuple[str, float, Evidence]]:
    """ICMP fragmentation needed / Packet Too Big about a packet between node addresses (a
    tunnel packet), sent by a node to itself: (the node's address, time, evidence)."""
    p = ctx.packets
    if not ctx.underlay_ips:
        return []
    err = p[p["mtu"].notna() & p["emb_src_ip"].notna() & p["src_ip"].notna()]
    if err.empty:
        return []
    src, dst = err["src_ip"].astype(str), err["dst_ip"].astype(str)
    about = err["emb_src_ip"].astype(str)
    err = err[(src == dst) & (about == src) & about.isin(ctx.underlay_ips)]
    return [
        (str(ip), corrected(ts, c, offsets), Evidence(capture=str(c), frame_no=int(f)))
        for c, f, ts, ip in zip(
            err["capture"], err["frame_no"], err["ts"], err["src_ip"], strict=True
        )
    ]


def _running(ctx: Context, capture: str, ts: object) -> bool:
    start, end = ctx.span(capture)
    return start is not None and end is not None and start <= ts <= end  # type: ignore[operator]


def _quoted_by_ptb(ctx: Context) -> dict[tuple[str, int], Evidence]:
    """The packets quoted by Packet Too Big / frag-needed errors: (capture, frame) -> the error."""
    ex = ctx.exchanges
    out: dict[tuple[str, int], Evidence] = {}
    if ex.empty:
        return out
    errs = ex[(ex["kind"] == ExchangeKind.ICMP_ERROR) & ex["answer"].isin(PTB_ANSWERS)]
    for c, f, rc, rf in zip(
        errs["request_capture"],
        errs["request_frame"],
        errs["reply_capture"],
        errs["reply_frame"],
        strict=True,
    ):
        if na(c) or na(f) or na(rc) or na(rf):
            continue
        for o in ctx.journey_frames(c, f):
            out.setdefault(o, Evidence(capture=str(rc), frame_no=int(rf)))
    return out


def _ptb(ctx: Context) -> list[Finding]:
    """Packet Too Big / fragmentation needed messages, one finding per sender and MTU."""
    ex = ctx.exchanges
    if ex.empty:
        return []
    errs = ex[(ex["kind"] == ExchangeKind.ICMP_ERROR) & ex["answer"].isin(PTB_ANSWERS)]
    if errs.empty:
        return []
    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, (ans, sender, to, m) in enumerate(
        zip(
            errs["answer"].astype(str),
            errs["responder_ip"].astype(str),
            errs["requester_ip"].astype(str),
            errs["mtu"],
            strict=True,
        )
    ):
        groups[(ans, sender, to, None if na(m) else int(m))].append(k)
    underlay, _, known = _underlay(ctx)
    over = {fam: _overhead(ctx, fam) for fam in (4, 6)}  # (bytes, how) per pod IP family
    out = []
    for (ans, sender, to, m), at in list(groups.items())[:MAX_PER_KIND]:
        # an ICMPv6 Packet Too Big is about an IPv6 packet, fragmentation needed an IPv4 one
        overhead, how = over[6 if ans == "packet-too-big" else 4]
        rows = errs.iloc[at]
        errors = {
            (str(c), int(f))
            for c, f in zip(rows["reply_capture"], rows["reply_frame"], strict=True)
            if not na(c) and not na(f)
        }
        quoted = sorted(
            {
                (str(c), int(f))
                for c, f in zip(rows["request_capture"], rows["request_frame"], strict=True)
                if not na(c) and not na(f)
            }
        )
        what = "ICMPv6 Packet Too Big" if ans == "packet-too-big" else "ICMP fragmentation needed"
        n = len({ctx.journey_frames(*e)[0] for e in errors}) or len(rows)
        about = (
            f" about {', '.join(f'{c}#{f}' for c, f in quoted[:3])}{' ...' if len(quoted) > 3 else ''}"
            if quoted
            else ""
        )
        fit: int | None = underlay - overhead
        compare = (
            f" The overlay carries at most {fit} bytes ({'' if known else 'assumed '}underlay MTU {underlay} minus {overhead} bytes of {how})"
            + (": the sender's path MTU agrees." if m == fit else ".")
        )
        if ctx.plain:
            fit, compare = None, ""  # no overlay shown: none to compare with
        out.append(
            Finding(
                "packet-too-big",
                Severity.WARNING,
                f"{n} {what} message(s) from {ctx.ip_text(sender)} to {ctx.ip_text(to)}{about}: the path MTU is {m}.{compare}",
                _dedup(
                    [Evidence(capture=c, frame_no=f) for c, f in sorted(errors)]
                    + [Evidence(capture=c, frame_no=f) for c, f in quoted]
                ),
                {"mtu": m, "messages": n, "from": sender, "to": to, "overlay_limit": fit},
            )
        )
    if len(groups) > MAX_PER_KIND:
        out.append(
            _more(
                "packet-too-big",
                Severity.WARNING,
                len(groups) - MAX_PER_KIND,
                "senders of Packet Too Big",
            )
        )
    return out


def _same_namespace(iface_ns: str | None, route_ns: str | None) -> bool:
    if not iface_ns or not route_ns:
        return False
    return (
        iface_ns == route_ns
        or iface_ns.endswith("/" + route_ns)
        or route_ns.endswith("/" + iface_ns)
    )


@detector(
    FindingSpec(
        "route-mtu-too-large",
        Severity.WARNING,
        "routes (or the interface they use) that allow packets larger than the overlay carries",
        also=(Severity.INFO,),
    )
)
def route_mtu_too_large(ctx: Context) -> list[Finding]:
    """Routes whose MTU (or their interface's, when the route has none) is above the underlay
    MTU minus the tunnel overhead: pods' default routes, and node routes with an explicit MTU.
    One finding per pod or node and MTU, naming the dump lines and the value it should be;
    ``warning`` when the captures hold pod packets larger than the overlay carries, else
    ``info`` (nothing was affected yet). Needs the underlay MTU from a dump."""
    if not ctx.loaded:
        return []
    tunnel_used = ctx.packets["tunnel"].notna().any() or any(
        i.kind in ("cilium_vxlan", "cilium_geneve") for i in ctx.topology.interfaces
    )
    if not tunnel_used:
        return []
    over = {fam: _overhead(ctx, fam) for fam in (4, 6)}  # (bytes, how) per route family
    all_how = _overhead(ctx)[1]  # said of routes of both families with one limit
    p = ctx.packets
    pod = p["tunnel"].isna() & ~text_isin(p["src_ip"], ctx.underlay_ips)
    largest: dict[int, int] = {}
    for fam in (4, 6):
        sizes = p.loc[pod & (p["ip_version"] == fam).fillna(False), "ip_len"].dropna()
        largest[fam] = int(sizes.max()) if len(sizes) else 0
    found: dict[tuple, dict[str, Any]] = {}
    for r in ctx.topology.routes:
        in_pod = bool(r.namespace) and r.namespace != "host"
        if r.mtu is None and not (in_pod and r.dst == "default"):
            continue  # only explicit MTUs, and the pod's default route (it carries the traffic)
        mtu_v, from_iface = r.mtu, None
        if mtu_v is None:
            ifaces = [
                i
                for i in ctx.topology.interfaces
                if i.name == r.dev and _same_namespace(i.namespace, r.namespace) and i.mtu
            ]
            if not ifaces:
                continue
            from_iface = ifaces[0]
            mtu_v = from_iface.mtu
        node = r.node
        if node is None and in_pod:
            node = next(
                (q.node for q in ctx.topology.pods if _same_namespace(q.label, r.namespace)), None
            )
        underlay, u_ifaces, known = _underlay(ctx, node)
        if not known:
            continue
        fam = 6 if r.family == 6 else 4
        limit = underlay - over[fam][0]
        if int(mtu_v) <= limit:  # type: ignore[arg-type]
            continue
        who = f"pod {r.namespace}" if in_pod else f"node {r.node}"
        g = found.setdefault(
            (who, int(mtu_v), limit),  # type: ignore[arg-type]
            {
                "routes": [],
                "ifaces": u_ifaces,
                "underlay": underlay,
                "node": node,
                "from": [],
                "families": set(),
            },
        )
        g["routes"].append(r)
        g["families"].add(fam)
        if from_iface is not None:
            g["from"].append(from_iface)
    out: list[Finding] = []
    for (who, mtu_v, limit), g in list(found.items())[:MAX_PER_KIND]:
        fams = sorted(g["families"])
        overhead, how = over[fams[0]] if len(fams) == 1 else (g["underlay"] - limit, all_how)
        largest_seen = max(largest[f] for f in fams)
        of = f"IPv{fams[0]} " if len(fams) == 1 else ""
        routes = g["routes"]
        lines = [
            f"`{r.text.strip()}`" if r.text else f"`{r.dst} via {r.via} dev {r.dev}`"
            for r in routes
        ]
        shown = ", ".join(lines[:3]) + (f" and {len(lines) - 3} more" if len(lines) > 3 else "")
        via_iface = (
            f" (through the {mtu_v}-byte MTU of {g['from'][0].name}: the route sets none)"
            if g["from"]
            else ""
        )
        u_text = ", ".join(f"{i.name} on {i.node}" for i in g["ifaces"][:2])
        affected = largest_seen > limit
        consequence = (
            f"the captures hold {of}pod packets of up to {largest_seen} bytes, which do not fit"
            if affected
            else f"no {of}packet of the captures is larger than {limit} bytes, so nothing "
            "was affected yet"
        )
        kinds = {6: "IPv6 packets", 4: "IPv4 packets with DF"}
        cannot = (
            f"{' and '.join(kinds[f] for f in sorted(fams, reverse=True))} of {limit + 1} to "
            f"{mtu_v} bytes cannot cross the tunnel whole"
        )
        statement = (
            f"{'Route' if len(lines) == 1 else f'{len(lines)} routes'} {shown} of {who} "
            f"{'allows' if len(lines) == 1 else 'allow'} {mtu_v}-byte packets{via_iface}, but the "
            f"overlay carries at most {limit} bytes: the underlay MTU {g['underlay']} ({u_text}) "
            f"minus {overhead} bytes of tunnel overhead ({how}). The MTU should be {limit}: "
            f"{cannot}; {consequence}."
        )
        evidence = [e for r in routes[:4] for e in _src_evs(r.source)]
        evidence += [e for i in g["ifaces"][:1] for e in _src_evs(i.source)]
        evidence += [e for i in g["from"][:1] for e in _src_evs(i.source)]
        out.append(
            Finding(
                "route-mtu-too-large",
                Severity.WARNING if affected else Severity.INFO,
                statement,
                _dedup(evidence),
                {
                    "where": who,
                    "node": g["node"],
                    "routes": [
                        r.text.strip() if r.text else f"{r.dst} via {r.via} dev {r.dev}"
                        for r in routes
                    ],
                    "mtu": mtu_v,
                    "should_be": limit,
                    "underlay_mtu": g["underlay"],
                    "overhead": overhead,
                    "largest_packet_seen": largest_seen,
                },
            )
        )
    return out
