"""The record walks: the C module (``vxlanlens.read._walk``) against the Python loops.

Both must stop at the same place and give the same offsets on any bytes, and reading any
capture must give the same table whichever walk runs.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from testpaths import CAPTURES, public_files

import vxlanlens
from vxlanlens.errors import VxlanlensError
from vxlanlens.read import _common, pcap, pcapng

needs_c = pytest.mark.skipif(
    not _common.C_WALK, reason="the C record walk was not built (no compiler at install time)"
)


def _records(lengths: list[int], big: bool, kind: str) -> bytes:
    """pcap records (16-byte header, caplen bytes) or pcapng blocks (type 6, given length)."""
    e = ">" if big else "<"
    out = bytearray()
    for n in lengths:
        if kind == "pcap":
            out += struct.pack(e + "IIII", 0, 0, n, n) + b"\xab" * n
        else:
            out += struct.pack(e + "II", 6, n) + b"\xcd" * max(n - 8, 0)
    return bytes(out)


@needs_c
@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["pcap", "pcapng"]),
    big=st.booleans(),
    lengths=st.lists(st.integers(0, 80), max_size=30),
    noise=st.binary(max_size=40),
    cut=st.integers(0, 64),
    start=st.integers(0, 12),
)
def test_c_walk_matches_python_on_any_bytes(
    kind: str, big: bool, lengths: list[int], noise: bytes, cut: int, start: int
) -> None:
    buf = _records(lengths, big, kind) + noise
    buf = buf[: max(len(buf) - cut, 0)]
    start = min(start, len(buf))
    for b in (buf, bytearray(buf)):
        if kind == "pcap":
            offs_c, heads_c, stop_c = _common.walk_pcap_heads(b, start, big)
            offs_py, heads_py, stop_py = _common.py_walk_pcap_heads(b, start, big)
            assert heads_c.shape == (len(offs_c), 16)
            np.testing.assert_array_equal(heads_c, heads_py)
            for row, off in zip(heads_c, offs_c.tolist(), strict=True):
                assert row.tobytes() == bytes(b[off : off + 16])
        else:
            offs_c, stop_c = _common.walk_epb(b, start, big)
            offs_py, stop_py = _common.py_walk_epb(b, start, big)
        assert stop_c == stop_py
        assert offs_c.dtype == np.int64
        np.testing.assert_array_equal(offs_c, offs_py)


@needs_c
def test_c_walk_stops_on_lengths_past_the_buffer() -> None:
    # A caplen of 2**32 - 1 must not wrap around: the walk stops at that record.
    buf = struct.pack("<IIII", 0, 0, 4, 4) + b"abcd" + struct.pack("<IIII", 0, 0, 2**32 - 1, 9)
    offs, heads, stop = _common.walk_pcap_heads(buf, 0, False)
    assert offs.tolist() == [0]
    assert stop == 20
    assert heads.tobytes() == buf[:16]
    with pytest.raises(ValueError, match="outside the buffer"):
        _common.walk_pcap_heads(buf, len(buf) + 1, False)


def _captures() -> list[Path]:
    shipped = sorted(p for p in CAPTURES.rglob("*") if p.suffix in (".pcap", ".pcapng"))
    corpus = public_files("**/*.pcap", "**/*.pcapng", "**/*.cap", "**/*.ntar")
    return shipped[:40] + corpus


def _read(path: Path) -> pd.DataFrame | str:
    try:
        return vxlanlens.read([path], workers=1).packets
    except VxlanlensError as exc:
        return f"{type(exc).__name__}: {exc}"


@needs_c
@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.name)
def test_tables_equal_with_either_walk(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_c = _read(path)
    monkeypatch.setattr(pcap, "walk_pcap_heads", _common.py_walk_pcap_heads)
    monkeypatch.setattr(pcapng, "walk_epb", _common.py_walk_epb)
    with_py = _read(path)
    if isinstance(with_c, str) or isinstance(with_py, str):
        assert with_c == with_py
    else:
        pd.testing.assert_frame_equal(with_c, with_py)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=200),
    width=st.integers(1, 40),
    picks=st.lists(st.integers(0, 10_000), max_size=20),
)
def test_gather_gives_the_bytes_at_each_offset(data: bytes, width: int, picks: list[int]) -> None:
    """``gather`` (whole records through a view) gives exactly the bytes indexing them one by
    one gives, and refuses an offset whose bytes run past the end."""
    u8 = np.frombuffer(data, dtype=np.uint8)
    starts = len(data) - width + 1
    offsets = np.array([p % starts for p in picks] if starts > 0 else [], dtype=np.int64)
    got = _common.gather(u8, offsets, width)
    assert got.shape == (len(offsets), width) and got.flags.c_contiguous
    assert [row.tobytes() for row in got] == [data[o : o + width] for o in offsets.tolist()]
    if starts > 0:
        with pytest.raises(IndexError):
            _common.gather(u8, np.array([starts], dtype=np.int64), width)


def test_gather_leaves_no_view_of_a_buffer_behind() -> None:
    """Once ``gather`` has returned or failed (and the caller dropped its own view), the
    bytearray it read can change size again: the record view it makes does not outlive it."""
    buf = bytearray(range(64))
    u8 = np.frombuffer(buf, dtype=np.uint8)
    rows = _common.gather(u8, np.array([0, 60], dtype=np.int64), 4)
    with pytest.raises(IndexError):
        _common.gather(u8, np.array([61], dtype=np.int64), 4)
    del u8
    buf.extend(b"more")  # BufferError if any view of buf were still alive
    assert len(buf) == 68 and rows.tolist()[1] == [60, 61, 62, 63]
