"""Pairing on crafted packets tables: every status and every edge case of the exchanges table."""

from __future__ import annotations

import pandas as pd
import pytest
from craft import LXC_MAC as LXC
from craft import POD_MAC as POD
from craft import ROUTER6 as ROUTER
from craft import arp_row as arp
from craft import echo_row as echo
from craft import na_row as na
from craft import ns_row as ns
from craft import tcp_row as tcp

from vxlanlens.errors import SchemaError, VxlanlensError
from vxlanlens.exchanges import EXCHANGE_COLUMNS, KINDS, STATUSES, exchanges
from vxlanlens.exchanges.columns import exchanges_markdown
from vxlanlens.proto import ExchangeKind, ExchangeStatus

OTHER = "02:00:00:00:00:99"
POD6 = "fd00:10:244:1::4749"
POD6_LL = "fe80::4c5b:57ff:fe45:633b"
PEER6 = "fd00:10:244:2::9461"


def rows_of(df: pd.DataFrame, **eq) -> pd.DataFrame:
    m = pd.Series(True, index=df.index)
    for k, v in eq.items():
        m &= df[k].astype(object) == v
    return df[m]


def one(df: pd.DataFrame, **eq) -> pd.Series:
    sel = rows_of(df, **eq)
    assert len(sel) == 1, (eq, sel)
    return sel.iloc[0]


# --- table shape ------------------------------------------------------------------------------


def test_columns_and_dtypes(packets) -> None:
    ex = exchanges(packets([ns(0, POD6_LL), na(0.0001, POD6_LL)]))
    assert list(ex.columns) == [c for c, _, _ in EXCHANGE_COLUMNS]
    for name, dtype, _ in EXCHANGE_COLUMNS:
        got = ex[name].dtype
        assert isinstance(got, pd.CategoricalDtype) if dtype == "category" else str(got) == dtype, (
            name,
            got,
        )


def test_status_and_kind_vocabulary_is_the_proto_enums(packets) -> None:
    """The categoricals, the statuses table of the docs and the enums name the same values."""
    ex = exchanges(packets([ns(0, POD6_LL), na(0.0001, POD6_LL), ns(5, POD6)]))
    assert list(ex["status"].cat.categories) == list(ExchangeStatus.values())
    assert list(ex["kind"].cat.categories) == list(ExchangeKind.values()) == list(KINDS)
    assert [name for name, _ in STATUSES] == list(ExchangeStatus.values())
    assert set(ex["status"]) == {ExchangeStatus.ANSWERED, ExchangeStatus.UNANSWERED}
    doc = exchanges_markdown()
    for status in ExchangeStatus:
        assert f"| `{status.value}` |" in doc


def test_empty_table_gives_empty_exchanges(packets) -> None:
    ex = exchanges(packets([]))
    assert len(ex) == 0
    assert list(ex.columns) == [c for c, _, _ in EXCHANGE_COLUMNS]


def test_rejects_non_tables_missing_columns_and_bad_arguments(packets) -> None:
    df = packets([ns(0, POD6)])
    with pytest.raises(SchemaError, match="missing 1: nd_target"):
        exchanges(df.drop(columns=["nd_target"]))
    with pytest.raises(SchemaError, match="found list"):
        exchanges([1, 2])  # type: ignore[arg-type]
    with pytest.raises(VxlanlensError, match="timeout_s > 0"):
        exchanges(df, timeout_s=0)
    with pytest.raises(VxlanlensError, match="'dns'"):
        exchanges(df, kinds=["echo", "dns"])


def test_kinds_filter(packets) -> None:
    df = packets([ns(0, POD6), na(0.0001, POD6), echo(0.001, POD6, PEER6, 1, 1)])
    assert set(exchanges(df, kinds=["echo"])["kind"]) == {"echo"}
    assert set(exchanges(df, kinds="nd")["kind"]) == {"nd"}
    assert set(exchanges(df)["kind"]) == {"nd", "echo"}


# --- neighbour discovery --------------------------------------------------------------------


