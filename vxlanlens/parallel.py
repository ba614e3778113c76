"""Reading one large classic pcap or pcapng file with several processes at once.

The file is cut near equal byte offsets at guessed record starts (:mod:`vxlanlens.read.split`).
This process reads and decodes the first part; one forked process per other part does the same
for its part and sends its half-built table back through a pipe. The guesses are then checked
in order: a part is used only when the part before it ended exactly on its first byte, which
proves the cut is a record start (the walk from the file header is authoritative), and when it
read cleanly. From the first part that fails these checks on, this process reads the rest of
the file itself, so the table, frame numbers, warnings and errors are exactly those of a
sequential read, only sooner.

A part's table travels as a pickle whose array buffers are written to an anonymous in-memory
file (``memfd``) made before the fork and mapped by this process, so the arrays are not copied
through the pipe (where ``memfd_create`` is missing, the whole pickle goes through the pipe).
pcapng files are cut on block boundaries; every part's reader is first given the blocks before
the first packet (section header, interface descriptions), and a part is used only when the
parser state at its start, as the part before it left it, is that one (see
:mod:`vxlanlens.read.split`).

Used for uncompressed classic pcap and pcapng files on disk of at least :data:`MIN_BYTES`, with the fast
engine, on Linux, when the calling process runs no other thread (forking a threaded process can
deadlock the child) and is no daemonic worker (those may not have children). Anything else, and
a failed fork, is read by this process alone.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .decode import DecodeOptions
from .read.capture import CaptureReader
from .read.records import InterfaceInfo
from .read.split import Layout, file_layout, guess_cuts, open_range
from .table import Decoder, TableBuilder

__all__ = [
    "MIN_BYTES",
    "Forked",
    "SplitResult",
    "default_workers",
    "fork_call",
    "read_split",
    "shared_work",
    "splittable",
]

MIN_BYTES = 64 * 1024 * 1024
"""Files smaller than this are read by one process: forking would cost more than it saves."""

MAX_WORKERS = 8
"""The most processes one file is read with, whatever ``workers`` says."""

Progress = Callable[[int], None]


def default_workers() -> int:
    """Processes used when the caller does not say: the CPUs this process may run on, at most
    4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def _may_fork() -> bool:
    """Whether this process may fork a helper: Linux, no other thread running (forking a
    threaded process can deadlock the child), and no daemonic worker (those may not have
    children)."""
    return (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and not multiprocessing.current_process().daemon
    )


def splittable(spec: object, workers: int) -> bool:
    """Whether capture ``spec`` can be read by ``workers`` processes (see the module doc)."""
    if workers < 2 or not _may_fork():
        return False
    if not isinstance(spec, (str, os.PathLike)):
        return False
    path = os.fspath(spec)
    if path == "-" or not os.path.isfile(path):
        return False
    try:
        if os.path.getsize(path) < MIN_BYTES:
            return False
    except OSError:
        return False
    return file_layout(path) is not None


@dataclass
class SplitResult:
    """What reading one file gave: its records went into the builder passed in."""

    frames: int
    warnings: list[str] = field(default_factory=list)
    interfaces: tuple[InterfaceInfo, ...] = ()
    parts_used: int = 1
    """How many parts were read by other processes and used as they were."""
    format: str = "pcap"
    """``pcap`` or ``pcapng``."""
    parts: int = 1
    """How many parts the file was cut into (``parts_used`` of them after the first were
    used as the other processes read them)."""


