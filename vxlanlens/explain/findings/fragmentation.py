"""Tunnel packets fragmented on the underlay (their outer IP header): how many, into how many
fragments, whether the captures reassembled them, and what that costs."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from ...proto import Severity
from ..context import Context
from ..model import Evidence, Finding
from ._registry import FindingSpec, detector
from ._requests import corrected
from ._util import MAX_EVIDENCE, MAX_PER_KIND, _more

__all__ = ["outer_fragment_times", "outer_fragmentation"]


def outer_fragment_times(ctx: Context, offsets: dict[str, float | None]) -> list[float]:
    """Times (reference clock) of outer fragments between node addresses."""
    rows = _outer_fragments(ctx)
    return [corrected(ts, c, offsets) for c, ts in zip(rows["capture"], rows["ts"], strict=True)]


def _outer_fragments(ctx: Context) -> pd.DataFrame:
    """Fragments of tunnel packets between two node (underlay) addresses, one row each with
    ``capture``, ``frame_no``, ``ts``, ``src``, ``dst`` (node addresses), ``ip_id``,
    ``offset``, ``more``, ``length`` (the fragment's IP length or, when unknown, its wire
    length), ``holder`` (the frame holding the reassembled packet, null when it could not be
    reassembled) and ``count`` (fragments of that packet, on the holding row)."""
    p = ctx.packets
    cols = ["capture", "frame_no", "ts", "src", "dst", "ip_id", "offset", "more", "length"]
    empty = pd.DataFrame(columns=[*cols, "holder", "count"])
    if not ctx.underlay_ips:
        return empty
    # Fragments decoded no further than the outer IPv4 header (all but the one holding the
    # reassembled packet, or every fragment of a set that could not be reassembled) ...
    frag = (p["more_fragments"].fillna(False) | (p["frag_offset"].fillna(0) > 0)) & (
        p["ip_version"] == 4
    ).fillna(False)
    frag &= (p["ip_proto"] == 17).fillna(False) & p["tunnel"].isna()
    plain = p[frag]
    plain_rows = _rows(
        plain,
        src=plain["src_ip"],
        dst=plain["dst_ip"],
        ip_id=plain["ip_id"],
        offset=plain["frag_offset"],
        more=plain["more_fragments"],
        length=plain["ip_len"].fillna(plain["wire_len"]),
        count=pd.array([pd.NA] * len(plain), dtype="UInt16"),
    )
    # ... and the fragments holding a reassembled tunnel packet, whose own outer header is one.
    held = p["tunnel"].notna() & (
        p["outer_more_fragments"].fillna(False) | (p["outer_frag_offset"].fillna(0) > 0)
    )
    held &= (p["outer_ip_version"] == 4).fillna(False)
    h = p[held]
    held_rows = _rows(
        h,
        src=h["outer_src_ip"],
        dst=h["outer_dst_ip"],
        ip_id=pd.array([pd.NA] * len(h), dtype="UInt32"),
        offset=h["outer_frag_offset"],
        more=h["outer_more_fragments"],
        # the last fragment's IP length (the reassembled length minus the offset)
        length=(h["reasm_len"] - h["outer_frag_offset"].fillna(0)).where(
            ~h["outer_more_fragments"].fillna(False)
        ),
        count=h["frag_count"],
    )
    rows = pd.concat([df for df in (plain_rows, held_rows) if not df.empty] or [empty])
    if rows.empty:
        return empty
    between = rows["src"].isin(ctx.underlay_ips) & rows["dst"].isin(ctx.underlay_ips)
    return rows[between].sort_values(["capture", "frame_no"], kind="stable")


def _rows(
    p: pd.DataFrame,
    *,
    src: pd.Series,
    dst: pd.Series,
    ip_id: object,
    offset: pd.Series,
    more: pd.Series,
    length: object,
    count: object,
) -> pd.DataFrame:
    """Fragment rows of :func:`_outer_fragments` from packets-table rows ``p`` and the columns
    that hold their fragmented header's fields."""
    return pd.DataFrame(
        {
            "capture": p["capture"].astype(str),
            "frame_no": p["frame_no"],
            "ts": p["ts"],
            "src": src.astype(str),
            "dst": dst.astype(str),
            "ip_id": ip_id,
            "offset": offset.fillna(0),
            "more": more.fillna(False),
            "length": length,
            "holder": p["reassembled_in"],
            "count": count,
        }
    )


