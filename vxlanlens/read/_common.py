"""Pieces shared by the pcap and pcapng parsers: column containers, gathers, time conversion."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "C_WALK",
    "MAX_BLOCK",
    "SNAP_SLACK",
    "Columns",
    "caplen_limit",
    "every_byte",
    "gather",
    "py_walk_epb",
    "py_walk_pcap",
    "py_walk_pcap_heads",
    "units_to_ns",
    "walk_epb",
    "walk_pcap_heads",
    "wrap_int64",
]


Walk = Callable[[bytes | bytearray, int, bool], tuple[np.ndarray, int]]
"""A record walk: (buffer, start position, big-endian?) -> (int64 offsets, stop position)."""
HeadWalk = Callable[[bytes | bytearray, int, bool], tuple[np.ndarray, np.ndarray, int]]
"""A record walk that also gives each record's 16-byte header: (buffer, start position,
big-endian?) -> (int64 offsets, ``(n, 16)`` uint8 headers, stop position)."""


def py_walk_pcap(buf: bytes | bytearray, pos: int, big_endian: bool) -> tuple[np.ndarray, int]:
    """Start of every complete classic pcap record in ``buf[pos:]`` (int64) and the position
    where the walk stopped: the first record whose 16-byte header or announced bytes do not
    fit (the walk of :func:`py_walk_pcap_heads`)."""
    unpack = struct.Struct((">" if big_endian else "<") + "8xI").unpack_from
    offs: list[int] = []
    append = offs.append
    end = len(buf)
    try:
        while True:
            (caplen,) = unpack(buf, pos)
            nxt = pos + 16 + caplen
            if nxt > end:
                break
            append(pos)
            pos = nxt
    except struct.error:
        pass
    return np.array(offs, dtype=np.int64), pos


def py_walk_pcap_heads(
    buf: bytes | bytearray, pos: int, big_endian: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`py_walk_pcap`, and the 16-byte header of each record found as an ``(n, 16)``
    uint8 matrix. The Python version of :func:`walk_pcap_heads`."""
    offs, stop = py_walk_pcap(buf, pos, big_endian)
    return offs, gather(np.frombuffer(buf, dtype=np.uint8), offs, 16), stop


def py_walk_epb(buf: bytes | bytearray, pos: int, big_endian: bool) -> tuple[np.ndarray, int]:
    """Start of every complete pcapng Enhanced Packet Block in ``buf[pos:]`` whose length is at
    least 32 and a multiple of 4 (int64), and the position where the walk stopped. The Python
    version of :func:`walk_epb`."""
    u2 = struct.Struct((">" if big_endian else "<") + "II").unpack_from
    offs: list[int] = []
    append = offs.append
    end = len(buf)
    try:
        while True:
            btype, blen = u2(buf, pos)
            nxt = pos + blen
            if btype != 6 or blen < 32 or nxt > end or blen & 3:
                break
            append(pos)
            pos = nxt
    except struct.error:
        pass
    return np.array(offs, dtype=np.int64), pos


def _c_walk(fn: Callable[[bytes | bytearray, int, bool], tuple[bytes, int]]) -> Walk:
    def walk(buf: bytes | bytearray, pos: int, big_endian: bool) -> tuple[np.ndarray, int]:
        raw, stop = fn(buf, pos, big_endian)
        return np.frombuffer(raw, dtype=np.int64), stop

    return walk


def _c_head_walk(
    fn: Callable[[bytes | bytearray, int, bool], tuple[bytes, bytes, int]],
) -> HeadWalk:
    def walk(
        buf: bytes | bytearray, pos: int, big_endian: bool
    ) -> tuple[np.ndarray, np.ndarray, int]:
        raw, heads, stop = fn(buf, pos, big_endian)
        return (
            np.frombuffer(raw, dtype=np.int64),
            np.frombuffer(heads, np.uint8).reshape(-1, 16),
            stop,
        )

    return walk


walk_pcap_heads: HeadWalk = py_walk_pcap_heads
"""Offsets of the complete pcap records in ``buf[pos:]``, each record's 16-byte header (copied
as the walk reads it) and where the walk stopped; in C (``vxlanlens.read._walk``) when that
module was built, else :func:`py_walk_pcap_heads`."""
walk_epb: Walk = py_walk_epb
"""Offsets of the complete, well-sized EPBs in ``buf[pos:]`` and where the walk stopped; in C
when built, else :func:`py_walk_epb`."""
C_WALK = False
"""Whether the record walks run in C (``setup.py`` builds ``_walk`` when a compiler is there)."""
try:
    from . import _walk
except ImportError:  # pragma: no cover - depends on how the package was installed
    pass
else:
    walk_pcap_heads = _c_head_walk(_walk.walk_pcap_heads)
    walk_epb = _c_walk(_walk.walk_epb)
    C_WALK = True

SNAP_SLACK = 256 * 1024
"""A record may exceed its interface's snap length by at most this much (BIG TCP, GSO)."""

