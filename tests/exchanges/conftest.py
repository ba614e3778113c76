"""Fixtures for the exchanges tests: small packets tables built from dict rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pandas as pd
import pytest
from craft import make_packets


@pytest.fixture
def packets() -> Callable[[Iterable[Mapping[str, object]]], pd.DataFrame]:
    """:func:`craft.make_packets` (a packets table from dict rows), as a fixture."""
    return make_packets
