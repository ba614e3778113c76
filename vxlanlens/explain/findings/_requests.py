"""Requests as exchanges across observation points, grouped into flows.

The exchanges table has one row per observation point: one ping seen at four capture points is
four rows. Findings count *exchanges*, so the rows of one request are merged through its
journey (the same packet recognised at several points), and the exchanges are grouped into
*flows* (one requester asking one target the same kind of question: one ping's echo id, one TCP
destination port, one NS target) so that what repeats is said once, with counts and ranges.

Times are compared in the reference capture's clock (journeys estimate each capture's offset).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...proto import ExchangeKind, ExchangeStatus
from .._rows import as_text, number_ranges
from ..context import Context, na, vals

__all__ = ["Exchange", "Flow", "any_row", "clock_offsets_by_capture", "corrected", "flows"]

REQUEST_KINDS = (ExchangeKind.ND, ExchangeKind.ARP, ExchangeKind.ECHO, ExchangeKind.TCP)
"""Kinds whose exchanges are a request waiting for an answer."""


@dataclass
class Exchange:
    """One request (and its retransmissions) seen at one or more observation points."""

    frame: tuple[str, int]
    """The first observation of the request (capture, frame), in journey order."""
    ts: float
    """When it was first seen, in seconds (the reference capture's clock when known)."""
    rows: list[int] = field(default_factory=list)
    """Positions of its rows in the exchanges table (one per observation point)."""
    answered: bool = False
    error_row: int | None = None
    """Position of an ``icmp-error`` row that quotes this request (it was answered by an error)."""
    answer_row: int | None = None
    """Position of the first row that saw it answered."""
    retransmissions: int = 0
    seq: int | None = None
    """Echo sequence number, or the TCP source port."""
    last_try: tuple[str, int] | None = None
    """The last retransmitted copy of the request (capture, frame), if any."""
    last_ts: float | None = None
    """When the last copy was sent (reference clock)."""
    copies: list[tuple[float, str, int]] = field(default_factory=list)
    """Retransmitted copies (time, capture, frame) at every point."""

    @property
    def last_frame(self) -> tuple[str, int]:
        """The last copy of the request: its last retransmission, else its first observation."""
        return self.last_try or self.frame

    @property
    def end_ts(self) -> float:
        """When the last copy of the request was sent."""
        return self.last_ts if self.last_ts is not None else self.ts

    @property
    def outcome(self) -> str:
        """``answered``, ``error`` (answered by an ICMP error) or ``unanswered``."""
        if self.answered:
            return "answered"
        return "error" if self.error_row is not None else "unanswered"


@dataclass
class Flow:
    """The exchanges of one kind between one requester and one target, in time order."""

    kind: str
    requester: str
    target: str
    extra: Any
    """The echo id (``echo``), the TCP destination port (``tcp``), else ``None``."""
    exchanges: list[Exchange] = field(default_factory=list)


def clock_offsets_by_capture(ctx: Context) -> dict[str, float | None]:
    """Each capture's clock offset against the reference (seconds; None when not estimated),
    as the journeys estimated it."""
    j = ctx.journeys
    if j.empty or "clock_offset_s" not in j:
        return {}
    first = j.drop_duplicates("capture")
    return {
        str(c): (None if na(o) else float(o))  # type: ignore[arg-type]
        for c, o in zip(first["capture"], first["clock_offset_s"], strict=True)
    }


def corrected(ts: object, capture: object, offsets: dict[str, float | None]) -> float:
    """A timestamp as seconds in the reference capture's clock (uncorrected when the capture's
    offset is unknown)."""
    t = pd.Timestamp(ts).value / 1e9  # type: ignore[arg-type]
    off = offsets.get(str(capture))
    return t - off if off is not None else t


def any_row(ctx: Context, **equal: str) -> bool:
    """Whether some row of the exchanges table has every given column equal to the given text
    (a cheap test before :func:`flows` are built)."""
    ex = ctx.exchanges
    if ex.empty or any(c not in ex for c in equal):
        return False
    mask = np.ones(len(ex), dtype=bool)
    for column, value in equal.items():
        mask &= (ex[column] == value).fillna(False).to_numpy(dtype=bool)
    return bool(mask.any())


_CACHE: dict[int, tuple[weakref.ref, list[Flow]]] = {}


def flows(ctx: Context) -> list[Flow]:
    """The flows of request exchanges (ND, ARP, echo, TCP SYN), in order of first request;
    each exchange merged across the observation points that saw it."""
    hit = _CACHE.get(id(ctx))
    if hit is not None and hit[0]() is ctx:
        return hit[1]
    out = _flows(ctx)
    for k in [k for k, (ref, _) in _CACHE.items() if ref() is None]:
        del _CACHE[k]
    _CACHE[id(ctx)] = (weakref.ref(ctx), out)
    return out


def _plain(series: pd.Series) -> list[Any]:
    """The column's values as plain Python ones, ``None`` for nulls (what :func:`vals` gives
    value by value)."""
    values = as_text(series) if isinstance(series.dtype, pd.CategoricalDtype) else series
    nulls = series.isna().to_numpy()
    out = values.tolist()
    if nulls.any():
        for k in np.flatnonzero(nulls).tolist():
            out[k] = None
    return [vals(v) if v is not None and not isinstance(v, (str, int)) else v for v in out]


def _nanoseconds(series: pd.Series) -> list[int] | None:
    """Nanoseconds since the epoch of a datetime column in nanoseconds (what
    ``pd.Timestamp(v).value`` gives value by value), else None."""
    dtype = series.dtype
    unit = getattr(dtype, "unit", None)
    if unit is None and isinstance(dtype, np.dtype) and dtype.kind == "M":
        unit = np.datetime_data(dtype)[0]
    if unit != "ns":
        return None
    return series.array.asi8.tolist()  # type: ignore[attr-defined, no-any-return]


def _flows(ctx: Context) -> list[Flow]:
    ex = ctx.exchanges
    if ex.empty or "kind" not in ex:
        return []
    kinds = as_text(ex["kind"]).tolist()
    status = as_text(ex["status"]).tolist()
    # the request's (capture, frame) as text and int, None when either is missing
    known = (ex["request_capture"].notna() & ex["request_frame"].notna()).to_numpy()
    req_cap = [
        c if ok else None
        for c, ok in zip(_plain(ex["request_capture"]), known.tolist(), strict=True)
    ]
    req_frame = [
        f if ok else None for f, ok in zip(_plain(ex["request_frame"]), known.tolist(), strict=True)
    ]
    offsets = clock_offsets_by_capture(ctx)
    # seconds in the reference clock (as corrected() gives them), from the nanoseconds
    ts_ns = _nanoseconds(ex["ts"])
    ts = ex["ts"].tolist() if ts_ns is None else []

    def when(pos: int) -> float:
        if ts_ns is None:
            return corrected(ts[pos], req_cap[pos], offsets)
        off = offsets.get(str(req_cap[pos]))
        t = ts_ns[pos] / 1e9
        return t - off if off is not None else t

    firsts = ctx.first_observations(
        [None if c is None else str(c) for c in req_cap],
        [None if f is None else int(f) for f in req_frame],
    )

    def canonical(pos: int) -> tuple[str, int] | None:
        return firsts[pos]

    # requests quoted by an ICMP error: answered, by an error
    errors: dict[tuple[str, int], int] = {}
    for pos in np.flatnonzero(ex["kind"].to_numpy() == ExchangeKind.ICMP_ERROR.value).tolist():
        key = canonical(pos)
        if key is not None:
            errors.setdefault(key, pos)
            for obs in ctx.journey_frames(*key):
                errors.setdefault(obs, pos)
    # retransmitted copies of each request, by the request's first copy at that point
    dup_of = _plain(ex["duplicate_of"])
    copies: dict[tuple[str, int], list[int]] = {}
    for pos in np.flatnonzero(ex["status"].to_numpy() == ExchangeStatus.DUPLICATE.value).tolist():
        if req_frame[pos] is not None and dup_of[pos] is not None:
            copies.setdefault((str(req_cap[pos]), int(dup_of[pos])), []).append(pos)
    wanted = {str(k) for k in REQUEST_KINDS}
    main = {ExchangeStatus.ANSWERED.value, ExchangeStatus.UNANSWERED.value}
    answered_status = ExchangeStatus.ANSWERED.value
    # text as str() gives it (nulls as NaN, "nan" in text)
    rmac, rip = as_text(ex["requester_mac"]).tolist(), as_text(ex["requester_ip"]).tolist()
    target = as_text(ex["target"]).tolist()
    echo_id, echo_seq = _plain(ex["echo_id"]), _plain(ex["echo_seq"])
    sport, dport = _plain(ex["sport"]), _plain(ex["dport"])
    retrans = _plain(ex["retransmissions"])
    by_exchange: dict[tuple[str, int], Exchange] = {}
    by_flow: dict[tuple, Flow] = {}
    nd_arp = {ExchangeKind.ND.value, ExchangeKind.ARP.value}
    echo = ExchangeKind.ECHO.value
    for pos, kind in enumerate(kinds):
        if kind not in wanted or status[pos] not in main:
            continue
        key = canonical(pos)
        if key is None:
            continue
        if kind in nd_arp:
            who = rmac[pos] if not na(rmac[pos]) else rip[pos]
            extra = None
        elif kind == echo:
            who, extra = rip[pos], echo_id[pos]
        else:
            who, extra = rip[pos], dport[pos]
        fkey = (kind, str(who), str(target[pos]), extra)
        flow = by_flow.get(fkey)
        if flow is None:
            flow = by_flow[fkey] = Flow(kind, str(who), str(target[pos]), extra)
        t = when(pos)
        x = by_exchange.get(key)
        if x is None:
            x = by_exchange[key] = Exchange(key, t)
            x.seq = echo_seq[pos] if kind == echo else sport[pos]
            flow.exchanges.append(x)
        x.rows.append(pos)
        for c in copies.get((str(req_cap[pos]), int(req_frame[pos])), ()):  # type: ignore[arg-type]
            x.copies.append((when(c), str(req_cap[c]), int(req_frame[c])))  # type: ignore[arg-type]
        if t < x.ts:
            x.ts = t
        r = int(retrans[pos] or 0)
        if r > x.retransmissions:
            x.retransmissions = r
        if status[pos] == answered_status and not x.answered:
            x.answered, x.answer_row = True, pos
        if x.error_row is None and errors:
            for obs in ctx.journey_frames(req_cap[pos], req_frame[pos]):
                if obs in errors:
                    x.error_row = errors[obs]
                    break
    for x in by_exchange.values():
        # the last copy, seen where the first one was when it can be (frames of one capture)
        if not x.copies:
            continue
        here = [c for c in x.copies if c[1] == x.frame[0]] or x.copies
        t_last, cap, frame = max(here)
        x.last_ts, x.last_try = t_last, (cap, frame)
    # A flow whose requests all joined an exchange of another flow (the same packet, seen
    # with another requester or target at another point, as in a damaged capture) is empty.
    kept = [flow for flow in by_flow.values() if flow.exchanges]
    for flow in kept:
        flow.exchanges.sort(key=lambda e: e.ts)
    return sorted(kept, key=lambda f: f.exchanges[0].ts)


def runs(flow: Flow) -> list[tuple[str, list[Exchange]]]:
    """The flow's exchanges cut into runs of equal outcome, in time order."""
    out: list[tuple[str, list[Exchange]]] = []
    for x in flow.exchanges:
        if out and out[-1][0] == x.outcome:
            out[-1][1].append(x)
        else:
            out.append((x.outcome, [x]))
    return out


def seq_text(xs: list[Exchange], word: str = "seq") -> str:
    """``seq 1-3`` / ``seq 1, 4, 7-9`` for the sequence numbers of exchanges (empty if none)."""
    return numbers_text((int(x.seq) for x in xs if x.seq is not None), word)


def numbers_text(numbers: Iterable[int], word: str) -> str:
    """``ports 1, 4, 7-9`` for numbers (at most six ranges shown), ``word`` made singular for
    one number (``port 53``); empty if none."""
    nums = sorted(set(numbers))
    if not nums:
        return ""
    parts = number_ranges(nums)
    if len(parts) > 6:
        parts = [*parts[:3], "...", *parts[-2:]]
    if len(nums) == 1 and word.endswith("s"):
        word = word[:-1]  # "source port 50000"
    return f"{word} {', '.join(parts)}"
