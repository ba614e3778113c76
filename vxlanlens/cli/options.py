"""The options shared by every command that reads captures, gathered into one
:class:`~vxlanlens.options.ReadOptions` by :func:`read_options`, and :func:`load`, which reads
with them (progress bar and warnings on stderr)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from ..capture import Capture
from ..errors import VxlanlensError
from ..options import DEFAULT_TIMEOUT_S, ENGINES, MAX_TIMEOUT_S, ReadOptions
from .output import check_output, warn

__all__ = [
    "PROGRESS_MIN_BYTES",
    "cni_option",
    "load",
    "read_options",
    "timeout_option",
    "tunnel_options",
]

PROGRESS_MIN_BYTES = 16 << 20
"""Inputs smaller than this never show a progress bar."""


def _ports(_ctx: click.Context, _param: click.Parameter, value: Sequence[int]) -> tuple[int, ...]:
    for port in value:
        if not 0 < port < 65536:
            raise click.BadParameter(f"{port} is not a UDP port (1..65535)")
    return tuple(value)


def _scheduler(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value and value.startswith("local:"):
        n = value.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise click.BadParameter(f"{value!r}: expected local:N with N >= 1")
    return value


Decorator = Callable[[Any], Any]


def _apply(func: Callable[..., Any], options: Sequence[Decorator]) -> Callable[..., Any]:
    """``func`` decorated by ``options``, listed in the order ``--help`` shows them."""
    for option in reversed(options):
        func = option(func)
    return func


def _port_option(flag: str, dest: str, what: str) -> Decorator:
    return click.option(
        flag,
        dest,
        multiple=True,
        type=int,
        callback=_ports,
        metavar="PORT",
        help=f"Also decode UDP PORT as {what}. Repeatable.",
    )


_TUNNEL_OPTIONS: list[Decorator] = [
    _port_option("--vxlan-port", "vxlan_ports", "VXLAN (8472 and 4789 always are)"),
    _port_option("--geneve-port", "geneve_ports", "Geneve (6081 always is)"),
    _port_option("--gpe-port", "gpe_ports", "VXLAN-GPE (4790 always is)"),
    click.option(
        "--no-guess",
        is_flag=True,
        help="Do not look for VXLAN on other UDP ports (by default a strictly checked guess is made).",
    ),
    click.option(
        "--no-reassemble",
        is_flag=True,
        help="Do not reassemble IP fragments: decode every frame on its own (docs/columns.md).",
    ),
]

timeout_option: Decorator = click.option(
    "--timeout",
    type=click.FloatRange(min=0.0, max=MAX_TIMEOUT_S),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds a request waits for its answer.",
)

topology_option: Decorator = click.option(
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
)

cni_option: Decorator = click.option(
    "--cni",
    type=click.Choice(["auto", "cilium", "flannel", "calico", "antrea", "ovn"]),
    default="auto",
    show_default=True,
    help="The overlay, when you know it; auto recognises it from the input (docs/overlays/README.md).",
)


def _mirror_vxlan(
    _ctx: click.Context, _param: click.Parameter, value: Sequence[str]
) -> tuple[str, ...]:
    from ..read.mirror_detect import parse_mirror_vxlan

    for v in value:
        try:
            parse_mirror_vxlan(v)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
    return tuple(value)


_READING_OPTIONS: list[Decorator] = [
    click.option(
        "--mirror-vxlan",
        "mirror_vxlan",
        multiple=True,
        callback=_mirror_vxlan,
        metavar="PORT[:VNI]|none",
        help=(
            "Peel VXLAN on UDP destination PORT (and VNI) as a traffic-mirroring transport "
            "(AWS VPC Traffic Mirroring: 4789:VNI), not an overlay. By default a port and VNI "
            "whose frames carry overlay tunnels inside is detected as one; none turns that off. "
            "Repeatable (docs/encapsulations.md)."
        ),
    ),
    click.option(
        "--engine",
        type=click.Choice(list(ENGINES)),
        default="fast",
        show_default=True,
        help="Decoder: vxlanlens' own (fast), scapy's dissectors, or tshark's (Wireshark); same columns.",
    ),
    click.option(
        "-j",
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        help=(
            "Processes that may read one large uncompressed pcap file at once (default: the "
            "CPUs available, at most 4); with 2 or more, explaining a large capture pairs its "
            "exchanges in a second process. The result is the same with any N."
        ),
    ),
    click.option(
        "--capture-at",
        "capture_at",
        multiple=True,
        metavar="LABEL=NODE[:IFACE]",
        help=(
            "Where capture LABEL was taken, when you know it (a node, and its interface: eth0, "
            "any for -i any); otherwise it is placed from the evidence. Repeatable."
        ),
    ),
    click.option(
        "--scheduler",
        callback=_scheduler,
        metavar="ADDRESS|local:N",
        help=(
            "Read and decode the captures on a Dask cluster (tcp://host:8786), or on a local one "
            "of N worker processes (local:2); needs vxlanlens[dask]. See docs/scale-out.md."
        ),
    ),
]


def tunnel_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--vxlan-port``, ``--geneve-port``, ``--gpe-port``, ``--no-guess``, ``--no-reassemble``:
    the decoder's
    options, for a command that reads a stream (``watch``); :func:`read_options` includes them."""
    return _apply(func, _TUNNEL_OPTIONS)


