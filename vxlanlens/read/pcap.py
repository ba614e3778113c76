"""Classic libpcap files: the 24-byte file header and 16-byte record headers.

All four magic numbers are read: ``a1b2c3d4`` (microseconds) and ``a1b23c4d`` (nanoseconds),
each written in either byte order. Only version 2.4 is accepted. The link-type field is split
as libpcap does: the low 16 bits are the LINKTYPE_ value, bits 16-25 are reserved and must be
zero, bit 26 says an FCS of ``(bits 28-31) * 2`` bytes ends every frame.

Timestamps are ``seconds * 10**9 + fraction * (1000 or 1)`` computed as unsigned integers, even
when the fraction is out of range (>= 10**6 µs or 10**9 ns): tcpdump prints such records with an
"(invalid ns)" mark and keeps them, and so do we. (tshark 4.0 reads the fraction as a *signed*
32-bit value, so for a fraction >= 2**31 it shows a time before the seconds value; we keep the
arithmetic, unsigned reading that the format defines.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..errors import CaptureError, TruncatedCaptureError
from ._common import Columns, caplen_limit, walk_pcap_heads
from .records import InterfaceInfo

__all__ = ["PCAP_MAGICS", "PcapParser"]

# magic bytes as they appear in the file -> (struct byte order, nanosecond resolution)
PCAP_MAGICS: dict[bytes, tuple[str, bool]] = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}

FILE_HEADER_LEN = 24
RECORD_HEADER_LEN = 16

_LT_RESERVED = 0x03FF0000
_LT_FCS_PRESENT = 0x04000000


@dataclass(frozen=True)
class PcapHeader:
    """The fields of a classic pcap file header that the reader uses."""

    endian: str
    nanosecond: bool
    version: tuple[int, int]
    snaplen: int
    linktype: int
    fcs_len: int


def parse_header(head: bytes, path: str) -> PcapHeader:
    """Parse and check the 24-byte file header at the start of ``head``.

    Raises :class:`TruncatedCaptureError` when ``head`` is shorter than 24 bytes and
    :class:`CaptureError` for an unsupported version or a non-zero reserved link-type field.
    """
    endian, nano = PCAP_MAGICS[head[:4]]
    if len(head) < FILE_HEADER_LEN:
        raise TruncatedCaptureError(
            f"file ends inside the 24-byte pcap file header (only {len(head)} bytes)",
            path=path,
            where=f"byte {len(head)}",
        )
    vmaj, vmin, _zone, _sigfigs, snaplen, ltfield = struct.unpack_from(endian + "HHiIII", head, 4)
    if (vmaj, vmin) != (2, 4):
        raise CaptureError(
            f"unsupported pcap savefile version {vmaj}.{vmin}; expected version 2.4",
            path=path,
            where="byte 4",
        )
    if ltfield & _LT_RESERVED:
        raise CaptureError(
            f"pcap link-type field 0x{ltfield:08x} has its reserved bits set "
            f"(0x{ltfield & _LT_RESERVED:08x}); expected them to be zero, the header is corrupt",
            path=path,
            where="byte 20",
        )
    fcs_len = ((ltfield >> 28) & 0xF) * 2 if ltfield & _LT_FCS_PRESENT else 0
    return PcapHeader(endian, nano, (vmaj, vmin), snaplen, ltfield & 0xFFFF, fcs_len)


class PcapParser:
    """Walks the records of a classic pcap stream, a buffer at a time."""

    format = "pcap"

    def __init__(self, header: PcapHeader, path: str, warnings: list[str]) -> None:
        self.header = header
        self.path = path
        self.interfaces: list[InterfaceInfo] = [
            InterfaceInfo(index=0, linktype=header.linktype, snaplen=header.snaplen)
        ]
        self._caplen = struct.Struct(header.endian + "I").unpack_from
        self._big = header.endian == ">"
        u4 = header.endian + "u4"
        self._head = np.dtype(
            {"names": ["sec", "sub", "incl", "orig"], "formats": [u4] * 4, "offsets": [0, 4, 8, 12]}
        )
        self._sub_mult = 1 if header.nanosecond else 1000
        self._limit = caplen_limit(header.snaplen)
        if header.fcs_len:
            warnings.append(
                f"{path}: byte 20: the link-type field says every frame ends with a "
                f"{header.fcs_len}-byte FCS; it is kept as part of the captured bytes"
            )

    start = FILE_HEADER_LEN
    """Offset of the first record in the decompressed stream."""

    def parse(
        self, buf: bytes | bytearray, pos: int, base: int, frames_before: int
    ) -> tuple[Columns | None, int, int]:
        """Parse the complete records in ``buf[pos:]``.

        ``base`` is the stream offset of ``buf[0]``. Gives (columns or None, position after the
        last complete record, bytes needed from that position to make progress).
        """
        offs, heads, pos = walk_pcap_heads(buf, pos, self._big)
        end = len(buf)
        need = RECORD_HEADER_LEN
        if pos + RECORD_HEADER_LEN <= end:
            caplen = self._caplen(buf, pos + 8)[0]
            if caplen > self._limit:
                self._bad(buf, pos, base, frames_before + len(offs) + 1)
            need = RECORD_HEADER_LEN + caplen
        if not offs.size:
            return None, pos, need
        return self._columns(buf, offs, heads, base, frames_before), pos, need

    def _columns(
        self,
        buf: bytes | bytearray,
        o: np.ndarray,
        raw: np.ndarray,
        base: int,
        frames_before: int,
    ) -> Columns:
        """The record columns of the records at offsets ``o``, whose 16-byte headers are the
        rows of ``raw``."""
        heads = raw.reshape(-1).view(self._head)
        sec = heads["sec"].astype(np.int64)
        sub = heads["sub"].astype(np.int64)
        incl = heads["incl"].astype(np.int64)
        orig = heads["orig"].astype(np.int64)
        bad = (incl > orig) | (incl > self._limit)
        if bad.any():
            i = int(np.argmax(bad))
            self._bad(buf, int(o[i]), base, frames_before + i + 1)
        n = o.shape[0]
        return Columns(
            offsets=o + RECORD_HEADER_LEN,
            cap_len=incl,
            wire_len=orig,
            ts_ns=sec * 1_000_000_000 + sub * self._sub_mult,
            linktype=np.full(n, self.header.linktype, dtype=np.int64),
            interface=np.full(n, -1, dtype=np.int64),
        )

    def _bad(self, buf: bytes | bytearray, pos: int, base: int, frame: int) -> None:
        incl, orig = struct.unpack_from(self.header.endian + "II", buf, pos + 8)
        where = f"byte {base + pos}"
        if incl > self._limit:
            raise CaptureError(
                f"record {frame} claims {incl} captured bytes, more than the snap length "
                f"{self.header.snaplen} allows (at most {self._limit}); the file is corrupt",
                path=self.path,
                where=where,
            )
        if incl > orig:
            raise CaptureError(
                f"record {frame} claims {incl} captured bytes but only {orig} bytes on the wire; "
                f"expected captured <= wire length, the file is corrupt",
                path=self.path,
                where=where,
            )
        raise AssertionError(f"record {frame} flagged but passes every check")  # pragma: no cover

    def describe_partial(
        self, buf: bytes | bytearray, pos: int, base: int, frames_before: int
    ) -> str:
        """Warning text for a stream that ends inside the record starting at ``buf[pos]``."""
        have = len(buf) - pos
        frame = frames_before + 1
        if have < RECORD_HEADER_LEN:
            return (
                f"{self.path}: byte {base + pos}: file ends inside the header of record {frame} "
                f"({have} of 16 bytes); the partial record is left out"
            )
        caplen = self._caplen(buf, pos + 8)[0]
        return (
            f"{self.path}: byte {base + pos}: file ends inside record {frame} "
            f"({have} of {RECORD_HEADER_LEN + caplen} bytes); the partial record is left out"
        )
