"""Streaming the packets table: the same rows as `read`, in batches, with memory that stays flat."""

from __future__ import annotations

import gzip
import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from testpaths import CAPTURES, ROOT

import vxlanlens
from vxlanlens.stream import exact_times, iter_batches, write_stream

FILES = sorted(str(p) for p in CAPTURES.glob("*/*.pcap*"))


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def test_batches_concatenate_to_the_table() -> None:
    cap = vxlanlens.read(FILES)
    whole = cap.packets
    stream = iter_batches(FILES, batch_frames=5)
    parts = list(stream)
    assert max(len(p) for p in parts) <= 5
    got = pd.concat([_as_text(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(got, _as_text(whole))
    assert stream.frames == len(whole)
    assert [(s.label, s.frames) for s in stream.sources] == [
        (s.label, s.frames) for s in cap.sources
    ]
    assert sum(s.frames for s in stream.sources) == len(whole)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_text_exports_equal_the_whole_table(fmt: str) -> None:
    whole = vxlanlens.read(FILES).packets
    want = io.StringIO()
    if fmt == "csv":
        exact_times(whole, fmt).to_csv(want, index=False)
    else:
        exact_times(whole, fmt).to_json(
            want, orient="records", lines=True, date_format="iso", date_unit="ns"
        )
    got = io.StringIO()
    assert write_stream(iter_batches(FILES, batch_frames=9), fmt, got) == len(whole)
    assert got.getvalue() == want.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_text_exports_keep_every_nanosecond(fmt: str) -> None:
    """Times to the nanosecond in every row and batch (pandas alone cuts them in JSON and
    writes CSV to the precision each batch needs): one fixed form, equal to ``ts_ns``."""
    path = CAPTURES / "real-ping-stopped" / "dumpcap-c5.pcapng"  # if_tsresol 9
    whole = vxlanlens.read([str(path)]).packets
    assert (whole["ts_ns"] % 1000 != 0).any()
    got = io.StringIO()
    write_stream(iter_batches([str(path)], batch_frames=2), fmt, got)
    if fmt == "csv":
        texts = pd.read_csv(io.StringIO(got.getvalue()), dtype=str)["ts"].tolist()
        assert all(t.endswith("+00:00") and len(t) == 35 for t in texts)
    else:
        texts = [json.loads(line)["ts"] for line in got.getvalue().splitlines()]
        assert all(t.endswith("Z") and len(t) == 30 for t in texts)
    assert [pd.Timestamp(t).value for t in texts] == whole["ts_ns"].tolist()


def test_parquet_keeps_the_dtypes() -> None:
    pytest.importorskip("pyarrow")
    whole = vxlanlens.read(FILES).packets
    buf = io.BytesIO()
    write_stream(iter_batches(FILES, batch_frames=11), "parquet", buf, columns=None)
    back = pd.read_parquet(io.BytesIO(buf.getvalue()))
    assert list(back.columns) == list(whole.columns)
    for c in whole.columns:
        assert str(back[c].dtype) == str(whole[c].dtype) or (
            isinstance(whole[c].dtype, pd.CategoricalDtype)
            and isinstance(back[c].dtype, pd.CategoricalDtype)
        ), c
    pd.testing.assert_frame_equal(_as_text(back), _as_text(whole))


def test_empty_capture_gives_a_header(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    out = io.StringIO()
    assert write_stream(iter_batches(str(empty)), "csv", out, columns=["capture", "frame_no"]) == 0
    assert out.getvalue().strip() == "capture,frame_no"


# The CLI as a user runs it, under an address-space limit: a table built whole would need
# several GiB here (over 200 bytes a frame), so only a stream can finish.
_LIMITED = """
import resource, runpy, sys
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = ["vxlanlens", *sys.argv[1:]]
try:
    runpy.run_module("vxlanlens", run_name="__main__")
finally:
    print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, file=sys.stderr)
"""

_BASELINE = """
import resource
import pandas, pyarrow.parquet, vxlanlens.stream, vxlanlens.cli  # noqa: F401 - what the CLI imports
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""

AS_LIMIT = 1024 * 2**20


@pytest.mark.slow
def test_streaming_memory_stays_flat(tmp_path: Path) -> None:
    """20 million frames (an 8 MB gzip) stream to Parquet under a 1 GiB address-space limit."""
    pytest.importorskip("pyarrow")
    per_member, members = 10_000, 2_000
    frames = per_member * members
    frame = bytes.fromhex("ffffffffffff02000000000108060001080006040001" + "00" * 20)
    rec = struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    path = tmp_path / "many.pcap.gz"
    with path.open("wb") as fh:  # a multi-member gzip: each member compressed once
        fh.write(gzip.compress(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1), 1))
        member = gzip.compress(rec * per_member, 1)
        for _ in range(members):
            fh.write(member)
    out = tmp_path / "many.parquet"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _LIMITED,
            str(AS_LIMIT),
            "packets",
            str(path),
            *("-f", "parquet"),
            *("-o", str(out)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    peak = int(run.stderr.split("peak ")[-1])
    base = int(
        subprocess.run(
            [sys.executable, "-c", _BASELINE], capture_output=True, text=True, check=True
        ).stdout
    )
    # within a few batches of the interpreter's own footprint (the table would be > 4 GB)
    assert peak - base < 250 * 2**20, (peak, base)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(out).metadata.num_rows == frames
    meta = json.loads(pq.read_schema(out).metadata[b"pandas"].decode())
    assert [c["name"] for c in meta["columns"]] == list(vxlanlens.COLUMN_NAMES)
