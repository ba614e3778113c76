"""pcapng: sections, interfaces, packet blocks, options, structural checks, truncation."""

from __future__ import annotations

import io
import re
import struct
import subprocess
from pathlib import Path

import pytest
from readcraft import BE, LE, block, epb, frame, idb, isb, options, pb, shb, spb
from testpaths import public_files

from vxlanlens.errors import CaptureError, TruncatedCaptureError
from vxlanlens.read import RecordBatch, open_capture


def read_all(data: bytes) -> tuple[list[RecordBatch], list[str], list[object]]:
    with open_capture(io.BytesIO(data)) as cap:
        batches = list(cap.batches())
        return batches, list(cap.warnings), list(cap.interfaces)


def rows(batches: list[RecordBatch]) -> list[tuple[object, ...]]:
    """(frame_no, ts_ns, interface, linktype, cap_len, wire_len, bytes, comment) per record."""
    out: list[tuple[object, ...]] = []
    for b in batches:
        for i in range(len(b)):
            out.append(
                (
                    int(b.frame_no[i]),
                    int(b.ts_ns[i]),
                    int(b.interface[i]),
                    int(b.linktype[i]),
                    int(b.cap_len[i]),
                    int(b.wire_len[i]),
                    b.frame(i),
                    b.comments.get(i),
                )
            )
    return out


@pytest.mark.parametrize("e", [LE, BE])
def test_basic_section(e: str) -> None:
    data = (
        shb(e)
        + idb(1, 262144, e=e, name="eth0", description="uplink")  # µs by default
        + epb(frame(1), ts=1_700_000_000_123_456, e=e, comment="first")
        + epb(frame(2, 61), ts=1_700_000_001_000_000, e=e, wire_len=1500)
    )
    assert data[:4] == b"\x0a\x0d\x0d\x0a"
    batches, warnings, ifaces = read_all(data)
    assert warnings == []
    assert rows(batches) == [
        (1, 1_700_000_000_123_456_000, 0, 1, 60, 60, frame(1), "first"),
        (2, 1_700_000_001_000_000_000, 0, 1, 61, 1500, frame(2, 61), None),
    ]
    (i0,) = ifaces
    assert (i0.index, i0.linktype, i0.name, i0.description, i0.snaplen) == (
        0,
        1,
        "eth0",
        "uplink",
        262144,
    )
    assert batches[0].interfaces == (i0,)


def test_sections_switch_byte_order_and_interfaces_are_numbered_across_sections() -> None:
    data = (
        shb(LE)
        + idb(1, e=LE, name="a")
        + idb(113, e=LE, name="b")
        + epb(frame(1), iface=1, ts=1, e=LE)
        + shb(BE)  # new section: local interface numbers start again at 0
        + idb(276, e=BE, name="c")
        + epb(frame(2), iface=0, ts=2, e=BE)
        + shb(LE)
        + idb(101, e=LE, name="d")
        + epb(frame(3), iface=0, ts=3, e=LE)
    )
    batches, warnings, ifaces = read_all(data)
    assert warnings == []
    assert [r[2:4] for r in rows(batches)] == [(1, 113), (2, 276), (3, 101)]
    assert [i.name for i in ifaces] == ["a", "b", "c", "d"]  # type: ignore[attr-defined]
    assert [r[1] for r in rows(batches)] == [1000, 2000, 3000]


