"""Paths: for each exchange, the ordered hops its request (and reply) took, seen or inferred."""

from __future__ import annotations

import pandas as pd

from .context import Context, Point, Row, ev, first_row, groups, na, vals
from .model import Evidence, Hop, Path

__all__ = ["build_paths"]

MAX_PATHS = 200
"""More exchanges than this are summarised, not given a path each."""


def _observations(ctx: Context, rows: pd.DataFrame, side: str) -> list[tuple[Point, Row]]:
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
            out.append((ctx.points[cap], row))
    return sorted(out, key=lambda pr: pr[1]["ts_ns"])


def _at(
    obs: list[tuple[Point, Row]],
    kind: str,
    *,
    pod: str | None = None,
    node_ip: str | None = None,
    tunnelled: bool | None = None,
) -> list[Row]:
    out = []
    for point, row in obs:
        if point.kind != kind:
            continue
        if pod is not None and point.pod != pod:
            continue
        if node_ip is not None and point.node_ip != node_ip:
            continue
        if tunnelled is not None and na(row["tunnel"]) == tunnelled:
            continue
        out.append(row)
    return out


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


def _direction(
    ctx: Context, obs: list[tuple[Point, Row]], src_ip: str, dst_ip: str, src_mac: object
) -> list[Hop]:
    """Hops from the pod with ``src_ip`` to the pod with ``dst_ip`` through the overlay."""
    hops: list[Hop] = []
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
    if dpod is None and ctx.loaded and not ctx.topology.is_empty():
        dlabel = f"{dst_ip} (no pod of the dumps)"

    # 1. the sending pod's eth0
    seen = (
        _at(obs, "pod", pod=spod.label if spod is not None else None, tunnelled=False)
        if spod
        else []
    )
    if not seen:
        seen = [
            row
            for p, row in obs
            if p.kind in ("pod", "unknown")
            and na(row["tunnel"])
            and str(row["src_mac"]) == str(src_mac)
        ]
    first_seen = seen[0] if seen else None
    hops.append(
        Hop(
            f"{slabel} eth0",
            "pod-eth0",
            bool(seen),
            node=snode,
            pod=slabel,
            mac=str(src_mac) if not na(src_mac) else None,
            note=(
                f"sent {_frame_text(ctx, first_seen)}"
                if first_seen is not None
                else "no capture at the sending pod"
            ),
            evidence=_evs(seen[:2]),
        )
    )
    # 2. its lxc veth and Cilium's program there
    lxc_mac = (
        str(first_seen["dst_mac"])
        if first_seen is not None
        else (str(tun[0]["dst_mac"]) if tun else None)
    )
    lxc_name = (spod.host_interface if spod is not None and spod.host_interface else None) or (
        f"lxc veth {lxc_mac}" if lxc_mac else "lxc veth"
    )
    hops.append(
        Hop(
            f"{lxc_name} on {snode or '?'}",
            "lxc",
            False,
            node=snode,
            pod=slabel,
            mac=lxc_mac,
            note=(
                "the other end of the pod's veth: every frame the pod sends arrives here "
                "(the frames' destination MAC is this veth's)"
            ),
        )
    )
    same_node = dpod is not None and spod is not None and dpod.node and dpod.node == spod.node
    if same_node or (not tun and dpod is not None and spod is not None):
        hops.append(
            Hop(
                f"eBPF on {lxc_name}",
                "ebpf",
                False,
                node=snode,
                note="Cilium delivers locally: redirect to the destination pod's lxc veth, no tunnel",
            )
        )
    else:
        # a `-i any` capture on the sending node sees the packet on the lxc veth / tunnel device
        pre = _at(obs, "node", node_ip=outer_src, tunnelled=False) if outer_src else []
        pre_at = ", ".join(dict.fromkeys(w for r in pre[:3] if (w := ctx.interface_at(r))))
        hops.append(
            Hop(
                f"eBPF on {lxc_name} → cilium_vxlan"
                if not tun or str(tun[0]["tunnel"]) != "geneve"
                else f"eBPF on {lxc_name} → cilium_geneve",
                "ebpf",
                bool(pre),
                node=snode,
                note=(
                    f"seen before encapsulation ({pre_at}); "
                    if pre_at
                    else "seen before encapsulation; "
                    if pre
                    else ""
                )
                + "Cilium's program looks up the destination's node and redirects the frame to the "
                "tunnel device, Ethernet header unchanged",
                evidence=_evs(pre[:2]),
            )
        )
        sent = _at(obs, "node", node_ip=outer_src, tunnelled=True) if outer_src else []
        t0 = tun[0] if tun else None
        tun_text = (
            f"{str(t0['tunnel']).upper()} VNI {vals(t0['vni'])}, {t0['outer_src_ip']}:{vals(t0['outer_sport'])} → "
            f"{t0['outer_dst_ip']}:{vals(t0['outer_dport'])}; inner {_frame_text(ctx, t0)}"
            if t0 is not None
            else "not captured"
        )
        hops.append(
            Hop(
                _node_eth0(snode, outer_src, "sending node"),
                "underlay",
                bool(sent),
                node=snode,
                note=tun_text
                if sent
                else f"encapsulated here (inferred); {tun_text}"
                if t0 is not None
                else "encapsulated here (inferred; no node capture)",
                evidence=_evs(sent[:2]),
            )
        )
        between = [
            row
            for p, row in obs
            if p.kind == "node" and p.node_ip is None and not na(row["tunnel"])
        ]
        caps = ", ".join(sorted({f"{r['capture']}#{int(r['frame_no'])}" for r in between}))
        hops.append(
            Hop(
                "underlay network",
                "network",
                bool(between),
                note=(
                    f"seen on the underlay ({caps}), in a capture taken on one of the two nodes: which one "
                    "cannot be told from its frames"
                    if between
                    else "between the nodes' eth0 (not captured)"
                ),
                evidence=_evs(between[:2]),
            )
        )
        recv = _at(obs, "node", node_ip=outer_dst, tunnelled=True) if outer_dst else []
        hops.append(
            Hop(
                _node_eth0(dnode, outer_dst, "receiving node"),
                "underlay",
                bool(recv),
                node=dnode,
                note=("arrived: " + _frame_text(ctx, recv[0]))
                if recv
                else "no capture on the receiving node's eth0",
                evidence=_evs(recv[:2]),
            )
        )
        # a `-i any` capture on the receiving node sees the packet again after decapsulation
        inner = _at(obs, "node", node_ip=outer_dst, tunnelled=False) if outer_dst else []
        where = ", ".join(dict.fromkeys(w for r in inner[:3] if (w := ctx.interface_at(r))))
        hops.append(
            Hop(
                f"cilium_vxlan → eBPF on {dnode or '?'}",
                "ebpf",
                bool(inner),
                node=dnode,
                note=(
                    f"seen decapsulated ({where}); "
                    if inner and where
                    else "seen decapsulated; "
                    if inner
                    else "decapsulated; "
                )
                + "Cilium delivers to the destination pod's lxc veth, rewriting the MACs to lxc → pod and "
                "decrementing the hop limit once",
                evidence=_evs(inner[:2]),
            )
        )
    dlxc = dpod.host_interface if dpod is not None and dpod.host_interface else "lxc veth"
    hops.append(
        Hop(
            f"{dlxc} on {dnode or '?'}",
            "lxc",
            False,
            node=dnode,
            pod=dlabel,
            mac=dpod.host_mac if dpod is not None else None,
            note="host side of the destination pod's veth",
        )
    )
    got = _at(obs, "pod", pod=dpod.label, tunnelled=False) if dpod is not None else []
    hops.append(
        Hop(
            f"{dlabel} eth0",
            "pod-eth0",
            bool(got),
            node=dnode,
            pod=dlabel,
            mac=dpod.mac if dpod is not None else None,
            note=("received " + _frame_text(ctx, got[0]))
            if got
            else "no pod of the dumps has this address"
            if dpod is None and ctx.loaded
            else "no capture at the destination pod",
            evidence=_evs(got[:2]),
        )
    )
    return hops


