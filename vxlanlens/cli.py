"""The ``vxlanlens`` command: a thin click layer over the library.

Machine output goes to stdout (or ``-o FILE``), diagnostics to stderr. Exit status: 0 success,
1 a problem with the input (one line naming the file and where), 2 a usage error, 130 an
interrupt. Every error is one line starting ``vxlanlens: error:``.

``-o FILE`` is written safely: refused when FILE is one of the inputs (the same file, also
through a symlink or hard link), written to a temporary file in FILE's folder and renamed
over FILE only when complete, the temporary file removed on an error or an interrupt. A FILE
that exists and is not a regular file (``/dev/stdout``, a FIFO) is written directly. A reader
that goes away (``vxlanlens packets x.pcap | head``) ends the command quietly.
"""

from __future__ import annotations

import io
import os
import shlex
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import click
import pandas as pd

from . import __version__
from .capture import Capture, read
from .errors import VxlanlensError
from .report.packets import printable

__all__ = ["main"]

PROGRESS_MIN_BYTES = 16 << 20
"""Inputs smaller than this never show a progress bar."""


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
    func = click.option(
        "-j",
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        expose_value=False,
        callback=_remember_workers,
        metavar="N",
        help=(
            "Processes that may read one large uncompressed pcap file at once (default: the "
            "CPUs available, at most 4). The result is the same with any N."
        ),
    )(func)
    func = click.option(
        "--capture-at",
        multiple=True,
        expose_value=False,
        callback=_remember(_CAPTURE_AT_KEY),
        metavar="LABEL=NODE[:IFACE]",
        help=(
            "Where capture LABEL was taken, when you know it (a node, and its interface: eth0, "
            "any for -i any); otherwise it is placed from the evidence. Repeatable."
        ),
    )(func)
    func = click.option(
        "--scheduler",
        expose_value=False,
        callback=_remember(_SCHEDULER_KEY),
        metavar="ADDRESS|local:N",
        help=(
            "Read and decode the captures on a Dask cluster (tcp://host:8786), or on a local one "
            "of N worker processes (local:2); needs vxlanlens[dask]. See docs/scale-out.md."
        ),
    )(func)
    func = click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")(func)
    return func


_WORKERS_KEY = "vxlanlens.workers"
_CAPTURE_AT_KEY = "vxlanlens.capture_at"
_SCHEDULER_KEY = "vxlanlens.scheduler"


def _remember_workers(ctx: click.Context, _param: click.Parameter, value: int | None) -> None:
    ctx.meta[_WORKERS_KEY] = value


