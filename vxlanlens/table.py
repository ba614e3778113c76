"""Builds the packets table (one pandas DataFrame) from record batches and their decoded columns.

Values are accumulated batch by batch in compact NumPy form: integers and booleans written in
place, in their final width with a validity flag, into storage that grows without copying (it
becomes the table's column; nothing is stored for a column until a record has it), MACs / IPs /
texts as integer codes into each batch's distinct values (hash-based factorization, no Python
work per packet or per value while batches stream in).
At the end the batches' distinct values are unified and turned into text once per *distinct*
value, so the table costs a few bytes per cell whatever the capture size.
"""

from __future__ import annotations

import errno
import mmap
import socket
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
from pandas.core.algorithms import factorize_array

from .decode.options import DecodeOptions
from .decode.result import DecodedBatch
from .read.records import RecordBatch
from .reassembly import FragmentStore, Plan
from .schema import COLUMNS, Column, column

try:  # the decoder's compiled module also factorizes 64-bit keys (see _factorize)
    from .decode._fast import factorize_u64 as _c_factorize
except ImportError:  # pragma: no cover - depends on how the package was installed
    _c_factorize = None  # type: ignore[assignment]

__all__ = [
    "THREADED_BUILD_ROWS",
    "BatchReader",
    "Decoder",
    "TableBuilder",
    "empty_packets",
    "format_mac",
]

Decoder = Callable[[RecordBatch, DecodeOptions], DecodedBatch]
"""A decoding engine: record batch and options in, decoded columns out."""

THREADED_BUILD_ROWS = 100_000
"""Tables of fewer rows are built by one thread whatever :meth:`TableBuilder.build` is told
(starting threads would cost more than they save)."""


class BatchReader(Protocol):
    """What :meth:`TableBuilder.read` needs of a capture reader."""

    @property
    def bytes_read(self) -> int:
        """Bytes of the input consumed so far."""
        ...

    def batches(self, max_frames: int = ...) -> Iterator[RecordBatch]:
        """The records, a batch at a time."""
        ...


def format_mac(value: int) -> str:
    """``aa:bb:cc:dd:ee:ff`` text of a 48-bit MAC held in an integer."""
    return (int(value) & 0xFFFFFFFFFFFF).to_bytes(6, "big").hex(":")


def _format_ip(v4: bool, hi: int, lo: int) -> str:
    """Canonical text of an address held as two 64-bit halves (RFC 5952 for IPv6)."""
    if v4:
        return socket.inet_ntop(socket.AF_INET, (hi & 0xFFFFFFFF).to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, hi.to_bytes(8, "big") + lo.to_bytes(8, "big"))


_HEX = np.array([f"{i:02x}" for i in range(256)], dtype="S2").view(np.uint8).reshape(256, 2)
_MAC_DIGITS = np.array([0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16]).reshape(6, 2)


def _mac_texts(values: np.ndarray) -> list[str]:
    """``aa:bb:cc:dd:ee:ff`` texts of 48-bit MACs held in integers (as :func:`format_mac`, for
    a whole array at once)."""
    octets = (
        (np.asarray(values, dtype=np.uint64) & np.uint64(0xFFFFFFFFFFFF))
        .astype(">u8")
        .view(np.uint8)
        .reshape(-1, 8)[:, 2:]
    )
    out = np.full((octets.shape[0], 17), ord(":"), dtype=np.uint8)
    out[:, _MAC_DIGITS] = _HEX[octets]
    return out.view("S17").ravel().astype("U17").tolist()  # type: ignore[no-any-return]


