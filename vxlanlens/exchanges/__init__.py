"""Exchanges and journeys: pair requests with replies, follow one packet across captures.

Both take the packets table (``vxlanlens.schema``) and return pandas DataFrames whose columns
are documented in :data:`EXCHANGE_COLUMNS`, :data:`JOURNEY_COLUMNS` and :data:`CLOCK_COLUMNS`
(and in ``docs/exchanges.md``).
"""

from __future__ import annotations

from .columns import CLOCK_COLUMNS, EXCHANGE_COLUMNS, JOURNEY_COLUMNS, KINDS, STATUSES
from .journeys import clock_offsets, journeys
from .pairing import exchanges

__all__ = [
    "CLOCK_COLUMNS",
    "EXCHANGE_COLUMNS",
    "JOURNEY_COLUMNS",
    "KINDS",
    "STATUSES",
    "clock_offsets",
    "exchanges",
    "journeys",
]