def _gateway_hops(ctx: Context, rows: pd.DataFrame, kind: str) -> tuple[list[Hop], list[Hop]]:
    """NS/NA or ARP between a pod and what answers on its lxc veth."""
    r = first_row(rows)
    pod = ctx.pod_of(ip=r["requester_ip"], mac=r["requester_mac"])
    plabel = pod.label if pod is not None else f"pod {r['requester_mac']}"
    node = pod.node if pod is not None else None
    req_rows = [row for _, row in _observations(ctx, rows, "request")]
    rep_rows = [row for _, row in _observations(ctx, rows, "reply")]
    what = "Neighbor Solicitation" if kind == "nd" else "ARP request"
    req = [
        Hop(
            f"{plabel} eth0",
            "pod-eth0",
            bool(req_rows),
            node=node,
            pod=plabel,
            mac=str(r["requester_mac"]),
            note=f"{what} for {r['target']} from {r['requester_ip']}",
            evidence=_evs(req_rows[:1]),
        )
    ]
    reply: list[Hop] = []
    if not na(r["responder_mac"]):
        name = ctx.mac_name(r["responder_mac"]) or f"MAC {r['responder_mac']}"
        answer = "Neighbor Advertisement" if kind == "nd" else "ARP reply"
        flags = (
            f" flags {','.join(str(vals(r['nd_flags'])))}"
            if kind == "nd" and vals(r["nd_flags"])
            else ""
        )
        lat = vals(r["latency_s"])
        lat_text = f" after {lat * 1e6:.0f} µs" if lat is not None else ""
        reply = [
            Hop(
                f"{name}",
                "lxc",
                True,
                node=node,
                pod=plabel,
                mac=str(r["responder_mac"]),
                note=f"{answer}{flags}{lat_text} from {r['responder_ip']}",
                evidence=_evs(rep_rows[:1]),
            ),
            Hop(
                f"{plabel} eth0",
                "pod-eth0",
                True,
                node=node,
                pod=plabel,
                note="received the answer",
                evidence=_evs(rep_rows[:1]),
            ),
        ]
    return req, reply


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


