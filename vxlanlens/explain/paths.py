"""Paths: for each exchange, the ordered hops its request (and reply) took, seen or inferred.

A path says no more than the captures show. A hop is *seen* (``observed``) only where a capture
saw the packet, and cites only that capture's frames. Hops are inferred (from Cilium's datapath)
before the first sighting and between two sightings; after the last one the path stops with
"not seen after ..." unless the packet is known to have arrived (its answer was seen). The tunnel
on each side (VXLAN or Geneve) is the one seen in the captures, and the devices are named from
the dumps when they name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from ..proto import ExchangeStatus, HopKind
from .context import Context, Point, Row, ev, first_row, groups, na, vals
from .model import Evidence, Hop, PacketPath

__all__ = ["build_paths", "placed_points"]

MAX_PATHS = 200
"""More exchanges than this are summarised, not given a path each."""

_TUNNEL_DEVICE = {"vxlan": "cilium_vxlan", "geneve": "cilium_geneve"}
"""Cilium's tunnel device for a tunnel protocol, when no dump names the node's own."""
_TUNNEL_KIND = {"cilium_vxlan": "vxlan", "cilium_geneve": "geneve"}
"""Interface kinds of the topology that are tunnel devices, and the protocol of each."""


def _observations(
    ctx: Context, points: dict[str, Point], rows: pd.DataFrame, side: str
) -> list[tuple[Point, Row]]:
    """(capture point, packets row) of every frame of one side (``request`` / ``reply``),
    including the other observations of the same packet found by the journeys."""
    frames: list[tuple[str, int]] = []
    for c, f in zip(rows[f"{side}_capture"], rows[f"{side}_frame"], strict=True):
        if not na(c) and not na(f):
            frames.append((str(c), int(f)))
    for cap, frame in list(frames):
        frames += ctx.journey_frames(cap, frame)
    out = []
    for cap, frame in dict.fromkeys(frames):
        row = ctx.row(cap, frame)
        if row is not None:
            out.append((points[cap], row))
    return sorted(out, key=lambda pr: pr[1]["ts_ns"])


def _evs(rows: list[Row]) -> list[Evidence]:
    out = []
    for r in rows:
        e = ev(r["capture"], r["frame_no"])
        if e is not None:
            out.append(e)
    return out


def _frame_text(ctx: Context, row: Row) -> str:
    ttl = vals(row["ttl"])
    word = "hop limit" if vals(row["ip_version"]) == 6 else "TTL"
    ttl_text = f", {word} {ttl}" if ttl is not None else ""
    return f"{ctx.mac_text(row['src_mac'])} → {ctx.mac_text(row['dst_mac'])}, {row['src_ip']} → {row['dst_ip']}{ttl_text}"


def _node_eth0(node: str | None, ip: str | None, fallback: str) -> str:
    name = node or fallback
    return f"{name} eth0" + (f" ({ip})" if ip and ip not in name else "")


def _text(value: object) -> str | None:
    v = vals(value)
    return None if v is None else str(v)


def _int(value: object) -> int | None:
    v = vals(value)
    return None if v is None else int(v)  # type: ignore[call-overload]


def _tunnel_of(row: Row) -> str | None:
    t = _text(row["tunnel"])
    return t.lower() if t else None


def _captured_on(ctx: Context, point: Point, row: Row) -> tuple[str | None, str | None]:
    """(name, topology kind) of the interface a node capture's frame was taken on, as far as the
    capture says (SLL2 ifindex, pcapng interface name): ``(None, None)`` when it does not."""
    ifindex = _int(row["ifindex"])
    name = _text(row["interface"])
    for iface in ctx.topology.interfaces:
        if iface.node != point.node or iface.namespace not in (None, "host"):
            continue
        if (ifindex is not None and iface.ifindex == ifindex) or (
            ifindex is None and name and iface.name == name
        ):
            return iface.name, iface.kind
    if ifindex is None and name and name != "if0":
        kind = "lxc" if name.startswith("lxc") else name if name in _TUNNEL_KIND else None
        return name, kind
    return None, None


def _on_node(point: Point, ip: str | None, label: str | None) -> bool:
    """Whether a capture point is known to be on the node with underlay address ``ip`` (or
    label ``label`` when the capture's own address or the path's is not known)."""
    if point.kind != "node":
        return False
    if point.node_ip is not None and ip is not None:
        return point.node_ip == ip
    return label is not None and point.node == label


def placed_points(ctx: Context) -> dict[str, Point]:
    """The capture points, each node capture placed by its own frames' direction when they say
    it: a tunnelled frame a Linux ``-i any`` capture marks *outgoing* was sent by the capture's
    node (its outer source), one marked *host* was received by it (its outer destination). A
    capture whose directed frames all name one node is placed there, whatever was guessed from
    its name or its ARP; the others keep the context's placement."""
    p = ctx.packets
    out = dict(ctx.points)
    if p.empty or "pkt_type" not in p.columns:
        return out
    kind = ctx.text("pkt_type")
    directed = p["tunnel"].notna().to_numpy() & kind.isin(["outgoing", "host"]).to_numpy()
    if not directed.any():
        return out
    sub = p[directed]
    own = (
        sub["outer_src_ip"]
        .astype(str)
        .where(kind[directed] == "outgoing", sub["outer_dst_ip"].astype(str))
    )
    for capture, ips in own.groupby(ctx.text("capture")[directed], sort=False):
        found = set(ips)
        point = out.get(str(capture))
        if len(found) != 1 or point is None or point.kind not in ("node", "mixed"):
            continue
        ip = found.pop()
        if point.node_ip == ip and not point.candidates:
            continue
        out[str(capture)] = replace(
            point,
            kind="node",
            node_ip=ip,
            node=ctx.node_label(ip) or f"node {ip}",
            candidates=(),
            how=f"its -i any frames in the tunnel were sent from or received by {ip}",
        )
    return out


