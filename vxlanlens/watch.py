"""Explain traffic as it flows: findings reported when they become true, from a live stream.

``tcpdump -U -w - | vxlanlens watch -`` (or ``--follow FILE`` on a capture still being written)
reads records as they arrive, decodes them, pairs requests with answers over a sliding window
of recent packets (the same pairing as ``vxlanlens exchanges``), and reports:

- a request unanswered once its timeout has passed (``ns-unanswered``, ``arp-unanswered``,
  ``echo-unanswered``, ``tcp-unanswered``), once per flow, later ones counted;
- a flow answered after it was reported unanswered (``transient-failure``: it recovered);
- a SYN answered by a reset (``connection-refused``);
- a Packet Too Big / fragmentation-needed error (``packet-too-big``).

State is bounded: packets older than the window are dropped, flows expire after
``flow_ttl_s`` of silence and at most ``max_flows`` are kept. Time is the capture's clock,
advanced by the wall clock while the stream is silent, so a request that gets no answer is
reported even when nothing else arrives.

Library: :class:`Watcher` (``feed(packets_df)``, ``tick(now_ns)``, ``close()``) and
:func:`watch` (yields :class:`WatchEvent` from a path, ``-`` or a binary stream).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pandas as pd

from .decode import DecodeOptions
from .engines import decoder_for
from .errors import VxlanlensError
from .exchanges import exchanges as pair_exchanges
from .explain.findings import SPECS
from .explain.model import Evidence
from .read.capture import CaptureReader
from .read.records import RecordBatch
from .reassembly import MAX_CARRY, join, open_from, take
from .table import TableBuilder

__all__ = ["WatchEvent", "Watcher", "watch"]

CARRY_WAIT_S = 2.0
"""Seconds (wall clock) a live stream holds the first fragments of a packet for the rest."""

_UNANSWERED_ID = {
    "nd": "ns-unanswered",
    "arp": "arp-unanswered",
    "echo": "echo-unanswered",
    "tcp": "tcp-unanswered",
}
_WHAT = {
    "nd": "Neighbor Solicitation",
    "arp": "ARP request",
    "echo": "echo request",
    "tcp": "TCP SYN",
}
_PTB = {"packet-too-big", "frag-needed"}


def _severity(fid: str) -> str:
    """The severity ``explain`` gives finding ``fid`` (one catalogue for both)."""
    spec = SPECS.get(fid)
    return str(spec.severity) if spec is not None else "warning"


def _present(value: object) -> bool:
    return value is not None and value is not pd.NA and value is not pd.NaT and value == value


def _ts_text(ts_ns: int) -> str:
    return pd.Timestamp(ts_ns, unit="ns", tz="UTC").strftime("%H:%M:%S.%f")


@dataclass(frozen=True)
class WatchEvent:
    """A finding that became true at ``ts_ns`` (capture clock), with the frames behind it."""

    ts_ns: int
    id: str
    severity: str
    statement: str
    flow: str
    """The flow the finding is about (kind, observation point, addresses)."""
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (one line of ``watch -f json``)."""
        return {
            "ts": pd.Timestamp(self.ts_ns, unit="ns", tz="UTC").isoformat(),
            "id": self.id,
            "severity": self.severity,
            "statement": self.statement,
            "flow": self.flow,
            "evidence": [e.to_dict() for e in self.evidence],
        }

    def line(self) -> str:
        """One line for a terminal: time, severity, id, statement."""
        return f"{_ts_text(self.ts_ns)} {self.severity:<7} {self.id}: {self.statement}"


@dataclass
class _Flow:
    key: str
    unanswered: int = 0
    answered: int = 0
    reported_unanswered: bool = False
    reported_refused: bool = False
    first_unanswered: Evidence | None = None
    first_unanswered_ns: int | None = None
    last_ns: int = 0


