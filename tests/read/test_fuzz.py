"""Property tests: whatever the bytes, the readers raise only vxlanlens errors."""

from __future__ import annotations

import gzip
import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readcraft import BE, LE, epb, frame, idb, pb, pcap_header, pcap_record, shb, spb

from vxlanlens.errors import VxlanlensError
from vxlanlens.read import open_capture

PREFIXES = [
    b"",
    b"\xd4\xc3\xb2\xa1",  # pcap LE µs magic, the rest random
    b"\xa1\xb2\x3c\x4d",  # pcap BE ns magic
    pcap_header(),  # a valid pcap file header, random records
    pcap_header(e=BE, snaplen=0xFFFFFFFF),
    b"\x0a\x0d\x0d\x0a",  # pcapng SHB type, the rest random
    shb(LE),  # a valid section header, random blocks
    shb(BE) + idb(1, e=BE),  # a valid section and interface, random blocks
    b"\x1f\x8b",  # gzip magic
]


def drain(data: bytes) -> None:
    """Open and read everything; check the batches are self-consistent."""
    try:
        with open_capture(io.BytesIO(data)) as cap:
            for b in cap.batches(max_frames=7):
                n = len(b)
                assert b.offsets.shape == b.cap_len.shape == b.ts_ns.shape == (n,)
                assert (b.offsets >= 0).all()
                assert (b.offsets + b.cap_len <= b.data.shape[0]).all()
                assert (b.cap_len <= b.wire_len).all()
                assert b.interface.dtype == np.int64
            for w in cap.warnings:
                assert "\n" not in w
    except VxlanlensError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(PREFIXES), tail=st.binary(max_size=400))
def test_random_bytes_raise_only_project_errors(prefix: bytes, tail: bytes) -> None:
    drain(prefix + tail)


VALID = [
    pcap_header() + b"".join(pcap_record(frame(i, 30 + i), sec=i, sub=i) for i in range(4)),
    shb() + idb(1, name="e") + b"".join(epb(frame(i), ts=i, comment="c") for i in range(3)),
    shb(BE)
    + idb(1, e=BE, tsresol=0x80 | 70, tsoffset=-5)
    + epb(frame(1), e=BE, ts=2**64 - 1)
    + spb(frame(2), e=BE)
    + pb(frame(3), e=BE)
    + shb()
    + idb(113, snaplen=10)
    + spb(frame(4, 30)),
]


@settings(max_examples=400, deadline=None)
@given(
    which=st.sampled_from(range(len(VALID))),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 10_000),
    compress=st.booleans(),
)
def test_mutated_valid_files_raise_only_project_errors(
    which: int, edits: list[tuple[int, int]], cut: int, compress: bool
) -> None:
    data = bytearray(VALID[which])
    for pos, value in edits:
        data[pos % len(data)] = value
    out = bytes(data[: max(1, cut % (len(data) + 1))])
    drain(gzip.compress(out) if compress else out)