def test_each_interface_carries_the_application_of_its_section() -> None:
    """shb_userappl (option 4) of a section is the ``application`` of its interfaces; a section
    without it gives ``None``; a value cut at a NUL as C writers add."""
    data = (
        shb(LE, opts=options([(2, b"x86_64"), (4, b"gopacket")], LE))
        + idb(1, 65536, e=LE, name="intf0")
        + epb(frame(1), iface=0, ts=1, e=LE)
        + shb(BE)
        + idb(1, e=BE, name="eth0")
        + epb(frame(2), iface=0, ts=2, e=BE)
        + shb(LE, opts=options([(4, b"Dumpcap (Wireshark) 4.0.11\x00")], LE))
        + idb(276, e=LE)
        + epb(frame(3), iface=0, ts=3, e=LE)
    )
    batches, warnings, ifaces = read_all(data)
    assert warnings == [] and len(rows(batches)) == 3
    assert [(i.application, i.snaplen) for i in ifaces] == [  # type: ignore[attr-defined]
        ("gopacket", 65536), (None, 0), ("Dumpcap (Wireshark) 4.0.11", 0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("tsresol", "tsoffset", "units", "want_ns"),
    [
        (None, None, 1_500_000, 1_500_000_000),  # default 10^-6
        (9, None, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789),  # 10^-9
        (3, None, 1_234, 1_234_000_000),  # 10^-3
        (12, None, 1_000_000_123_456_789_123, 1_000_000_123_456_789),  # ps: floor to ns
        (0x80 | 20, None, (1_700_000_000 << 20) + 12345, 1_700_000_000_011_773_109),  # 2^-20
        (0x80 | 0, None, 7, 7_000_000_000),  # 2^0: seconds
        (0x80 | 40, None, 3 << 39, 1_500_000_000),  # 2^-40
        (9, 1000, 5, 1000_000_000_005),  # if_tsoffset: seconds added
        (None, -10, 20_000_000, 10_000_000_000),  # negative offset
    ],
)
def test_timestamp_resolution_and_offset(
    tsresol: int | None, tsoffset: int | None, units: int, want_ns: int
) -> None:
    data = shb() + idb(1, tsresol=tsresol, tsoffset=tsoffset) + epb(frame(0), ts=units)
    batches, warnings, _ = read_all(data)
    assert warnings == []
    assert [r[1] for r in rows(batches)] == [want_ns]


def test_timestamps_beyond_2262_wrap_with_a_warning() -> None:
    """pcapng-example.pcapng has µs counts near 2**64: they read as small negative times."""
    data = shb() + idb(113) + epb(frame(0), ts=(1 << 64) - 1_000_000)
    batches, warnings, _ = read_all(data)
    assert [r[1] for r in rows(batches)] == [-1_000_000_000]
    assert len(warnings) == 1 and "year 2262" in warnings[0] and "wrap" in warnings[0]


def test_simple_packet_blocks() -> None:
    """SPB: no timestamp (the previous packet's is used), cap_len = min(len, IDB 0 snaplen)."""
    data = (
        shb()
        + idb(1, snaplen=64, name="x")
        + spb(frame(1, 40))  # shorter than the snaplen: all of it
        + epb(frame(2), ts=5_000_000)
        + spb(frame(3, 64), wire_len=1500)  # cut by the snaplen: 64 of 1500 bytes
    )
    batches, warnings, _ = read_all(data)
    assert rows(batches) == [
        (1, 0, 0, 1, 40, 40, frame(1, 40), None),
        (2, 5_000_000_000, 0, 1, 60, 60, frame(2), None),
        (3, 5_000_000_000, 0, 1, 64, 1500, frame(3, 64), None),
    ]
    assert len(warnings) == 1 and "2 Simple Packet Block(s) carry no timestamp" in warnings[0]


def test_simple_packet_block_without_interface_is_an_error() -> None:
    with pytest.raises(CaptureError, match=r"byte 28: Simple Packet Block .* without an Interface"):
        read_all(shb() + spb(frame(1)))


def test_obsolete_packet_block() -> None:
    data = shb() + idb(1) + idb(0, tsresol=9) + pb(frame(7), iface=1, ts=42)
    batches, warnings, _ = read_all(data)
    assert warnings == []
    assert rows(batches) == [(1, 42, 1, 0, 60, 60, frame(7), None)]


def test_other_blocks_are_skipped() -> None:
    nrb = block(4, struct.pack("<HH", 0, 0))  # Name Resolution Block: just nrb_record_end
    isb = block(5, struct.pack("<III", 0, 0, 0))  # Interface Statistics Block: iface, ts
    custom = block(0x00000BAD, struct.pack("<I", 32473) + b"custom data")  # Custom Block, PEN
    unknown = block(0x12345678, b"whatever")
    data = shb() + idb(1) + nrb + epb(frame(1)) + isb + custom + unknown + epb(frame(2))
    batches, warnings, _ = read_all(data)
    assert [r[6] for r in rows(batches)] == [frame(1), frame(2)]
    assert [r[0] for r in rows(batches)] == [1, 2]
    assert warnings == []


@pytest.mark.parametrize("e", [LE, BE])
def test_statistics_blocks_say_when_capturing_stopped_and_what_was_dropped(e: str) -> None:
    """isb_endtime in the interface's resolution (the latest of several blocks), isb_ifdrop
    plus isb_osdrop of the last block that has them; an interface without a block: None."""
    data = (
        shb(e)
        + idb(1, e=e, name="eth0")
        + idb(1, e=e, name="eth1", tsresol=9)
        + epb(frame(1), ts=5_000_000, e=e)
        + isb(0, e=e, ts=6_000_000, end=6_000_000, ifdrop=1)
        + epb(frame(2), ts=7_000_000, e=e)
        + isb(0, e=e, ts=8_000_000, start=1, end=8_500_000, ifdrop=3, osdrop=4)
        + isb(0, e=e, end=2_000_000)  # an earlier end: the latest is kept
    )
    batches, warnings, ifaces = read_all(data)
    assert warnings == [] and len(rows(batches)) == 2
    eth0, eth1 = ifaces
    assert eth0.stopped_ns == 8_500_000_000 and eth0.dropped == 7  # µs units to ns
    assert eth1.stopped_ns is None and eth1.dropped is None
    ns = read_all(shb(e) + idb(1, e=e, tsresol=9) + isb(0, e=e, end=123_456_789_012))[2]
    assert ns[0].stopped_ns == 123_456_789_012


def test_statistics_times_in_microseconds_whatever_the_resolution() -> None:
    """dumpcap (Wireshark 4.0) writes if_tsresol 9 and its statistics block's times in
    microseconds: read as nanoseconds they would fall in January 1970, so they are read as
    microseconds; a nanosecond time after 1990 is read as the format says."""
    end_us = 1_796_546_158_540_409  # 2026-12-06, as dumpcap wrote it
    data = shb() + idb(1, tsresol=9) + epb(frame(1), ts=end_us * 1000 - 5) + isb(0, end=end_us)
    assert read_all(data)[2][0].stopped_ns == end_us * 1000
    data = shb() + idb(1, tsresol=9) + isb(0, end=end_us * 1000 + 7)
    assert read_all(data)[2][0].stopped_ns == end_us * 1000 + 7


def test_a_bad_statistics_block_is_left_out_with_a_warning() -> None:
    """No packet is in it: a block naming no interface of its section, or with broken
    options, is left out (a warning names the byte), the packets are read."""
    broken = block(5, struct.pack("<III", 0, 0, 0) + struct.pack("<HH", 3, 200) + b"\0" * 8)
    data = shb() + idb(1) + epb(frame(1)) + isb(3, end=9) + broken + epb(frame(2))
    batches, warnings, ifaces = read_all(data)
    assert [r[0] for r in rows(batches)] == [1, 2]
    assert len(warnings) == 2
    assert "Interface Statistics Block names interface 3 but its section has 1" in warnings[0]
    assert "option 3" in warnings[1] and "left out" in warnings[1]
    assert all(re.search(r": byte \d+: ", w) for w in warnings)
    assert ifaces[0].stopped_ns is None


def test_several_comments_and_other_options() -> None:
    body = struct.pack("<IIIII", 0, 0, 0, 60, 60) + frame(1)
    opts = options(
        [(2, struct.pack("<I", 1)), (1, b"one"), (1, b"two\x00junk")]
    )  # flags, 2 x comment
    data = shb() + idb(1) + block(6, body + opts)
    batches, _, _ = read_all(data)
    assert rows(batches)[0][7] == "one\ntwo"


def test_comments_are_indexed_per_batch() -> None:
    data = shb() + idb(1) + b"".join(epb(frame(i), comment=f"c{i}") for i in range(5))
    with open_capture(io.BytesIO(data)) as cap:
        batches = list(cap.batches(max_frames=2))
    assert [b.comments for b in batches] == [{0: "c0", 1: "c1"}, {0: "c2", 1: "c3"}, {0: "c4"}]


# ---------------------------------------------------------------------------- corrupt files


def corrupt(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


GOOD = shb() + idb(1, name="eth0") + epb(frame(1)) + epb(frame(2))
SHB_LEN = len(shb())  # 28
IDB_LEN = len(idb(1, name="eth0"))  # 20 + option (4 + 4) + end (4) = 32
EPB1 = SHB_LEN + IDB_LEN  # offset of the first EPB


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (  # trailer of the second EPB says 100
            corrupt(GOOD, len(GOOD) - 4, struct.pack("<I", 100)),
            rf"byte {EPB1 + 92}: Enhanced Packet Block has block total length 92 in its header "
            rf"but 100 in its trailer",
        ),
        (  # IDB trailer
            corrupt(GOOD, EPB1 - 4, struct.pack("<I", 7)),
            rf"byte {SHB_LEN}: Interface Description Block has block total length {IDB_LEN} in "
            r"its header but 7",
        ),
        (  # block length not a multiple of 4
            corrupt(GOOD, EPB1 + 4, struct.pack("<I", 93)),
            rf"byte {EPB1}: Enhanced Packet Block has total length 93; expected a multiple of 4",
        ),
        (  # block length below the 12-byte minimum
            corrupt(GOOD, SHB_LEN + 4, struct.pack("<I", 8)),
            rf"byte {SHB_LEN}: Interface Description Block has total length 8; expected a "
            r"multiple of 4 and at least 20",
        ),
        (  # if_name option length runs past the block
            corrupt(GOOD, SHB_LEN + 18, struct.pack("<H", 200)),
            rf"byte {SHB_LEN}: option 2 at byte {SHB_LEN + 16} of the Interface Description "
            r"Block has length 200, which runs past the end",
        ),
        (  # EPB captured length larger than the block
            corrupt(GOOD, EPB1 + 20, struct.pack("<II", 61, 100)),
            rf"byte {EPB1}: Enhanced Packet Block \(record 1\) claims 61 captured bytes, which "
            r"do not fit",
        ),
        (  # EPB captured length larger than the original length
            corrupt(GOOD, EPB1 + 24, struct.pack("<I", 59)),
            rf"byte {EPB1}: Enhanced Packet Block \(record 1\) claims 60 captured bytes but "
            r"only 59 bytes on the wire",
        ),
        (  # EPB on an interface the section never described
            corrupt(GOOD, EPB1 + 8, struct.pack("<I", 3)),
            rf"byte {EPB1}: Enhanced Packet Block \(record 1\) names interface 3 but its "
            r"section has described 1",
        ),
        (  # SHB version 2.0
            corrupt(GOOD, 12, struct.pack("<H", 2)),
            r"byte 12: unsupported pcapng savefile version 2.0",
        ),
        (  # byte-order magic
            corrupt(GOOD, 8, b"\x11\x22\x33\x44"),
            r"byte 8: Section Header Block has byte-order magic 11 22 33 44; expected 1a 2b 3c 4d",
        ),
    ],
)
def test_structural_errors_name_the_byte_offset(data: bytes, pattern: str) -> None:
    with pytest.raises(CaptureError, match=pattern) as info:
        read_all(data)
    assert not isinstance(info.value, TruncatedCaptureError)


