"""The library's front door: :func:`read` captures into a :class:`Capture`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from .decode import DecodeOptions, decode_batch
from .errors import CaptureError
from .read import open_capture, parse_capture_arg
from .read.records import InterfaceInfo
from .table import TableBuilder

__all__ = ["Capture", "CaptureSource", "read"]

ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` while captures are read."""


@dataclass
class CaptureSource:
    """One capture file that went into a :class:`Capture`."""

    label: str
    path: str
    format: str
    size: int | None
    frames: int
    interfaces: tuple[InterfaceInfo, ...] = ()

    @cached_property
    def sha256(self) -> str | None:
        """SHA-256 of the file as it is on disk now (``None`` for stdin and streams)."""
        return _sha256(self.path)


@dataclass
class Capture:
    """Captures read and decoded: the packets table and where it came from."""

    packets: pd.DataFrame
    """One row per frame; columns as documented in ``docs/columns.md``."""
    sources: list[CaptureSource] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Human one-line notes about the input (e.g. a file cut short in its last record)."""
    options: DecodeOptions = field(default_factory=DecodeOptions)

    def __repr__(self) -> str:
        labels = ", ".join(s.label for s in self.sources)
        return f"<Capture {len(self.packets)} frames from {len(self.sources)} capture(s): {labels}>"


CaptureSpec = str | os.PathLike[str] | BinaryIO


def read(
    captures: CaptureSpec | Sequence[CaptureSpec],
    *,
    vxlan_ports: Sequence[int] = (),
    geneve_ports: Sequence[int] = (),
    gpe_ports: Sequence[int] = (),
    guess_tunnels: bool = True,
    options: DecodeOptions | None = None,
    progress: ProgressCallback | None = None,
    batch_frames: int = 32768,
) -> Capture:
    """Read and decode one or more captures into a :class:`Capture`.

    Each capture is a path, ``LABEL=PATH``, ``-`` for stdin, or an open binary file. Labels
    (the ``capture`` column) default to the file's stem; equal stems are told apart by their
    parent folder. Extra tunnel ports add to the defaults (VXLAN 4789/8472, VXLAN-GPE 4790,
    Geneve 6081).
    """
    if isinstance(captures, (str, os.PathLike)) or hasattr(captures, "read"):
        specs: list[CaptureSpec] = [captures]  # type: ignore[list-item]
    else:
        specs = list(captures)
    if not specs:
        raise CaptureError("no capture given")
    opts = options or DecodeOptions(guess_tunnels=guess_tunnels)
    opts = opts.with_ports(
        vxlan=tuple(vxlan_ports), geneve=tuple(geneve_ports), gpe=tuple(gpe_ports)
    )

    resolved = _labels(specs)
    total = _total_size(resolved)
    done_before = 0
    builder = TableBuilder()
    sources: list[CaptureSource] = []
    warnings: list[str] = []
    for label, spec in resolved:
        with open_capture(spec, label=label) as reader:
            start = len(builder)
            for batch in reader.batches(max_frames=batch_frames):
                builder.add(batch, decode_batch(batch, opts))
                if progress is not None:
                    progress(done_before + reader.bytes_read, total)
            done_before += reader.bytes_read
            warnings.extend(reader.warnings)
            sources.append(
                CaptureSource(
                    label=reader.label,
                    path=reader.path,
                    format=reader.format,
                    size=reader.size,
                    frames=len(builder) - start,
                    interfaces=tuple(reader.interfaces),
                )
            )
    return Capture(packets=builder.build(), sources=sources, warnings=warnings, options=opts)


def _labels(specs: list[CaptureSpec]) -> list[tuple[str, CaptureSpec]]:
    """(label, source) pairs, with labels made unique."""
    out: list[tuple[str, CaptureSpec, bool]] = []
    for spec in specs:
        if isinstance(spec, (str, os.PathLike)):
            text = os.fspath(spec)
            label, path = parse_capture_arg(text)
            out.append((label, path, path != text))
        else:
            name = getattr(spec, "name", None)
            label = Path(name).stem if isinstance(name, str) and name else "stream"
            out.append((label, spec, False))
    seen: dict[str, int] = {}
    for label, _, _ in out:
        seen[label] = seen.get(label, 0) + 1
    result: list[tuple[str, CaptureSpec]] = []
    used: set[str] = set()
    for label, spec, given in out:
        if seen[label] > 1 and not given and isinstance(spec, str) and spec != "-":
            parent = Path(spec).resolve().parent.name
            label = f"{parent}/{label}" if parent else label
        base, k = label, 2
        while label in used:
            label, k = f"{base}#{k}", k + 1
        used.add(label)
        result.append((label, spec))
    return result


def _total_size(resolved: list[tuple[str, CaptureSpec]]) -> int | None:
    total = 0
    for _, spec in resolved:
        if not isinstance(spec, str) or spec == "-":
            return None
        try:
            total += os.stat(spec).st_size
        except OSError:
            return None
    return total


def _sha256(path: str) -> str | None:
    if path == "-" or not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
