"""Many captures on many machines: the packets table as a Dask DataFrame, with exchanges,
journeys and the explanation equal to the single-process ones.

>>> from distributed import Client                                # doctest: +SKIP
>>> client = Client("tcp://scheduler:8786")                       # doctest: +SKIP
>>> dcap = vxlanlens.dask.read("/data/incident/*.pcap.gz")        # doctest: +SKIP
>>> dcap.packets.groupby("capture").size().compute()              # doctest: +SKIP
>>> dcap.exchanges()                                              # doctest: +SKIP

How the work is split (see docs/scale-out.md):

- **packets**: one partition per capture file, per file of a Parquet dataset
  (:mod:`vxlanlens.dataset`), or per chunk of a large uncompressed pcap file (``chunk_bytes``;
  cut at guessed record starts, each guess checked by the chunk before it, as
  :mod:`vxlanlens.parallel` does); each is read and decoded on a worker, where the files are
  (local paths the workers can open, or any path a shared file system gives them).
- **exchanges**: a request and its answer are paired at one observation point (a capture, or
  one interface of it), and a point never spans two files, so each file is paired on its
  worker by the same code as ``vxlanlens exchanges`` (no shuffle); the results are gathered and
  ordered as the single-process table is.
- **journeys** (the same packet at several captures) and clock offsets: the packets that can
  be recognised (IP or ARP pod frames), with the columns the matching reads, are shuffled by
  packet fingerprint into buckets, so that every copy of a packet lands in one bucket; each
  bucket is matched by the single-process code (:mod:`vxlanlens.exchanges.journeys`). The time
  differences per capture pair come back to the client, which computes the clock offsets;
  the offsets go back to the buckets, which cut their journeys; the client renumbers them.
- **explain** runs on the client over the gathered table (topology inference and findings need
  all of it).
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import dataset as _dataset
from .capture import Capture, CaptureSource, _labels
from .decode import DecodeOptions
from .errors import VxlanlensError
from .exchanges import exchanges as pair_exchanges
from .exchanges._prep import IP_COLUMNS, MAC_COLUMNS, REQUIRED, Dictionary, Prepared, check_positive
from .exchanges.journeys import _clock_table, _fingerprints, _journey_table, _matched, _reference
from .explain import Explanation
from .read.mirror_detect import mirror_options, mirror_sessions
from .table import empty_packets

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["CHUNK_BYTES", "DaskCapture", "read"]

CHUNK_BYTES = 256 * 1024 * 1024
"""Default ``chunk_bytes`` of :func:`read`: uncompressed pcap files larger than this are read
in chunks of about this size, one partition each."""


def _require() -> Any:
    try:
        import dask.dataframe as dd
        from dask import delayed
    except ImportError as exc:
        raise VxlanlensError(
            "the Dask engine needs dask and distributed: pip install 'vxlanlens[dask]'"
        ) from exc
    return dd, delayed


def _decode_file(label: str, path: str, options: DecodeOptions, batch_frames: int) -> pd.DataFrame:
    """The packets table of one capture file, labelled ``label`` (runs on a worker)."""
    from .engines import decoder_for
    from .read import open_capture
    from .table import TableBuilder

    builder = TableBuilder()
    with open_capture(path, label=label) as reader:
        builder.read(reader, decoder_for("fast"), options, batch_frames=batch_frames)
    df = builder.build()
    df["capture"] = pd.Categorical([label] * len(df))
    return df


def _head(label: str, path: str, options: DecodeOptions) -> pd.DataFrame:
    """The table of the first :data:`vxlanlens.stream.MIRROR_SCAN` frames of a capture file
    (runs on a worker; read to detect VXLAN mirror sessions)."""
    from .engines import decoder_for
    from .read import open_capture
    from .stream import MIRROR_SCAN
    from .table import TableBuilder

    builder = TableBuilder()
    with open_capture(path, label=label) as reader:
        for batch in reader.batches(max_frames=MIRROR_SCAN):
            builder.add(batch, decoder_for("fast")(batch, options))
            break
    return builder.build()


def _settled_options(
    heads: list[pd.DataFrame], options: DecodeOptions, labelled: list[tuple[str, str]]
) -> DecodeOptions:
    """``options`` with the VXLAN mirror sessions the heads of the files show, detection off
    (each file is then read once, with them)."""
    found = mirror_sessions(pd.concat(heads, ignore_index=True), options, labelled)
    return replace(mirror_options(options, found), mirror_auto=False)


def _pcap_chunks(path: str, chunk_bytes: int | None) -> list[int]:
    """Start offsets of the chunks of ``path`` (``[0]``: one partition): guessed record starts
    about ``chunk_bytes`` apart, for uncompressed classic pcap files only (pcapng and
    compressed files are one partition; :mod:`vxlanlens.read.split` only cuts classic pcap)."""
    from .read.split import guess_boundaries, pcap_header

    if not chunk_bytes or chunk_bytes <= 0:
        return [0]
    size = os.path.getsize(path)
    if size <= chunk_bytes or pcap_header(path) is None:
        return [0]
    return [0, *guess_boundaries(path, math.ceil(size / chunk_bytes))]


@dataclass(frozen=True)
class _ChunkInfo:
    """What reading one chunk gave, beside its table (small: travels to later chunks)."""

    frames: int
    clean: bool
    """The records ended exactly at the chunk's end (so the next chunk starts on a record)."""
    warnings: tuple[str, ...]


