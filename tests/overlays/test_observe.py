"""The measurements of the packets table that recognition reads (vxlanlens.overlays._observe)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from vxlanlens.overlays._observe import _first


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"])), max_size=40),
    st.booleans(),
    st.dictionaries(st.sampled_from(["a", "b", "x"]), st.just("old#1"), max_size=2),
)
def test_first_is_the_first_row_of_every_value(
    values: list[str | None], categorical: bool, before: dict[str, str]
) -> None:
    keys = pd.Series(values, dtype="category" if categorical else object)
    rows = pd.DataFrame({"capture": "cap", "frame_no": range(1, len(values) + 1)})
    got = dict(before)
    _first(keys, rows, got)
    want = dict(before)
    for k, v in enumerate(values):  # what it stands for: a loop over the rows
        if v is not None:
            want.setdefault(v, f"cap#{k + 1}")
    assert list(got.items()) == list(want.items())
