"""Cutting a classic pcap file into byte ranges that can be read independently.

A pcap file has no index: a record's start is only known by walking every record header from
the file header on. To read parts of a large file at the same time, :func:`guess_boundaries`
*guesses* record starts near the wanted cut points from the bytes alone (a run of consecutive
record headers that all look valid and chain into each other), and :func:`open_pcap_range`
reads the records of one range. A guess is only a guess: the reader of the range before a cut
confirms it, because its authoritative walk must end exactly on the cut (see
:attr:`CaptureReader.ended_cleanly`). Whoever uses a guess must check that and fall back to a
sequential read when it does not hold.
"""

from __future__ import annotations

import io
import os

import numpy as np

from ._common import caplen_limit
from ._source import Source, _CountingReader
from .capture import CaptureReader
from .pcap import FILE_HEADER_LEN, PCAP_MAGICS, RECORD_HEADER_LEN, PcapHeader, parse_header

__all__ = ["guess_boundaries", "open_pcap_range", "pcap_header"]

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
    """The pcap file header followed by the file's bytes ``[start, stop)``."""

    def __init__(self, path: str, start: int, stop: int | None) -> None:
        super().__init__()
        self._fh = open(path, "rb", buffering=0)  # noqa: SIM115 (closed by close())
        self._head = self._fh.read(FILE_HEADER_LEN)
        self._fh.seek(start)
        self._left = None if stop is None else max(stop - start, 0)

    def readable(self) -> bool:
        return True

    def window(self) -> tuple[int, int, int | None] | None:
        """``(file descriptor, file offset of the next byte, stop)`` once the file header is
        served (see :meth:`vxlanlens.read._source.Source.window`)."""
        if self._head:
            return None
        pos = self._fh.tell()
        return self._fh.fileno(), pos, None if self._left is None else pos + self._left

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
    raw = _Range(path, max(start, FILE_HEADER_LEN), stop)
    counter = _CountingReader(raw, b"")  # type: ignore[arg-type]
    source = Source(path, counter, counter, None, raw)  # type: ignore[arg-type]
    return CaptureReader(
        source,
        os.path.getsize(path),
        label,
        shift=max(start, FILE_HEADER_LEN) - FILE_HEADER_LEN,
        frames_before=frames_before,
    )
