"""Parquet datasets and the Dask engine give the single-process results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from testpaths import CAPTURES

import vxlanlens
from vxlanlens.dataset import MANIFEST, is_dataset, read_dataset, write_dataset

pytest.importorskip("pyarrow")

FILES = [
    *sorted(str(p) for p in (CAPTURES / "lab-tcp-connect").glob("*.pcap")),
    *sorted(str(p) for p in (CAPTURES / "cilium-dual-stack").glob("*.pcap")),
    *sorted(str(p) for p in (CAPTURES / "lab-geneve-ipv6-ping").glob("*.pcap*")),
]
_KEY = ["point", "request_capture", "request_frame", "reply_capture", "reply_frame"]


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _by_frame(df: pd.DataFrame) -> pd.DataFrame:
    return _plain(df).sort_values(["capture", "frame_no"]).reset_index(drop=True)


def _exchanges_sorted(df: pd.DataFrame) -> pd.DataFrame:
    return _plain(df).sort_values(_KEY, na_position="first").reset_index(drop=True)


def test_dataset_round_trip(tmp_path: Path) -> None:
    single = vxlanlens.read(FILES)
    out = tmp_path / "ds"
    entries = write_dataset(FILES, out, batch_frames=7)
    assert is_dataset(out) and (out / MANIFEST).is_file()
    assert [e["label"] for e in entries] == [s.label for s in single.sources]
    assert all(e["sha256"] == s.sha256 for e, s in zip(entries, single.sources, strict=True))
    packets, sources, _ = read_dataset(out)
    pd.testing.assert_frame_equal(_plain(packets), _plain(single.packets))
    for col in single.packets.columns:
        assert str(packets[col].dtype) == str(single.packets[col].dtype), col
    assert [(s.label, s.frames, s.format) for s in sources] == [
        (s.label, s.frames, s.format) for s in single.sources
    ]
    # a dataset folder is refused as the target of a second conversion
    with pytest.raises(vxlanlens.VxlanlensError, match="already holds a dataset"):
        write_dataset(FILES[:1], out)


_CLUSTER_CHECKS = """
import sys
import pandas as pd
import distributed
import vxlanlens
import vxlanlens.dask as vdask
from vxlanlens.dataset import write_dataset
from vxlanlens.exchanges import clock_offsets
sys.path.insert(0, sys.argv[1])
from test_dask import FILES, _by_frame, _exchanges_sorted, _plain

with distributed.LocalCluster(
    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
) as cluster, distributed.Client(cluster) as client:
    assert len(client.scheduler_info()["workers"]) == 2
    single = vxlanlens.read(FILES)
    dcap = vdask.read(FILES)
    assert dcap.packets.npartitions == len(FILES)
    pd.testing.assert_frame_equal(_by_frame(dcap.packets.compute()), _by_frame(single.packets))
    pd.testing.assert_frame_equal(
        _exchanges_sorted(dcap.exchanges()), _exchanges_sorted(single.exchanges)
    )
    # journeys: shuffled by fingerprint, matched per bucket, renumbered on the client
    pd.testing.assert_frame_equal(dcap.journeys(), single.journeys)
    pd.testing.assert_frame_equal(dcap.clock_offsets(), clock_offsets(single.packets))
    # large files in chunks (a tiny chunk size: the shipped captures are small)
    chunked = vdask.read(FILES, chunk_bytes=2048)
    assert chunked.packets.npartitions > len(FILES)
    pd.testing.assert_frame_equal(_by_frame(chunked.packets.compute()), _by_frame(single.packets))
    pd.testing.assert_frame_equal(
        _exchanges_sorted(chunked.exchanges()), _exchanges_sorted(single.exchanges)
    )
    pd.testing.assert_frame_equal(chunked.journeys(buckets=3), single.journeys)
    a, b = dcap.explain(), single.explain()
    assert [(f.id, f.severity, f.statement) for f in a.findings] == [
        (f.id, f.severity, f.statement) for f in b.findings
    ]
    # a dataset folder read on the cluster
    write_dataset(FILES, sys.argv[2])
    dset = vdask.read(sys.argv[2])
    assert [s.label for s in dset.sources] == [s.label for s in single.sources]
    pd.testing.assert_frame_equal(_by_frame(dset.packets.compute()), _by_frame(single.packets))
    pd.testing.assert_frame_equal(
        _exchanges_sorted(dset.exchanges()), _exchanges_sorted(single.exchanges)
    )
