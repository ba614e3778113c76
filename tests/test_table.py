"""The table builder: decoded NumPy columns in, the documented DataFrame out."""

from __future__ import annotations

import ipaddress
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.core.algorithms import factorize_array
from testpaths import CAPTURES

from vxlanlens import table
from vxlanlens.decode import DecodeOptions, decode_batch
from vxlanlens.decode.result import DecodedBatch
from vxlanlens.read.records import InterfaceInfo, RecordBatch
from vxlanlens.schema import COLUMN_NAMES
from vxlanlens.table import TableBuilder, _mac_texts, format_mac


def _ip16(text: str) -> np.ndarray:
    packed = ipaddress.ip_address(text).packed
    return np.frombuffer(packed.ljust(16, b"\0"), dtype=np.uint8)


def _batch(n: int, capture: str = "a", interfaces: tuple[InterfaceInfo, ...] = ()) -> RecordBatch:
    b = RecordBatch.from_frames(
        [b"\0" * 14] * n, capture=capture, ts_ns=[1_720_770_268_594_775_000 + i for i in range(n)]
    )
    if interfaces:
        b = RecordBatch(
            **{**b.__dict__, "interfaces": interfaces, "interface": np.zeros(n, np.int64)}
        )
    return b


def test_format_mac() -> None:
    assert format_mac(0x4E5B5745633B) == "4e:5b:57:45:63:3b"
    assert format_mac(0) == "00:00:00:00:00:00"


def test_mac_texts_match_format_mac() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate(
        [
            rng.integers(0, 2**63, 500, dtype=np.int64).astype(np.uint64) * np.uint64(2),
            np.array([0, 1, 0xFFFFFFFFFFFF, 0xFFFF000000000001], dtype=np.uint64),
        ]
    )
    assert _mac_texts(values) == [format_mac(int(v)) for v in values]
    assert _mac_texts(np.zeros(0, np.uint64)) == []


def test_builder_converts_every_kind() -> None:
    n = 3
    dec = DecodedBatch(n=n)
    dec.ints["vni"] = (np.array([40172, 0, 7], np.uint32), np.array([True, False, True]))
    dec.ints["ttl"] = (np.array([64, 63, 255], np.uint8), np.ones(3, bool))
    dec.bools["dont_fragment"] = (np.array([True, False, False]), np.array([True, True, False]))
    dec.macs["src_mac"] = (
        np.array([0x4E5B5745633B, 0xA279144780B3, 0x4E5B5745633B], np.uint64),
        np.ones(3, bool),
    )
    addr = np.zeros((n, 16), np.uint8)
    addr[0] = _ip16("fd00:10:244:1::4749")
    addr[1] = _ip16("10.244.1.233")
    dec.ips["src_ip"] = (addr, np.array([6, 4, 0], np.uint8))
    dec.texts["tunnel"] = np.array(["vxlan", None, "geneve"], dtype=object)
    dec.texts["geneve_options"] = np.array([None, None, "0x0132/0x01/8"], dtype=object)
    dec.check()

    tb = TableBuilder()
    tb.add(_batch(n), dec)
    df = tb.build()
    assert list(df.columns) == list(COLUMN_NAMES)
    assert df["vni"].tolist()[0] == 40172 and df["vni"].isna().tolist() == [False, True, False]
    assert df["ttl"].tolist() == [64, 63, 255]
    assert df["dont_fragment"].isna().tolist() == [False, False, True]
    assert df["src_mac"].tolist() == ["4e:5b:57:45:63:3b", "a2:79:14:47:80:b3", "4e:5b:57:45:63:3b"]
    assert df["src_ip"].astype(object).where(df["src_ip"].notna(), None).tolist() == [
        "fd00:10:244:1::4749",
        "10.244.1.233",
        None,
    ]
    assert df["tunnel"].astype(object).where(df["tunnel"].notna(), None).tolist() == [
        "vxlan",
        None,
        "geneve",
    ]
    assert df["geneve_options"].astype(object).where(
        df["geneve_options"].notna(), None
    ).tolist() == [None, None, "0x0132/0x01/8"]
    assert df["dst_mac"].isna().all()  # not touched by the decoder: null everywhere
    assert df["frame_no"].tolist() == [1, 2, 3]
    assert df["ts"].iloc[0] == pd.Timestamp("2024-07-12 07:44:28.594775", tz="UTC")
    assert df["capture"].tolist() == ["a", "a", "a"]


