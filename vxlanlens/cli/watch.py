"""``vxlanlens watch``: findings from a live capture stream as they become true."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from ..report.packets import printable
from ._app import cli
from .options import timeout_option, tunnel_options, tunnel_read_options

__all__ = ["watch"]


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
@tunnel_options
def watch(
    capture: str,
    follow: bool,
    fmt: str,
    timeout: float,
    vxlan_ports: tuple[int, ...],
    geneve_ports: tuple[int, ...],
    gpe_ports: tuple[int, ...],
    no_guess: bool,
    no_reassemble: bool,
) -> None:
    """Explain traffic as it flows: read a live capture stream and print each finding when it
    becomes true (a request unanswered after --timeout, a flow that recovers, a refused
    connection, a Packet Too Big), one line with the time, once per flow.

    tcpdump -U -w - -i eth0 | vxlanlens watch -

    kubectl exec POD -- tcpdump -U -w - | vxlanlens watch -

    When stdout is a terminal, a summary (rates, exchanges by status, findings) is redrawn
    below the findings. Ctrl-C prints the final summary and exits 0.
    """
    import json

    from ..watch import Watcher
    from ..watch import watch as watch_stream

    if follow and capture == "-":
        raise click.UsageError("--follow needs a file, not standard input")
    decode = tunnel_read_options(
        vxlan_ports, geneve_ports, gpe_ports, no_guess, no_reassemble
    ).decode_options()
    live = _LiveSummary(fmt == "text" and sys.stdout.isatty())
    last: list[Watcher] = []

    def tick(w: Watcher) -> None:
        if not last:
            last.append(w)
        live.draw(w)

    try:
        for event in watch_stream(
            capture, timeout_s=timeout, follow=follow, options=decode, on_tick=tick
        ):
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