def test_ns_na_from_link_local_and_global_both_answered(packets) -> None:
    df = packets(
        [
            ns(0.000000, POD6_LL),
            na(0.000037, POD6_LL),
            ns(0.000071, POD6),
            na(0.000076, POD6),
        ]
    )
    ex = exchanges(df)
    assert list(ex["status"]) == ["answered", "answered"]
    assert list(ex["requester_ip"]) == [POD6_LL, POD6]
    assert list(ex["request_frame"]) == [1, 3] and list(ex["reply_frame"]) == [2, 4]
    assert set(ex["responder_mac"]) == {LXC} and set(ex["nd_lladdr"]) == {LXC}
    assert set(ex["target"]) == {ROUTER} and set(ex["nd_flags"]) == {"RS"}
    assert ex["latency_s"].tolist() == pytest.approx([37e-6, 5e-6])
    assert ex["key"][0] == f"who-has {ROUTER} from {POD6_LL}"


def test_na_must_be_solicited_and_addressed_to_the_solicitor(packets) -> None:
    df = packets(
        [
            ns(0, POD6),
            na(0.001, POD6, flags="RO"),  # S clear: no answer
            ns(1, POD6_LL),
            na(1.001, "fd00::dead"),  # to someone else
        ]
    )
    ex = exchanges(df)
    assert sorted(ex["status"].astype(str)) == [
        "unanswered",
        "unanswered",
        "unsolicited",
        "unsolicited",
    ]
    uns = rows_of(ex, status="unsolicited")
    assert set(uns["reply_frame"]) == {2, 4} and uns["request_frame"].isna().all()
    assert one(ex, reply_frame=4)["requester_ip"] == "fd00::dead"  # whom it was sent to


def test_dad_probe_uncontested_and_contested(packets) -> None:
    tgt = "fd00::77"
    df = packets(
        [
            ns(0, "::", target="fd00::66", mac=OTHER),
            ns(5, "::", target=tgt, mac=OTHER),
            na(5.0002, "ff02::1", flags="O", target=tgt, mac=LXC, dst_mac="33:33:00:00:00:01"),
        ]
    )
    ex = exchanges(df)
    probe = one(ex, request_frame=1)
    assert probe["status"] == "dad" and pd.isna(probe["reply_frame"])
    assert probe["requester_ip"] == "::"
    contested = one(ex, request_frame=2)
    assert contested["status"] == "answered" and contested["reply_frame"] == 3
    assert "in use" in contested["note"] and contested["responder_mac"] == LXC
    assert len(ex) == 2  # the defending NA is not also reported as unsolicited


def test_na_to_all_nodes_answers_solicitors_and_unsolicited_na_is_reported_once(packets) -> None:
    df = packets(
        [
            ns(0, POD6),
            na(0.001, "ff02::1", flags="RS", dst_mac="33:33:00:00:00:01"),
            na(10, "ff02::1", flags="RO", target="fd00::5", dst_mac="33:33:00:00:00:01"),
        ]
    )
    ex = exchanges(df)
    assert one(ex, request_frame=1)["status"] == "answered"
    assert one(ex, request_frame=1)["reply_frame"] == 2
    announce = one(ex, reply_frame=3)
    assert announce["status"] == "unsolicited"
    assert len(ex) == 2


def test_retransmitted_ns_is_duplicate(packets) -> None:
    df = packets([ns(0, POD6), ns(1, POD6), ns(2, POD6), na(2.0001, POD6)])
    ex = exchanges(df)
    first = one(ex, request_frame=1)
    assert first["status"] == "answered" and first["retransmissions"] == 2
    assert first["reply_frame"] == 4 and first["latency_s"] == pytest.approx(2.0001)
    dups = rows_of(ex, status="duplicate")
    assert sorted(dups["request_frame"]) == [2, 3] and set(dups["duplicate_of"]) == {1}


# --- ARP --------------------------------------------------------------------------------------