@dataclass
class Watcher:
    """Incremental findings over a stream of packets-table batches (see the module docstring)."""

    timeout_s: float = 3.0
    """How long a request waits for its answer."""
    window_s: float | None = None
    """How much recent traffic is kept for pairing (default: three timeouts)."""
    flow_ttl_s: float = 300.0
    max_flows: int = 10000
    frames: int = 0
    stats: Counter[str] = field(default_factory=Counter)
    """Exchanges by status and findings by id so far."""
    _window: pd.DataFrame | None = None
    _now: int = 0
    _done: dict[tuple[Any, ...], int] = field(default_factory=dict)
    _flows: OrderedDict[str, _Flow] = field(default_factory=OrderedDict)

    @property
    def now_ns(self) -> int:
        """The stream's current time (capture clock, nanoseconds)."""
        return self._now

    def feed(self, packets: pd.DataFrame, now_ns: int | None = None) -> list[WatchEvent]:
        """Add a batch of packets (rows of the packets table) and give what became true."""
        if len(packets):
            self.frames += len(packets)
            self._now = max(self._now, int(packets["ts_ns"].max()))
            self._window = (
                packets
                if self._window is None or self._window.empty
                else pd.concat([self._window, packets], ignore_index=True)
            )
        return self.tick(now_ns)

    def tick(self, now_ns: int | None = None) -> list[WatchEvent]:
        """Advance the clock to ``now_ns`` (if later) and give what became true meanwhile."""
        if now_ns is not None:
            self._now = max(self._now, int(now_ns))
        if self._window is None or self._window.empty:
            return []
        events = self._pair(final=False)
        self._trim()
        return events

    def close(self) -> list[WatchEvent]:
        """The end of the stream: every request still waiting counts as unanswered."""
        if self._window is None or self._window.empty:
            return []
        return self._pair(final=True)

    # ------------------------------------------------------------------ internals
    def _pair(self, final: bool) -> list[WatchEvent]:
        assert self._window is not None
        timeout_ns = round(self.timeout_s * 1e9)
        ex = pair_exchanges(self._window, timeout_s=self.timeout_s)
        events: list[WatchEvent] = []
        if ex.empty:
            return events
        cols = [
            "kind",
            "status",
            "key",
            "point",
            "ts",
            "request_capture",
            "request_frame",
            "reply_capture",
            "reply_frame",
            "requester_ip",
            "target",
            "echo_id",
            "dport",
            "answer",
            "latency_s",
        ]
        for row in ex[cols].itertuples(index=False):
            kind, status = str(row.kind), str(row.status)
            ts = int(pd.Timestamp(row.ts).value)
            req = (
                Evidence(str(row.request_capture), int(row.request_frame))
                if _present(row.request_capture) and _present(row.request_frame)
                else None
            )
            rep = (
                Evidence(str(row.reply_capture), int(row.reply_frame))
                if _present(row.reply_capture) and _present(row.reply_frame)
                else None
            )
            ident = (kind, str(row.point), req or rep)
            if status == "unanswered" and not final and ts + timeout_ns > self._now:
                continue  # its answer may still come
            if ident in self._done:
                continue
            self._done[ident] = ts
            self.stats[f"{kind} {status}"] += 1
            flow_key = self._flow_key(kind, row)
            if kind == "icmp-error":
                answer = str(row.answer) if _present(row.answer) else ""
                if answer in _PTB:
                    events.append(self._ptb(ts, flow_key, row, rep))
                continue
            if status == "unanswered":
                events.extend(self._unanswered(ts, flow_key, kind, row, req))
            elif status == "answered":
                events.extend(self._answered(ts, flow_key, kind, row, req, rep))
        for e in events:
            self.stats[e.id] += 1
        return events

    @staticmethod
    def _flow_key(kind: str, row: Any) -> str:
        who = str(row.requester_ip) if _present(row.requester_ip) else "?"
        target = str(row.target) if _present(row.target) else "?"
        text = f"{kind} {who} > {target}"
        if kind == "echo" and _present(row.echo_id):
            text += f" id {int(row.echo_id)}"
        if kind == "tcp" and _present(row.dport):
            text += f" port {int(row.dport)}"
        # not the observation point: one packet seen at several points is one flow
        return text

    def _flow(self, key: str, ts: int) -> _Flow:
        flow = self._flows.get(key)
        if flow is None:
            flow = self._flows[key] = _Flow(key)
            while len(self._flows) > self.max_flows:
                self._flows.popitem(last=False)
        self._flows.move_to_end(key)
        flow.last_ns = max(flow.last_ns, ts)
        return flow

    def _unanswered(
        self, ts: int, key: str, kind: str, row: Any, req: Evidence | None
    ) -> list[WatchEvent]:
        flow = self._flow(key, ts)
        flow.unanswered += 1
        if flow.first_unanswered is None:
            flow.first_unanswered, flow.first_unanswered_ns = req, ts
        if flow.reported_unanswered:
            return []
        flow.reported_unanswered = True
        what = _WHAT.get(kind, kind)
        return [
            WatchEvent(
                ts + round(self.timeout_s * 1e9),
                _UNANSWERED_ID.get(kind, f"{kind}-unanswered"),
                _severity(_UNANSWERED_ID.get(kind, f"{kind}-unanswered")),
                f"{what} {row.key} unanswered after {self.timeout_s:g} s (at {row.point}); "
                "further unanswered requests of this flow are counted, not repeated",
                key,
                (req,) if req else (),
            )
        ]

    def _answered(
        self,
        ts: int,
        key: str,
        kind: str,
        row: Any,
        req: Evidence | None,
        rep: Evidence | None,
    ) -> list[WatchEvent]:
        flow = self._flow(key, ts)
        flow.answered += 1
        out: list[WatchEvent] = []
        evidence = tuple(e for e in (req, rep) if e is not None)
        if flow.reported_unanswered and flow.unanswered:
            since = (ts - (flow.first_unanswered_ns or ts)) / 1e9
            first = f" (first at {flow.first_unanswered})" if flow.first_unanswered else ""
            out.append(
                WatchEvent(
                    ts,
                    "transient-failure",
                    _severity("transient-failure"),
                    f"{_WHAT.get(kind, kind)} flow recovered: answered at {rep or '?'} after "
                    f"{flow.unanswered} unanswered request(s){first} over {since:.1f} s",
                    key,
                    ((flow.first_unanswered,) if flow.first_unanswered else ()) + evidence,
                )
            )
            flow.unanswered = 0
            flow.reported_unanswered = False
        answer = str(row.answer) if _present(row.answer) else ""
        if kind == "tcp" and answer == "rst" and not flow.reported_refused:
            flow.reported_refused = True
            out.append(
                WatchEvent(
                    ts,
                    "connection-refused",
                    _severity("connection-refused"),
                    f"connection refused: {row.key} was answered by a reset "
                    f"(at {row.point}); the network path works, nothing accepts on that port",
                    key,
                    evidence,
                )
            )
        return out

    def _ptb(self, ts: int, key: str, row: Any, rep: Evidence | None) -> WatchEvent:
        return WatchEvent(
            ts,
            "packet-too-big",
            _severity("packet-too-big"),
            f"{row.answer} for {row.key} (at {row.point}): a packet was too large for a link "
            "on its path",
            key,
            (rep,) if rep else (),
        )

    def _trim(self) -> None:
        """Forget packets older than the window, and exchanges and flows long past."""
        assert self._window is not None
        window_ns = round((self.window_s or 3 * self.timeout_s) * 1e9)
        horizon = self._now - window_ns
        ts = self._window["ts_ns"]
        if len(ts) and int(ts.min()) < horizon:
            self._window = self._window[ts.to_numpy() >= horizon].reset_index(drop=True)
        if len(self._done) > 4 * max(1, len(self._window)) + 1024:
            self._done = {k: v for k, v in self._done.items() if v >= horizon - window_ns}
        ttl = round(self.flow_ttl_s * 1e9)
        while self._flows:
            first = next(iter(self._flows.values()))
            if first.last_ns >= self._now - ttl:
                break
            self._flows.popitem(last=False)

    def summary(self) -> list[str]:
        """A few lines: frames, exchanges by status, findings by id."""
        exch = sorted((k, v) for k, v in self.stats.items() if " " in k)
        found = sorted(((k, v) for k, v in self.stats.items() if " " not in k), key=lambda x: -x[1])
        lines = [f"frames: {self.frames}; open flows: {len(self._flows)}"]
        lines.append(
            "exchanges: " + (", ".join(f"{k} {v}" for k, v in exch) if exch else "none yet")
        )
        lines.append(
            "findings: " + (", ".join(f"{k} {v}" for k, v in found[:6]) if found else "none yet")
        )
        return lines


