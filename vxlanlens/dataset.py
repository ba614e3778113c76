"""Parquet datasets of the packets table: convert captures once, analyse them many times.

``vxlanlens packets CAPTURE... -f parquet -o DIR/`` (or :func:`write_dataset`) writes one Parquet
file per capture into ``DIR`` (row groups of one decoded batch each, the schema's dtypes kept)
and a manifest ``DIR/_vxlanlens.json`` naming each capture's label, file, size, SHA-256,
format, frame count, link types and interfaces (also stored in each file's key-value metadata
under ``vxlanlens``). Every command that reads captures also reads such a folder, and
:func:`read_dataset` gives back the packets table that :func:`vxlanlens.read` would build
from the captures.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from ._version import __version__
from .capture import CaptureSource, _labels, _sha256
from .decode import DecodeOptions
from .errors import CaptureError, VxlanlensError
from .read.records import InterfaceInfo
from .schema import COLUMNS
from .stream import PacketStream, write_stream

__all__ = ["MANIFEST", "is_dataset", "read_dataset", "write_dataset"]

MANIFEST = "_vxlanlens.json"
"""Name of the manifest file of a dataset folder."""
_FORMAT = "vxlanlens-packets-dataset"
_VERSION = 1


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "capture"


def is_dataset(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder written by :func:`write_dataset`."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, MANIFEST))


def write_dataset(
    captures: Sequence[str | os.PathLike[str] | BinaryIO],
    out_dir: str | os.PathLike[str],
    *,
    options: DecodeOptions | None = None,
    batch_frames: int = 65536,
) -> list[dict[str, Any]]:
    """Decode ``captures`` into a dataset folder ``out_dir`` (created if needed; it must not
    hold a dataset's files already); gives the manifest's entry of each capture."""
    try:
        import pyarrow as pa  # noqa: F401
    except ImportError as exc:
        raise VxlanlensError(
            "parquet output needs pyarrow: pip install 'vxlanlens[parquet]'"
        ) from exc
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise VxlanlensError(f"{out}: a Parquet dataset goes into a folder, found a file")
    out.mkdir(parents=True, exist_ok=True)
    if (out / MANIFEST).exists():
        raise VxlanlensError(f"{out}: already holds a dataset ({MANIFEST}); choose another folder")
    opts = options or DecodeOptions()
    entries: list[dict[str, Any]] = []
    for k, (label, spec) in enumerate(_labels(list(captures))):
        name = f"{k:04d}-{_safe(label)}.parquet"
        stream = PacketStream([(label, spec)], opts, max(1, int(batch_frames)))
        tmp = out / (name + ".part")
        path = os.fspath(spec) if isinstance(spec, (str, os.PathLike)) else "-"
        sha = _sha256(path)
        # the file carries who it is; the manifest adds what is known once it is read
        meta = {"vxlanlens": json.dumps({"label": label, "path": path, "sha256": sha})}
        try:
            with open(tmp, "wb") as fh:
                write_stream(stream, "parquet", fh, metadata=meta)
            src = stream.sources[0]
            entry = {
                "file": name,
                "label": src.label,
                "path": src.path,
                "format": src.format,
                "size": src.size,
                "sha256": sha,
                "frames": src.frames,
                "interfaces": [asdict(i) for i in src.interfaces],
                "warnings": list(stream.warnings),
            }
            os.replace(tmp, out / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        entries.append(entry)
    manifest = {
        "format": _FORMAT,
        "version": _VERSION,
        "vxlanlens": __version__,
        "columns": [c.name for c in COLUMNS],
        "captures": entries,
    }
    tmp = out / (MANIFEST + ".part")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
    return entries


def manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a dataset folder (checked: format, version, files present)."""
    where = Path(path) / MANIFEST
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CaptureError(f"cannot read the dataset manifest: {exc}", path=str(where)) from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise CaptureError(
            f"not a vxlanlens dataset manifest (expected format {_FORMAT!r})", path=str(where)
        )
    if data.get("version") != _VERSION:
        raise CaptureError(
            f"dataset version {data.get('version')!r}; this vxlanlens reads version {_VERSION}",
            path=str(where),
        )
    for entry in data.get("captures", []):
        if not (Path(path) / str(entry.get("file"))).is_file():
            raise CaptureError(
                f"the dataset lists {entry.get('file')!r}, which is missing", path=str(path)
            )
    return data


def read_part(folder: str | os.PathLike[str], entry: dict[str, Any]) -> pd.DataFrame:
    """The packets table of one capture of a dataset, with the schema's dtypes."""
    df = pd.read_parquet(Path(folder) / entry["file"])
    return _conform(df, str(Path(folder) / entry["file"]))


def _conform(df: pd.DataFrame, where: str) -> pd.DataFrame:
    names = [c.name for c in COLUMNS]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise CaptureError(
            f"dataset file lacks packets-table columns: {', '.join(missing[:6])}", path=where
        )
    data: dict[str, Any] = {}
    for c in COLUMNS:
        s = df[c.name]
        if c.dtype == "category":
            data[c.name] = _object_categorical(s)
        elif str(s.dtype) != c.dtype:
            data[c.name] = s.astype(c.dtype)
        else:
            data[c.name] = s
    return pd.DataFrame(data, index=pd.RangeIndex(len(df)))


def _object_categorical(s: pd.Series) -> pd.Series:
    """``s`` as a categorical whose categories are Python objects, as the packets table has
    (Parquet gives string-typed categories, or plain strings for an all-null column)."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        values = s.astype(object).where(s.notna(), None)
        cats = pd.Index(pd.unique(values.dropna()), dtype=object)
        return pd.Series(pd.Categorical(values, categories=cats), index=s.index)
    cats = s.cat.categories
    if cats.dtype == object:
        return s
    codes = s.cat.codes.to_numpy()
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=pd.Index(list(cats), dtype=object)),
        index=s.index,
    )


def source_of(entry: dict[str, Any]) -> CaptureSource:
    """The :class:`~vxlanlens.CaptureSource` a manifest entry describes."""
    return CaptureSource(
        label=str(entry["label"]),
        path=str(entry["path"]),
        format=str(entry["format"]),
        size=entry.get("size"),
        frames=int(entry["frames"]),
        interfaces=tuple(InterfaceInfo(**i) for i in entry.get("interfaces", [])),
    )


def concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Packets tables appended, categoricals unified (categories in order of appearance)."""
    if not parts:
        from .table import empty_packets

        return empty_packets()
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    data: dict[str, Any] = {}
    for c in COLUMNS:
        cols = [p[c.name] for p in parts]
        if c.dtype == "category":
            data[c.name] = pd.api.types.union_categoricals(cols, ignore_order=True)
        else:
            data[c.name] = pd.concat(cols, ignore_index=True)
    n = sum(len(p) for p in parts)
    return pd.DataFrame(data, index=pd.RangeIndex(n))


def read_dataset(
    path: str | os.PathLike[str],
) -> tuple[pd.DataFrame, list[CaptureSource], list[str]]:
    """The packets table, the capture sources and the readers' warnings of a dataset folder."""
    data = manifest(path)
    entries = data.get("captures", [])
    parts = [read_part(path, e) for e in entries]
    warnings = [w for e in entries for w in e.get("warnings", [])]
    return concat(parts), [source_of(e) for e in entries], warnings