@detector(
    FindingSpec(
        "outer-fragmentation",
        Severity.WARNING,
        "tunnel packets whose outer (underlay) IPv4 header is fragmented",
    )
)
def outer_fragmentation(ctx: Context) -> list[Finding]:
    """Tunnel packets fragmented on the underlay: UDP fragments between node addresses (the
    first with more-fragments set, the others with an offset), one finding per node pair,
    each packet counted once however many captures saw it."""
    rows = _outer_fragments(ctx)
    if rows.empty:
        return []
    out: list[Finding] = []
    pairs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for k, pair in enumerate(zip(rows["src"].tolist(), rows["dst"].tolist(), strict=True)):
        pairs[pair].append(k)
    for (s, d), at in list(pairs.items())[:MAX_PER_KIND]:
        sub = rows.iloc[at]
        captures = sorted(set(sub["capture"]))
        # one packet per holding frame and capture; an unreassembled set per IP ID
        whole = sub[sub["holder"].notna()]
        loose = sub[sub["holder"].isna()]
        sets = {(c, int(h)) for c, h in zip(whole["capture"], whole["holder"], strict=True)}
        broken = {
            (c, int(i))
            for c, i in zip(loose["capture"], loose["ip_id"], strict=True)
            if pd.notna(i)
        }
        packets = _distinct_packets(ctx, sets) + len({i for _, i in broken})
        counts = whole["count"].dropna().astype(int)
        per_packet = float(counts.mean()) if len(counts) else len(sub) / max(1, len(broken))
        largest = int(sub["length"].max()) if sub["length"].notna().any() else None
        inner = _inner_summary(ctx, sets)
        done = ""
        if sets:
            copies = (
                f" ({len(sets)} copies in {len(captures)} captures)" if len(sets) > packets else ""
            )
            done = f" vxlanlens reassembled them from their fragments{copies}: {inner}"
        if broken:
            done += (
                f"{';' if sets else ''} {len(broken)} fragment set(s) were not reassembled "
                "(reassembly turned off, or a fragment missing: see decode_error on their frames)"
            )
        statement = (
            f"{packets} tunnel packet(s) from {ctx.ip_text(s)} to {ctx.ip_text(d)} were fragmented "
            f"in their outer IPv4 header, into {_count_text(per_packet)} fragments each "
            f"(largest fragment {largest} bytes; seen at {', '.join(captures)}): the encapsulated "
            "packet was larger than the underlay MTU, and the outer header allowed fragmentation "
            "(DF clear)."
            f"{done}. This works only while the underlay passes IP fragments (many cloud "
            "networks, NATs and firewalls drop them), and costs an extra underlay packet and a "
            "reassembly at the receiving node per pod packet. Lower the pod MTU (route MTU) to "
            "the underlay MTU minus the tunnel overhead."
        )
        evidence = [
            Evidence(capture=str(c), frame_no=int(f))
            for c, f in zip(sub["capture"], sub["frame_no"], strict=True)
        ][:MAX_EVIDENCE]
        firsts = sub[(sub["offset"] == 0) & sub["more"]]
        later = sub[sub["offset"] > 0]
        out.append(
            Finding(
                "outer-fragmentation",
                Severity.WARNING,
                statement,
                evidence,
                {
                    "src": s,
                    "dst": d,
                    "packets": packets,
                    "fragments": len(sub),
                    "first_fragments": len(firsts),
                    "later_fragments": len(later),
                    "largest_fragment": largest,
                    "reassembled": len(sets),
                    "not_reassembled": len(broken),
                    "captures": captures,
                },
            )
        )
    if len(pairs) > MAX_PER_KIND:
        out.append(
            _more("outer-fragmentation", Severity.WARNING, len(pairs) - MAX_PER_KIND, "node pairs")
        )
    return out


def _count_text(value: float) -> str:
    """``2`` for a whole number, else ``2.5 on average``."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f} on average"


def _distinct_packets(ctx: Context, sets: set[tuple[str, int]]) -> int:
    """How many packets the reassembled ``(capture, frame)`` rows are, each packet counted once
    however many captures saw it (copies matched by the packet journeys)."""
    seen: set[tuple[str, int]] = set()
    packets = 0
    for c, f in sorted(sets):
        if (c, f) in seen:
            continue
        packets += 1
        seen.update(ctx.journey_frames(c, f) or [(c, f)])
    return packets


def _inner_summary(ctx: Context, sets: set[tuple[str, int]]) -> str:
    """A few words on the pod packets inside the reassembled tunnel packets."""
    if not sets:
        return "no pod packet decoded inside"
    p = ctx.packets
    key = pd.MultiIndex.from_frame(p[["capture", "frame_no"]].astype({"capture": str}))
    at = key.get_indexer(pd.MultiIndex.from_tuples(sorted(sets)))
    rows = p.iloc[at[at >= 0]]
    if rows.empty:
        return "no pod packet decoded inside"
    sizes = rows["ip_len"].dropna().astype(int)
    size = f"{sizes.min()}" if sizes.min() == sizes.max() else f"{sizes.min()}-{sizes.max()}"
    return f"pod packets of {size} bytes inside, e.g. frame {rows['capture'].iloc[0]}#{rows['frame_no'].iloc[0]}"