def _remember(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """A callback that keeps an option's value in the context for :func:`load_all`."""

    def keep(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        ctx.meta[key] = value

    return keep


def _meta(key: str) -> Any:
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.meta.get(key)


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


class OutputError(VxlanlensError):
    """``-o FILE`` cannot be written (refused, permission denied, disk full)."""


def _input_paths() -> list[str]:
    """The files the running command reads: its captures and topology dumps."""
    from .read.capture import parse_capture_arg
    from .topology.load import parse_spec

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
    :func:`atomic_path` (OSError while writing becomes :class:`OutputError`)."""
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
    with output(out) as fh:
        if fmt == "csv":
            from .report.packets import csv_safe

            csv_safe(df).to_csv(fh, index=False)
        else:
            df.to_json(fh, orient="records", lines=True, date_format="iso", date_unit="ns")


class InputError(click.ClickException):
    """A problem with the input: one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"vxlanlens: error: {printable(self.format_message())}", err=True, file=file)


class _PipeClosed(Exception):
    """The reader of stdout went away (not an OSError, so that click does not exit 1)."""


class _Group(click.Group):
    """Turns the library's errors into :class:`InputError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VxlanlensError as exc:
            raise InputError(str(exc)) from exc
        except BrokenPipeError as exc:
            raise _PipeClosed() from exc
        except MemoryError as exc:  # numpy's _ArrayMemoryError included
            raise InputError(
                "out of memory; try fewer or smaller captures (or more memory)"
                + (f" ({_one_line(exc)})" if str(exc) else "")
            ) from exc


def _one_line(exc: BaseException) -> str:
    return printable(" ".join(str(exc).split())[:200])


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
    help=(
        "table: one readable line per frame; csv / json (JSON Lines) / parquet: every column. "
        "csv cells starting with = + - @ tab or CR get a leading ' (no spreadsheet formulas)."
    ),
)
@output_option
@click.option(
    "--engine",
    type=click.Choice(["fast", "scapy", "tshark"]),
    default="fast",
    show_default=True,
    help="Decoder: vxlanlens' own (fast), scapy's dissectors, or tshark's (Wireshark); same columns.",
)
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
    engine: str,
    columns: str | None,
) -> None:
    """Decode captures into the packets table: one row per frame, outer and pod headers apart.

    Written batch by batch as the captures are read, so memory stays flat whatever their size.
    ``-f parquet -o DIR/`` (a folder: a trailing / or an existing directory) writes a Parquet
    dataset, one file per capture, that every command reads back (docs/scale-out.md).
    """
    from .schema import COLUMN_NAMES

    wanted: list[str] | None = None
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in COLUMN_NAMES]
        if unknown:
            raise click.BadParameter(
                f"unknown column(s): {', '.join(unknown)}", param_hint="--columns"
            )
    to_folder = fmt == "parquet" and out is not None and (out.endswith("/") or os.path.isdir(out))
    if to_folder:
        from .dataset import write_dataset

        check_output(out)
        entries = write_dataset(
            list(captures),
            out,  # type: ignore[arg-type]
            options=_decode_options(vxlan_ports, geneve_ports, no_guess),
        )
        for e in entries:
            for w in e.get("warnings", []):
                click.echo(f"vxlanlens: warning: {printable(w)}", err=True)
        frames = sum(int(e["frames"]) for e in entries)
        click.echo(f"vxlanlens: wrote {out} ({len(entries)} capture(s), {frames} frames)", err=True)
        return
    if engine == "fast" and not _meta(_SCHEDULER_KEY) and not _meta(_CAPTURE_AT_KEY):
        _stream_packets(captures, vxlan_ports, geneve_ports, no_guess, fmt, out, wanted)
        return
    cap = load_all(captures, (), vxlan_ports, geneve_ports, no_guess, engine=engine)
    df = cap.packets
    if wanted:
        df = df[wanted]
    if fmt == "table":
        from .report.packets import packet_lines

        with output(out) as fh:
            for line in packet_lines(cap.packets):
                fh.write(line + "\n")
        return
    write_table(df, fmt, out)


def _decode_options(
    vxlan_ports: tuple[int, ...], geneve_ports: tuple[int, ...], no_guess: bool
) -> Any:
    from .decode import DecodeOptions

    return DecodeOptions(guess_tunnels=not no_guess).with_ports(
        vxlan=tuple(vxlan_ports), geneve=tuple(geneve_ports), gpe=()
    )


def _stream_packets(
    captures: Sequence[str],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    fmt: str,
    out: str | None,
    wanted: list[str] | None,
) -> None:
    """``packets`` written batch by batch as the captures are read."""
    from .report.packets import csv_safe, packet_lines
    from .stream import iter_batches, write_stream

    check_output(out)
    stream = iter_batches(
        list(captures),
        vxlan_ports=vxlan_ports,
        geneve_ports=geneve_ports,
        guess_tunnels=not no_guess,
    )
    if fmt == "parquet":
        with output(out, binary=True) as fh:
            write_stream(stream, "parquet", fh, columns=wanted)
    elif fmt == "table":
        with output(out) as fh:
            for df in stream:
                for line in packet_lines(df):
                    fh.write(line + "\n")
    else:
        batches = (csv_safe(df) for df in stream) if fmt == "csv" else iter(stream)
        with output(out) as fh:
            write_stream(batches, fmt, fh, columns=wanted)
    for warning in stream.warnings:
        click.echo(f"vxlanlens: warning: {printable(warning)}", err=True)


def topology_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--topology PATH`` (repeatable): the dumps that name interfaces, pods and nodes."""
    return click.option(
        "-t",
        "--topology",
        "topology",
        multiple=True,
        metavar="[NODE[/POD]=]PATH",
        help=(
            "A topology dump: ip a l / ip -j addr / ip r / ip n text or JSON, cilium-dbg endpoint "
            "list, kubectl get pods, CiliumNode/CiliumEndpoint, a sysdump zip, a folder of these, or "
            "a vxlanlens topology YAML. NODE= / NODE/POD= says whose dump it is. Repeatable."
        ),
    )(func)


def _workers() -> int | None:
    """The ``--workers`` value of the running command, if any."""
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.meta.get(_WORKERS_KEY)


def load_all(
    captures: Sequence[str],
    topology: Sequence[str],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    timeout: float = 3.0,
    engine: str = "fast",
) -> Capture:
    """Captures plus topology dumps, read with progress and warnings on stderr (after checking
    that ``-o`` is none of them)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        check_output(ctx.params.get("out"))
    capture_at = list(_meta(_CAPTURE_AT_KEY) or ()) or None
    scheduler = _meta(_SCHEDULER_KEY)
    if scheduler:
        cap = _load_on_dask(
            scheduler, captures, topology, vxlan_ports, geneve_ports, no_guess, timeout
        )
        if capture_at:
            cap = read_placed(cap, capture_at)
        return cap
    progress = _Progress()
    try:
        cap = read(
            list(captures),
            topology=list(topology) or None,
            vxlan_ports=vxlan_ports,
            geneve_ports=geneve_ports,
            guess_tunnels=not no_guess,
            progress=progress,
            timeout_s=timeout,
            engine=engine,
            workers=_workers(),
            capture_at=capture_at,
        )
    finally:
        progress.close()
    for warning in cap.warnings:
        click.echo(f"vxlanlens: warning: {printable(warning)}", err=True)
    return cap


def read_placed(cap: Capture, capture_at: Sequence[str]) -> Capture:
    """``cap`` with the stated capture placements applied."""
    from dataclasses import replace

    from .topology import parse_capture_at

    return replace(cap, capture_at=parse_capture_at(list(capture_at)))


def _load_on_dask(
    scheduler: str,
    captures: Sequence[str],
    topology: Sequence[str],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    timeout: float,
) -> Capture:
    """Captures read and decoded on a Dask cluster, gathered into a :class:`Capture`."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise VxlanlensError(
            "--scheduler needs dask and distributed: pip install 'vxlanlens[dask]'"
        ) from None
    from . import dask as vdask

    if scheduler.startswith("local:"):
        try:
            n = int(scheduler.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise click.BadParameter(
                f"{scheduler!r}: expected local:N with N >= 1", param_hint="--scheduler"
            )
        cluster: Any = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        cluster = None
        try:
            client = Client(scheduler, timeout=10)
        except OSError as exc:
            raise VxlanlensError(
                f"cannot reach the Dask scheduler {scheduler}: {_one_line(exc)}"
            ) from None
    try:
        dcap = vdask.read(
            list(captures),
            vxlan_ports=vxlan_ports,
            geneve_ports=geneve_ports,
            guess_tunnels=not no_guess,
            timeout_s=timeout,
        )
        return dcap.to_capture(list(topology) or None)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


_SEVERITY_RANK = {"info": 0, "warning": 1, "problem": 2}

MAX_TIMEOUT = 1e9
"""Largest ``--timeout`` in seconds (about 31 years; more would overflow nanoseconds)."""

timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0.0, max=MAX_TIMEOUT),
    default=3.0,
    show_default=True,
    help="Seconds a request waits for its answer.",
)