def _tunnel_device(
    ctx: Context, node: str | None, kind: str | None, seen_on: list[tuple[str, str]]
) -> str | None:
    """The tunnel device of a node for a tunnel protocol: the one a capture saw the packet on,
    else the one the dumps give the node, else Cilium's name for the protocol."""
    for name, protocol in seen_on:
        if kind is None or protocol == kind:
            return name
    for iface in ctx.topology.interfaces:
        if (
            node is not None
            and iface.node == node
            and iface.kind in _TUNNEL_KIND
            and (kind is None or _TUNNEL_KIND[iface.kind] == kind)
        ):
            return iface.name or iface.kind
    return _TUNNEL_DEVICE.get(kind or "")


@dataclass
class _Draft:
    """A hop being built: its note is ``base`` plus ``onward`` (what it does next, inferred),
    unless the path stops at this hop; ``points`` are the captures taken at this place."""

    hop: Hop
    base: str
    onward: str = ""
    points: set[str] = field(default_factory=set)


def _finish(
    drafts: list[_Draft], *, reached: bool, dst_text: str, no_pod: bool
) -> tuple[list[Hop], str | None]:
    """The hops of one direction bounded by the evidence: after the last hop a capture saw, the
    path stops (unless the packet is known to have arrived); returns the hops and, when cut, the
    place the packet was last seen."""
    seen = [i for i, d in enumerate(drafts) if d.hop.observed]
    last = seen[-1] if seen else len(drafts) - 1
    cut = not reached and bool(seen) and last < len(drafts) - 1
    kept = drafts[: last + 1] if cut else drafts
    hops = []
    for i, d in enumerate(kept):
        parts = [p for p in (d.base, d.onward) if p]
        if cut and i == len(kept) - 1:
            parts = [d.base] if d.base else []
            before = set().union(*(k.points for k in kept))
            further = sorted(set().union(*(k.points for k in drafts[last + 1 :])) - before)
            why = (
                f"not seen after {d.hop.place}, although {', '.join(further)} captured further "
                "along its way: it may have been dropped or diverted in between"
                if further
                else f"not seen after {d.hop.place}: no capture further along its way holds it "
                "(it may have gone on uncaptured, or been dropped)"
            )
            if no_pod:
                why += f"; no pod of the dumps has {dst_text}"
            parts.append(why)
        if reached and i == len(kept) - 1 and seen and last < i:
            # nothing saw it here: the answer is what shows it got this far
            parts.append("the answer shows the request reached it")
        d.hop.note = "; ".join(parts)
        hops.append(d.hop)
    return hops, (kept[-1].hop.place if cut else None)