def _read_range(
    label: str,
    path: str,
    start: int,
    stop: int | None,
    frames_before: int,
    options: DecodeOptions,
    batch_frames: int,
    trusted: bool = False,
) -> tuple[pd.DataFrame, _ChunkInfo]:
    """The packets table of bytes ``[start, stop)`` of a classic pcap file (runs on a worker).
    Unless ``trusted`` (``start`` is a proven record start), a failure gives an empty chunk
    that does not count (see :func:`_settle`) instead of an error."""
    from .engines import decoder_for
    from .read.split import open_pcap_range
    from .table import TableBuilder

    builder = TableBuilder()
    try:
        with open_pcap_range(path, label, start, stop, frames_before) as reader:
            frames = builder.read(reader, decoder_for("fast"), options, batch_frames=batch_frames)
            clean = reader.ended_cleanly
            warnings = tuple(
                w for w in reader.warnings if stop is None or w not in reader.partial_warnings
            )
    except Exception:
        if trusted:  # from a proven record start: the sequential read fails the same way
            raise
        # a guessed cut that was no record start: the chunk before it cannot end cleanly
        # there, so :func:`_settle` will not use this chunk
        return empty_packets(), _ChunkInfo(0, False, ("unreadable chunk",))
    df = builder.build()
    df["capture"] = pd.Categorical([label] * len(df))
    return df, _ChunkInfo(frames, clean, warnings)


def _settle(
    part: pd.DataFrame,
    infos: list[_ChunkInfo],
    starts: list[int],
    label: str,
    path: str,
    options: DecodeOptions,
    batch_frames: int,
) -> pd.DataFrame:
    """Chunk ``i = len(infos) - 1`` of a file as the sequential read gives it, knowing what
    chunks 0..i gave. A chunk counts as read when it starts on a proven record start (chunk 0,
    or a chunk whose predecessors all counted and ended exactly on their last byte), warned of
    nothing the first chunk did not, and ended exactly on its last byte (unless it is the last
    chunk). The first chunk that does not count reads the rest of the file from its own start
    (a proven record start); the chunks after it are empty."""
    i = len(infos) - 1
    last = len(starts) - 1
    for k in range(i + 1):
        new = k > 0 and any(w not in infos[0].warnings for w in infos[k].warnings)
        if new or (k < last and not infos[k].clean):
            if k < i:
                return part.iloc[:0]
            before = sum(info.frames for info in infos[:i])
            df, _ = _read_range(
                label, path, starts[i], None, before, options, batch_frames, trusted=True
            )
            return df
    before = sum(info.frames for info in infos[:i])
    if before:
        part = part.copy()
        part["frame_no"] = part["frame_no"] + before
    return part