def test_categories_shared_across_batches_and_captures() -> None:
    tb = TableBuilder()
    for cap, mac in (("pod", 0x4E5B5745633B), ("node", 0x4E5B5745633B), ("node", 1)):
        dec = DecodedBatch(n=2)
        dec.macs["src_mac"] = (np.array([mac, 2], np.uint64), np.array([True, False]))
        tb.add(_batch(2, cap, (InterfaceInfo(index=0, linktype=1, name="eth0"),)), dec)
    df = tb.build()
    assert len(df) == 6
    assert df["src_mac"].tolist()[::2] == [
        "4e:5b:57:45:63:3b",
        "4e:5b:57:45:63:3b",
        "00:00:00:00:00:01",
    ]
    assert df["src_mac"].isna().tolist()[1::2] == [True, True, True]
    assert sorted(df["src_mac"].cat.categories) == ["00:00:00:00:00:01", "4e:5b:57:45:63:3b"]
    assert df["capture"].tolist() == ["pod", "pod", "node", "node", "node", "node"]
    assert set(df["interface"]) == {"eth0"}


def test_ipv4_ignores_bytes_past_four() -> None:
    addr = np.zeros((2, 16), np.uint8)
    addr[:, :4] = [10, 0, 0, 1]
    addr[1, 8] = 99  # garbage after an IPv4 address must not make a second category
    dec = DecodedBatch(n=2)
    dec.ips["dst_ip"] = (addr, np.array([4, 4], np.uint8))
    tb = TableBuilder()
    tb.add(_batch(2), dec)
    df = tb.build()
    assert df["dst_ip"].tolist() == ["10.0.0.1", "10.0.0.1"]
    assert len(df["dst_ip"].cat.categories) == 1


def test_addresses_sharing_a_hash_stay_apart() -> None:
    from vxlanlens.table import _MIX_HI, _MIX_LO, _factorize_addresses

    m = 1 << 64
    h1, l1 = 0xFD00001002440001, 0x4749
    h2 = h1 + 1
    # l2 chosen so that (h2, l2) mixes to the same 64-bit key as (h1, l1)
    key = ((h1 * int(_MIX_HI)) ^ (l1 * int(_MIX_LO))) % m
    l2 = (((key ^ (h2 * int(_MIX_HI))) % m) * pow(int(_MIX_LO), -1, m)) % m
    hi = np.array([h1, h2, h1, h2], dtype=np.uint64)
    lo = np.array([l1, l2, l1, l2], dtype=np.uint64)
    v4 = np.zeros(4, dtype=np.int64)
    assert len(set(((hi * _MIX_HI) ^ (lo * _MIX_LO)).tolist())) == 1  # the keys do collide
    codes, uh, ul, uv = _factorize_addresses(hi, lo, v4)
    assert codes.tolist() == [0, 1, 0, 1]
    assert uh.tolist() == [h1, h2] and ul.tolist() == [l1, l2] and uv.tolist() == [0, 0]


def test_ipv4_and_ipv6_with_the_same_bits_stay_apart() -> None:
    from vxlanlens.table import _factorize_addresses

    hi = np.array([0x0A0000E9, 0, 0x0A0000E9], dtype=np.uint64)
    lo = np.array([0, 0x0A0000E9, 0], dtype=np.uint64)
    v4 = np.array([1, 0, 0], dtype=np.int64)
    codes, _, _, uv = _factorize_addresses(hi, lo, v4)
    assert len(set(codes.tolist())) == 3 and sorted(uv.tolist()) == [0, 0, 1]


