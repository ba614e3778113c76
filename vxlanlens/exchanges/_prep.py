"""Shared preparation of the packets table: validation, observation points and integer codes.

Everything downstream works on NumPy ``int64`` arrays: IPs and MACs become codes into one
dictionary per kind (so ``src_ip`` of a request and ``dst_ip`` of its reply compare as
integers), nullable integers become ``-1`` where null, and several columns are folded into one
``uint64`` key with :func:`key_hash`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import SchemaError, VxlanlensError

IP_COLUMNS = (
    "src_ip",
    "dst_ip",
    "nd_target",
    "arp_sender_ip",
    "arp_target_ip",
    "emb_src_ip",
    "emb_dst_ip",
    "outer_src_ip",
    "outer_dst_ip",
)
MAC_COLUMNS = (
    "src_mac",
    "dst_mac",
    "nd_lladdr",
    "arp_sender_mac",
    "arp_target_mac",
    "outer_src_mac",
    "outer_dst_mac",
)

# Columns the exchanges / journeys code reads; a table lacking one of them is rejected.
REQUIRED = (
    "capture",
    "frame_no",
    "ts_ns",
    "interface",
    "ifindex",
    "tunnel",
    "vni",
    "ip_version",
    "ip_proto",
    "ip_id",
    "frag_offset",
    "ttl",
    "sport",
    "dport",
    "tcp_flags",
    "tcp_seq",
    "tcp_ack",
    "payload_len",
    "icmp_type",
    "icmp_code",
    "echo_id",
    "echo_seq",
    "mtu",
    "nd_flags",
    "arp_op",
    "emb_ip_version",
    "emb_ip_proto",
    "emb_sport",
    "emb_dport",
    "emb_echo_id",
    "emb_echo_seq",
    "outer_ip_version",
    "outer_sport",
    "outer_dport",
    *IP_COLUMNS,
    *MAC_COLUMNS,
)


def check_table(packets: object, where: str) -> pd.DataFrame:
    """``packets`` itself when it is a DataFrame with every column we read; else SchemaError."""
    if not isinstance(packets, pd.DataFrame):
        raise SchemaError(f"{where}: expected a packets DataFrame, found {type(packets).__name__}")
    missing = [c for c in REQUIRED if c not in packets.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise SchemaError(
            f"{where}: expected the packets-table columns of vxlanlens.schema, "
            f"missing {len(missing)}: {shown}"
        )
    return packets


def check_positive(value: float, name: str, where: str) -> float:
    """``value`` as a float when it is a finite number > 0; else VxlanlensError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not np.isfinite(v) or v <= 0:
        raise VxlanlensError(f"{where}: expected {name} > 0 seconds, found {value!r}")
    return v