def _expand(sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    items = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    out: list[str] = []
    for item in items:
        text = os.fspath(item)
        if any(ch in text for ch in "*?[") and not os.path.exists(text):
            matched = sorted(glob.glob(text))
            if not matched:
                raise VxlanlensError(f"{text}: no file matches this pattern")
            out.extend(matched)
        else:
            out.append(text)
    if not out:
        raise VxlanlensError("no capture given")
    return out


@dataclass
class _Shuffled:
    """Packets shuffled by fingerprint, and what the client knows of the whole table."""

    buckets: list[Any]
    """Per bucket, a persisted table: every sighting of its fingerprints, plus one empty row
    per observation point of the whole table (so that point codes are the whole table's)."""
    names: list[str]
    present: np.ndarray
    first: int
    ip_values: list[Any]
    mac_values: list[Any]


@dataclass
class DaskCapture:
    """Captures as a Dask DataFrame (one partition per capture) and what can be computed from it."""

    packets: dd.DataFrame
    """The packets table, lazily: ``docs/columns.md`` columns, one partition per capture."""
    sources: list[CaptureSource] = field(default_factory=list)
    """Known before computing for datasets; for capture files, filled by :meth:`to_capture`."""
    timeout_s: float = 3.0
    files: list[list[int]] = field(default_factory=list)
    """The partitions of each capture file, in order (several for a file read in chunks)."""
    _gathered: Capture | None = None
    _shuffled: _Shuffled | None = None

    def exchanges(self, timeout_s: float | None = None) -> pd.DataFrame:
        """The exchanges table, paired on the workers, one capture file at a time (the chunks
        of a file read in chunks are put together first: an exchange may span two)."""
        import dask
        from dask import delayed

        t = self.timeout_s if timeout_s is None else timeout_s
        meta = pair_exchanges(empty_packets(), timeout_s=t)
        parts = self.packets.to_delayed()
        groups = self.files or [[i] for i in range(len(parts))]
        tasks = [delayed(_pair_file)([parts[i] for i in g], t) for g in groups]
        results = [r for r in dask.compute(*tasks) if len(r)]
        if not results:
            return meta
        out = _concat_like(results, meta)
        return out.sort_values("ts", kind="stable").reset_index(drop=True)

    def journeys(
        self,
        max_skew_s: float = 5.0,
        *,
        min_observations: int = 1,
        reference: str | None = None,
        buckets: int | None = None,
    ) -> pd.DataFrame:
        """Journeys across captures (as :func:`vxlanlens.exchanges.journeys`), matched on the
        workers after a shuffle by packet fingerprint into ``buckets`` groups (default: one per
        partition); the client only computes the clock offsets and renumbers the journeys."""
        import dask
        from dask import delayed

        skew = check_positive(max_skew_s, "max_skew_s", "journeys")
        sh = self._shuffle(buckets)
        _, offset = self._clocks(sh, reference)
        off = delayed(offset, pure=True)
        tasks = [
            delayed(_bucket_journeys)(b, off, skew, min_observations, j)
            for j, b in enumerate(sh.buckets)
        ]
        return _renumber(list(dask.compute(*tasks)), sh)

    def clock_offsets(self, *, reference: str | None = None) -> pd.DataFrame:
        """Per capture, its clock offset against a reference capture (as
        :func:`vxlanlens.exchanges.clock_offsets`): the time differences of packets seen at two
        captures are found in the fingerprint buckets and aggregated per capture pair."""
        table, _ = self._clocks(self._shuffle(None), reference)
        return table

    def _shuffle(self, buckets: int | None) -> _Shuffled:
        """The recognisable packets, their required columns with the whole table's categories,
        shuffled by fingerprint into buckets kept on the workers (computed once)."""
        import dask
        from dask import delayed

        k = max(1, int(buckets or self.packets.npartitions))
        if self._shuffled is not None and len(self._shuffled.buckets) == k:
            return self._shuffled
        cols = list(dict.fromkeys(REQUIRED))
        (slim,) = dask.persist(self.packets[cols])
        parts = slim.to_delayed()
        sums = dask.compute(*[delayed(_summary)(d) for d in parts])
        dtypes = {
            c: pd.CategoricalDtype(list(dict.fromkeys(v for sm in sums for v in sm["cats"][c])))
            for c in sums[0]["cats"]
        }
        points = list(dict.fromkeys(pt for sm in sums for pt in sm["points"]))
        # each once in the graph, referenced by every task (category lists can be long)
        pad = delayed(_padding(points, dtypes), pure=True)
        shared = delayed(dtypes, pure=True)
        split = delayed(_split, nout=k)
        pieces = [split(d, shared, k) for d in parts]
        groups = [
            delayed(_bucket)([pc[j] for pc in pieces] if k > 1 else list(pieces), pad, shared)
            for j in range(k)
        ]
        persisted = list(dask.persist(*groups))
        del slim
        names = [str(c) for c in dtypes["capture"].categories]
        firsts = [sm["first"] for sm in sums if sm["rows"]]
        present = sorted({names.index(c) for sm in sums for c in sm["present"]})
        skeleton = pd.DataFrame({c: pd.Categorical([], dtype=dtypes[c]) for c in dtypes})
        self._shuffled = _Shuffled(
            buckets=persisted,
            names=names,
            present=np.asarray(present, dtype=np.int64),
            first=names.index(firsts[0]) if firsts and firsts[0] is not None else -1,
            ip_values=list(Dictionary(skeleton[c] for c in IP_COLUMNS).values),
            mac_values=list(Dictionary(skeleton[c] for c in MAC_COLUMNS).values),
        )
        return self._shuffled

    def _clocks(self, sh: _Shuffled, reference: str | None) -> tuple[pd.DataFrame, np.ndarray]:
        """The clock-offsets table and offsets (ns per capture code) from the buckets' time
        differences, aggregated per capture pair on the client."""
        import dask
        from dask import delayed

        ref = _reference(sh.names, sh.present, sh.first, reference)
        matched = None
        if len(sh.present) > 1:
            got = dask.compute(*[delayed(_bucket_matched)(b) for b in sh.buckets])
            matched = pd.concat(got, ignore_index=True)
        return _clock_table(sh.names, sh.present, ref, matched)

    def to_capture(self, topology: Any = None) -> Capture:
        """Everything gathered into a single-process :class:`~vxlanlens.Capture`."""
        if self._gathered is None:
            from .capture import _load_topology

            packets = self.packets.compute().reset_index(drop=True)
            packets = _dataset.concat([packets])
            self._gathered = Capture(
                packets=packets,
                sources=self.sources,
                loaded_topology=_load_topology(topology),
                timeout_s=self.timeout_s,
            )
        return self._gathered

    def explain(self, topology: Any = None) -> Explanation:
        """The explanation, computed on the client over the gathered table."""
        return self.to_capture(topology).explain()


def _pair_file(chunks: list[pd.DataFrame], timeout_s: float) -> pd.DataFrame:
    """The exchanges of one capture file from its partitions (runs on a worker)."""
    table = chunks[0] if len(chunks) == 1 else _dataset.concat(chunks)
    return pair_exchanges(table, timeout_s=timeout_s)


def _summary(df: pd.DataFrame) -> dict[str, Any]:
    """What the client needs to know of one partition: its categories, captures present,
    first row's capture and observation points (capture, interface, ifindex)."""
    cats = {
        c: list(df[c].cat.categories)
        for c in df.columns
        if isinstance(df[c].dtype, pd.CategoricalDtype)
    }
    trip = df[["capture", "interface", "ifindex"]].astype(object)
    trip = trip.where(trip.notna(), None).drop_duplicates()
    return {
        "cats": cats,
        "rows": len(df),
        "first": None
        if not len(df) or pd.isna(df["capture"].iloc[0])
        else str(df["capture"].iloc[0]),
        "present": [str(c) for c in df["capture"].dropna().unique()],
        "points": [tuple(r) for r in trip.itertuples(index=False)],
    }


def _recode(cat: Any, categories: pd.Index) -> np.ndarray:
    """The codes of categorical ``cat`` in ``categories`` (a superset of its own), -1 for
    null."""
    codes = np.asarray(cat.codes, dtype=np.int64)
    if not len(cat.categories):
        return np.full(len(codes), -1, dtype=np.int64)
    where = categories.get_indexer(pd.Index(cat.categories, dtype=object))
    return np.where(codes >= 0, where[np.maximum(codes, 0)], -1)


def _with(df: pd.DataFrame, dtypes: dict[str, pd.CategoricalDtype]) -> pd.DataFrame:
    """``df`` with the whole table's categories (so codes mean the same in every partition)."""
    df = df.copy()
    for c, dt in dtypes.items():
        df[c] = pd.Categorical.from_codes(_recode(df[c].array, dt.categories), dtype=dt)
    return df


def _padding(points: list[tuple[Any, ...]], dtypes: dict[str, pd.CategoricalDtype]) -> pd.DataFrame:
    """One row per observation point, every other column null: no fingerprint, so matched
    with nothing, but it makes each bucket's point codes those of the whole table."""
    empty = empty_packets()
    n = len(points)
    data: dict[str, Any] = {}
    for c in dict.fromkeys(REQUIRED):
        if c in dtypes:
            data[c] = pd.Categorical([None] * n, dtype=dtypes[c])
        elif empty[c].dtype == np.int64:
            data[c] = np.zeros(n, dtype=np.int64)
        else:
            data[c] = pd.array([None] * n, dtype=empty[c].dtype)
    data["capture"] = pd.Categorical([p[0] for p in points], dtype=dtypes["capture"])
    data["interface"] = pd.Categorical([p[1] for p in points], dtype=dtypes["interface"])
    data["ifindex"] = pd.array([p[2] for p in points], dtype=empty["ifindex"].dtype)
    return pd.DataFrame(data)


def _split(df: pd.DataFrame, dtypes: dict[str, pd.CategoricalDtype], k: int) -> Any:
    """The recognisable rows of one partition, cut into ``k`` pieces by fingerprint. The
    pieces carry categorical columns as the whole table's codes (not their category lists,
    which would travel with every piece)."""
    df = _with(df, dtypes)
    rows, fp = _fingerprints(Prepared(df))
    sub = df.iloc[rows]
    plain = pd.DataFrame(
        {c: (sub[c].cat.codes.to_numpy() if c in dtypes else sub[c].array) for c in sub.columns}
    )
    if k == 1:
        return plain
    b = fp % np.uint64(k)
    return tuple(plain.iloc[np.flatnonzero(b == j)] for j in range(k))


_Bucket = tuple[Prepared, np.ndarray, np.ndarray]


def _bucket(
    pieces: list[pd.DataFrame], padding: pd.DataFrame, dtypes: dict[str, pd.CategoricalDtype]
) -> _Bucket:
    """One bucket: the pieces sent to it by every partition, in partition order, prepared
    (integer codes, recognisable rows and their fingerprints)."""
    rows = pd.concat(pieces, ignore_index=True)
    for c, dt in dtypes.items():
        rows[c] = pd.Categorical.from_codes(rows[c].to_numpy(np.int64), dtype=dt)
    p = Prepared(pd.concat([rows, padding], ignore_index=True))
    got, fp = _fingerprints(p)
    return p, got, fp


def _bucket_matched(bucket: _Bucket) -> pd.DataFrame:
    """Time differences per capture pair of the packets of one bucket."""
    return _matched(*bucket)


def _bucket_journeys(
    bucket: _Bucket, offset: np.ndarray, skew: float, min_obs: int, j: int
) -> pd.DataFrame:
    """The journeys of one bucket, with their fingerprints and the bucket's number."""
    p, rows, fp = bucket
    df, fps = _journey_table(p, rows, fp, offset, skew, min_obs)
    return df.assign(_fp=fps, _bucket=j)


def _renumber(parts: list[pd.DataFrame], sh: _Shuffled) -> pd.DataFrame:
    """The buckets' journeys as one table: journeys numbered by (first corrected time, first
    point, fingerprint) as the single-process code does, categories as it gives them (the
    addresses used, in the order of the whole table's address dictionary)."""
    ips = ("src_ip", "dst_ip", "outer_src_ip", "outer_dst_ip")
    macs = ("src_mac", "dst_mac")
    kinds = (
        (ips, pd.Index(sh.ip_values, dtype=object)),
        (macs, pd.Index(sh.mac_values, dtype=object)),
    )
    codes: dict[str, list[np.ndarray]] = {c: [] for c in (*ips, *macs)}
    for df in parts:
        for cols, index in kinds:
            for c in cols:
                codes[c].append(_recode(df[c].array, index))
    sizes = [len(df) for df in parts]
    out = pd.concat([df.drop(columns=list(codes)) for df in parts], ignore_index=True)
    for cols, index in kinds:
        for c in cols:
            cat = pd.Categorical.from_codes(np.concatenate(codes[c]), categories=index)
            out[c] = cat.remove_unused_categories()
    # one id per (bucket, local journey): local journey numbers are dense from 0 per bucket
    counts = [int(df["journey"].max()) + 1 if len(df) else 0 for df in parts]
    base = np.repeat(np.cumsum([0, *counts[:-1]]), sizes)
    gid = base + out["journey"].to_numpy(np.int64)
    first = np.flatnonzero(out["obs"].to_numpy(np.int64) == 1)
    ts = out["ts_corrected"].dt.tz_convert(None).to_numpy("datetime64[ns]").view(np.int64)
    order = np.lexsort(
        (
            gid[first],
            out["_fp"].to_numpy(np.uint64)[first],
            out["point"].cat.codes.to_numpy(np.int64)[first],
            ts[first],
        )
    )
    number = np.zeros(sum(counts), np.int64)
    number[gid[first][order]] = np.arange(len(order))
    out["journey"] = pd.array(number[gid], dtype="Int64")
    out = out.sort_values(["journey", "obs"], kind="stable").reset_index(drop=True)
    return out[[c for c in parts[0].columns if c not in ("_fp", "_bucket")]]


def _full(subset: pd.DataFrame) -> pd.DataFrame:
    """A packets table with ``subset``'s columns and the others empty (for code that checks
    the schema but reads only some columns)."""
    empty = empty_packets()
    n = len(subset)
    data: dict[str, Any] = {}
    for c in empty.columns:
        if c in subset.columns:
            data[c] = subset[c].reset_index(drop=True)
        else:
            data[c] = pd.Series(pd.array([None] * n, dtype=empty[c].dtype)) if n else empty[c]
    return pd.DataFrame(data)


def _concat_like(parts: list[pd.DataFrame], meta: pd.DataFrame) -> pd.DataFrame:
    out = pd.concat(parts, ignore_index=True)
    for c in meta.columns:
        if isinstance(meta[c].dtype, pd.CategoricalDtype) and not isinstance(
            out[c].dtype, pd.CategoricalDtype
        ):
            out[c] = out[c].astype("category")
    return out


def read(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    vxlan_ports: Sequence[int] = (),
    geneve_ports: Sequence[int] = (),
    gpe_ports: Sequence[int] = (),
    guess_tunnels: bool = True,
    batch_frames: int = 65536,
    timeout_s: float = 3.0,
    chunk_bytes: int | None = CHUNK_BYTES,
    reassemble: bool = True,
    mirror_vxlan: Sequence[str] = (),
) -> DaskCapture:
    """Captures (paths, glob patterns, ``LABEL=PATH``) or a Parquet dataset folder as a
    :class:`DaskCapture`. Nothing is read until something is computed; with a
    ``distributed.Client`` active, the files are read on its workers. An uncompressed classic
    pcap file larger than ``chunk_bytes`` is read in chunks of about that size, one partition
    each (None or 0: one partition per file); the table is the same either way (IP fragments
    are reassembled within a partition: a fragment set cut by a chunk boundary stays
    fragments). ``reassemble=False`` decodes every frame on its own. ``mirror_vxlan``: VXLAN
    mirror sessions to peel, as :func:`vxlanlens.read` takes them; by default they are detected
    as streams detect them, from the first :data:`vxlanlens.stream.MIRROR_SCAN` frames of each
    file (one task, before the files are read)."""
    dd, delayed = _require()
    paths = _expand(sources)
    meta = empty_packets()
    if len(paths) == 1 and _dataset.is_dataset(paths[0]):
        folder = paths[0]
        man = _dataset.manifest(folder)
        entries = man.get("captures", [])
        parts = [delayed(_dataset.read_part)(folder, e) for e in entries]
        srcs = [_dataset.source_of(e) for e in entries]
        files = [[i] for i in range(len(parts))]
    else:
        opts: Any = DecodeOptions(guess_tunnels=guess_tunnels, reassemble=reassemble).with_ports(
            vxlan=tuple(vxlan_ports), geneve=tuple(geneve_ports), gpe=tuple(gpe_ports)
        )
        try:
            opts = mirror_options(opts, mirror_vxlan)
        except ValueError as exc:
            raise VxlanlensError(str(exc)) from None
        labelled = [(label, str(spec)) for label, spec in _labels(list(paths))]
        for _, spec in labelled:
            if spec == "-" or not os.path.isfile(spec):
                raise VxlanlensError(
                    f"{spec}: the Dask engine reads files the workers can open (not stdin)"
                )
        if opts.mirror_auto:  # one task settles the sessions; every read waits for it
            heads = [delayed(_head)(label, spec, opts) for label, spec in labelled]
            opts = delayed(_settled_options, pure=True)(heads, opts, labelled)
        parts = []
        files = []
        for label, spec in labelled:
            starts = _pcap_chunks(spec, chunk_bytes)
            if len(starts) == 1:
                files.append([len(parts)])
                parts.append(delayed(_decode_file)(label, spec, opts, batch_frames))
                continue
            stops: list[int | None] = [*starts[1:], None]
            read_chunk = delayed(_read_range, nout=2)
            chunks = [
                read_chunk(label, spec, a, b, 0, opts, batch_frames)
                for a, b in zip(starts, stops, strict=True)
            ]
            infos = [info for _, info in chunks]
            files.append(list(range(len(parts), len(parts) + len(chunks))))
            for i, (table, _) in enumerate(chunks):
                parts.append(
                    delayed(_settle)(table, infos[: i + 1], starts, label, spec, opts, batch_frames)
                )
        srcs = []
    if not parts:
        raise VxlanlensError("no capture given")
    ddf = dd.from_delayed(parts, meta=meta, verify_meta=False)
    return DaskCapture(packets=ddf, sources=srcs, timeout_s=timeout_s, files=files)
