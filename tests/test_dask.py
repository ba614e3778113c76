"""Parquet datasets and the Dask engine give the single-process results."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_dask_equals_single_process(client, tmp_path: Path) -> None:
    import vxlanlens.dask as vdask

    single = vxlanlens.read(FILES)
    dcap = vdask.read(FILES)
    assert dcap.packets.npartitions == len(FILES)
    # the work ran on the cluster's workers
    packets = dcap.packets.compute()
    assert client.run(lambda: 1)  # two live workers answered
    pd.testing.assert_frame_equal(_by_frame(packets), _by_frame(single.packets))
    pd.testing.assert_frame_equal(
        _exchanges_sorted(dcap.exchanges()), _exchanges_sorted(single.exchanges)
    )
    pd.testing.assert_frame_equal(_plain(dcap.journeys()), _plain(single.journeys))
    a, b = dcap.explain(), single.explain()
    assert [(f.id, f.severity, f.statement) for f in a.findings] == [
        (f.id, f.severity, f.statement) for f in b.findings
    ]


def test_dask_reads_a_dataset(client, tmp_path: Path) -> None:
    import vxlanlens.dask as vdask

    write_dataset(FILES, tmp_path / "ds")
    single = vxlanlens.read(FILES)
    dcap = vdask.read(tmp_path / "ds")
    assert [s.label for s in dcap.sources] == [s.label for s in single.sources]
    pd.testing.assert_frame_equal(_by_frame(dcap.packets.compute()), _by_frame(single.packets))
    pd.testing.assert_frame_equal(
        _exchanges_sorted(dcap.exchanges()), _exchanges_sorted(single.exchanges)
    )


def test_glob_and_stdin(tmp_path: Path) -> None:
    import vxlanlens.dask as vdask

    dcap = vdask.read(str(CAPTURES / "cilium-dual-stack" / "*.pcap"))
    assert dcap.packets.npartitions == 2
    with pytest.raises(vxlanlens.VxlanlensError, match="no file matches"):
        vdask.read(str(tmp_path / "*.pcap"))
    with pytest.raises(vxlanlens.VxlanlensError, match="not stdin"):
        vdask.read("-")