def ints(s: pd.Series, fill: int = -1) -> np.ndarray:
    """A nullable integer/boolean column as ``int64`` with ``fill`` where null."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if s.dtype == object:
        s = pd.to_numeric(s, errors="coerce")
    return s.astype("Int64").to_numpy(dtype=np.int64, na_value=fill)


def _as_categorical(s: pd.Series) -> pd.Categorical:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.array  # type: ignore[return-value]
    values = s.astype(object).where(s.notna(), None)
    return pd.Categorical(values.map(lambda v: v if v is None else str(v)))


class Dictionary:
    """One code space for several categorical columns (IPs, or MACs)."""

    def __init__(self, columns: Iterable[pd.Series]) -> None:
        cats = [_as_categorical(s) for s in columns]
        parts = [pd.Index(c.categories.astype(object), dtype=object) for c in cats]
        allv = pd.Index(
            np.concatenate([p.to_numpy() for p in parts]) if parts else [], dtype=object
        )
        self.values = allv.unique()
        self._cats = cats

    def codes(self, i: int) -> np.ndarray:
        """Codes of the ``i``-th column given to the constructor (``-1`` where null)."""
        cat = self._cats[i]
        mapping = self.values.get_indexer(pd.Index(cat.categories.astype(object), dtype=object))
        codes = np.asarray(cat.codes, dtype=np.int64)
        out = np.full(codes.shape, -1, dtype=np.int64)
        ok = codes >= 0
        out[ok] = mapping[codes[ok]]
        return out

    def code_of(self, text: str) -> int:
        """The code of ``text`` (``-2``, matching nothing, when no column holds it)."""
        loc = self.values.get_indexer([text])[0]
        return int(loc) if loc >= 0 else -2

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        """A categorical of these codes (``-1`` → null), with only the categories used."""
        cat = pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=self.values)
        return cat.remove_unused_categories()


class Prepared:
    """The packets table as integer arrays, computed once per call."""

    def __init__(self, packets: pd.DataFrame) -> None:
        self.df = packets
        self.n = len(packets)
        self.ts = packets["ts_ns"].to_numpy(dtype=np.int64)
        # the columns kept for the whole call in their narrowest type (key_hash and the
        # tables made of them take any integer type): 8 bytes a row each was most of this
        self.frame = compact(packets["frame_no"].to_numpy(dtype=np.int64))
        cap = _as_categorical(packets["capture"])
        self.capture_names = list(pd.Index(cap.categories).astype(str))
        self.cap = np.asarray(cap.codes)  # int8 for fewer than 128 captures, -1 for null
        self.ip = Dictionary(packets[c] for c in IP_COLUMNS)
        self.mac = Dictionary(packets[c] for c in MAC_COLUMNS)
        # codes made when first asked for (a column of codes is 8 bytes a row)
        self._ipc: dict[str, np.ndarray] = {}
        self._macc: dict[str, np.ndarray] = {}
        self._ints: dict[str, np.ndarray] = {}
        self._points(packets)
        self.tunnelled = packets["tunnel"].notna().to_numpy(dtype=bool)
        flags = _as_categorical(packets["nd_flags"])
        self.nd_flag_names = [str(x) for x in flags.categories]
        self.flagc = np.asarray(flags.codes)
        # per flag code: the S (solicited) flag is set; last slot for null
        self.nd_has_s = np.asarray(["S" in x for x in self.nd_flag_names] + [False], dtype=bool)

    def _points(self, packets: pd.DataFrame) -> None:
        iface = _as_categorical(packets["interface"])
        ifc = np.asarray(iface.codes, dtype=np.int64)
        ifx = self.int("ifindex")
        trip = pd.DataFrame({"c": self.cap, "i": ifc, "x": ifx})
        point = trip.groupby(["c", "i", "x"], sort=True, dropna=False).ngroup().to_numpy()
        self.point = compact(point)
        uniq = trip.drop_duplicates().sort_values(["c", "i", "x"]).reset_index(drop=True)
        n_if = uniq.groupby("c")["i"].nunique()
        n_ix = uniq.groupby("c")["x"].nunique()
        names = [str(x) for x in iface.categories]
        labels = []
        for c, i, x in uniq.itertuples(index=False):
            parts = [self.capture_names[c] if c >= 0 else "?"]
            if n_if.get(c, 1) > 1 and i >= 0:
                parts.append(names[i])
            if n_ix.get(c, 1) > 1 and x >= 0:
                parts.append(f"if{x}")
            labels.append("/".join(parts))
        # two points may print the same (e.g. interface null and named); keep them apart
        seen: dict[str, int] = {}
        for k, lab in enumerate(labels):
            if lab in seen:
                labels[k] = f"{lab}#{k}"
            seen[lab] = k
        self.point_names = labels
        self.point_capture = uniq["c"].to_numpy(dtype=np.int64)

    def release(self) -> None:
        """Drop the code and integer columns made so far (8 bytes a row each; they are made
        again when asked for)."""
        self._ipc.clear()
        self._macc.clear()
        self._ints.clear()

    def int(self, name: str) -> np.ndarray:
        """Column ``name`` as ``int64`` with ``-1`` for null (cached)."""
        a = self._ints.get(name)
        if a is None:
            a = self._ints[name] = ints(self.df[name])
        return a

    def int_once(self, name: str) -> np.ndarray:
        """:meth:`int` of ``name``, not kept when it was not already (for a column read once)."""
        a = self._ints.get(name)
        return a if a is not None else ints(self.df[name])

    def ipc(self, name: str) -> np.ndarray:
        """Codes of IP column ``name`` in the shared IP dictionary (cached)."""
        a = self._ipc.get(name)
        if a is None:
            a = self._ipc[name] = self.ip.codes(IP_COLUMNS.index(name))
        return a

    def macc(self, name: str) -> np.ndarray:
        """Codes of MAC column ``name`` in the shared MAC dictionary (cached)."""
        a = self._macc.get(name)
        if a is None:
            a = self._macc[name] = self.mac.codes(MAC_COLUMNS.index(name))
        return a

    def text(self, name: str) -> np.ndarray:
        """A text/categorical column as an object array (``None`` where null)."""
        s = self.df[name]
        return s.astype(object).where(s.notna(), None).to_numpy(dtype=object)


def compact(values: np.ndarray) -> np.ndarray:
    """Integers never null as ``int32`` when they fit (half of ``int64``), else ``int64``."""
    v = np.asarray(values, dtype=np.int64)
    small = not len(v) or (int(v.min()) >= -(2**31) and int(v.max()) < 2**31)
    return v.astype(np.int32) if small else v


def key_hash_of(columns: Sequence[Callable[[], np.ndarray]], n: int) -> np.ndarray:
    """:func:`key_hash` of the columns of ``n`` rows that ``columns`` make, each made when its
    turn comes and dropped once hashed (one column in memory at a time, not all of them)."""
    combine = _combine_hash_arrays()
    if combine is not None and columns:
        try:
            hashes = (pd.util.hash_array(np.asarray(c(), dtype=np.int64)) for c in columns)
            return np.asarray(combine(hashes, len(columns), n), dtype=np.uint64)
        except TypeError:  # an older pandas: (arrays, num_items)
            pass
    return key_hash([c() for c in columns])


def key_hash(columns: Sequence[np.ndarray]) -> np.ndarray:
    """One ``uint64`` per row combining the ``int64`` arrays ``columns`` (same on both sides):
    ``pd.util.hash_pandas_object`` of a DataFrame of them (``index=False``), computed column by
    column without building the DataFrame (which copied every column into one block)."""
    cols = [np.asarray(c, dtype=np.int64) for c in columns]
    combine = _combine_hash_arrays()
    if combine is not None and cols:
        hashes = (pd.util.hash_array(c) for c in cols)
        try:
            return np.asarray(combine(hashes, len(cols), len(cols[0])), dtype=np.uint64)
        except TypeError:  # an older pandas: (arrays, num_items)
            hashes = (pd.util.hash_array(c) for c in cols)
            return np.asarray(combine(hashes, len(cols)), dtype=np.uint64)
    frame = pd.DataFrame({f"k{i}": c for i, c in enumerate(cols)})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def _combine_hash_arrays() -> Callable[..., np.ndarray] | None:
    """pandas' own combination of per-column hashes (what ``hash_pandas_object`` uses), or
    None when this pandas does not have it where it is looked for."""
    try:
        from pandas.core.util.hashing import combine_hash_arrays
    except ImportError:
        return None
    return combine_hash_arrays  # type: ignore[no-any-return]


def nullable(values: np.ndarray, dtype: str) -> pd.api.extensions.ExtensionArray:
    """A nullable integer array of ``dtype`` from ``int64`` values, null where negative."""
    v = np.asarray(values, dtype=np.int64)
    mask = v < 0
    np_dtype = pd.api.types.pandas_dtype(dtype).numpy_dtype
    return pd.arrays.IntegerArray(np.where(mask, 0, v).astype(np_dtype), mask)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` of a 1-D array, by sorting (NumPy 2's hash-based unique is ten
    times slower on hundreds of thousands of distinct integers)."""
    v = np.sort(np.asarray(values).reshape(-1))
    if len(v) < 2:
        return v
    keep = np.empty(len(v), dtype=bool)
    keep[0] = True
    np.not_equal(v[1:], v[:-1], out=keep[1:])
    return v[keep]


def texts(values: np.ndarray, fmt: Callable[[int], str] = str) -> np.ndarray:
    """Object array of ``fmt(v)`` for each integer, ``?`` where negative (``fmt`` runs once per
    distinct value)."""
    v = np.asarray(values, dtype=np.int64)
    uniq, inv = np.unique(v, return_inverse=True)
    out = np.asarray([fmt(int(u)) if u >= 0 else "?" for u in uniq], dtype=object)
    return out[inv.reshape(-1)] if len(v) else np.zeros(0, dtype=object)
