"""The journeys' sort of sightings: the same order as a plain four-key lexsort."""

from __future__ import annotations

import numpy as np
import pytest

from vxlanlens.exchanges.journeys import _sightings_order


def _arrays(n: int, seed: int) -> tuple[np.ndarray, ...]:
    r = np.random.default_rng(seed)
    fp = np.resize(r.integers(0, 2**63, max(n // 3, 1)).repeat(3), n).astype(np.uint64)
    r.shuffle(fp)
    corr = (1_700_000_000_000_000_000 + r.integers(0, 10**11, n)).astype(np.int64)
    point = r.integers(0, 5, n)
    frame = r.integers(1, 10**6, n)
    if n > 10:  # ties on every key: row order decides
        corr[::7] = corr[0]
        point[::3], frame[::3] = point[0], frame[0]
    return fp, corr, point, frame


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_same_order_as_lexsort(n: int) -> None:
    fp, corr, point, frame = _arrays(n, n)
    want = np.lexsort((frame, point, corr, fp))
    assert _sightings_order(fp, corr, point, frame).tolist() == want.tolist()


def test_wide_values_fall_back_to_lexsort() -> None:
    fp, corr, point, frame = _arrays(2000, 3)
    corr[0] = -(2**62)  # a time span that does not fit beside the fingerprint's rank
    frame[1] = 2**50  # a frame number that does not fit beside the point
    want = np.lexsort((frame, point, corr, fp))
    assert _sightings_order(fp, corr, point, frame).tolist() == want.tolist()