def test_huge_block_length_rejected_without_reading_it() -> None:
    data = corrupt(GOOD, EPB1 + 4, struct.pack("<I", 0xFFFFFFF0))
    with pytest.raises(CaptureError, match=rf"byte {EPB1}: .*more than the 64 MiB"):
        read_all(data)


def test_truncated_first_section_header() -> None:
    for cut in (4, 11, 12, 27):
        with pytest.raises(TruncatedCaptureError, match="inside the pcapng Section Header Block"):
            read_all(GOOD[:cut])


def test_every_truncation_gives_records_and_warning_or_capture_error() -> None:
    data = (
        shb(BE)
        + idb(1, e=BE, name="eth0", tsresol=9)
        + epb(frame(1, 61), ts=11, e=BE, comment="hi")
        + spb(frame(2), e=BE)
        + shb(LE)
        + idb(113, e=LE)
        + pb(frame(3), ts=33, e=LE)
        + epb(frame(4), ts=44, e=LE)
    )
    full = rows(read_all(data)[0])
    assert [r[0] for r in full] == [1, 2, 3, 4]
    boundaries = set()
    pos = 0
    for blk in (
        shb(BE),
        idb(1, e=BE, name="eth0", tsresol=9),
        epb(frame(1, 61), ts=11, e=BE, comment="hi"),
        spb(frame(2), e=BE),
        shb(LE),
        idb(113, e=LE),
        pb(frame(3), ts=33, e=LE),
        epb(frame(4), ts=44, e=LE),
    ):
        pos += len(blk)
        boundaries.add(pos)
    for cut in range(len(data) + 1):
        try:
            batches, warnings, _ = read_all(data[:cut])
        except CaptureError:
            assert cut < SHB_LEN, cut  # only a cut inside the first SHB may fail
            continue
        got = rows(batches)
        assert got == full[: len(got)], cut
        cut_warnings = [w for w in warnings if "file ends inside" in w]
        assert len(cut_warnings) == (0 if cut in boundaries else 1), (cut, warnings)


