"""Opening captures: paths, stdin, file objects, labels, and the errors for bad inputs."""

from __future__ import annotations

import importlib
import io
import os
import sys
from pathlib import Path

import pytest
from readcraft import epb, frame, idb, pcap_header, pcap_record, shb

from vxlanlens.errors import CaptureError, TruncatedCaptureError
from vxlanlens.read import CaptureReader, label_for, open_capture, parse_capture_arg

PCAP = pcap_header() + b"".join(pcap_record(frame(i), sec=i, sub=0) for i in range(5))


def count(cap: CaptureReader) -> int:
    return sum(len(b) for b in cap.batches())


def test_path_str_and_pathlike(tmp_path: Path) -> None:
    path = tmp_path / "pod.pcap"
    path.write_bytes(PCAP)
    for src in (path, str(path)):
        with open_capture(src) as cap:
            assert (cap.path, cap.label, cap.format, cap.size) == (
                str(path),
                "pod",
                "pcap",
                len(PCAP),
            )
            assert count(cap) == 5
            assert cap.bytes_read == len(PCAP)


def test_label_given() -> None:
    with open_capture(io.BytesIO(PCAP), label="node-a") as cap:
        assert cap.label == "node-a"
        assert {b.capture for b in cap.batches()} == {"node-a"}


def test_binary_file_object_is_stdin_like() -> None:
    with open_capture(io.BytesIO(PCAP)) as cap:
        assert (cap.path, cap.label) == ("-", "stdin")
        assert count(cap) == 5


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeStdin:
        buffer = io.BytesIO(PCAP)

    monkeypatch.setattr(sys, "stdin", FakeStdin())
    with open_capture("-") as cap:
        assert (cap.path, cap.label, cap.size) == ("-", "stdin", len(PCAP))
        assert count(cap) == 5


def test_pipe_has_no_size() -> None:
    r, w = os.pipe()
    os.write(w, PCAP)
    os.close(w)
    with os.fdopen(r, "rb") as f, open_capture(f, label="pipe") as cap:
        assert cap.size is None
        assert count(cap) == 5


def test_caller_owned_file_object_is_not_closed(tmp_path: Path) -> None:
    buf = io.BytesIO(PCAP)
    with open_capture(buf) as cap:
        count(cap)
    assert not buf.closed


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("pod.pcap", "pod"),
        ("dir/pod.pcap.gz", "pod"),
        ("node.pcapng.zst", "node"),
        ("a.b.cap.xz", "a.b"),
        ("capture", "capture"),
        ("x.bz2", "x"),
        ("-", "stdin"),
    ],
)
def test_label_for(path: str, label: str) -> None:
    assert label_for(path) == label


def test_parse_capture_arg(tmp_path: Path) -> None:
    assert parse_capture_arg("node1=/tmp/a.pcap") == ("node1", "/tmp/a.pcap")
    assert parse_capture_arg("pod.pcap.gz") == ("pod", "pod.pcap.gz")
    assert parse_capture_arg("-") == ("stdin", "-")
    assert parse_capture_arg("pod=-") == ("pod", "-")
    assert parse_capture_arg("dir/a=b.pcap") == ("a=b", "dir/a=b.pcap")
    odd = tmp_path / "x=y.pcap"
    odd.write_bytes(PCAP)
    assert parse_capture_arg(str(odd)) == ("x=y", str(odd))
    with pytest.raises(CaptureError, match="empty label"):
        parse_capture_arg("=a.pcap")
    with pytest.raises(CaptureError, match="empty path"):
        parse_capture_arg("lbl=")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"nope\.pcap: no such file"):
        open_capture(tmp_path / "nope.pcap")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="is a directory, expected a capture file"):
        open_capture(tmp_path)


