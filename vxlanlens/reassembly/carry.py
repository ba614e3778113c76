"""Streams that reassemble batch by batch: where to cut a batch, and the records carried into
the next one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..decode.result import DecodedBatch
from ..read.records import RecordBatch
from .store import FragmentStore

__all__ = ["CARRY_AGE_NS", "MAX_CARRY", "join", "open_from", "take"]

MAX_CARRY = 65536
"""Records a stream may carry into its next batch to complete fragment sets."""

CARRY_AGE_NS = 2_000_000_000
"""A stream waits for the missing fragments of a set at most this long (capture time): the
fragments of one packet leave within microseconds, so a set older than this has lost one."""


def open_from(batch: RecordBatch, decoded: DecodedBatch) -> int | None:
    """The first row of ``batch`` that belongs to a fragment set still incomplete at its end
    and younger than :data:`CARRY_AGE_NS` (its missing fragments may come in the next batch),
    or ``None``: where a stream that reassembles batch by batch may cut the batch and carry the
    rest into the next one."""
    if decoded.fragments is None or len(batch) == 0:
        return None
    store = FragmentStore()
    store.add(batch, decoded, 0)
    plan = store.plan()
    newest = int(batch.ts_ns.max())
    open_rows = [
        min(f.rows)
        for f in plan.failed
        if f.open and newest - int(batch.ts_ns[min(f.rows)]) <= CARRY_AGE_NS
    ]
    if not open_rows:
        return None
    cut = min(open_rows)
    # no other set may straddle the cut: its fragments go together
    spans = sorted(
        [(min(p.rows), max(p.rows)) for p in plan.packets]
        + [(min(f.rows), max(f.rows)) for f in plan.failed],
        key=lambda span: -span[1],
    )
    for lo, hi in spans:
        if hi < cut:
            break
        cut = min(cut, lo)
    return cut


def take(batch: RecordBatch, lo: int, hi: int | None = None) -> RecordBatch:
    """Records ``lo:hi`` of ``batch`` (sharing its bytes)."""
    return batch.select(slice(lo, len(batch) if hi is None else hi))


def join(a: RecordBatch, b: RecordBatch) -> RecordBatch:
    """The records of ``a`` then those of ``b`` (two batches of one capture) in one batch."""
    shift = int(a.data.shape[0])
    return replace(
        b,
        data=np.concatenate([a.data, b.data]),
        offsets=np.concatenate([a.offsets, b.offsets + shift]),
        cap_len=np.concatenate([a.cap_len, b.cap_len]),
        wire_len=np.concatenate([a.wire_len, b.wire_len]),
        ts_ns=np.concatenate([a.ts_ns, b.ts_ns]),
        linktype=np.concatenate([a.linktype, b.linktype]),
        frame_no=np.concatenate([a.frame_no, b.frame_no]),
        interface=np.concatenate([a.interface, b.interface]),
        comments={**a.comments, **{i + len(a): t for i, t in b.comments.items()}},
    )
