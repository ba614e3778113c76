"""Opening captures and streaming their records as :class:`RecordBatch` objects.

The data is read in large chunks (8 MiB by default). A chunk is walked record header by record
header in a tight loop that only collects offsets; timestamps, lengths and interfaces are then
extracted for the whole chunk at once with NumPy. Each batch's ``data`` is the chunk itself
(record headers included, hence "with gaps"), so nothing is copied per record and memory stays
bounded by a few chunks whatever the file size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

from ..errors import CaptureError, TruncatedCaptureError
from ._common import MAX_BLOCK, Columns
from ._source import COMPRESSION_MAGICS, Source, open_source
from .pcap import PCAP_MAGICS, PcapParser, parse_header
from .pcapng import PCAPNG_MAGIC, PcapngParser
from .records import InterfaceInfo, RecordBatch

__all__ = ["CHUNK_SIZE", "CaptureReader", "label_for", "open_capture", "parse_capture_arg"]

CHUNK_SIZE = 8 * 1024 * 1024
"""Bytes of decompressed data read at a time."""

MAX_RECORDS_PER_COMPRESSED_BYTE = 8
"""A compressed capture may hold at most this many records per compressed byte (once past
:data:`RECORDS_FLOOR` records). A real record is at least 16 + 14 bytes of header and frame and
compresses at best ~1000:1, so only a bomb of empty records (130 KB of gzip holding 8.4 M of
them) comes near: it is refused with a :class:`CaptureError` before it fills memory."""
RECORDS_FLOOR = 1 << 16

_HEAD_SIZE = 64 * 1024
_COMPRESSION_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".zst", ".zstd", ".lzma")


def label_for(path: str) -> str:
    """The default capture label of a path: its file name without compression and capture
    suffixes (``"dir/pod.pcap.gz"`` -> ``"pod"``); ``"stdin"`` for ``"-"``."""
    if path == "-":
        return "stdin"
    name = Path(path).name
    lower = name.lower()
    for suf in _COMPRESSION_SUFFIXES:
        if lower.endswith(suf) and len(name) > len(suf):
            name = name[: -len(suf)]
            break
    stem = Path(name).stem
    return stem or name or path


def parse_capture_arg(arg: str) -> tuple[str, str]:
    """Split a command-line capture argument into (label, path).

    ``"label=path"`` gives ``(label, path)``, ``"path"`` gives ``(label_for(path), path)`` and
    ``"-"`` gives ``("stdin", "-")``. An argument that names an existing file is always a path,
    even when it contains ``=``; so is one whose part before ``=`` contains a path separator.
    """
    if arg == "-" or os.path.exists(arg) or "=" not in arg:
        return label_for(arg), arg
    label, _, path = arg.partition("=")
    if "/" in label or os.sep in label:
        return label_for(arg), arg
    if not label:
        raise CaptureError(f"empty label in capture argument {arg!r}; expected LABEL=PATH or PATH")
    if not path:
        raise CaptureError(f"empty path in capture argument {arg!r}; expected LABEL=PATH or PATH")
    return label, path


def _describe_head(head: bytes) -> str:
    shown = head[:8].hex(" ")
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:8]):
        return f"{shown} ({head[:8].decode('ascii')!r}: looks like text, not a capture file)"
    return shown


class CaptureReader:
    """A capture file opened for streaming. Use :func:`open_capture` to make one.

    Attributes: ``path`` (as given, ``"-"`` for stdin), ``label``, ``size`` (bytes on disk,
    compressed size, ``None`` when unknown), ``bytes_read`` (on-disk bytes consumed so far),
    ``interfaces`` (all interfaces seen so far), ``warnings`` (one-line messages about
    recoverable problems such as a truncated last record), ``format`` (``"pcap"`` or
    ``"pcapng"``) and ``compression`` (``None``, ``"gzip"``, ``"bzip2"``, ``"xz"``, ``"zstd"``).

    Classic pcap records have ``interface == -1`` (the file has no interfaces; ``interfaces``
    holds one entry that describes the file header). pcapng records index ``interfaces``.
    """

    def __init__(
        self,
        source: Source,
        size: int | None,
        label: str,
        chunk_size: int | None = None,
        *,
        shift: int = 0,
        frames_before: int = 0,
    ) -> None:
        # ``shift``: file offset minus stream offset of the records (a range of a file read
        # after its file header, see read.split); ``frames_before``: records before them.
        self._source = source
        self._shift = shift
        self.path: str = source.path
        self.label: str = label
        self.size: int | None = size
        self.warnings: list[str] = []
        self.compression: str | None = source.compression
        self._chunk = max(1, int(CHUNK_SIZE if chunk_size is None else chunk_size))
        self._frames = frames_before
        self._closed = False
        self._done = False
        self._clean = False
        self._next_record = 0
        self.partial_warnings: list[str] = []
        """The warnings that say the data ended inside a record (also in ``warnings``)."""
        try:
            self._open()
        except BaseException:
            source.close()
            raise

    # ------------------------------------------------------------------ opening
    def _where_kind(self) -> str:
        return f" ({self.compression}-compressed)" if self.compression else ""

    def _open(self) -> None:
        # a small chunk (live streams) reads no more than the file header needs before parsing
        head_size = max(28, min(max(_HEAD_SIZE, 64), self._chunk))
        head = self._source.read(head_size)
        if not head:
            if self.compression and self._source.truncated_compression:
                raise TruncatedCaptureError(
                    f"the {self.compression} stream ends before any data could be decompressed "
                    f"(the compressed file is truncated); expected a capture",
                    path=self.path,
                )
            if self.compression:
                msg = f"the {self.compression} data decompresses to nothing; expected a capture"
            else:
                msg = "file is empty (0 bytes); expected a pcap or pcapng capture"
            raise CaptureError(msg, path=self.path)
        magic = head[:4]
        parser: PcapParser | PcapngParser
        if magic in PCAP_MAGICS:
            header = parse_header(head, self.path)
            parser = PcapParser(header, self.path, self.warnings)
            self.format = "pcap"
        elif magic == PCAPNG_MAGIC:
            want = PcapngParser.first_block_len(head)
            if want is not None and len(head) < want <= MAX_BLOCK:
                head += self._source.read(want - len(head))
            parser = PcapngParser(head, self.path, self.warnings)
            self.format = "pcapng"
        else:
            expected = (
                "a pcap magic (d4 c3 b2 a1, a1 b2 c3 d4, 4d 3c b2 a1 or a1 b2 3c 4d), "
                "a pcapng Section Header Block (0a 0d 0d 0a)"
            )
            if self.compression is None:
                expected += (
                    " or "
                    + ", ".join(
                        f"{name} ({magic_.hex(' ')})" for name, magic_ in COMPRESSION_MAGICS
                    )
                    + " compression"
                )
            too_short = len(head) < 4 and any(
                m.startswith(head) for m in (*PCAP_MAGICS, PCAPNG_MAGIC)
            )
            cls = TruncatedCaptureError if too_short else CaptureError
            raise cls(
                f"not a pcap or pcapng capture{self._where_kind()}: the first bytes are "
                f"{_describe_head(head)}; expected {expected}",
                path=self.path,
                where="byte 0",
            )
        self._parser = parser
        self._buf: bytes | bytearray = head
        self._pos = parser.start
        self._base = self._shift
        self._eof = len(head) < head_size
        self._pending: list[tuple[Columns, bytes | bytearray, int, int]] = []
        self._need = 0
        self._step()

    # ------------------------------------------------------------------ public surface
    @property
    def bytes_read(self) -> int:
        """On-disk (compressed) bytes consumed so far."""
        return self._source.bytes_read

    @property
    def ended_cleanly(self) -> bool:
        """True once every batch was read and the data ended exactly after a complete record."""
        return self._clean

    @property
    def next_record_offset(self) -> int:
        """Once every batch was read: the offset just after the last complete record (in the
        file; in the decompressed stream for compressed data)."""
        return self._next_record

    @property
    def interfaces(self) -> list[InterfaceInfo]:
        """All interfaces seen so far (pcapng: IDB order across sections)."""
        return list(self._parser.interfaces)

    @property
    def parser_state(self) -> object:
        """The parser's state (pcapng: see ``PcapngParser.state``; classic pcap: None)."""
        return getattr(self._parser, "state", None)

    def _step(self) -> None:
        """Parse what the buffer holds; queue the resulting columns."""
        cols, self._pos, self._need = self._parser.parse(
            self._buf, self._pos, self._base, self._frames
        )
        if cols is not None:
            self._pending.append((cols, self._buf, self._frames + 1, 0))
            self._frames += len(cols)
            self._check_ratio()

    def _check_ratio(self) -> None:
        if not self.compression or self._frames <= RECORDS_FLOOR:
            return
        packed = max(1, self._source.bytes_consumed)
        if self._frames > MAX_RECORDS_PER_COMPRESSED_BYTE * packed:
            raise CaptureError(
                f"refusing the capture: {self._frames} records came out of the first {packed} "
                f"{self.compression}-compressed bytes, more than "
                f"{MAX_RECORDS_PER_COMPRESSED_BYTE} per byte (a decompression bomb of "
                f"empty records?)",
                path=self.path,
                where=f"record {self._frames}",
            )

    def _fill(self) -> bool:
        """Read the next chunk; False at the end of the data."""
        if self._eof:
            return False
        have = len(self._buf) - self._pos
        want = max(self._chunk, self._need - have)
        buf = self._source.read_after(self._buf[self._pos :], want)
        got = len(buf) - have
        if got < want:
            self._eof = True
        if not got:
            return False
        self._base += self._pos
        self._buf = buf
        self._pos = 0
        return True

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._clean = self._pos >= len(self._buf) and not self._source.truncated_compression
        self._next_record = self._base + self._pos
        if self._pos < len(self._buf):
            partial = self._parser.describe_partial(self._buf, self._pos, self._base, self._frames)
            self.warnings.append(partial)
            self.partial_warnings.append(partial)
        trailing = self._source.trailing
        if trailing is not None:
            at, n = trailing
            self.warnings.append(
                f"{self.path}: byte {at}: the {self.compression} data is followed by "
                f"{n}{'+' if n >= 4096 else ''} byte(s) that are not {self.compression} data "
                f"(trailing garbage); the data before them is kept"
            )
        if self._source.truncated_compression:
            self.warnings.append(
                f"{self.path}: the {self.compression} stream ends before its end-of-stream "
                f"marker (the compressed file is truncated); records up to that point are kept"
            )
        finish = getattr(self._parser, "finish", None)
        if finish is not None:
            finish()

    def batches(self, max_frames: int = 32768) -> Iterator[RecordBatch]:
        """Stream the records as batches of at most ``max_frames`` records, in file order.

        Single pass: a second call continues where the first stopped. Raises
        :class:`CaptureError` for corrupt data; a file cut inside its last record gives the
        complete records and a line in ``warnings``.
        """
        if max_frames < 1:
            raise ValueError("max_frames must be at least 1")
        if self._closed:
            raise CaptureError("the capture reader is closed", path=self.path)
        while True:
            while self._pending:
                yield self._next_batch(max_frames)
            if self._done:
                return
            if not self._fill():
                self._finish()
                continue
            self._step()

    def _next_batch(self, max_frames: int) -> RecordBatch:
        """Cut the next batch off the first pending piece (the cut point survives between
        calls of :meth:`batches`)."""
        cols, buf, first, lo = self._pending[0]
        n = len(cols)
        hi = min(n, lo + max_frames)
        if hi == n:
            self._pending.pop(0)
        else:
            self._pending[0] = (cols, buf, first, hi)
        comments = {k - lo: v for k, v in cols.comments.items() if lo <= k < hi}
        return RecordBatch(
            capture=self.label,
            data=np.frombuffer(buf, dtype=np.uint8),
            offsets=cols.offsets[lo:hi],
            cap_len=cols.cap_len[lo:hi],
            wire_len=cols.wire_len[lo:hi],
            ts_ns=cols.ts_ns[lo:hi],
            linktype=cols.linktype[lo:hi],
            frame_no=np.arange(first + lo, first + hi, dtype=np.int64),
            interface=cols.interface[lo:hi],
            interfaces=tuple(self._parser.interfaces),
            comments=comments,
        )

    def close(self) -> None:
        """Close the file (if this reader opened it) and any decompressor."""
        if not self._closed:
            self._closed = True
            self._source.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"CaptureReader(path={self.path!r}, label={self.label!r}, format={self.format!r}, "
            f"compression={self.compression!r}, interfaces={len(self._parser.interfaces)})"
        )


def open_capture(
    source: str | os.PathLike[str] | BinaryIO, label: str | None = None
) -> CaptureReader:
    """Open a capture for streaming: a path, ``"-"`` for standard input, or a binary file object.

    The format (pcap or pcapng) and compression (gzip, bzip2, xz, zstd) are recognised from the
    first bytes. The label defaults to the file stem without suffixes (``"stdin"`` for stdin and
    unnamed file objects). Raises :class:`CaptureError` (never ``OSError``) when the file is
    missing, a directory, empty, of an unknown format or has a bad header.
    """
    src, size = open_source(source)
    if label is None:
        label = label_for(src.path)
    return CaptureReader(src, size, label)