def _direction(
    ctx: Context,
    points: dict[str, Point],
    obs: list[tuple[Point, Row]],
    src_ip: str,
    dst_ip: str,
    src_mac: object,
    *,
    reached: bool,
) -> tuple[list[Hop], str | None]:
    """Hops from the pod with ``src_ip`` to the pod with ``dst_ip`` through the overlay, bounded
    by where the captures saw the packet (``reached``: it is known to have arrived, e.g. it was
    answered); returns the hops and the place it was last seen when the path stops short."""
    spod = ctx.pod_of(ip=src_ip, mac=src_mac)
    dpod = ctx.pod_of(ip=dst_ip)
    tun = [row for _, row in obs if not na(row["tunnel"])]
    outer_src = str(tun[0]["outer_src_ip"]) if tun else None
    outer_dst = str(tun[0]["outer_dst_ip"]) if tun else None
    snode = (
        (spod.node if spod is not None else None)
        or ctx.node_label(outer_src)
        or (f"node {outer_src}" if outer_src else None)
    )
    dnode = (
        (dpod.node if dpod is not None else None)
        or ctx.node_label(outer_dst)
        or ctx.node_of_pod_ip(dst_ip)
        or (f"node {outer_dst}" if outer_dst else None)
    )
    slabel = spod.label if spod is not None else f"pod {src_ip}"
    dlabel = dpod.label if dpod is not None else f"pod {dst_ip}"
    no_pod = dpod is None and ctx.loaded and not ctx.topology.is_empty()
    if no_pod:
        dlabel = f"{dst_ip} (no pod of the dumps)"
    src_mac_text = None if na(src_mac) else str(src_mac)

    # a packet seen in a tunnel crossed nodes, whatever the dumps say of the pods' nodes
    if tun:
        local = False
    elif spod is not None and dpod is not None and spod.node and dpod.node:
        local = spod.node == dpod.node
    else:
        local = spod is not None and dpod is not None

    # where each capture point is: sending pod, sending node, between, receiving node, pod
    def at_pod(p: Point, pod: object) -> bool:
        return p.kind == "pod" and pod is not None and p.pod == pod.label  # type: ignore[attr-defined]

    sender_pts = {p.capture for p in points.values() if _on_node(p, outer_src, snode)}
    receiver_pts = {p.capture for p in points.values() if _on_node(p, outer_dst, dnode)}
    if local:
        receiver_pts = sender_pts
    between_pts = {
        p.capture
        for p in points.values()
        if p.kind in ("node", "mixed") and p.capture not in sender_pts | receiver_pts
    }
    spod_pts = {p.capture for p in points.values() if at_pod(p, spod)}
    dpod_pts = {p.capture for p in points.values() if at_pod(p, dpod)}

    # 1. the sending pod's eth0
    seen = [row for p, row in obs if at_pod(p, spod) and na(row["tunnel"])]
    if not seen:
        seen = [
            row
            for p, row in obs
            if p.kind in ("pod", "unknown")
            and na(row["tunnel"])
            and str(row["src_mac"]) == str(src_mac)
        ]
    first_seen = seen[0] if seen else None

    # frames a node capture saw outside the tunnel, by side and by interface
    pre_lxc: list[Row] = []
    pre_dev: list[Row] = []
    post_lxc: list[Row] = []
    post_dev: list[Row] = []
    pre_on: list[tuple[str, str]] = []  # tunnel devices the packet was seen on: (name, protocol)
    post_on: list[tuple[str, str]] = []
    pre_lxc_on: list[str | None] = []
    post_lxc_on: list[str | None] = []
    for p, row in obs:
        if p.kind != "node" or not na(row["tunnel"]):
            continue
        name, kind = _captured_on(ctx, p, row)
        if local:
            if p.capture not in sender_pts:
                continue
            mine = spod is not None and spod.host_interface
            sending = (name == spod.host_interface) if mine else str(row["src_mac"]) == str(src_mac)
        elif p.capture in sender_pts:
            sending = True
        elif p.capture in receiver_pts:
            sending = False
        else:
            continue
        if sending:
            (pre_lxc if kind == "lxc" else pre_dev).append(row)
            if kind == "lxc":
                pre_lxc_on.append(name)
            elif kind in _TUNNEL_KIND and name:
                pre_on.append((name, _TUNNEL_KIND[kind]))
        else:
            (post_lxc if kind == "lxc" else post_dev).append(row)
            if kind == "lxc":
                post_lxc_on.append(name)
            elif kind in _TUNNEL_KIND and name:
                post_on.append((name, _TUNNEL_KIND[kind]))

    drafts: list[_Draft] = [
        _Draft(
            Hop(
                f"{slabel} eth0",
                HopKind.POD_ETH0,
                bool(seen),
                node=snode,
                pod=slabel,
                mac=src_mac_text,
                evidence=_evs(seen[:2]),
                device="eth0",
                ip=src_ip,
            ),
            f"sent {_frame_text(ctx, first_seen)}"
            if first_seen is not None
            else "no capture at the sending pod",
            points=spod_pts,
        )
    ]
    # 2. its lxc veth
    lxc_mac = (
        str(first_seen["dst_mac"])
        if first_seen is not None
        else (str(tun[0]["dst_mac"]) if tun else None)
    )
    lxc_dev = spod.host_interface if spod is not None and spod.host_interface else None
    lxc_dev = lxc_dev or next((n for n in pre_lxc_on if n), None)
    lxc_name = lxc_dev or (f"lxc veth {lxc_mac}" if lxc_mac else "lxc veth")
    drafts.append(
        _Draft(
            Hop(
                f"{lxc_name} on {snode or '?'}",
                HopKind.LXC,
                bool(pre_lxc),
                node=snode,
                pod=slabel,
                mac=lxc_mac,
                evidence=_evs(pre_lxc[:2]),
                device=lxc_dev,
            ),
            "the other end of the pod's veth: every frame the pod sends arrives here "
            "(the frames' destination MAC is this veth's)",
            points=sender_pts,
        )
    )
    if local:
        drafts.append(
            _Draft(
                Hop(
                    f"eBPF on {lxc_name}",
                    HopKind.EBPF,
                    bool(pre_dev),
                    node=snode,
                    evidence=_evs(pre_dev[:2]),
                ),
                "",
                "Cilium delivers locally: redirect to the destination pod's lxc veth, no tunnel",
                points=sender_pts,
            )
        )
    else:
        sent = [row for p, row in obs if p.capture in sender_pts and not na(row["tunnel"])]
        recv = [row for p, row in obs if p.capture in receiver_pts and not na(row["tunnel"])]
        between = [row for p, row in obs if p.capture in between_pts and not na(row["tunnel"])]
        s_tun = _tunnel_of(sent[0]) if sent else _tunnel_of(tun[0]) if tun else None
        r_tun = _tunnel_of(recv[0]) if recv else _tunnel_of(tun[0]) if tun else None
        s_dev = _tunnel_device(ctx, snode, s_tun, pre_on)
        r_dev = _tunnel_device(ctx, dnode, r_tun, post_on)
        # 3. Cilium's program on the lxc veth hands the frame to the tunnel device
        pre_at = ", ".join(dict.fromkeys(w for r in pre_dev[:3] if (w := ctx.interface_at(r))))
        drafts.append(
            _Draft(
                Hop(
                    f"eBPF on {lxc_name} → {s_dev or 'the tunnel device'}",
                    HopKind.EBPF,
                    bool(pre_dev),
                    node=snode,
                    evidence=_evs(pre_dev[:2]),
                    device=s_dev,
                    tunnel=s_tun,
                ),
                (f"seen before encapsulation ({pre_at})" if pre_at else "seen before encapsulation")
                if pre_dev
                else "",
                "Cilium's program looks up the destination's node and redirects the frame to the "
                "tunnel device, Ethernet header unchanged",
                points=sender_pts,
            )
        )
        # 4. the sending node's eth0
        t0 = sent[0] if sent else tun[0] if tun else None
        outer = (
            {
                "tunnel": _tunnel_of(t0),
                "vni": _int(t0["vni"]),
                "outer_src_ip": _text(t0["outer_src_ip"]),
                "outer_dst_ip": _text(t0["outer_dst_ip"]),
                "outer_src_port": _int(t0["outer_sport"]),
                "outer_dst_port": _int(t0["outer_dport"]),
            }
            if t0 is not None
            else {}
        )
        tun_text = (
            f"{str(t0['tunnel']).upper()} VNI {vals(t0['vni'])}, {t0['outer_src_ip']}:{vals(t0['outer_sport'])} → "
            f"{t0['outer_dst_ip']}:{vals(t0['outer_dport'])}; inner {_frame_text(ctx, t0)}"
            if t0 is not None
            else "not captured"
        )
        drafts.append(
            _Draft(
                Hop(
                    _node_eth0(snode, outer_src, "sending node"),
                    HopKind.UNDERLAY,
                    bool(sent),
                    node=snode,
                    evidence=_evs(sent[:2]),
                    device="eth0",
                    ip=outer_src,
                    **outer,  # type: ignore[arg-type]
                ),
                tun_text
                if sent
                else f"encapsulated here (inferred); {tun_text}"
                if t0 is not None
                else "encapsulated here (inferred; no node capture)",
                points=sender_pts,
            )
        )
        # 5. the underlay between the nodes
        caps = ", ".join(sorted({f"{r['capture']}#{int(r['frame_no'])}" for r in between}))
        drafts.append(
            _Draft(
                Hop(
                    "underlay network",
                    HopKind.NETWORK,
                    bool(between),
                    evidence=_evs(between[:2]),
                    **outer,  # type: ignore[arg-type]
                ),
                f"seen on the underlay ({caps}), in a capture taken on one of the two nodes: which one "
                "cannot be told from its frames"
                if between
                else "between the nodes' eth0 (not captured)",
                points=between_pts,
            )
        )
        # 6. the receiving node's eth0
        if recv:
            arrived = "arrived: " + _frame_text(ctx, recv[0])
        elif receiver_pts:
            arrived = f"not in {', '.join(sorted(receiver_pts))}, taken on this node"
        elif between:
            arrived = (
                "no capture known to be on the receiving node's eth0 (the underlay capture that "
                "holds it may be this node's)"
            )
        else:
            arrived = "no capture on the receiving node's eth0"
        r0 = recv[0] if recv else t0
        drafts.append(
            _Draft(
                Hop(
                    _node_eth0(dnode, outer_dst, "receiving node"),
                    HopKind.UNDERLAY,
                    bool(recv),
                    node=dnode,
                    evidence=_evs(recv[:2]),
                    device="eth0",
                    ip=outer_dst,
                    **{  # type: ignore[arg-type]
                        **outer,
                        **({"tunnel": r_tun, "vni": _int(r0["vni"])} if r0 is not None else {}),
                    },
                ),
                arrived,
                points=receiver_pts,
            )
        )
        # 7. the receiving node's tunnel device and Cilium's program there
        where = ", ".join(dict.fromkeys(w for r in post_dev[:3] if (w := ctx.interface_at(r))))
        drafts.append(
            _Draft(
                Hop(
                    f"{r_dev or 'tunnel device'} → eBPF on {dnode or '?'}",
                    HopKind.TUNNEL,
                    bool(post_dev),
                    node=dnode,
                    evidence=_evs(post_dev[:2]),
                    device=r_dev,
                    tunnel=r_tun,
                ),
                (f"seen decapsulated ({where})" if where else "seen decapsulated")
                if post_dev
                else "decapsulated",
                "Cilium delivers to the destination pod's lxc veth, rewriting the MACs to lxc → "
                "pod and decrementing the hop limit once",
                points=receiver_pts,
            )
        )
    # 8. the destination pod's lxc veth
    dlxc_dev = dpod.host_interface if dpod is not None and dpod.host_interface else None
    dlxc_dev = dlxc_dev or next((n for n in post_lxc_on if n), None)
    drafts.append(
        _Draft(
            Hop(
                f"{dlxc_dev or 'lxc veth'} on {dnode or '?'}",
                HopKind.LXC,
                bool(post_lxc),
                node=dnode,
                pod=dlabel,
                mac=dpod.host_mac if dpod is not None else None,
                evidence=_evs(post_lxc[:2]),
                device=dlxc_dev,
            ),
            "host side of the destination pod's veth",
            points=receiver_pts,
        )
    )
    # 9. the destination pod's eth0
    got = [row for p, row in obs if at_pod(p, dpod) and na(row["tunnel"])]
    drafts.append(
        _Draft(
            Hop(
                f"{dlabel} eth0",
                HopKind.POD_ETH0,
                bool(got),
                node=dnode,
                pod=dlabel,
                mac=dpod.mac if dpod is not None else None,
                evidence=_evs(got[:2]),
                device="eth0",
                ip=dst_ip,
            ),
            ("received " + _frame_text(ctx, got[0]))
            if got
            else "no pod of the dumps has this address"
            if dpod is None and ctx.loaded
            else "no capture at the destination pod",
            points=dpod_pts,
        )
    )
    return _finish(drafts, reached=reached, dst_text=dst_ip, no_pod=no_pod)