cni_option = click.option(
    "--cni",
    type=click.Choice(["auto", "cilium", "flannel", "calico", "antrea", "ovn"]),
    default="auto",
    show_default=True,
    help="The overlay, when you know it; auto recognises it from the input (docs/overlays/README.md).",
)


def _command_line(
    command: str, captures: Sequence[str], topology: Sequence[str], fmt: str | None, **extra: Any
) -> str:
    """The shell command that reproduces a report, for the report itself."""
    words = ["vxlanlens", command, *captures]
    words += [w for t in topology for w in ("--topology", t)]
    words += [w for p in extra.get("vxlan_ports", ()) for w in ("--vxlan-port", str(p))]
    words += [w for p in extra.get("geneve_ports", ()) for w in ("--geneve-port", str(p))]
    words += ["--no-guess"] * bool(extra.get("no_guess"))
    if fmt is not None:
        words += ["--format", fmt]
    if extra.get("timeout") not in (None, 3.0):
        words += ["--timeout", f"{extra['timeout']:g}"]
    if extra.get("cni") not in (None, "auto"):
        words += ["--cni", str(extra["cni"])]
    words += [w for s in _meta(_CAPTURE_AT_KEY) or () for w in ("--capture-at", s)]
    return " ".join(shlex.quote(w) for w in words)


