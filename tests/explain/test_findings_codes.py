"""The findings' helpers that work on integer codes give what the plain Python versions gave."""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
import pytest

from vxlanlens.explain.findings._util import MAX_EVIDENCE, _pair_frames
from vxlanlens.explain.findings.identity import _conversation_keys
from vxlanlens.explain.findings.tcp import _objects, _per_distinct, _text


def _exchanges(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = ["b", "a10", "a9", "A", "é"]

    def caps() -> pd.Categorical:
        codes = rng.integers(-1, len(names), n)
        return pd.Categorical.from_codes(codes, categories=names)

    def frames() -> pd.array:
        v = rng.integers(1, 40, n)
        return pd.array(np.where(rng.random(n) < 0.2, None, v), dtype="Int64")

    return pd.DataFrame(
        {
            "request_capture": caps(),
            "request_frame": frames(),
            "reply_capture": caps(),
            "reply_frame": frames(),
        }
    )


def _pair_frames_by_set(rows: pd.DataFrame) -> list[tuple[str, int]]:
    frames: set[tuple[str, int]] = set()
    for cap, frame in (("request_capture", "request_frame"), ("reply_capture", "reply_frame")):
        for c, f in zip(rows[cap].tolist(), rows[frame].tolist(), strict=True):
            if not pd.isna(c) and not pd.isna(f):
                frames.add((str(c), int(f)))
    return heapq.nsmallest(MAX_EVIDENCE, frames)


@pytest.mark.parametrize(("seed", "n"), [(1, 0), (2, 1), (3, 5), (4, 60), (5, 400)])
def test_pair_frames_first_distinct_frames_in_text_order(seed: int, n: int) -> None:
    rows = _exchanges(seed, n)
    got = [(e.capture, e.frame_no) for e in _pair_frames(rows)]
    assert got == _pair_frames_by_set(rows)


def test_conversation_keys_equal_exactly_for_equal_rows() -> None:
    rng = np.random.default_rng(7)
    numbers = pd.DataFrame({k: rng.integers(0, 4, 300) for k in "abcd"})
    want = numbers.groupby(list("abcd"), sort=False).ngroup().to_numpy()
    columns = {k: numbers[k].to_numpy() for k in numbers.columns}
    # codes in mixed radix, and codes too wide for one integer (numbered instead)
    for sizes in ([4, 4, 4, 4], [2**20] * 4):
        keys = _conversation_keys(columns, sizes)
        assert (pd.factorize(keys)[0] == want).all()


def test_per_distinct_names_each_row_from_its_combination() -> None:
    p = pd.DataFrame(
        {
            "capture": pd.Categorical(["x", "x", "y", "x", None]),
            "interface": pd.Categorical(["eth0", None, None, "eth0", None]),
            "ifindex": pd.array([None, 3, 3, None, None], dtype="UInt32"),
        }
    )
    got = _per_distinct(
        [p["capture"], p["interface"], p["ifindex"]],
        lambda c, i, x: c + (f"/{i}" if i is not None else (f"/if{x}" if x is not None else "")),
        [_text, _objects, _objects],
    )
    assert got.tolist() == ["x/eth0", "x/if3", "y/if3", "x/eth0", "nan"]