A_MAC, B_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def test_arp_answered_and_addressed_to_the_requester(packets) -> None:
    df = packets(
        [
            arp(0, 1, A_MAC, "10.0.0.1", "10.0.0.2"),
            arp(0.0002, 2, B_MAC, "10.0.0.2", "10.0.0.1", tha=A_MAC),
            arp(1, 1, A_MAC, "10.0.0.1", "10.0.0.3"),
            arp(1.0002, 2, B_MAC, "10.0.0.3", "10.0.0.9", tha=OTHER),  # to someone else
        ]
    )
    ex = exchanges(df)
    ok = one(ex, request_frame=1)
    assert ok["status"] == "answered" and ok["reply_frame"] == 2
    assert (ok["requester_mac"], ok["requester_ip"], ok["target"]) == (
        A_MAC,
        "10.0.0.1",
        "10.0.0.2",
    )
    assert (ok["responder_mac"], ok["responder_ip"], ok["answer"]) == (B_MAC, "10.0.0.2", "is-at")
    assert ok["key"] == "who-has 10.0.0.2 tell 10.0.0.1" and ok["ip_version"] == 4
    assert one(ex, request_frame=3)["status"] == "unanswered"
    assert one(ex, reply_frame=4)["status"] == "unsolicited"


def test_gratuitous_arp_and_arp_probe(packets) -> None:
    df = packets(
        [
            arp(0, 1, A_MAC, "10.0.0.1", "10.0.0.1"),  # announcement (request)
            arp(1, 2, A_MAC, "10.0.0.1", "10.0.0.1", tha="ff:ff:ff:ff:ff:ff"),  # gratuitous reply
            arp(2, 1, B_MAC, "0.0.0.0", "10.0.0.7"),  # probe, nobody answers
            arp(3, 1, B_MAC, "0.0.0.0", "10.0.0.1"),  # probe, contested
            arp(3.001, 2, A_MAC, "10.0.0.1", "0.0.0.0", tha=B_MAC),
        ]
    )
    ex = exchanges(df)
    assert list(rows_of(ex, status="gratuitous")["request_frame"]) == [1, 2]
    assert one(ex, request_frame=3)["status"] == "dad"
    contested = one(ex, request_frame=4)
    assert contested["status"] == "answered" and contested["reply_frame"] == 5
    assert "in use" in contested["note"]
    assert len(ex) == 4


def test_reply_out_of_time_or_before_request(packets) -> None:
    df = packets(
        [
            arp(0, 2, B_MAC, "10.0.0.2", "10.0.0.1", tha=A_MAC),  # before any request
            arp(1, 1, A_MAC, "10.0.0.1", "10.0.0.2"),
            arp(5, 2, B_MAC, "10.0.0.2", "10.0.0.1", tha=A_MAC),  # 4 s later
        ]
    )
    ex = exchanges(df, timeout_s=3)
    assert one(ex, request_frame=2)["status"] == "unanswered"
    assert sorted(rows_of(ex, status="unsolicited")["reply_frame"]) == [1, 3]
    # a longer timeout accepts the late reply
    assert one(exchanges(df, timeout_s=10), request_frame=2)["reply_frame"] == 3


# --- echo -------------------------------------------------------------------------------------


def test_echo_answered_with_latency_and_key(packets) -> None:
    df = packets(
        [
            echo(0.000081, POD6, PEER6, 44, 0),
            echo(0.000688, PEER6, POD6, 44, 0, True, smac=LXC, dmac=POD),
        ]
    )
    r = one(exchanges(df), kind="echo")
    assert r["status"] == "answered" and r["latency_s"] == pytest.approx(0.000607)
    assert (r["echo_id"], r["echo_seq"], r["responder_ip"], r["responder_mac"]) == (
        44,
        0,
        PEER6,
        LXC,
    )
    assert r["key"] == f"{POD6} > {PEER6} id 44 seq 0" and r["answer"] == "echo-reply"