def _explained(
    name: str,
    captures: Sequence[str],
    topology: Sequence[str],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    timeout: float,
    cni: str,
    fmt: str | None,
) -> tuple[Capture, Any, str]:
    """The captures read, their explanation, and the command line that reproduces it."""
    cap = load_all(captures, topology, vxlan_ports, geneve_ports, no_guess, timeout)
    exp = cap.explain(cni=None if cni == "auto" else cni)
    command = _command_line(
        name,
        captures,
        topology,
        fmt,
        vxlan_ports=vxlan_ports,
        geneve_ports=geneve_ports,
        no_guess=no_guess,
        timeout=timeout,
        cni=cni,
    )
    return cap, exp, command


@cli.command()
@capture_options
@topology_option
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "md", "html", "json"]),
    default="text",
    show_default=True,
    help="text for a terminal, md (Markdown) for a ticket, html (one self-contained file), json (versioned schema) for scripts.",
)
@output_option
@click.option(
    "--fail-on",
    type=click.Choice(["problem", "warning"]),
    help="Exit with status 3 when a finding of this severity (or worse) is present.",
)
@timeout_option
@cni_option
def explain(
    captures: tuple[str, ...],
    topology: tuple[str, ...],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    fmt: str,
    out: str | None,
    fail_on: str | None,
    timeout: float,
    cni: str,
) -> None:
    """Explain what the captures show: paths in words, findings with evidence.

    Works with captures alone (saying what it inferred and what it could not know); topology dumps
    add interface, pod and node names and let it check addresses against interfaces.
    """
    cap, exp, command = _explained(
        "explain", captures, topology, vxlan_ports, geneve_ports, no_guess, timeout, cni, fmt
    )
    text = cap.report(fmt, explanation=exp, command=command)
    with output(out) as fh:
        fh.write(text)
    if fail_on is not None:
        worst = max((_SEVERITY_RANK[f.severity] for f in exp.findings), default=0)
        if worst >= _SEVERITY_RANK[fail_on]:
            raise SystemExit(3)


@cli.command()
@capture_options
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help=(
        "table for a terminal; json (JSON Lines) or csv with every column (docs/exchanges.md); "
        "csv cells starting with = + - @ tab or CR get a leading '."
    ),
)
@output_option
@click.option(
    "-k",
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["arp", "nd", "echo", "tcp", "icmp-error"]),
    help="Only exchanges of this kind. Repeatable.",
)
@timeout_option
@click.option(
    "--journeys",
    "show_journeys",
    is_flag=True,
    help="List journeys (one packet seen at several points) instead.",
)
def exchanges(
    captures: tuple[str, ...],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    fmt: str,
    out: str | None,
    kinds: tuple[str, ...],
    timeout: float,
    show_journeys: bool,
) -> None:
    """Pair requests with their answers: ARP, NS/NA, echo, TCP handshakes, ICMP errors."""
    cap = load_all(captures, (), vxlan_ports, geneve_ports, no_guess, timeout)
    df = cap.journeys if show_journeys else cap.exchanges
    if kinds and not show_journeys:
        df = df[df["kind"].astype(str).isin(kinds)]
    if fmt == "table":
        if show_journeys:
            cols = [
                "journey",
                "obs",
                "point",
                "frame_no",
                "ts",
                "hop_latency_s",
                "ttl",
                "tunnelled",
                "vni",
                "key",
            ]
        else:
            cols = [
                "kind", "status", "key", "point", "request_frame", "reply_frame", "latency_s",
                "responder_mac", "responder_ip", "answer",
            ]  # fmt: skip
        with output(out) as fh:
            if df.empty:
                fh.write("(none)\n")
            else:
                table = df[[c for c in cols if c in df.columns]].to_string(index=False)
                fh.write(printable(table) + "\n")
        return
    write_table(df, fmt, out)


