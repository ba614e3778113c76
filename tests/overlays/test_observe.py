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


def _lab_packets() -> pd.DataFrame:
    from pathlib import Path

    import vxlanlens

    lab = Path(__file__).resolve().parents[2] / "captures" / "lab-ipv4-ping"
    return vxlanlens.read([str(p) for p in sorted(lab.glob("*.pcap"))]).packets


def test_expected_packet_facts_are_taken_once_for_that_table_only() -> None:
    from vxlanlens.overlays import _observe as ob

    packets = _lab_packets()
    measured = ob.measure_packet_facts(packets)
    assert measured.tunnel_frames > 0
    stand_in = ob.Observations(tunnel_frames=-1)  # what a forked process sent
    asked: list[int] = []

    def get() -> ob.Observations:
        asked.append(1)
        return stand_in

    ob.expect_packet_facts(packets.copy(), get)  # another table: not taken
    assert ob.observe(packets).tunnel_frames == measured.tunnel_frames and not asked
    ob.expect_packet_facts(packets, get)
    assert ob.observe(packets).tunnel_frames == -1 and asked == [1]
    # once: the same table is measured again (it may have been changed in place)
    assert ob.observe(packets).tunnel_frames == measured.tunnel_frames and asked == [1]
    ob.expect_packet_facts(packets, lambda: None)  # the forked process failed: measured here
    assert ob.observe(packets).tunnel_frames == measured.tunnel_frames
    ob.expect_packet_facts(packets, get)
    ob.expect_packet_facts(packets, None)  # forgotten
    assert ob.observe(packets).tunnel_frames == measured.tunnel_frames and asked == [1]
    assert ob.measure_packet_facts(packets.iloc[:0]).tunnel_frames == 0
