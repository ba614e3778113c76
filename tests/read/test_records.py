"""RecordBatch: the records of some rows of a batch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from vxlanlens.read.records import RecordBatch


def _batch() -> RecordBatch:
    b = RecordBatch.from_frames([bytes([i]) * (i + 1) for i in range(6)], ts_ns=list(range(6)))
    return replace(b, comments={1: "one", 4: "four"})


def test_select_rows_keeps_each_record_with_its_comment() -> None:
    sub = _batch().select(np.array([0, 4, 5]))
    assert [sub.frame(i) for i in range(len(sub))] == [b"\0", b"\4" * 5, b"\5" * 6]
    assert sub.frame_no.tolist() == [1, 5, 6]
    assert sub.ts_ns.tolist() == [0, 4, 5]
    assert sub.comments == {1: "four"}


def test_select_a_range() -> None:
    sub = _batch().select(slice(1, 4))
    assert [sub.frame(i) for i in range(len(sub))] == [b"\1" * 2, b"\2" * 3, b"\3" * 4]
    assert sub.comments == {0: "one"}
    b = _batch()
    assert b.select(slice(2, 2)).comments == {} and np.shares_memory(b.select([0]).data, b.data)