@cli.command()
@capture_options
@topology_option
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "json"]),
    default="html",
    show_default=True,
    help="html: one self-contained file with ladder diagrams; md: for a GitHub/Jira comment; json.",
)
@output_option
@timeout_option
@cni_option
def report(
    captures: tuple[str, ...],
    topology: tuple[str, ...],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    fmt: str,
    out: str | None,
    timeout: float,
    cni: str,
) -> None:
    """Write a report to attach to a bug ticket: HTML (default), Markdown or JSON.

    The report says how to reproduce it: the command line, the vxlanlens version, and the
    capture files' names, sizes and SHA-256.
    """
    cap, exp, command = _explained(
        "report", captures, topology, vxlan_ports, geneve_ports, no_guess, timeout, cni, fmt
    )
    text = cap.report(fmt, explanation=exp, command=command)
    with output(out) as fh:
        fh.write(text)


@cli.command()
@capture_options
@topology_option
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    metavar="FILE",
    help="Where to write the diagram; its suffix picks the format: .png, .svg or .pdf.",
)
@click.option(
    "-p",
    "--path",
    "path_index",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only path N (as numbered by explain); default: all paths.",
)
def diagram(
    captures: tuple[str, ...],
    topology: tuple[str, ...],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    out: str,
    path_index: int | None,
) -> None:
    """Draw a ladder diagram: lanes are interfaces (grouped by node and pod), arrows packets."""
    from .report.plots import save_ladder

    cap = load_all(captures, topology, vxlan_ports, geneve_ports, no_guess)
    exp = cap.explain()
    if path_index is not None and path_index > len(exp.paths):
        raise click.BadParameter(f"there are {len(exp.paths)} path(s)", param_hint="--path")
    with atomic_path(out) as target:
        save_ladder(exp, target, None if path_index is None else path_index - 1)
    click.echo(f"vxlanlens: wrote {out}", err=True)


@cli.command()
@capture_options
@topology_option
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    metavar="FILE.pcapng",
    help="The annotated pcapng to write (through a temporary file; never onto an input).",
)
@click.option(
    "--decode-as",
    "decode_as",
    metavar="FILE",
    help=(
        "Also write Wireshark's decode_as_entries for the tunnel ports it does not decode by "
        "default (e.g. VXLAN on 8472); copy it into your Wireshark profile folder."
    ),
)
@timeout_option
@cni_option
def annotate(
    captures: tuple[str, ...],
    topology: tuple[str, ...],
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    no_guess: bool,
    out: str,
    decode_as: str | None,
    timeout: float,
    cni: str,
) -> None:
    """Write the explanation into a pcapng for Wireshark: every frame with its original bytes,
    one interface per capture point named from the topology, a comment on each frame that was
    understood (its exchange, the interfaces of its MACs, the tunnel and VNI identity, the
    findings citing it), the summary in the section comment. Several captures are merged in
    time order, each clock corrected by its estimated offset.

    Try: tshark -r out.pcapng -Y 'frame.comment contains "unanswered"'
    """
    from .annotate import annotate as write_annotated
    from .annotate import decode_as_entries

    cap, exp, command = _explained(
        "annotate", captures, topology, vxlan_ports, geneve_ports, no_guess, timeout, cni, None
    )
    command += " -o " + shlex.quote(out)
    with atomic_path(out) as target:
        result = write_annotated(cap, target, explanation=exp, command=command)
    click.echo(
        f"vxlanlens: wrote {out} ({result.frames} frames, {result.commented} with a comment)",
        err=True,
    )
    if decode_as:
        entries = decode_as_entries(cap)
        with output(decode_as) as fh:
            fh.write(entries or "# no tunnel port needs Decode As: Wireshark decodes them all\n")
        click.echo(f"vxlanlens: wrote {decode_as}", err=True)


