"""``journey_index``: the rows of ``journeys`` with only what explain needs, the same values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import vxlanlens
from vxlanlens.exchanges import journeys
from vxlanlens.exchanges.journeys import journey_index

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p for p in (ROOT / "captures").iterdir() if list(p.glob("*.pcap")))
COLUMNS = ["journey", "obs", "capture", "frame_no", "clock_offset_s"]


@pytest.mark.parametrize("folder", SCENARIOS[:6], ids=lambda p: p.name)
def test_journey_index_is_the_journeys_columns(folder: Path) -> None:
    cap = vxlanlens.read([str(p) for p in sorted(folder.glob("*.pcap"))])
    full = journeys(cap.packets)
    slim = journey_index(cap.packets)
    assert len(full) > 0
    _same_values(slim, full[COLUMNS].reset_index(drop=True))


def test_journey_index_of_a_crafted_table(packets) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"capture": c, "frame_no": f, "ts": t, "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2",
         "ip_version": 4, "ip_proto": 1, "icmp_type": 8, "icmp_code": 0, "echo_id": 7,
         "echo_seq": seq}
        for c, f, t, seq in (("a", 1, 0.0, 1), ("b", 1, 0.001, 1), ("a", 2, 1.0, 2))
    ]  # fmt: skip
    p = packets(rows)
    full = journeys(p)
    assert full["n_obs"].max() == 2  # the first echo was seen at both points
    _same_values(journey_index(p), full[COLUMNS].reset_index(drop=True))


def _same_values(slim: pd.DataFrame, full: pd.DataFrame) -> None:
    """The index holds the journeys' values; its never-null integers are plain ``int32``."""
    for c in ("journey", "obs", "frame_no"):
        assert slim[c].dtype == "int32"
        assert full[c].notna().all()
    pd.testing.assert_frame_equal(slim, full, check_exact=True, check_dtype=False)


def test_explain_without_journeys_asked_for_is_the_same() -> None:
    folder = ROOT / "captures" / "lab-ipv4-ping"
    paths = [str(p) for p in sorted(folder.glob("*.pcap"))]
    slim = vxlanlens.read(paths).explain().to_dict()
    cap = vxlanlens.read(paths)
    assert len(cap.journeys)  # the full table first: explain uses it
    assert cap.explain().to_dict() == slim


def test_key_hash_is_pandas_row_hash() -> None:
    import numpy as np

    from vxlanlens.exchanges._prep import key_hash

    rng = np.random.default_rng(5)
    cols = [rng.integers(-1, 1 << 40, 1000) for _ in range(4)]
    frame = pd.DataFrame({f"k{i}": c for i, c in enumerate(cols)})
    expected = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    assert (key_hash(cols) == expected).all()
    assert key_hash(cols[:1]).dtype == np.uint64


def test_key_hash_of_columns_made_in_turn_is_key_hash() -> None:
    import numpy as np

    from vxlanlens.exchanges._prep import key_hash, key_hash_of

    rng = np.random.default_rng(6)
    cols = [rng.integers(-1, 1 << 40, 500) for _ in range(5)]
    made: list[int] = []

    def maker(k: int):  # type: ignore[no-untyped-def]
        def make() -> np.ndarray:
            made.append(k)
            return cols[k]

        return make

    assert (key_hash_of([maker(k) for k in range(5)], 500) == key_hash(cols)).all()
    assert made == [0, 1, 2, 3, 4]  # each made once, in order
