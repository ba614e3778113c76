"""Reachability findings: requests nobody answered, and where they were last seen."""

from __future__ import annotations

import pandas as pd

from ...proto import Severity
from ..context import Context, Row, na, vals
from ..model import Finding
from ._registry import FindingSpec, detector
from ._util import (
    MAX_EVIDENCE,
    MAX_PER_KIND,
    _frames,
    _more,
    _route_gateways,
)


@detector(
    FindingSpec("ns-unanswered", Severity.PROBLEM, "a Neighbor Solicitation nobody answered"),
    FindingSpec("arp-unanswered", Severity.PROBLEM, "an ARP request nobody answered"),
    FindingSpec("echo-unanswered", Severity.PROBLEM, "echo requests nobody answered"),
    FindingSpec("tcp-unanswered", Severity.PROBLEM, "a TCP SYN that got no answer"),
)
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
        out.append(_more(what[kind][0], Severity.PROBLEM, n, what[kind][1]))
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
                    Severity.PROBLEM,
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
                    Severity.PROBLEM,
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
                    Severity.PROBLEM,
                    f"Echo request {key} from {who} was never answered{tries}; {last}.",
                    evidence,
                    {"key": str(key), "target": target},
                )
            )
        elif kind == "tcp":
            out.append(
                Finding(
                    "tcp-unanswered",
                    Severity.PROBLEM,
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