def test_echo_seq_wraps_and_same_id_seq_reused_later(packets) -> None:
    a, b = "10.0.0.1", "10.0.0.2"
    df = packets(
        [
            echo(0, a, b, 7, 65535, v=4),
            echo(0.001, b, a, 7, 65535, True, v=4),
            echo(1, a, b, 7, 0, v=4),
            echo(1.001, b, a, 7, 0, True, v=4),
            echo(100, a, b, 7, 0, v=4),  # seq 0 again, after the wrap
            echo(100.002, b, a, 7, 0, True, v=4),
        ]
    )
    ex = exchanges(df)
    assert list(ex["status"]) == ["answered"] * 3
    assert list(zip(ex["request_frame"], ex["reply_frame"], strict=True)) == [
        (1, 2),
        (3, 4),
        (5, 6),
    ]
    assert ex["latency_s"].iloc[2] == pytest.approx(0.002)


def test_echo_same_id_from_two_pods(packets) -> None:
    p1, p2, dst = "10.244.1.10", "10.244.1.11", "10.244.2.20"
    df = packets(
        [
            echo(0, p1, dst, 1, 1, v=4),
            echo(0.0001, p2, dst, 1, 1, v=4),
            echo(0.0005, dst, p2, 1, 1, True, v=4),
            echo(0.0009, dst, p1, 1, 1, True, v=4),
        ]
    )
    ex = exchanges(df)
    assert one(ex, requester_ip=p1)["reply_frame"] == 4
    assert one(ex, requester_ip=p2)["reply_frame"] == 3
    assert set(ex["status"]) == {"answered"}


def test_echo_duplicate_reply_unanswered_and_unsolicited(packets) -> None:
    a, b = "10.0.0.1", "10.0.0.2"
    df = packets(
        [
            echo(0, a, b, 9, 1, v=4),
            echo(0.001, b, a, 9, 1, True, v=4),
            echo(0.002, b, a, 9, 1, True, v=4),
            echo(1, a, b, 9, 2, v=4),
            echo(2, b, a, 9, 77, True, v=4),
        ]
    )
    ex = exchanges(df)
    assert one(ex, request_frame=1, status="answered")["reply_frame"] == 2
    dup = one(ex, status="duplicate")
    assert (dup["reply_frame"], dup["duplicate_of"], dup["request_frame"]) == (3, 2, 1)
    assert one(ex, request_frame=4)["status"] == "unanswered"
    uns = one(ex, status="unsolicited")
    assert uns["reply_frame"] == 5 and uns["requester_ip"] == a and uns["target"] == b


def test_echo_in_vxlan_pairs_although_vnis_differ(packets) -> None:
    outer = dict(tunnel="vxlan", tunnel_depth=1, outer_ip_version=4, outer_dport=8472)
    df = packets(
        [
            echo(
                0,
                POD6,
                PEER6,
                44,
                0,
                vni=24561,
                outer_src_ip="172.18.0.3",
                outer_dst_ip="172.18.0.2",
                **outer,
            ),
            echo(
                0.0005,
                PEER6,
                POD6,
                44,
                0,
                True,
                vni=7890,
                outer_src_ip="172.18.0.2",
                outer_dst_ip="172.18.0.3",
                **outer,
            ),
        ]
    )
    r = one(exchanges(df), kind="echo")
    assert r["status"] == "answered" and bool(r["tunnelled"])
    assert (r["vni_request"], r["vni_reply"]) == (24561, 7890)


def test_pairing_is_per_capture_and_per_interface(packets) -> None:
    req = echo(0, POD6, PEER6, 1, 1)
    rep = echo(0.001, PEER6, POD6, 1, 1, True)
    df = packets(
        [
            {**req, "capture": "pod"},
            {**rep, "capture": "pod"},
            {**req, "capture": "node"},
            {**rep, "capture": "node", "t": 0.0009},
            {**req, "capture": "half"},
            {**rep, "capture": "other"},
            # -i any: the same exchange on two interfaces of one capture is two exchanges
            {**req, "capture": "any", "ifindex": 5},
            {**req, "capture": "any", "ifindex": 7, "t": 0.0001},
            {**rep, "capture": "any", "ifindex": 7},
            {**rep, "capture": "any", "ifindex": 5, "t": 0.0011},
        ]
    )
    ex = exchanges(df)
    assert one(ex, point="pod")["status"] == "answered"
    assert one(ex, point="node")["status"] == "answered"
    assert one(ex, point="half")["status"] == "unanswered"
    assert one(ex, point="other")["status"] == "unsolicited"
    for pt, (q, r) in {"any/if5": (1, 4), "any/if7": (2, 3)}.items():
        row = one(ex, point=pt)
        assert (row["status"], row["request_frame"], row["reply_frame"]) == ("answered", q, r)
        assert row["request_capture"] == "any"


