"""Builds the packets table (one pandas DataFrame) from record batches and their decoded columns.

Values are accumulated batch by batch in compact NumPy form: integers in their final width
with a validity mask, MACs / IPs / texts as integer codes into per-column dictionaries of the
distinct values seen. Strings are made once per *distinct* value at the end, so the table costs
a few bytes per cell whatever the capture size.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .decode.result import DecodedBatch
from .read.records import RecordBatch
from .schema import COLUMNS, Column

__all__ = ["TableBuilder", "empty_packets", "format_mac"]

_INT_NUMPY = {
    "UInt8": np.uint8,
    "UInt16": np.uint16,
    "UInt32": np.uint32,
    "UInt64": np.uint64,
    "Int64": np.int64,
}


def format_mac(value: int) -> str:
    """``aa:bb:cc:dd:ee:ff`` text of a 48-bit MAC held in an integer."""
    h = f"{int(value) & 0xFFFFFFFFFFFF:012x}"
    return ":".join(h[i : i + 2] for i in range(0, 12, 2))


def _format_ip(key: tuple[int, int, int]) -> str:
    """Canonical text of an ``(family, high 64 bits, low 64 bits)`` key (RFC 5952 for IPv6)."""
    family, hi, lo = key
    if family == 4:
        return socket.inet_ntop(socket.AF_INET, (hi & 0xFFFFFFFF).to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, hi.to_bytes(8, "big") + lo.to_bytes(8, "big"))


def _factorize_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of the distinct ``(a, b)`` pairs (hash based, linear), and each pair's parts."""
    ca, ua = pd.factorize(a)
    cb, ub = pd.factorize(b)
    combined = ca.astype(np.int64) * len(ub) + cb
    codes, uc = pd.factorize(combined)
    return codes, ua[uc // len(ub)], ub[uc % len(ub)]


class _Interner:
    """Maps distinct keys to dense integer codes, in order of first appearance."""

    __slots__ = ("codes", "keys")

    def __init__(self) -> None:
        self.codes: dict[object, int] = {}
        self.keys: list[object] = []

    def encode(self, uniques: Iterable[object]) -> np.ndarray:
        out = []
        codes = self.codes
        for key in uniques:
            code = codes.get(key)
            if code is None:
                code = codes[key] = len(self.keys)
                self.keys.append(key)
            out.append(code)
        return np.asarray(out, dtype=np.int64)


class _CodedColumn:
    """A categorical column built from per-batch codes."""

    def __init__(self) -> None:
        self.interner = _Interner()
        self.parts: list[np.ndarray] = []

    def add_keys(self, uniques: Iterable[object], inverse: np.ndarray, valid: np.ndarray) -> None:
        global_codes = self.interner.encode(uniques)
        codes = np.full(valid.shape[0], -1, dtype=np.int32)
        if global_codes.size:
            codes[valid] = global_codes[inverse]
        self.parts.append(codes)

    def add_null(self, n: int) -> None:
        self.parts.append(np.full(n, -1, dtype=np.int32))

    def categorical(self, categories: list[str]) -> pd.Categorical:
        codes = np.concatenate(self.parts) if self.parts else np.zeros(0, np.int32)
        return _categorical(codes, categories)


def _categorical(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
    """A categorical from codes, merging categories whose text is equal (e.g. two spellings)."""
    index = pd.Index(categories, dtype=object)
    if index.is_unique:
        return pd.Categorical.from_codes(codes, categories=index)
    uniq, remap = np.unique(np.asarray(categories, dtype=object), return_inverse=True)
    new_codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return pd.Categorical.from_codes(new_codes, categories=pd.Index(uniq, dtype=object))


class _MaskedColumn:
    """A nullable integer or boolean column."""

    def __init__(self, np_dtype: type) -> None:
        self.np_dtype = np_dtype
        self.values: list[np.ndarray] = []
        self.valid: list[np.ndarray] = []

    def add(self, values: np.ndarray, valid: np.ndarray) -> None:
        v = np.asarray(values)
        ok = np.asarray(valid, dtype=bool)
        self.values.append(np.where(ok, v, 0).astype(self.np_dtype, copy=False))
        self.valid.append(ok)

    def add_null(self, n: int) -> None:
        self.values.append(np.zeros(n, dtype=self.np_dtype))
        self.valid.append(np.zeros(n, dtype=bool))

    def array(self, dtype: str) -> pd.api.extensions.ExtensionArray:
        values = np.concatenate(self.values) if self.values else np.zeros(0, self.np_dtype)
        valid = np.concatenate(self.valid) if self.valid else np.zeros(0, bool)
        if dtype == "boolean":
            return pd.arrays.BooleanArray(values.astype(bool), ~valid)
        return pd.arrays.IntegerArray(values, ~valid)


class TableBuilder:
    """Accumulates ``(RecordBatch, DecodedBatch)`` pairs and builds the packets DataFrame."""

    def __init__(self) -> None:
        self._n = 0
        self._cols: dict[str, object] = {}
        for col in COLUMNS:
            self._cols[col.name] = self._new(col)
        self._comments: dict[int, str] = {}
        self._frame_no: list[np.ndarray] = []
        self._ts: list[np.ndarray] = []

    @staticmethod
    def _new(col: Column) -> object:
        if col.name in ("frame_no", "ts", "ts_ns", "comment"):
            return None
        if col.kind in ("mac", "ip", "text") or col.dtype == "category":
            return _CodedColumn()
        if col.kind == "bool":
            return _MaskedColumn(np.bool_)
        return _MaskedColumn(_INT_NUMPY[col.dtype])

    def __len__(self) -> int:
        return self._n

    def add(self, batch: RecordBatch, decoded: DecodedBatch) -> None:
        """Append one batch of records and its decoded fields."""
        n = len(batch)
        if decoded.n != n:
            raise ValueError(f"decoded batch has {decoded.n} rows, record batch {n}")
        base = self._n
        self._frame_no.append(np.asarray(batch.frame_no, dtype=np.int64))
        self._ts.append(np.asarray(batch.ts_ns, dtype=np.int64))
        for i, text in batch.comments.items():
            self._comments[base + int(i)] = text
        every = np.ones(n, dtype=bool)
        self._add_code("capture", [batch.capture], np.zeros(n, np.int64), every)
        self._cols["linktype"].add(batch.linktype, every)
        self._cols["wire_len"].add(batch.wire_len, every)
        self._cols["cap_len"].add(batch.cap_len, every)
        self._add_interface(batch)
        for col in COLUMNS:
            if col.kind == "record":
                continue
            acc = self._cols[col.name]
            if col.kind in ("int", "bool"):
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

    def _add_code(self, name: str, uniques: list, inverse: np.ndarray, valid: np.ndarray) -> None:
        self._cols[name].add_keys(uniques, inverse, valid)

    def _add_interface(self, batch: RecordBatch) -> None:
        idx = np.asarray(batch.interface, dtype=np.int64)
        valid = idx >= 0
        names = {i.index: (i.name or f"if{i.index}") for i in batch.interfaces}
        uniq, inverse = np.unique(idx[valid], return_inverse=True)
        keys = [names.get(int(u), f"if{int(u)}") for u in uniq]
        self._add_code("interface", keys, inverse, valid)

    def _add_mac(self, name: str, pair: tuple[np.ndarray, np.ndarray] | None, n: int) -> None:
        if pair is None:
            self._cols[name].add_null(n)
            return
        values, valid = np.asarray(pair[0], dtype=np.uint64), np.asarray(pair[1], dtype=bool)
        codes, uniq = pd.factorize(values[valid])
        self._add_code(name, uniq.tolist(), codes, valid)

    def _add_ip(self, name: str, pair: tuple[np.ndarray, np.ndarray] | None, n: int) -> None:
        if pair is None:
            self._cols[name].add_null(n)
            return
        addr, family = np.asarray(pair[0], dtype=np.uint8), np.asarray(pair[1], dtype=np.uint8)
        valid = (family == 4) | (family == 6)
        if not valid.any():
            self._cols[name].add_null(n)
            return
        words = np.ascontiguousarray(addr[valid]).view(">u8").astype(np.uint64)
        v4 = family[valid] == 4
        hi = np.where(v4, words[:, 0] >> np.uint64(32), words[:, 0])  # IPv4: only 4 bytes count
        lo = np.where(v4, np.uint64(0), words[:, 1])
        pair_codes, uh, ul = _factorize_pairs(hi, lo)
        codes, uniq = pd.factorize(pair_codes.astype(np.int64) * 2 + v4)
        keys = [(4 if u & 1 else 6, int(uh[u >> 1]), int(ul[u >> 1])) for u in uniq.tolist()]
        self._add_code(name, keys, codes, valid)

    def _add_text(self, name: str, values: np.ndarray | None, n: int) -> None:
        if values is None:
            self._cols[name].add_null(n)
            return
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        valid = codes >= 0
        self._add_code(name, list(uniques), codes[valid], valid)

    def build(self) -> pd.DataFrame:
        """The packets table: one row per record added, columns exactly as in the schema."""
        n = self._n
        data: dict[str, object] = {}
        for col in COLUMNS:
            acc = self._cols[col.name]
            if col.name == "frame_no":
                data[col.name] = _cat(self._frame_no, np.int64)
            elif col.name == "ts_ns":
                data[col.name] = _cat(self._ts, np.int64)
            elif col.name == "ts":
                data[col.name] = pd.to_datetime(_cat(self._ts, np.int64), unit="ns", utc=True)
            elif col.name == "comment":
                codes = np.full(n, -1, dtype=np.int32)
                texts: dict[str, int] = {}
                for i, text in self._comments.items():
                    codes[i] = texts.setdefault(text, len(texts))
                data[col.name] = _categorical(codes, list(texts))
            elif isinstance(acc, _MaskedColumn):
                data[col.name] = acc.array(col.dtype)
            else:
                keys = acc.interner.keys
                if col.kind == "mac":
                    cats = [format_mac(k) for k in keys]
                elif col.kind == "ip":
                    cats = [_format_ip(k) for k in keys]
                else:
                    cats = [str(k) for k in keys]
                cat = acc.categorical(cats)
                data[col.name] = cat if col.dtype == "category" else np.asarray(cat, dtype=object)
        return pd.DataFrame(data, index=pd.RangeIndex(n))


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def empty_packets() -> pd.DataFrame:
    """A packets table with no rows and every schema column at its documented dtype."""
    return TableBuilder().build()