# ---------------------------------------------------------------------------- public corpus


def test_libpcap_pcapng_version_rejected(public_dir: Path) -> None:
    with pytest.raises(CaptureError) as info:
        open_capture(public_dir / "libpcap" / "pcapng-invalid-vers-1.pcapng")
    msg = str(info.value)
    assert "pcapng-invalid-vers-1.pcapng: byte 12:" in msg
    assert "unsupported pcapng savefile version 0.1" in msg and "expected version 1.0" in msg


def test_libpcap_shb_option_too_long_rejected(public_dir: Path) -> None:
    with pytest.raises(CaptureError) as info:
        open_capture(public_dir / "libpcap" / "shb-option-too-long.pcapng")
    msg = str(info.value)
    assert "shb-option-too-long.pcapng: byte 0: Section Header Block" in msg
    assert "block total length 52 in its header but 808464432 in its trailer" in msg
    assert not isinstance(info.value, TruncatedCaptureError)


GENERATOR = public_files("pcapng-test-generator/**/*.pcapng")


@pytest.mark.parametrize("path", GENERATOR, ids=lambda p: "/".join(p.parts[-3:]))
def test_pcapng_test_generator_oracles(path: Path) -> None:
    """The generator's .txt lists block counts: packets = EPB + SPB + PB, interfaces = IDB."""
    text = path.with_suffix(".txt").read_text()
    counts = {k: int(v) for k, v in re.findall(r"^\s+(\w+): (\d+)$", text, re.M)}
    sequence = re.search(r"Block sequence: (.*)", text)
    assert sequence is not None
    blocks = [b.strip() for b in sequence.group(1).split(",")]
    assert len(blocks) == sum(counts.values())
    with open_capture(path) as cap:
        n = sum(len(b) for b in cap.batches())
        assert n == counts.get("EPB", 0) + counts.get("SPB", 0) + counts.get("PB", 0)
        assert len(cap.interfaces) == counts.get("IDB", 0)
        assert len([w for w in cap.warnings if "Simple Packet" in w]) == (
            1 if "SPB" in counts else 0
        )