def test_echo_to_multicast_answered_by_several(packets) -> None:
    df = packets(
        [
            echo(0, POD6_LL, "ff02::1", 3, 1),
            echo(0.001, "fe80::1", POD6_LL, 3, 1, True),
            echo(0.002, "fe80::2", POD6_LL, 3, 1, True),
        ]
    )
    ex = exchanges(df)
    first = one(ex, status="answered")
    assert (first["reply_frame"], first["responder_ip"]) == (2, "fe80::1")
    assert "multicast" in first["note"]
    other = one(ex, status="duplicate")
    assert (other["reply_frame"], other["responder_ip"]) == (3, "fe80::2")
    assert len(ex) == 2


# --- TCP ----------------------------------------------------------------------------------------


def test_tcp_syn_retransmitted_then_answered(packets) -> None:
    c, s = "10.244.1.10", "10.244.2.20"
    df = packets(
        [
            tcp(0, c, s, 40000, 80, 0x02, 1000),
            tcp(1, c, s, 40000, 80, 0x02, 1000),
            tcp(1.0003, s, c, 80, 40000, 0x12, 5000, 1001),
            tcp(1.0004, c, s, 40000, 80, 0x10, 1001, 5001),
        ]
    )
    ex = exchanges(df)
    r = one(ex, status="answered")
    assert (r["request_frame"], r["reply_frame"], r["retransmissions"]) == (1, 3, 1)
    assert (r["sport"], r["dport"], r["answer"]) == (40000, 80, "syn-ack")
    assert r["key"] == f"{c}:40000 > {s}:80 syn"
    assert one(ex, status="duplicate")["duplicate_of"] == 1
    assert len(ex) == 2


def test_tcp_syn_refused_wrong_ack_and_stray_rst(packets) -> None:
    c, s = "fd00::10", "fd00::20"
    df = packets(
        [
            tcp(0, c, s, 1, 80, 0x02, 10, ip_version=6),
            tcp(0.001, s, c, 80, 1, 0x14, 0, 11, ip_version=6),  # RST/ACK: refused
            tcp(1, c, s, 2, 80, 0x02, 20, ip_version=6),
            tcp(1.001, s, c, 80, 2, 0x12, 0, 999, ip_version=6),  # wrong ack number
            tcp(2, s, c, 80, 3, 0x14, 5, 6, ip_version=6),  # RST of something else
        ]
    )
    ex = exchanges(df)
    refused = one(ex, request_frame=1)
    assert refused["status"] == "answered" and refused["answer"] == "rst"
    assert refused["key"] == "[fd00::10]:1 > [fd00::20]:80 syn"
    assert one(ex, request_frame=3)["status"] == "unanswered"
    assert one(ex, reply_frame=4)["status"] == "unsolicited"
    assert len(ex) == 3  # the stray RST is not a handshake


# --- ICMP errors ----------------------------------------------------------------------------------