class _LiveSummary:
    """A few lines at the bottom of a terminal, redrawn in place as the stream goes on."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.lines = 0
        self.started = time.monotonic()

    def clear(self) -> None:
        if self.enabled and self.lines:
            sys.stdout.write(f"\x1b[{self.lines}A\x1b[J")
            self.lines = 0

    def draw(self, watcher: Any) -> None:
        if not self.enabled:
            return
        self.clear()
        elapsed = max(time.monotonic() - self.started, 1e-9)
        lines = [
            f"-- {watcher.frames} frames, {watcher.frames / elapsed:.0f}/s over {elapsed:.0f} s"
        ]
        lines += [f"-- {line}" for line in watcher.summary()[1:]]
        sys.stdout.write("\n".join(printable(x) for x in lines) + "\n")
        sys.stdout.flush()
        self.lines = len(lines)


@cli.command()
@click.argument("capture", default="-", metavar="[CAPTURE | -]")
@click.option(
    "--follow",
    is_flag=True,
    help="CAPTURE is a file still being written: wait for more at its end (until Ctrl-C).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per finding; json: JSON Lines (one object per finding).",
)
@timeout_option
def watch(capture: str, follow: bool, fmt: str, timeout: float) -> None:
    """Explain traffic as it flows: read a live capture stream and print each finding when it
    becomes true (a request unanswered after --timeout, a flow that recovers, a refused
    connection, a Packet Too Big), one line with the time, once per flow.

    tcpdump -U -w - -i eth0 | vxlanlens watch -

    kubectl exec POD -- tcpdump -U -w - | vxlanlens watch -

    When stdout is a terminal, a summary (rates, exchanges by status, findings) is redrawn
    below the findings. Ctrl-C prints the final summary and exits 0.
    """
    import json

    from .watch import Watcher
    from .watch import watch as watch_stream

    if follow and capture == "-":
        raise click.UsageError("--follow needs a file, not standard input")
    live = _LiveSummary(fmt == "text" and sys.stdout.isatty())
    last: list[Watcher] = []

    def tick(w: Watcher) -> None:
        if not last:
            last.append(w)
        live.draw(w)

    try:
        for event in watch_stream(capture, timeout_s=timeout, follow=follow, on_tick=tick):
            live.clear()
            if fmt == "json":
                sys.stdout.write(json.dumps(event.to_dict()) + "\n")
            else:
                sys.stdout.write(printable(event.line()) + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    live.clear()
    if last and fmt == "text":
        for line in last[0].summary():
            click.echo(f"vxlanlens: {printable(line)}", err=True)


@cli.command(name="topology")
@topology_option
@click.argument("captures", nargs=-1, metavar="[CAPTURE]...")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for a terminal; json with the documented shape (docs/topology.md).",
)
@output_option
def topology_cmd(
    topology: tuple[str, ...], captures: tuple[str, ...], fmt: str, out: str | None
) -> None:
    """Show the topology model: loaded from dumps, inferred from captures, with every fact's source."""
    if not topology and not captures:
        raise click.UsageError("give at least one --topology dump or one capture")
    if captures:
        topo = load_all(captures, topology, (), (), False).topology
    else:
        from .topology import load_many

        topo = load_many(list(topology))
    with output(out) as fh:
        if fmt == "json":
            import json

            fh.write(json.dumps(topo.to_dict(), indent=2, default=str) + "\n")
        else:
            fh.write(printable(topo.format_table().rstrip("\n")) + "\n")


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
    except click.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f" (try '{exc.ctx.command_path} --help')"
        click.echo(
            f"vxlanlens: error: {_one_line(Exception(exc.format_message()))}{hint}", err=True
        )
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if isinstance(exc, InputError):
            exc.show()
        else:
            click.echo(f"vxlanlens: error: {_one_line(Exception(exc.format_message()))}", err=True)
        sys.exit(exc.exit_code)
    except MemoryError:
        click.echo("vxlanlens: error: out of memory", err=True)
        sys.exit(1)
    except (BrokenPipeError, _PipeClosed):
        # the reader of our stdout went away (e.g. `| head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("vxlanlens: interrupted", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
