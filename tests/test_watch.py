"""`watch`: findings from a live stream, reported when they become true, with bounded state."""

from __future__ import annotations

import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether
from testpaths import CAPTURES, ROOT

from vxlanlens.decode import DecodeOptions, decode_batch
from vxlanlens.read.records import RecordBatch
from vxlanlens.table import TableBuilder
from vxlanlens.watch import Watcher, watch

NS_LAB = CAPTURES / "lab-ns-unanswered" / "pod-cni-7t9p4-eth0.pcap"
TCP_LAB = CAPTURES / "lab-tcp-connect" / "node-worker-any.pcap"

_CHILD = """
import sys
from vxlanlens.watch import watch
for e in watch("-", timeout_s=float(sys.argv[1])):
    print(e.id, flush=True)
print("end", flush=True)
"""


def _records(path: Path) -> tuple[bytes, list[tuple[float, bytes]]]:
    """The pcap file header and (timestamp, record bytes) of each record (microsecond pcap)."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "the pacer reads little-endian microsecond pcap"
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
        out.append((sec + usec / 1e6, data[off : off + 16 + incl]))
        off += 16 + incl
    return data[:24], out


def test_unanswered_ns_reported_before_the_stream_ends() -> None:
    """A pacer replays a lab capture through a pipe at its own pace, then keeps the pipe open:
    the unanswered Neighbor Solicitation is reported while the stream is still open."""
    head, records = _records(NS_LAB)
    timeout = 0.5
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(timeout)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=False,
        cwd=ROOT,
    )
    assert child.stdin is not None and child.stdout is not None
    seen: list[tuple[float, str]] = []

    def read_out() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            seen.append((time.monotonic(), line.decode().strip()))

    reader = threading.Thread(target=read_out, daemon=True)
    reader.start()
    child.stdin.write(head)
    t0 = records[0][0]
    start = time.monotonic()
    for ts, rec in records:
        delay = min(ts - t0, 5.0) - (time.monotonic() - start)  # the capture's own pace
        if delay > 0:
            time.sleep(delay)
        child.stdin.write(rec)
        child.stdin.flush()
    hold_until = time.monotonic() + timeout + 3.0  # keep the pipe open: the stream goes on
    while time.monotonic() < hold_until and not any(s == "ns-unanswered" for _, s in seen):
        time.sleep(0.05)
    closed_at = time.monotonic()
    child.stdin.close()
    child.wait(timeout=30)
    reader.join(timeout=5)
    ids = [s for _, s in seen]
    assert "ns-unanswered" in ids, seen
    at = next(t for t, s in seen if s == "ns-unanswered")
    assert at <= closed_at, "reported only when the stream ended"
    assert ids.count("ns-unanswered") == 1  # one flow: retransmissions are not repeated
    assert ids[-1] == "end"


def test_refused_connection_once_per_flow() -> None:
    events = list(watch(str(TCP_LAB), timeout_s=1.0))
    refused = [e for e in events if e.id == "connection-refused"]
    # two SYNs (IPv4 and IPv6) each answered by a reset, each seen on three interfaces
    assert len(refused) == 2
    assert all(e.evidence for e in refused)
    # the same id and severity as explain's catalogue
    from vxlanlens.explain.findings import SPECS

    assert {e.to_dict()["severity"] for e in refused} == {str(SPECS["connection-refused"].severity)}


def test_follow_a_growing_file(tmp_path: Path) -> None:
    head, records = _records(NS_LAB)
    path = tmp_path / "growing.pcap"
    path.write_bytes(head + records[0][1])
    stop = threading.Event()
    got: list[str] = []

    def consume() -> None:
        for e in watch(str(path), follow=True, timeout_s=0.2, stop=stop, tick_s=0.05):
            got.append(e.id)

    th = threading.Thread(target=consume, daemon=True)
    th.start()
    time.sleep(0.3)
    with open(path, "ab") as fh:
        for _, rec in records[1:]:
            fh.write(rec)
    deadline = time.monotonic() + 10
    while "ns-unanswered" not in got and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    th.join(timeout=10)
    assert "ns-unanswered" in got


_TEMPLATE = bytes(
    Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    / IP(src="10.0.0.1", dst="10.1.0.0")
    / ICMP(type=8, id=0, seq=1)
)


def _echo(i: int) -> bytes:
    """An echo request from 10.0.0.1 to a host of its own (10.1.x.y), echo id ``i``
    (checksums left as in the template: the decoder does not verify them)."""
    b = bytearray(_TEMPLATE)
    b[14 + 18] = (i >> 8) & 255  # IPv4 destination, third and fourth bytes
    b[14 + 19] = i & 255
    b[14 + 20 + 4 : 14 + 20 + 6] = (i & 0xFFFF).to_bytes(2, "big")  # echo id
    return bytes(b)


def _echo_batch(first: int, n: int, t0_ns: int, step_ns: int) -> RecordBatch:
    frames = [_echo(i) for i in range(first, first + n)]
    batch = RecordBatch.from_frames(frames, ts_ns=[t0_ns + k * step_ns for k in range(n)])
    return RecordBatch(
        capture="live",
        data=batch.data,
        offsets=batch.offsets,
        cap_len=batch.cap_len,
        wire_len=batch.wire_len,
        ts_ns=batch.ts_ns,
        linktype=batch.linktype,
        frame_no=np.arange(first + 1, first + n + 1, dtype=np.int64),
        interface=batch.interface,
    )


def test_state_stays_bounded_on_a_long_stream() -> None:
    """40,000 unanswered echo requests to ever new hosts (distinct flows): the window, the
    exchanges remembered and the flows stay bounded while every flow is reported."""
    w = Watcher(timeout_s=0.5, max_flows=2000)
    opts = DecodeOptions()
    batch_n, step = 2000, 1_000_000  # 1 ms apart: 2 s of traffic per batch
    reported = 0
    sizes = []
    for k in range(20):
        b = _echo_batch(k * batch_n, batch_n, k * batch_n * step, step)
        tb = TableBuilder()
        tb.add(b, decode_batch(b, opts))
        reported += sum(e.id == "echo-unanswered" for e in w.feed(tb.build()))
        assert w._window is not None
        sizes.append((len(w._window), len(w._done), len(w._flows)))
    reported += sum(e.id == "echo-unanswered" for e in w.close())
    assert w.frames == 20 * batch_n
    assert reported == 20 * batch_n  # every flow is new: each reported once
    window, done, flows = (max(s[i] for s in sizes) for i in range(3))
    assert window <= 2 * batch_n  # 1.5 s of traffic + one batch
    assert flows <= 2000
    assert done <= 4 * window + 1024 + batch_n


@pytest.mark.parametrize("bad", [b"", b"not a capture at all, sorry"])
def test_bad_stream_is_a_capture_error(bad: bytes, tmp_path: Path) -> None:
    import vxlanlens

    path = tmp_path / "bad.pcap"
    path.write_bytes(bad)
    with pytest.raises(vxlanlens.CaptureError):
        list(watch(str(path)))