def test_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.pcap"
    path.write_bytes(PCAP)
    path.chmod(0)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # root reads anything: make the open fail the way it fails for everyone else
        source = importlib.import_module("vxlanlens.read._source")

        def denied(*_a: object, **_k: object) -> None:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(source, "open", denied, raising=False)
    with pytest.raises(CaptureError, match="permission denied"):
        open_capture(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    with pytest.raises(CaptureError, match=r"empty\.pcap: file is empty \(0 bytes\)"):
        open_capture(path)


def test_unknown_format_lists_expected_magics() -> None:
    with pytest.raises(CaptureError) as info:
        open_capture(io.BytesIO(b"\x7fELF\x02\x01\x01\x00" + bytes(100)))
    msg = str(info.value)
    assert not isinstance(info.value, TruncatedCaptureError)
    assert (
        "-: byte 0: not a pcap or pcapng capture: the first bytes are 7f 45 4c 46 02 01 01 00"
        in msg
    )
    for magic in (
        "d4 c3 b2 a1",
        "a1 b2 3c 4d",
        "0a 0d 0d 0a",
        "gzip (1f 8b)",
        "zstd (28 b5 2f fd)",
    ):
        assert magic in msg


def test_text_file_is_called_text() -> None:
    with pytest.raises(CaptureError, match="looks like text"):
        open_capture(io.BytesIO(b"12:00:01.000 IP 10.0.0.1 > 10.0.0.2: ICMP echo request\n"))


def test_a_few_bytes_of_a_magic_are_truncated() -> None:
    with pytest.raises(TruncatedCaptureError):
        open_capture(io.BytesIO(b"\xd4\xc3"))
    with pytest.raises(CaptureError):
        open_capture(io.BytesIO(b"xy"))


def test_interfaces_known_at_open() -> None:
    data = shb() + idb(1, name="eth0") + idb(276, name="any") + epb(frame(0))
    with open_capture(io.BytesIO(data)) as cap:
        assert [i.name for i in cap.interfaces] == ["eth0", "any"]
        assert cap.format == "pcapng"


def test_closed_reader_refuses() -> None:
    cap = open_capture(io.BytesIO(PCAP))
    cap.close()
    cap.close()  # idempotent
    with pytest.raises(CaptureError, match="closed"):
        next(cap.batches())


def test_batches_is_single_pass() -> None:
    with open_capture(io.BytesIO(PCAP)) as cap:
        it = cap.batches(max_frames=2)
        first = next(it)
        rest = list(cap.batches(max_frames=2))
    assert first.frame_no.tolist() == [1, 2]
    assert [b.frame_no.tolist() for b in rest] == [[3, 4], [5]]


def test_max_frames_must_be_positive() -> None:
    with open_capture(io.BytesIO(PCAP)) as cap, pytest.raises(ValueError):
        next(cap.batches(max_frames=0))


def test_read_buffers_are_reused_only_when_nothing_refers_to_them(tmp_path: Path) -> None:
    import numpy as np

    from vxlanlens.read._source import open_source

    data = bytes(range(256)) * 64  # 16 KiB
    path = tmp_path / "raw.bin"
    path.write_bytes(data)
    src, _ = open_source(str(path))
    try:
        first = src.read_after(b"", 4096)
        view = np.frombuffer(first, dtype=np.uint8)  # a batch's array of it
        ident = id(first)
        del first
        second = src.read_after(b"xy", 4096)  # `first` is still viewed: a new buffer
        assert id(second) != ident and bytes(second) == b"xy" + data[4096:8192]
        assert bytes(view[:4]) == data[:4]  # the viewed buffer is untouched
        del view
        third = src.read_after(bytes(second[-3:]), 100)  # `first` is free again: reused
        assert id(third) == ident and bytes(third) == data[8189:8192] + data[8192:8292]
        del second, third
        rest = src.read_after(b"", 10**6)  # past the end: what there is, the right length
        assert bytes(rest) == data[8292:]
    finally:
        src.close()


def test_reading_works_while_a_profiler_keeps_every_frame(tmp_path: Path) -> None:
    """A frame kept after its function returned keeps its locals: a view of the read buffer
    left in one would make shrinking the buffer at the end of the data fail."""
    import sys

    from vxlanlens.read._source import open_source

    path = tmp_path / "raw.bin"
    path.write_bytes(bytes(range(256)) * 16)  # 4 KiB
    kept: list[object] = []

    def keep(frame: object, event: str, arg: object) -> None:
        kept.append(frame)

    src, _ = open_source(str(path))
    try:
        sys.setprofile(keep)
        try:
            out = src.read_after(b"ab", 10**6)  # past the end: the buffer is cut to the data
        finally:
            sys.setprofile(None)
        assert bytes(out) == b"ab" + bytes(range(256)) * 16
        assert kept  # the profiler did see the frames
    finally:
        src.close()