_PATH_COLUMNS = [
    "kind", "key", "status", "point", "latency_s", "target", "nd_flags",
    "requester_ip", "requester_mac", "responder_ip", "responder_mac",
    "request_capture", "request_frame", "reply_capture", "reply_frame",
]  # fmt: skip
"""The exchanges' columns paths are drawn from."""


def build_paths(ctx: Context) -> tuple[list[Path], int]:
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
    paths: list[Path] = []
    for (kind, key), at in groups(chosen, ("kind", "key")).items():
        rows = chosen.iloc[at]
        kind, key = str(kind), str(key)
        if kind in ("nd", "arp"):
            req, rep = _gateway_hops(ctx, rows, kind)
        elif kind in ("echo", "tcp"):
            r = first_row(rows)
            req_obs = _observations(ctx, rows, "request")
            rep_obs = _observations(ctx, rows, "reply")
            src_ip, dst_ip = str(r["requester_ip"]), str(r["target"])
            req = _direction(ctx, req_obs, src_ip, dst_ip, r["requester_mac"])
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
                rep = _direction(ctx, rep_obs, dst_ip, src_ip, rep_src_mac)
        else:
            req, rep = [], []
        summary = _summary(ctx, kind, key, rows, [statuses[k] for k in at], [points[k] for k in at])
        paths.append(Path(kind=kind, summary=summary, hops=req, reply_hops=rep))
    return paths, max(0, total - MAX_PATHS)
