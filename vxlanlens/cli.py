"""The ``vxlanlens`` command: a thin click layer over the library.

Machine output goes to stdout (or ``-o FILE``), diagnostics to stderr. Exit status: 0 success,
1 a problem with the input (one line naming the file and where), 2 a usage error.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

import click
import pandas as pd

from . import __version__
from .capture import Capture, read
from .errors import VxlanlensError

__all__ = ["main"]

PROGRESS_MIN_BYTES = 16 << 20
"""Inputs smaller than this never show a progress bar."""


def _ports(_ctx: click.Context, _param: click.Parameter, value: Sequence[int]) -> tuple[int, ...]:
    for port in value:
        if not 0 < port < 65536:
            raise click.BadParameter(f"{port} is not a UDP port (1..65535)")
    return tuple(value)


def capture_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by every command that reads captures."""
    func = click.option(
        "--geneve-port",
        "geneve_ports",
        multiple=True,
        type=int,
        callback=_ports,
        metavar="PORT",
        help="Also decode UDP PORT as Geneve (6081 always is). Repeatable.",
    )(func)
    func = click.option(
        "--vxlan-port",
        "vxlan_ports",
        multiple=True,
        type=int,
        callback=_ports,
        metavar="PORT",
        help="Also decode UDP PORT as VXLAN (8472 and 4789 always are). Repeatable.",
    )(func)
    func = click.option(
        "--no-guess",
        is_flag=True,
        help="Do not look for VXLAN on other UDP ports (by default a strictly checked guess is made).",
    )(func)
    func = click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")(func)
    return func


class _Progress:
    """A progress bar on stderr for large inputs, shown only when stderr is a terminal."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.done = 0
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled or not total or total < PROGRESS_MIN_BYTES:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="reading", file=sys.stderr, width=30)
            self.bar.__enter__()
        if done > self.done:
            self.bar.update(done - self.done)
            self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def load_captures(
    captures: Sequence[str],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
) -> Capture:
    """Read the captures named on the command line, with a progress bar and warnings on stderr."""
    progress = _Progress()
    try:
        cap = read(
            list(captures),
            vxlan_ports=vxlan_ports,
            geneve_ports=geneve_ports,
            guess_tunnels=not no_guess,
            progress=progress,
        )
    finally:
        progress.close()
    for warning in cap.warnings:
        click.echo(f"vxlanlens: warning: {warning}", err=True)
    return cap


@contextmanager
def output(path: str | None, binary: bool = False) -> Iterator[IO[Any]]:
    """The stream to write results to: ``-o PATH`` or stdout."""
    if path is None or path == "-":
        if binary:
            if sys.stdout.isatty():
                raise click.UsageError("refusing to write binary output to a terminal; use -o FILE")
            yield sys.stdout.buffer
        else:
            yield sys.stdout
        return
    try:
        fh = open(path, "wb" if binary else "w", encoding=None if binary else "utf-8")  # noqa: SIM115
    except OSError as exc:
        raise click.FileError(path, hint=exc.strerror) from exc
    with fh:
        yield fh


def write_table(df: pd.DataFrame, fmt: str, out: str | None) -> None:
    """Write a DataFrame as csv, JSON Lines or Parquet."""
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
    with output(out) as fh:
        if fmt == "csv":
            df.to_csv(fh, index=False)
        else:
            df.to_json(fh, orient="records", lines=True, date_format="iso", date_unit="ns")


class InputError(click.ClickException):
    """A problem with the input: one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"vxlanlens: error: {self.format_message()}", err=True, file=file)


class _Group(click.Group):
    """Turns the library's errors into :class:`InputError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VxlanlensError as exc:
            raise InputError(str(exc)) from exc


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, "-V", "--version", prog_name="vxlanlens")
def cli() -> None:
    """Explain Kubernetes overlay (Cilium VXLAN / Geneve) packet captures.

    CAPTURE is a pcap or pcapng file (possibly gzip/bzip2/xz/zstd-compressed), LABEL=FILE to
    name it, or - for standard input.
    """


@cli.command()
@capture_options
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "parquet"]),
    default="table",
    show_default=True,
    help="table: one readable line per frame; csv / json (JSON Lines) / parquet: every column.",
)
@click.option("-o", "--output", "out", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option(
    "--columns",
    metavar="COL,...",
    help="Only these columns (csv, json, parquet), in this order. See docs/columns.md.",
)
def packets(
    captures: tuple[str, ...],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    fmt: str,
    out: str | None,
    columns: str | None,
) -> None:
    """Decode captures into the packets table: one row per frame, outer and pod headers apart."""
    cap = load_captures(captures, vxlan_ports, geneve_ports, no_guess)
    df = cap.packets
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in df.columns]
        if unknown:
            raise click.BadParameter(
                f"unknown column(s): {', '.join(unknown)}", param_hint="--columns"
            )
        df = df[wanted]
    if fmt == "table":
        from .report.packets import packet_lines

        with output(out) as fh:
            for line in packet_lines(cap.packets):
                fh.write(line + "\n")
        return
    write_table(df, fmt, out)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``vxlanlens`` console script."""
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="vxlanlens",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("vxlanlens: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # the reader of our stdout went away (e.g. `| head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("vxlanlens: interrupted", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
