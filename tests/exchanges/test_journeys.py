"""Journeys and clock offsets on crafted packets tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from craft import LXC_MAC as LXC
from craft import POD_MAC as POD
from craft import echo_row

from vxlanlens.errors import VxlanlensError
from vxlanlens.exchanges import CLOCK_COLUMNS, JOURNEY_COLUMNS, clock_offsets, journeys
from vxlanlens.exchanges.columns import exchanges_markdown

ROOT = Path(__file__).resolve().parents[2]
A, B = "fd00:10:244:1::4749", "fd00:10:244:2::9461"
VX = dict(tunnel="vxlan", tunnel_depth=1, outer_ip_version=4, outer_dport=8472)


def req(t, capture, **kw):
    """An ICMPv6 echo request from A to B seen at ``capture`` (hop limit 64)."""
    return echo_row(t, A, B, 44, 0, **{"capture": capture, "ttl": 64, **kw})


def rep(t, capture, **kw):
    """Its reply from B to A (hop limit 63: one routing hop)."""
    return echo_row(
        t, B, A, 44, 0, reply=True, smac=LXC, dmac=POD, **{"capture": capture, "ttl": 63, **kw}
    )


def node(**kw):
    return dict(VX, outer_src_ip="172.18.0.3", outer_dst_ip="172.18.0.2", **kw)


def test_docs_are_current() -> None:
    on_disk = (ROOT / "docs" / "exchanges.md").read_text(encoding="utf-8")
    assert on_disk == exchanges_markdown(), "docs/exchanges.md is stale: regenerate it"


def test_pod_and_node_observations_form_one_journey(packets) -> None:
    # the node's clock runs 2 s ahead; the tunnel changes MACs, TTL and adds outer headers
    df = packets(
        [
            req(0.000100, "pod"),
            req(
                2.000150,
                "node",
                src_mac="02:00:00:00:00:01",
                dst_mac="02:00:00:00:00:02",
                ttl=63,
                vni=100,
                **node(),
            ),
            rep(2.000500, "node", vni=200, **node()),
            rep(0.000650, "pod"),
        ]
    )
    jr = journeys(df)
    assert list(jr.columns) == [c for c, _, _ in JOURNEY_COLUMNS]
    assert jr["journey"].nunique() == 2 and set(jr["n_obs"]) == {2}
    first = jr[jr["journey"] == 0]
    assert list(first["point"]) == ["pod", "node"] and list(first["frame_no"]) == [1, 1]
    assert list(first["obs"]) == [1, 2] and list(first["is_last"]) == [False, True]
    assert set(first["last_point"]) == {"node"}
    assert first["hop_latency_s"].iloc[0] is pd.NA
    assert 0 < first["hop_latency_s"].iloc[1] < 0.001  # corrected, not the raw 2 s
    assert first["key"].iloc[0] == f"{A} > {B} icmpv6 echo-request id 44 seq 0"
    assert list(first["tunnelled"]) == [False, True]
    back = jr[jr["journey"] == 1]
    assert list(back["point"]) == ["node", "pod"] and set(back["last_point"]) == {"pod"}
    co = clock_offsets(df)
    assert list(co.columns) == [c for c, _, _ in CLOCK_COLUMNS]
    n = co.set_index("capture")
    assert n.loc["pod", "method"] == "reference" and n.loc["pod", "offset_s"] == 0
    assert n.loc["node", "method"] == "two-way" and n.loc["node", "n_matched"] == 2
    # request: +2.00005, reply: -(-2.00015) ... offset 2.0 s, transit 50 µs... within 1 µs
    assert n.loc["node", "offset_s"] == pytest.approx(2.0 - 0.0000, abs=1e-4)
    assert n.loc["node", "one_way_delay_s"] == pytest.approx(0.0001, abs=1e-4)


def test_offset_estimate_is_exact_with_symmetric_delay(packets) -> None:
    off, d = 3.25, 0.0002
    rows = []
    for i in range(5):
        t = i * 0.1
        rows += [req(t, "a", echo_seq=i), req(t + d + off, "b", echo_seq=i)]
        rows += [rep(t + 0.01 + off, "b", echo_seq=i), rep(t + 0.01 + d, "a", echo_seq=i)]
    co = clock_offsets(packets(rows)).set_index("capture")
    assert co.loc["b", "offset_s"] == pytest.approx(off, abs=1e-9)
    assert co.loc["b", "one_way_delay_s"] == pytest.approx(d, abs=1e-9)
    assert co.loc["b", "spread_s"] == pytest.approx(0, abs=1e-9)
    # with b as the reference, the sign flips
    co_b = clock_offsets(packets(rows), reference="b").set_index("capture")
    assert co_b.loc["a", "offset_s"] == pytest.approx(-off, abs=1e-9)


def test_one_way_chain_and_unlinked_captures(packets) -> None:
    df = packets(
        [
            req(0, "pod"),
            req(10.0001, "node1", **node()),
            req(1, "node1", echo_seq=9, **node()),
            req(21.0002, "node2", echo_seq=9, **node()),
            req(5, "lonely", src_ip="fd00::1", dst_ip="fd00::2"),
        ]
    )
    co = clock_offsets(df).set_index("capture")
    assert co.loc["node1", "method"] == "one-way" and co.loc["node1", "via"] == "pod"
    assert co.loc["node2", "via"] == "node1"
    assert co.loc["node2", "offset_s"] == pytest.approx(30.0003, abs=1e-6)
    assert co.loc["lonely", "method"] == "none" and pd.isna(co.loc["lonely", "offset_s"])
    jr = journeys(df, min_observations=2)
    assert set(jr["n_obs"]) == {2} and jr["journey"].nunique() == 2
    assert set(jr["point"]) == {"pod", "node1", "node2"}


def test_retransmission_lost_at_the_second_point_is_kept_apart(packets) -> None:
    syn = dict(
        ip_version=4,
        src_ip="10.0.0.1",
        dst_ip="10.0.0.2",
        ip_proto=6,
        sport=1,
        dport=80,
        tcp_flags=2,
        tcp_seq=100,
        tcp_ack=0,
        payload_len=0,
        ip_id=0,
    )
    df = packets(
        [
            dict(t=0, capture="pod", **syn),
            dict(t=1, capture="pod", **syn),
            dict(t=1.0001, capture="node", **syn, **node()),
        ]
    )
    jr = journeys(df, reference="pod")
    sizes = jr.groupby("journey")["n_obs"].first().tolist()
    assert sizes == [1, 2]
    second = jr[jr["journey"] == 1]
    assert list(second["frame_no"]) == [2, 1] and list(second["point"]) == ["pod", "node"]


def test_ip_id_and_payload_separate_packets_ttl_and_macs_do_not(packets) -> None:
    base = dict(ip_version=4, src_ip="10.0.0.1", dst_ip="10.0.0.2", ip_proto=17, sport=5, dport=53)
    df = packets(
        [
            dict(t=0, capture="a", ip_id=1, payload_len=10, ttl=64, src_mac=POD, **base),
            dict(t=0.001, capture="b", ip_id=1, payload_len=10, ttl=63, src_mac=LXC, **base),
            dict(t=0.002, capture="b", ip_id=2, payload_len=10, **base),
            dict(t=0.003, capture="b", ip_id=1, payload_len=11, **base),
        ]
    )
    jr = journeys(df)
    assert sorted(jr.groupby("journey")["n_obs"].first()) == [1, 1, 2]


def test_any_capture_interfaces_are_points(packets) -> None:
    df = packets(
        [
            req(0, "any", ifindex=19, interface="any"),
            req(0.00002, "any", ifindex=2, interface="any", **node()),
        ]
    )
    jr = journeys(df)
    assert list(jr["point"]) == ["any/if19", "any/if2"]
    assert jr["hop_latency_s"].iloc[1] == pytest.approx(0.00002)


def test_bad_arguments(packets) -> None:
    df = packets([req(0, "pod")])
    with pytest.raises(VxlanlensError, match="max_skew_s > 0"):
        journeys(df, max_skew_s=-1)
    with pytest.raises(VxlanlensError, match="'nope'"):
        clock_offsets(df, reference="nope")
    assert len(journeys(packets([]))) == 0
    assert len(clock_offsets(packets([]))) == 0
