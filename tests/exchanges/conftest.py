"""Helpers for the exchanges tests: small packets tables built from dict rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
import pytest

from vxlanlens.schema import COLUMN_NAMES, COLUMNS

BASE_NS = 1_720_770_268_000_000_000  # 2024-07-12T07:44:28Z


def make_packets(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """A packets table with the schema's columns and dtypes.

    Each row is a dict of column values; ``t`` (seconds after a fixed base time) may stand in for
    ``ts_ns``; ``capture`` defaults to ``"cap"`` and ``frame_no`` to the row's 1-based number
    within its capture.
    """
    counters: dict[str, int] = {}
    out = []
    for i, row in enumerate(rows):
        r = dict(row)
        r.setdefault("capture", "cap")
        counters[r["capture"]] = counters.get(r["capture"], 0) + 1
        r.setdefault("frame_no", counters[r["capture"]])
        if "t" in r:
            r["ts_ns"] = BASE_NS + round(float(r.pop("t")) * 1e9)
        r.setdefault("ts_ns", BASE_NS + i * 1000)
        r["ts"] = pd.Timestamp(r["ts_ns"], unit="ns", tz="UTC")
        unknown = set(r) - set(COLUMN_NAMES)
        assert not unknown, f"not packets-table columns: {unknown}"
        out.append(r)
    df = pd.DataFrame(out, columns=list(COLUMN_NAMES))
    return df.astype({c.name: c.dtype for c in COLUMNS})


@pytest.fixture
def packets():  # type: ignore[no-untyped-def]
    """The :func:`make_packets` helper, as a fixture."""
    return make_packets
