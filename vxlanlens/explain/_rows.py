"""Reading the packets table row by row without pandas' per-row cost, and null-safe values."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, SupportsInt, cast

import numpy as np
import pandas as pd

from .model import Evidence

__all__ = [
    "Row",
    "as_text",
    "codes_of",
    "combination",
    "distinct_rows",
    "ev",
    "first_distinct",
    "first_of_each",
    "first_row",
    "groups",
    "na",
    "records",
    "repeated",
    "runs",
    "vals",
]


def na(value: object) -> bool:
    """True for pandas/NumPy nulls and None."""
    if value is None:
        return True
    kind = type(value)
    if kind is str or kind is int or kind is bool:
        return False  # the common cases, without pandas' dispatch (pd.isna gives False)
    if kind is float:
        return value != value  # NaN only (as pd.isna)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def vals(value: object) -> object | None:
    """``value`` with nulls as ``None`` and NumPy/pandas scalars as plain Python."""
    if na(value):
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def ev(capture: object, frame: object) -> Evidence | None:
    """Evidence for a frame, or ``None`` when either part is missing."""
    if na(capture) or na(frame):
        return None
    return Evidence(capture=str(capture), frame_no=int(cast(SupportsInt, frame)))


def records(df: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ``df`` as dicts of ``columns``, holding the values ``df.iterrows()`` gives
    (nulls included), without building a Series per row."""
    cols = list(columns)
    if df.empty:
        return []
    return [dict(zip(cols, v, strict=True)) for v in df[cols].to_numpy(dtype=object)]


def groups(df: pd.DataFrame, keys: tuple[str, ...]) -> dict[tuple, list[int]]:
    """Row positions of every distinct value of ``keys`` (nulls left out): the groups of
    ``df.groupby(list(keys), observed=True, sort=False)``, in its order, without making a
    DataFrame per group (``df.iloc[positions]`` is the group's)."""
    values = [df[k].tolist() for k in keys]
    nulls = np.logical_or.reduce([df[k].isna().to_numpy() for k in keys])
    out: dict[tuple, list[int]] = {}
    for pos, key in enumerate(zip(*values, strict=True)):
        if not nulls[pos]:
            out.setdefault(key, []).append(pos)
    return out


def as_text(series: pd.Series) -> pd.Series:
    """``series.astype(str)``; for a categorical, its categories are converted (not every row)."""
    if not isinstance(series.dtype, pd.CategoricalDtype) or series.cat.categories.empty:
        return series.astype(str)
    names = series.cat.categories.astype(str)
    text = names.take(series.cat.codes.to_numpy(), allow_fill=True, fill_value=np.nan)
    return pd.Series(text.array, index=series.index, name=series.name)


def text_is(series: pd.Series, text: str) -> np.ndarray:
    """Row mask: ``series.astype(str) == text`` (tested once per category of a categorical)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        names = series.cat.categories.astype(str)
        hit = np.append(np.asarray(names == text, dtype=bool), False)  # code -1 (null): none
        return hit[series.cat.codes.to_numpy()]
    return (series.astype(str) == text).to_numpy(dtype=bool, na_value=False)


def text_isin(series: pd.Series, texts: Collection[str]) -> np.ndarray:
    """Row mask: ``series.astype(str).isin(texts)`` (tested once per category of a
    categorical); nulls are in none."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        names = series.cat.categories.astype(str)
        hit = np.append(np.asarray(names.isin(list(texts)), dtype=bool), False)
        return hit[series.cat.codes.to_numpy()]
    return series.astype(str).isin(list(texts)).to_numpy(dtype=bool, na_value=False)


def number_ranges(numbers: Sequence[int]) -> list[str]:
    """Sorted distinct ``numbers`` as ranges of consecutive values: ``["1-3", "7", "9-10"]``."""
    parts: list[str] = []
    if not numbers:
        return parts
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return parts


