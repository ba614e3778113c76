"""Reading one pcapng file with several processes gives exactly what one process gives, and
the file really is read in parts (block boundaries found, interfaces carried to every part)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from craft import BE, LE, epb, idb, isb, shb, shipped_frames, spb
from testpaths import CAPTURES, public_files

import vxlanlens
from vxlanlens import parallel
from vxlanlens.read.split import file_layout, guess_cuts

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture(autouse=True)
def small_files_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split files of any size, so that small test files take the parallel path."""
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)


def write_big_pcapng(
    path: Path, count: int, e: str = LE, insert: dict[int, bytes] | None = None
) -> Path:
    """A pcapng file of ``count`` shipped frames on two interfaces (microsecond and nanosecond
    resolution), a comment on every 97th, and ``insert[i]`` blocks written before frame i."""
    frames = shipped_frames()
    parts = [
        shb(e),
        idb(1, 262144, e=e, name="eth0"),
        idb(1, 262144, e=e, name="cilium_vxlan", tsresol=9),
    ]
    t_us = 1_720_770_268_594_775
    for i in range(count):
        if insert and i in insert:
            parts.append(insert[i])
        iface = i % 2
        ts = t_us + i * 1000 if iface == 0 else (t_us + i * 1000) * 1000
        comment = f"frame {i}" if i % 97 == 0 else None
        parts.append(epb(frames[i % len(frames)], iface=iface, ts=ts, e=e, comment=comment))
    path.write_bytes(b"".join(parts))
    return path


def _read_spied(path: Path, workers: int) -> tuple[vxlanlens.Capture, list[object]]:
    seen: list[object] = []
    real = parallel.read_split

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        seen.append(result)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("vxlanlens.capture.read_split", spy)
        cap = vxlanlens.read([f"big={path}"], workers=workers, batch_frames=500)
    return cap, seen


def _same(a: vxlanlens.Capture, b: vxlanlens.Capture) -> None:
    pd.testing.assert_frame_equal(a.packets, b.packets)
    assert a.warnings == b.warnings
    assert [(s.frames, s.format, s.interfaces) for s in a.sources] == [
        (s.frames, s.format, s.interfaces) for s in b.sources
    ]


@pytest.mark.parametrize("e", [LE, BE])
@pytest.mark.parametrize("workers", [2, 3])
def test_same_table_as_one_process(tmp_path: Path, e: str, workers: int) -> None:
    path = write_big_pcapng(tmp_path / "big.pcapng", 4000, e)
    layout = file_layout(str(path))
    assert layout is not None and layout.format == "pcapng" and layout.interfaces == 2
    serial = vxlanlens.read([f"big={path}"], workers=1, batch_frames=500)
    cap, seen = _read_spied(path, workers)
    _same(cap, serial)
    assert seen and seen[0] is not None
    result = seen[0]
    assert result.format == "pcapng"  # type: ignore[attr-defined]
    assert result.parts == workers  # type: ignore[attr-defined]
    assert result.parts_used == workers - 1  # type: ignore[attr-defined]
    assert cap.packets["frame_no"].tolist() == list(range(1, 4001))
    assert set(cap.packets["interface"].astype(str)) == {"eth0", "cilium_vxlan"}
    assert cap.packets["comment"].notna().sum() == len(range(0, 4000, 97))


@pytest.mark.parametrize("workers", [2, 3])
def test_statistics_blocks_of_every_part_are_kept(tmp_path: Path, workers: int) -> None:
    """Interface Statistics Blocks in the middle (read by one process) and at the end (read
    by another): the stop times and drop counts one process reads."""
    t_us = 1_720_770_268_594_775
    mid = isb(0, end=t_us + 5_000, ifdrop=2)
    path = write_big_pcapng(tmp_path / "big.pcapng", 4000, insert={1500: mid})
    with path.open("ab") as fh:  # dumpcap's blocks when it stops, one per interface
        fh.write(isb(0, end=t_us + 9_000_000, ifdrop=5, osdrop=1))
        fh.write(isb(1, end=(t_us + 9_500_000) * 1000))
    serial = vxlanlens.read([f"big={path}"], workers=1, batch_frames=500)
    cap, seen = _read_spied(path, workers)
    _same(cap, serial)
    assert seen and seen[0] is not None and seen[0].parts_used == workers - 1  # type: ignore[attr-defined]
    eth0, vxlan = cap.sources[0].interfaces
    assert (eth0.stopped_ns, eth0.dropped) == ((t_us + 9_000_000) * 1000, 6)
    assert (vxlan.stopped_ns, vxlan.dropped) == ((t_us + 9_500_000) * 1000, None)


def test_guesses_are_packet_block_starts(tmp_path: Path) -> None:
    path = write_big_pcapng(tmp_path / "big.pcapng", 3000)
    layout = file_layout(str(path))
    assert layout is not None
    data = path.read_bytes()
    starts, pos = set(), layout.prefix
    while pos < len(data):
        starts.add(pos)
        pos += int.from_bytes(data[pos + 4 : pos + 8], "little")
    cuts = guess_cuts(str(path), layout, 4)
    assert len(cuts) == 3 and set(cuts) <= starts and cuts == sorted(cuts)


@pytest.mark.parametrize(
    "insert",
    [
        pytest.param({2500: idb(1, 0, name="late0")}, id="late-interface"),
        pytest.param({2500: shb(BE) + idb(1, 0, e=BE, name="s2")}, id="second-section"),
        pytest.param({2500: spb(b"\x00" * 60)}, id="simple-packet-block"),
    ],
)
def test_a_changed_state_in_a_part_falls_back(tmp_path: Path, insert: dict[int, bytes]) -> None:
    """A block that changes how later blocks read (a new interface or section, a Simple Packet
    Block) makes the parts after it unusable: the table is still the one-process table."""
    if 2500 in insert and insert[2500].startswith(b"\x0a\x0d\x0d\x0a"):
        # After a big-endian section, the rest of the frames are big-endian EPBs on interface 0.
        path = tmp_path / "two.pcapng"
        first = write_big_pcapng(tmp_path / "a.pcapng", 2500).read_bytes()
        frames = shipped_frames()
        rest = b"".join(epb(frames[i % len(frames)], ts=i, e=BE) for i in range(2500))
        path.write_bytes(first + insert[2500] + rest)
    else:
        path = write_big_pcapng(tmp_path / "x.pcapng", 5000, insert=insert)
    serial = vxlanlens.read([f"big={path}"], workers=1, batch_frames=500)
    for workers in (2, 3):
        cap, seen = _read_spied(path, workers)
        _same(cap, serial)
        assert seen


def _pcapng_corpus() -> list[Path]:
    shipped = sorted(CAPTURES.glob("**/*.pcapng"))
    return shipped + public_files("**/*.pcapng", "**/*.pcapng.gz", "**/*.ntar")


@pytest.mark.corpus
@pytest.mark.parametrize("path", _pcapng_corpus(), ids=lambda p: p.name)
def test_corpus_pcapng_same_as_one_process(path: Path) -> None:
    def outcome(workers: int) -> object:
        try:
            return vxlanlens.read([str(path)], workers=workers, batch_frames=64)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    one, two = outcome(1), outcome(2)
    if isinstance(one, str) or isinstance(two, str):
        assert one == two
    else:
        _same(two, one)  # type: ignore[arg-type]