def tshark_fields(tshark: str, path: Path, *fields: str) -> list[list[str]]:
    args = [tshark, "-r", str(path), "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.mark.parametrize(
    ("name", "want"),
    [
        (
            "pcapplusplus/many_interfaces-1.pcapng",
            [
                "en0",
                "awdl0",
                "bridge0",
                "vboxnet0",
                "utun0",
                "en1",
                "vboxnet1",
                "en2",
                "p2p0",
                "vboxnet2",
                "lo0",
            ],
        ),
        (
            "zeek/pcapng-multi-interface.pcapng",
            ["eth0", "\\Device\\NPF_{5AE6EDB4-EFF9-46B3-A3C2-EE50C688A9E6}"],
        ),
    ],
)
def test_interface_names_match_tshark(
    public_dir: Path, tshark: str, name: str, want: list[str]
) -> None:
    path = public_dir / name
    with open_capture(path) as cap:
        batches = list(cap.batches())
        assert [i.name for i in cap.interfaces] == want
        names = [cap.interfaces[int(i)].name for b in batches for i in b.interface]
    assert names == [r[0] for r in tshark_fields(tshark, path, "frame.interface_name")]


def epb_with_options(opts: list[tuple[int, bytes]], n: int = 1) -> bytes:
    body = struct.pack("<IIIII", 0, 0, n, 60, 60) + frame(n)  # iface 0, ts n, 60 bytes
    return block(6, body + options(opts))


