"""The explanation's context: the journeys index answers which frames are one packet."""

from __future__ import annotations

import pandas as pd
from craft import make_packets

from vxlanlens.explain.context import Context
from vxlanlens.topology import Topology


def _context(journeys: pd.DataFrame) -> Context:
    packets = make_packets([{"capture": c, "frame_no": f} for c in ("a", "b") for f in (1, 2, 3)])
    return Context(
        packets=packets,
        topology=Topology(),
        exchanges=pd.DataFrame(),
        journeys=journeys,
        loaded=False,
    )


def test_journey_frames_in_journey_order_whatever_the_rows_order() -> None:
    rows = [  # journey, obs, capture, frame_no
        (0, 1, "a", 1), (0, 2, "b", 1),  # one packet seen at a and b
        (1, 1, "a", 2),  # alone
        (2, 2, "b", 3), (2, 1, "a", 3),  # listed out of order
        (3, 1, "b", 2), (4, 1, "b", 2),  # one frame in two one-observation journeys
    ]  # fmt: skip
    journeys = pd.DataFrame(rows, columns=["journey", "obs", "capture", "frame_no"])
    journeys["capture"] = journeys["capture"].astype("category")
    for table in (journeys, journeys.iloc[::-1], journeys.sort_values(["journey", "obs"])):
        ctx = _context(table.reset_index(drop=True))
        assert ctx.journey_frames("b", 1) == [("a", 1), ("b", 1)]
        assert ctx.journey_frames("a", 2) == [("a", 2)]  # its own journey
        assert ctx.journey_frames("b", 3) == [("a", 3), ("b", 3)]
        assert ctx.journey_frames("b", 2) == [("b", 2)]  # listed in the last journey
        assert ctx.first_observations(["b", "a", None], [3, 2, 1]) == [("a", 3), ("a", 2), None]
