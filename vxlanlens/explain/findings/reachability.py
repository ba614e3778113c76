"""Reachability findings: requests nobody answered, requests answered only after a while, and
requests answered by an ICMP error; one finding per flow (a requester asking one target)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...proto import ExchangeKind, ExchangeStatus, Severity
from .._icmp import error_words
from ..context import Context, Row, na, vals
from ..model import Evidence, Finding
from . import _requests
from ._registry import FindingSpec, detector
from ._requests import (
    Exchange,
    Flow,
    clock_offsets_by_capture,
    corrected,
    flows,
    numbers_text,
    runs,
    seq_text,
)
from ._util import MAX_EVIDENCE, MAX_PER_KIND, _dedup, _Lists, _more, _route_gateways
from ._visibility import blind_points

UNANSWERED_IDS = {
    ExchangeKind.ND: "ns-unanswered",
    ExchangeKind.ARP: "arp-unanswered",
    ExchangeKind.ECHO: "echo-unanswered",
    ExchangeKind.TCP: "tcp-unanswered",
}
WHAT = {
    ExchangeKind.ND: ("Neighbor Solicitation", "Neighbor Solicitations"),
    ExchangeKind.ARP: ("ARP request", "ARP requests"),
    ExchangeKind.ECHO: ("echo request", "echo requests"),
    ExchangeKind.TCP: ("TCP SYN", "TCP SYNs"),
}
DUE_FLOOR_S = 0.5
"""The least wait, in seconds, after which a missing answer counts (a capture that stops
sooner after a request than this, and than ten times the slowest answer it shows, cannot tell
an unanswered request from one whose answer came after it stopped)."""
MAX_GAPS = 10
"""Gaps of one flow listed one by one in a transient-failure finding's details."""


def _plural(n: int, kind: str) -> str:
    one, many = WHAT[kind]  # type: ignore[index]
    return f"{n} {one if n == 1 else many}"


def _seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.1f} s"


class _Flows:
    """Row access for the flows' exchanges (the exchanges table, column by column)."""

    def __init__(self, ctx: Context) -> None:
        ex = ctx.exchanges
        self.ctx = ctx
        self.ex = ex
        self.cols = _Lists(ex)
        self.offsets = clock_offsets_by_capture(ctx)
        self._ends: dict[str, float | None] = {}
        self._due: float | None = None

    def get(self, column: str, pos: int) -> Any:
        """The value of ``column`` at row ``pos`` of the exchanges table (None for nulls)."""
        return vals(self.cols[column][pos])

    def capture_gap(self, x: Exchange) -> float | None:
        """Seconds from the request's first copy to the end of the last capture that saw it
        (reference clock); ``None`` when no capture that saw it is known. A retransmission
        shows the sender waited in vain before it: the first copy's wait is what counts."""
        caps = {str(c) for c in (self.get("request_capture", pos) for pos in x.rows) if c}
        caps |= {c for _, c, _ in x.copies}
        ends: list[float] = []
        for c in caps:
            if c not in self._ends:
                last = self.ctx.span(c)[1]
                self._ends[c] = None if last is None else corrected(last, c, self.offsets)
            end = self._ends[c]
            if end is not None:
                ends.append(end)
        return max(ends) - x.ts if ends else None

    @property
    def due_s(self) -> float:
        """Seconds after which an answer was due: ten times the slowest answer the captures
        show, at least :data:`DUE_FLOOR_S`, at most the answer timeout."""
        if self._due is None:
            lat = pd.to_numeric(self.ex["latency_s"], errors="coerce").dropna()
            slowest = float(lat.max()) if len(lat) else 0.0
            self._due = min(self.ctx.timeout_s, max(DUE_FLOOR_S, 10 * slowest))
        return self._due

    def cut_by_end(self, x: Exchange) -> bool:
        """Whether every capture that saw the request ended before an answer was due
        (:attr:`due_s` after its first copy): the captures stop too soon to tell."""
        gap = self.capture_gap(x)
        return gap is not None and gap < self.due_s

    def who(self, flow: Flow, x: Exchange) -> str:
        """The requester, named as a pod when the topology knows it."""
        pos = x.rows[0]
        ip, mac = self.get("requester_ip", pos), self.get("requester_mac", pos)
        return self.ctx.pod_label(ip=ip, mac=mac) or str(ip if ip is not None else flow.requester)

    def frames(self, xs: list[Exchange], with_answers: bool = False) -> list[Evidence]:
        """Evidence: the request frames of the exchanges (every observation point), capped."""
        out: list[Evidence] = []
        for x in xs:
            for pos in x.rows:
                c, f = self.get("request_capture", pos), self.get("request_frame", pos)
                if c is not None and f is not None:
                    out.append(Evidence(capture=str(c), frame_no=int(f)))
                if with_answers and pos == x.answer_row:
                    c, f = self.get("reply_capture", pos), self.get("reply_frame", pos)
                    if c is not None and f is not None:
                        out.append(Evidence(capture=str(c), frame_no=int(f)))
            if len(out) >= MAX_EVIDENCE:
                break
        return _dedup(out)

    def answered_at(self, x: Exchange) -> tuple[str, float]:
        """Where the exchange's answer was seen (``capture#frame``) and when (reference clock)."""
        pos = x.answer_row if x.answer_row is not None else x.rows[0]
        c, f = self.get("reply_capture", pos), self.get("reply_frame", pos)
        lat = self.get("latency_s", pos)
        t = corrected(self.cols["ts"][pos], self.get("request_capture", pos), self.offsets)
        return f"{c}#{f}", t + (float(lat) if lat is not None else 0.0)

    def ends(self, xs: list[Exchange]) -> tuple[str, str]:
        """The first and last request frames of ``xs`` (retransmissions included) as
        ``capture#frame``, both from the one capture that saw most of them (a pod's first)."""
        per: dict[str, list[int]] = {}
        cover: dict[str, set[int]] = {}
        for k, x in enumerate(xs):
            for pos in x.rows:
                c, f = self.get("request_capture", pos), self.get("request_frame", pos)
                if c is not None and f is not None:
                    per.setdefault(str(c), []).append(int(f))
                    cover.setdefault(str(c), set()).add(k)
            for _, c, f in x.copies:
                per.setdefault(c, []).append(f)
        if not per:
            return "{}#{}".format(*xs[0].frame), "{}#{}".format(*xs[-1].last_frame)

        def rank(cap: str) -> tuple[int, int]:
            pt = self.ctx.points.get(cap)
            return (len(cover.get(cap, ())), 1 if pt is not None and pt.kind == "pod" else 0)

        cap = max(per, key=rank)
        return f"{cap}#{min(per[cap])}", f"{cap}#{max(per[cap])}"

    def tries(self, xs: list[Exchange]) -> int:
        """Requests sent, retransmissions included."""
        return sum(1 + x.retransmissions for x in xs)


