"""Guessing record starts in a classic pcap file and reading byte ranges of it."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from splitcraft import record_starts, write_big_pcap

from vxlanlens.errors import CaptureError
from vxlanlens.read import open_capture
from vxlanlens.read.split import guess_boundaries, open_pcap_range, pcap_header


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_big_pcap(tmp_path_factory.mktemp("split") / "big.pcap", 4000)


def test_guesses_are_record_starts(big: Path) -> None:
    starts = set(record_starts(big))
    for parts in (2, 3, 5):
        cuts = guess_boundaries(str(big), parts)
        assert len(cuts) == parts - 1
        assert cuts == sorted(cuts)
        assert set(cuts) <= starts
        size = big.stat().st_size
        for k, cut in enumerate(cuts, start=1):
            assert cut >= size * k // parts  # at or after the wanted point, never before


def test_no_guess_without_a_chain_of_records(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    junk = tmp_path / "junk.pcap"
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    record = struct.pack("<IIII", 1_700_000_000, 0, 4, 4) + b"abcd"
    junk.write_bytes(header + record + rng.bytes(600_000))
    assert guess_boundaries(str(junk), 2) == []


@pytest.mark.parametrize("name", ["pcapng", "gzip"])
def test_other_formats_are_not_split(tmp_path: Path, big: Path, name: str) -> None:
    if name == "pcapng":
        path = tmp_path / "x.pcapng"
        path.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\x00" * 100)
    else:
        import gzip

        path = tmp_path / "x.pcap.gz"
        path.write_bytes(gzip.compress(big.read_bytes()[:5000]))
    assert pcap_header(str(path)) is None
    assert guess_boundaries(str(path), 2) == []


def _frames(reader) -> tuple[list[int], int]:
    frame_no: list[int] = []
    with reader:
        for batch in reader.batches(max_frames=700):
            frame_no.extend(batch.frame_no.tolist())
    return frame_no, len(frame_no)


def test_ranges_read_the_records_between_cuts(big: Path) -> None:
    starts = record_starts(big)
    a, b = starts[1000], starts[2500]
    first = open_pcap_range(str(big), "big", 0, a, 0)
    nos, _ = _frames(first)
    assert nos == list(range(1, 1001)) and first.ended_cleanly
    middle = open_pcap_range(str(big), "big", a, b, 1000)
    nos, _ = _frames(middle)
    assert nos == list(range(1001, 2501)) and middle.ended_cleanly
    assert middle.next_record_offset == b
    last = open_pcap_range(str(big), "big", b, None, 2500)
    nos, _ = _frames(last)
    assert nos == list(range(2501, 4001)) and last.ended_cleanly and not last.warnings


def test_a_range_ending_inside_a_record_says_where(big: Path) -> None:
    starts = record_starts(big)
    reader = open_pcap_range(str(big), "big", 0, starts[10] + 5, 0)
    nos, _ = _frames(reader)
    assert nos == list(range(1, 11))
    assert not reader.ended_cleanly
    assert reader.next_record_offset == starts[10]
    assert reader.partial_warnings == reader.warnings
    assert f"byte {starts[10]}: file ends inside the header of record 11" in reader.warnings[0]


def test_range_errors_name_the_file_offset_and_record(tmp_path: Path, big: Path) -> None:
    data = bytearray(big.read_bytes())
    starts = record_starts(big)
    bad = starts[3000]
    struct.pack_into("<I", data, bad + 8, 0x7FFFFFFF)  # an absurd captured length
    path = tmp_path / "bad.pcap"
    path.write_bytes(bytes(data))
    with pytest.raises(CaptureError) as whole:
        _frames(open_capture(str(path)))
    with pytest.raises(CaptureError) as part:
        _frames(open_pcap_range(str(path), "bad", starts[2000], None, 2000))
    assert str(part.value) == str(whole.value)
    assert f"byte {bad}" in str(part.value) and "record 3001" in str(part.value)