class _Reader:
    """Batches of one-frame records, counting the bytes handed out (a BatchReader)."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.bytes_read = 0

    def batches(self, max_frames: int = 32768):  # type: ignore[no-untyped-def]
        frames = [bytes([i]) * size for i, size in enumerate(self.sizes)]
        for at in range(0, len(frames), max_frames):
            part = frames[at : at + max_frames]
            self.bytes_read += sum(map(len, part))
            yield RecordBatch.from_frames(part, capture="r")


def test_read_decodes_every_batch_and_reports_progress() -> None:
    seen_options: list[DecodeOptions] = []

    def decode(batch: RecordBatch, options: DecodeOptions) -> DecodedBatch:
        seen_options.append(options)
        return decode_batch(batch, options)

    options = DecodeOptions(guess_tunnels=False)
    builder, progress = TableBuilder(), []
    frames = builder.read(
        _Reader([60, 61, 62, 63, 64]), decode, options, batch_frames=2, report=progress.append
    )
    assert frames == 5 == len(builder)
    assert progress == [121, 246, 310]  # after each batch of at most 2 frames
    assert seen_options == [options] * 3
    df = builder.build()
    assert df["wire_len"].tolist() == [60, 61, 62, 63, 64]
    assert df["frame_no"].tolist() == [1, 2, 1, 2, 1]  # each batch numbers its own frames


def test_a_column_null_in_every_row_is_zeros_of_its_own() -> None:
    """A column no batch has (null in every row) is built from zeroed memory: the same values
    as a column built part by part, writable, and shared with no other column."""
    from vxlanlens.table import _MaskedColumn

    built = []
    for _ in range(2):
        col = _MaskedColumn(np.uint32)
        col.add_null(3)
        col.add(np.array([7, 8], dtype=np.uint32), np.array([False, False]))
        col.add_null(2)
        built.append(col.array("UInt32"))
    a, b = built
    assert a.isna().all() and len(a) == 7
    assert (a._data == 0).all() and a._data.flags.writeable and a._mask.flags.writeable
    assert not np.shares_memory(a._data, b._data) and not np.shares_memory(a._mask, b._mask)
    a[1] = 5  # a user's edit of one column changes that column only
    assert a[1] == 5 and b.isna().all()
    mixed = _MaskedColumn(np.uint32)
    mixed.add_null(3)
    mixed.add(np.array([7, 8], dtype=np.uint32), np.array([True, False]))
    assert mixed.array("UInt32").tolist() == [pd.NA, pd.NA, pd.NA, 7, pd.NA]


def test_threaded_build_gives_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns built by several threads at a time: the table of one thread, column for column
    (categories in the same order, the shared address-text cache notwithstanding)."""
    import vxlanlens.table as table
    from vxlanlens.read import open_capture

    monkeypatch.setattr(table, "THREADED_BUILD_ROWS", 0)  # the shipped captures are small
    path = CAPTURES / "lab-mtu-outer-frag" / "node-worker-any.pcap"
    built = []
    for threads in (1, 4):
        builder = TableBuilder()
        with open_capture(path) as reader:
            for batch in reader.batches(max_frames=7):  # many parts per column
                builder.add(batch, decode_batch(batch, DecodeOptions()))
        built.append(builder.build(threads=threads))
    one, many = built
    assert len(one) > 7 and list(one.columns) == list(COLUMN_NAMES)
    pd.testing.assert_frame_equal(one, many)
    with pytest.raises(RuntimeError, match="already called"):
        builder.build(threads=4)


