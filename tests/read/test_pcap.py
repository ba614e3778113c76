"""Classic pcap: the four magic variants, header checks, record checks, truncation."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from readcraft import BE, LE, PCAP_MAGIC_NS, PCAP_MAGIC_US, frame, pcap_header, pcap_record

from vxlanlens.errors import CaptureError, TruncatedCaptureError, VxlanlensError
from vxlanlens.read import RecordBatch, open_capture
from vxlanlens.read import capture as capture_mod


def read_all(data: bytes, **kw: object) -> tuple[list[RecordBatch], list[str]]:
    with open_capture(io.BytesIO(data), **kw) as cap:  # type: ignore[arg-type]
        batches = list(cap.batches())
        return batches, list(cap.warnings)


def concat(batches: list[RecordBatch]) -> dict[str, object]:
    """All records of the batches as Python lists (frames as bytes)."""
    out: dict[str, list[object]] = {
        k: [] for k in ("frame", "ts_ns", "cap_len", "wire_len", "frame_no", "linktype", "iface")
    }
    for b in batches:
        out["frame"].extend(b.frame(i) for i in range(len(b)))
        out["ts_ns"].extend(b.ts_ns.tolist())
        out["cap_len"].extend(b.cap_len.tolist())
        out["wire_len"].extend(b.wire_len.tolist())
        out["frame_no"].extend(b.frame_no.tolist())
        out["linktype"].extend(b.linktype.tolist())
        out["iface"].extend(b.interface.tolist())
    return out  # type: ignore[return-value]


def three_records(e: str, magic: int) -> bytes:
    """A file header and three records of 60, 61 and 62 bytes."""
    sub = [1, 999_999, 500] if magic == PCAP_MAGIC_US else [1, 999_999_999, 500]
    return pcap_header(e=e, magic=magic, linktype=113) + b"".join(
        pcap_record(frame(i, 60 + i), sec=1_700_000_000 + i, sub=sub[i], e=e) for i in range(3)
    )


@pytest.mark.parametrize(
    ("e", "magic", "first4"),
    [
        (LE, PCAP_MAGIC_US, "d4c3b2a1"),
        (BE, PCAP_MAGIC_US, "a1b2c3d4"),
        (LE, PCAP_MAGIC_NS, "4d3cb2a1"),
        (BE, PCAP_MAGIC_NS, "a1b23c4d"),
    ],
)
def test_four_magic_variants(e: str, magic: int, first4: str) -> None:
    data = three_records(e, magic)
    assert data[:4].hex() == first4
    batches, warnings = read_all(data)
    got = concat(batches)
    assert warnings == []
    assert got["frame"] == [frame(i, 60 + i) for i in range(3)]
    assert got["cap_len"] == [60, 61, 62] == got["wire_len"]
    assert got["frame_no"] == [1, 2, 3]
    assert got["linktype"] == [113] * 3
    assert got["iface"] == [-1] * 3
    if magic == PCAP_MAGIC_US:
        assert got["ts_ns"] == [
            1_700_000_000_000_001_000,
            1_700_000_001_999_999_000,
            1_700_000_002_000_500_000,
        ]
    else:
        assert got["ts_ns"] == [
            1_700_000_000_000_000_001,
            1_700_000_001_999_999_999,
            1_700_000_002_000_000_500,
        ]
    with open_capture(io.BytesIO(data)) as cap:
        assert cap.format == "pcap"
        assert cap.interfaces[0].linktype == 113
        assert cap.interfaces[0].snaplen == 65535


def test_big_seconds_are_unsigned() -> None:
    """ts_sec is unsigned: 2**32 - 1 is the year 2106, not 1969."""
    data = pcap_header() + pcap_record(frame(0), sec=0xFFFFFFFF, sub=0)
    (b,), _ = read_all(data)
    assert int(b.ts_ns[0]) == 0xFFFFFFFF * 10**9


def test_invalid_subsecond_kept_arithmetically() -> None:
    """A sub-second field >= 10**9 ns keeps the record; ts is sec*1e9 + nsec (unsigned)."""
    data = pcap_header(magic=PCAP_MAGIC_NS) + b"".join(
        [
            pcap_record(frame(0), sec=100, sub=1_000_000_000),
            pcap_record(frame(1), sec=100, sub=0xFFFFFFFF),
        ]
    )
    (b,), warnings = read_all(data)
    assert warnings == []
    assert b.ts_ns.tolist() == [101 * 10**9, 100 * 10**9 + 0xFFFFFFFF]


def test_version_other_than_2_4_rejected() -> None:
    with pytest.raises(CaptureError, match=r"byte 4: unsupported pcap savefile version 2\.3"):
        read_all(pcap_header(version=(2, 3)))


def test_reserved_linktype_bits_rejected() -> None:
    with pytest.raises(CaptureError, match=r"byte 20: .*reserved bits set \(0x00300000\)"):
        read_all(pcap_header(linktype=0x00300001))


def test_fcs_bits_give_the_linktype_and_a_warning() -> None:
    """Bit 26 = FCS present, bits 28-31 = FCS length in 16-bit words (libpcap's LT_FCS_*)."""
    field = 1 | 0x04000000 | (2 << 28)  # Ethernet with a 4-byte FCS
    data = pcap_header(linktype=field) + pcap_record(frame(0, 64), sec=1, sub=0)
    (b,), warnings = read_all(data)
    assert b.linktype.tolist() == [1]
    assert len(warnings) == 1 and "4-byte FCS" in warnings[0]


def test_caplen_larger_than_wire_len_rejected() -> None:
    data = (
        pcap_header()
        + pcap_record(frame(0), sec=1, sub=0)
        + pcap_record(frame(1, 80), sec=1, sub=0, wire_len=70)
    )
    with pytest.raises(
        CaptureError, match=r"byte 100: record 2 claims 80 captured bytes but only 70"
    ):
        read_all(data)


def test_absurd_caplen_rejected_before_reading_it() -> None:
    rec = struct.pack("<IIII", 1, 0, 0x7FFFFFF0, 0x7FFFFFF0)  # 2 GiB "record"
    with pytest.raises(CaptureError, match=r"byte 24: record 1 claims 2147483632 captured bytes"):
        read_all(pcap_header(snaplen=65535) + rec + b"\x00" * 100)


def test_caplen_beyond_snaplen_but_sane_is_kept() -> None:
    """Like Zeek's trunc-hdr.pcap (snaplen 1, caplen 8): believe the record, not the header."""
    data = pcap_header(snaplen=1) + pcap_record(frame(0, 8), sec=1, sub=0, wire_len=78)
    (b,), _ = read_all(data)
    assert b.cap_len.tolist() == [8] and b.wire_len.tolist() == [78]


def test_header_only_gives_no_records() -> None:
    batches, warnings = read_all(pcap_header())
    assert batches == [] and warnings == []


def test_truncated_file_header() -> None:
    with pytest.raises(TruncatedCaptureError, match=r"byte 10: file ends inside the 24-byte"):
        read_all(pcap_header()[:10])


def test_cut_inside_last_record_warns() -> None:
    data = three_records(LE, PCAP_MAGIC_US)
    cut = data[: 24 + 76 + 77 + 20]  # 20 of the third record's 78 bytes
    batches, warnings = read_all(cut)
    assert concat(batches)["frame_no"] == [1, 2]
    assert warnings == [
        "-: byte 177: file ends inside record 3 (20 of 78 bytes); the partial record is left out"
    ]


def test_every_truncation_gives_records_and_warning_or_capture_error() -> None:
    data = three_records(BE, PCAP_MAGIC_NS)
    full = concat(read_all(data)[0])
    ends = {24, 24 + 76, 24 + 76 + 77, len(data)}  # record boundaries
    for cut in range(len(data) + 1):
        try:
            batches, warnings = read_all(data[:cut])
        except CaptureError:
            assert cut < 24, cut  # only a cut inside the file header may fail
            continue
        got = concat(batches)
        n = len(got["frame"])
        assert got["frame"] == full["frame"][:n], cut
        assert got["ts_ns"] == full["ts_ns"][:n], cut
        if cut in ends:
            assert warnings == [], cut
        else:
            assert len(warnings) == 1 and "file ends inside" in warnings[0], cut


def test_records_across_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny read chunks: records straddle chunk ends; the result is the same."""
    data = pcap_header() + b"".join(
        pcap_record(frame(i, 40 + 7 * i), sec=i, sub=i) for i in range(40)
    )
    want = concat(read_all(data)[0])
    for chunk in (1, 5, 16, 17, 100, 1000):
        monkeypatch.setattr(capture_mod, "CHUNK_SIZE", chunk)
        monkeypatch.setattr(capture_mod, "_HEAD_SIZE", 1)
        batches, warnings = read_all(data)
        assert concat(batches) == want, chunk
        assert warnings == []


def test_max_frames_cuts_batches_and_numbers_frames() -> None:
    data = pcap_header() + b"".join(pcap_record(frame(i), sec=i, sub=0) for i in range(10))
    with open_capture(io.BytesIO(data)) as cap:
        batches = list(cap.batches(max_frames=3))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert np.concatenate([b.frame_no for b in batches]).tolist() == list(range(1, 11))
    assert batches[3].frame(0) == frame(9)


def test_record_bigger_than_a_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture_mod, "CHUNK_SIZE", 4096)
    big = bytes(range(256)) * 1000  # 256,000 bytes, far more than a chunk
    data = (
        pcap_header(snaplen=262144)
        + pcap_record(big, sec=1, sub=2)
        + pcap_record(frame(1), sec=1, sub=3)
    )
    batches, warnings = read_all(data)
    got = concat(batches)
    assert got["frame"] == [big, frame(1)] and warnings == []


def test_libpcap_bad_version_rejected(public_dir: Path) -> None:
    with pytest.raises(CaptureError) as info:
        open_capture(public_dir / "libpcap" / "pcap-invalid-version-1.pcap")
    msg = str(info.value)
    assert "pcap-invalid-version-1.pcap: byte 4:" in msg
    assert "unsupported pcap savefile version 1.4" in msg and "expected version 2.4" in msg


def test_libpcap_reserved_field_rejected(public_dir: Path) -> None:
    with pytest.raises(CaptureError) as info:
        open_capture(public_dir / "libpcap" / "linktype-reserved-field-not-zero.pcap")
    msg = str(info.value)
    assert "byte 20:" in msg and "reserved" in msg and "0x00300000" in msg
    assert not isinstance(info.value, TruncatedCaptureError)


def test_errors_are_project_errors() -> None:
    assert issubclass(CaptureError, VxlanlensError)
