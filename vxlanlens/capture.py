"""The library's front door: :func:`read` captures into a :class:`Capture`."""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pandas as pd

from ._version import __version__
from .decode import DecodeOptions
from .engines import decoder_for
from .errors import CaptureError, RenderError, TopologyError
from .exchanges import exchanges as pair_exchanges
from .exchanges import journeys as find_journeys
from .exchanges.journeys import journey_index
from .explain import Explanation, explain, shows_overlay
from .explain.context import overlay_evident
from .overlays._observe import Observations, expect_packet_facts, measure_packet_facts
from .parallel import Forked, default_workers, fork_call, read_split, shared_work, splittable
from .read import open_capture, parse_capture_arg
from .read.mirror_detect import mirror_options, mirror_sessions
from .read.records import InterfaceInfo
from .report import capture_repr_html
from .report.markdown import explanation_markdown
from .report.text import explanation_text
from .table import TableBuilder
from .topology import Topology, annotate, infer, load_many, merge, parse_capture_at, place
from .topology.placement import apply_placement

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Capture", "CaptureSource", "read"]

ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` while captures are read."""


_MAX_IFACES = 64
"""Interfaces of one capture listed in the explanation (a pcapng file may describe thousands)."""


def _utc_text(ns: int) -> str | None:
    """ISO 8601 UTC text of nanoseconds since the epoch (None when out of range)."""
    try:
        return pd.Timestamp(ns, unit="ns", tz="UTC").isoformat()
    except (ValueError, OverflowError):
        return None


@dataclass
class CaptureSource:
    """One capture file that went into a :class:`Capture`."""

    label: str
    path: str
    format: str
    size: int | None
    frames: int
    interfaces: tuple[InterfaceInfo, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The explanation's ``captures`` entry (docs/explain.schema.json): label, path,
        format, frames, size, the program that wrote the file, when capturing stopped and what
        it dropped (pcapng statistics) and its interfaces."""
        stops = [i.stopped_ns for i in self.interfaces if i.stopped_ns is not None]
        drops = [i.dropped for i in self.interfaces if i.dropped is not None]
        return {
            "label": self.label,
            "path": self.path,
            "format": self.format,
            "frames": self.frames,
            "size": self.size,
            "application": next((i.application for i in self.interfaces if i.application), None),
            "stopped": _utc_text(max(stops)) if stops else None,
            "dropped": sum(drops) if drops else None,
            "interfaces": [
                {"name": i.name, "linktype": i.linktype, "snaplen": i.snaplen}
                for i in self.interfaces[:_MAX_IFACES]
            ],
        }

    @cached_property
    def sha256(self) -> str | None:
        """SHA-256 of the file as it is on disk now (``None`` for stdin and streams)."""
        return _sha256(self.path)


@dataclass(frozen=True, eq=False)
class Capture:
    """Captures read and decoded: the packets table, where it came from, and what it means.

    Immutable: :meth:`with_topology` and :meth:`with_options` give a new ``Capture`` (sharing
    the packets table) instead of changing this one. Everything beyond ``packets`` is computed
    on first use and kept: ``topology`` (the dumps given, merged with what the captures show),
    ``annotated`` (packets with interface, pod and node names), ``exchanges``, ``journeys`` and
    :meth:`explain` (one explanation per ``cni``).
    """

    packets: pd.DataFrame
    """One row per frame; columns as documented in ``docs/columns.md``."""
    sources: Sequence[CaptureSource] = ()
    """The capture files read, in order."""
    warnings: Sequence[str] = ()
    """Human one-line notes about the input (e.g. a file cut short in its last record)."""
    options: DecodeOptions = field(default_factory=DecodeOptions)
    """The decoder's settings the packets were decoded with (tunnel ports, guessing)."""
    loaded_topology: Topology | None = None
    """The topology loaded from the dumps given to :func:`read` (``None`` when none was)."""
    timeout_s: float = 3.0
    """How long a request waits for its answer when exchanges are paired."""
    capture_at: Mapping[str, str] = field(default_factory=dict)
    """Where the user said captures were taken: ``{label: "NODE[:IFACE]"}`` (docs/topology.md)."""
    workers: int | None = None
    """Processes :func:`read` was allowed (``None``: its default); :meth:`explain` of a large
    table pairs exchanges in a second process while this one infers the topology, unless 1."""
    _explanations: dict[str | None, Explanation] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "capture_at", parse_capture_at(self.capture_at))

    def __repr__(self) -> str:
        labels = ", ".join(s.label for s in self.sources)
        return f"<Capture {len(self.packets)} frames from {len(self.sources)} capture(s): {labels}>"

    def with_topology(self, topology: TopologySpec | Sequence[TopologySpec] | None) -> Capture:
        """A new ``Capture`` of the same packets with ``topology`` (dump specs as for
        :func:`read`, a :class:`Topology`, or ``None`` for none) instead of the loaded one."""
        return replace(self, loaded_topology=_load_topology(topology))

    def with_options(
        self,
        *,
        timeout_s: float | None = None,
        capture_at: Mapping[str, str] | Sequence[str] | None = None,
    ) -> Capture:
        """A new ``Capture`` of the same packets with another answer timeout and/or other
        stated capture places (as for :func:`read`; labels must name captures). Settings left
        ``None`` are kept. Decoding settings (tunnel ports) need a new :func:`read`."""
        changes: dict[str, Any] = {}
        if timeout_s is not None:
            changes["timeout_s"] = float(timeout_s)
        if capture_at is not None:
            stated = parse_capture_at(capture_at)
            _check_labels(stated, self.sources)
            changes["capture_at"] = stated
        return replace(self, **changes)

    @cached_property
    def inferred_topology(self) -> Topology:
        """What the captures alone show about nodes, pods and interfaces (with evidence frames)."""
        return infer(self.packets, dumps=self.loaded_topology)

    @cached_property
    def topology(self) -> Topology:
        """The loaded topology merged with the inferred one (loaded facts win; conflicts kept),
        with every capture placed (``captures``: node, interface, pod, how, evidence)."""
        if self.loaded_topology is None and not self.capture_at:
            return self.inferred_topology
        if self.loaded_topology is None:
            topo = merge(self.inferred_topology)
        else:
            topo = merge(self.loaded_topology, self.inferred_topology)
        apply_placement(topo, place(self.packets, topo, self.capture_at))
        return topo

    @cached_property
    def annotated(self) -> pd.DataFrame:
        """The packets table plus ``src_if``, ``dst_if``, ``src_pod``, ... (see docs/columns.md)."""
        return annotate(self.packets, self.topology)

    @cached_property
    def exchanges(self) -> pd.DataFrame:
        """Requests paired with their answers, one row per exchange and observation point."""
        return pair_exchanges(self.packets, timeout_s=self.timeout_s)

    @cached_property
    def journeys(self) -> pd.DataFrame:
        """The same packet seen at several capture points, one row per observation."""
        return find_journeys(self.packets)

    @cached_property
    def _journey_index(self) -> pd.DataFrame:
        """What explain needs of the journeys (their rows, without the descriptive columns),
        when :attr:`journeys` was not asked for."""
        hit = self.__dict__.get("journeys")
        return hit if hit is not None else journey_index(self.packets)

    def report(
        self,
        fmt: str = "md",
        *,
        explanation: Explanation | None = None,
        command: str | None = None,
        max_paths: int | None = None,
    ) -> str:
        """The explanation rendered as ``text``, ``md`` (Markdown for a ticket) or ``json``.
        ``max_paths`` bounds the paths the text shows one by one (default 20; beyond it they
        are grouped by flow); the other formats give every path."""
        exp = explanation if explanation is not None else self.explain()
        if fmt == "json":
            from .report.jsontext import dumps_indented  # json.dumps(indent=2), byte for byte

            return dumps_indented(exp.to_dict()) + "\n"
        if fmt == "md":
            return explanation_markdown(exp, self._meta(command))
        if fmt == "text":
            if max_paths is None:
                return explanation_text(exp)
            return explanation_text(exp, max_paths=max_paths)
        if fmt == "html":
            from .report.html import explanation_html  # draws with matplotlib

            return explanation_html(exp, packets=self.packets, meta=self._meta(command))
        raise RenderError(f"unknown report format {fmt!r}: expected text, md, html or json")

    def _meta(self, command: str | None) -> dict[str, Any]:
        return {
            "command": command,
            "version": __version__,
            "files": [{"name": s.path, "size": s.size, "sha256": s.sha256} for s in self.sources],
        }

    @property
    def plot(self) -> _Plots:
        """Diagrams of the explanation: ``cap.plot.ladder()`` gives a matplotlib Figure."""
        return _Plots(self)

    def _repr_html_(self) -> str:
        return capture_repr_html(self)

    def explain(self, cni: str | None = None) -> Explanation:
        """Paths in words and findings with evidence (see docs/explanations.md). ``cni`` states
        the overlay (``cilium``, ``flannel``, ``calico``, ``antrea``, ``ovn``) instead of
        recognising it (docs/overlays/README.md). Computed once per ``cni`` and kept."""
        cached = self._explanations.get(cni)
        if cached is not None:
            return cached
        with _collector_paused():
            exp = self._explain(cni)
        _trim_heap()  # explain's scratch memory handed back before a report is rendered
        self._explanations[cni] = exp
        return exp

    def shows_overlay(self, cni: str | None = None) -> bool:
        """Whether the input shows an overlay, as :meth:`explain` judges it (a tunnel packet,
        a topology dump, an overlay recognised or stated with ``cni``, a sign of Cilium, a node
        the frames show, a capture placed with ``capture_at``). When it does not, the pods of
        :attr:`topology` are hosts of a plain network that an inference read as pods
        (docs/explanations.md, "Plain networks")."""
        cached = self._explanations.get(cni)
        if cached is not None:
            return bool(cached.topology["overlay_shown"])
        if overlay_evident(
            self.packets, self.topology, loaded=self._loaded, stated=cni is not None
        ):
            return True  # nothing to pair or annotate
        return shows_overlay(*self._explain_tables(), **self._explain_settings(cni))

    @property
    def _loaded(self) -> bool:
        """Whether any topology dump with a fact in it was given."""
        return self.loaded_topology is not None and not self.loaded_topology.is_empty()

    def _explain_tables(self) -> tuple[pd.DataFrame, Topology, pd.DataFrame, pd.DataFrame]:
        """What :func:`~vxlanlens.explain.explain` reads: packets (annotated), topology,
        exchanges and the journeys' index."""
        return self.annotated, self.topology, self.exchanges, self._journey_index

    def _explain_settings(self, cni: str | None) -> dict[str, Any]:
        """The keyword arguments :func:`~vxlanlens.explain.explain` and
        :func:`~vxlanlens.explain.shows_overlay` share."""
        return {
            "captures": [s.to_dict() for s in self.sources],
            "loaded": self._loaded,
            "cni": cni,
            "timeout_s": self.timeout_s,
        }

    def _explain(self, cni: str | None) -> Explanation:
        # each stage's scratch arrays handed back before the next one allocates its own
        _trim_heap()
        helper = self._pairing_elsewhere()
        measuring = self._packet_facts_elsewhere()
        try:
            for stage in ("topology", "annotated"):
                if stage not in self.__dict__:
                    getattr(self, stage)
                    _trim_heap()
            got = helper.result() if helper is not None else None
        finally:
            for forked in (helper, measuring):
                if forked is not None:
                    forked.cancel()  # an error above: its result is not wanted
            if measuring is not None:
                expect_packet_facts(self.packets, None)
        if got is not None:  # the same tables this process would have made
            for stage, table in zip(_PAIRING_STAGES, got, strict=True):
                self.__dict__.setdefault(stage, table)
        for stage in _PAIRING_STAGES:
            if stage not in self.__dict__:
                getattr(self, stage)
                _trim_heap()
        return explain(
            *self._explain_tables(),
            **self._explain_settings(cni),
            share=_shared_and_trimmed if self._second_process() else None,
        )

    def _second_process(self) -> bool:
        """Whether explaining may give work to a second process: a table of at least
        :data:`FORK_MIN_FRAMES` frames and more than one process allowed."""
        workers = default_workers() if self.workers is None else self.workers
        return workers >= 2 and len(self.packets) >= FORK_MIN_FRAMES

    def _pairing_elsewhere(self) -> Forked | None:
        """The exchanges and the journey index being made by a forked process, for a table of
        at least :data:`FORK_MIN_FRAMES` frames when more than one process is allowed: they
        depend on the packets only, so they are made while this process infers the topology
        and annotates the table. None when both are made already, or no process was forked."""
        if all(stage in self.__dict__ for stage in _PAIRING_STAGES) or not self._second_process():
            return None

        def pair() -> tuple[pd.DataFrame, ...]:
            made = []
            for stage in _PAIRING_STAGES:
                made.append(getattr(self, stage))
                _trim_heap()  # one stage's scratch memory handed back before the next's
            return tuple(made)

        return fork_call(pair)

    def _packet_facts_elsewhere(self) -> Forked | None:
        """What the overlay's recognition measures on the packets alone, being measured by a
        forked process while this one builds the inference's tables, when the topology is
        still to be inferred (same conditions as :meth:`_pairing_elsewhere`); the inference's
        recognition takes it (:func:`~vxlanlens.overlays._observe.expect_packet_facts`)."""
        if "inferred_topology" in self.__dict__ or not self._second_process():
            return None
        packets = self.packets

        def measure() -> tuple[Observations]:
            return (measure_packet_facts(packets),)

        forked = fork_call(measure)
        if forked is not None:

            def get() -> Observations | None:
                got = forked.result()
                return got[0] if got is not None else None

            expect_packet_facts(packets, get)
        return forked


_PAIRING_STAGES = ("exchanges", "_journey_index")
"""What :meth:`Capture.explain` may have a second process make (from the packets alone)."""

FORK_MIN_FRAMES = 50_000
"""Smaller tables are paired by the explaining process itself: forking would cost more."""


def _shared_and_trimmed(first: Callable[[], Any], tasks: Sequence[Callable[[], Any]]) -> Any:
    """:func:`shared_work` of ``first`` and ``tasks``, each process handing its free heap back
    after each one: the detectors' scratch memory otherwise piled up in both processes (about
    30 MB of peak at a million frames, for 15 ms of trimming)."""

    def trimmed(task: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            value = task()
            _trim_heap()
            return value

        return run

    return shared_work(trimmed(first), [trimmed(t) for t in tasks])


def _trim_heap() -> None:
    """Give the C heap's free memory back to the system (glibc's ``malloc_trim``; nothing
    elsewhere). Freed scratch arrays of a stage otherwise stay in the process's resident set,
    so the next stage's peak starts from the last one's; Dask's workers trim the same way."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):
                pass
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM: Any = None
"""glibc's ``malloc_trim`` once looked up (False when there is none)."""


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the block (restored as it was after).

    Explaining a large capture builds hundreds of thousands of small objects (exchanges, text
    values, evidence) next to a heap of millions (the tables' text columns): every collection of
    the oldest generation walks all of them, which cost up to a third of ``explain``'s time.
    What the block builds has no reference cycles to collect."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Plots:
    """``cap.plot``: diagrams of a capture's explanation."""

    def __init__(self, cap: Capture) -> None:
        self._cap = cap

    def ladder(self, path_index: int | None = None, *, ax: Axes | None = None) -> Figure:
        """A ladder diagram (lanes = interfaces, arrows = packets) of one path, or of all."""
        from .report.plots import ladder  # matplotlib only when a diagram is asked for

        return ladder(self._cap.explain(), path_index, ax=ax)


CaptureSpec = str | os.PathLike[str] | BinaryIO
TopologySpec = str | os.PathLike[str] | Topology


def read(
    captures: CaptureSpec | Sequence[CaptureSpec],
    *,
    topology: TopologySpec | Sequence[TopologySpec] | None = None,
    vxlan_ports: Sequence[int] = (),
    geneve_ports: Sequence[int] = (),
    gpe_ports: Sequence[int] = (),
    guess_tunnels: bool = True,
    reassemble: bool = True,
    timeout_s: float = 3.0,
    engine: str = "fast",
    workers: int | None = None,
    capture_at: Mapping[str, str] | Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
    batch_frames: int = 32768,
    options: DecodeOptions | None = None,
    mirror_vxlan: Sequence[str] = (),
) -> Capture:
    """Read and decode one or more captures into a :class:`Capture`.

    Each capture is a path, ``LABEL=PATH``, ``-`` for stdin, or an open binary file. Labels
    (the ``capture`` column) default to the file's stem; equal stems are told apart by their
    parent folder. Extra tunnel ports add to the defaults (VXLAN 4789/8472, VXLAN-GPE 4790,
    Geneve 6081). ``reassemble=False`` decodes every IP fragment on its own instead of joining
    the fragments of a packet (docs/columns.md). ``topology`` is one or more dumps (``PATH``, ``NODE=PATH``,
    ``NODE/POD=PATH``, a folder, a sysdump zip; see docs/topology.md) or a :class:`Topology`;
    it is loaded before any capture is read, so a bad dump fails fast. ``engine`` picks the
    protocol decoder: ``fast`` (vxlanlens' own), ``scapy`` or ``tshark`` (same table, other
    dissectors; see docs/conformance.md). ``workers`` is the number of processes that may read
    one large uncompressed pcap or pcapng file at once (default: the CPUs available, at most 4; 1 reads
    everything in this process), how many threads assemble the columns of a large table, and
    whether :meth:`Capture.explain` of a large table pairs the
    exchanges in a second process (not with 1); the table and explanation are the same either way. ``capture_at`` says where
    captures were taken when you know it: ``{"LABEL": "NODE[:IFACE]"}`` or ``LABEL=NODE[:IFACE]``
    strings (``IFACE`` ``any`` for ``-i any``, an lxc or a pod's name for a pod's eth0); it wins
    over what vxlanlens works out (see docs/topology.md, "Where a capture was taken").
    The keywords are those of :class:`~vxlanlens.ReadOptions` (``ReadOptions(...).read(...)``
    reads with a set of them). ``options`` (a :class:`DecodeOptions`) is deprecated: give the
    ports, ``guess_tunnels`` and ``reassemble`` as keywords. ``mirror_vxlan``: VXLAN mirror
    sessions to peel, ``PORT[:VNI]`` strings, ``none`` turns their detection off (see
    docs/encapsulations.md).
    """
    if options is not None:
        warnings.warn(
            "read(options=DecodeOptions(...)) is deprecated; pass vxlan_ports=, geneve_ports=, "
            "gpe_ports= and guess_tunnels= instead",
            DeprecationWarning,
            stacklevel=2,
        )
    stated = parse_capture_at(capture_at)
    decode = decoder_for(engine)
    loaded = _load_topology(topology)
    if isinstance(captures, (str, os.PathLike)) or hasattr(captures, "read"):
        specs: list[CaptureSpec] = [captures]  # type: ignore[list-item]
    else:
        specs = list(captures)
    if not specs:
        raise CaptureError("no capture given")
    opts = options or DecodeOptions(guess_tunnels=guess_tunnels, reassemble=reassemble)
    opts = opts.with_ports(
        vxlan=tuple(vxlan_ports), geneve=tuple(geneve_ports), gpe=tuple(gpe_ports)
    )
    opts = mirror_options(opts, mirror_vxlan)

    datasets = [s for s in specs if isinstance(s, (str, os.PathLike)) and _is_dataset(s)]
    if datasets:
        if len(datasets) != len(specs):
            raise CaptureError(
                "a Parquet dataset folder is read on its own, not with other captures",
                path=os.fspath(datasets[0]),
            )
        from .dataset import concat, read_dataset

        parts = [read_dataset(d) for d in datasets]
        return Capture(
            packets=concat([p[0] for p in parts]),
            sources=[s for p in parts for s in p[1]],
            warnings=[w for p in parts for w in p[2]],
            options=opts,
            loaded_topology=loaded,
            timeout_s=timeout_s,
            capture_at=stated,
            workers=workers,
        )

    resolved = _labels(specs)
    _check_stdin_once(resolved)
    total = _total_size(resolved)
    done_before = 0
    builder = TableBuilder()
    sources: list[CaptureSource] = []
    notes: list[str] = []
    n_workers = default_workers() if workers is None else max(1, int(workers))
    for label, spec in resolved:
        if engine == "fast" and splittable(spec, n_workers):
            path = os.fspath(spec)  # type: ignore[arg-type]
            start = len(builder)

            def report(nbytes: int, before: int = done_before) -> None:
                if progress is not None:
                    progress(before + nbytes, total)

            split = read_split(path, label, n_workers, decode, opts, builder, batch_frames, report)
            if split is not None:
                size = os.path.getsize(path)
                done_before += size
                notes.extend(split.warnings)
                sources.append(
                    CaptureSource(
                        label=label,
                        path=path,
                        format=split.format,
                        size=size,
                        frames=len(builder) - start,
                        interfaces=split.interfaces,
                    )
                )
                continue
        with open_capture(spec, label=label) as reader:
            start = len(builder)
            for batch in reader.batches(max_frames=batch_frames):
                builder.add(batch, decode(batch, opts))
                if progress is not None:
                    progress(done_before + reader.bytes_read, total)
            done_before += reader.bytes_read
            notes.extend(reader.warnings)
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
    _check_labels(stated, sources)
    packets = builder.build(threads=n_workers)
    found = mirror_sessions(packets, opts, resolved)
    if found:  # VXLAN mirror sessions detected: read again peeling them
        return read(
            specs,
            topology=loaded,
            vxlan_ports=vxlan_ports,
            geneve_ports=geneve_ports,
            gpe_ports=gpe_ports,
            guess_tunnels=guess_tunnels,
            reassemble=reassemble,
            timeout_s=timeout_s,
            engine=engine,
            workers=workers,
            capture_at=capture_at,
            batch_frames=batch_frames,
            options=options,
            mirror_vxlan=found,
        )
    return Capture(
        packets=packets,
        sources=sources,
        warnings=notes,
        options=opts,
        loaded_topology=loaded,
        timeout_s=timeout_s,
        capture_at=stated,
        workers=workers,
    )


def _check_labels(stated: Mapping[str, str], sources: Sequence[CaptureSource]) -> None:
    """Raise :class:`TopologyError` when a stated capture place names no capture's label."""
    unknown = [k for k in stated if k not in {s.label for s in sources}]
    if unknown:
        raise TopologyError(
            f"capture placement for {', '.join(unknown)}: no capture has that label "
            f"(labels: {', '.join(s.label for s in sources)})"
        )


def _check_stdin_once(resolved: list[tuple[str, CaptureSpec]]) -> None:
    """Raise :class:`CaptureError` when standard input is given as more than one capture."""
    at = [k for k, (_, spec) in enumerate(resolved, 1) if isinstance(spec, str) and spec == "-"]
    if len(at) > 1:
        raise CaptureError(
            f"standard input (-) is given {len(at)} times (captures "
            f"{', '.join(map(str, at))}); it can be read only once: save it to a file",
            path="-",
        )


def _is_dataset(spec: str | os.PathLike[str]) -> bool:
    from .dataset import is_dataset

    return is_dataset(spec)


def _load_topology(topology: TopologySpec | Sequence[TopologySpec] | None) -> Topology | None:
    if topology is None:
        return None
    if isinstance(topology, Topology):
        return topology
    items = [topology] if isinstance(topology, (str, os.PathLike)) else list(topology)
    topos = [t for t in items if isinstance(t, Topology)]
    specs = [os.fspath(t) for t in items if not isinstance(t, Topology)]
    result = load_many(specs) if specs else None
    for t in topos:
        result = t if result is None else merge(result, t)
    return result


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
