"""Many captures on many machines: the packets table as a Dask DataFrame, with exchanges,
journeys and the explanation equal to the single-process ones.

>>> from distributed import Client                                # doctest: +SKIP
>>> client = Client("tcp://scheduler:8786")                       # doctest: +SKIP
>>> dcap = vxlanlens.dask.read("/data/incident/*.pcap.gz")        # doctest: +SKIP
>>> dcap.packets.groupby("capture").size().compute()              # doctest: +SKIP
>>> dcap.exchanges()                                              # doctest: +SKIP

How the work is split (see docs/scale-out.md):

- **packets**: one partition per capture file, or per file of a Parquet dataset
  (:mod:`vxlanlens.dataset`); each is read and decoded on a worker, where the files are (local
  paths the workers can open, or any path a shared file system gives them).
- **exchanges**: a request and its answer are paired at one observation point (a capture, or
  one interface of it), and a point never spans two files, so each partition is paired on its
  worker by the same code as ``vxlanlens exchanges`` (no shuffle); the results are gathered and
  ordered as the single-process table is.
- **journeys** (the same packet at several captures) and clock offsets need packets of every
  capture side by side: the columns they read (about a third of the table) are gathered to the
  client and matched there by the single-process code.
- **explain** runs on the client over the gathered table (topology inference and findings need
  all of it).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import dataset as _dataset
from .capture import Capture, CaptureSource, _labels
from .decode import DecodeOptions
from .errors import VxlanlensError
from .exchanges import exchanges as pair_exchanges
from .exchanges import journeys as find_journeys
from .exchanges._prep import REQUIRED
from .explain import Explanation
from .table import empty_packets

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["DaskCapture", "read"]


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
    from .capture import read as read_one

    df = read_one(path, options=options, batch_frames=batch_frames, workers=1).packets
    df["capture"] = pd.Categorical([label] * len(df))
    return df


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
class DaskCapture:
    """Captures as a Dask DataFrame (one partition per capture) and what can be computed from it."""

    packets: dd.DataFrame
    """The packets table, lazily: ``docs/columns.md`` columns, one partition per capture."""
    sources: list[CaptureSource] = field(default_factory=list)
    """Known before computing for datasets; for capture files, filled by :meth:`to_capture`."""
    timeout_s: float = 3.0
    _gathered: Capture | None = None

    def exchanges(self, timeout_s: float | None = None) -> pd.DataFrame:
        """The exchanges table, paired on the workers, one partition at a time."""
        t = self.timeout_s if timeout_s is None else timeout_s
        meta = pair_exchanges(empty_packets(), timeout_s=t)
        parts = self.packets.map_partitions(
            lambda df: pair_exchanges(df, timeout_s=t), meta=meta, enforce_metadata=False
        )
        frames = [f for f in parts.to_delayed()]
        import dask

        results = [r for r in dask.compute(*frames) if len(r)]
        if not results:
            return meta
        out = _concat_like(results, meta)
        return out.sort_values("ts", kind="stable").reset_index(drop=True)

    def journeys(self, max_skew_s: float = 5.0) -> pd.DataFrame:
        """Journeys across captures, matched on the client from the columns they need."""
        cols = list(dict.fromkeys(REQUIRED))
        table = self.packets[cols].compute()
        return find_journeys(_full(table), max_skew_s=max_skew_s)

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
) -> DaskCapture:
    """Captures (paths, glob patterns, ``LABEL=PATH``) or a Parquet dataset folder as a
    :class:`DaskCapture`. Nothing is read until something is computed; with a
    ``distributed.Client`` active, the files are read on its workers."""
    dd, delayed = _require()
    paths = _expand(sources)
    meta = empty_packets()
    if len(paths) == 1 and _dataset.is_dataset(paths[0]):
        folder = paths[0]
        man = _dataset.manifest(folder)
        entries = man.get("captures", [])
        parts = [delayed(_dataset.read_part)(folder, e) for e in entries]
        srcs = [_dataset.source_of(e) for e in entries]
    else:
        opts = DecodeOptions(guess_tunnels=guess_tunnels).with_ports(
            vxlan=tuple(vxlan_ports), geneve=tuple(geneve_ports), gpe=tuple(gpe_ports)
        )
        labelled = [(label, str(spec)) for label, spec in _labels(list(paths))]
        for _, spec in labelled:
            if spec == "-" or not os.path.isfile(spec):
                raise VxlanlensError(
                    f"{spec}: the Dask engine reads files the workers can open (not stdin)"
                )
        parts = [delayed(_decode_file)(label, spec, opts, batch_frames) for label, spec in labelled]
        srcs = []
    if not parts:
        raise VxlanlensError("no capture given")
    ddf = dd.from_delayed(parts, meta=meta, verify_meta=False)
    return DaskCapture(packets=ddf, sources=srcs, timeout_s=timeout_s)