def test_packet_too_big_tied_to_the_closest_earlier_packet(packets) -> None:
    big = dict(
        ip_version=6, src_ip=POD6, dst_ip=PEER6, ip_proto=17, sport=5000, dport=53, payload_len=1400
    )
    df = packets(
        [
            dict(t=0, **big),
            dict(t=0.5, **big),
            dict(
                t=0.5001,
                ip_version=6,
                src_ip="fd00::1",
                dst_ip=POD6,
                ip_proto=58,
                icmp_type=2,
                icmp_code=0,
                mtu=1450,
                emb_ip_version=6,
                emb_src_ip=POD6,
                emb_dst_ip=PEER6,
                emb_ip_proto=17,
                emb_sport=5000,
                emb_dport=53,
            ),
            dict(
                t=1,
                ip_version=6,
                src_ip="fd00::1",
                dst_ip=POD6,
                ip_proto=58,
                icmp_type=1,
                icmp_code=3,
                emb_ip_version=6,
                emb_src_ip=POD6,
                emb_dst_ip="fd00::99",
                emb_ip_proto=17,
                emb_sport=1,
                emb_dport=2,
            ),
        ]
    )
    ex = exchanges(df)
    ptb = one(ex, reply_frame=3)
    assert (ptb["kind"], ptb["status"], ptb["request_frame"], ptb["mtu"]) == (
        "icmp-error",
        "answered",
        2,
        1450,
    )
    assert ptb["answer"] == "packet-too-big" and ptb["responder_ip"] == "fd00::1"
    assert (ptb["requester_ip"], ptb["target"], ptb["sport"], ptb["dport"]) == (
        POD6,
        PEER6,
        5000,
        53,
    )
    assert ptb["latency_s"] == pytest.approx(0.0001)
    unseen = one(ex, reply_frame=4)
    assert unseen["status"] == "unsolicited" and unseen["answer"] == "dest-unreachable"


def test_frag_needed_and_time_exceeded_quoting_echo_and_outer_headers(packets) -> None:
    vx = dict(
        tunnel="vxlan",
        tunnel_depth=1,
        outer_ip_version=4,
        outer_src_ip="172.18.0.3",
        outer_dst_ip="172.18.0.2",
        outer_sport=41000,
        outer_dport=8472,
        vni=3,
    )
    df = packets(
        [
            echo(0, "10.0.0.1", "10.0.0.2", 5, 6, v=4, ttl=1),
            dict(
                t=0.001,
                ip_version=4,
                src_ip="10.0.0.254",
                dst_ip="10.0.0.1",
                ip_proto=1,
                icmp_type=11,
                icmp_code=0,
                emb_ip_version=4,
                emb_src_ip="10.0.0.1",
                emb_dst_ip="10.0.0.2",
                emb_ip_proto=1,
                emb_echo_id=5,
                emb_echo_seq=6,
            ),
            echo(1, POD6, PEER6, 1, 1, **vx),
            dict(
                t=1.001,
                ip_version=4,
                src_ip="172.18.0.1",
                dst_ip="172.18.0.3",
                ip_proto=1,
                icmp_type=3,
                icmp_code=4,
                mtu=1400,
                emb_ip_version=4,
                emb_src_ip="172.18.0.3",
                emb_dst_ip="172.18.0.2",
                emb_ip_proto=17,
                emb_sport=41000,
                emb_dport=8472,
            ),
        ]
    )
    ex = exchanges(df, kinds=["icmp-error"])
    te = one(ex, reply_frame=2)
    assert (te["status"], te["request_frame"], te["answer"]) == ("answered", 1, "time-exceeded")
    assert (te["echo_id"], te["echo_seq"]) == (5, 6)
    fn = one(ex, reply_frame=4)
    assert (fn["status"], fn["request_frame"], fn["answer"], fn["mtu"]) == (
        "answered",
        3,
        "frag-needed",
        1400,
    )
    assert "outer" in fn["note"] and bool(fn["tunnelled"])


def test_rows_are_in_time_order(packets) -> None:
    df = packets(
        [
            echo(2, POD6, PEER6, 1, 2),
            echo(0, POD6, PEER6, 1, 1),
            arp(1, 1, A_MAC, "10.0.0.1", "10.0.0.2"),
        ]
    )
    ex = exchanges(df)
    assert ex["ts"].is_monotonic_increasing
    assert list(ex["kind"]) == ["echo", "arp", "echo"]