def _flow_text(flow: Flow, pos: int, view: _Flows) -> str:
    """The flow, as a user reads it: ``fd00::1 > fd00::2 id 44`` / ``for fd00::77``."""
    if flow.kind == ExchangeKind.ECHO:
        src = view.get("requester_ip", pos)
        return f"{src} > {flow.target} id {flow.extra}"
    if flow.kind == ExchangeKind.TCP:
        src = view.get("requester_ip", pos)
        return f"{src} > {flow.target} port {flow.extra}"
    return f"for {flow.target}"


def _nd_reason(ctx: Context, target: str, routers: set[str]) -> str:
    if not ctx.cilium_words:
        return ctx.datapath.ns_reason(target in routers)
    if target in routers:
        return (
            "it is the pod's router IP, which Cilium's eBPF program on the lxc veth should answer: "
            "check that the endpoint's programs are loaded (cilium-dbg bpf endpoint list / cilium-dbg endpoint list)"
        )
    if ctx.topology.pod_by_ip(target) is not None:
        return "it is a pod address; Cilium answers an NS for a local endpoint, so the endpoint may not be local or not ready"
    return (
        "Cilium's eBPF answers an NS only for the router IP and local endpoints and drops the rest "
        '("Unknown L3 target address"), so a solicitation for another address stays unanswered'
    )


ARP_REASON = (
    "Cilium's eBPF on the lxc veth answers ARP for any target except the pod's own address, so no answer "
    "means the lxc program is missing or the frame never reached it"
)


@detector(
    FindingSpec(
        "ns-unanswered",
        Severity.PROBLEM,
        "Neighbor Solicitations nobody answered",
        also=(Severity.WARNING, Severity.INFO),
    ),
    FindingSpec(
        "arp-unanswered",
        Severity.PROBLEM,
        "ARP requests nobody answered",
        also=(Severity.WARNING, Severity.INFO),
    ),
    FindingSpec(
        "echo-unanswered",
        Severity.PROBLEM,
        "echo requests nobody answered",
        also=(Severity.WARNING, Severity.INFO),
    ),
    FindingSpec(
        "tcp-unanswered",
        Severity.PROBLEM,
        "TCP SYNs (and their retransmissions) that got no answer at all (the SYN-unanswered "
        "finding); info when no capture that saw them could see an answer",
        also=(Severity.WARNING, Severity.INFO),
    ),
    FindingSpec(
        "transient-failure",
        Severity.WARNING,
        "requests of one flow unanswered for a while, then answered: the flow recovered",
    ),
)
def unanswered(ctx: Context) -> list[Finding]:
    """Requests nobody answered (one finding per flow, with where the last one was last seen),
    and flows whose requests went unanswered for a while and were answered later."""
    # only flows with an unanswered request can make a finding here (a request is unanswered
    # only when a row of it is)
    if not _requests.any_row(ctx, status=ExchangeStatus.UNANSWERED.value):
        return []
    fl = [f for f in flows(ctx) if any(x.outcome == "unanswered" for x in f.exchanges)]
    if not fl:
        return []
    view = _Flows(ctx)
    routers = (
        set(ctx.topology.router_ips()) | set(_route_gateways(ctx, 6)) | set(_route_gateways(ctx, 4))
    )
    out: list[Finding] = []
    count: dict[str, int] = {}
    for flow in fl:
        if flow.kind == ExchangeKind.ARP and flow.target == str(
            view.get("requester_ip", flow.exchanges[0].rows[0])
        ):
            continue  # an announcement of the requester's own address
        parts = runs(flow)
        gaps = [
            (k, xs)
            for k, (outcome, xs) in enumerate(parts)
            if outcome == "unanswered" and any(o == "answered" for o, _ in parts[k + 1 :])
        ]
        in_gap = {k for k, _ in gaps}
        tail = [xs for k, (o, xs) in enumerate(parts) if o == "unanswered" and k not in in_gap]
        if gaps:
            fid = "transient-failure"
            count[fid] = count.get(fid, 0) + 1
            if count[fid] <= MAX_PER_KIND:
                out.append(_transient(ctx, view, flow, parts, gaps, routers))
        for xs in tail:
            fid = UNANSWERED_IDS[flow.kind]  # type: ignore[index]
            count[fid] = count.get(fid, 0) + 1
            if count[fid] <= MAX_PER_KIND:
                answered_before = [x for o, ys in parts if o == "answered" for x in ys]
                # requests too close to the captures' last frames for a missing answer to
                # be sure (a capture file does not say when capturing stopped)
                late = [x for x in xs if view.cut_by_end(x)]
                out.append(_never(ctx, view, flow, xs, answered_before, routers, late))
    for fid, n in count.items():
        if n > MAX_PER_KIND:
            sev = Severity.WARNING if fid == "transient-failure" else Severity.PROBLEM
            out.append(_more(fid, sev, n - MAX_PER_KIND, "flows of the same kind"))
    return out