_RESPONDER_KIND = {
    "lxc": HopKind.LXC,
    "underlay": HopKind.UNDERLAY,
    "cilium_host": HopKind.GATEWAY,
    "cilium_net": HopKind.GATEWAY,
}
"""Hop kind of what answered an ARP request or Neighbor Solicitation, by interface kind."""


def _gateway_hops(
    ctx: Context, points: dict[str, Point], rows: pd.DataFrame, kind: str
) -> tuple[list[Hop], list[Hop]]:
    """NS/NA or ARP between a pod (or a node) and what answers it: for a pod, Cilium's program
    on its lxc veth or the gateway; each hop cites only the frames of captures taken there."""
    r = first_row(rows)
    requester_ip, requester_mac = _text(r["requester_ip"]), _text(r["requester_mac"])
    pod = ctx.pod_of(ip=requester_ip, mac=requester_mac)
    node_of_ip = ctx.node_label(requester_ip) if pod is None else None
    req_obs = _observations(ctx, points, rows, "request")
    rep_obs = _observations(ctx, points, rows, "reply")
    if pod is None and node_of_ip is not None:
        # a node resolving another node on the underlay
        node: str | None = node_of_ip
        plabel = None
        place = _node_eth0(node_of_ip, requester_ip, "node")
        hop_kind = HopKind.UNDERLAY

        def at_requester(p: Point) -> bool:
            return _on_node(p, requester_ip, node_of_ip)

    else:
        plabel = pod.label if pod is not None else f"pod {requester_mac}"
        node = pod.node if pod is not None else None
        place = f"{plabel} eth0"
        hop_kind = HopKind.POD_ETH0

        def at_requester(p: Point) -> bool:
            return p.kind == "unknown" or (p.kind == "pod" and (pod is None or p.pod == plabel))

    what = "Neighbor Solicitation" if kind == "nd" else "ARP request"
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
            evidence=_evs(req_rows[:1]),
            device="eth0",
            ip=requester_ip,
        )
    ]
    reply: list[Hop] = []
    responder_mac = _text(r["responder_mac"])
    if responder_mac is not None:
        name = ctx.mac_name(responder_mac) or f"MAC {responder_mac}"
        iface = ctx.topology.interface_by_mac(responder_mac)
        host_pod = ctx.topology.pod_by_host_mac(responder_mac)
        if host_pod is not None:
            r_kind, r_dev = HopKind.LXC, host_pod.host_interface
        elif iface is not None:
            r_kind, r_dev = _RESPONDER_KIND.get(iface.kind, HopKind.LXC), iface.name
        else:
            r_kind, r_dev = (HopKind.LXC if hop_kind == HopKind.POD_ETH0 else hop_kind), None
        responder_ip = _text(r["responder_ip"])
        r_node = (iface.node if iface is not None else None) or (
            ctx.node_label(responder_ip) if hop_kind == HopKind.UNDERLAY else node
        )
        if ctx.mac_name(responder_mac) is None and hop_kind == HopKind.UNDERLAY:
            name = _node_eth0(r_node, responder_ip, "node")
        answer = "Neighbor Advertisement" if kind == "nd" else "ARP reply"
        flags = _nd_flags(r["nd_flags"]) if kind == "nd" else None
        lat = vals(r["latency_s"])
        lat_text = f" after {lat * 1e6:.0f} µs" if lat is not None else ""

        def at_responder(obs: list[tuple[Point, Row]]) -> list[Row]:
            """Frames a node capture took on the responder's interface (or on an interface it
            does not name)."""
            return [
                row
                for p, row in obs
                if not at_requester(p)
                and p.kind == "node"
                and _captured_on(ctx, p, row)[0] in (r_dev, None)
            ]

        def responder_hop(observed_rows: list[Row], note: str) -> Hop:
            return Hop(
                f"{name}",
                r_kind,
                bool(observed_rows),
                node=r_node,
                pod=plabel if r_kind == HopKind.LXC else None,
                mac=responder_mac,
                note=note,
                evidence=_evs(observed_rows[:1]),
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
                f"{answer}{f' flags {flags}' if flags else ''}{lat_text} from {r['responder_ip']}",
            ),
            Hop(
                place,
                hop_kind,
                bool(got_rows),
                node=node,
                pod=plabel,
                note="received the answer",
                evidence=_evs(got_rows[:1]),
                device="eth0",
                ip=requester_ip,
            ),
        ]
    return req, reply


