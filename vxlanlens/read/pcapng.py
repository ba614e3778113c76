"""pcapng files: sections, interfaces and packet blocks.

What is read:

* Section Header Blocks in either byte order; a file may hold several sections and each may
  switch the byte order. Versions 1.0 to 1.2 are accepted.
* Interface Description Blocks: link type, snap length, ``if_name``, ``if_description``,
  ``if_tsresol`` (power of ten, or power of two when bit 7 is set) and ``if_tsoffset``
  (seconds added to every timestamp). Interfaces are numbered across all sections, in file
  order, so ``RecordBatch.interface`` is unique within a reader even when a later section
  restarts its own numbering.
* Enhanced Packet Blocks (with ``opt_comment`` kept in ``RecordBatch.comments``), Simple
  Packet Blocks and the obsolete Packet Block (type 2).
* Everything else (Name Resolution, Interface Statistics, Decryption Secrets, Custom and
  unknown blocks) is checked for a sane length and skipped.

Simple Packet Blocks carry no timestamp. tshark 4.0 shows them with an empty
``frame.time_epoch``. The int64 ``ts_ns`` column cannot be empty, so such a record gets the
timestamp of the packet before it in the file (0 when there is none), which keeps captures
in time order; the reader adds a warning saying how many records this affected. Their captured
length is ``min(original length, snap length of the section's first interface)`` (snap length 0
meaning unlimited), as libpcap and Wireshark compute it.

Timestamps that do not fit in int64 nanoseconds (beyond the year 2262) wrap around modulo
2**64, i.e. a 64-bit count just below 2**64 reads as a small negative time; tshark shows such
values as dates in the far future. A warning says which interface had them.

Structural checks (each a :class:`CaptureError` naming the byte offset): block lengths that are
below the minimum or not a multiple of 4, header and trailer lengths that differ, options that
run past their block, captured lengths that do not fit in their block, exceed the original
length or exceed the snap length by more than 256 KiB, and packets on an interface that the
section has not described.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import CaptureError, TruncatedCaptureError
from ._common import MAX_BLOCK, Columns, caplen_limit, gather, units_to_ns, walk_epb
from .records import InterfaceInfo

__all__ = ["PCAPNG_MAGIC", "PcapngParser"]

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
SHB = 0x0A0D0D0A
IDB = 1
PB = 2
SPB = 3
ISB = 5
EPB = 6

_BOM_BE = b"\x1a\x2b\x3c\x4d"
_BOM_LE = b"\x4d\x3c\x2b\x1a"

BLOCK_NAMES = {
    SHB: "Section Header Block",
    IDB: "Interface Description Block",
    PB: "Packet Block",
    SPB: "Simple Packet Block",
    4: "Name Resolution Block",
    ISB: "Interface Statistics Block",
    EPB: "Enhanced Packet Block",
    9: "systemd Journal Export Block",
    10: "Decryption Secrets Block",
    0x00000BAD: "Custom Block",
    0x40000BAD: "Custom Block",
}

_AFTER_1990_NS = 631_152_000 * 10**9
"""1990-01-01 UTC in nanoseconds: a statistics block's time before it is read in microseconds
(see :meth:`PcapngParser._isb_time`)."""

_MIN_LEN = {SHB: 28, IDB: 20, PB: 32, SPB: 16, EPB: 32}


def _text(val: bytes) -> str:
    """A UTF-8 option value, cut at the first NUL (some writers add a C terminator)."""
    return val.split(b"\x00", 1)[0].decode("utf-8", "replace")


def block_name(btype: int) -> str:
    """A human name for a block type."""
    return BLOCK_NAMES.get(btype, f"block of type 0x{btype:08x}")


@dataclass
class _Iface:
    info: InterfaceInfo
    kind: str = "d"
    exp: int = 6
    offset_s: int = 0
    limit: int = 0
    overflow_warned: bool = False


@dataclass
class _Section:
    endian: str
    offset: int
    local: list[int] = field(default_factory=list)
    """Global interface index of each of this section's IDBs, in order."""
    application: str | None = None
    """The section header's ``shb_userappl`` option: the program that wrote the section."""