def read_split(
    path: str,
    label: str,
    workers: int,
    decode: Decoder,
    options: DecodeOptions,
    builder: TableBuilder,
    batch_frames: int,
    progress: Progress | None = None,
) -> SplitResult | None:
    """Read the classic pcap or pcapng file ``path`` into ``builder`` with up to ``workers``
    processes.

    Gives None, having added nothing to ``builder``, when no cut point could be guessed, or
    for pcapng when the first part changes the state its blocks are read in (a new section,
    interface or Simple Packet Block: the other parts assumed the file's first one); the
    caller then reads the file sequentially. Raises what a sequential read raises.
    """
    layout = file_layout(path)
    if layout is None:
        return None
    cuts = guess_cuts(path, layout, min(workers, MAX_WORKERS))
    if not cuts:
        return None
    into = builder
    builder = TableBuilder()  # the parts are collected here, then handed over at once
    ctx = multiprocessing.get_context("fork")
    starts = [0, *cuts]
    stops = [*cuts, None]
    try:
        done = ctx.Array("q", len(starts), lock=False)  # bytes read by each part, for progress
    except OSError:
        return None
    children: list[_Child] = []
    try:
        for i in range(1, len(starts)):
            try:
                children.append(
                    _start(
                        ctx,
                        done,
                        i,
                        path,
                        label,
                        layout,
                        starts[i],
                        stops[i],
                        decode,
                        options,
                        batch_frames,
                    )
                )
            except OSError:  # no more processes or memory: one process reads it all
                _stop(children)
                return None

        def report(own: int) -> None:
            if progress is not None:
                progress(own + sum(done[1:]))

        reader = open_range(path, label, layout, 0, cuts[0], 0)
        frames, header_warnings, interfaces, state = _read_into(
            reader, builder, decode, options, batch_frames, report, to_eof=False
        )
        if state != layout.state:  # pcapng: what the other parts assumed does not hold
            return None
        used = 0
        resume: int | None = None
        if not reader.ended_cleanly:
            resume = reader.next_record_offset  # the first cut was no record start
        else:
            builder.compact()  # while the other processes read on: less left for build()
            for i, child in enumerate(children, start=1):
                msg = child.receive(populate=True)  # its rows are all copied in
                if msg is None:
                    resume = starts[i]
                    break
                part, part_frames, part_warnings, clean, part_state, part_ifaces = msg
                extra = [w for w in part_warnings if w not in header_warnings]
                last = i == len(children)
                if extra or (not last and not clean) or part_state != layout.state:
                    resume = starts[i]
                    break
                builder.absorb(part, frame_offset=frames, threads=workers)
                frames += part_frames
                interfaces = later_statistics(interfaces, part_ifaces)
                used += 1
        warnings = list(header_warnings)
        if resume is not None:
            _stop(children)
            tail = open_range(path, label, layout, resume, None, frames)
            start = resume

            def tail_report(nbytes: int) -> None:
                if progress is not None:
                    progress(start + nbytes)

            got, tail_warnings, tail_interfaces, _ = _read_into(
                tail, builder, decode, options, batch_frames, tail_report, to_eof=True
            )
            frames += got
            interfaces = later_statistics(interfaces, tail_interfaces)  # pcapng: later IDBs
            warnings += [w for w in tail_warnings if w not in warnings]
        if progress is not None:
            progress(os.path.getsize(path))
        into.absorb(builder)
        return SplitResult(frames, warnings, interfaces, used, layout.format, len(cuts) + 1)
    finally:
        _stop(children)


class Forked:
    """A call running in a forked process (:func:`fork_call`)."""

    def __init__(self, child: _Child) -> None:
        self._child: _Child | None = child

    def result(self) -> tuple[Any, ...] | None:
        """What the call returned (a tuple), with writable arrays; None when it raised, the
        process died or this was asked before. The process has ended when this returns."""
        child, self._child = self._child, None
        return None if child is None else child.receive(writable=True)

    def cancel(self) -> None:
        """End the process now (its result is not wanted)."""
        child, self._child = self._child, None
        if child is not None:
            child.stop(kill=True)


def fork_call(fn: Callable[..., tuple[Any, ...]], *args: Any) -> Forked | None:
    """``fn(*args)`` started in a forked process, which shares this one's memory as it is now
    (copy on write) and sends the tuple ``fn`` returns back with its array buffers through an
    in-memory file, not copied through the pipe. None where forking is not possible or safe
    (see :func:`_may_fork`) or fails; the caller then makes the call itself."""
    if not _may_fork():
        return None
    try:
        return Forked(_spawn(multiprocessing.get_context("fork"), fn, args))
    except OSError:
        return None


