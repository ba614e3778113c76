"""Hop-limit findings: how many routing hops the TTL of an answer shows."""

from __future__ import annotations

import numpy as np

from ...proto import Severity, initial_ttl
from .._rows import text_is
from ..context import Context, Row, na, records
from ..model import Evidence, Finding
from ._registry import FindingSpec, detector
from ._util import (
    _keep,
)


@detector(
    FindingSpec("hop-limit", Severity.INFO, "routing hops shown by the TTL / hop limit of answers")
)
def hop_limit(ctx: Context) -> list[Finding]:
    """How many routing hops the TTL / hop limit of answers shows."""
    out: list[Finding] = []
    ex = ctx.exchanges
    if ex.empty:
        return out
    replies = ex[(ex["kind"].isin(["echo", "tcp"])) & ex["reply_frame"].notna()]
    done: set[tuple] = set()
    cols = ("reply_capture", "reply_frame", "requester_mac", "requester_ip", "answer")
    # the replies' frames outside tunnels with a TTL (the others say nothing), in table order
    p = ctx.packets
    at = ctx.rows_at(replies["reply_capture"], replies["reply_frame"])
    seen = at >= 0
    safe = np.where(seen, at, 0)
    usable = seen & p["ttl"].notna().to_numpy(dtype=bool)[safe]
    usable &= p["tunnel"].isna().to_numpy(dtype=bool)[safe]
    picked = np.flatnonzero(usable)
    recs = records(replies.iloc[picked], cols)
    for r, position in zip(recs, at[picked].tolist(), strict=True):
        row = ctx.row_at(position)
        key = (str(row["src_ip"]), str(row["dst_ip"]), int(row["ttl"]))
        if key in done:  # an earlier reply of these addresses and TTL was stated
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
        done.add(key)
        ttl = int(row["ttl"])
        sent = _ttl_at_sender(ctx, row)
        if sent is not None:
            initial, where = sent
            how = f"it left its sender with {initial} (seen at {where})"
        else:
            initial = initial_ttl(ttl)
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
                Severity.INFO,
                statement,
                evidence,
                {"ttl": ttl, "initial": initial, "hops": hops, "src_ip": key[0]},
            )
        )
    return out


def _later_copy(ctx: Context, row: Row) -> bool:
    """Whether the same pod packet appears again, outside a tunnel, later in the same capture."""
    p = ctx.packets
    at = ctx.untunnelled(row["src_ip"], row["dst_ip"])
    at = at[text_is(p["capture"].iloc[at], str(row["capture"]))]
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
