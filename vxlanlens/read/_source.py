"""Byte sources for the capture readers: files, stdin or file objects, possibly compressed.

Compression is recognised by the first bytes of the stream, never by the file name (a zstd
file may start with a skippable frame). The source counts the *compressed* bytes it has
consumed so that a progress bar can compare them with the file size.

Concatenated gzip members and zstd frames are read one after the other; zstd skippable frames
are skipped, and so are zero bytes between or after them (padding, which gzip and xz accept).
Bytes after the last member/frame that start no new one (trailing garbage) end the data: what
was decompressed is kept and ``Source.trailing`` says where the garbage starts (the reader
turns that into a warning). The same holds for concatenated bzip2 and xz streams.
"""

from __future__ import annotations

import bz2
import io
import lzma
import os
import sys
import zlib
from typing import BinaryIO

from ..errors import CaptureError

__all__ = ["COMPRESSION_MAGICS", "Source", "is_zstd_skippable", "open_source"]

# (name, magic bytes) in the order they are tried.
COMPRESSION_MAGICS: tuple[tuple[str, bytes], ...] = (
    ("gzip", b"\x1f\x8b"),
    ("bzip2", b"BZh"),
    ("xz", b"\xfd7zXZ\x00"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
)

_SNIFF = 8
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_PIECE = 128 * 1024
_SPARES = 3
"""Buffers :meth:`Source.read_after` keeps for reuse (the reader holds one, its batches another)."""


def is_zstd_skippable(head: bytes) -> bool:
    """Whether ``head`` starts with the magic of a zstd skippable frame (50..5f 2a 4d 18)."""
    return len(head) >= 4 and head[1:4] == b"\x2a\x4d\x18" and head[0] & 0xF0 == 0x50


class _CountingReader(io.RawIOBase):
    """A raw reader over a binary file object that serves ``prefix`` first and counts bytes.

    ``count`` is the number of bytes taken from the underlying object (the prefix included,
    since it was read from it while sniffing).
    """

    def __init__(self, raw: BinaryIO, prefix: bytes) -> None:
        super().__init__()
        self._raw = raw
        self._prefix = prefix
        self.count = len(prefix)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        # the views released on return, not when the frame goes: a frame still referred to
        # (a profiler's, a debugger's) would keep them, and ``b``'s buffer could not be resized
        with memoryview(b) as whole, whole.cast("B") as view:
            return self._readinto(view)

    def _readinto(self, view: memoryview) -> int:
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        into = getattr(self._raw, "readinto", None)
        if into is not None:  # straight into the caller's buffer, no intermediate bytes
            got = into(view)
            n = int(got or 0)
            self.count += n
            return n
        data = self._raw.read(len(view))
        if not data:
            return 0
        n = len(data)
        view[:n] = data
        self.count += n
        return n

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        if self._prefix:
            if size is None or size < 0:
                out = self._prefix + self._raw.read()
                self.count += len(out) - len(self._prefix)
                self._prefix = b""
                return out
            out = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return out
        data = self._raw.read(size) if size is not None and size >= 0 else self._raw.read()
        data = bytes(data or b"")
        self.count += len(data)
        return data


class Source:
    """A decompressed byte stream with a compressed-bytes counter.

    ``read(n)`` returns exactly ``n`` bytes unless the stream ends first. A compressed stream
    that stops before its end-of-stream marker is treated as the end of the data and noted in
    ``truncated_compression`` (the reader turns that into a warning).
    """

    def __init__(
        self,
        path: str,
        counter: _CountingReader,
        stream: BinaryIO | _CountingReader,
        compression: str | None,
        owned: BinaryIO | None,
    ) -> None:
        self.path = path
        self.compression = compression
        self._counter = counter
        self._stream = stream
        # read1 returns after one read of the underlying data, so that an EOFError from a
        # truncated compressed stream cannot swallow bytes that were already decompressed.
        self._read = getattr(stream, "read1", None) or stream.read
        self._owned = owned
        self._spares: list[bytearray] = []  # buffers handed out by read_after, kept for reuse
        self._eof = False
        self.truncated_compression = False
        self.offset = 0
        """Decompressed bytes handed out so far."""

    @property
    def bytes_read(self) -> int:
        """Compressed (on-disk) bytes consumed so far."""
        return self._counter.count

    @property
    def bytes_consumed(self) -> int:
        """Compressed bytes the decompressor has taken in so far (``bytes_read`` less what was
        read ahead; the same as ``bytes_read`` when that is unknown)."""
        consumed = getattr(self._stream, "consumed", None)
        return self._counter.count if consumed is None else int(consumed)

    @property
    def trailing(self) -> tuple[int, int] | None:
        """(on-disk offset, bytes seen) of trailing garbage after the compressed data, if any."""
        return getattr(self._stream, "trailing", None)

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the data."""
        if self._eof or n <= 0:
            return b""
        parts: list[bytes] = []
        want = n
        while want > 0:
            try:
                data = self._read(want)
            except EOFError:
                # A compressed stream cut before its end marker: what came out is all there is.
                self.truncated_compression = True
                data = b""
            except (OSError, zlib.error, lzma.LZMAError, ValueError) as exc:
                raise CaptureError(
                    f"the {self.compression or 'file'} data cannot be read: "
                    f"{_one_line(exc)} (after {self.offset + n - want} bytes of "
                    f"{'decompressed ' if self.compression else ''}data)",
                    path=self.path,
                ) from exc
            except Exception as exc:  # zstandard.ZstdError and friends
                if self.compression == "zstd":
                    raise CaptureError(
                        f"the zstd data cannot be read: {_one_line(exc)}", path=self.path
                    ) from exc
                raise
            if not data:
                self._eof = True
                break
            parts.append(data)
            want -= len(data)
        out = parts[0] if len(parts) == 1 else b"".join(parts)
        self.offset += len(out)
        return out

    def read_after(self, head: bytes | bytearray, n: int) -> bytes | bytearray:
        """``head`` followed by the next ``n`` bytes (fewer only at the end of the data).

        Uncompressed data is read straight into one new buffer after ``head`` (a
        ``bytearray``): the chunk is copied once, from the file, instead of once into a
        ``bytes`` and again when joined to ``head``.
        """
        if self._stream is not self._counter or self._eof or n <= 0:
            return head + self.read(n)
        out = self._buffer(len(head) + n)
        out[: len(head)] = head
        view = memoryview(out)
        at = len(head)
        try:
            while at < len(out):
                with view[at:] as rest:  # released now, whoever keeps the frame (see readinto)
                    got = self._counter.readinto(rest)
                if not got:
                    self._eof = True
                    break
                at += got
        except OSError as exc:
            raise CaptureError(
                f"the file data cannot be read: {_one_line(exc)} (after "
                f"{self.offset + at - len(head)} bytes of data)",
                path=self.path,
            ) from exc
        finally:
            view.release()
        self.offset += at - len(head)
        if at < len(out):
            del out[at:]
        return out

    def _buffer(self, size: int) -> bytearray:
        """A buffer of ``size`` bytes: one handed out before that nothing refers to any more
        (no record batch, array or view of it is left), resized, else a new one. A new
        buffer's pages are each faulted in and zeroed by the kernel as the file is read into
        it, about a tenth of reading an uncompressed capture; a reused one's are in place."""
        for k in range(len(self._spares)):  # (enumerate's tuple would hold one more reference)
            old = self._spares[k]
            # referred to by the list, ``old`` and getrefcount's argument only: free
            if sys.getrefcount(old) == 3:
                del self._spares[k]
                if len(old) > size:
                    del old[size:]
                elif len(old) < size:
                    old.extend(bytes(size - len(old)))
                break
        else:
            old = bytearray(size)
        self._spares.append(old)
        del self._spares[:-_SPARES]
        return old

    def close(self) -> None:
        """Close the decompressor and the file if this source opened it."""
        try:
            if self._stream is not self._counter:
                close = getattr(self._stream, "close", None)
                if close is not None:
                    close()
        finally:
            if self._owned is not None:
                self._owned.close()
                self._owned = None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class _FramedReader:
    """Decompresses a sequence of compressed members (gzip) or frames (zstd) piece by piece.

    Raises ``EOFError`` when the data stops inside a member or frame, so that a truncated file
    is reported instead of silently shortened. Bytes that start no new member/frame end the
    data: ``trailing`` gives (their on-disk offset, how many were seen) unless all are zero.
    """

    def __init__(self, raw: _CountingReader) -> None:
        self._raw = raw
        self._input = b""
        self._pending = b""
        self._in_frame = False
        self._done = False
        self._skip = 0
        self.trailing: tuple[int, int] | None = None

    # what a subclass says about its format
    _what = "compressed"

    def _start(self, head: bytes) -> bool | None:
        """At a member/frame boundary: True to decompress a new one, False when ``head`` starts
        no member (trailing garbage), None when ``_skip`` was set (a skippable frame)."""
        raise NotImplementedError

    def _decompress(self, data: bytes, n: int) -> tuple[bytes, bytes, bool]:
        """(output, input left over, whether the member/frame ended)."""
        raise NotImplementedError

    def _needs_input(self) -> bool:
        """False when the decompressor holds input that can give more output by itself."""
        return True

    @property
    def consumed(self) -> int:
        """Compressed bytes handed to the decompressor so far."""
        return self._raw.count - len(self._input)

    def _more(self) -> bool:
        data = self._raw.read(_PIECE)
        if data:
            self._input += data
            return True
        return False

    def _garbage(self) -> None:
        self._done = True
        while len(self._input) < 4096 and self._more():
            pass
        if self._input.strip(b"\x00"):
            self.trailing = (self._raw.count - len(self._input), len(self._input))
        self._input = b""

    def read1(self, n: int) -> bytes:
        while not self._pending and not self._done:
            if self._skip:
                if not self._input and not self._more():
                    raise EOFError(f"{self._what} data ends inside a skippable frame")
                k = min(self._skip, len(self._input))
                self._input = self._input[k:]
                self._skip -= k
                continue
            if self._in_frame and not self._input and not self._needs_input():
                out, self._input, ended = self._decompress(b"", max(n, 1 << 16))
                self._in_frame = not ended
                self._pending += out
                continue
            if not self._input and not self._more():
                if self._in_frame:
                    raise EOFError(f"{self._what} data ends inside a frame")
                self._done = True
                break
            if not self._in_frame:
                while len(self._input) < 8 and self._more():
                    pass
                stripped = self._input.lstrip(b"\x00")
                if len(stripped) < len(self._input):  # zero padding between or after streams
                    self._input = stripped
                    continue
                start = self._start(self._input[:8])
                if start is None:
                    continue
                if not start:
                    self._garbage()
                    break
                self._in_frame = True
            out, self._input, ended = self._decompress(self._input, max(n, 1 << 16))
            if ended:
                self._in_frame = False
            self._pending += out
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    read = read1

    def close(self) -> None:
        self._pending = b""
        self._input = b""


class _GzipReader(_FramedReader):
    """Concatenated gzip members (RFC 1952), output bounded per call."""

    _what = "gzip"

    def _start(self, head: bytes) -> bool | None:
        if head[:2] != b"\x1f\x8b":
            return False
        self._d = zlib.decompressobj(wbits=31)
        return True

    def _decompress(self, data: bytes, n: int) -> tuple[bytes, bytes, bool]:
        out = self._d.decompress(data, n)
        if self._d.eof:
            return out, self._d.unused_data, True
        return out, self._d.unconsumed_tail, False


class _StdlibReader(_FramedReader):
    """Concatenated bzip2 or xz streams through the standard library's decompressors, output
    bounded per call."""

    def __init__(self, raw: _CountingReader, what: str) -> None:
        super().__init__(raw)
        self._what = what
        self._magic = b"BZh" if what == "bzip2" else b"\xfd7zXZ\x00"

    def _start(self, head: bytes) -> bool | None:
        if not head.startswith(self._magic):
            return False
        self._d = bz2.BZ2Decompressor() if self._what == "bzip2" else lzma.LZMADecompressor()
        return True

    def _decompress(self, data: bytes, n: int) -> tuple[bytes, bytes, bool]:
        out = self._d.decompress(data, n)
        if self._d.eof:
            return out, self._d.unused_data, True
        return out, b"", False

    def _needs_input(self) -> bool:
        return bool(self._d.needs_input)


class _ZstdReader(_FramedReader):
    """Concatenated zstd frames, skippable frames skipped."""

    _what = "zstd"

    def __init__(self, raw: _CountingReader, zstandard: object) -> None:
        super().__init__(raw)
        self._dctx = zstandard.ZstdDecompressor()  # type: ignore[attr-defined]

    def _start(self, head: bytes) -> bool | None:
        if head[:4] == _ZSTD_MAGIC:
            self._dobj = self._dctx.decompressobj()
            return True
        if is_zstd_skippable(head):
            if len(head) < 8:
                raise EOFError("zstd data ends inside a skippable frame header")
            self._skip = 8 + int.from_bytes(head[4:8], "little")
            return None
        return False

    def _decompress(self, data: bytes, n: int) -> tuple[bytes, bytes, bool]:
        out = self._dobj.decompress(data)
        if self._dobj.eof:
            return out, self._dobj.unused_data, True
        return out, b"", False


def _zstd_stream(counter: _CountingReader, path: str) -> BinaryIO:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        return _ZstdReader(counter, zstandard)  # type: ignore[return-value]
    try:
        from compression import zstd as _zstd  # type: ignore[import-not-found]
    except ImportError:
        raise CaptureError(
            "the file is zstd-compressed but neither the 'zstandard' package nor Python's "
            "'compression.zstd' module is available; install it with "
            "'pip install zstandard' or decompress the file first (zstd -d)",
            path=path,
        ) from None
    return _zstd.ZstdFile(counter)  # type: ignore[no-any-return]


def open_source(source: str | os.PathLike[str] | BinaryIO) -> tuple[Source, int | None]:
    """Open a path, ``"-"`` (stdin) or binary file object; sniff and undo compression.

    Gives the source and the on-disk size (``None`` when unknown, e.g. for a pipe).
    Raises :class:`CaptureError` for missing files, directories and unreadable files.
    """
    owned: BinaryIO | None = None
    size: int | None = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path == "-":
            import sys

            stdin = getattr(sys.stdin, "buffer", None)
            if stdin is None:
                raise CaptureError("standard input is closed; expected a capture on it", path="-")
            raw: BinaryIO = stdin
            size = _size_of(raw)
        else:
            if os.path.isdir(path):
                raise CaptureError("is a directory, expected a capture file", path=path)
            try:
                raw = open(path, "rb", buffering=0)  # noqa: SIM115 (closed by Source.close)
            except FileNotFoundError:
                raise CaptureError("no such file", path=path) from None
            except PermissionError:
                raise CaptureError("permission denied while opening the file", path=path) from None
            except OSError as exc:
                raise CaptureError(f"cannot open the file: {_one_line(exc)}", path=path) from None
            owned = raw
            size = _size_of(raw)
    else:
        raw = source
        name = getattr(source, "name", None)
        path = name if isinstance(name, str) and name and not name.startswith("<") else "-"
        size = _size_of(raw)

    try:
        head = _read_some(raw, _SNIFF, path)
        counter = _CountingReader(raw, head)
        compression: str | None = None
        for name_, magic in COMPRESSION_MAGICS:
            if head.startswith(magic):
                compression = name_
                break
        if compression is None and is_zstd_skippable(head):
            compression = "zstd"
        stream: BinaryIO | _CountingReader
        if compression is None:
            stream = counter
        elif compression == "gzip":
            stream = _GzipReader(counter)  # type: ignore[assignment]
        elif compression in ("bzip2", "xz"):
            stream = _StdlibReader(counter, compression)  # type: ignore[assignment]
        else:
            stream = _zstd_stream(counter, path)
    except BaseException:
        if owned is not None:
            owned.close()
        raise
    return Source(path, counter, stream, compression, owned), size


def _read_some(raw: BinaryIO, n: int, path: str) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < n:
        try:
            data = raw.read(n - got)
        except OSError as exc:
            raise CaptureError(f"cannot read the file: {_one_line(exc)}", path=path) from None
        if not data:
            break
        parts.append(bytes(data))
        got += len(data)
    return b"".join(parts)


def _size_of(raw: BinaryIO) -> int | None:
    try:
        st = os.fstat(raw.fileno())
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        getbuf = getattr(raw, "getbuffer", None)
        if getbuf is not None:
            try:
                return len(getbuf())
            except Exception:
                return None
        return None
    import stat

    return st.st_size if stat.S_ISREG(st.st_mode) else None
