"""``vxlanlens topology``: the topology model, loaded from dumps and inferred from captures."""

from __future__ import annotations

import json

import click

from ..options import ReadOptions
from ..report.packets import printable
from ._app import cli
from .options import load, read_options
from .output import output, output_option

__all__ = ["topology_cmd"]


@cli.command(name="topology")
@read_options(timeout=False, captures_required=False)
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
def topology_cmd(captures: tuple[str, ...], opts: ReadOptions, fmt: str, out: str | None) -> None:
    """Show the topology model: loaded from dumps, inferred from captures, with every fact's source.

    When nothing in the input shows an overlay, the hosts the frames show are listed as hosts, not
    pods, and no capture is placed at one (docs/topology.md).
    """
    if not opts.topology and not captures:
        raise click.UsageError("give at least one --topology dump or one capture")
    if captures:
        cap = load(opts, captures)
        topo = cap.topology
        if not cap.shows_overlay():
            topo = topo.as_plain()  # hosts of a plain network, as explain draws them
    else:
        from ..topology import load_many

        topo = load_many(list(opts.topology))
    with output(out) as fh:
        if fmt == "json":
            fh.write(json.dumps(topo.to_dict(), indent=2, default=str) + "\n")
        else:
            fh.write(printable(topo.format_table().rstrip("\n")) + "\n")
