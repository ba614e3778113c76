"""Reading one pcap file with several processes gives exactly what one process gives."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pandas as pd
import pytest
from splitcraft import record_starts, write_big_pcap

import vxlanlens
from vxlanlens import parallel
from vxlanlens.decode import decode_batch
from vxlanlens.errors import CaptureError

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture(autouse=True)
def small_files_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split files of any size, so that small test files take the parallel path."""
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_big_pcap(tmp_path_factory.mktemp("parallel") / "big.pcap", 6000)


def _read(path: Path, workers: int, **kw) -> vxlanlens.Capture:
    # the shipped frames include a VXLAN mirror session, whose detection reads the file twice:
    # these tests count the reading processes of one read
    kw.setdefault("mirror_vxlan", ["none"])
    return vxlanlens.read([f"big={path}"], workers=workers, batch_frames=500, **kw)


def _same(a: vxlanlens.Capture, b: vxlanlens.Capture) -> None:
    pd.testing.assert_frame_equal(a.packets, b.packets)
    assert a.warnings == b.warnings
    assert [s.frames for s in a.sources] == [s.frames for s in b.sources]


@pytest.fixture(scope="module")
def serial(big: Path) -> vxlanlens.Capture:
    return _read(big, 1)


def test_splittable(big: Path, tmp_path: Path) -> None:
    assert parallel.splittable(str(big), 2)
    assert not parallel.splittable(str(big), 1)
    assert not parallel.splittable("-", 2)
    assert not parallel.splittable(str(tmp_path), 2)


@pytest.mark.parametrize("workers", [2, 3, 5])
def test_same_table_as_one_process(big: Path, serial: vxlanlens.Capture, workers: int) -> None:
    seen: list[parallel.SplitResult] = []
    real = parallel.read_split

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        seen.append(result)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("vxlanlens.capture.read_split", spy)
        cap = _read(big, workers)
    _same(cap, serial)
    assert seen and seen[0].parts_used == workers - 1  # every part came from another process
    assert cap.packets["frame_no"].tolist() == list(range(1, 6001))