@pytest.mark.parametrize(
    "capture",
    [
        "lab-mtu-outer-frag/node-worker-any.pcap",
        "lab-ipv6-ping/node-worker-any.pcap",
        "lab-any-3node/node-worker-any.pcap",
    ],
)
def test_compacting_between_batches_gives_the_same_table(capture: str) -> None:
    """Categorical columns unified after some batches (as the parallel reader does while the
    other processes read), once or again later: the table of a builder never compacted,
    column for column (codes, categories and their order)."""
    from vxlanlens.read import open_capture

    with open_capture(CAPTURES / capture) as reader:
        batches = [(b, decode_batch(b, DecodeOptions())) for b in reader.batches(max_frames=3)]
    assert len(batches) >= 4

    def build(compact_after: set[int]) -> pd.DataFrame:
        builder = TableBuilder()
        for i, (batch, decoded) in enumerate(batches, start=1):
            builder.add(batch, decoded)
            if i in compact_after:
                builder.compact()
        return builder.build()

    plain = build(set())
    last = len(batches)
    for points in ({1}, {2}, {last // 2}, {last}, {2, last // 2 + 1, last}, set(range(1, last))):
        pd.testing.assert_frame_equal(build(points), plain)


def test_compacted_parts_keep_values_first_seen_later_and_nulls() -> None:
    """A compacted part (nulls, one value, several), then parts with values seen and unseen:
    codes and categories in order of first appearance."""
    tb = TableBuilder()
    rows = [
        ([5, 5], [False, False]),
        ([7, 7], [True, True]),
        ([9, 7], [True, False]),
        ([3, 9], [True, True]),  # after the compaction: one new value, one seen
        ([7, 1], [False, True]),
    ]
    for i, (macs, valid) in enumerate(rows):
        dec = DecodedBatch(n=2)
        dec.macs["src_mac"] = (np.array(macs, np.uint64), np.array(valid))
        tb.add(_batch(2), dec)
        if i == 2:
            tb.compact()
    col = tb.build()["src_mac"]
    want = [None, None, 7, 7, 9, None, 3, 9, None, 1]
    assert [None if pd.isna(v) else int(v.replace(":", ""), 16) for v in col] == want
    assert [int(c.replace(":", ""), 16) for c in col.cat.categories] == [7, 9, 3, 1]


def test_interfaces_of_one_name_are_one_category() -> None:
    """Two interfaces named alike (e.g. two sections' eth0): one value, whichever index a
    record names, in a batch's first part or a later one."""
    ifaces = (
        InterfaceInfo(index=0, linktype=1, name="eth0"),
        InterfaceInfo(index=1, linktype=1, name="eth0"),
        InterfaceInfo(index=2, linktype=1, name="lo"),
    )
    tb = TableBuilder()
    for order in ([1, 0, 2], [2, 1, 0]):
        b = _batch(3, interfaces=ifaces)
        b = RecordBatch(**{**b.__dict__, "interface": np.array(order, np.int64)})
        tb.add(b, DecodedBatch(n=3))
    col = tb.build()["interface"]
    assert col.tolist() == ["eth0", "eth0", "lo", "lo", "eth0", "eth0"]
    assert list(col.cat.categories) == ["eth0", "lo"]


def test_threaded_absorb_gives_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """A later part appended with several threads copying its columns: the table of one."""
    import vxlanlens.table as table
    from vxlanlens.read import open_capture

    monkeypatch.setattr(table, "THREADED_BUILD_ROWS", 0)
    with open_capture(CAPTURES / "lab-any-3node" / "node-worker-any.pcap") as reader:
        batches = [(b, decode_batch(b, DecodeOptions())) for b in reader.batches(max_frames=9)]
    assert len(batches) >= 3
    built = []
    for threads in (1, 4):
        first, later = TableBuilder(), TableBuilder()
        first.add(*batches[0])
        for batch, decoded in batches[1:]:
            later.add(batch, decoded)
        first.absorb(later, threads=threads)
        built.append(first.build())
    pd.testing.assert_frame_equal(built[0], built[1])
    whole = TableBuilder()
    for batch, decoded in batches:
        whole.add(batch, decoded)
    pd.testing.assert_frame_equal(built[1], whole.build())


def test_masked_column_grows_in_place_and_travels_between_processes() -> None:
    """Batches written in place, past the size where storage moves to a memory map: the same
    values and nulls as written, writable; pickled (as a forked reader sends it) and appended,
    the same again, whether the receiving column takes the storage over or copies it."""
    import pickle

    from vxlanlens.table import _Growing, _MaskedColumn

    rng = np.random.default_rng(3)
    rows = _Growing.SMALL // 2 * 3  # uint32: past SMALL bytes, so the storage is mapped
    values = rng.integers(0, 2**32, rows, dtype=np.uint64).astype(np.uint32)
    valid = rng.random(rows) < 0.7
    col = _MaskedColumn(np.uint32)
    col.add_null(5)
    for start in range(0, rows, 7000):
        col.add(values[start : start + 7000], valid[start : start + 7000])
    col.add(np.uint32(9), np.ones(3, dtype=bool))  # one value for every row of a batch
    col.add_null(4)
    expected = (
        [pd.NA] * 5
        + [int(v) if ok else pd.NA for v, ok in zip(values, valid, strict=True)]
        + [9, 9, 9]
        + [pd.NA] * 4
    )
    copy = pickle.loads(pickle.dumps(col))
    built = col.array("UInt32")
    assert built.tolist() == expected and built._data.flags.writeable
    built[0] = 1  # the table's arrays belong to it
    assert built[0] == 1

    taken, appended = _MaskedColumn(np.uint32), _MaskedColumn(np.uint32)
    taken.extend(copy)  # no row yet: the received storage is taken over
    assert copy.n == 0 and copy.array("UInt32").tolist() == []  # extend leaves it empty
    appended.add(np.array([4], dtype=np.uint32), np.array([True]))
    appended.extend(pickle.loads(pickle.dumps(taken)))  # copied after its own row
    assert taken.array("UInt32").tolist() == expected
    assert appended.array("UInt32").tolist() == [4, *expected]


def test_growing_array_copies_rows_it_may_not_write() -> None:
    from vxlanlens.table import _Growing

    rows = np.arange(5, dtype=np.uint16)
    rows.flags.writeable = False
    g = _Growing(np.uint16, rows)
    out = g.array(5)
    assert out.tolist() == [0, 1, 2, 3, 4] and out.flags.writeable
    g = _Growing(np.uint16, rows)
    g.reserve(200_000)  # moved to storage of its own (a map) before any write
    g.view(5, 6)[...] = 7
    assert g.array(7).tolist() == [0, 1, 2, 3, 4, 7, 0]


def _overcommit() -> str:
    try:
        with open("/proc/sys/vm/overcommit_memory") as f:
            return f.read().strip()
    except OSError:
        return ""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or _overcommit() not in ("0", "2"),
    reason="needs Linux refusing maps larger than its memory (vm.overcommit_memory 0 or 2)",
)
def test_growing_array_out_of_memory_is_a_memory_error() -> None:
    """The system refusing a map (or its growth) is the ``MemoryError`` NumPy raises for an
    array, which the command line reports in one line; what was written stays."""
    from vxlanlens.table import _Growing

    huge = 1 << 46  # 64 TiB: more memory than the machine has (and within the address space)
    with pytest.raises(MemoryError, match="cannot map"):
        _Growing(np.uint8).reserve(huge)
    g = _Growing(np.uint8)
    g.reserve(_Growing.SMALL + 1)  # mapped
    g.view(0, 2)[...] = 7
    with pytest.raises(MemoryError, match="cannot map"):
        g.reserve(huge)
    assert g.array(3).tolist() == [7, 7, 0]


@pytest.mark.skipif(table._c_factorize is None, reason="the compiled module is not built")
@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=8),
    picks=st.lists(st.tuples(st.integers(0, 7), st.booleans()), max_size=300),
)
def test_the_compiled_factorization_is_pandas(
    keys: list[int], picks: list[tuple[int, bool]]
) -> None:
    # MACs and addresses are factorized in compiled code: the same codes, in the same order of
    # first appearance, and the same distinct values as pandas gives, nulls included.
    values = np.array([keys[i % len(keys)] for i, _ in picks], dtype=np.uint64)
    valid = np.array([ok for _, ok in picks], dtype=bool)
    for every in (True, False):
        codes, uniq = table._factorize(values, valid, every)
        want_codes, want_uniq = factorize_array(values, mask=None if every else ~valid)
        assert codes.tolist() == want_codes.tolist()
        assert uniq.tolist() == want_uniq.tolist()
        assert (codes.dtype, uniq.dtype) == (want_codes.dtype, want_uniq.dtype)
        codes[:] = 0  # the arrays given are the caller's to keep and change


@pytest.mark.skipif(table._c_factorize is None, reason="the compiled module is not built")
def test_the_compiled_factorization_of_many_distinct_values() -> None:
    rng = np.random.default_rng(14)
    keys = rng.integers(0, 2**63, 100_000, dtype=np.uint64) * np.uint64(2)  # even: clustered
    values = keys[rng.integers(0, keys.size, 200_000)]
    valid = rng.random(values.size) < 0.9
    codes, uniq = table._factorize(values, valid, False)
    want_codes, want_uniq = factorize_array(values, mask=~valid)
    assert np.array_equal(codes, want_codes) and np.array_equal(uniq, want_uniq)