def test_epb_options_without_comment_are_checked_in_bulk() -> None:
    flags = (2, struct.pack("<I", 1))  # epb_flags: inbound
    many = [(0x8000 + i, b"x" * (i % 5)) for i in range(40)] + [(1, b"late comment")]
    data = shb() + idb(1) + b"".join(epb_with_options([flags], i) for i in range(10))
    data += epb_with_options(many, 10)
    batches, warnings, _ = read_all(data)
    got = rows(batches)
    assert [r[1] for r in got] == [i * 1000 for i in range(11)]
    assert [r[7] for r in got] == [None] * 10 + ["late comment"]
    assert warnings == []


def test_epb_option_running_past_the_block() -> None:
    good = epb_with_options([(2, struct.pack("<I", 1))])
    bad = bytearray(epb_with_options([(2, struct.pack("<I", 1))], 2))
    bad[28 + 60 + 2 : 28 + 60 + 4] = struct.pack("<H", 40)  # epb_flags length 4 -> 40
    start = SHB_LEN + len(idb(1)) + len(good)
    with pytest.raises(
        CaptureError,
        match=rf"byte {start}: option 2 at byte {start + 88} of the Enhanced Packet Block has "
        r"length 40, which runs past",
    ):
        read_all(shb() + idb(1) + good + bytes(bad))


def test_a_timestamp_wrapping_onto_pandas_nat_stays_a_time() -> None:
    """2**63 ns reads as -2**63, pandas' NaT marker: it is moved 1 ns so ``ts`` is never NaT."""
    import io

    import vxlanlens

    data = shb() + idb(1, tsresol=9) + epb(frame(0), ts=1 << 63) + epb(frame(1), ts=5)
    batches, warnings, _ = read_all(data)
    assert [r[1] for r in rows(batches)] == [-(1 << 63) + 1, 5]
    assert len(warnings) == 1 and "wrap" in warnings[0]
    packets = vxlanlens.read([io.BytesIO(data)]).packets
    assert not packets["ts"].isna().any()
    assert str(packets["ts"].iloc[0]).startswith("1677-09-21")
