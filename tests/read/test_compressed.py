"""Compressed captures: gzip, bzip2, xz and zstd, recognised by magic bytes, never by name."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from readcraft import BE, epb, frame, idb, pcap_header, pcap_record, shb

from vxlanlens.errors import CaptureError, TruncatedCaptureError
from vxlanlens.read import RecordBatch, open_capture
from vxlanlens.read import capture as capture_mod

zstandard = pytest.importorskip("zstandard")


def zstd_compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": zstd_compress,
}

PCAP = pcap_header() + b"".join(
    pcap_record(frame(i, 60 + i % 7), sec=1_700_000_000 + i, sub=i) for i in range(300)
)
PCAPNG = (
    shb(BE)
    + idb(1, e=BE, name="eth0", tsresol=9)
    + b"".join(
        epb(frame(i), ts=i, e=BE, comment=f"n{i}" if i % 50 == 0 else None) for i in range(300)
    )
)


def summary(batches: list[RecordBatch]) -> list[object]:
    """Everything the batches say, as plain values, independent of how they were chunked."""
    out: list[object] = []
    for b in batches:
        out.append(
            (
                [b.frame(i) for i in range(len(b))],
                b.ts_ns.tolist(),
                b.cap_len.tolist(),
                b.wire_len.tolist(),
                b.linktype.tolist(),
                b.frame_no.tolist(),
                b.interface.tolist(),
                {int(b.frame_no[k]): v for k, v in b.comments.items()},
                b.capture,
            )
        )
    return out


def read(path_or_file: object) -> tuple[list[object], list[str], str | None]:
    with open_capture(path_or_file, label="x") as cap:  # type: ignore[arg-type]
        return summary(list(cap.batches())), cap.warnings, cap.compression


@pytest.mark.parametrize("plain", [PCAP, PCAPNG], ids=["pcap", "pcapng"])
@pytest.mark.parametrize("name", list(COMPRESSORS))
def test_compressed_copies_give_the_same_batches(tmp_path: Path, name: str, plain: bytes) -> None:
    want, _, none = read(io.BytesIO(plain))
    assert none is None
    path = tmp_path / "capture.pcap"  # a misleading name: only the magic bytes count
    path.write_bytes(COMPRESSORS[name](plain))
    got, warnings, compression = read(path)
    assert compression == name
    assert warnings == []
    assert got == want
    with open_capture(path) as cap:
        assert cap.size == path.stat().st_size
        assert cap.label == "capture"
        for _ in cap.batches():
            pass
        assert cap.bytes_read == path.stat().st_size


def test_corpus_file_compressed(tmp_path: Path, public_dir: Path) -> None:
    src = public_dir / "pcapplusplus" / "many_interfaces-1.pcapng"
    want, _, _ = read(src)
    for name, comp in COMPRESSORS.items():
        path = tmp_path / f"many.pcapng.{name}"
        path.write_bytes(comp(src.read_bytes()))
        got, warnings, compression = read(path)
        assert (got, warnings, compression) == (want, [], name)


def test_concatenated_gzip_members() -> None:
    half = len(pcap_header()) + 76 * 100
    data = gzip.compress(PCAP[:half]) + gzip.compress(PCAP[half:])
    assert read(io.BytesIO(data))[0] == read(io.BytesIO(PCAP))[0]


def test_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture_mod, "CHUNK_SIZE", 333)
    want = read(io.BytesIO(PCAP))[0]
    got = read(io.BytesIO(gzip.compress(PCAP)))[0]
    assert [r[0] for r in got] == [r[0] for r in want]  # type: ignore[index]


@pytest.mark.parametrize("name", list(COMPRESSORS))
def test_truncated_compressed_file_keeps_records_and_warns(name: str) -> None:
    packed = COMPRESSORS[name](PCAP)
    full = np.concatenate([np.array(r[1]) for r in read(io.BytesIO(PCAP))[0]])  # type: ignore[index]
    for cut in sorted({len(packed) // 3, len(packed) // 2, len(packed) - 5, len(packed) - 1}):
        try:
            got, warnings, _ = read(io.BytesIO(packed[:cut]))
        except TruncatedCaptureError as exc:
            assert "truncated" in str(exc)
            continue
        ts = [t for r in got for t in r[1]]  # type: ignore[index]
        assert ts == full[: len(ts)].tolist()
        assert any(f"the {name} stream ends before its end-of-stream marker" in w for w in warnings)


@pytest.mark.parametrize("name", ["gzip", "bzip2", "xz", "zstd"])
def test_corrupt_compressed_data_is_a_capture_error(name: str) -> None:
    packed = bytearray(COMPRESSORS[name](PCAP))
    mid = len(packed) // 2
    packed[mid : mid + 8] = bytes(b ^ 0x5A for b in packed[mid : mid + 8])
    with pytest.raises(CaptureError, match=f"the {name} data cannot be read"):
        read(io.BytesIO(bytes(packed)))


def test_compressed_garbage_names_the_compression() -> None:
    with pytest.raises(CaptureError, match=r"not a pcap or pcapng capture \(gzip-compressed\)"):
        read(io.BytesIO(gzip.compress(b"hello world, no capture here")))
    with pytest.raises(CaptureError, match=r"the xz data decompresses to nothing"):
        read(io.BytesIO(lzma.compress(b"")))


def test_zstd_without_a_module_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # "import zstandard" now fails
    monkeypatch.setitem(sys.modules, "compression", None)  # and so does compression.zstd
    with pytest.raises(CaptureError, match=r"zstd-compressed .*'zstandard' package.*pip install"):
        read(io.BytesIO(zstd_compress(PCAP)))


@pytest.mark.parametrize("name", list(COMPRESSORS))
def test_trailing_garbage_keeps_the_data_and_warns(name: str) -> None:
    want = read(io.BytesIO(PCAP))[0]
    packed = COMPRESSORS[name](PCAP)
    got, warnings, _ = read(io.BytesIO(packed + b"GARBAGE!" * 3))
    assert got == want
    assert [w for w in warnings if "trailing garbage" in w] == [
        f"-: byte {len(packed)}: the {name} data is followed by 24 byte(s) that are not "
        f"{name} data (trailing garbage); the data before them is kept"
    ]


@pytest.mark.parametrize("name", list(COMPRESSORS))
def test_zero_padding_between_and_after_streams(name: str) -> None:
    half = len(pcap_header()) + 76 * 100
    pack = COMPRESSORS[name]
    data = pack(PCAP[:half]) + bytes(8) + pack(PCAP[half:]) + bytes(512)
    got, warnings, _ = read(io.BytesIO(data))
    assert got == read(io.BytesIO(PCAP))[0] and warnings == []


def test_zstd_skippable_frames_are_skipped_also_first() -> None:
    skip = b"\x50\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"hello"
    half = len(pcap_header()) + 76 * 100
    data = skip + zstd_compress(PCAP[:half]) + skip + zstd_compress(PCAP[half:])
    got, warnings, compression = read(io.BytesIO(data))
    assert compression == "zstd" and warnings == []
    assert got == read(io.BytesIO(PCAP))[0]
    with pytest.raises(TruncatedCaptureError):
        read(io.BytesIO(skip[:-2]))


def test_records_per_compressed_byte_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # empty records compress ~1000:1; a real capture never comes near 8 records per byte
    empty = pcap_record(b"", sec=1_700_000_000, sub=0)
    bomb = gzip.compress(pcap_header() + empty * 300_000, 9)
    with pytest.raises(CaptureError, match="decompression bomb") as ei:
        read(io.BytesIO(bomb))
    assert "\n" not in str(ei.value)
    monkeypatch.setattr(capture_mod, "MAX_RECORDS_PER_COMPRESSED_BYTE", 10**9)
    assert sum(len(r[1]) for r in read(io.BytesIO(bomb))[0]) == 300_000  # type: ignore[arg-type,misc]


def test_plain_captures_have_no_record_ratio_limit() -> None:
    empty = pcap_record(b"", sec=1_700_000_000, sub=0)
    got = read(io.BytesIO(pcap_header() + empty * 70_000))[0]
    assert sum(len(r[1]) for r in got) == 70_000  # type: ignore[arg-type,misc]
