"""Helpers that read the packets table on its columns' codes (vxlanlens.explain._rows), and the
journeys index's test for frames listed twice: the same answers as pandas' own methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from vxlanlens.explain._rows import combination, distinct_rows, first_distinct, first_of_each
from vxlanlens.explain.context import _listed_twice

_VALUES = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))


def _frame(
    rows: list[tuple[str | None, str | None, int | None]], categorical: bool
) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "x": pd.Series([r[0] for r in rows], dtype="category" if categorical else object),
            "y": pd.Series([r[1] for r in rows], dtype="category" if categorical else object),
            "n": pd.array([r[2] for r in rows], dtype="UInt16"),
        }
    )
    return df


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_VALUES, _VALUES, st.one_of(st.none(), st.integers(0, 3))), max_size=60),
    st.booleans(),
    st.booleans(),
)
def test_distinct_rows_are_drop_duplicates(
    rows: list[tuple[str | None, str | None, int | None]], categorical: bool, dropna: bool
) -> None:
    df = _frame(rows, categorical)
    cols = ["x", "y", "n"]
    want = df[cols].dropna() if dropna else df[cols]
    pd.testing.assert_frame_equal(distinct_rows(df, cols, dropna=dropna), want.drop_duplicates())
    if rows:
        combined = combination(df[c] for c in cols)
        # numbered in order of first appearance, equal rows equal numbers (nulls alike)
        assert combined.tolist() == df.groupby(cols, sort=False, dropna=False).ngroup().tolist()
        assert first_of_each(combined).tolist() == (~df.duplicated(cols)).tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.sampled_from(["p", "q"])), st.integers(1, 40)),
        max_size=60,
    ),
    st.booleans(),
    st.sampled_from([0, 10**9]),
)
def test_listed_twice_is_duplicated_keep_false(
    rows: list[tuple[str | None, int]], categorical: bool, shift: int
) -> None:
    # frame numbers as a capture counts them (dense), or far apart (the sorting path)
    captures = pd.Series([c for c, _ in rows], dtype="category" if categorical else object)
    frames = pd.Series(np.array([f * (1 + shift) for _, f in rows], dtype=np.int64))
    want = pd.DataFrame({"c": captures, "f": frames}).duplicated(keep=False).to_numpy()
    assert _listed_twice(captures, frames).tolist() == want.tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-3, 40), max_size=200),
    st.integers(0, 12),
    st.integers(1, 9),
)
def test_first_distinct_is_the_head_of_unique(values: list[int], k: int, step: int) -> None:
    arr = np.array(values, dtype=np.int64)
    want = pd.unique(arr)[:k].tolist()
    got = first_distinct(arr, k, step=step)
    assert [v for v, _ in got] == want
    assert [at for _, at in got] == [values.index(v) for v in want]