class _Follow:
    """A binary reader over a file still being written: a read waits for the bytes it asks for
    (polling), until ``stop`` is set."""

    def __init__(self, path: str, stop: threading.Event, poll_s: float = 0.2) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._stop = stop
        self._poll = poll_s
        self.name = path

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 20
        parts: list[bytes] = []
        got = 0
        while got < n:
            data = self._fh.read(n - got)
            if data:
                parts.append(data)
                got += len(data)
                continue
            if self._stop.is_set():
                break
            time.sleep(self._poll)
        return b"".join(parts)

    def close(self) -> None:
        self._fh.close()


def _reader(
    source: str | os.PathLike[str] | BinaryIO, follow: bool, stop: threading.Event
) -> CaptureReader:
    """A capture reader that hands each record over as soon as it is complete."""
    from .read._source import open_source

    if follow:
        if not isinstance(source, (str, os.PathLike)):
            raise VxlanlensError("--follow needs a file path")
        src, size = open_source(_Follow(os.fspath(source), stop))  # type: ignore[arg-type]
        label = os.path.basename(os.fspath(source)).split(".")[0] or "live"
    else:
        src, size = open_source(source)
        label = "stdin" if source == "-" else os.path.basename(str(src.path)).split(".")[0]
    # a chunk of 1 byte: each read asks for exactly what completes the next record
    return CaptureReader(src, size, label or "live", chunk_size=1)