def tunnel_read_options(
    vxlan_ports: Sequence[int],
    geneve_ports: Sequence[int],
    gpe_ports: Sequence[int],
    no_guess: bool,
    no_reassemble: bool = False,
) -> ReadOptions:
    """The :class:`ReadOptions` of :func:`tunnel_options`' values."""
    return ReadOptions(
        vxlan_ports=tuple(vxlan_ports),
        geneve_ports=tuple(geneve_ports),
        gpe_ports=tuple(gpe_ports),
        guess_tunnels=not no_guess,
        reassemble=not no_reassemble,
    )


def _check_stdin_once(captures: Sequence[str]) -> None:
    from ..read import parse_capture_arg

    at = []
    for k, arg in enumerate(captures, 1):
        try:
            if parse_capture_arg(arg)[1] == "-":
                at.append(k)
        except VxlanlensError:
            continue
    if len(at) > 1:
        raise click.BadParameter(
            f"standard input (-) is given {len(at)} times (captures "
            f"{', '.join(map(str, at))}); it can be read only once: save it to a file",
            param_hint="CAPTURE...",
        )


def read_options(
    *, topology: bool = True, timeout: bool = True, captures_required: bool = True
) -> Decorator:
    """The options of a command that reads captures: ``CAPTURE...``, ``--topology`` (when the
    command uses a topology), the tunnel ports, ``--no-guess``, ``--no-reassemble``, ``--engine``, ``--workers``,
    ``--timeout`` (when the command pairs exchanges), ``--capture-at`` and ``--scheduler``.

    The command receives ``captures`` and ``opts`` (a :class:`ReadOptions`) instead of one
    argument per option.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def run(**kw: Any) -> Any:
            _check_stdin_once(kw["captures"])
            if "-" in kw.get("topology", ()):
                raise click.BadParameter(
                    "topology dumps are read from files, not from standard input (-): "
                    "save the dump to a file",
                    param_hint="'--topology'",
                )
            opts = ReadOptions(
                topology=tuple(kw.pop("topology", ())),
                vxlan_ports=kw.pop("vxlan_ports"),
                geneve_ports=kw.pop("geneve_ports"),
                gpe_ports=kw.pop("gpe_ports"),
                guess_tunnels=not kw.pop("no_guess"),
                reassemble=not kw.pop("no_reassemble"),
                engine=kw.pop("engine"),
                workers=kw.pop("workers"),
                timeout_s=kw.pop("timeout", DEFAULT_TIMEOUT_S),
                capture_at=tuple(kw.pop("capture_at")),
                scheduler=kw.pop("scheduler"),
                mirror_vxlan=tuple(kw.pop("mirror_vxlan")),
            )
            return func(opts=opts, **kw)

        shared = [
            click.argument(
                "captures",
                nargs=-1,
                required=captures_required,
                metavar="CAPTURE..." if captures_required else "[CAPTURE]...",
            ),
            *([topology_option] if topology else []),
            *_TUNNEL_OPTIONS,
            *([timeout_option] if timeout else []),
            *_READING_OPTIONS,
        ]
        return _apply(run, shared)

    return decorate


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


def load(opts: ReadOptions, captures: Sequence[str]) -> Capture:
    """``captures`` read with ``opts``, with a progress bar and warnings on stderr (after
    checking that ``-o`` is none of the inputs)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        check_output(ctx.params.get("out"))
    progress = _Progress()
    try:
        cap = opts.read(captures, progress=progress)
    finally:
        progress.close()
    for warning in cap.warnings:
        warn(warning)
    return cap