def codes_of(series: pd.Series) -> tuple[np.ndarray, int]:
    """One integer per row naming its value (``-1`` for null) and how many values there are:
    a categorical's codes (as narrow as it keeps them), else a factorization."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), len(series.cat.categories)
    values = series.array
    data, mask = getattr(values, "_data", None), getattr(values, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray) and data.ndim == 1:
        # a nullable integer column: its values factorised with a hash table that grows with
        # them (pandas sizes it for every row: 16-24 MB for a column of a few VNIs), nulls -1
        codes, uniques = pd.factorize(data, size_hint=min(len(data), 1 << 16))
        codes = np.asarray(codes, dtype=np.int64)
        codes[mask] = -1
        return codes, len(uniques)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), len(uniques)


def combination(columns: Iterable[pd.Series]) -> np.ndarray:
    """One integer per row naming the combination of its values in ``columns`` (equal
    integers, equal values; nulls equal each other), numbered in order of first appearance.
    ``columns`` may be made one at a time (a generator): one is held at once."""
    combined: np.ndarray | None = None
    distinct = 1  # how many numbers ``combined`` holds
    for column in columns:
        codes, n = codes_of(column)
        if combined is None:
            combined = np.zeros(len(codes), dtype=np.int64)
        # renumbered after each column: the integers stay below the number of rows (the hash
        # table sized for the combinations there can be, not for every row)
        combined *= n + 1
        combined += codes
        combined += 1
        del codes
        hint = min(len(combined), distinct * (n + 1))
        combined, uniques = pd.factorize(combined, size_hint=hint)
        combined = combined.astype(np.int64, copy=False)
        distinct = len(uniques)
    assert combined is not None, "no column"
    return combined


def first_of_each(combined: np.ndarray) -> np.ndarray:
    """Row mask: the first row of each number of :func:`combination` (numbered in order of
    first appearance, a number is new where it exceeds every number before it)."""
    new = np.ones(len(combined), dtype=bool)
    if len(combined):
        new[1:] = combined[1:] > np.maximum.accumulate(combined)[:-1]
    return new


def first_distinct(values: np.ndarray, k: int, *, step: int = 8192) -> list[tuple[int, int]]:
    """The first ``k`` distinct ``values`` in order of first appearance, each with the position
    of its first row: ``pd.unique(values)[:k]``, read a slice at a time and stopping once ``k``
    are found (no table of every distinct value)."""
    found: dict[int, int] = {}
    if k <= 0:
        return []
    for start in range(0, len(values), step):
        part = values[start : start + step]
        uniq, first = np.unique(part, return_index=True)
        order = np.argsort(first, kind="stable")
        for value, at in zip(uniq[order].tolist(), first[order].tolist(), strict=True):
            if value not in found:
                found[value] = start + at
                if len(found) == k:
                    return list(found.items())
    return list(found.items())


def distinct_rows(
    df: pd.DataFrame, columns: Sequence[str], *, dropna: bool = False
) -> pd.DataFrame:
    """``df[columns].drop_duplicates()`` (of the rows with no null among them when ``dropna``):
    the same rows in the same order, found on the columns' codes rather than by hashing each
    row's values."""
    part = df[list(columns)]
    if dropna:
        part = part[part.notna().all(axis=1).to_numpy()]
    if part.empty:
        return part
    return part.iloc[np.flatnonzero(first_of_each(combination(part[c] for c in columns)))]


def repeated(numbers: np.ndarray) -> np.ndarray:
    """Row mask: the rows whose number another row has too (``duplicated(keep=False)``): a
    count per number where the numbers are dense non-negative integers (frame and journey
    numbers count something), else found by sorting them."""
    v = np.asarray(numbers)
    if not len(v):
        return np.zeros(0, dtype=bool)
    if v.dtype.kind in "iu" and int(v.min()) >= 0 and int(v.max()) < 2 * len(v) + 1024:
        return (np.bincount(v) > 1)[v]
    order = np.argsort(v, kind="stable")
    ranked = v[order]
    same = ranked[1:] == ranked[:-1]
    twice = np.zeros(len(v), dtype=bool)
    twice[order[1:][same]] = True
    twice[order[:-1][same]] = True
    return twice


def runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal values in ``ids``: where each run starts and ends, and each item's run."""
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(first)
    return starts, np.append(starts[1:], len(ids)), np.cumsum(first) - 1


def _getter(values: Any) -> Callable[[int], Any]:
    """``values[i]`` for a position ``i`` of a column's array: the same value and type (nulls
    included) as pandas gives, with the per-call checks of pandas done once per column."""
    if isinstance(values, pd.Categorical):
        cats = values.categories
        if cats.dtype == object or isinstance(cats.dtype, pd.StringDtype):
            boxed = cats.tolist()  # the same objects as cats[k] (text)
        else:
            boxed = [cats[k] for k in range(len(cats))]  # NumPy scalars, as pandas gives them
        boxed.append(np.nan)  # code -1 (null) is the last
        codes = values.codes
        return lambda i: boxed[codes[i]]
    if isinstance(
        values, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)
    ):
        # the array's own values and null mask, not copies of the whole column (each copy
        # was 5-9 bytes per frame per column read, a large share of explain's peak memory)
        data, mask = getattr(values, "_data", None), getattr(values, "_mask", None)
        if not isinstance(data, np.ndarray) or not isinstance(mask, np.ndarray):
            kind = values.dtype.numpy_dtype
            data, mask = values.to_numpy(kind, na_value=kind.type(0)), values.isna()
        null = values.dtype.na_value
        return lambda i: null if mask[i] else data[i]
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        return values.to_numpy().__getitem__
    return values.__getitem__


class _Columns:
    """Getters of a DataFrame's column values by position, made once per column when first
    asked for: ``prepared`` ones (for many look-ups) read the column's arrays directly, the
    others go through ``Series.iloc`` (nothing to prepare, for a look-up or two)."""

    def __init__(self, df: pd.DataFrame, *, prepared: bool = True) -> None:
        self._df = df
        self._prepared = prepared
        self.names = list(df.columns)
        self._getters: dict[str, Callable[[int], Any]] = {}

    def getter(self, column: str) -> Callable[[int], Any]:
        """The getter of ``column`` (``KeyError`` when the table has no such column)."""
        g = self._getters.get(column)
        if g is None:
            series = self._df[column]
            g = _getter(series.array) if self._prepared else series.iloc.__getitem__
            self._getters[column] = g
        return g


class Row(Mapping[str, Any]):
    """One row of a table (the packets table, see :meth:`Context.row`), read column by column
    when asked: ``row[column]`` is what ``table.iloc[position][column]`` gives (same value and
    type, nulls included), without building a Series of every column."""

    __slots__ = ("_columns", "position")

    def __init__(self, columns: _Columns, position: int) -> None:
        self._columns = columns
        self.position = position
        """Position of the row in its table."""

    def __getitem__(self, column: str) -> Any:
        return self._columns.getter(column)(self.position)

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns.names)

    def __len__(self) -> int:
        return len(self._columns.names)


def first_row(df: pd.DataFrame) -> Row:
    """``df.iloc[0]``, read column by column when asked (the same values), for a table of which
    a few columns of the first row are read."""
    return Row(_Columns(df, prepared=False), 0)


def _row_type(n: int) -> type[np.signedinteger]:
    """The narrowest integer type of row positions in a table of ``n`` rows (and -1)."""
    return np.int32 if n < 2**31 else np.int64


