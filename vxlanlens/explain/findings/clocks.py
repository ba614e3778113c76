"""Clock findings: captures whose clocks disagree with the reference capture's.

Captures taken on different machines have different clocks. Journeys estimate each capture's
offset from packets seen at several points (:func:`vxlanlens.exchanges.clock_offsets`); the
latencies the findings state across captures use corrected times. This finding says which
offsets were large enough to matter, how sure the estimate is, and which captures could not be
compared at all (no packet links them), so that nobody reads an offset as an underlay delay.
"""

from __future__ import annotations

from ...exchanges import clock_offsets
from ...proto import Severity
from ..context import Context, na
from ..model import Evidence, Finding
from ._registry import FindingSpec, detector

CLOCK_OFFSET_THRESHOLD_S = 0.001
"""Offsets smaller than this (1 ms) are not reported: well within what NTP keeps and below the
latencies the findings state."""


def _s(x: float) -> str:
    a = abs(x)
    if a < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if a < 1:
        return f"{x * 1e3:.3f} ms"
    return f"{x:.3f} s"


@detector(
    FindingSpec(
        "clock-offset",
        Severity.INFO,
        "a capture whose clock is off against the reference capture, or could not be compared",
    )
)
def clock_offset(ctx: Context) -> list[Finding]:
    """One finding per capture whose estimated offset is beyond the threshold (and beyond the
    estimate's spread), with the estimate, its spread, how many packets it rests on and the
    method; one finding for the captures whose offset could not be estimated."""
    p = ctx.packets
    if p.empty or p["capture"].nunique() < 2:
        return []
    table = clock_offsets(p)
    if table.empty:
        return []
    out: list[Finding] = []
    first_frame = p.drop_duplicates("capture")[["capture", "frame_no"]]
    first = {
        str(c): Evidence(capture=str(c), frame_no=int(f))
        for c, f in zip(first_frame["capture"], first_frame["frame_no"], strict=True)
    }
    unknown = []
    for r in table.to_dict("records"):
        cap, ref = str(r["capture"]), str(r["reference"])
        if str(r["method"]) == "reference":
            continue
        if na(r["offset_s"]):
            unknown.append(cap)
            continue
        off, spread = float(r["offset_s"]), float(r["spread_s"] or 0.0)
        if abs(off) < CLOCK_OFFSET_THRESHOLD_S or abs(off) <= 2 * spread:
            continue
        n, via, method = int(r["n_matched"]), str(r["via"]), str(r["method"])
        how = (
            "packets in both directions, so the transit time cancels out"
            if method == "two-way"
            else "packets in one direction only, so the estimate includes the transit time"
        )
        via_text = (
            f" (through {via}, which shares packets with both)" if via not in (ref, cap) else ""
        )
        direction = "ahead of" if off > 0 else "behind"
        statement = (
            f"The clock of {cap} is {_s(abs(off))} {direction} that of {ref}{via_text}: estimated "
            f"from {n} packet(s) seen in both captures ({how}), spread {_s(spread)}. Times across "
            f"these captures are compared after subtracting it; a difference of that size between "
            f"them is the clocks, not the network."
        )
        out.append(
            Finding(
                "clock-offset",
                Severity.INFO,
                statement,
                [e for e in (first.get(cap), first.get(ref)) if e is not None],
                {
                    "capture": cap,
                    "reference": ref,
                    "offset_s": off,
                    "spread_s": spread,
                    "matched": n,
                    "via": via,
                    "method": method,
                    "one_way_delay_s": None
                    if na(r["one_way_delay_s"])
                    else float(r["one_way_delay_s"]),
                },
            )
        )
    if unknown:
        ref = str(table["reference"].iloc[0])
        out.append(
            Finding(
                "clock-offset",
                Severity.INFO,
                f"The clock offset of {', '.join(unknown)} against {ref} could not be estimated: "
                "no packet could be matched between them and a capture linked to the reference (a "
                "packet matches when it is seen once in each: identical copies, such as "
                "retransmitted solicitations, cannot be told apart). Times in those captures are "
                "their own clock's; no latency across them is stated.",
                [first[c] for c in unknown if c in first][:12],
                {"captures": unknown, "reference": ref, "offset_s": None},
            )
        )
    return out