def test_a_wrong_guess_falls_back(
    big: Path, serial: vxlanlens.Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = record_starts(big)
    # Five bytes into a record: no record starts there; the first part's walk must notice.
    monkeypatch.setattr(parallel, "guess_cuts", lambda path, layout, parts: [starts[3000] + 5])
    _same(_read(big, 2), serial)


def test_a_failing_child_falls_back(
    big: Path, serial: vxlanlens.Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()

    def flaky(batch, options):
        if os.getpid() != parent:
            raise RuntimeError("child broke")
        return decode_batch(batch, options)

    monkeypatch.setattr("vxlanlens.capture.decoder_for", lambda engine: flaky)
    _same(_read(big, 3), serial)


def test_a_cut_last_record_warns_as_one_process_does(tmp_path: Path) -> None:
    path = write_big_pcap(tmp_path / "cut.pcap", 3000, tail=struct.pack("<IIII", 1, 0, 60, 60))
    one, two = _read(path, 1), _read(path, 2)
    _same(two, one)
    assert len(one.warnings) == 1 and "file ends inside record 3001" in one.warnings[0]


def test_a_corrupt_record_in_a_later_part_gives_the_same_error(big: Path, tmp_path: Path) -> None:
    data = bytearray(big.read_bytes())
    bad = record_starts(big)[5000]
    struct.pack_into("<I", data, bad + 8, 0x7FFFFFFF)
    path = tmp_path / "bad.pcap"
    path.write_bytes(bytes(data))
    with pytest.raises(CaptureError) as one:
        _read(path, 1)
    with pytest.raises(CaptureError) as two:
        _read(path, 3)
    assert str(two.value) == str(one.value)
    assert "record 5001" in str(one.value) and f"byte {bad}" in str(one.value)


def test_progress_reaches_the_file_size(big: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    _read(big, 2, progress=lambda done, total: calls.append((done, total)))
    assert calls
    size = big.stat().st_size
    assert all(total == size for _, total in calls)
    assert max(done for done, _ in calls) <= size + 24 * 2
    assert calls[-1][0] == size


def test_cli_workers_option(big: Path) -> None:
    from click.testing import CliRunner

    from vxlanlens.cli import cli

    runner = CliRunner()
    outs = []
    for n in ("1", "2"):
        result = runner.invoke(cli, ["packets", "-j", n, "--format", "csv", str(big)])
        assert result.exit_code == 0, result.output
        outs.append(result.output)
    assert outs[0] == outs[1] and outs[0].count("\n") == 6001
    bad = runner.invoke(cli, ["packets", "--workers", "0", str(big)])
    assert bad.exit_code == 2 and "0 is not in the range" in bad.output


def test_no_fork_means_one_process(
    big: Path, serial: vxlanlens.Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = parallel._start, []

    def second_refused(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first child runs, the second cannot be forked
            raise OSError(11, "Resource temporarily unavailable")
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "_start", second_refused)
    _same(_read(big, 3), serial)
    assert len(calls) == 2


# --- a call in a forked process (explain pairs exchanges there) -------------------------------

LAB = Path(__file__).resolve().parent.parent / "captures" / "lab-clock-skew"


def _tables() -> tuple[pd.DataFrame, object]:
    import numpy as np

    df = pd.DataFrame({"a": np.arange(5), "b": pd.Categorical(list("xyzxy"))})
    return df, np.arange(3)


def _fails() -> tuple[int]:
    raise ValueError("no")


def test_fork_call_gives_what_the_call_returns_with_writable_arrays() -> None:
    forked = parallel.fork_call(_tables)
    assert forked is not None
    got = forked.result()
    assert got is not None
    df, arr = got
    pd.testing.assert_frame_equal(df, _tables()[0])
    arr[0] = 7  # a private copy: writable
    df.loc[0, "a"] = 9
    assert forked.result() is None  # asked once
    failing = parallel.fork_call(_fails)
    assert failing is not None and failing.result() is None  # the caller then calls it itself
    cancelled = parallel.fork_call(_tables)
    assert cancelled is not None
    cancelled.cancel()
    assert cancelled.result() is None


def test_explain_shares_work_with_a_second_process_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vxlanlens import capture as capture_mod

    monkeypatch.setattr(capture_mod, "FORK_MIN_FRAMES", 1)  # the lab's captures are small
    used: list[object] = []
    real = parallel.Forked.result

    def spy(self: parallel.Forked) -> object:
        got = real(self)
        used.append(got)
        return got

    monkeypatch.setattr(parallel.Forked, "result", spy)
    specs = [f"{p.stem}={p}" for p in sorted(LAB.glob("*.pcap"))]
    forked = vxlanlens.read(specs, topology=str(LAB / "topology"), workers=2)
    exp = forked.explain()
    # made by other processes and used: the packets' overlay facts (taken by the topology's
    # inference), the pairing tables, then the paths and detectors
    assert len(used) == 3 and all(u is not None for u in used)
    assert type(used[0][0]).__name__ == "Observations"  # type: ignore[index]
    alone = vxlanlens.read(specs, topology=str(LAB / "topology"), workers=1)
    assert alone.explain().to_dict() == exp.to_dict()
    assert len(used) == 3  # workers=1: no second process
    pd.testing.assert_frame_equal(forked.exchanges, alone.exchanges)
    pd.testing.assert_frame_equal(forked._journey_index, alone._journey_index)


def _square(k: int) -> int:
    return k * k


def test_shared_work_gives_every_value_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from functools import partial

    tasks = [partial(_square, k) for k in range(40)]
    head, values = parallel.shared_work(partial(_square, 7), tasks)
    assert head == 49 and values == [k * k for k in range(40)]
    assert parallel.shared_work(partial(_square, 1), []) == (1, [])
    # no second process (a thread is running, or forking fails): this process does it all
    monkeypatch.setattr(parallel, "fork_call", lambda *a: None)
    assert parallel.shared_work(partial(_square, 3), tasks[:5]) == (9, [0, 1, 4, 9, 16])


def test_shared_work_redoes_what_a_failed_process_claimed(monkeypatch: pytest.MonkeyPatch) -> None:
    from functools import partial

    real = parallel._other_end

    def dies_after_claiming(first, tasks, claim):  # type: ignore[no-untyped-def]
        with claim.get_lock():
            claim[1] = claim[1] - 3  # three tasks claimed, never done
        raise RuntimeError("killed")

    monkeypatch.setattr(parallel, "_other_end", dies_after_claiming)
    tasks = [partial(_square, k) for k in range(10)]
    assert parallel.shared_work(partial(_square, 2), tasks) == (4, [k * k for k in range(10)])
    monkeypatch.setattr(parallel, "_other_end", real)
