"""Gateway findings: how a pod's IPv4 and IPv6 next hops are answered."""

from __future__ import annotations

from ...proto import Severity
from ..context import Context, groups, na
from ..model import Finding
from ._registry import FindingSpec, detector
from ._util import (
    MAX_PER_KIND,
    _dedup,
    _flags,
    _more,
    _pair_frames,
    _route_gateways,
    _src_evs,
    _us,
)


@detector(
    FindingSpec(
        "gateway-answered-by-ebpf",
        Severity.INFO,
        "an IPv6 gateway on no interface, answered by the pod's own lxc veth",
    )
)
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
        # one solicitation seen at several capture points is one solicitation
        solicited = len(
            {
                tuple(ctx.journey_frames(c, f)[:1])
                for c, f in zip(rows["request_capture"], rows["request_frame"], strict=True)
            }
        )
        lat = rows["latency_s"].dropna()
        lat_text = f" within {_us(lat.max())}" if len(lat) else ""
        lladdr = sorted({str(m) for m in rows["nd_lladdr"].dropna()})
        lladdr_text = f", target link-layer address {lladdr[0]}" if lladdr else ""
        statement = (
            f"The IPv6 gateway {target} of {pod_text} {where}, yet {solicited} Neighbor "
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
                Severity.INFO,
                statement,
                evidence,
                {
                    "gateway": target,
                    "pod": pod.label if pod is not None else None,
                    "answered_by": responders,
                    "nd_flags": flags,
                    "interfaces_checked": lookup.checked,
                    "solicitations": solicited,
                },
            )
        )
    if left_out and out:
        out.append(
            _more(
                "gateway-answered-by-ebpf",
                Severity.INFO,
                left_out,
                "solicitations of a gateway by other pods, not checked one by one",
            )
        )
    return out


@detector(
    FindingSpec(
        "gateway-is-cilium-host",
        Severity.INFO,
        "a pod's IPv4 next hop is its node's cilium_host address",
    )
)
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
                Severity.INFO,
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
        # what _pair_frames reads, so that a group's rows are not a copy of every column
        framed = answered[["request_capture", "request_frame", "reply_capture", "reply_frame"]]
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
            if any(ctx.topology.pod_by_mac(m) is not None for m in macs):
                continue  # another pod's own eth0 answered: a peer on one segment, no veth
            seen.add(target)
            statement = (
                f"The pod with MAC {req_mac} resolves its IPv4 gateway {target} to {', '.join(ctx.mac_text(m) for m in macs)}, "
                f"the same MAC that answers its IPv6 gateway: the pod's lxc veth, where Cilium's eBPF answers ARP. "
                f"{target} is most likely the node's cilium_host router IP (no interface dump was given to confirm it)."
            )
            out.append(
                Finding(
                    "gateway-is-cilium-host",
                    Severity.INFO,
                    statement,
                    _pair_frames(framed.iloc[at]),
                    {"gateway": target, "interface": None, "node": None},
                )
            )
    return out