def shared_work(
    first: Callable[[], Any], tasks: Sequence[Callable[[], Any]]
) -> tuple[Any, list[Any]]:
    """``first()`` and every task run by this process and a forked one together; gives
    (``first()``, the tasks' values in order). The forked process runs ``first``, then takes
    tasks from the end of the list while this one takes them from the start, each claiming the
    next one through a counter in shared memory, until they meet: the work is balanced
    whatever each task costs. Where no process can be forked, or the forked one fails, this
    process runs what is missing itself; the values are the same either way."""
    ctx = multiprocessing.get_context("fork")
    try:
        claim = ctx.Array("q", [0, len(tasks)])  # next task from the start, end of what is left
    except OSError:
        claim = None
    forked = fork_call(_other_end, first, tasks, claim) if claim is not None else None
    mine: dict[int, Any] = {}
    try:
        while forked is not None and claim is not None:
            with claim.get_lock():
                k = claim[0]
                if k >= claim[1]:
                    break
                claim[0] = k + 1
            mine[k] = tasks[k]()
        got = forked.result() if forked is not None else None
    finally:
        if forked is not None:
            forked.cancel()
    head, theirs = got if got is not None else (first(), {})
    values = []
    for k, task in enumerate(tasks):
        if k in mine:
            values.append(mine[k])
        elif k in theirs:
            values.append(theirs[k])
        else:
            values.append(task())
    return head, values


def _other_end(
    first: Callable[[], Any], tasks: Sequence[Callable[[], Any]], claim: Any
) -> tuple[Any, dict[int, Any]]:
    """The forked side of :func:`shared_work`: ``first()``, then tasks from the end."""
    head = first()
    done: dict[int, Any] = {}
    while True:
        with claim.get_lock():
            k = claim[1] - 1
            if k < claim[0]:
                break
            claim[1] = k
        done[k] = tasks[k]()
    return head, done


def _call_child(
    conn: object, shm: int | None, fn: Callable[..., object], args: tuple[Any, ...]
) -> None:
    """Body of a forked process: send what ``fn(*args)`` returned, or the error."""
    try:
        msg: object = _pack(fn(*args), shm)
    except BaseException as exc:  # any failure: the parent does the work itself instead
        msg = f"{type(exc).__name__}: {exc}"
    try:
        conn.send(msg)  # type: ignore[attr-defined]
    finally:
        conn.close()  # type: ignore[attr-defined]


def _read_into(
    reader: CaptureReader,
    builder: TableBuilder,
    decode: Decoder,
    options: DecodeOptions,
    batch_frames: int,
    report: Progress,
    *,
    to_eof: bool,
) -> tuple[int, list[str], tuple[InterfaceInfo, ...], object]:
    """Read every batch of ``reader`` into ``builder``; gives (frames, warnings, interfaces,
    parser state at the end).

    Unless the range goes ``to_eof``, a warning about a record cut by the end of the range is
    left out: the next range starts there, and its reader (or the fallback) speaks for it.
    """
    with reader:
        frames = builder.read(reader, decode, options, batch_frames=batch_frames, report=report)
        warnings = [w for w in reader.warnings if to_eof or w not in reader.partial_warnings]
        return frames, warnings, tuple(reader.interfaces), reader.parser_state


def _start(
    ctx: multiprocessing.context.BaseContext,
    done: object,
    slot: int,
    path: str,
    label: str,
    layout: Layout,
    start: int,
    stop: int | None,
    decode: Decoder,
    options: DecodeOptions,
    batch_frames: int,
) -> _Child:
    """Fork a process that reads ``[start, stop)`` of ``path``."""
    args = (path, label, layout, start, stop, decode, options, batch_frames, done, slot)
    return _spawn(ctx, _read_part, args)


def _spawn(
    ctx: multiprocessing.context.BaseContext, fn: Callable[..., object], args: tuple[Any, ...]
) -> _Child:
    """Fork a process that runs ``fn(*args)`` and sends back what it returns (:func:`_call_child`);
    ``OSError`` when no process, pipe or memory can be had."""
    recv, send = ctx.Pipe(duplex=False)
    shm = _memfd()
    try:
        proc = ctx.Process(  # type: ignore[attr-defined]
            target=_call_child, args=(send, shm, fn, args), daemon=True
        )
        proc.start()
    except BaseException:
        recv.close()
        if shm is not None:
            os.close(shm)
        raise
    finally:
        send.close()
    return _Child(proc, recv, shm)


def _memfd() -> int | None:
    """An anonymous in-memory file for a child's arrays, or None where there is none."""
    create = getattr(os, "memfd_create", None)
    if create is None:
        return None
    try:
        return create("vxlanlens-part", getattr(os, "MFD_CLOEXEC", 0))
    except OSError:
        return None


