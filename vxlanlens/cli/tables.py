"""``vxlanlens packets`` and ``vxlanlens exchanges``: the tables, for a terminal or a file."""

from __future__ import annotations

import os
from collections.abc import Sequence

import click

from ..options import ReadOptions
from ..report.packets import printable
from ._app import cli
from .options import load, read_options
from .output import check_output, output, output_option, warn, write_table, wrote

__all__ = ["exchanges", "packets"]


@cli.command()
@read_options(topology=False, timeout=False)
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
    "--columns",
    metavar="COL,...",
    help="Only these columns (csv, json, parquet), in this order. See docs/columns.md.",
)
def packets(
    captures: tuple[str, ...],
    opts: ReadOptions,
    fmt: str,
    out: str | None,
    columns: str | None,
) -> None:
    """Decode captures into the packets table: one row per frame, outer and pod headers apart.

    Written batch by batch as the captures are read, so memory stays flat whatever their size.
    ``-f parquet -o DIR/`` (a folder: a trailing / or an existing directory) writes a Parquet
    dataset, one file per capture, that every command reads back (docs/scale-out.md).
    """
    from ..schema import COLUMN_NAMES

    wanted: list[str] | None = None
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in COLUMN_NAMES]
        if unknown:
            raise click.BadParameter(
                f"unknown column(s): {', '.join(unknown)}", param_hint="--columns"
            )
    if fmt == "parquet" and out is not None and (out.endswith("/") or os.path.isdir(out)):
        from ..dataset import write_dataset

        check_output(out)
        entries = write_dataset(list(captures), out, options=opts.decode_options())
        for e in entries:
            for w in e.get("warnings", []):
                warn(w)
        frames = sum(int(e["frames"]) for e in entries)
        wrote(out, f"{len(entries)} capture(s), {frames} frames")
        return
    if opts.engine == "fast" and not opts.scheduler and not opts.capture_at:
        _stream_packets(captures, opts, fmt, out, wanted)
        return
    cap = load(opts, captures)
    if fmt == "table":
        from ..report.packets import packet_lines

        with output(out) as fh:
            for line in packet_lines(cap.packets):
                fh.write(line + "\n")
        return
    write_table(cap.packets[wanted] if wanted else cap.packets, fmt, out)


def _stream_packets(
    captures: Sequence[str],
    opts: ReadOptions,
    fmt: str,
    out: str | None,
    wanted: list[str] | None,
) -> None:
    """``packets`` written batch by batch as the captures are read."""
    from ..report.packets import csv_safe, packet_lines
    from ..stream import iter_batches, write_stream

    check_output(out)
    stream = iter_batches(
        list(captures),
        vxlan_ports=opts.vxlan_ports,
        geneve_ports=opts.geneve_ports,
        gpe_ports=opts.gpe_ports,
        guess_tunnels=opts.guess_tunnels,
        reassemble=opts.reassemble,
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
        warn(warning)


_EXCHANGE_COLUMNS = [
    "kind", "status", "key", "point", "request_frame", "reply_frame", "latency_s",
    "responder_mac", "responder_ip", "answer",
]  # fmt: skip
_JOURNEY_COLUMNS = [
    "journey", "obs", "point", "frame_no", "ts", "hop_latency_s", "ttl", "tunnelled", "vni", "key",
]  # fmt: skip


@cli.command()
@read_options(topology=False)
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
@click.option(
    "--journeys",
    "show_journeys",
    is_flag=True,
    help="List journeys (one packet seen at several points) instead.",
)
def exchanges(
    captures: tuple[str, ...],
    opts: ReadOptions,
    fmt: str,
    out: str | None,
    kinds: tuple[str, ...],
    show_journeys: bool,
) -> None:
    """Pair requests with their answers: ARP, NS/NA, echo, TCP handshakes, ICMP errors."""
    cap = load(opts, captures)
    df = cap.journeys if show_journeys else cap.exchanges
    if kinds and not show_journeys:
        df = df[df["kind"].astype(str).isin(kinds)]
    if fmt != "table":
        write_table(df, fmt, out)
        return
    cols = _JOURNEY_COLUMNS if show_journeys else _EXCHANGE_COLUMNS
    with output(out) as fh:
        if df.empty:
            fh.write("(none)\n")
        else:
            table = df[[c for c in cols if c in df.columns]].to_string(index=False)
            fh.write(printable(table) + "\n")
