"""Rows of the packets table as the inference reads them: picked on the table's own columns,
then turned into Python values; evidence frames and address tests remembered per address."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from .facts import packed_canonical
from .model import Source
from .placement import label_codes

EVIDENCE_FRAMES = 5
"""At most this many evidence frames are kept per inferred fact."""


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name].astype(object).where(df[name].notna(), None)
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _native(df: pd.DataFrame, name: str) -> pd.Series:
    """The column as the table stores it (a null column of objects when it has none): rows
    are picked on it, and only the rows picked become Python values (:func:`_objects`)."""
    return df[name] if name in df.columns else _col(df, name)


def _objects(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with every column as :func:`_col` gives it (Python values, ``None`` for nulls),
    but the capture names and frame numbers (``_cap``, ``_fno``), kept as they are."""
    return pd.DataFrame(
        {c: rows[c] if c in _KEPT else _col(rows, c) for c in rows.columns}, index=rows.index
    )


_KEPT = ("_cap", "_fno")
"""Columns of the inference's table that are already as the rules read them."""


def _capture_labels(packets: pd.DataFrame) -> pd.Series:
    """The table's capture labels as text (``"None"`` for a missing one, ``"?"`` for every row
    of a table without the column), as categories in the order of the text: one code per row
    and one string per label, whatever the number of rows."""
    if "capture" not in packets.columns:
        return pd.Series(pd.Categorical.from_codes(np.zeros(len(packets), dtype=np.int8), ["?"]),
                         index=packets.index)  # fmt: skip
    codes, labels = label_codes(packets["capture"])
    missing = codes < 0
    if missing.any():
        labels = [*labels, "None"]  # what ``str`` of a missing label gave
    names = sorted(set(labels))
    at = {name: i for i, name in enumerate(names)}
    remap = np.array([at[label] for label in labels], dtype=np.int32)
    if missing.any():
        codes = np.where(missing, len(labels) - 1, codes)
    return pd.Series(pd.Categorical.from_codes(remap[codes], names), index=packets.index)


def _capture_codes(caps: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes of the capture labels ``caps`` (in the order of the text) and the labels they
    index: the categories' own codes for :func:`_capture_labels`' column."""
    if isinstance(caps.dtype, pd.CategoricalDtype) and caps.cat.categories.is_monotonic_increasing:
        return caps.cat.codes.to_numpy(), [str(c) for c in caps.cat.categories]
    codes, names = pd.factorize(caps, sort=True)
    return codes, [str(c) for c in names]


def _in_frame_order(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows.sort_values(["_cap", "_fno"], kind="stable")``, sorting numbers for the capture
    names (in the order of the names) instead of the names."""
    codes, _ = _capture_codes(rows["_cap"])
    order = np.lexsort((rows["_fno"].to_numpy(), codes))
    return rows.iloc[order]


def _numbers(s: pd.Series) -> pd.Series:
    """``pd.to_numeric`` of the column's Python values (``NaN`` for nulls): what ``==`` of a
    number compares with, without a Python value per row for a nullable number column."""
    if s.dtype.kind in "iufb" and not isinstance(s.dtype, np.dtype):
        return pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index)
    return pd.to_numeric(s.astype(object).where(s.notna(), None), errors="coerce")


def _values(s: pd.Series) -> list[Any]:
    """The column's Python values (``None`` for nulls), as :func:`_col` gives them."""
    return s.astype(object).where(s.notna(), None).tolist()


def _ev(df: pd.DataFrame, mask: Any = None) -> tuple[tuple[str, int], ...]:
    caps, frames = df["_cap"], df["_fno"]
    if mask is not None:
        caps, frames = caps[mask], frames[mask]
    return tuple(
        (str(c), int(n))
        for c, n in zip(
            caps.iloc[:EVIDENCE_FRAMES].tolist(),
            frames.iloc[:EVIDENCE_FRAMES].tolist(),
            strict=False,
        )
    )


def _ev_by(df: pd.DataFrame, keys: list[str]) -> dict[Any, tuple[tuple[str, int], ...]]:
    """Evidence frames (the first few) of every distinct value of ``keys``, in one pass."""
    if df.empty:
        return {}
    head = df.groupby(keys, sort=False, dropna=False, observed=True).head(EVIDENCE_FRAMES)
    out: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    key_cols = [head[k].tolist() for k in keys]
    for i, (c, n) in enumerate(zip(head["_cap"].tolist(), head["_fno"].tolist(), strict=True)):
        key = key_cols[0][i] if len(keys) == 1 else tuple(col[i] for col in key_cols)
        out[key].append((str(c), int(n)))
    return {k: tuple(v) for k, v in out.items()}


