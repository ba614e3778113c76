"""Writing results: stdout or ``-o FILE`` written safely, tables in csv / JSON Lines / Parquet.

``-o FILE`` is refused when FILE is one of the inputs (the same file, also through a symlink
or hard link), written to a temporary file in FILE's folder and renamed over FILE only when
complete, the temporary file removed on an error or an interrupt. A FILE that exists and is not
a regular file (``/dev/stdout``, a FIFO) is written directly. Every command that wrote a file
says so on stderr the same way: ``vxlanlens: wrote FILE`` (plus what it holds, when useful).
"""

from __future__ import annotations

import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import click
import pandas as pd

from ..errors import VxlanlensError
from ..report.packets import printable

__all__ = [
    "OutputError",
    "atomic_path",
    "check_output",
    "output",
    "output_option",
    "warn",
    "write_table",
    "wrote",
]


output_option = click.option(
    "-o",
    "--output",
    "out",
    metavar="FILE",
    help=(
        "Write to FILE instead of stdout (through a temporary file renamed when complete; "
        "never onto an input)."
    ),
)


class OutputError(VxlanlensError):
    """``-o FILE`` cannot be written (refused, permission denied, disk full)."""


def wrote(path: str, detail: str = "") -> None:
    """Say on stderr that ``path`` was written: ``vxlanlens: wrote PATH (DETAIL)``."""
    click.echo(f"vxlanlens: wrote {printable(path)}" + (f" ({detail})" if detail else ""), err=True)


def warn(message: str) -> None:
    """One warning line on stderr: ``vxlanlens: warning: MESSAGE``."""
    click.echo(f"vxlanlens: warning: {printable(message)}", err=True)


def _input_paths() -> list[str]:
    """The files the running command reads: its captures and topology dumps."""
    from ..read.capture import parse_capture_arg
    from ..topology.load import parse_spec

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return []
    paths = []
    for arg in ctx.params.get("captures") or ():
        with suppress(VxlanlensError):
            paths.append(parse_capture_arg(arg)[1])
    for spec in ctx.params.get("topology") or ():
        with suppress(VxlanlensError):
            paths.append(parse_spec(spec)[2])
    return [p for p in paths if p != "-"]


def check_output(path: str | None) -> None:
    """Refuse ``-o path`` when it is one of the command's inputs (compared by device and inode,
    so symlinks and hard links are caught too)."""
    if path is None or path == "-":
        return
    try:
        out = os.stat(path)
    except OSError:
        return  # does not exist yet: cannot be an input
    for inp in _input_paths():
        try:
            st = os.stat(inp)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino) and stat.S_ISREG(st.st_mode):
            raise OutputError(
                f"refusing to write the output onto the input {inp!r}; choose another -o FILE",
                path=path,
            )


def _write_error(path: str, exc: OSError) -> OutputError:
    return OutputError(f"cannot write the output: {exc.strerror or exc}", path=path)


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """A temporary path in ``path``'s folder (same suffix) to write to; renamed over ``path``
    when the block ends normally, removed otherwise. ``path`` itself when it exists and is not
    a regular file (a device, a FIFO). Refuses an input as ``path``."""
    check_output(path)
    try:
        special = not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        special = False
    if special:
        yield path
        return
    dest = Path(os.path.realpath(path))  # through a symlink: its target is replaced
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{dest.name}.", suffix=f".tmp{dest.suffix}", dir=dest.parent
        )
    except OSError as exc:
        raise _write_error(path, exc) from None
    done = False
    try:
        try:
            mode = stat.S_IMODE(os.stat(dest).st_mode)
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        os.close(fd)
        yield tmp
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            raise _write_error(path, exc) from None
        done = True
    finally:
        if not done:
            with suppress(OSError):
                os.unlink(tmp)


@contextmanager
def output(path: str | None, binary: bool = False) -> Iterator[IO[Any]]:
    """The stream to write results to: stdout, or ``-o PATH`` written through
    :func:`atomic_path` (OSError while writing becomes :class:`OutputError`; once written,
    :func:`wrote` says so)."""
    if path is None or path == "-":
        if sys.stdout is None:
            raise OutputError("standard output is closed; expected it open, or use -o FILE")
        if binary:
            if sys.stdout.isatty():
                raise click.UsageError("refusing to write binary output to a terminal; use -o FILE")
            yield sys.stdout.buffer
        else:
            yield sys.stdout
        return
    with atomic_path(path) as target:
        try:
            fh = open(  # noqa: SIM115
                target, "wb" if binary else "w", encoding=None if binary else "utf-8"
            )
        except OSError as exc:
            raise _write_error(path, exc) from None
        try:
            with fh:
                yield fh
        except OSError as exc:
            raise _write_error(path, exc) from None
    wrote(path)


def write_table(df: pd.DataFrame, fmt: str, out: str | None) -> None:
    """Write a DataFrame as csv (cells that a spreadsheet would run as a formula get a leading
    ``'``), JSON Lines or Parquet."""
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise VxlanlensError(
                "parquet output needs pyarrow: pip install 'vxlanlens[parquet]'"
            ) from exc
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        with output(out, binary=True) as fh:
            fh.write(buf.getvalue())
        return
    from ..stream import exact_times

    with output(out) as fh:
        if fmt == "csv":
            from ..report.packets import csv_safe

            exact_times(csv_safe(df), fmt).to_csv(fh, index=False)
        else:
            exact_times(df, fmt).to_json(
                fh, orient="records", lines=True, date_format="iso", date_unit="ns"
            )
