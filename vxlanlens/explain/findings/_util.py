"""Helpers shared by the finding detectors: evidence lists, number formatting, limits.

Some of these would belong in :mod:`vxlanlens.explain.context` (owned elsewhere); they live here
so the findings package does not change the context's interface.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from ...proto import Severity
from ...topology.model import Source
from .._rows import text_is
from ..context import Context, na, vals
from ..model import Evidence, Finding

VXLAN_OVERHEAD = {4: 50, 6: 70}
"""Bytes VXLAN adds in front of the pod's IP packet: Ethernet 14 + outer IP (20 / 40) + UDP 8 + VXLAN 8."""
GENEVE_BASE = 8
DEFAULT_UNDERLAY_MTU = 1500
MAX_EVIDENCE = 12
MAX_INNER_MAC_FINDINGS = 8
"""The inner-MAC pattern of this many distinct conversations is explained; more would repeat it."""
MAX_VNI_FINDINGS = 12
"""VNIs named one by one; the others are counted in one finding."""
MAX_DUAL_STACK_FINDINGS = 8
MAX_PER_KIND = 20
"""Findings of one id stated one by one; the rest are counted in one more finding."""


def _src_evs(source: Source) -> list[Evidence]:
    """Evidence for a topology fact: its dump location, or the frames it was inferred from."""
    if source.frames:
        return [Evidence(capture=c, frame_no=int(n)) for c, n in source.frames]
    return [Evidence(source=str(source))]


def _dedup(evidence: list[Evidence]) -> list[Evidence]:
    return list(dict.fromkeys(evidence))[:MAX_EVIDENCE]


def _frame_keys(rows: pd.DataFrame, cap: str, frame: str) -> list[tuple[str, int]]:
    """``(capture, frame_no)`` of the frames named by two columns of ``rows`` (rows missing
    either are left out)."""
    known = (rows[cap].notna() & rows[frame].notna()).tolist()
    return [
        (str(c), int(f))
        for c, f, ok in zip(rows[cap].tolist(), rows[frame].tolist(), known, strict=True)
        if ok
    ]


def _frames(
    rows: pd.DataFrame, cap: str = "request_capture", frame: str = "request_frame"
) -> list[Evidence]:
    """Evidence of the frames named by two columns of ``rows`` (rows missing either left out)."""
    return [Evidence(capture=c, frame_no=f) for c, f in _frame_keys(rows, cap, frame)]


def _pair_frames(rows: pd.DataFrame) -> list[Evidence]:
    """The first few distinct request and reply frames of ``rows``, in capture and frame order
    (the capture names' text order, then frame numbers), picked on integer codes."""
    at: dict[str, int] = {}
    caps: list[np.ndarray] = []
    fnos: list[np.ndarray] = []
    for cap, frame in (("request_capture", "request_frame"), ("reply_capture", "reply_frame")):
        ok = (rows[cap].notna() & rows[frame].notna()).to_numpy(dtype=bool)
        if not ok.any():
            continue
        codes, uniques = pd.factorize(rows[cap][ok])  # a categorical's codes: no object per row
        shared = [at.setdefault(str(u), len(at)) for u in uniques]
        caps.append(np.asarray(shared, dtype=np.int64)[codes])
        fnos.append(rows[frame][ok].to_numpy(dtype=np.int64))
    if not caps:
        return []
    names = list(at)
    by_rank = sorted(range(len(names)), key=names.__getitem__)  # the names in text order
    rank = np.empty(len(names), dtype=np.int64)
    rank[by_rank] = np.arange(len(names))
    cap_rank = rank[np.concatenate(caps)]
    fno = np.concatenate(fnos)
    order = np.lexsort((fno, cap_rank))
    cap_rank, fno = cap_rank[order], fno[order]
    new = np.ones(len(fno), dtype=bool)
    new[1:] = (cap_rank[1:] != cap_rank[:-1]) | (fno[1:] != fno[:-1])  # each frame once
    return [
        Evidence(capture=names[by_rank[r]], frame_no=f)
        for r, f in zip(
            cap_rank[new][:MAX_EVIDENCE].tolist(), fno[new][:MAX_EVIDENCE].tolist(), strict=True
        )
    ]


def _us(seconds: object) -> str:
    s = vals(seconds)
    if s is None:
        return "?"
    s = float(s)  # type: ignore[arg-type]
    return f"{s * 1e6:.0f} µs" if s < 1e-3 else f"{s * 1e3:.3f} ms"


def _flags(flags: object) -> str:
    f = vals(flags)
    return ",".join(str(f)) if f else "none"


def _route_gateways(ctx: Context, family: int) -> dict[str, list]:
    """Default-route next hops by pod namespace, from routes loaded from dumps."""
    out: dict[str, list] = defaultdict(list)
    for r in ctx.topology.routes:
        if r.family == family and r.dst == "default" and r.via:
            out[r.via].append(r)
    return out


def _more(fid: str, severity: Severity | str, n: int, what: str) -> Finding:
    """One finding that counts the cases left out of a long list."""
    return Finding(
        fid,
        Severity(severity),
        f"... and {n} more {what} (`vxlanlens exchanges` lists them all).",
        [],
        {"more": n},
    )


def _keep(at: np.ndarray, mask: pd.Series) -> np.ndarray:
    """The positions ``at`` where ``mask`` (a comparison over them) is true (null is not)."""
    return at[mask.fillna(False).to_numpy(dtype=bool)]


def _same_frame_elsewhere(ctx: Context, row: pd.Series) -> str | None:
    """Where the same pod frame (same MACs, addresses, id/seq) was seen outside a tunnel."""
    p = ctx.packets
    at = ctx.untunnelled(row["src_ip"], row["dst_ip"])
    for col in ("src_mac", "dst_mac"):
        at = at[text_is(p[col].iloc[at], str(row[col]))]
    for col in ("echo_id", "echo_seq", "ip_id", "tcp_seq"):
        if not na(row[col]):
            at = _keep(at, p[col].iloc[at] == row[col])
    if not len(at):
        return None
    h = ctx.row_at(int(at[0]))
    return f"same MACs and addresses as {h['capture']}#{int(h['frame_no'])}"


class _Lists(dict[str, list[Any]]):
    """``ex[column].tolist()`` per column of the exchanges table, made when first asked for."""

    def __init__(self, ex: pd.DataFrame) -> None:
        super().__init__()
        self._ex = ex

    def __missing__(self, column: str) -> list[Any]:
        values = self[column] = self._ex[column].tolist()
        return values
