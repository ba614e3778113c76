"""The hops of an ARP or Neighbor Solicitation exchange: who asked, and who answered it."""

from __future__ import annotations

import pandas as pd

from ..proto import HopKind
from ._hops import captured_on, evs, frame_list, node_eth0, observations, on_node, text_of
from .context import Context, Point, Row, first_row, na
from .model import UNDERLAY_HOST, Hop

__all__ = ["gateway_hops", "nd_flags"]

_RESPONDER_KIND = {
    "host-veth": HopKind.LXC,
    "underlay": HopKind.UNDERLAY,
    "gateway": HopKind.GATEWAY,
    "bridge": HopKind.BRIDGE,
}
"""Hop kind of what answered an ARP request or Neighbor Solicitation, by the role the
overlay's datapath gives its interface."""


def gateway_hops(
    ctx: Context, points: dict[str, Point], rows: pd.DataFrame, kind: str
) -> tuple[list[Hop], list[Hop]]:
    """NS/NA or ARP between a pod (or a node) and what answers it: for a pod, the host side of
    its veth (Cilium's eBPF, Calico's proxy ARP) or the device holding its gateway (Flannel's
    cni0); each hop cites only the frames of captures taken there, on the responder's node."""
    dp = ctx.datapath
    r = first_row(rows)
    requester_ip, requester_mac = text_of(r["requester_ip"]), text_of(r["requester_mac"])
    pod = ctx.pod_of(ip=requester_ip, mac=requester_mac)
    nic = ctx.topology.interface_by_mac(requester_mac) if requester_mac else None
    if nic is not None and (nic.confidence != "loaded" or nic.namespace not in (None, "host")):
        nic = None
    if pod is not None and nic is not None and nic.node and pod.mac != requester_mac:
        pod = None  # a node's own interface asked (its address was taken for a pod's)
    node_of_ip = (
        (ctx.node_label(requester_ip) or (nic.node if nic is not None else None))
        if pod is None
        else None
    )
    side = _node_side(ctx, requester_mac) if pod is None else None
    req_obs = observations(ctx, points, rows, "request")
    rep_obs = observations(ctx, points, rows, "reply")
    device: str | None = "eth0"
    # a node asking from the MAC every host veth shares (Calico's): it asked on a pod's veth
    on_veth = side is not None and requester_mac == dp.shared_host_mac
    if pod is None and node_of_ip is not None and not on_veth:
        # a node resolving a neighbour: another node on the underlay, or a pod on its bridge
        node: str | None = node_of_ip
        plabel = None
        role = dp.role(nic.name, nic.kind) if nic is not None else None
        if nic is not None and nic.name and role in ("bridge", "gateway"):
            place = f"{nic.name} on {node}"
            hop_kind = HopKind.BRIDGE if role == "bridge" else HopKind.GATEWAY
            device = nic.name
            where_ip: str | None = None
        else:
            place = node_eth0(node_of_ip, requester_ip, "node")
            hop_kind = HopKind.UNDERLAY
            where_ip = requester_ip

        def at_requester(p: Point) -> bool:
            return on_node(p, where_ip, node_of_ip)

    elif side is not None:
        # a node resolving its pod from an interface the overlay's datapath names (Calico's
        # shared host-veth MAC, or an inferred bridge / gateway device), no dump naming it
        hop_kind, place = side
        plabel = None
        node = node_of_ip if on_veth else None
        device = place.split(" ", 1)[0]
        if node is not None:
            place = f"{dp.host_veth} on {node}"

        def at_requester(p: Point) -> bool:
            return p.kind == "node" and (node is None or p.node is None or p.node == node)

    elif pod is None and requester_ip is not None and _underlay_target(ctx, str(r["target"])):
        # no pod and no node: a host of the underlay (a router) asking for a node's address
        node = plabel = None
        place = f"{UNDERLAY_HOST} {requester_ip}"
        hop_kind = HopKind.UNDERLAY
        device = None

        def at_requester(p: Point) -> bool:
            return False  # no capture is known to be taken on it

    else:
        plabel = pod.label if pod is not None else f"pod {requester_mac}"
        node = ctx.node_of_pod(pod)
        place = f"{plabel} eth0"
        hop_kind = HopKind.POD_ETH0

        def at_requester(p: Point) -> bool:
            return p.kind == "unknown" or (p.kind == "pod" and (pod is None or p.pod == plabel))

    def on_link(p: Point) -> bool:
        """A node capture that cannot be told which of several nodes' it is, the requester's
        among them: nodes resolving each other, it shows the link between them."""
        return (
            hop_kind == HopKind.UNDERLAY
            and p.kind == "node"
            and p.node_ip is None
            and len(p.candidates) > 1
            and requester_ip is not None
            and requester_ip in p.candidates
            and not at_requester(p)
        )

    def link_hop(obs: list[tuple[Point, Row]]) -> list[Hop]:
        """The underlay seen by such captures (none when none holds it)."""
        rows = [row for p, row in obs if on_link(p)]
        if not rows:
            return []
        where = sorted({f"{p.capture} (on {p.node})" for p, _ in obs if on_link(p)})
        return [
            Hop(
                "underlay network",
                HopKind.NETWORK,
                True,
                note=f"seen on the underlay ({frame_list(rows[:2])}) by {', '.join(where)}: "
                "which of them cannot be told",
                evidence=evs(rows[:2]),
            )
        ]

    def tunnel_hop(obs: list[tuple[Point, Row]]) -> list[Hop]:
        """The tunnel the exchange crossed, where a capture saw it inside one: the two hosts
        share one L2 segment stretched over the tunnel (frames the hops before cite left out)."""
        rows = [
            row
            for p, row in obs
            if not na(row["tunnel"]) and not on_link(p) and not at_requester(p)  # cited there
        ]
        if not rows:
            return []
        first = rows[0]
        ends = [text_of(first[c]) for c in ("outer_src_ip", "outer_dst_ip")]
        src, dst = (ctx.node_label(ip) or f"node {ip}" if ip else "?" for ip in ends)
        return [
            Hop(
                "underlay network",
                HopKind.NETWORK,
                True,
                note=f"carried inside {str(first['tunnel']).upper()} from {src} to {dst} "
                f"({frame_list(rows[:2])}): the two hosts share one L2 segment stretched over "
                "the tunnel",
                evidence=evs(rows[:2]),
            )
        ]

    what = "Neighbor Solicitation" if kind == "nd" else "ARP request"
    crossed = any(not na(row["tunnel"]) for _, row in (*req_obs, *rep_obs))
    req_rows = [row for p, row in req_obs if at_requester(p)]
    req = [
        Hop(
            place,
            hop_kind,
            bool(req_rows),
            node=node,
            pod=plabel,
            mac=requester_mac,
            note=f"{what} for {r['target']} from {r['requester_ip']}",
            evidence=evs(req_rows[:1]),
            device=device,
            ip=requester_ip,
        ),
        *link_hop(req_obs),
        *tunnel_hop(req_obs),
    ]
    reply: list[Hop] = []
    responder_mac = text_of(r["responder_mac"])
    if responder_mac is not None:
        name = ctx.mac_name(responder_mac) or f"MAC {responder_mac}"
        iface = ctx.topology.interface_by_mac(responder_mac)
        host_pod = ctx.topology.pod_by_host_mac(responder_mac)
        shared = dp.shared_host_mac is not None and responder_mac == dp.shared_host_mac
        if shared and pod is not None:
            # every host veth has this MAC: the requester's own one answered
            host_pod, iface = pod, None
            name = f"{pod.host_interface or dp.host_veth} on {ctx.node_of_pod(pod) or '?'}"
        role = dp.role(iface.name, iface.kind) if iface is not None else None
        # no dump names it, the overlay's datapath does (Flannel's cni0, Antrea's antrea-gw0)
        said = ctx.overlay_mac(responder_mac) if not shared else None
        if said is not None:
            role = said.role
        answering = ctx.topology.pod_by_mac(responder_mac) if host_pod is None else None
        r_dev: str | None
        if answering is not None and answering.mac == responder_mac:
            # a pod answered for its own address (a node resolving it, or a pod on its subnet)
            r_kind, r_dev, iface = HopKind.POD_ETH0, "eth0", None
            name = f"{answering.label} eth0"
        elif host_pod is not None and role in (None, "host-veth"):
            r_kind, r_dev = HopKind.LXC, host_pod.host_interface
        elif said is not None:
            r_kind = _RESPONDER_KIND.get(said.role, HopKind.LXC)
            r_dev = None if said.role == "underlay" else said.device  # a NIC's name is unknown
        elif responder_mac in ctx.router_ports and (iface is None or iface.confidence != "loaded"):
            # a logical router port (OVN's): no interface of a node holds it
            r_kind, r_dev = HopKind.GATEWAY, None
        elif iface is not None:
            r_kind, r_dev = _RESPONDER_KIND.get(role or "", HopKind.LXC), iface.name
        else:
            r_kind, r_dev = (HopKind.LXC if hop_kind == HopKind.POD_ETH0 else hop_kind), None
        responder_ip = text_of(r["responder_ip"])
        r_node = (
            (iface.node if iface is not None else None)
            or (said.node if said is not None else None)
            or (ctx.node_of_pod(answering) if r_kind == HopKind.POD_ETH0 else None)
            or (
                ctx.node_label(responder_ip)
                if hop_kind == HopKind.UNDERLAY
                else None
                if crossed  # the answer came across the tunnel: not the requester's node
                else node
            )
        )
        how = (
            f"; {dp.gateway_answer}"
            if dp.gateway_answer
            and hop_kind == HopKind.POD_ETH0
            and (shared or role in ("bridge", "gateway") or responder_mac in ctx.router_ports)
            else ""
        )
        said_nic = said is not None and said.role == "underlay"  # a node's NIC by ARP / NDP
        stranger = False  # a host of the underlay that is no known node (a router)
        if (said_nic or ctx.mac_name(responder_mac) is None) and hop_kind == HopKind.UNDERLAY:
            stranger = r_node is None
            name = (
                f"{UNDERLAY_HOST} {responder_ip}"
                if stranger and responder_ip
                else node_eth0(r_node, responder_ip, "node")
            )
        if (
            hop_kind == HopKind.POD_ETH0
            and node is None
            and r_node is not None
            and r_kind in (HopKind.LXC, HopKind.BRIDGE, HopKind.GATEWAY)
        ):
            # a pod's gateway (its host veth, bridge or gateway device) answers on the pod's
            # own node: no dump or tunnel frame placed the pod, its answer does
            node = r_node
            req[0].node = node
        answer = "Neighbor Advertisement" if kind == "nd" else "ARP reply"
        flags = nd_flags(r["nd_flags"]) if kind == "nd" else None
        lat = r["latency_s"]
        lat_text = f" after {float(lat) * 1e6:.0f} µs" if not na(lat) else ""

        def at_responder(obs: list[tuple[Point, Row]]) -> list[Row]:
            """Frames a node capture on the responder's node took on the responder's interface
            (or on an interface it does not name)."""
            if stranger:
                return []  # no capture is known to be taken on it
            obs = [(p, row) for p, row in obs if not on_link(p)]
            if r_kind == HopKind.POD_ETH0 and answering is not None:
                return [
                    row
                    for p, row in obs
                    if p.kind == "pod" and p.pod == answering.label and not at_requester(p)
                ]
            return [
                row
                for p, row in obs
                if not at_requester(p)
                and p.kind == "node"
                and (r_node is None or p.node is None or p.node == r_node)
                and captured_on(ctx, p, row)[0] in (r_dev, None)
            ]

        def responder_hop(observed_rows: list[Row], note: str) -> Hop:
            return Hop(
                f"{name}",
                r_kind,
                bool(observed_rows),
                node=r_node,
                pod=answering.label
                if r_kind == HopKind.POD_ETH0 and answering is not None
                else plabel
                if r_kind == HopKind.LXC
                else None,
                mac=responder_mac,
                note=note,
                evidence=evs(observed_rows[:1]),
                device=r_dev,
                ip=responder_ip,
            )

        arrived = at_responder(req_obs)
        if arrived:
            # a node capture saw the request reach what answered it
            req.append(responder_hop(arrived, f"received the {what}"))
        got_rows = [row for p, row in rep_obs if at_requester(p)]
        reply = [
            responder_hop(
                at_responder(rep_obs),
                f"{answer}{f' flags {flags}' if flags else ''}{lat_text} from {r['responder_ip']}"
                + how,
            ),
            *link_hop(rep_obs),
            *tunnel_hop(rep_obs),
            Hop(
                place,
                hop_kind,
                bool(got_rows),
                node=node,
                pod=plabel,
                note="received the answer",
                evidence=evs(got_rows[:1]),
                device=device,
                ip=requester_ip,
            ),
        ]
    return req, reply


