"""How captures are read: one immutable :class:`ReadOptions` shared by the library and the CLI.

Every command that reads captures builds one from its options (``vxlanlens.cli.options``), reads
with :meth:`ReadOptions.read`, and writes the command line that reproduces its output with
:meth:`ReadOptions.to_args`; a notebook gets the same result from :func:`vxlanlens.read` with
the same keywords (``ReadOptions(...).read_kwargs()`` lists them).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .decode import DecodeOptions

if TYPE_CHECKING:
    from .capture import Capture

__all__ = ["DEFAULT_TIMEOUT_S", "ENGINES", "MAX_TIMEOUT_S", "ReadOptions"]

DEFAULT_TIMEOUT_S = 3.0
"""Seconds a request waits for its answer unless told otherwise."""

MAX_TIMEOUT_S = 1e9
"""Largest timeout in seconds (about 31 years; more would overflow nanoseconds)."""

ENGINES = ("fast", "scapy", "tshark")
"""The protocol decoders (docs/conformance.md)."""


def _ports(values: Sequence[int] | int, what: str) -> tuple[int, ...]:
    out = (int(values),) if isinstance(values, int) else tuple(int(p) for p in values)
    for p in out:
        if not 0 < p < 65536:
            raise ValueError(f"{what}: {p} is not a UDP port (1..65535)")
    return out


@dataclass(frozen=True)
class ReadOptions:
    """The settings that decide what reading captures gives.

    ``topology``: dump specs (``PATH``, ``NODE=PATH``, ``NODE/POD=PATH``; docs/topology.md).
    ``vxlan_ports`` / ``geneve_ports`` / ``gpe_ports``: UDP ports decoded as tunnels besides the
    defaults (VXLAN 4789/8472, Geneve 6081, VXLAN-GPE 4790). ``guess_tunnels``: also accept a
    strictly checked VXLAN header on other ports. ``reassemble``: join IP fragments (outer and
    inner) so that a fragmented packet is decoded once (docs/columns.md). ``engine``: ``fast``, ``scapy`` or ``tshark``.
    ``workers``: processes that may read one large pcap at once (``None``: the CPUs, at most 4).
    ``timeout_s``: how long a request waits for its answer. ``capture_at``: where captures were
    taken, ``LABEL=NODE[:IFACE]`` strings (a ``{label: "NODE[:IFACE]"}`` mapping is turned into
    them); a single topology path or port needs no tuple. ``scheduler``: a Dask scheduler address or
    ``local:N`` (the CLI's ``--scheduler``; ``None`` reads in this process).

    ``workers`` and ``scheduler`` change how fast, never what is read: :meth:`to_args` leaves
    them out of the reproducing command line.
    """

    topology: tuple[str, ...] = ()
    vxlan_ports: tuple[int, ...] = ()
    geneve_ports: tuple[int, ...] = ()
    gpe_ports: tuple[int, ...] = ()
    guess_tunnels: bool = True
    reassemble: bool = True
    engine: str = "fast"
    workers: int | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    capture_at: tuple[str, ...] = ()
    scheduler: str | None = None
    mirror_vxlan: tuple[str, ...] = ()
    """VXLAN mirror sessions to peel, ``PORT[:VNI]``; ``none`` turns their detection off."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        topo: Any = self.topology
        single = isinstance(topo, (str, os.PathLike))
        set_(self, "topology", tuple(os.fspath(t) for t in ([topo] if single else topo)))
        set_(self, "vxlan_ports", _ports(self.vxlan_ports, "vxlan_ports"))
        set_(self, "geneve_ports", _ports(self.geneve_ports, "geneve_ports"))
        set_(self, "gpe_ports", _ports(self.gpe_ports, "gpe_ports"))
        at: Any = self.capture_at
        if isinstance(at, Mapping):
            at = [f"{label}={where}" for label, where in at.items()]
        elif isinstance(at, str):
            at = [at]
        set_(self, "capture_at", tuple(str(s) for s in at))
        mv: Any = self.mirror_vxlan
        set_(self, "mirror_vxlan", (mv,) if isinstance(mv, str) else tuple(str(v) for v in mv))
        from .read.mirror_detect import parse_mirror_vxlan

        for v in self.mirror_vxlan:
            parse_mirror_vxlan(v)
        if self.engine not in ENGINES:
            raise ValueError(f"engine {self.engine!r}: expected one of {', '.join(ENGINES)}")
        if self.workers is not None and int(self.workers) < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if not 0 <= float(self.timeout_s) <= MAX_TIMEOUT_S:
            raise ValueError(f"timeout_s must be 0..{MAX_TIMEOUT_S:g} seconds")

    def with_(self, **changes: Any) -> ReadOptions:
        """A copy with some settings changed (``opts.with_(timeout_s=1.0)``)."""
        return replace(self, **changes)

    def decode_options(self) -> DecodeOptions:
        """The decoder's settings: tunnel ports, whether to guess, whether to reassemble."""
        from .read.mirror_detect import mirror_options

        opts = DecodeOptions(
            guess_tunnels=self.guess_tunnels, reassemble=self.reassemble
        ).with_ports(vxlan=self.vxlan_ports, geneve=self.geneve_ports, gpe=self.gpe_ports)
        return mirror_options(opts, self.mirror_vxlan)

    def read_kwargs(self) -> dict[str, Any]:
        """The keywords of :func:`vxlanlens.read` that these settings give (not ``scheduler``)."""
        return {
            "topology": list(self.topology) or None,
            "vxlan_ports": self.vxlan_ports,
            "geneve_ports": self.geneve_ports,
            "gpe_ports": self.gpe_ports,
            "guess_tunnels": self.guess_tunnels,
            "reassemble": self.reassemble,
            "engine": self.engine,
            "workers": self.workers,
            "timeout_s": self.timeout_s,
            "capture_at": list(self.capture_at) or None,
            "mirror_vxlan": self.mirror_vxlan,
        }

    def read(
        self,
        captures: Sequence[str],
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Capture:
        """``captures`` read with these settings (on the Dask cluster of ``scheduler`` if set)."""
        if self.scheduler:
            from ._dask_read import read_on_dask

            return read_on_dask(self, captures)
        from .capture import read

        return read(list(captures), progress=progress, **self.read_kwargs())

    def to_args(self) -> list[str]:
        """The command-line options that give these settings (defaults left out)."""
        words = [w for t in self.topology for w in ("--topology", t)]
        words += [w for p in self.vxlan_ports for w in ("--vxlan-port", str(p))]
        words += [w for p in self.geneve_ports for w in ("--geneve-port", str(p))]
        words += [w for p in self.gpe_ports for w in ("--gpe-port", str(p))]
        words += ["--no-guess"] * (not self.guess_tunnels)
        words += ["--no-reassemble"] * (not self.reassemble)
        if self.engine != "fast":
            words += ["--engine", self.engine]
        if self.timeout_s != DEFAULT_TIMEOUT_S:
            words += ["--timeout", f"{self.timeout_s:g}"]
        words += [w for s in self.capture_at for w in ("--capture-at", s)]
        words += [w for v in self.mirror_vxlan for w in ("--mirror-vxlan", v)]
        return words

    def command_line(
        self,
        command: str,
        captures: Sequence[str],
        extra: Mapping[str, str | None] | Sequence[str] = (),
    ) -> str:
        """The shell command ``vxlanlens COMMAND CAPTURE... OPTIONS... EXTRA`` that reproduces a
        result, quoted for a POSIX shell. ``extra`` is more words, or ``{"--option": value}``
        (a ``None`` value leaves the option out)."""
        words = ["vxlanlens", command, *captures, *self.to_args()]
        if isinstance(extra, Mapping):
            words += [w for k, v in extra.items() if v is not None for w in (k, v)]
        else:
            words += list(extra)
        return " ".join(shlex.quote(w) for w in words)
