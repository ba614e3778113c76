"""The schema module: one owner of column names, docs generated from it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vxlanlens.schema import COLUMN_NAMES, COLUMNS, KINDS, column, columns_markdown
from vxlanlens.table import empty_packets

ROOT = Path(__file__).resolve().parent.parent

# Names fixed by the foundation issue: scripts and other modules rely on them.
CONTRACT = """capture frame_no ts ts_ns linktype interface wire_len cap_len outer_src_mac outer_dst_mac
outer_src_ip outer_dst_ip outer_ttl outer_sport outer_dport tunnel tunnel_depth vni src_mac dst_mac
vlan ethertype ip_version src_ip dst_ip ttl ip_proto sport dport tcp_flags icmp_type icmp_code
echo_id echo_seq nd_target nd_flags nd_lladdr arp_op arp_sender_mac arp_sender_ip arp_target_mac
arp_target_ip mtu decode_layer decode_error""".split()


def test_contract_columns_present() -> None:
    missing = [c for c in CONTRACT if c not in COLUMN_NAMES]
    assert missing == []


def test_names_unique_and_kinds_known() -> None:
    assert len(set(COLUMN_NAMES)) == len(COLUMN_NAMES)
    assert {c.kind for c in COLUMNS} <= set(KINDS)
    for c in COLUMNS:
        assert c.doc.endswith("."), c.name
        pd.api.types.pandas_dtype(c.dtype)  # every dtype is a real pandas dtype


def test_column_lookup() -> None:
    assert column("vni").dtype == "UInt32"


def test_columns_doc_is_current() -> None:
    on_disk = (ROOT / "docs" / "columns.md").read_text(encoding="utf-8")
    assert on_disk == columns_markdown(), "docs/columns.md is stale: run python scripts/gen_docs.py"


def test_empty_table_has_schema_dtypes() -> None:
    df = empty_packets()
    assert list(df.columns) == list(COLUMN_NAMES)
    for c in COLUMNS:
        assert str(df[c.name].dtype) == c.dtype or (
            c.dtype == "category" and isinstance(df[c.name].dtype, pd.CategoricalDtype)
        ), (c.name, df[c.name].dtype)