class FrameIndex:
    """Where each frame ``(capture, frame_no)`` is in the packets table: one array per capture
    indexed by frame number (a few bytes per frame, where a dict of tuples took ~150), or a
    dict for a capture whose frame numbers are too sparse for an array. A frame listed twice
    is found at its last row."""

    __slots__ = ("_arrays", "_dicts")

    def __init__(self, captures: pd.Series, frames: np.ndarray) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._dicts: dict[str, dict[int, int]] = {}
        if not len(frames):
            return
        if isinstance(captures.dtype, pd.CategoricalDtype):
            codes, names = captures.cat.codes.to_numpy(), list(captures.cat.categories)
        else:
            codes, names = pd.factorize(captures, use_na_sentinel=True)
        frames = np.asarray(frames, dtype=np.int64)
        order = np.lexsort((frames, codes))  # a stable sort: equal keys keep the rows' order
        c, f = codes[order], frames[order]
        # the last row of each (capture, frame): the end of each run of equal keys
        last = np.ones(len(order), dtype=bool)
        last[:-1] = (c[1:] != c[:-1]) | (f[1:] != f[:-1])
        order, c, f = order[last], c[last], f[last]
        bounds = np.searchsorted(c, np.arange(len(names) + 1))
        for k, name in enumerate(names):
            lo, hi = int(bounds[k]), int(bounds[k + 1])
            fs, rows = f[lo:hi], order[lo:hi]
            if not len(fs):
                continue
            if fs[0] >= 0 and fs[-1] <= 4 * len(fs) + 1024:
                arr = np.full(int(fs[-1]) + 1, -1, dtype=_row_type(len(captures)))
                arr[fs] = rows
                self._arrays[str(name)] = arr
            else:
                self._dicts[str(name)] = dict(zip(fs.tolist(), rows.tolist(), strict=True))

    def get(self, capture: str, frame: int) -> int | None:
        """The row of the frame, or None."""
        arr = self._arrays.get(capture)
        if arr is not None:
            if 0 <= frame < len(arr):
                at = int(arr[frame])
                return at if at >= 0 else None
            return None
        d = self._dicts.get(capture)
        return d.get(frame) if d is not None else None

    def rows_of(self, captures: pd.Series, frames: pd.Series) -> np.ndarray:
        """:meth:`positions` of two aligned columns (``-1`` where a frame is not in the table
        or either part is null), without a Python object per row."""
        n = len(frames)
        out = np.full(n, -1, dtype=np.int64)
        if not n:
            return out
        known = (captures.notna() & frames.notna()).to_numpy(dtype=bool)
        nums = np.full(n, -1, dtype=np.int64)
        nums[known] = np.asarray(frames.to_numpy()[known], dtype=np.int64)
        codes, names = pd.factorize(captures, use_na_sentinel=True)
        codes = np.where(known, codes, -1)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        for k, name in enumerate(names):
            at = order[bounds[k] : bounds[k + 1]]
            if not len(at):
                continue
            out[at] = self._rows_in(str(name), nums[at])
        return out

    def _rows_in(self, capture: str, frames: np.ndarray) -> np.ndarray:
        """The rows of ``frames`` (frame numbers) of one capture, ``-1`` where not in the table."""
        out = np.full(len(frames), -1, dtype=np.int64)
        arr = self._arrays.get(capture)
        if arr is not None:
            inside = (frames >= 0) & (frames < len(arr))
            out[inside] = arr[frames[inside]]
        else:
            d = self._dicts.get(capture)
            if d is not None:
                out[:] = [d.get(f, -1) for f in frames.tolist()]
        return out

    def positions(self, captures: list[Any], frames: list[Any]) -> np.ndarray:
        """The rows of many frames (``-1`` where a frame is not in the table or either part is
        None)."""
        out = np.full(len(frames), -1, dtype=np.int64)
        if not len(frames):
            return out
        known = [c is not None and f is not None for c, f in zip(captures, frames, strict=True)]
        caps = pd.Series([str(c) if ok else None for c, ok in zip(captures, known, strict=True)])
        nums = np.array(
            [int(f) if ok else -1 for f, ok in zip(frames, known, strict=True)], dtype=np.int64
        )
        for name, at in caps.groupby(caps, sort=False).indices.items():
            out[at] = self._rows_in(str(name), nums[at])
        return out