def later_statistics(
    before: tuple[InterfaceInfo, ...], after: tuple[InterfaceInfo, ...]
) -> tuple[InterfaceInfo, ...]:
    """The interfaces of a file read in parts: ``after`` (a later part's, which may know more
    interfaces), with what the statistics blocks of either part said (the later stop time,
    the later part's drop count when it has one)."""
    if len(after) < len(before):
        before, after = after, before
    out = list(after)
    for i, old in enumerate(before):
        new = out[i]
        stops = [t for t in (old.stopped_ns, new.stopped_ns) if t is not None]
        out[i] = replace(
            new,
            stopped_ns=max(stops) if stops else None,
            dropped=new.dropped if new.dropped is not None else old.dropped,
        )
    return tuple(out)


def _read_part(
    path: str,
    label: str,
    layout: Layout,
    start: int,
    stop: int | None,
    decode: Decoder,
    options: DecodeOptions,
    batch_frames: int,
    done: object,
    slot: int,
) -> tuple[TableBuilder, int, list[str], bool, object, tuple[InterfaceInfo, ...]]:
    """What a forked reader sends: one part read into (builder, frames, warnings, clean,
    parser state at the end, interfaces with what the part's statistics blocks said)."""
    builder = TableBuilder()

    def report(nbytes: int) -> None:
        done[slot] = nbytes  # type: ignore[index]

    with open_range(path, label, layout, start, stop, 0) as reader:
        frames = builder.read(reader, decode, options, batch_frames=batch_frames, report=report)
        return (
            builder,
            frames,
            list(reader.warnings),
            reader.ended_cleanly,
            reader.parser_state,
            tuple(reader.interfaces),
        )


def _pack(obj: object, shm: int | None) -> tuple[bytes, list[int]] | object:
    """``obj`` ready to send: (pickle without its large buffers, their sizes) with the buffers
    written one after another to ``shm``; ``obj`` itself when there is no ``shm``."""
    if shm is None:
        return obj
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    sizes = []
    offset = 0
    for buf in buffers:
        view = buf.raw()
        sizes.append(view.nbytes)
        while view.nbytes:
            written = os.pwrite(shm, view, offset)
            offset += written
            view = view[written:]
    return head, sizes


class _Child:
    """A forked reader of one part, its pipe and its in-memory file."""

    def __init__(
        self, proc: multiprocessing.process.BaseProcess, conn: object, shm: int | None
    ) -> None:
        self.proc, self.conn, self.shm = proc, conn, shm

    def receive(self, writable: bool = False, populate: bool = False) -> Any:
        """The child's result (a tuple), or None when it failed or died; the child is then
        joined. ``writable``: its arrays may be written to (a private copy-on-write mapping of
        the child's buffers), else they are read-only. ``populate``: every page of them is
        mapped at once (for arrays read whole: one call instead of a fault per page; pages
        mapped count in this process's resident memory, read or not)."""
        try:
            msg = self.conn.recv()  # type: ignore[attr-defined]
            if isinstance(msg, tuple) and len(msg) == 2 and isinstance(msg[0], bytes):
                msg = self._unpack(*msg, writable=writable, populate=populate)
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            msg = None
        finally:
            self.stop()
        return msg if isinstance(msg, tuple) else None

    def _unpack(
        self, head: bytes, sizes: list[int], writable: bool = False, populate: bool = False
    ) -> object:
        total = sum(sizes)
        views: list[memoryview] = []
        if total:
            assert self.shm is not None, "a child sends buffer sizes only with a shared file"
            extra = getattr(mmap, "MAP_POPULATE", 0) if populate else 0
            mapped = memoryview(
                mmap.mmap(
                    self.shm,
                    total,
                    flags=mmap.MAP_PRIVATE | extra,
                    prot=mmap.PROT_READ | mmap.PROT_WRITE,
                )
                if writable
                else mmap.mmap(self.shm, total, flags=mmap.MAP_SHARED | extra, prot=mmap.PROT_READ)
            )
            offset = 0
            for size in sizes:
                views.append(mapped[offset : offset + size])
                offset += size
        return pickle.loads(head, buffers=views)

    def stop(self, kill: bool = False) -> None:
        """Wait for the child to end (``kill``: end it now); release its pipe and file."""
        if kill and self.proc.is_alive():
            self.proc.terminate()
        self.proc.join()
        with contextlib.suppress(OSError):
            self.conn.close()  # type: ignore[attr-defined]
        if self.shm is not None:
            os.close(self.shm)
            self.shm = None


def _stop(children: list[_Child]) -> None:
    for child in children:
        child.stop(kill=True)
