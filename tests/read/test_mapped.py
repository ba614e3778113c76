"""Uncompressed classic pcap files on disk are mapped, not read: same records, same warnings,
chunk boundaries anywhere."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from readcraft import frame, pcap_header, pcap_record

from vxlanlens.read import CaptureReader
from vxlanlens.read._source import open_source


def _pcap(count: int, tail: bytes = b"") -> bytes:
    records = b"".join(
        pcap_record(frame(i, 60 + (i * 37) % 900), sec=1_700_000_000 + i, sub=i)
        for i in range(count)
    )
    return pcap_header() + records + tail


def _records(reader: CaptureReader) -> list[tuple[int, int, bytes]]:
    out = []
    with reader:
        for batch in reader.batches(max_frames=7):
            for k in range(len(batch)):
                o, c = int(batch.offsets[k]), int(batch.cap_len[k])
                out.append(
                    (int(batch.frame_no[k]), int(batch.ts_ns[k]), bytes(batch.data[o : o + c]))
                )
    return out


def _reader(source: object, chunk: int | None) -> CaptureReader:
    src, size = open_source(source)  # type: ignore[arg-type]
    return CaptureReader(src, size, "x", chunk)


@pytest.mark.parametrize("chunk", [1, 17, 100, 4096, None])
@pytest.mark.parametrize(
    "tail", [b"", b"\x01\x02\x03", pcap_record(frame(1, 80), sec=1, sub=0)[:40]]
)
def test_mapped_file_reads_like_a_stream(tmp_path: Path, chunk: int | None, tail: bytes) -> None:
    data = _pcap(300, tail)
    path = tmp_path / "x.pcap"
    path.write_bytes(data)
    mapped = _reader(str(path), chunk)
    assert mapped._map is not None  # the file is mapped, not read
    streamed = _reader(io.BytesIO(data), chunk)
    assert streamed._map is None
    assert _records(mapped) == _records(streamed)
    # the same warnings, naming the file instead of "-"
    assert mapped.warnings == [w.replace("-: ", f"{path}: ", 1) for w in streamed.warnings]
    assert mapped.bytes_read == len(data)
    assert mapped.ended_cleanly == (tail == b"")


def test_mapped_batches_are_read_only_views(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(_pcap(50))
    with _reader(str(path), None) as reader:
        batch = next(reader.batches())
        assert isinstance(batch.data, np.ndarray) and not batch.data.flags.writeable


def test_compressed_and_pcapng_files_are_not_mapped(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "x.pcap.gz"
    path.write_bytes(gzip.compress(_pcap(20)))
    with _reader(str(path), None) as reader:
        assert reader._map is None
        assert sum(len(b) for b in reader.batches()) == 20