print("equal")
"""


def test_dask_cluster_equals_single_process(tmp_path: Path) -> None:
    """On a LocalCluster of two worker processes, the Dask path's packets, exchanges, journeys
    and explanation equal the single-process ones, from captures and from a dataset folder.
    Run in a child process: the cluster's threads must not outlive the test in this one."""
    pytest.importorskip("distributed")
    run = subprocess.run(
        [sys.executable, "-c", _CLUSTER_CHECKS, str(Path(__file__).parent), str(tmp_path / "ds")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0 and run.stdout.strip().endswith("equal"), run.stderr[-3000:]


def test_glob_and_stdin(tmp_path: Path) -> None:
    import vxlanlens.dask as vdask

    dcap = vdask.read(str(CAPTURES / "cilium-dual-stack" / "*.pcap"))
    assert dcap.packets.npartitions == 2
    with pytest.raises(vxlanlens.VxlanlensError, match="no file matches"):
        vdask.read(str(tmp_path / "*.pcap"))
    with pytest.raises(vxlanlens.VxlanlensError, match="not stdin"):
        vdask.read("-")


def _synchronous() -> None:
    dask = pytest.importorskip("dask")
    dask.config.set(scheduler="synchronous")


@pytest.mark.parametrize("shift", [0, 1, 9, -16])
def test_chunks_equal_sequential_read(shift: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file above ``chunk_bytes`` is several partitions; the packets (frame numbers
    included) are those of the sequential read, also when the guessed cuts are no record
    starts (``shift``: every guess moved by that many bytes)."""
    import importlib

    import vxlanlens.dask as vdask

    _synchronous()
    split = importlib.import_module("vxlanlens.read.split")
    guess = split.guess_boundaries
    monkeypatch.setattr(
        split, "guess_boundaries", lambda path, n: [c + shift for c in guess(path, n)]
    )
    files = [f for f in FILES if f.endswith(".pcap")]
    single = vxlanlens.read(files, workers=1)
    big = sum(1 for f in files if Path(f).stat().st_size > 2048)
    dcap = vdask.read(files, chunk_bytes=2048)
    assert big and dcap.packets.npartitions > len(files)
    assert sum(len(g) > 1 for g in dcap.files) == big
    pd.testing.assert_frame_equal(_by_frame(dcap.packets.compute()), _by_frame(single.packets))
    one = vdask.read(files, chunk_bytes=None)
    assert one.packets.npartitions == len(files)


def test_journeys_options_on_buckets() -> None:
    """Reference capture, min_observations and bucket counts give the single-process tables;
    an unknown reference is the same error."""
    import vxlanlens.dask as vdask
    from vxlanlens.exchanges import clock_offsets, journeys

    _synchronous()
    files = FILES[:8]
    single = vxlanlens.read(files)
    ref = single.sources[-1].label
    dcap = vdask.read(files)
    for buckets in (1, 2, 5):
        pd.testing.assert_frame_equal(
            dcap.journeys(buckets=buckets, min_observations=2, reference=ref),
            journeys(single.packets, min_observations=2, reference=ref),
        )
    pd.testing.assert_frame_equal(
        dcap.clock_offsets(reference=ref), clock_offsets(single.packets, reference=ref)
    )
    with pytest.raises(vxlanlens.VxlanlensError, match="expected a reference"):
        dcap.journeys(reference="no-such-capture")


@pytest.mark.parametrize("chunk_bytes", [None, 300])
def test_mirror_vxlan_as_single_process(chunk_bytes: int | None) -> None:
    """A VXLAN mirror capture read on Dask gives read()'s table: the session detected by
    default (whole files and chunks alike), stated with ``mirror_vxlan``, or left as an
    overlay with ``none``."""
    import vxlanlens.dask as vdask

    _synchronous()
    files = sorted(str(p) for p in (CAPTURES / "lab-mirror-vxlan").glob("*.pcap"))
    single = vxlanlens.read(files, workers=1)
    peeled = single.packets["mirror"].notna()
    assert peeled.any(), "the lab capture holds VXLAN-mirrored frames"
    dcap = vdask.read(files, chunk_bytes=chunk_bytes)
    assert (dcap.packets.npartitions > len(files)) == bool(chunk_bytes)
    pd.testing.assert_frame_equal(_by_frame(dcap.packets.compute()), _by_frame(single.packets))
    stated = [f"{p}:{v}" for p, v in sorted(single.options.mirror_vxlan)]
    assert stated
    dstated = vdask.read(files, chunk_bytes=chunk_bytes, mirror_vxlan=stated)
    pd.testing.assert_frame_equal(_by_frame(dstated.packets.compute()), _by_frame(single.packets))
    off = vxlanlens.read(files, workers=1, mirror_vxlan=["none"])
    assert off.packets["mirror"].isna().all()
    doff = vdask.read(files, chunk_bytes=chunk_bytes, mirror_vxlan=["none"])
    pd.testing.assert_frame_equal(_by_frame(doff.packets.compute()), _by_frame(off.packets))
    with pytest.raises(vxlanlens.VxlanlensError, match="expected PORT"):
        vdask.read(files, mirror_vxlan=["x"])