def _nd_flags(value: object) -> str | None:
    """``R,S`` from the exchanges' ``nd_flags`` (``RS``)."""
    v = _text(value)
    return ",".join(v) if v else None


def _summary(
    ctx: Context, kind: str, key: str, rows: pd.DataFrame, statuses: list, points: list
) -> str:
    """``ARP 10.0.0.1: answered by ... in 0.012 ms at cap``: ``statuses`` and ``points`` are the
    rows' ``status`` and ``point`` as text."""
    answered = [k for k, st in enumerate(statuses) if st == "answered"]
    if answered:
        latency = rows["latency_s"].tolist()
        known = rows["latency_s"].notna().tolist()
        per_point = [
            f"{float(latency[k]) * 1e3:.3f} ms at {points[k]}" for k in answered if known[k]
        ]
        shown = ", ".join(dict.fromkeys(per_point[:4])) + (", ..." if len(per_point) > 4 else "")
        lat_text = f" in {shown}" if per_point else ""
        who = vals(rows["responder_mac"].iloc[answered[0]])
        by = f" by {ctx.mac_text(who)}" if kind in ("nd", "arp") and who else ""
        status = f"answered{by}{lat_text}"
    else:
        status = ", ".join(sorted(set(statuses)))
    label = {
        "nd": "NS/NA",
        "arp": "ARP",
        "echo": "echo",
        "tcp": "TCP handshake",
        "icmp-error": "ICMP error",
    }.get(kind, kind)
    return f"{label} {key}: {status}"


