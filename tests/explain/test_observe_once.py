"""Overlay recognition measures a packets table once for the inference and the explanation, and
never hands one table's facts to another table."""

from __future__ import annotations

from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.overlays import _observe
from vxlanlens.overlays._observe import observe

SCENARIO = Path(__file__).resolve().parents[2] / "captures" / "lab-flannel-ping"


@pytest.fixture(scope="module")
def packets():
    pcaps = [str(p) for p in sorted(SCENARIO.glob("*.pcap*"))]
    if not pcaps:
        pytest.skip("shipped scenario missing")
    return vxlanlens.read(pcaps).packets


def test_an_equal_table_gives_the_same_facts_measured_once(packets, monkeypatch) -> None:
    first = observe(packets)
    calls = []
    real = _observe._measure_packets
    monkeypatch.setattr(_observe, "_measure_packets", lambda p: calls.append(1) or real(p))
    again = observe(packets.copy())
    assert again == first
    assert calls == []  # the copy's columns are the same: not measured again


def test_another_table_is_measured(packets) -> None:
    first = observe(packets)
    fewer = observe(packets[packets["tunnel"].isna()].reset_index(drop=True))
    assert first.tunnel_frames > 0
    assert fewer.tunnel_frames == 0


def test_a_table_changed_in_place_is_measured_again(packets) -> None:
    table = packets.copy()
    before = observe(table)
    table["tunnel"] = None
    assert before.tunnel_frames > 0
    assert observe(table).tunnel_frames == 0


def test_kept_facts_are_not_shared(packets) -> None:
    one = observe(packets)
    one.macs.clear()
    one.per_sender_inner_macs.append("x#1")
    two = observe(packets.copy())
    assert two.macs
    assert "x#1" not in two.per_sender_inner_macs


def test_a_shallow_copy_is_known_by_its_arrays_without_comparing(packets, monkeypatch) -> None:
    first = observe(packets)
    shallow = packets.copy(deep=False)  # what the annotated table's columns are
    assert all(
        _observe._same_array(packets[c], shallow[c])
        for c in _observe._PACKET_COLUMNS
        if c in packets
    )

    def no_compare(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("compared value by value")

    monkeypatch.setattr("pandas.Series.equals", no_compare)
    assert observe(shallow) == first
    monkeypatch.undo()
    # other arrays are not the same: a deep copy, another column, the rows reversed
    assert not _observe._same_array(packets["ttl"], packets["ttl"].copy())
    assert not _observe._same_array(packets["src_mac"], packets["dst_mac"])
    assert not _observe._same_array(packets["ttl"], packets["ttl"].iloc[::-1])