def nd_flags(value: object) -> str | None:
    """``R,S`` from the exchanges' ``nd_flags`` (``RS``)."""
    v = text_of(value)
    return ",".join(v) if v else None


def _underlay_target(ctx: Context, target: str) -> bool:
    """Whether ``target`` is an address of the underlay: a node's, or an outer address of
    tunnel packets."""
    return target in ctx.underlay_ips or ctx.node_label(target) is not None


def _node_side(ctx: Context, mac: str | None) -> tuple[HopKind, str] | None:
    """When a requester's MAC is a node's own interface by the overlay's datapath (no dump
    naming it): the hop kind and place (``cali veth (ee:ee:..)``, ``cni0 (1a:7d:..)``)."""
    if not mac or ctx.topology.pod_by_mac(mac) is not None:
        return None
    dp = ctx.datapath
    if dp.shared_host_mac is not None and mac == dp.shared_host_mac:
        return HopKind.LXC, f"{dp.host_veth} ({mac})"
    iface = ctx.topology.interface_by_mac(mac)
    if iface is None or iface.namespace not in (None, "host") or iface.kind != "other":
        return None
    if dp.gateway_mac == "bridge" and dp.forwarder not in (None, "eBPF"):
        return HopKind.BRIDGE, f"{dp.forwarder} ({mac})"
    if dp.gateway_mac == "gateway" and dp.gateway_names:
        return HopKind.GATEWAY, f"{dp.gateway_names[0]} ({mac})"
    return None