def watch(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    timeout_s: float = 3.0,
    follow: bool = False,
    options: DecodeOptions | None = None,
    tick_s: float = 0.25,
    on_tick: Any = None,
    stop: threading.Event | None = None,
) -> Iterator[WatchEvent]:
    """Findings from a live capture stream, each yielded when it becomes true.

    ``source`` is a path, ``-`` for stdin or a binary stream; ``follow=True`` waits for more
    data at the end of a file being written (until ``stop`` is set). ``on_tick(watcher)`` is
    called about every ``tick_s`` seconds (for a live summary). At the end of the stream every
    request still waiting is reported as unanswered.
    """
    stop = stop or threading.Event()
    opts = options or DecodeOptions()
    decode = decoder_for("fast")
    watcher = Watcher(timeout_s=timeout_s)
    batches: queue.Queue[RecordBatch | BaseException | None] = queue.Queue(maxsize=1024)
    reader = _reader(source, follow, stop)

    def pump() -> None:
        try:
            for batch in reader.batches(max_frames=4096):
                batches.put(batch)
                if stop.is_set():
                    break
            batches.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            batches.put(exc)

    thread = threading.Thread(target=pump, name="vxlanlens-watch-reader", daemon=True)
    thread.start()
    last_arrival = time.monotonic()
    ended = False
    carry: RecordBatch | None = None
    carry_since = time.monotonic()
    try:
        while not ended:
            pending: list[RecordBatch] = []
            deadline = time.monotonic() + tick_s
            while time.monotonic() < deadline:
                try:
                    item = batches.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    ended = True
                    break
                if isinstance(item, BaseException):
                    raise item
                pending.append(item)
            fresh = bool(pending)  # new records arrived in this tick
            waited = time.monotonic() - carry_since if carry is not None else 0.0
            held = int(carry.frame_no[0]) if carry is not None and len(carry) else None
            if carry is not None and (fresh or ended or waited >= CARRY_WAIT_S):
                pending.insert(0, carry)
                carry = None
            if pending:
                if fresh:
                    last_arrival = time.monotonic()
                batch = pending[0]
                for b in pending[1:]:
                    batch = join(batch, b)
                decoded = decode(batch, opts)
                cut = None if ended or waited >= CARRY_WAIT_S else open_from(batch, decoded)
                if cut is not None and len(batch) - cut <= MAX_CARRY:
                    # fragments of a packet still on their way: hold them (at most
                    # CARRY_WAIT_S of wall time, ticking meanwhile) until the rest comes
                    carry, batch = take(batch, cut), take(batch, 0, cut)
                    if int(carry.frame_no[0]) != held:  # a new set waits: its own clock
                        carry_since = time.monotonic()
                    decoded = decode(batch, opts)
                builder = TableBuilder()
                builder.add(batch, decoded)
                if len(batch):
                    yield from watcher.feed(builder.build())
            if not pending and watcher.frames:
                # silence: the capture clock moves on with the wall clock
                idle = round((time.monotonic() - last_arrival) * 1e9)
                yield from watcher.tick(watcher.now_ns + idle if idle > 0 else None)
                last_arrival = time.monotonic()
            if on_tick is not None:
                on_tick(watcher)
        yield from watcher.close()
    finally:
        stop.set()
        reader.close()