MAX_BLOCK = 64 * 1024 * 1024
"""Largest pcapng block (and classic pcap record) accepted before calling the file corrupt."""

_INT64_MIN = -(1 << 63)


def caplen_limit(snaplen: int | None) -> int:
    """Largest believable captured length for an interface with this snap length.

    0, missing or absurd snap lengths count as "unlimited" (256 KiB, libpcap's usual maximum).
    """
    s = snaplen if snaplen is not None and 0 < snaplen < (1 << 31) else 0
    return max(s, 262144) + SNAP_SLACK


def wrap_int64(x: int) -> int:
    """``x`` reduced to a signed 64-bit integer (two's-complement wrap-around)."""
    return ((x - _INT64_MIN) % (1 << 64)) + _INT64_MIN


def every_byte(u8: np.ndarray, dtype: str | np.dtype, count: int) -> np.ndarray:
    """A view of the contiguous bytes ``u8`` whose item ``i`` is the ``dtype`` value starting at
    byte ``i`` (``count`` items, none when ``count <= 0``): nothing copied, so any field of
    any record is then one gather at its offsets."""
    if count <= 0:
        return np.zeros(0, dtype=dtype)
    return np.ndarray(shape=(count,), dtype=dtype, buffer=u8, strides=(1,))


def gather(u8: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    """``width`` bytes starting at each offset (each from 0 to ``len(u8) - width``), as a
    C-contiguous ``(n, width)`` uint8 matrix; ``IndexError`` when one runs past the end."""
    starts = u8.shape[0] - width + 1
    if starts <= 0 or not u8.flags.c_contiguous:
        idx = offsets[:, None] + np.arange(width, dtype=np.int64)
        return u8[idx]  # type: ignore[no-any-return]
    # the rows are one gather of whole records, several times faster than byte by byte
    records = every_byte(u8, np.dtype((np.void, width)), starts)
    try:
        rows = records[offsets]
    finally:
        del records  # the view made here dies with the call, even through an error's traceback
    return rows.view(np.uint8).reshape(-1, width)


def units_to_ns(
    units: np.ndarray, kind: str, exp: int, offset_s: int = 0
) -> tuple[np.ndarray, int]:
    """Timestamps in nanoseconds from counts of ``10**-exp`` (kind ``"d"``) or ``2**-exp``
    (kind ``"b"``) seconds since the epoch, plus ``offset_s`` seconds.

    ``units`` is uint64. Gives (int64 nanoseconds, number of values that did not fit in int64
    nanoseconds and wrapped around modulo 2**64). A value that lands on -2**63 (pandas'
    "not a time" marker, NaT) is given as -2**63 + 1, so every timestamp is a real time.
    """
    u = units.astype(np.uint64, copy=False)
    lim = np.uint64((1 << 63) - 1)
    if kind == "d":
        if exp <= 9:
            mult = 10 ** (9 - exp)
            ns = u * np.uint64(mult)
            over = int(np.count_nonzero(u > np.uint64(((1 << 63) - 1) // mult)))
        elif exp - 9 >= 20:
            ns = np.zeros_like(u)
            over = 0
        else:
            ns = u // np.uint64(10 ** (exp - 9))
            over = int(np.count_nonzero(ns > lim))
    else:
        if exp == 0:
            ns = u * np.uint64(10**9)
            over = int(np.count_nonzero(u > np.uint64(((1 << 63) - 1) // 10**9)))
        else:
            sec = u >> np.uint64(exp) if exp < 64 else np.zeros_like(u)
            frac = u & np.uint64((1 << exp) - 1) if exp < 64 else u
            if exp <= 34:
                frac_ns = (frac * np.uint64(10**9)) >> np.uint64(exp)
            else:
                shift = exp - 34
                f = frac >> np.uint64(shift) if shift < 64 else np.zeros_like(u)
                frac_ns = (f * np.uint64(10**9)) >> np.uint64(34)
            ns = sec * np.uint64(10**9) + frac_ns
            over = int(np.count_nonzero(sec > np.uint64(((1 << 63) - 1) // 10**9)))
    out = ns.view(np.int64)
    if offset_s:
        out = out + np.int64(wrap_int64(offset_s * 10**9))
    nat = out == np.iinfo(np.int64).min
    if nat.any():
        # -2**63 is pandas' "not a time" marker: a wrapped value landing exactly on it would
        # make ``ts`` empty (NaT), so it is moved 1 ns later, onto the earliest real time.
        out = np.where(nat, np.iinfo(np.int64).min + 1, out)
        over = max(over, int(np.count_nonzero(nat)))
    return out, over


@dataclass
class Columns:
    """Records parsed from one buffer, before frame numbers are assigned."""

    offsets: np.ndarray
    cap_len: np.ndarray
    wire_len: np.ndarray
    ts_ns: np.ndarray
    linktype: np.ndarray
    interface: np.ndarray
    comments: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.offsets.shape[0])
