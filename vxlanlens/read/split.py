"""Cutting a classic pcap or pcapng file into byte ranges that can be read independently.

A pcap file has no index: a record's start is only known by walking every record header from
the file header on. To read parts of a large file at the same time, :func:`guess_boundaries`
*guesses* record starts near the wanted cut points from the bytes alone (a run of consecutive
record headers that all look valid and chain into each other), and :func:`open_pcap_range`
reads the records of one range. A guess is only a guess: the reader of the range before a cut
confirms it, because its authoritative walk must end exactly on the cut (see
:attr:`CaptureReader.ended_cleanly`). Whoever uses a guess must check that and fall back to a
sequential read when it does not hold.

pcapng works the same way with blocks instead of records (:func:`file_layout`,
:func:`guess_cuts`, :func:`open_range`): a guessed cut is an Enhanced Packet Block from which
a chain of blocks follows, each with its length repeated in its trailer; every part's reader
is first given the blocks before the file's first packet (section header and interface
descriptions), so it numbers interfaces and scales timestamps as a reader from the start
would, provided the blocks before the cut changed nothing of that (no new section, interface
or Simple Packet Block): the parser state at the cut, checked by whoever uses the part.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass

import numpy as np

from ._common import MAX_BLOCK, caplen_limit
from ._source import Source, _CountingReader
from .capture import CaptureReader
from .pcap import FILE_HEADER_LEN, PCAP_MAGICS, RECORD_HEADER_LEN, PcapHeader, parse_header
from .pcapng import EPB, PB, PCAPNG_MAGIC, SHB, SPB, PcapngParser

__all__ = [
    "PCAP_LAYOUT",
    "Layout",
    "file_layout",
    "guess_boundaries",
    "guess_cuts",
    "open_pcap_range",
    "open_range",
    "pcap_header",
]


@dataclass(frozen=True)
class Layout:
    """How a file is cut into parts: its ``format``, the ``prefix`` bytes at its start that
    every part's reader is given first (the pcap file header; for pcapng every block before
    the first packet: section header and interface descriptions), the parser ``state`` they
    leave (pcapng, see ``PcapngParser.state``; None for pcap), and for pcapng the byte order
    and number of interfaces of that section."""

    format: str
    prefix: int
    state: object = None
    endian: str = "<"
    interfaces: int = 0


PCAP_LAYOUT = Layout("pcap", FILE_HEADER_LEN)

_PCAPNG_HEAD = 1024 * 1024
"""Bytes of a pcapng file searched for its first packet block (the blocks before it are
given to every part)."""

_PACKET_BLOCKS = (EPB, SPB, PB)


def file_layout(path: str) -> Layout | None:
    """The :class:`Layout` of an uncompressed classic pcap or pcapng file, or None when
    ``path`` cannot be cut (compressed, another format, unreadable, or a pcapng file whose
    first packet block is not within its first MiB after one section header)."""
    if pcap_header(path) is not None:
        return PCAP_LAYOUT
    try:
        with open(path, "rb") as fh:
            head = fh.read(_PCAPNG_HEAD)
    except OSError:
        return None
    if head[:4] != PCAPNG_MAGIC:
        return None
    try:
        parser = PcapngParser(head, path, [])
        endian = parser.state[3]
        pos = parser.start
        while True:
            if pos + 8 > len(head):
                return None
            btype, blen = struct.unpack_from(endian + "II", head, pos)
            if btype in _PACKET_BLOCKS:
                break
            if btype == SHB or blen < 12 or blen % 4 or pos + blen > len(head):
                return None  # a second section (or a bad block) before any packet
            pos += blen
        cols, end, _need = parser.parse(head[:pos], parser.start, 0, 0)
    except Exception:  # a bad file: the sequential reader gives the proper error
        return None
    if cols is not None or end != pos:
        return None
    state = parser.state
    return Layout("pcapng", pos, state, endian, state[1])


def guess_cuts(path: str, layout: Layout, parts: int) -> list[int]:
    """:func:`guess_boundaries` for a file of either format: offsets that probably start a
    record (pcap) or an Enhanced Packet Block (pcapng)."""
    if layout.format == "pcap":
        return guess_boundaries(path, parts)
    if parts < 2:
        return []
    size = os.path.getsize(path)
    out: list[int] = []
    with open(path, "rb") as fh:
        for k in range(1, parts):
            near = max(layout.prefix, size * k // parts)
            if out and near <= out[-1]:
                continue
            for width in _WINDOWS:
                fh.seek(near)
                window = fh.read(width)
                at_eof = near + len(window) >= size
                found = _first_block_chain(window, layout, at_eof=at_eof)
                if found is not None:
                    out.append(near + found)
                    break
                if at_eof:
                    break
    return out


def _first_block_chain(buf: bytes, layout: Layout, at_eof: bool) -> int | None:
    """Offset in ``buf`` of the first Enhanced Packet Block (on a described interface, its
    packet fitting in it) from which ``_CHAIN`` blocks follow each other, each block's length
    repeated in its trailer (or such blocks chain exactly to the end of the file); else None."""
    size = len(buf)
    n = size - 32 + 1  # the smallest Enhanced Packet Block is 32 bytes
    if n <= 0:
        return None
    u4 = np.dtype(layout.endian + "u4")
    d = np.frombuffer(buf, dtype=np.uint8)
    words = np.ndarray(shape=(size - 3,), dtype=u4, buffer=d, strides=(1,))

    def field(k: int) -> np.ndarray:
        return words[k : k + n].astype(np.int64)

    btype, blen = field(0), field(4)
    here = np.arange(n, dtype=np.int64)
    sane = (blen >= 12) & (blen % 4 == 0) & (blen <= MAX_BLOCK) & (here + blen <= size)
    block = np.zeros(n + 1, dtype=bool)  # a block whose trailer repeats its length
    at = np.flatnonzero(sane)
    block[at] = words[at + blen[at] - 4] == blen[at]
    epb = block[:n] & (btype == EPB) & (field(8) < layout.interfaces) & (field(20) <= blen - 32)
    nxt = here + np.where(sane, blen, 0)
    cur = np.flatnonzero(epb)
    alive = np.ones(cur.shape[0], dtype=bool)
    end_ok = np.zeros(cur.shape[0], dtype=bool)
    pos = cur.copy()
    for _ in range(_CHAIN - 1):
        step = nxt[np.minimum(pos, n - 1)]
        end_ok |= alive & at_eof & (step == size)
        good = np.zeros_like(alive)
        inside = step < n
        good[inside] = block[step[inside]]
        alive &= good
        pos = np.where(alive, step, pos)
        if not alive.any():
            break
    believed = alive | end_ok
    if not believed.any():
        return None
    return int(cur[np.argmax(believed)])


_WINDOWS = (256 * 1024, 8 * 1024 * 1024)
"""Bytes searched for a record start after each wanted cut point: a small window first (most
records are small), a large one when no chain of records fits in it."""

_CHAIN = 24
"""Consecutive valid, chained record headers needed to believe a guess."""

_MAX_SKEW_S = 7 * 24 * 3600
"""A guessed record's timestamp may differ from the first record's by at most this much."""


def pcap_header(path: str) -> tuple[PcapHeader, int] | None:
    """The file header of an uncompressed classic pcap file and the first record's seconds
    field, or None when ``path`` is anything else (pcapng, compressed, too short, unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(FILE_HEADER_LEN + RECORD_HEADER_LEN)
    except OSError:
        return None
    if len(head) < FILE_HEADER_LEN + RECORD_HEADER_LEN or head[:4] not in PCAP_MAGICS:
        return None
    try:
        header = parse_header(head, path)
    except Exception:  # a bad header: the sequential reader gives the proper error
        return None
    first_sec = int.from_bytes(
        head[FILE_HEADER_LEN : FILE_HEADER_LEN + 4], "little" if header.endian == "<" else "big"
    )
    return header, first_sec


def guess_boundaries(path: str, parts: int) -> list[int]:
    """Byte offsets that probably start a record, one near each ``k / parts`` of the file
    (k = 1 .. parts - 1), increasing; cut points with no believable record start nearby are
    left out, so the list may be shorter (empty for a file that is not a classic pcap)."""
    info = pcap_header(path)
    if info is None or parts < 2:
        return []
    header, first_sec = info
    size = os.path.getsize(path)
    out: list[int] = []
    with open(path, "rb") as fh:
        for k in range(1, parts):
            near = max(FILE_HEADER_LEN, size * k // parts)
            if out and near <= out[-1]:
                continue
            for width in _WINDOWS:
                fh.seek(near)
                window = fh.read(width)
                at_eof = near + len(window) >= size
                found = _first_chain(window, header, first_sec, at_eof=at_eof)
                if found is not None:
                    out.append(near + found)
                    break
                if at_eof:
                    break
    return out


def _first_chain(buf: bytes, header: PcapHeader, first_sec: int, at_eof: bool) -> int | None:
    """Offset in ``buf`` of the first position where ``_CHAIN`` valid record headers follow
    each other (or valid headers chain exactly to the end of the file), else None."""
    n = len(buf) - RECORD_HEADER_LEN + 1
    if n <= 0:
        return None
    u4 = np.dtype(header.endian + "u4")
    d = np.frombuffer(buf, dtype=np.uint8)

    def field(k: int) -> np.ndarray:
        return np.ndarray(shape=(n,), dtype=u4, buffer=d, offset=k, strides=(1,)).astype(np.int64)

    sec, sub, incl, orig = field(0), field(4), field(8), field(12)
    limit = caplen_limit(header.snaplen)
    valid = (
        (np.abs(sec - first_sec) <= _MAX_SKEW_S)
        & (sub < (1_000_000_000 if header.nanosecond else 1_000_000))
        & (incl <= orig)
        & (incl <= limit)
        & (orig <= limit)
    )
    # Following a chain: a position's next record starts 16 + incl bytes on. Position n means
    # "exactly at the end of the buffer", the end of the file when at_eof.
    nxt = np.arange(n, dtype=np.int64) + RECORD_HEADER_LEN + incl
    ok_end = np.zeros(n + 1, dtype=bool)
    ok_end[:n] = valid
    cur = np.flatnonzero(valid)
    alive = np.ones(cur.shape[0], dtype=bool)
    end_ok = np.zeros(cur.shape[0], dtype=bool)
    pos = cur.copy()
    for _ in range(_CHAIN - 1):
        step = nxt[np.minimum(pos, n - 1)]
        at_end = at_eof & (step == len(buf))
        end_ok |= alive & at_end
        inside = step < n
        good = np.zeros_like(alive)
        good[inside] = ok_end[step[inside]]
        alive &= good
        pos = np.where(alive, step, pos)
        if not alive.any():
            break
    believed = alive | end_ok
    if not believed.any():
        return None
    return int(cur[np.argmax(believed)])


class _Range(io.RawIOBase):
    """The file's first ``prefix`` bytes (its header) followed by its bytes ``[start, stop)``."""

    def __init__(self, path: str, prefix: int, start: int, stop: int | None) -> None:
        super().__init__()
        self._fh = open(path, "rb", buffering=0)  # noqa: SIM115 (closed by close())
        self._head = self._fh.read(prefix)
        self._fh.seek(start)
        self._left = None if stop is None else max(stop - start, 0)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        want = len(view) if self._left is None else min(len(view), self._left)
        if want <= 0:
            return 0
        got = self._fh.readinto(view[:want]) or 0
        if self._left is not None:
            self._left -= got
        return got

    def close(self) -> None:
        try:
            self._fh.close()
        finally:
            super().close()


def open_pcap_range(
    path: str, label: str, start: int, stop: int | None, frames_before: int
) -> CaptureReader:
    """A reader of the records of classic pcap file ``path`` from byte ``start`` (a record
    start) up to byte ``stop`` (None: the end of the file).

    Frame numbers continue from ``frames_before`` and byte positions in messages are the
    file's own. Whether the records ended exactly at ``stop`` tells
    :attr:`CaptureReader.ended_cleanly` once the batches are consumed.
    """
    return open_range(path, label, PCAP_LAYOUT, start, stop, frames_before)


def open_range(
    path: str, label: str, layout: Layout, start: int, stop: int | None, frames_before: int
) -> CaptureReader:
    """A reader of the records of ``path`` (laid out as ``layout`` says) from byte ``start``
    (a record or block start) up to byte ``stop`` (None: the end of the file), as
    :func:`open_pcap_range` for classic pcap: the reader is given the file's header first
    (for pcapng: its section header and interface descriptions), then the range."""
    first = max(start, layout.prefix)
    raw = _Range(path, layout.prefix, first, stop)
    counter = _CountingReader(raw, b"")  # type: ignore[arg-type]
    source = Source(path, counter, counter, None, raw)  # type: ignore[arg-type]
    return CaptureReader(
        source,
        os.path.getsize(path),
        label,
        shift=first - layout.prefix,
        frames_before=frames_before,
    )