def _factorize_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of the distinct ``(a, b)`` pairs (hash based, linear), and each pair's parts."""
    ca, ua = pd.factorize(a)
    cb, ub = pd.factorize(b)
    combined = ca.astype(np.int64) * max(len(ub), 1) + cb
    codes, uc = pd.factorize(combined)
    return codes, ua[uc // max(len(ub), 1)], ub[uc % max(len(ub), 1)]


_UTC = pd.DatetimeTZDtype(unit="ns", tz="UTC")

_MIX_HI = np.uint64(0x9E3779B97F4A7C15)
_MIX_LO = np.uint64(0xC2B2AE3D27D4EB4F)


def _factorize_addresses(
    hi: np.ndarray, lo: np.ndarray, v4: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes of the distinct addresses ``(hi, lo, v4)`` (uint64, uint64, 0/1 int64), and each
    distinct address's ``hi``, ``lo`` and ``v4``.

    One factorization of a 64-bit mix of the three parts, checked against them; only when two
    addresses share a mix (practically never) the exact, slower factorization of the parts.
    """
    key = (hi * _MIX_HI) ^ (lo * _MIX_LO) ^ v4.astype(np.uint64)  # wraps modulo 2**64
    codes, uniq = pd.factorize(key)
    rep = np.empty(len(uniq), dtype=np.int64)
    rep[codes] = np.arange(codes.shape[0], dtype=np.int64)  # a row holding each distinct key
    uh, ul, uv = hi[rep], lo[rep], v4[rep]
    if (uh[codes] == hi).all() and (ul[codes] == lo).all() and (uv[codes] == v4).all():
        return codes, uh, ul, uv
    pair, ph, pl = _factorize_pairs(hi, lo)
    codes, uniq = pd.factorize(pair.astype(np.int64) * 2 + v4)
    return codes, ph[uniq >> 1], pl[uniq >> 1], (uniq & 1).astype(np.int64)


def _factorize(values: np.ndarray, valid: np.ndarray, every: bool) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 where not ``valid``) of ``values`` in order of first appearance, and the
    distinct values: one hash pass over every row, nothing gathered or scattered (MACs and
    addresses, ``uint64``, in compiled code when it was built: the same codes and values)."""
    if _c_factorize is not None and values.dtype == np.uint64 and values.ndim == 1:
        n = values.shape[0]
        codes = np.empty(n, dtype=np.int64)
        uniques = np.empty(n, dtype=np.uint64)
        found = _c_factorize(
            np.ascontiguousarray(values),
            None if every else np.ascontiguousarray(valid, dtype=bool),
            codes,
            uniques,
        )
        return codes, uniques[:found].copy()
    return factorize_array(values, mask=None if every else ~valid)  # type: ignore[no-any-return]


def _add_keys(acc: _CodedColumn, values: np.ndarray, valid: np.ndarray, n: int) -> None:
    """Add a batch of integer keys (MACs) to ``acc``; rows not ``valid`` are null."""
    every = bool(valid.all())
    if not every and not valid.any():
        acc.add_null(n)
        return
    codes, uniq = _factorize(values, valid, every)
    acc.add_codes(codes, (uniq,), every)


class _CodedColumn:
    """A categorical column: per batch, codes into that batch's distinct values; the batches'
    distinct values are unified once, in :meth:`finish`, so no Python work is done per value
    while batches stream in.

    ``kind`` is ``mac`` (values: ``uint64``), ``ip`` (values: ``(hi, lo, v4)`` arrays) or
    ``text`` (values: object array of ``str``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        # Per batch: a code array (-1 = null), or an int: ``n >= 0`` = n rows all taking
        # the batch's only value, ``-n - 1`` = n null rows. Constant parts cost nothing per row.
        self.codes: list[np.ndarray | int] = []
        self.uniques: list[tuple[np.ndarray, ...]] = []

    def add(self, codes: np.ndarray, valid: np.ndarray, uniques: tuple[np.ndarray, ...]) -> None:
        """Rows ``valid`` take ``uniques[codes]``; the others are null."""
        n = valid.shape[0]
        if codes.shape[0] == n and len(uniques[0]) == 1:  # one value in every row: kept as n
            self.codes.append(n)
            self.uniques.append(uniques)
            return
        full = np.full(n, -1, dtype=_code_dtype(len(uniques[0])))
        full[valid] = codes
        self.codes.append(full)
        self.uniques.append(uniques)

    def add_codes(self, codes: np.ndarray, uniques: tuple[np.ndarray, ...], full: bool) -> None:
        """Row ``i`` takes ``uniques[codes[i]]`` (-1: null); ``full`` says no code is -1."""
        if full and len(uniques[0]) == 1:  # one value in every row: kept as n
            self.codes.append(int(codes.shape[0]))
        else:  # the codes in the narrowest type that holds them (less to keep and to map)
            self.codes.append(codes.astype(_code_dtype(len(uniques[0])), copy=False))
        self.uniques.append(uniques)

    def add_null(self, n: int) -> None:
        self.codes.append(-n - 1)  # n null rows, kept as a number (see _expand_codes)
        self.uniques.append(())

    def _unified(self) -> tuple[np.ndarray, tuple[np.ndarray, ...]] | None:
        """Every row's code into the distinct values of all parts, in order of first appearance
        (-1: null), in the narrowest type pandas keeps for that many, and those distinct
        values; None when every row is null."""
        parts = [u for u in self.uniques if u and len(u[0])]
        offsets, total = [], 0
        for u in self.uniques:
            offsets.append(total)
            total += len(u[0]) if u else 0
        if not parts:
            return None
        uniques: tuple[np.ndarray, ...]
        if self.kind == "ip":
            hi = np.concatenate([u[0] for u in parts])
            lo = np.concatenate([u[1] for u in parts])
            v4 = np.concatenate([u[2] for u in parts])
            gcodes, uh, ul, uv = _factorize_addresses(hi, lo, v4)
            uniques = (uh, ul, uv)
        else:
            values = np.concatenate([u[0] for u in parts])
            gcodes, uniq = pd.factorize(values)
            uniques = (uniq,)
        # Each part's codes into the unified values; -1 (null) indexes the appended -1.
        code_type = _code_dtype(len(uniques[0]))
        gcodes = np.append(gcodes.astype(code_type), code_type(-1))
        out = np.empty(sum(_rows(c) for c in self.codes), dtype=code_type)
        at = 0
        for codes, u, off in zip(self.codes, self.uniques, offsets, strict=True):
            rows = _rows(codes)
            if isinstance(codes, int):
                out[at : at + rows] = gcodes[off] if codes >= 0 else -1
            elif not u or not len(u[0]) or _is_prefix(gcodes, off, len(u[0])):
                out[at : at + rows] = codes  # codes already unified (see compact)
            else:
                mapping = np.append(gcodes[off : off + len(u[0])], code_type(-1))
                np.take(mapping, codes, out=out[at : at + rows])
            at += rows
        return out, uniques

    def compact(self) -> None:
        """Unify the parts added so far into one (the same column, less left for
        :meth:`finish`: later parts are mapped onto it, its own codes are kept)."""
        if len(self.codes) < 2:
            return
        rows = sum(_rows(c) for c in self.codes)
        unified = self._unified()
        if unified is None:
            self.codes, self.uniques = [-rows - 1], [()]
        else:
            self.codes, self.uniques = [unified[0]], [unified[1]]

    def finish(self, ip_texts: dict[tuple[int, int, int], str] | None = None) -> pd.Categorical:
        """The column as a categorical of its text values.

        ``ip_texts`` caches the text of each address already formatted (shared by the address
        columns of one table, which hold mostly the same addresses)."""
        unified = self._unified()
        if unified is None:
            total_rows = sum(_rows(c) for c in self.codes)
            return pd.Categorical.from_codes(
                np.full(total_rows, -1, np.int8),
                categories=pd.Index([], dtype=object),
                validate=False,
            )
        # The codes are in the narrowest type pandas keeps for this many categories, so the
        # categorical takes them as they are (no second, converted copy).
        out, uniques = unified
        if self.kind == "ip":
            known = {} if ip_texts is None else ip_texts
            cats = []
            for key in zip(
                uniques[2].tolist(), uniques[0].tolist(), uniques[1].tolist(), strict=True
            ):
                text = known.get(key)
                if text is None:
                    text = known[key] = _format_ip(bool(key[0]), key[1], key[2])
                cats.append(text)
        elif self.kind == "mac":
            cats = _mac_texts(uniques[0])
        else:
            cats = [str(v) for v in uniques[0]]
        return _categorical(out, cats)


def _is_prefix(gcodes: np.ndarray, off: int, k: int) -> bool:
    """Whether the ``k`` unified codes from ``off`` are ``0 .. k-1`` (a part whose distinct
    values come first, in order: its codes need no mapping)."""
    return off == 0 and bool((gcodes[:k] == np.arange(k, dtype=gcodes.dtype)).all())


def _rows(codes: np.ndarray | int) -> int:
    """Rows of one part of a :class:`_CodedColumn`."""
    if isinstance(codes, int):
        return codes if codes >= 0 else -codes - 1
    return int(codes.shape[0])


def _code_dtype(categories: int) -> type[np.signedinteger]:
    """The integer type pandas stores the codes of a categorical of ``categories`` values in."""
    for dtype in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(dtype).max:
            return dtype
    return np.int64


def _categorical(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
    """A categorical from codes (-1 = null, all others valid by construction), merging
    categories whose text is equal (e.g. two spellings)."""
    index = pd.Index(categories, dtype=object)
    if index.is_unique:
        return pd.Categorical.from_codes(codes, categories=index, validate=False)
    uniq, remap = np.unique(np.asarray(categories, dtype=object), return_inverse=True)
    new_codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    new_codes = new_codes.astype(_code_dtype(len(uniq)))
    return pd.Categorical.from_codes(
        new_codes, categories=pd.Index(uniq, dtype=object), validate=False
    )


_T = TypeVar("_T")

_MAPS_GROW = sys.platform.startswith("linux")
"""Whether an anonymous memory map can be enlarged in place (``mremap``); elsewhere a growing
column is copied into twice the room each time it is full."""


def _out_of_memory(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``fn(*args, **kwargs)``, the system's "no memory" for a map (``ENOMEM``) raised as the
    ``MemoryError`` that NumPy raises for an array (what the command line reports in one line)."""
    try:
        return fn(*args, **kwargs)
    except OSError as exc:
        if exc.errno == errno.ENOMEM:
            raise MemoryError(f"cannot map {args[-1]} bytes of a column") from exc
        raise


class _Growing:
    """A typed array written front to back that grows without copying: in NumPy memory while
    small, then in an anonymous memory map the kernel enlarges in place. Rows never written
    read as zero and, in the map, cost no memory until written."""

    SMALL = 256 * 1024
    """Bytes up to which the array lives in NumPy memory (a map costs a page at least)."""

    def __init__(self, dtype: type, rows: np.ndarray | None = None) -> None:
        """Empty, or holding ``rows`` as they are (not copied, possibly read-only: the first
        write past them moves them to storage of its own)."""
        self.dtype = np.dtype(dtype)
        self._small = np.zeros(0, dtype=self.dtype) if rows is None else rows
        self._map: mmap.mmap | None = None

    @property
    def rows(self) -> int:
        """Capacity: rows the storage holds (written or not)."""
        if self._map is None:
            return len(self._small)
        return len(self._map) // self.dtype.itemsize

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` rows (capacity at least doubled, so growing costs little)."""
        if rows <= self.rows:
            return
        rows = max(rows, 2 * self.rows)
        size = rows * self.dtype.itemsize
        if self._map is not None:
            _out_of_memory(self._map.resize, size)
        elif size <= self.SMALL or not _MAPS_GROW:
            grown = np.zeros(rows, dtype=self.dtype)
            grown[: self.rows] = self._small
            self._small = grown
        else:
            # private: a shared anonymous map cannot grow (its pages past the first size fault)
            flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
            self._map = _out_of_memory(mmap.mmap, -1, size, flags=flags)
            self.view(0, len(self._small))[...] = self._small
            self._small = np.zeros(0, dtype=self.dtype)

    def view(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (to write them: after :meth:`reserve`, and dropped before the
        next one)."""
        if self._map is None:
            return self._small[start:stop]
        size = self.dtype.itemsize
        return np.frombuffer(self._map, self.dtype, count=stop - start, offset=start * size)

    def array(self, n: int) -> np.ndarray:
        """The first ``n`` rows as a writable array that takes the storage over (a map is cut
        to them)."""
        self.reserve(n)
        if self._map is None:
            out = self._small[:n]
            if not out.flags.writeable:  # rows taken over read-only (another process's)
                out = out.copy()
        else:
            self._map.resize(max(n, 1) * self.dtype.itemsize)  # a map is never empty
            out = np.frombuffer(self._map, self.dtype, count=n)
        self._map, self._small = None, np.zeros(0, dtype=self.dtype)
        return out


class _MaskedColumn:
    """A nullable integer or boolean column, written in place batch after batch: its values
    and a validity flag per row (rows never written are null), stored from the first batch
    with a value on, so that a column no record has costs nothing until the table is built."""

    def __init__(self, np_dtype: type) -> None:
        self.np_dtype = np_dtype
        self.n = 0
        self._values: _Growing | None = None
        self._valid: _Growing | None = None

    def add(self, values: np.ndarray, valid: np.ndarray) -> None:
        """Rows ``valid`` take ``values`` (one value for all, or one per row); the others are
        null (their values are not looked at)."""
        ok = np.asarray(valid, dtype=bool)
        n = ok.shape[0]
        if not ok.any():
            self.add_null(n)
            return
        if self._values is None or self._valid is None:
            self._values, self._valid = _Growing(self.np_dtype), _Growing(np.bool_)
        end = self.n + n
        self._values.reserve(end)
        self._valid.reserve(end)
        self._values.view(self.n, end)[...] = values
        self._valid.view(self.n, end)[...] = ok
        self.n = end

    def add_null(self, n: int) -> None:
        self.n += n  # rows never written are null

    def _written(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Values and validity of the rows up to the last one stored (None: none stored)."""
        if self._values is None or self._valid is None:
            return None
        end = min(self.n, self._values.rows)
        return self._values.view(0, end), self._valid.view(0, end)

    def __getstate__(self) -> dict[str, object]:
        # sent to another process as plain arrays (a memory map cannot be pickled)
        return {"np_dtype": self.np_dtype, "n": self.n, "written": self._written()}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.np_dtype = state["np_dtype"]  # type: ignore[assignment]
        self.n = int(state["n"])  # type: ignore[call-overload]
        written = state["written"]
        self._values = self._valid = None
        if isinstance(written, tuple):  # kept as received: copied once, when appended
            self._values = _Growing(self.np_dtype, written[0])
            self._valid = _Growing(np.bool_, written[1])

    def extend(self, other: _MaskedColumn) -> None:
        """Append the rows of ``other``, which is left empty (its storage is taken over when
        this column has no row yet)."""
        if self.n == 0:
            self._values, self._valid, self.n = other._values, other._valid, other.n
        else:
            written = other._written()
            start = self.n
            if written is not None:
                self.add(*written)
            self.n = start + other.n
        other.n, other._values, other._valid = 0, None, None

    def array(self, dtype: str) -> pd.api.extensions.ExtensionArray:
        """The column as a pandas masked array; the accumulator is left empty."""
        n = self.n
        values: np.ndarray
        null: np.ndarray
        if self._values is None or self._valid is None:  # null in every row
            # zeroed memory from the system, never written: no resident pages for the values
            # of a column the capture does not have (about half of the columns of a table);
            # reading them maps the kernel's zero page
            values, null = np.zeros(n, dtype=self.np_dtype), np.ones(n, dtype=bool)
        else:  # the validity flags become the null mask, in place
            values, null = self._values.array(n), self._valid.array(n)
            np.logical_not(null, out=null)
        self.n, self._values, self._valid = 0, None, None
        if dtype == "boolean":
            return pd.arrays.BooleanArray(values, null)
        return pd.arrays.IntegerArray(values, null)


class TableBuilder:
    """Accumulates ``(RecordBatch, DecodedBatch)`` pairs and builds the packets DataFrame."""

    def __init__(self) -> None:
        self._n = 0
        self._cols: dict[str, _CodedColumn | _MaskedColumn | None] | None = {
            col.name: self._new(col) for col in COLUMNS
        }
        self._comments: dict[int, str] = {}
        self._frame_no: list[np.ndarray] = []
        self._ts: list[np.ndarray] = []
        self._fragments = FragmentStore()

    def _coded(self, name: str) -> _CodedColumn:
        """The accumulator of categorical column ``name``."""
        acc = self._live()[name]
        assert isinstance(acc, _CodedColumn), name
        return acc

    def _masked(self, name: str) -> _MaskedColumn:
        """The accumulator of integer or boolean column ``name``."""
        acc = self._live()[name]
        assert isinstance(acc, _MaskedColumn), name
        return acc

    def _live(self) -> dict[str, _CodedColumn | _MaskedColumn | None]:
        """The column accumulators (``RuntimeError`` once the builder is consumed)."""
        if self._cols is None:
            raise RuntimeError("TableBuilder.build() was already called")
        return self._cols

    @staticmethod
    def _new(col: Column) -> _CodedColumn | _MaskedColumn | None:
        if col.name in ("frame_no", "ts", "ts_ns", "comment"):
            return None
        if col.kind in ("mac", "ip"):
            return _CodedColumn(col.kind)
        if col.kind == "text" or col.dtype == "category":
            return _CodedColumn("text")
        if col.kind == "bool":
            return _MaskedColumn(np.bool_)
        return _MaskedColumn(col.numpy_dtype)

    def __len__(self) -> int:
        return self._n

    def read(
        self,
        reader: BatchReader,
        decode: Decoder,
        options: DecodeOptions,
        *,
        batch_frames: int,
        report: Callable[[int], None] | None = None,
    ) -> int:
        """Decode and add every batch of ``reader``; gives the number of frames added.

        ``report(reader.bytes_read)`` is called after each batch (for progress).
        """
        frames = 0
        for batch in reader.batches(max_frames=batch_frames):
            self.add(batch, decode(batch, options))
            frames += len(batch)
            if report is not None:
                report(reader.bytes_read)
        return frames

    def add(self, batch: RecordBatch, decoded: DecodedBatch) -> None:
        """Append one batch of records and its decoded fields."""
        n = len(batch)
        if decoded.n != n:
            raise ValueError(f"decoded batch has {decoded.n} rows, record batch {n}")
        base = self._n
        if decoded.fragments is not None:
            self._fragments.add(batch, decoded, base)
        self._frame_no.append(np.asarray(batch.frame_no, dtype=np.int64))
        self._ts.append(np.asarray(batch.ts_ns, dtype=np.int64))
        for i, text in batch.comments.items():
            self._comments[base + int(i)] = text
        every = np.ones(n, dtype=bool)
        self._coded("capture").add(
            np.zeros(n, np.int64), every, (np.array([batch.capture], dtype=object),)
        )
        self._masked("linktype").add(batch.linktype, every)
        self._masked("wire_len").add(batch.wire_len, every)
        self._masked("cap_len").add(batch.cap_len, every)
        self._add_interface(batch)
        for col in COLUMNS:
            if col.kind == "record":
                continue
            if col.kind in ("int", "bool"):
                acc = self._masked(col.name)
                store = decoded.ints if col.kind == "int" else decoded.bools
                if col.name in store:
                    acc.add(*store[col.name])
                else:
                    acc.add_null(n)
            elif col.kind == "mac":
                self._add_mac(col.name, decoded.macs.get(col.name), n)
            elif col.kind == "ip":
                self._add_ip(col.name, decoded.ips.get(col.name), n)
            else:
                self._add_text(col.name, decoded.texts.get(col.name), n)
        self._n += n

    def absorb(self, other: TableBuilder, frame_offset: int = 0, threads: int = 1) -> None:
        """Append every record of ``other``, a builder of the records that follow this one's
        (e.g. a later part of the same file read by another process), with its frame numbers
        shifted by ``frame_offset``. ``other`` is consumed. ``threads`` > 1: up to that many
        columns of a large part are copied at a time (the same builder results)."""
        if self._cols is None or other._cols is None:
            raise RuntimeError("TableBuilder.build() was already called")
        base = self._n
        masked: list[tuple[_MaskedColumn, _MaskedColumn]] = []
        for name, acc in other._cols.items():
            mine = self._cols[name]
            if isinstance(acc, _CodedColumn) and isinstance(mine, _CodedColumn):
                mine.codes.extend(acc.codes)
                mine.uniques.extend(acc.uniques)
            elif isinstance(acc, _MaskedColumn) and isinstance(mine, _MaskedColumn):
                masked.append((mine, acc))
        if threads > 1 and other._n >= THREADED_BUILD_ROWS:
            with ThreadPoolExecutor(threads, thread_name_prefix="vxlanlens-absorb") as pool:
                list(pool.map(lambda pair: pair[0].extend(pair[1]), masked))
        else:
            for mine, acc in masked:
                mine.extend(acc)
        self._fragments.absorb(other._fragments, base, frame_offset)
        self._frame_no.extend(f + frame_offset for f in other._frame_no)
        self._ts.extend(other._ts)
        for i, text in other._comments.items():
            self._comments[base + i] = text
        self._n += other._n
        other._cols = None

    def compact(self) -> None:
        """Unify the distinct values of the categorical columns added so far (the table built
        is the same; :meth:`build` has that much less to do, e.g. done while waiting for the
        other processes' parts)."""
        for acc in self._live().values():
            if isinstance(acc, _CodedColumn):
                acc.compact()

    def _add_interface(self, batch: RecordBatch) -> None:
        idx = np.asarray(batch.interface, dtype=np.int64)
        valid = idx >= 0
        names = {i.index: (i.name or f"if{i.index}") for i in batch.interfaces}
        codes, uniq = pd.factorize(idx[valid])
        keys = np.array([names.get(int(u), f"if{int(u)}") for u in uniq], dtype=object)
        self._coded("interface").add(codes, valid, (keys,))

    def _add_mac(self, name: str, pair: tuple[np.ndarray, np.ndarray] | None, n: int) -> None:
        if pair is None:
            self._coded(name).add_null(n)
            return
        values, valid = np.asarray(pair[0], dtype=np.uint64), np.asarray(pair[1], dtype=bool)
        _add_keys(self._coded(name), values, valid, n)

    def _add_ip(self, name: str, pair: tuple[np.ndarray, np.ndarray] | None, n: int) -> None:
        if pair is None:
            self._coded(name).add_null(n)
            return
        addr, family = np.asarray(pair[0], dtype=np.uint8), np.asarray(pair[1], dtype=np.uint8)
        v4 = family == 4
        v6 = family == 6
        has_v6 = bool(v6.any())
        valid = (v4 | v6) if has_v6 else v4
        every = bool(valid.all())
        if not every and not valid.any():
            self._coded(name).add_null(n)
            return
        acc = self._coded(name)
        # The address bytes as big-endian words (views of the rows, nothing copied).
        rows = np.ascontiguousarray(addr)
        if not has_v6:  # the common case of an IPv4 column: one factorization of 32-bit words
            codes, uniq = _factorize(rows.view(">u4")[:, 0].astype(np.uint64), valid, every)
            zeros = np.zeros(len(uniq), np.uint64)
            acc.add_codes(
                codes, (uniq.astype(np.uint64), zeros, np.ones(len(uniq), np.int64)), every
            )
            return
        words = rows.view(">u8")
        hi = np.where(v4, words[:, 0] >> np.uint64(32), words[:, 0])  # IPv4: only 4 bytes count
        lo = np.where(v4, np.uint64(0), words[:, 1])
        v4i = v4.view(np.uint8)
        key = (hi * _MIX_HI) ^ (lo * _MIX_LO) ^ v4i  # wraps modulo 2**64
        codes, uniq = _factorize(key, valid, every)
        # Check the mix against the parts, from one row holding each distinct key (the rows
        # without an address share the extra last slot, indexed by their code -1).
        rep = np.zeros(len(uniq) + 1, dtype=np.int64)
        rep[codes] = np.arange(n, dtype=np.int64)
        rep = rep[:-1]
        uh, ul, uv = hi[rep], lo[rep], v4i[rep]
        bad = (uh[codes] != hi) | (ul[codes] != lo) | (uv[codes] != v4i)
        if not (bad if every else bad & valid).any():
            acc.add_codes(codes, (uh, ul, uv.astype(np.int64)), every)
            return
        # Two addresses share a mix (practically never): the exact, slower factorization.
        sub, uh, ul, uv = _factorize_addresses(hi[valid], lo[valid], v4[valid].astype(np.int64))
        acc.add(sub, valid, (uh, ul, uv))

    def _add_text(
        self, name: str, values: np.ndarray | tuple[np.ndarray, np.ndarray] | None, n: int
    ) -> None:
        """Add a text column: an object array, or ``(codes, categories)`` from the fast decoder
        (see :class:`DecodedBatch`), whose integer codes need no factorization of objects."""
        if values is None:
            self._coded(name).add_null(n)
            return
        if isinstance(values, tuple):
            codes = np.asarray(values[0])
            valid = codes >= 0
            every = bool(valid.all())
            if not every and not valid.any():
                self._coded(name).add_null(n)
                return
            # Number the texts in order of first appearance, as factorizing them would.
            order, used = _factorize(codes, valid, every)
            texts = np.asarray(values[1], dtype=object)[used]
            if len(set(texts.tolist())) < len(texts):  # equal texts under two codes: merge them
                remap, texts = pd.factorize(texts)
                order = np.append(remap, -1)[order]  # -1 (null) stays -1
            self._coded(name).add_codes(order, (np.asarray(texts, dtype=object),), every)
            return
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        valid = codes >= 0
        self._coded(name).add(codes[valid], valid, (np.asarray(uniques, dtype=object),))

    def build(self, threads: int = 1) -> pd.DataFrame:
        """The packets table: one row per record added, columns exactly as in the schema.

        The builder is consumed: each column's parts are released as soon as the column is
        built, so the peak memory stays near the size of the table. ``threads`` > 1: up to that
        many columns of a large table are built at a time (their copies and lookups run outside
        the GIL); the table is the same.
        """
        if self._cols is None:
            raise RuntimeError("TableBuilder.build() was already called")
        n = self._n
        cols, self._cols = self._cols, None
        ip_texts: dict[tuple[int, int, int], str] = {}  # shared by the threads: a cache only

        def one(name: str) -> pd.api.extensions.ExtensionArray:
            acc = cols.pop(name)  # released once built: one column's parts at a time
            if isinstance(acc, _MaskedColumn):
                return acc.array(column(name).dtype)
            assert isinstance(acc, _CodedColumn), name
            return acc.finish(ip_texts)

        accumulated = [name for name, acc in cols.items() if acc is not None]
        if threads > 1 and n >= THREADED_BUILD_ROWS:
            with ThreadPoolExecutor(threads, thread_name_prefix="vxlanlens-build") as pool:
                built: dict[str, object] = dict(
                    zip(accumulated, pool.map(one, accumulated), strict=True)
                )
        else:
            built = {name: one(name) for name in accumulated}
        ts_ns = _cat(self._ts, np.int64)
        self._ts = []
        texts: dict[str, int] = {}
        for text in self._comments.values():
            texts.setdefault(text, len(texts))
        comments = np.full(n, -1, dtype=_code_dtype(len(texts)))
        for i, text in self._comments.items():
            comments[i] = texts[text]
        built["frame_no"] = _cat(self._frame_no, np.int64)
        self._frame_no = []
        built["ts_ns"] = ts_ns
        # ``ts``: the nanoseconds as UTC instants, a dtype on a copy (its own buffer, so that
        # writing to one column never changes the other).
        built["ts"] = _utc(ts_ns.copy())
        built["comment"] = _categorical(comments, list(texts))
        data = {col.name: built.pop(col.name) for col in COLUMNS}
        df = pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)
        if len(self._fragments):
            _reassemble(df, self._fragments.plan())
            self._fragments = FragmentStore()
        return df


def _decoded_table(decoded: DecodedBatch) -> pd.DataFrame:
    """The packets-table rows of ``decoded`` alone (record columns empty)."""
    batch = RecordBatch.from_frames([b""] * decoded.n, capture="")
    builder = TableBuilder()
    builder.add(batch, decoded)
    return builder.build()


def _assign(df: pd.DataFrame, rows: np.ndarray, values: dict[str, pd.Series | np.ndarray]) -> None:
    """``df.loc[rows, name] = value`` for each column, categories extended as needed."""
    for name, value in values.items():
        col = df[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            value = pd.Series(value).astype(object)
            new = pd.Index(value.dropna().unique()).difference(col.cat.categories)
            cats = col.cat.categories.append(new) if len(new) else col.cat.categories
            codes = col.cat.codes.to_numpy().astype(np.int32 if len(cats) > 32000 else np.int16)
            codes[rows] = cats.get_indexer(value)
            df[name] = pd.Categorical.from_codes(codes, categories=cats)
        else:
            arr = col.array.copy()
            arr[rows] = pd.array(value, dtype=col.dtype)
            df[name] = arr


def _reassemble(df: pd.DataFrame, plan: Plan) -> None:
    """Apply reassembly to the packets table ``df`` in place (see :mod:`vxlanlens.reassembly`)."""
    decoded = [c.name for c in COLUMNS if c.kind != "record"]
    if plan.packets:
        held, rows, parts, other_rows = plan.decode()
        table = _decoded_table(held)
        _assign(df, rows, {c: table[c] for c in decoded})
        table = _decoded_table(parts)
        _assign(df, other_rows, {c: table[c] for c in decoded})
        frame_no = df["frame_no"].to_numpy()
        all_rows = np.array([r for p in plan.packets for r in p.rows], dtype=np.int64)
        holder = np.array([frame_no[p.row] for p in plan.packets for _ in p.rows])
        _assign(df, all_rows, {"reassembled_in": holder})
        _assign(
            df,
            rows,
            {
                "frag_count": np.array([len(p.rows) for p in plan.packets]),
                "frag_first": np.array([p.first_frame for p in plan.packets]),
                "reasm_len": np.array([p.length for p in plan.packets]),
            },
        )
    if plan.failed:
        rows = np.array([r for f in plan.failed for r in f.rows], dtype=np.int64)
        _assign(
            df,
            rows,
            {
                "decode_layer": np.array([f.layer for f in plan.failed for _ in f.rows], object),
                "decode_error": np.array([f.text for f in plan.failed for _ in f.rows], object),
            },
        )


def _utc(ns: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """UTC timestamps over the int64 nanoseconds ``ns`` (taken over, not copied)."""
    m8 = ns.view("M8[ns]")
    try:  # a dtype over the values; the public constructor converts them one by one
        return pd.arrays.DatetimeArray._simple_new(m8, dtype=_UTC)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # pragma: no cover - a pandas without it
        return pd.Series(m8, dtype=_UTC).array


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def empty_packets() -> pd.DataFrame:
    """A packets table with no rows and every schema column at its documented dtype."""
    return TableBuilder().build()
