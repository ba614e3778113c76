"""``vxlanlens explain``, ``report``, ``diagram`` and ``annotate``: the explanation, rendered."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import click

from ..capture import Capture
from ..options import ReadOptions
from ..proto import Severity
from ._app import cli
from .options import cni_option, load, read_options
from .output import OutputError, atomic_path, check_output, output, output_option, wrote

__all__ = ["annotate", "diagram", "explain", "report"]


def _explained(
    name: str,
    captures: Sequence[str],
    opts: ReadOptions,
    cni: str = "auto",
    extra: Sequence[str] = (),
) -> tuple[Capture, Any, str]:
    """The captures read, their explanation, and the command line that reproduces it
    (``vxlanlens NAME CAPTURE... OPTIONS... [--cni CNI] EXTRA``)."""
    cap = load(opts, captures)
    exp = cap.explain(cni=None if cni == "auto" else cni)
    words = [*(["--cni", cni] if cni != "auto" else []), *extra]
    return cap, exp, opts.command_line(name, captures, words)


@cli.command()
@read_options()
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
@click.option(
    "--max-paths",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="N",
    help="Paths the text shows one by one; beyond N they are grouped by flow with counts "
    "(the first path of N flows). The other formats give every path.",
)
@cni_option
def explain(
    captures: tuple[str, ...],
    opts: ReadOptions,
    fmt: str,
    out: str | None,
    fail_on: str | None,
    max_paths: int,
    cni: str,
) -> None:
    """Explain what the captures show: paths in words, findings with evidence.

    Works with captures alone (saying what it inferred and what it could not know); topology dumps
    add interface, pod and node names and let it check addresses against interfaces.
    """
    extra = ["--format", fmt] + (["--max-paths", str(max_paths)] if max_paths != 20 else [])
    cap, exp, command = _explained("explain", captures, opts, cni, extra)
    text = cap.report(fmt, explanation=exp, command=command, max_paths=max_paths)
    with output(out) as fh:
        fh.write(text)
    if fail_on is not None:
        worst = max((Severity(f.severity).rank for f in exp.findings), default=0)
        if worst >= Severity(fail_on).rank:
            raise SystemExit(3)


@cli.command()
@read_options()
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
@cni_option
def report(
    captures: tuple[str, ...], opts: ReadOptions, fmt: str, out: str | None, cni: str
) -> None:
    """Write a report to attach to a bug ticket: HTML (default), Markdown or JSON.

    The report says how to reproduce it: the command line, the vxlanlens version, and the
    capture files' names, sizes and SHA-256.
    """
    cap, exp, command = _explained("report", captures, opts, cni, ["--format", fmt])
    text = cap.report(fmt, explanation=exp, command=command)
    with output(out) as fh:
        fh.write(text)


@cli.command()
@read_options()
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
@cni_option
def diagram(
    captures: tuple[str, ...], opts: ReadOptions, out: str, path_index: int | None, cni: str
) -> None:
    """Draw a ladder diagram: lanes are interfaces (grouped by node and pod), arrows packets."""
    from ..report.plots import save_ladder

    _cap, exp, _command = _explained("diagram", captures, opts, cni)
    if path_index is not None and path_index > len(exp.paths):
        raise click.BadParameter(f"there are {len(exp.paths)} path(s)", param_hint="--path")
    with atomic_path(out) as target:
        save_ladder(exp, target, None if path_index is None else path_index - 1)
    wrote(out)


@cli.command()
@read_options()
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
@cni_option
def annotate(
    captures: tuple[str, ...],
    opts: ReadOptions,
    out: str,
    decode_as: str | None,
    cni: str,
) -> None:
    """Write the explanation into a pcapng for Wireshark: every frame with its original bytes,
    one interface per capture point named from the topology, a comment on each frame that was
    understood (its exchange, the interfaces of its MACs, the tunnel and VNI identity, the
    findings citing it), the summary in the section comment. Several captures are merged in
    time order, each clock corrected by its estimated offset.

    Try: tshark -r out.pcapng -Y 'frame.comment contains "unanswered"'
    """
    from ..annotate import annotate as write_annotated
    from ..annotate import decode_as_entries

    if decode_as:  # both outputs or neither: a --decode-as that cannot be written fails first
        check_output(decode_as)
        if not os.path.isdir(os.path.dirname(os.path.abspath(decode_as))):
            raise OutputError("cannot write the output: No such directory", path=decode_as)
    cap, exp, command = _explained("annotate", captures, opts, cni, ["-o", out])
    with atomic_path(out) as target:
        result = write_annotated(cap, target, explanation=exp, command=command)
    wrote(out, f"{result.frames} frames, {result.commented} with a comment")
    if decode_as:
        entries = decode_as_entries(cap)
        with output(decode_as) as fh:
            fh.write(entries or "# no tunnel port needs Decode As: Wireshark decodes them all\n")
