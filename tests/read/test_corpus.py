"""Every capture of the public corpus against tshark: record counts and timestamps."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from testpaths import PUBLIC, public_files

from vxlanlens.read import open_capture

CORPUS = [p for p in public_files() if "libpcap" not in p.parts]
REJECTED = public_files("libpcap/*")


def tshark_records(tshark: str, path: Path) -> list[tuple[str, str]]:
    """(time_epoch, protocol column) per tshark record, leaving out pcapng Custom Blocks,
    which tshark 4.0 lists as extra "PCAPNG" records although they carry no packet."""
    out = subprocess.run(
        [
            tshark,
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "_ws.col.Protocol",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    recs = [tuple(line.split("\t")) for line in out.splitlines()]
    return [(t, proto) for t, proto in recs if proto != "PCAPNG"]  # type: ignore[misc]


def epoch_to_ns(text: str) -> int:
    """tshark's ``frame.time_epoch`` ("secs.nnnnnnnnn") as integer nanoseconds."""
    sec, _, frac = text.partition(".")
    return int(sec) * 10**9 + (int(frac.ljust(9, "0")) if len(frac) <= 9 else int(frac))


def wrap64(x: int) -> int:
    return (x + (1 << 63)) % (1 << 64) - (1 << 63)


def test_corpus_is_there() -> None:
    if not PUBLIC.is_dir():
        pytest.skip("third-party capture corpus not found")
    assert len(CORPUS) > 50
    assert len(REJECTED) == 4


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(PUBLIC)))
def test_counts_and_timestamps_match_tshark(path: Path, tshark: str) -> None:
    want = tshark_records(tshark, path)
    with open_capture(path) as cap:
        batches = list(cap.batches())
        warnings = cap.warnings
    ours = [int(t) for b in batches for t in b.ts_ns]
    assert len(ours) == len(want)
    assert [int(f) for b in batches for f in b.frame_no] == list(range(1, len(ours) + 1))
    assert not [w for w in warnings if "file ends inside" in w]
    compared = 0
    for i, ((text, _proto), got) in enumerate(zip(want, ours, strict=True)):
        if not text:
            continue  # Simple Packet Block: tshark shows no time (we carry the previous one)
        if text.startswith("-"):
            continue  # tshark read a sub-second field >= 2**31 as negative; see test below
        assert got == wrap64(epoch_to_ns(text)), f"frame {i + 1}: {got} vs tshark {text}"
        compared += 1
    assert compared or not ours or all(not t for t, _ in want)


def test_invalid_nanoseconds_like_tcpdump(public_dir: Path, tshark: str) -> None:
    """timestamp_invalid_nano.pcap: fractions 10**9 and 2**31 ns. tcpdump prints
    "17:16:10.1000000000 (invalid ns)" and "17:16:10.2147483648 (invalid ns)"; we keep the
    records with ts = seconds * 10**9 + fraction. tshark agrees for the first; for the second
    it reads the fraction as signed 32 bits and prints "-1418145370.2147483648"."""
    path = public_dir / "tcpdump" / "timestamp_invalid_nano.pcap"
    with open_capture(path) as cap:
        ts = [int(t) for b in cap.batches() for t in b.ts_ns]
        assert cap.warnings == []
    assert ts == [
        1_418_145_369_999_999_999,
        1_418_145_370 * 10**9 + 1_000_000_000,
        1_418_145_370 * 10**9 + 2_147_483_648,
    ]
    want = tshark_records(tshark, path)
    assert [epoch_to_ns(t) for t, _ in want[:2]] == ts[:2]
    assert want[2][0] == "-1418145370.2147483648"


def test_far_future_pcapng_timestamps(public_dir: Path) -> None:
    """pcapng-example.pcapng: the SLL interface's µs counts are near 2**64 (tshark: year
    586524). They wrap to times just before 1970 and the reader says so once."""
    with open_capture(public_dir / "pcapplusplus" / "pcapng-example.pcapng") as cap:
        batches = list(cap.batches())
        warnings = cap.warnings
    ts = [int(t) for b in batches for t in b.ts_ns]
    assert ts[59] == wrap64(18446744073204_126329000)
    assert ts[59] < 0 and ts[58] > 0
    assert len([w for w in warnings if "year 2262" in w]) == 1
    comments = {int(b.frame_no[k]): v for b in batches for k, v in b.comments.items()}
    assert comments[60] == "Packet #1" and comments[159] == "Packet #100" and len(comments) == 100


@pytest.mark.parametrize("path", REJECTED, ids=lambda p: p.name)
def test_libpcap_reject_files_give_one_line_capture_errors(path: Path) -> None:
    from vxlanlens.errors import CaptureError

    with pytest.raises(CaptureError) as info, open_capture(path) as cap:
        list(cap.batches())
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: byte ")
    assert "expected" in msg or "must match" in msg