def _status(statuses: list[str]) -> ExchangeStatus | None:
    """One status for a path: answered when any observation was, else unanswered when any
    was, else the first one's."""
    for wanted in ("answered", "unanswered"):
        if wanted in statuses:
            return ExchangeStatus(wanted)
    return (
        ExchangeStatus(statuses[0]) if statuses and statuses[0] in ExchangeStatus.values() else None
    )


def _first_tunnel(obs: list[tuple[Point, Row]]) -> tuple[str | None, int | None]:
    for _, row in obs:
        if not na(row["tunnel"]):
            return _tunnel_of(row), _int(row["vni"])
    return None, None


_PATH_COLUMNS = [
    "kind", "key", "status", "point", "latency_s", "target", "nd_flags",
    "requester_ip", "requester_mac", "responder_ip", "responder_mac",
    "request_capture", "request_frame", "reply_capture", "reply_frame",
    "echo_id", "echo_seq", "dport",
]  # fmt: skip
"""The exchanges' columns paths are drawn from."""


def build_paths(ctx: Context) -> tuple[list[PacketPath], int]:
    """One path per logical exchange (the same exchange seen at several points is one path);
    returns the paths and how many exchanges were left without one (over :data:`MAX_PATHS`)."""
    ex = ctx.exchanges
    if ex.empty:
        return [], 0
    ex = ex[ex["status"].astype(str) != "duplicate"]
    grouped = ex.groupby(["kind", "key"], observed=True, sort=False)
    total = grouped.ngroups
    keys = ex[["kind", "key"]].astype(str).drop_duplicates().head(MAX_PATHS)
    wanted = set(keys.itertuples(index=False, name=None))
    kinds, exkeys = ex["kind"].astype(str).tolist(), ex["key"].astype(str).tolist()
    cols = [c for c in _PATH_COLUMNS if c in ex.columns]
    chosen = ex.loc[[k in wanted for k in zip(kinds, exkeys, strict=True)], cols]
    statuses = chosen["status"].astype(str).tolist()
    points = chosen["point"].astype(str).tolist()
    paths: list[PacketPath] = []
    placed = placed_points(ctx)
    for (kind, key), at in groups(chosen, ("kind", "key")).items():
        rows = chosen.iloc[at]
        kind, key = str(kind), str(key)
        r = first_row(rows)
        status = _status([statuses[k] for k in at])
        req_obs = _observations(ctx, placed, rows, "request")
        rep_obs = _observations(ctx, placed, rows, "reply")
        last_seen = None
        if kind in ("nd", "arp"):
            req, rep = _gateway_hops(ctx, placed, rows, kind)
        elif kind in ("echo", "tcp"):
            src_ip, dst_ip = str(r["requester_ip"]), str(r["target"])
            req, last_seen = _direction(
                ctx, placed, req_obs, src_ip, dst_ip, r["requester_mac"], reached=bool(rep_obs)
            )
            rep = []
            if rep_obs:
                rep_src_mac = next(
                    (
                        row["src_mac"]
                        for p, row in rep_obs
                        if not na(row["tunnel"]) or p.kind == "pod"
                    ),
                    None,
                )
                rep, _ = _direction(
                    ctx, placed, rep_obs, dst_ip, src_ip, rep_src_mac, reached=False
                )
        else:
            req, rep = [], []
        summary = _summary(ctx, kind, key, rows, [statuses[k] for k in at], [points[k] for k in at])
        tunnel, vni = _first_tunnel(req_obs)
        rep_tunnel, reply_vni = _first_tunnel(rep_obs)
        paths.append(
            PacketPath(
                kind=kind,
                summary=summary,
                hops=req,
                reply_hops=rep,
                key=key,
                status=status,
                src_ip=_text(r["requester_ip"]),
                dst_ip=_text(r["target"]),
                target=_text(r["target"]),
                echo_id=_int(r["echo_id"]) if "echo_id" in rows else None,
                echo_seq=_int(r["echo_seq"]) if "echo_seq" in rows else None,
                dst_port=_int(r["dport"]) if kind == "tcp" and "dport" in rows else None,
                nd_flags=_nd_flags(r["nd_flags"]) if kind == "nd" else None,
                responder_mac=_text(r["responder_mac"]) if kind in ("nd", "arp") else None,
                tunnel=tunnel or rep_tunnel,
                vni=vni,
                reply_vni=reply_vni,
                last_seen=last_seen,
            )
        )
    return paths, max(0, total - MAX_PATHS)