def _first_shb_error(path: str, message: str, where: str) -> CaptureError:
    return CaptureError(message, path=path, where=where)


class PcapngParser:
    """Walks the blocks of a pcapng stream, a buffer at a time."""

    format = "pcapng"

    def __init__(self, head: bytes, path: str, warnings: list[str]) -> None:
        self.path = path
        self.warnings = warnings
        self.interfaces: list[InterfaceInfo] = []
        self._ifaces: list[_Iface] = []
        self._section: _Section | None = None
        self._sections = 0
        self._last_ts = 0
        self._spb_count = 0
        self.start = self._first_shb(head)

    @property
    def state(self) -> tuple[int, int, int, str]:
        """What decides how the next blocks read: sections and interfaces seen so far, Simple
        Packet Blocks so far (their timestamps continue the packet before them) and the byte
        order of the current section. Two readers in the same state read a block alike."""
        endian = self._section.endian if self._section is not None else ""
        return self._sections, len(self.interfaces), self._spb_count, endian

    # ------------------------------------------------------------------ section header
    @staticmethod
    def first_block_len(head: bytes) -> int | None:
        """Total length of the Section Header Block at the start of ``head``, if readable."""
        if len(head) < 12:
            return None
        bom = head[8:12]
        endian = "<" if bom == _BOM_LE else ">" if bom == _BOM_BE else None
        if endian is None:
            return None
        return int(struct.unpack_from(endian + "I", head, 4)[0])

    def _first_shb(self, head: bytes) -> int:
        if len(head) < 12:
            raise TruncatedCaptureError(
                f"file ends inside the pcapng Section Header Block (only {len(head)} bytes)",
                path=self.path,
                where=f"byte {len(head)}",
            )
        endian = self._bom(head, 0, 0)
        blen = struct.unpack_from(endian + "I", head, 4)[0]
        self._check_len(SHB, blen, 0)
        if len(head) < blen:
            raise TruncatedCaptureError(
                f"file ends inside the pcapng Section Header Block ({len(head)} of {blen} bytes)",
                path=self.path,
                where=f"byte {len(head)}",
            )
        self._shb(head, 0, 0, blen)
        return blen

    def _bom(self, buf: bytes | bytearray, pos: int, base: int) -> str:
        bom = buf[pos + 8 : pos + 12]
        if bom == _BOM_LE:
            return "<"
        if bom == _BOM_BE:
            return ">"
        raise CaptureError(
            f"Section Header Block has byte-order magic {bom.hex(' ')}; expected 1a 2b 3c 4d "
            f"in either byte order",
            path=self.path,
            where=f"byte {base + pos + 8}",
        )

    def _shb(self, buf: bytes | bytearray, pos: int, base: int, blen: int) -> None:
        endian = self._bom(buf, pos, base)
        self._check_trailer(buf, pos, base, SHB, blen, endian)
        vmaj, vmin = struct.unpack_from(endian + "HH", buf, pos + 12)
        if vmaj != 1 or vmin > 2:
            raise CaptureError(
                f"unsupported pcapng savefile version {vmaj}.{vmin} in the Section Header "
                f"Block; expected version 1.0",
                path=self.path,
                where=f"byte {base + pos + 12}",
            )
        application = None
        for code, val, _at in self._options(buf, pos + 24, pos + blen - 4, endian, SHB, pos, base):
            if code == 4:
                application = _text(val)
        self._section = _Section(endian=endian, offset=base + pos, application=application)
        self._sections += 1

    # ------------------------------------------------------------------ generic checks
    def _check_len(self, btype: int, blen: int, at: int) -> None:
        minimum = _MIN_LEN.get(btype, 12)
        if blen < minimum or blen % 4:
            raise CaptureError(
                f"{block_name(btype)} has total length {blen}; expected a multiple of 4 "
                f"and at least {minimum}",
                path=self.path,
                where=f"byte {at}",
            )
        if blen > MAX_BLOCK:
            raise CaptureError(
                f"{block_name(btype)} has total length {blen}, more than the "
                f"{MAX_BLOCK >> 20} MiB this reader accepts; the file is corrupt",
                path=self.path,
                where=f"byte {at}",
            )

    def _check_trailer(
        self, buf: bytes | bytearray, pos: int, base: int, btype: int, blen: int, endian: str
    ) -> None:
        trailer = struct.unpack_from(endian + "I", buf, pos + blen - 4)[0]
        if trailer != blen:
            raise CaptureError(
                f"{block_name(btype)} has block total length {blen} in its header but "
                f"{trailer} in its trailer (byte {base + pos + blen - 4}); they must match, "
                f"the block is corrupt",
                path=self.path,
                where=f"byte {base + pos}",
            )

    def _options(
        self,
        buf: bytes | bytearray,
        start: int,
        end: int,
        endian: str,
        btype: int,
        pos: int,
        base: int,
    ) -> Iterator[tuple[int, bytes, int]]:
        """Yield (code, value, offset) for each option in ``buf[start:end]``; check lengths."""
        hdr = struct.Struct(endian + "HH").unpack_from
        p = start
        while p + 4 <= end:
            code, olen = hdr(buf, p)
            if code == 0:
                return
            stop = p + 4 + olen
            if stop > end:
                raise CaptureError(
                    f"option {code} at byte {base + p} of the {block_name(btype)} has length "
                    f"{olen}, which runs past the end of the block's options (byte {base + end}); "
                    f"the block is corrupt",
                    path=self.path,
                    where=f"byte {base + pos}",
                )
            yield code, bytes(buf[p + 4 : stop]), p
            p = stop + (-olen % 4)
        if p < end:
            raise CaptureError(
                f"{end - p} stray bytes after the options of the {block_name(btype)} "
                f"(byte {base + p}); expected a 4-byte option header",
                path=self.path,
                where=f"byte {base + pos}",
            )

    # ------------------------------------------------------------------ interfaces
    def _idb(self, buf: bytes | bytearray, pos: int, base: int, blen: int) -> None:
        sec = self._section
        assert sec is not None
        e = sec.endian
        linktype, _res, snaplen = struct.unpack_from(e + "HHI", buf, pos + 8)
        name = desc = None
        kind, exp, offset_s = "d", 6, 0
        for code, val, at in self._options(buf, pos + 16, pos + blen - 4, e, IDB, pos, base):
            if code == 2:
                name = _text(val)
            elif code == 3:
                desc = _text(val)
            elif code == 9:
                if len(val) != 1:
                    raise CaptureError(
                        f"if_tsresol option at byte {base + at} has length {len(val)}; expected 1",
                        path=self.path,
                        where=f"byte {base + pos}",
                    )
                kind, exp = ("b", val[0] & 0x7F) if val[0] & 0x80 else ("d", val[0])
            elif code == 14:
                if len(val) != 8:
                    raise CaptureError(
                        f"if_tsoffset option at byte {base + at} has length {len(val)}; expected 8",
                        path=self.path,
                        where=f"byte {base + pos}",
                    )
                offset_s = struct.unpack(e + "q", val)[0]
        index = len(self.interfaces)
        info = InterfaceInfo(
            index=index,
            linktype=linktype,
            name=name,
            description=desc,
            snaplen=snaplen,
            application=sec.application,
        )
        self.interfaces.append(info)
        self._ifaces.append(
            _Iface(info=info, kind=kind, exp=exp, offset_s=offset_s, limit=caplen_limit(snaplen))
        )
        sec.local.append(index)

    def _isb(self, buf: bytes | bytearray, pos: int, base: int, blen: int) -> None:
        """An Interface Statistics Block: when capturing stopped and what was dropped, kept on
        its interface (a block that names no interface of its section is left, with a
        warning: it holds no packet)."""
        sec = self._section
        assert sec is not None
        e = sec.endian
        if blen < 24:
            self.warnings.append(
                f"{self.path}: byte {base + pos}: Interface Statistics Block of total length "
                f"{blen} is shorter than its 24-byte minimum; left out"
            )
            return
        local = struct.unpack_from(e + "I", buf, pos + 8)[0]
        if local >= len(sec.local):
            self.warnings.append(
                f"{self.path}: byte {base + pos}: Interface Statistics Block names interface "
                f"{local} but its section has {len(sec.local)}; left out"
            )
            return
        index = sec.local[local]
        stopped: int | None = None
        drops: list[int] = []
        try:
            options = list(self._options(buf, pos + 20, pos + blen - 4, e, ISB, pos, base))
        except CaptureError as exc:
            self.warnings.append(f"{self.path}: byte {base + pos}: {exc.message}; left out")
            return
        for code, val, _at in options:
            if code == 3 and len(val) == 8:  # isb_endtime: high and low 32 bits, as an EPB's
                hi, lo = struct.unpack(e + "II", val)
                stopped = self._isb_time((hi << 32) | lo, index, base + pos)
            elif code in (5, 7) and len(val) == 8:  # isb_ifdrop, isb_osdrop
                drops.append(struct.unpack(e + "Q", val)[0])
        info = self.interfaces[index]
        if stopped is not None and (info.stopped_ns is None or stopped > info.stopped_ns):
            info = replace(info, stopped_ns=stopped)
        if drops:
            info = replace(info, dropped=sum(drops))
        self.interfaces[index] = self._ifaces[index].info = info

    def _isb_time(self, units: int, iface: int, at: int) -> int:
        """An Interface Statistics Block's time in nanoseconds: in the interface's resolution
        (the format's rule), or in microseconds when only that gives a time after 1990 (dumpcap
        writes them so whatever ``if_tsresol`` says: seen in Wireshark 4.0's, and in
        pcapplusplus' example files)."""
        ns = int(self._ts(np.array([units], dtype=np.uint64), iface, at)[0])
        if ns < _AFTER_1990_NS and _AFTER_1990_NS <= units * 1000 < 1 << 63:
            return units * 1000
        return ns

    def _ts(self, units: np.ndarray, iface: int, first_offset: int) -> np.ndarray:
        it = self._ifaces[iface]
        ts, over = units_to_ns(units, it.kind, it.exp, it.offset_s)
        if over and not it.overflow_warned:
            it.overflow_warned = True
            nm = it.info.name or f"if{iface}"
            self.warnings.append(
                f"{self.path}: byte {first_offset}: interface {iface} ({nm}) has timestamps "
                f"beyond the year 2262 that do not fit in int64 nanoseconds; they wrap around "
                f"modulo 2**64 (tshark shows them as far-future dates)"
            )
        return ts

    # ------------------------------------------------------------------ the walk
    def parse(
        self, buf: bytes | bytearray, pos: int, base: int, frames_before: int
    ) -> tuple[Columns | None, int, int]:
        """Parse the complete blocks in ``buf[pos:]``.

        ``base`` is the stream offset of ``buf[0]``. Gives (columns or None, position after
        the last complete block, bytes needed from that position to make progress).
        """
        end = len(buf)
        parts: list[np.ndarray] = []  # offsets of the packet blocks, in order
        count = 0
        special: dict[int, tuple[int, int, int, int, int, str | None]] = {}
        # (first row, section, number of interfaces of the section) at each change
        segments: list[tuple[int, _Section, int]] = []
        sec = self._section
        assert sec is not None
        segments.append((0, sec, len(sec.local)))
        need = 12
        while True:
            sec = self._section
            assert sec is not None
            offs, pos = walk_epb(buf, pos, sec.endian == ">")
            if offs.size:
                parts.append(offs)
                count += offs.size
            if pos + 8 > end:
                need = 12
                break
            btype, blen = struct.unpack_from(sec.endian + "II", buf, pos)
            # slow path: anything but a complete EPB of sane size
            if btype == SHB:
                if pos + 12 > end:
                    need = 12
                    break
                endian = self._bom(buf, pos, base)
                blen = struct.unpack_from(endian + "I", buf, pos + 4)[0]
            self._check_len(btype, blen, base + pos)
            if pos + blen > end:
                need = blen
                break
            if btype == SHB:
                self._shb(buf, pos, base, blen)
                nsec = self._section
                assert nsec is not None
                segments.append((count, nsec, 0))
            elif btype == EPB:  # unreachable: _check_len rejected the short or odd length
                raise AssertionError("EPB in the slow path")  # pragma: no cover
            elif btype == IDB:
                self._check_trailer(buf, pos, base, btype, blen, sec.endian)
                self._idb(buf, pos, base, blen)
                segments.append((count, sec, len(sec.local)))
            elif btype == ISB:
                self._check_trailer(buf, pos, base, btype, blen, sec.endian)
                self._isb(buf, pos, base, blen)
            elif btype in (SPB, PB):
                self._check_trailer(buf, pos, base, btype, blen, sec.endian)
                special[count] = self._slow_packet(
                    buf, pos, base, blen, btype, frames_before + count + 1
                )
                parts.append(np.array([pos], dtype=np.int64))
                count += 1
            else:
                self._check_trailer(buf, pos, base, btype, blen, sec.endian)
            pos += blen
        if not count:
            return None, pos, need
        o = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return self._columns(buf, o, special, segments, base, frames_before), pos, need

    def _slow_packet(
        self, buf: bytes | bytearray, pos: int, base: int, blen: int, btype: int, frame: int
    ) -> tuple[int, int, int, int, int, str | None]:
        """(data offset, cap_len, wire_len, ts_ns or -1 for "none", interface, comment)."""
        sec = self._section
        assert sec is not None
        e = sec.endian
        where = f"byte {base + pos}"
        if btype == SPB:
            if not sec.local:
                raise CaptureError(
                    f"Simple Packet Block (record {frame}) in a section without an Interface "
                    f"Description Block; expected an IDB first",
                    path=self.path,
                    where=where,
                )
            orig = struct.unpack_from(e + "I", buf, pos + 8)[0]
            iface = sec.local[0]
            snap = self.interfaces[iface].snaplen or 0
            cap = min(orig, snap) if snap else orig
            if 16 + cap + (-cap % 4) > blen:
                raise CaptureError(
                    f"Simple Packet Block (record {frame}) of total length {blen} is too short "
                    f"for {cap} bytes of packet data (original length {orig}, snap length "
                    f"{snap}); the block is corrupt",
                    path=self.path,
                    where=where,
                )
            self._spb_count += 1
            return pos + 12, cap, orig, -1, iface, None
        # obsolete Packet Block: iface u16, drops u16, ts hi, ts lo, caplen, len, data, options
        local, _drops, hi, lo, cap, orig = struct.unpack_from(e + "HHIIII", buf, pos + 8)
        if local >= len(sec.local):
            raise CaptureError(
                f"Packet Block (record {frame}) names interface {local} but its section has "
                f"{len(sec.local)} interface(s)",
                path=self.path,
                where=where,
            )
        iface = sec.local[local]
        self._check_caplen(cap, orig, iface, blen, 28, "Packet Block", frame, where)
        comment = self._comment(buf, pos + 28 + cap + (-cap % 4), pos + blen - 4, e, PB, pos, base)
        units = np.array([(hi << 32) | lo], dtype=np.uint64)
        ts = int(self._ts(units, iface, base + pos)[0])
        return pos + 28, cap, orig, ts, iface, comment

    def _check_caplen(
        self,
        cap: int,
        orig: int,
        iface: int,
        blen: int,
        hdr: int,
        what: str,
        frame: int,
        where: str,
    ) -> None:
        if hdr + cap + (-cap % 4) + 4 > blen:
            raise CaptureError(
                f"{what} (record {frame}) claims {cap} captured bytes, which do not fit in "
                f"its block of total length {blen}; the block is corrupt",
                path=self.path,
                where=where,
            )
        if cap > orig:
            raise CaptureError(
                f"{what} (record {frame}) claims {cap} captured bytes but only {orig} bytes "
                f"on the wire; expected captured <= wire length, the block is corrupt",
                path=self.path,
                where=where,
            )
        it = self._ifaces[iface]
        if cap > it.limit:
            raise CaptureError(
                f"{what} (record {frame}) claims {cap} captured bytes, more than the snap "
                f"length {it.info.snaplen} of interface {iface} allows (at most {it.limit}); "
                f"the block is corrupt",
                path=self.path,
                where=where,
            )

    def _comment(
        self, buf: bytes | bytearray, start: int, end: int, e: str, btype: int, pos: int, base: int
    ) -> str | None:
        texts = [
            _text(val)
            for code, val, _at in self._options(buf, start, end, e, btype, pos, base)
            if code == 1
        ]
        return "\n".join(texts) if texts else None

    def _columns(
        self,
        buf: bytes | bytearray,
        o: np.ndarray,
        special: dict[int, tuple[int, int, int, int, int, str | None]],
        segments: list[tuple[int, _Section, int]],
        base: int,
        frames_before: int,
    ) -> Columns:
        n = o.shape[0]
        u8 = np.frombuffer(buf, dtype=np.uint8)
        data_off = o + 28
        cap = np.zeros(n, dtype=np.int64)
        wire = np.zeros(n, dtype=np.int64)
        ts = np.zeros(n, dtype=np.int64)
        iface = np.zeros(n, dtype=np.int64)
        comments: dict[int, str] = {}
        is_epb = np.ones(n, dtype=bool)
        if special:
            is_epb[list(special)] = False
        bounds = [s[0] for s in segments[1:]] + [n]
        for (start, sec, n_local), stop in zip(segments, bounds, strict=True):
            if stop <= start:
                continue
            rows = np.arange(start, stop, dtype=np.int64)[is_epb[start:stop]]
            if rows.size == 0:
                continue
            self._epb_rows(
                buf, u8, o, rows, sec, n_local, base, frames_before, cap, wire, ts, iface, comments
            )
        for row, (doff, c, w, t, i, comment) in special.items():
            data_off[row] = doff
            cap[row] = c
            wire[row] = w
            ts[row] = t
            iface[row] = i
            if comment is not None:
                comments[row] = comment
        # Simple Packet Blocks (ts -1 from the slow path) take the preceding packet's time.
        for row in sorted(special):
            if special[row][3] == -1:
                ts[row] = ts[row - 1] if row > 0 else self._last_ts
        self._last_ts = int(ts[-1])
        lt_of = np.array([i.linktype for i in self.interfaces], dtype=np.int64)
        return Columns(
            offsets=data_off,
            cap_len=cap,
            wire_len=wire,
            ts_ns=ts,
            linktype=lt_of[iface],
            interface=iface,
            comments=comments,
        )

    def _epb_rows(
        self,
        buf: bytes | bytearray,
        u8: np.ndarray,
        o: np.ndarray,
        rows: np.ndarray,
        sec: _Section,
        n_local: int,
        base: int,
        frames_before: int,
        cap: np.ndarray,
        wire: np.ndarray,
        ts: np.ndarray,
        iface: np.ndarray,
        comments: dict[int, str],
    ) -> None:
        e = sec.endian
        u4 = np.dtype(e + "u4")
        bo = o[rows]
        hdr = gather(u8, bo, 28).view(u4).astype(np.int64)
        blen = hdr[:, 1]
        local = hdr[:, 2]
        c = hdr[:, 5]
        w = hdr[:, 6]
        padded = c + (-c % 4)
        trailer = gather(u8, bo + blen - 4, 4).view(u4)[:, 0].astype(np.int64)
        local_arr = np.array(sec.local[:n_local] or [0], dtype=np.int64)
        limits = np.array([it.limit for it in self._ifaces] or [0], dtype=np.int64)
        bad_iface = local >= n_local
        g = local_arr[np.where(bad_iface, 0, local)]
        bad = (
            (blen % 4 != 0)
            | (trailer != blen)
            | (32 + padded > blen)
            | bad_iface
            | (c > w)
            | (c > limits[g])
        )
        if bad.any():
            k = int(np.argmax(bad))
            self._epb_error(buf, int(bo[k]), base, frames_before + int(rows[k]) + 1, sec, n_local)
        cap[rows] = c
        wire[rows] = w
        iface[rows] = g
        units = (hdr[:, 3].astype(np.uint64) << np.uint64(32)) | hdr[:, 4].astype(np.uint64)
        for gi in np.unique(g).tolist():
            m = g == gi
            first = base + int(bo[int(np.argmax(m))])
            ts[rows[m]] = self._ts(units[m], gi, first)
        with_opts = np.nonzero(blen > 32 + padded)[0]
        if with_opts.size == 0:
            return
        # Walk the options of all these blocks in lockstep (option k of every block at once);
        # blocks with a comment, a bad option or very many options go to the Python walk.
        start = bo[with_opts] + 28 + padded[with_opts]
        stop = bo[with_opts] + blen[with_opts] - 4
        slow = np.zeros(with_opts.size, dtype=bool)
        p = start.copy()
        active = np.arange(with_opts.size)
        u2 = np.dtype(e + "u2")
        for _ in range(16):
            if active.size == 0:
                break
            pa = p[active]
            head = gather(u8, pa, 4).view(u2).astype(np.int64)
            code, olen = head[:, 0], head[:, 1]
            nxt = pa + 4 + olen + (-olen % 4)
            bad = (code == 1) | ((code != 0) & (pa + 4 + olen > stop[active]))
            slow[active[bad]] = True
            go_on = (code != 0) & ~bad & (nxt < stop[active])
            p[active] = nxt
            active = active[go_on]
        slow[active] = True
        for k in with_opts[slow].tolist():
            q = int(bo[k])
            comment = self._comment(
                buf, q + 28 + int(padded[k]), q + int(blen[k]) - 4, e, EPB, q, base
            )
            if comment is not None:
                comments[int(rows[k])] = comment

    def _epb_error(
        self, buf: bytes | bytearray, pos: int, base: int, frame: int, sec: _Section, n_local: int
    ) -> None:
        e = sec.endian
        where = f"byte {base + pos}"
        _t, blen, local, _hi, _lo, c, w = struct.unpack_from(e + "7I", buf, pos)
        self._check_len(EPB, blen, base + pos)
        self._check_trailer(buf, pos, base, EPB, blen, e)
        if local >= n_local:
            raise CaptureError(
                f"Enhanced Packet Block (record {frame}) names interface {local} but its "
                f"section has described {n_local} interface(s) so far",
                path=self.path,
                where=where,
            )
        self._check_caplen(c, w, sec.local[local], blen, 28, "Enhanced Packet Block", frame, where)
        raise AssertionError("unreachable: EPB flagged but no check failed")  # pragma: no cover

    # ------------------------------------------------------------------ end of data
    def finish(self) -> None:
        """Add the end-of-stream warnings (records without timestamps)."""
        if self._spb_count:
            self.warnings.append(
                f"{self.path}: {self._spb_count} Simple Packet Block(s) carry no timestamp "
                f"(tshark shows none); each was given the timestamp of the packet before it"
            )

    def describe_partial(
        self, buf: bytes | bytearray, pos: int, base: int, frames_before: int
    ) -> str:
        """Warning text for a stream that ends inside the block starting at ``buf[pos]``."""
        have = len(buf) - pos
        sec = self._section
        assert sec is not None
        if have < 8:
            return (
                f"{self.path}: byte {base + pos}: file ends inside a block header "
                f"({have} of 8 bytes); the partial block is left out"
            )
        btype, blen = struct.unpack_from(sec.endian + "II", buf, pos)
        what = block_name(btype)
        if btype in (EPB, SPB, PB):
            what += f", record {frames_before + 1}"
        return (
            f"{self.path}: byte {base + pos}: file ends inside a block ({what}, {have} of "
            f"{blen} bytes); the partial block is left out"
        )
