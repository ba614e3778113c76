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


def test_capture_codes_say_what_the_capture_text_says() -> None:
    """One code per row standing for the capture's text (-1 where :meth:`Context.text` has
    none), for a categorical column, an object column, and categories that print alike."""
    labels = ["b", None, "a", "b", "a", "c"]
    columns = [
        pd.Series(labels, dtype="category"),
        pd.Series(labels, dtype=object),
        pd.Series(pd.Categorical([1, None, "1", 1, "x", "x"])),  # 1 and "1": one text
    ]
    for capture in columns:
        packets = make_packets([{"frame_no": k + 1} for k in range(len(capture))])
        packets["capture"] = capture
        ctx = Context(
            packets=packets,
            topology=Topology(),
            exchanges=pd.DataFrame(),
            journeys=pd.DataFrame(),
            loaded=False,
        )
        codes, names = ctx.capture_codes
        assert len(set(names)) == len(names)
        text = ctx.text("capture")
        for code, want in zip(codes.tolist(), text.tolist(), strict=True):
            assert (names[code] if code >= 0 else None) == (None if pd.isna(want) else want)
