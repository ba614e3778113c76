"""The packets table in pieces: decode captures batch by batch with memory that does not grow
with the file, for exports (CSV, JSON Lines, Parquet) and for library users who aggregate.

>>> for df in vxlanlens.iter_batches(["node.pcap.gz"]):     # doctest: +SKIP
...     counts.update(df["tunnel"].value_counts().to_dict())

Each DataFrame has the columns and dtypes of the whole table (``docs/columns.md``); frame
numbers continue across batches; concatenating every batch gives the table that
:func:`vxlanlens.read` builds (categorical categories may differ per batch).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pandas as pd

from .capture import CaptureSource, _labels
from .decode import DecodeOptions
from .decode.result import DecodedBatch
from .engines import decoder_for
from .errors import VxlanlensError
from .read import open_capture
from .read.mirror_detect import mirror_options, mirror_sessions
from .read.records import RecordBatch
from .reassembly import MAX_CARRY, join, open_from, take
from .schema import COLUMNS
from .table import Decoder, TableBuilder

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["PacketStream", "exact_times", "iter_batches", "write_stream"]

CaptureSpec = str | os.PathLike[str] | BinaryIO

MIRROR_SCAN = 65536
"""Frames of each capture file a stream scans for VXLAN mirror sessions before streaming."""


@dataclass
class PacketStream:
    """An iterable of packets-table batches; ``sources`` and ``warnings`` fill in as it is read."""

    captures: list[tuple[str, CaptureSpec]]
    options: DecodeOptions
    batch_frames: int = 65536
    engine: str = "fast"
    sources: list[CaptureSource] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    frames: int = 0
    """Frames yielded so far."""

    def __iter__(self) -> Iterator[pd.DataFrame]:
        decode = decoder_for(self.engine)
        self._detect_mirrors(decode)
        for label, spec in self.captures:
            with open_capture(spec, label=label) as reader:
                n = 0
                for batch, decoded in self._carried(
                    reader.batches(max_frames=self.batch_frames), decode
                ):
                    builder = TableBuilder()
                    builder.add(batch, decoded)
                    table = builder.build()
                    for lo in range(0, len(table), self.batch_frames):
                        df = table.iloc[lo : lo + self.batch_frames]
                        if lo or len(df) < len(table):
                            df = df.reset_index(drop=True)
                        n += len(df)
                        self.frames += len(df)
                        yield df
                self.warnings.extend(reader.warnings)
                self.sources.append(
                    CaptureSource(
                        label=reader.label,
                        path=reader.path,
                        format=reader.format,
                        size=reader.size,
                        frames=n,
                        interfaces=tuple(reader.interfaces),
                    )
                )

    def _detect_mirrors(self, decode: Decoder) -> None:
        """VXLAN mirror sessions detected as :func:`vxlanlens.read` does, from the first
        :data:`MIRROR_SCAN` frames of each capture file (a stream is not read twice whole);
        when found, the stream peels them. Standard input and open files are not scanned."""
        if not self.options.mirror_auto:
            return
        tables = []
        for label, spec in self.captures:
            if not isinstance(spec, (str, os.PathLike)) or spec == "-":
                return
            with open_capture(spec, label=label) as reader:
                for batch in reader.batches(max_frames=MIRROR_SCAN):
                    builder = TableBuilder()
                    builder.add(batch, decode(batch, self.options))
                    tables.append(builder.build())
                    break
        if not tables:
            return
        found = mirror_sessions(pd.concat(tables, ignore_index=True), self.options, self.captures)
        if found:
            self.options = mirror_options(self.options, found)

    def _carried(
        self, batches: Iterator[RecordBatch], decode: Decoder
    ) -> Iterator[tuple[RecordBatch, DecodedBatch]]:
        """The decoded batches, each cut before the first IP fragment whose set is still
        incomplete at its end; the rest is carried into the next batch, so that fragments in
        two batches are reassembled as by :func:`vxlanlens.read` (a carry is at most one batch
        long, or ``MAX_CARRY`` records; a set spread wider is left incomplete). Tables are
        yielded in pieces of at most ``batch_frames`` rows."""
        carry: RecordBatch | None = None
        for batch in batches:
            if carry is not None:
                batch = join(carry, batch)
                carry = None
            decoded = decode(batch, self.options)
            cut = open_from(batch, decoded)
            if cut is not None and len(batch) - cut <= max(self.batch_frames, MAX_CARRY):
                carry = take(batch, cut)
                batch = take(batch, 0, cut)
                if not len(batch):
                    continue
                decoded = decode(batch, self.options)
            yield batch, decoded
        if carry is not None:
            yield carry, decode(carry, self.options)


def iter_batches(
    captures: CaptureSpec | Sequence[CaptureSpec],
    *,
    vxlan_ports: Sequence[int] = (),
    geneve_ports: Sequence[int] = (),
    gpe_ports: Sequence[int] = (),
    guess_tunnels: bool = True,
    reassemble: bool = True,
    options: DecodeOptions | None = None,
    batch_frames: int = 65536,
    engine: str = "fast",
) -> PacketStream:
    """The packets table of ``captures`` as a stream of DataFrames of at most ``batch_frames``
    rows each, read and decoded one batch at a time (the arguments are those of
    :func:`vxlanlens.read`; compressed files and ``-`` for stdin stream too)."""
    if isinstance(captures, (str, os.PathLike)) or hasattr(captures, "read"):
        specs: list[CaptureSpec] = [captures]  # type: ignore[list-item]
    else:
        specs = list(captures)
    if not specs:
        raise VxlanlensError("no capture given")
    opts = (
        options or DecodeOptions(guess_tunnels=guess_tunnels, reassemble=reassemble)
    ).with_ports(vxlan=tuple(vxlan_ports), geneve=tuple(geneve_ports), gpe=tuple(gpe_ports))
    return PacketStream(_labels(specs), opts, max(1, int(batch_frames)), engine)


def arrow_schema(columns: Sequence[str] | None = None) -> pa.Schema:
    """The Arrow schema of the packets table (categoricals as int32-indexed string dictionaries)
    so that every batch of a stream goes into one Parquet file."""
    import pyarrow as pa

    types = {
        "int64": pa.int64(),
        "UInt8": pa.uint8(),
        "UInt16": pa.uint16(),
        "UInt32": pa.uint32(),
        "boolean": pa.bool_(),
        "category": pa.dictionary(pa.int32(), pa.string()),
        "datetime64[ns, UTC]": pa.timestamp("ns", tz="UTC"),
    }
    by_name = {c.name: c for c in COLUMNS}
    names = list(columns) if columns is not None else [c.name for c in COLUMNS]
    return pa.schema([pa.field(n, types[by_name[n].dtype]) for n in names])


_ISO_NS = len("2026-12-06T08:43:17.055933123")


def exact_times(df: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """``df`` with each time-zone-aware time column as UTC text to the nanosecond, the same
    in every row and batch: ``2026-12-06 08:43:17.055933123+00:00`` for ``csv``,
    ``2026-12-06T08:43:17.055933123Z`` for ``json`` (pandas would cut the nanoseconds of JSON
    times, and write CSV times to the precision each batch happens to need); null stays null."""
    cols = [c for c in df.columns if isinstance(df[c].dtype, pd.DatetimeTZDtype)]
    if not cols:
        return df
    out = df.copy(deep=False)
    for c in cols:
        utc = df[c].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
        iso = np.datetime_as_string(utc, unit="ns")  # 2026-12-06T08:43:17.055933123
        suffix = "+00:00" if fmt == "csv" else "Z"
        width = _ISO_NS  # every datetime64[ns] has a four-digit year (NaT is left out below)
        # the texts' characters side by side: the ISO text, then the suffix (no per-row work)
        chars = np.empty((len(iso), width + len(suffix)), dtype=np.uint32)
        whole = iso.dtype.itemsize // 4
        chars[:, :width] = iso.view(np.uint32).reshape(len(iso), whole)[:, :width]
        chars[:, width:] = [ord(ch) for ch in suffix]
        if fmt == "csv":
            chars[:, 10] = ord(" ")  # the "T"
        text = chars.view(f"U{width + len(suffix)}").ravel().astype(object)
        text[np.isnat(utc)] = None
        out[c] = pd.Series(text, index=df.index, dtype=object)
    return out


def write_stream(
    batches: Iterator[pd.DataFrame] | PacketStream,
    fmt: str,
    fh: IO[Any],
    *,
    columns: Sequence[str] | None = None,
    metadata: dict[str, str] | None = None,
) -> int:
    """Write batches as ``csv``, ``json`` (JSON Lines) or ``parquet`` (one row group per batch)
    to the open file ``fh`` (binary for parquet, text otherwise); gives the number of rows.
    ``metadata`` goes into a Parquet file's key-value metadata."""
    rows = 0
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise VxlanlensError(
                "parquet output needs pyarrow: pip install 'vxlanlens[parquet]'"
            ) from exc
        schema = arrow_schema(columns)
        writer: pq.ParquetWriter | None = None
        try:
            for df in batches:
                part = df[list(columns)] if columns is not None else df
                table = pa.Table.from_pandas(part, preserve_index=False)
                if writer is None:
                    # pandas' metadata (nullable dtypes) comes with the first batch
                    schema = schema.with_metadata({**table.schema.metadata, **(metadata or {})})
                    writer = pq.ParquetWriter(fh, schema)
                writer.write_table(table.cast(schema))
                rows += len(df)
            if writer is None:  # nothing was read: the schema alone
                from .table import empty_packets

                empty = empty_packets()
                part = empty[list(columns)] if columns is not None else empty
                meta = pa.Table.from_pandas(part, preserve_index=False).schema.metadata
                schema = schema.with_metadata({**meta, **(metadata or {})})
                writer = pq.ParquetWriter(fh, schema)
                writer.write_table(schema.empty_table())
        finally:
            if writer is not None:
                writer.close()
        return rows
    if fmt not in ("csv", "json"):
        raise VxlanlensError(f"unknown stream format {fmt!r}: expected csv, json or parquet")
    header = True
    for df in batches:
        part = exact_times(df[list(columns)] if columns is not None else df, fmt)
        if fmt == "csv":
            part.to_csv(fh, index=False, header=header)
        elif len(part):
            part.to_json(fh, orient="records", lines=True, date_format="iso", date_unit="ns")
        header = False
        rows += len(part)
    if fmt == "csv" and header:  # nothing was read: the header alone
        pd.DataFrame(
            columns=list(columns) if columns is not None else [c.name for c in COLUMNS]
        ).to_csv(fh, index=False)
    return rows