PTB_ANSWERS = ("packet-too-big", "frag-needed")


def _error_text(view: _Flows, pos: int) -> tuple[str, bool]:
    """What an ICMP error row says, and whether it is a refusal (port closed, prohibited)."""
    return error_words(
        view.get("answer", pos), view.get("ip_version", pos), view.get("icmp_code", pos)
    )


@detector(
    FindingSpec(
        "destination-unreachable",
        Severity.PROBLEM,
        "requests answered by an ICMP destination unreachable (or another ICMP error)",
        also=(Severity.WARNING, Severity.INFO),
    ),
    FindingSpec(
        "traceroute",
        Severity.INFO,
        "UDP probes sent with low hop limits and the routers whose time exceeded answered them",
    ),
)
def answered_by_error(ctx: Context) -> list[Finding]:
    """Requests (echo, TCP SYN) answered by an ICMP error instead of a reply: one finding per
    flow, naming the error, who sent it and whether it refused (warning) or failed to deliver
    (problem)."""
    if not _requests.any_row(ctx, kind=ExchangeKind.ICMP_ERROR.value):
        return []  # no request was answered by an error
    candidates = [f for f in flows(ctx) if any(x.outcome == "error" for x in f.exchanges)]
    view = _Flows(ctx)

    def unreachable(x: Exchange) -> bool:
        # Packet Too Big / fragmentation needed are the MTU findings' (packet-too-big)
        return (
            x.outcome == "error"
            and x.error_row is not None
            and view.get("answer", x.error_row) not in PTB_ANSWERS
        )

    fl = [f for f in candidates if any(unreachable(x) for x in f.exchanges)]
    # errors no echo or TCP flow took as its answer: a UDP datagram's (a DNS query refused)
    taken = {x.error_row for f in candidates for x in f.exchanges if x.error_row is not None}
    out: list[Finding] = _udp_answered_by_error(ctx, view, taken)
    for flow in fl[:MAX_PER_KIND]:
        xs = [x for x in flow.exchanges if unreachable(x)]
        pos = xs[0].error_row
        assert pos is not None
        text, refusal = _error_text(view, pos)
        sender = view.get("responder_ip", pos)
        sender_text = view.ctx.ip_text(sender) if sender is not None else "?"
        who = view.who(flow, xs[0])
        seqs = seq_text(xs, "seq" if flow.kind == ExchangeKind.ECHO else "source ports")
        subject = (
            f"{_plural(len(xs), flow.kind)} {_flow_text(flow, xs[0].rows[0], view)}"
            + (f" ({seqs})" if seqs else "")
            + f" from {who}"
        )
        # a node's underlay address refusing a request for a pod refused the tunnel packet
        tunnel_refused = (
            refusal
            and sender is not None
            and str(sender) in ctx.underlay_ips
            and str(sender) != flow.target
        )
        consequence = (
            f"{sender} is a node's underlay address: it refused the tunnel packet that carried "
            "the request (nothing listens on the tunnel's UDP port there: the nodes disagree on "
            "the VXLAN/Geneve port, or the tunnel device is missing or down), so the request was "
            f"never decapsulated and never reached {flow.target}"
            if tunnel_refused
            else f"{sender} refused it (a closed port or a policy), so the path up to {sender} works"
            if refusal
            else _expired(ctx, view, pos, sender)
        )
        low = _low_hops(ctx, view, pos)
        errors = []
        for x in xs:
            p = x.error_row
            if p is None:
                continue
            c, f = view.get("reply_capture", p), view.get("reply_frame", p)
            if c is not None and f is not None:
                errors.append(Evidence(capture=str(c), frame_no=int(f)))
        statement = (
            f"{subject} {'was' if len(xs) == 1 else 'were'} answered by {text} from {sender_text} "
            f"(at {errors[0] if errors else '?'}): {consequence}."
            + ("" if tunnel_refused else " This is an answer, not a loss.")
        )
        out.append(
            Finding(
                "destination-unreachable",
                Severity.INFO
                if low is not None
                else Severity.WARNING
                if refusal and not tunnel_refused
                else Severity.PROBLEM,
                statement,
                _dedup(view.frames(xs)[: MAX_EVIDENCE // 2] + errors),
                {
                    "kind": str(flow.kind),
                    "target": flow.target,
                    "requester": who,
                    "error": text,
                    "icmp_type": view.get("icmp_type", pos),
                    "icmp_code": view.get("icmp_code", pos),
                    "error_from": None if sender is None else str(sender),
                    "exchanges": len(xs),
                    "refusal": refusal,
                    "tunnel_refused": tunnel_refused,
                },
            )
        )
    if len(fl) > MAX_PER_KIND:
        out.append(
            _more(
                "destination-unreachable",
                Severity.PROBLEM,
                len(fl) - MAX_PER_KIND,
                "flows answered by ICMP errors",
            )
        )
    return out


UDP_PROTO = 17
LOW_HOP_LIMIT = 30
"""A request seen with at most this TTL or hop limit was sent with a low one on purpose (a
traceroute probe, ``ping -t``; traceroute's default is 30 hops): its time exceeded is the
answer it asked for, not a loop (packets leave a host with 64, 128 or 255)."""


def _request_hops(ctx: Context, view: _Flows, pos: int) -> int | None:
    """The TTL / hop limit of the request an exchange row quotes, as its capture saw it."""
    row = ctx.row(view.get("request_capture", pos), view.get("request_frame", pos))
    if row is None:
        return None
    ttl = vals(row["ttl"])
    return None if ttl is None else int(ttl)  # type: ignore[call-overload]


def _low_hops(ctx: Context, view: _Flows, pos: int) -> int | None:
    """The request's TTL when the error answering it (row ``pos``) is a time exceeded for a
    request sent with a low one on purpose (:data:`LOW_HOP_LIMIT`), else None."""
    if view.get("answer", pos) != "time-exceeded":
        return None
    hops = _request_hops(ctx, view, pos)
    return hops if hops is not None and hops <= LOW_HOP_LIMIT else None


def _udp_answered_by_error(ctx: Context, view: _Flows, taken: set[int]) -> list[Finding]:
    """UDP datagrams answered by an ICMP error (not Packet Too Big, which the MTU findings
    take), per requester and target: a traceroute (probes with low hop limits answered by
    time exceeded, and the target's port unreachable) is one ``traceroute`` info naming the
    routers that answered; otherwise one finding per error and sender, naming whether it
    refused (warning: nothing listens, or a policy rejects) or could not deliver (problem).
    An error an echo or TCP flow took as its answer is that flow's."""
    ex = ctx.exchanges
    kinds = ex["kind"].to_numpy()
    rows = [
        pos
        for pos in (kinds == ExchangeKind.ICMP_ERROR.value).nonzero()[0].tolist()
        if view.get("answer", pos) not in PTB_ANSWERS
    ]
    if not rows:
        return []
    caps = [view.get("reply_capture", p) for p in rows]
    frames = [view.get("reply_frame", p) for p in rows]
    firsts = ctx.first_observations(
        [None if c is None else str(c) for c in caps],
        [None if f is None else int(f) for f in frames],
    )
    # an error an echo or TCP flow took as its answer, wherever it was seen (a node refusing
    # the tunnel packet that carried a ping: that flow's finding says it)
    seen = {first for pos, first in zip(rows, firsts, strict=True) if pos in taken and first}
    pairs: dict[tuple[str, str], list[tuple[int, Evidence]]] = {}
    for pos, first, c, f in zip(rows, firsts, caps, frames, strict=True):
        if first is None or first in seen:
            continue  # taken, or the same error seen at another capture point
        row = ctx.row(c, f)
        if row is None or vals(row["emb_ip_proto"]) != UDP_PROTO:
            continue
        seen.add(first)
        key = (str(view.get("requester_ip", pos)), str(view.get("target", pos)))
        pairs.setdefault(key, []).append((pos, Evidence(capture=str(c), frame_no=int(f))))
    out: list[Finding] = []
    shown = 0
    left: list[bool] = []  # of what is not shown: whether each refused
    for (src, target), hits in pairs.items():
        if _is_traceroute(ctx, view, hits):
            made = [_traceroute(ctx, view, src, target, hits)]
        else:
            by_error: dict[tuple[Any, ...], list[tuple[int, Evidence]]] = {}
            for pos, ev in hits:
                k = (
                    view.get("answer", pos),
                    view.get("icmp_code", pos),
                    view.get("responder_ip", pos),
                )
                by_error.setdefault(k, []).append((pos, ev))
            made = [_udp_error(ctx, view, src, target, hs) for hs in by_error.values()]
        for finding in made:
            if shown < MAX_PER_KIND:
                out.append(finding)
                shown += 1
            else:
                left.append(finding.severity != Severity.PROBLEM)
    if left:
        out.append(
            _more(
                "destination-unreachable",
                Severity.WARNING if all(left) else Severity.PROBLEM,
                len(left),
                "UDP flows answered by ICMP errors",
            )
        )
    return out


TRACEROUTE_PORTS = range(33434, 33535)
"""UDP destination ports of traceroute's probes by default (33434 plus one per probe)."""


def _is_traceroute(ctx: Context, view: _Flows, hits: list[tuple[int, Evidence]]) -> bool:
    """Whether UDP errors of one requester to one target answer a traceroute: a time exceeded
    for a probe sent with a low hop limit, time exceeded from two routers or more (a loop
    makes one router answer), or time exceeded for probes all on traceroute's ports."""
    expired = [pos for pos, _ in hits if view.get("answer", pos) == "time-exceeded"]
    if not expired:
        return False
    if any(_low_hops(ctx, view, pos) is not None for pos in expired):
        return True
    if len({str(view.get("responder_ip", pos)) for pos in expired}) >= 2:
        return True
    ports = [view.get("dport", pos) for pos, _ in hits]
    return all(p is not None and int(p) in TRACEROUTE_PORTS for p in ports)


def _ports(view: _Flows, hits: list[tuple[int, Evidence]], column: str) -> str:
    """``port 53`` / ``ports 33435-33446`` of the exchanges' ``column`` ("" when none)."""
    return numbers_text(
        (int(p) for p in (view.get(column, h) for h, _ in hits) if p is not None), "ports"
    )


def _quoted(view: _Flows, hits: list[tuple[int, Evidence]]) -> list[Evidence]:
    """The frames of the requests the errors quote, where a capture holds them."""
    out = []
    for h, _ in hits:
        c, f = view.get("request_capture", h), view.get("request_frame", h)
        if c is not None and f is not None:
            out.append(Evidence(capture=str(c), frame_no=int(f)))
    return out


def _expired(ctx: Context, view: _Flows, pos: int, sender: object) -> str:
    """What an error that did not refuse says of its request: for a time exceeded, where its
    TTL or hop limit ran out (on purpose when it was sent low); else that it was not
    delivered."""
    if view.get("answer", pos) != "time-exceeded":
        return "the sender of the error could not deliver it"
    hops = _request_hops(ctx, view, pos)
    word = "TTL" if view.get("ip_version", pos) == 4 else "hop limit"
    if hops is not None and hops <= LOW_HOP_LIMIT:
        return (
            f"it was seen with {word} {hops}, which ran out at {sender} (a traceroute probe, or "
            f"ping -t): it tests the path up to {sender} only"
        )
    seen = f" (it was seen with {word} {hops})" if hops is not None else ""
    return (
        f"its {word} ran out at {sender}{seen}: a routing loop, or a path longer than its "
        "sender allows"
    )


def _udp_error(
    ctx: Context, view: _Flows, src: str, target: str, hits: list[tuple[int, Evidence]]
) -> Finding:
    """``destination-unreachable`` for UDP datagrams of one requester to one target answered
    by one error from one sender."""
    pos = hits[0][0]
    text, refusal = _error_text(view, pos)
    sender = view.get("responder_ip", pos)
    sender_text = ctx.ip_text(sender) if sender is not None else "?"
    n = len(hits)
    dports, sports = _ports(view, hits, "dport"), _ports(view, hits, "sport")
    dport_set = {int(p) for p in (view.get("dport", h) for h, _ in hits) if p is not None}
    subject = (
        f"{n} UDP datagram{'s' if n > 1 else ''} {src} > {target}"
        + (f" {dports}" if dports else "")
        + (f" (source {sports})" if sports else "")
    )
    consequence = (
        f"{sender} refused it (nothing listens on that port there, or a policy rejects it), "
        f"so the path up to {sender} works"
        if refusal
        else _expired(ctx, view, pos, sender)
    )
    errors = [ev for _, ev in hits]
    return Finding(
        "destination-unreachable",
        Severity.WARNING if refusal else Severity.PROBLEM,
        f"{subject} {'was' if n == 1 else 'were'} answered by {text} from {sender_text} "
        f"(at {errors[0]}): {consequence}. This is an answer, not a loss.",
        _dedup(_quoted(view, hits)[: MAX_EVIDENCE // 2] + errors[: MAX_EVIDENCE // 2]),
        {
            "kind": "udp",
            "target": target,
            "requester": src,
            "port": dport_set.pop() if len(dport_set) == 1 else None,
            "error": text,
            "icmp_type": view.get("icmp_type", pos),
            "icmp_code": view.get("icmp_code", pos),
            "error_from": None if sender is None else str(sender),
            "exchanges": n,
            "refusal": refusal,
            "tunnel_refused": False,
        },
    )


def _traceroute(
    ctx: Context, view: _Flows, src: str, target: str, hits: list[tuple[int, Evidence]]
) -> Finding:
    """``traceroute``: UDP probes of one requester to one target, sent with low hop limits,
    and the errors that answered them: the routers where each ran out, in hop order, and
    whether the target answered."""
    # each router at the lowest hop limit it answered (the probe's, where a capture holds the
    # probe), else in the order its first answer came (probes go out hop by hop)
    routers: dict[str, tuple[int, int]] = {}
    reached = False
    for k, (pos, _) in enumerate(hits):
        sender = view.get("responder_ip", pos)
        if sender is None or view.get("answer", pos) != "time-exceeded":
            reached = reached or (sender is not None and str(sender) == target)
            continue
        hops = _request_hops(ctx, view, pos)
        rank = (hops if hops is not None else LOW_HOP_LIMIT + 1, k)
        routers[str(sender)] = min(rank, routers.get(str(sender), rank))
    order = sorted(routers, key=lambda r: routers[r])
    n = len(hits)
    dports = _ports(view, hits, "dport")
    path = ", ".join(ctx.ip_text(r) for r in order)
    end = (
        f"; {ctx.ip_text(target)} answered the last ones itself (its port unreachable ends a "
        "traceroute): the path to it works"
        if reached
        else f"; no answer from {ctx.ip_text(target)} itself is in the captures"
    )
    errors = [ev for _, ev in hits]
    return Finding(
        "traceroute",
        Severity.INFO,
        f"A traceroute from {src} to {target}: {n} UDP probes"
        + (f" ({dports})" if dports else "")
        + f" sent with low hop limits were answered by time exceeded from {len(order)} "
        f"router{'s' if len(order) != 1 else ''} in hop order ({path}){end}. These errors are "
        "the answers a traceroute asks for, not failures.",
        _dedup(_quoted(view, hits)[: MAX_EVIDENCE // 2] + errors[: MAX_EVIDENCE // 2]),
        {
            "requester": src,
            "target": target,
            "probes": n,
            "routers": order,
            "reached": reached,
        },
    )


def _underlay_asker(ctx: Context, view: _Flows, x: Exchange) -> str | None:
    """The requester of ``x`` in words when it is no pod but a node's NIC (or another host of
    the underlay: its address is a node's or a tunnel end, or its MAC a node's NIC), else
    None."""
    pos = x.rows[0]
    ip, mac = view.get("requester_ip", pos), view.get("requester_mac", pos)
    if ctx.pod_label(ip=ip) is not None:
        return None
    node = ctx.node_label(ip) if ip is not None else None
    said = ctx.overlay_mac(mac) if mac is not None else None
    if node is not None:
        return f"{node} ({ip})" if str(ip) not in node else node
    if said is not None and said.role == "underlay":
        return said.node or str(ip)
    if ip is not None and str(ip) in ctx.underlay_ips:
        return str(ip)
    return None


def _away_from_asker(ctx: Context, view: _Flows, xs: list[Exchange]) -> tuple[list[str], bool]:
    """For a node's ARP requests: the captures that saw them when none was taken on the asker
    (a Linux cooked capture that received them instead of sending them, a pod's capture, or a
    capture placed on another node), where the unicast answer cannot show; and whether one was
    surely taken on the asker (it sent them, or it is placed on the asker's node)."""
    asker = ctx.node_label(view.get("requester_ip", xs[0].rows[0]))
    away: set[str] = set()
    at_asker = False
    for x in xs:
        for pos in x.rows:
            c, f = view.get("request_capture", pos), view.get("request_frame", pos)
            row = ctx.row(c, f) if c is not None and f is not None else None
            p = ctx.points.get(str(c))
            if row is None or p is None:
                return [], at_asker
            ptype = row.get("pkt_type")
            if str(ptype) == "outgoing" or (asker and p.node == asker):
                at_asker = True
            elif p.kind == "pod" or not na(ptype):  # a cooked capture that received them
                away.add(str(c))
            elif p.kind == "node" and p.node is not None and not p.candidates:
                away.add(str(c))  # an Ethernet capture placed on another node
            else:
                return [], at_asker
    return ([] if at_asker else sorted(away)), at_asker


def _never(
    ctx: Context,
    view: _Flows,
    flow: Flow,
    xs: list[Exchange],
    answered_before: list[Exchange],
    routers: set[str],
    late: list[Exchange] | None = None,
) -> Finding:
    """One flow's requests that nobody answered (``late``: those of them too close to the end
    of the captures that saw them for a missing answer to be sure, said so)."""
    fid = UNANSWERED_IDS[flow.kind]  # type: ignore[index]
    first, last = xs[0], xs[-1]
    who = view.who(flow, first)
    tries = view.tries(xs)
    n = len(xs)
    tries_text = f" ({tries} tries)" if tries > n else ""
    span = last.end_ts - first.ts
    over = (
        f", {view.ends(xs)[0]} to {view.ends(xs)[1]} over {_seconds(span)}"
        if n > 1 or last.last_try is not None
        else ""
    )
    seqs = seq_text(xs, "seq" if flow.kind == ExchangeKind.ECHO else "source ports")
    before = ""
    if answered_before:
        where, _ = view.answered_at(answered_before[-1])
        before = f" Earlier requests of this flow were answered ({len(answered_before)}, the last at {where}); no later request of this flow was answered."
    if flow.kind == ExchangeKind.ND:
        reason = _nd_reason(ctx, flow.target, routers)
        what = "Neighbor Solicitation" if n == 1 else f"{n} Neighbor Solicitations"
        statement = f"{what} from {who} for {flow.target} {'was' if n == 1 else 'were'} never answered{tries_text}{over}: {reason}."
    elif flow.kind == ExchangeKind.ARP:
        what = "ARP request" if n == 1 else f"{n} ARP requests"
        reason = ARP_REASON if ctx.cilium_words else ctx.datapath.arp_unanswered
        asker = _underlay_asker(ctx, view, first)
        if asker is not None:  # a node (or a host of the underlay) resolving a neighbour
            reason = (
                f"{asker} is no pod: its ARP on the underlay for {flow.target} is answered to it "
                "alone (unicast), so only a capture on its own link shows the answer"
            )
        statement = f"{what} from {who} for {flow.target} {'was' if n == 1 else 'were'} never answered{tries_text}{over}: {reason}."
    else:
        last_seen = _last_seen(ctx, view.ex.iloc[last.rows])
        if flow.kind == ExchangeKind.ECHO and (
            ctx.loaded
            and ctx.topology.pod_by_ip(flow.target) is None
            and flow.target not in ctx.underlay_ips
        ):
            home = ctx.topology.node_by_pod_cidr(flow.target)
            last_seen += f"; no pod of the dumps has {flow.target}" + (
                f" (it lies in the pod CIDR of {home.label})" if home else ""
            )
        # the destination by name, where the topology knows the pod with that address
        dpod = ctx.topology.pod_by_ip(flow.target)
        if dpod is not None and dpod.label != f"pod {flow.target}":
            node = ctx.node_of_pod(dpod)
            last_seen += f"; {flow.target} is {dpod.label}" + (f" on {node}" if node else "")
        key = view.get("key", first.rows[0])
        if flow.kind == ExchangeKind.ECHO:
            if n == 1:
                head = f"Echo request {key} from {who} was never answered{tries_text}"
            else:
                head = f"{n} echo requests {_flow_text(flow, first.rows[0], view)} ({seqs}) from {who} were never answered{tries_text}{over}"
            statement = f"{head}; {'the last one: ' if n > 1 else ''}{last_seen}."
        else:
            if n == 1:
                head = f"TCP SYN {key} from {who} got no answer (no SYN/ACK, RST or ICMP error){tries_text}"
            else:
                head = f"{n} connection attempts {_flow_text(flow, first.rows[0], view)} ({seqs}) from {who} got no answer (no SYN/ACK, RST or ICMP error){tries_text}{over}"
            statement = f"{head}; {'the last one: ' if n > 1 else ''}{last_seen}."
    statement += before
    # A flow answered until its last requests, every one of which came too close to the end
    # of the captures to tell: nothing shows a loss (e.g. capturing stopped mid-flow).
    cut_off = bool(answered_before) and late is not None and len(late) == len(xs)
    # captures that saw the requests and say they dropped packets: the answer may be one
    lossy = sorted(_request_captures(view, xs) & set(ctx.dropped)) if ctx.dropped else []
    if cut_off or lossy:
        statement = statement.replace(" never answered", " not answered in the captures", 1)
        statement = statement.replace(" got no answer (", " got no answer in the captures (", 1)
    if late:
        one = len(late) == 1 and n == 1
        # their files say when capturing stopped (and it is believed)
        if all(ctx.stopped_at(c) is not None for c in _request_captures(view, late)):
            statement += (
                f" {'It' if one else f'{len(late)} of them'} came less than "
                f"{_seconds(view.due_s)} before every capture that saw "
                f"{'it' if one else 'them'} stopped (pcapng statistics): an answer after that "
                "cannot be ruled out."
            )
        else:
            statement += (
                f" {'It' if one else f'{len(late)} of them'} came less than "
                f"{_seconds(view.due_s)} before the last frame of every capture that saw "
                f"{'it' if one else 'them'}, and a capture file does not record when capturing "
                "stopped: an answer after that cannot be ruled out."
            )
    if lossy:
        statement += " " + " ".join(
            f"{c} says its capturing dropped {ctx.dropped[c]} "
            f"{'packet' if ctx.dropped[c] == 1 else 'packets'} (pcapng statistics)"
            + (";" if k < len(lossy) - 1 else ": an answer may be among them.")
            for k, c in enumerate(lossy)
        )
    blind = blind_points(ctx, view.get, xs)
    unsure = away = False  # a node's ARP seen only where its answer may (or cannot) pass
    if not blind and flow.kind == ExchangeKind.ARP and _underlay_asker(ctx, view, first):
        blind, at_asker = _away_from_asker(ctx, view, xs)
        away, unsure = bool(blind), not blind and not at_asker
        if unsure:
            statement = statement.replace(" never answered", " not answered in the captures", 1)
            statement += (
                " No capture is known to be taken on the asker's own link, where the answer "
                "would show."
            )
    if blind:  # the captures hold no answer; nothing says there was none
        statement = statement.replace(" never answered", " not answered in the captures", 1)
        statement = statement.replace(" got no answer (", " got no answer in the captures (", 1)
        why = sorted({ctx.one_way[c] for c in blind if c in ctx.one_way})
    if away:
        statement += (
            f" Every capture that saw {'it' if n == 1 else 'them'} ({', '.join(blind)}) was "
            "taken away from the asker: the broadcast reaches them, its unicast answer does not; "
            "the captures do not show a loss."
        )
    elif blind:
        statement += (
            f" No capture that saw {'it' if n == 1 else 'them'} ({', '.join(blind)}) saw anything "
            f"addressed to {who}: such a capture may see one direction only"
            + (f" ({'; '.join(why)})" if why else "")
            + ", so an answer may have passed elsewhere; the captures do not show a loss."
        )
    details: dict[str, Any] = {
        "key": str(view.get("key", first.rows[0])),
        "target": flow.target,
        "requester": who,
        "exchanges": n,
        "tries": tries,
        "first_frame": view.ends(xs)[0],
        "last_frame": view.ends(xs)[1],
        "duration_s": round(span, 6),
    }
    if flow.kind == ExchangeKind.ECHO:
        details["echo_id"] = flow.extra
        details["seq"] = sorted({int(x.seq) for x in xs if x.seq is not None})[:100]
    if flow.kind == ExchangeKind.TCP:
        details["dport"] = flow.extra
        details["sports"] = sorted({int(x.seq) for x in xs if x.seq is not None})[:100]
    if answered_before:
        details["answered_before"] = len(answered_before)
    if late:
        details["near_capture_end"] = len(late)
    if lossy:
        details["capture_drops"] = {c: ctx.dropped[c] for c in lossy}
    if blind:
        details["one_way_captures"] = blind
    sev = (
        Severity.INFO
        if blind
        else Severity.WARNING
        if unsure or cut_off or lossy
        else Severity.PROBLEM
    )
    return Finding(fid, sev, statement, view.frames(xs), details)


def _request_captures(view: _Flows, xs: list[Exchange]) -> set[str]:
    """The captures that saw the requests ``xs``."""
    return {str(view.get("request_capture", pos)) for x in xs for pos in x.rows}


def _transient(
    ctx: Context,
    view: _Flows,
    flow: Flow,
    parts: list[tuple[str, list[Exchange]]],
    gaps: list[tuple[int, list[Exchange]]],
    routers: set[str],
) -> Finding:
    """One flow whose requests went unanswered, then were answered: how long, how many tries,
    where it recovered."""
    who = view.who(flow, flow.exchanges[0])
    listed: list[dict[str, Any]] = []
    lost: list[Exchange] = []
    for k, xs in gaps:
        recovered = parts[k + 1][1][0]
        where, t_ans = view.answered_at(recovered)
        listed.append(
            {
                "exchanges": len(xs),
                "tries": view.tries(xs),
                "first_frame": view.ends(xs)[0],
                "last_frame": view.ends(xs)[1],
                "window_s": round(xs[-1].end_ts - xs[0].ts, 6),
                "recovered_frame": where,
                "recovered_after_s": round(t_ans - xs[0].ts, 6),
                "seq": sorted({int(x.seq) for x in xs if x.seq is not None})[:100],
            }
        )
        lost.extend(xs)
    g0 = listed[0]
    n, tries = len(lost), view.tries(lost)
    word = "seq" if flow.kind == ExchangeKind.ECHO else "source ports"
    seqs = seq_text(lost, word) if flow.kind in (ExchangeKind.ECHO, ExchangeKind.TCP) else ""
    seqs = f" ({seqs})" if seqs else ""
    # requests as the sender sent them: retransmissions included, and said
    tries_text = (
        f" ({n} {'request' if n == 1 else 'requests'} and {tries - n} "
        f"{'retransmission' if tries - n == 1 else 'retransmissions'})"
        if tries > n
        else ""
    )
    over = f" over {_seconds(g0['window_s'])}" if g0["window_s"] > 0 else ""
    if flow.kind in (ExchangeKind.ND, ExchangeKind.ARP):
        subject = f"{_plural(tries, flow.kind)} from {who} for {flow.target}"
    else:
        flow_text = _flow_text(flow, flow.exchanges[0].rows[0], view)
        subject = f"{_plural(tries, flow.kind)} {flow_text}{seqs} from {who}"
    answered = sum(1 for x in flow.exchanges if x.outcome == "answered")
    # one frame unanswered: said once, not as the first and the last of a run
    one = tries == 1 and len(listed) == 1
    at = (
        f"at {g0['first_frame']}"
        if one
        else f"first at {g0['first_frame']}, last at {g0['last_frame']}"
        + (f", in {len(listed)} separate gaps" if len(listed) > 1 else "")
    )
    after = (
        f"{_seconds(g0['recovered_after_s'])} after it"
        if one
        else f"{_seconds(g0['recovered_after_s'])} after the first unanswered request "
        f"({_seconds(max(0.0, g0['recovered_after_s'] - g0['window_s']))} after the last)"
    )
    statement = (
        f"{subject} went unanswered{tries_text}{over} ({at}), then the flow recovered: answered "
        f"at {g0['recovered_frame']}, {after}. {answered} of {len(flow.exchanges)} exchanges of "
        "this flow were answered."
    )
    if flow.kind == ExchangeKind.ARP:
        statement += f" While it lasted, {flow.target} could not be resolved."
    if flow.kind == ExchangeKind.ND:
        statement += (
            f" While it lasted, {flow.target} could not be resolved: "
            + _nd_reason(ctx, flow.target, routers).split(":")[0]
            + "."
        )
    elif flow.kind in (ExchangeKind.ECHO, ExchangeKind.TCP):
        seen = _last_seen(ctx, view.ex.iloc[lost[-1].rows])
        statement += (
            f" {seen[:1].upper()}{seen[1:]}." if one else f" The last unanswered one: {seen}."
        )
    recovered_x = parts[gaps[0][0] + 1][1][0]
    evidence = _dedup(
        view.frames(lost)[: MAX_EVIDENCE - 2] + view.frames([recovered_x], with_answers=True)
    )
    details: dict[str, Any] = {
        "kind": str(flow.kind),
        "target": flow.target,
        "requester": who,
        "unanswered": n,
        "tries": tries,
        "answered": answered,
        "exchanges": len(flow.exchanges),
        "first_frame": g0["first_frame"],
        "last_frame": listed[-1]["last_frame"],
        "recovered_frame": g0["recovered_frame"],
        "recovered_after_s": g0["recovered_after_s"],
        "gaps": listed[:MAX_GAPS],
    }
    if len(listed) > MAX_GAPS:
        details["gaps_not_shown"] = len(listed) - MAX_GAPS
    return Finding("transient-failure", Severity.WARNING, statement, evidence, details)


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
    # compared in the reference clock: captures of different machines have different clocks
    offsets = clock_offsets_by_capture(ctx)
    ts = corrected(row["ts"], last_cap, offsets) if row is not None else None
    running: list[Any] = []
    maybe: list[Any] = []
    for c, p in ctx.points.items():
        if c in caps_seen or ts is None or p.kind not in ("node", "pod"):
            continue
        start, end = ctx.span(c)
        if start is None:
            continue
        if corrected(start, c, offsets) > ts:
            continue
        end_s = corrected(end, c, offsets) if end is not None else None
        (running if end_s is not None and end_s >= ts else maybe).append(c)
    if running:
        text += f"; {', '.join(running)} captured before and after it and did not see it"
    if maybe:
        text += f"; {', '.join(maybe)} did not see it either (its last frame is earlier: it may have stopped)"
    if (running or maybe) and row is not None and not na(row["tunnel"]):
        text += ": it was lost after leaving the sending node (in the underlay, or in the receiving node's datapath)"
    return text