def _ev_of_codes(
    df: pd.DataFrame, rows: np.ndarray, keys: list[np.ndarray], values: list[Any]
) -> dict[Any, tuple[tuple[str, int], ...]]:
    """Evidence frames (the first few in frame order) of every value of ``values``, where
    ``keys`` are code arrays (index into ``values``, -1 for none), one per role, each giving a
    code for every row position of ``rows``; rows of one frame count in the order of ``keys``.
    What :func:`_ev_by` of :func:`_in_frame_order` of the rows stacked gives, on integers."""
    if not len(rows):
        return {}
    caps = df["_cap"].iloc[rows]
    cap_codes, cap_text = _capture_codes(caps)
    fnos = df["_fno"].to_numpy()[rows]
    n, k = len(rows), len(keys)
    # the narrowest signed integer holding every code: numpy's stable sort of 16-bit integers
    # is a radix sort, several times faster than of 64-bit ones
    kind = np.int16 if len(values) < np.iinfo(np.int16).max else np.int32
    if len(values) >= np.iinfo(np.int32).max:
        kind = np.int64
    # the stacked rows in frame order are each row's keys in turn, row after row: the stable
    # sort of the stacked rows orders two rows of one frame otherwise, but their evidence is
    # that one frame either way (no copy of the rows per key, no sort of them all)
    one = np.lexsort((fnos, cap_codes))
    key = np.empty(n * k, dtype=kind)
    for j, codes in enumerate(keys):
        key[j::k] = codes[one]
    pos = np.int32 if len(key) < 2**31 else np.int64
    by_key = np.argsort(key, kind="stable").astype(pos, copy=False)
    ranked = key[by_key]
    del key
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    first = np.zeros(len(ranked), dtype=pos)
    first[starts] = starts
    rank = np.arange(len(ranked), dtype=pos)
    rank -= np.maximum.accumulate(first)
    del first
    keep = (rank < EVIDENCE_FRAMES) & (ranked >= 0)
    del rank
    out: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    rows_kept = one[by_key[keep] // k]
    for code, r in zip(ranked[keep].tolist(), rows_kept.tolist(), strict=True):
        out[values[code]].append((cap_text[cap_codes[r]], int(fnos[r])))
    return {v: tuple(f) for v, f in out.items()}


def _src(frames: tuple[tuple[str, int], ...], note: str) -> Source:
    return Source(frames=frames, note=note)


@lru_cache(maxsize=1 << 16)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``ipaddress.ip_address(text)``, remembered per text (``ValueError`` when it is none)."""
    return ipaddress.ip_address(text)


@lru_cache(maxsize=1 << 16)
def _is_unicast_global(ip: Any) -> bool:
    """Whether ``ip`` is an address other than link-local, multicast, unspecified, loopback
    or broadcast (remembered per address)."""
    if not ip:
        return False
    text = str(ip)
    fast = _unicast_global_bytes(text)
    if fast is not None:
        return fast
    try:
        a = _ip(text)
    except ValueError:
        return False
    return not (
        a.is_link_local
        or a.is_multicast
        or a.is_unspecified
        or a.is_loopback
        or (a.version == 4 and str(a) == "255.255.255.255")
    )


_MAPPED = b"\0" * 10 + b"\xff\xff"


def _unicast_global(b: bytes) -> bool:
    """:func:`_is_unicast_global` of the address with these 4 or 16 bytes."""
    if len(b) == 4:
        return not (
            b[0] == 127
            or (b[0] == 169 and b[1] == 254)
            or 224 <= b[0] <= 239
            or b in (b"\0\0\0\0", b"\xff\xff\xff\xff")
        )
    return not (
        b[0] == 0xFF
        or (b[0] == 0xFE and b[1] & 0xC0 == 0x80)
        or b in (bytes(16), bytes(15) + b"\1")
    )


def _unicast_global_bytes(text: str) -> bool | None:
    """:func:`_is_unicast_global` for canonical address text, without ``ipaddress``; None for
    other text and for IPv4-mapped IPv6 addresses (whose properties ``ipaddress`` reads from
    the IPv4 address from Python 3.13 on), which the caller decides with ``ipaddress``."""
    b = packed_canonical(text)
    if b is None or b.startswith(_MAPPED):
        return None
    return _unicast_global(b)


def _unicast(series: pd.Series) -> pd.Series:
    """Row mask: the address is a global unicast one (decided once per distinct address, in
    one pass over the rows)."""
    if isinstance(series.dtype, pd.CategoricalDtype):  # coded already: one test per category
        codes = series.cat.codes.to_numpy()
        uniques = series.cat.categories.tolist()
    else:
        codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    good = np.array([_is_unicast_global(u) for u in uniques] + [False], dtype=bool)
    return pd.Series(good[codes], index=series.index)


def _lists(df: pd.DataFrame, rows: np.ndarray, cols: tuple[str, ...]) -> list[list[Any]]:
    """The values of ``cols`` at the row positions ``rows``: one plain Python list per column
    (nulls are ``None``, as :func:`_col` left them)."""
    return [_values(df[c].iloc[rows]) for c in cols]


def _group(keys: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[int]]:
    """Positions of every distinct key, keys in order of first appearance and positions in
    row order; keys with a null part are left out (as ``groupby(dropna=True)`` does)."""
    out: dict[tuple[Any, ...], list[int]] = {}
    for k, key in enumerate(keys):
        if None not in key:
            out.setdefault(key, []).append(k)
    return out


def _frames_at(
    caps: list[Any], fnos: list[Any], positions: list[int]
) -> tuple[tuple[str, int], ...]:
    """Evidence frames (the first few) of the rows at ``positions``."""
    return tuple([(str(caps[k]), int(fnos[k])) for k in positions[:EVIDENCE_FRAMES]])
