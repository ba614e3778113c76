"""The whole stack: truncation at every offset, random bytes, batch masking, the public corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from craft import decode, row, rows
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import (
    ICMP,
    IP,
    TCP,
    UDP,
    Ether,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    raw,
)
from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.layers.vxlan import VXLAN
from testpaths import public_files

from vxlanlens.decode import DecodedBatch, decode_batch
from vxlanlens.read import open_capture
from vxlanlens.read.records import RecordBatch

POD, LXC = "4e:5b:57:45:63:3b", "a2:79:14:47:80:b3"
V6A, V6B, ROUTER = "fd00:10:244:1::4749", "fd00:10:244:2::9461", "fd00:10:244:1::22f1"
ECHO_DATA = b"0123456789abcdef" * 3


def underlay(inner, dport: int = 8472, vni: int = 4567):
    return (
        Ether(src="02:42:ac:12:00:03", dst="02:42:ac:12:00:04")
        / IP(src="172.18.0.3", dst="172.18.0.4")
        / UDP(sport=40000, dport=dport)
        / VXLAN(flags=0x08, vni=vni)
        / inner
    )


VX_NS = raw(
    underlay(
        Ether(src=POD, dst="33:33:ff:00:22:f1")
        / IPv6(src=V6A, dst="ff02::1:ff00:22f1", hlim=255)
        / ICMPv6ND_NS(tgt=ROUTER)
        / ICMPv6NDOptSrcLLAddr(lladdr=POD)
    )
)
VX_ECHO6 = raw(
    underlay(
        Ether(src=POD, dst=LXC)
        / IPv6(src=V6A, dst=V6B)
        / ICMPv6EchoRequest(id=44, seq=0, data=ECHO_DATA)
    )
)
GENEVE_ECHO = raw(
    Ether()
    / IP(src="10.16.1.16", dst="10.16.1.6")
    / UDP(sport=5000, dport=6081)
    / GENEVE(
        vni=0x0C012E,
        proto=0x6558,
        critical=1,
        optionlen=5,
        options=[
            GeneveOptions(classid=0x0100, type=0x81, length=2, data=b"\x00" * 8),
            GeneveOptions(classid=0x0108, type=0x02, length=1, data=b"\x01\x02\x03\x04"),
        ],
    )
    / Ether(src=POD, dst=LXC)
    / IPv6(src=V6A, dst=V6B)
    / ICMPv6EchoRequest(id=45, seq=1, data=ECHO_DATA)
)


def test_the_sweep_frames_decode_fully() -> None:
    db = decode([VX_NS, VX_ECHO6, GENEVE_ECHO])
    ns, echo, gen = row(db, 0), row(db, 1), row(db, 2)
    assert (ns["tunnel"], ns["icmp_type"], ns["nd_target"], ns["nd_lladdr"]) == (
        "vxlan",
        135,
        ROUTER,
        POD,
    )
    assert (echo["echo_id"], echo["payload_len"]) == (44, len(ECHO_DATA))
    assert gen["geneve_options"] == "0x0100/0x81C/12;0x0108/0x02/8"
    assert (gen["vni"], gen["echo_id"], gen["geneve_critical"]) == (0x0C012E, 45, True)
    assert not any("decode_error" in r for r in (ns, echo, gen))


@pytest.mark.parametrize(
    ("frame", "payload"),
    [(VX_NS, 0), (VX_ECHO6, len(ECHO_DATA)), (GENEVE_ECHO, len(ECHO_DATA))],
    ids=["vxlan-ipv6-ns", "vxlan-icmpv6-echo", "geneve-options-echo"],
)
def test_truncation_at_every_offset(frame: bytes, payload: int) -> None:
    cuts = [frame[:k] for k in range(len(frame))]
    # The frame really was that short: every cut is an error somewhere (a length disagrees).
    short = decode(cuts)
    for k in range(len(frame)):
        r = row(short, k)
        assert r.get("decode_error") and r.get("decode_layer"), (k, r)
    # The snap length cut it: an error exactly when a header is cut, not in the echo data.
    snapped = decode(cuts, wire_len=[len(frame)] * len(cuts))
    headers_end = len(frame) - payload
    for k in range(len(frame)):
        r = row(snapped, k)
        assert bool(r.get("decode_error")) == (k < headers_end), (k, r)
        assert bool(r.get("decode_layer")) == (k < headers_end), (k, r)


def test_a_cut_header_leaves_its_fields_null() -> None:
    # Cut inside the inner IPv6 header: outer and tunnel fields stay, no inner IP field appears.
    k = 14 + 20 + 8 + 8 + 14 + 30
    r = row(decode([VX_NS[:k]], wire_len=[len(VX_NS)]))
    assert r["decode_layer"] == "ipv6"
    assert r["decode_error"] == "IPv6 header needs 40 bytes at offset 64, only 30 captured"
    assert (r["vni"], r["outer_src_ip"], r["src_mac"]) == (4567, "172.18.0.3", POD)
    assert not {"src_ip", "dst_ip", "ttl", "ip_version", "icmp_type"} & r.keys()


LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147, 9999]


def _batch(frames: list[bytes], linktypes: list[int], wire: list[int]) -> RecordBatch:
    from dataclasses import replace

    b = RecordBatch.from_frames(frames, wire_len=wire)
    return replace(b, linktype=np.array(linktypes, dtype=np.int64))


def _consistent(db: DecodedBatch, n: int) -> None:
    assert db.n == n
    db.check()
    layer, err = db.text("decode_layer"), db.text("decode_error")
    assert all((a is None) == (b is None) for a, b in zip(layer, err, strict=True))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.binary(max_size=120), st.sampled_from(LINKTYPES), st.integers(0, 200)),
        max_size=20,
    )
)
def test_random_bytes_never_raise(items: list[tuple[bytes, int, int]]) -> None:
    frames = [f for f, _, _ in items]
    db = decode_batch(_batch(frames, [lt for _, lt, _ in items], [len(f) + x for f, _, x in items]))
    _consistent(db, len(items))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([VX_NS, VX_ECHO6, GENEVE_ECHO]),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 200),
)
def test_mutated_tunnel_frames_never_raise(
    frame: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    buf = bytearray(frame)
    for at, value in edits:
        buf[at % len(buf)] = value
    frames = [bytes(buf), bytes(buf[: len(buf) - cut % len(buf)])]
    db = decode_batch(_batch(frames, [1, 1], [len(buf), len(buf)]))
    _consistent(db, 2)


def _mixed_frames() -> tuple[list[bytes], list[int]]:
    ip_udp = raw(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / b"xy")
    ip6 = raw(
        IPv6(src="fe80::1", dst="fe80::2")
        / ICMPv6ND_NA(tgt="fe80::1", R=0, S=1, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=POD)
    )
    sll = bytes.fromhex("0000000100060016 3e2778a20000 0800") + ip_udp
    sll2 = bytes.fromhex("86dd0000 0000001a 0001 04 06 8e360644acaf0000") + ip6
    frames = [
        (VX_NS, 1),
        (sll, 113),
        (VX_ECHO6, 1),
        (sll2, 276),
        (ip_udp, 101),
        (ip6, 229),
        (b"\x02\x00\x00\x00" + ip_udp, 0),
        (b"\x00\x00\x00\x18" + ip6, 108),
        (GENEVE_ECHO, 1),
        (raw(Ether() / IP() / TCP(flags="S")), 1),
        (b"\x01\x02\x03", 147),
        (b"", 1),
        (raw(Ether() / IP() / ICMP(type=3, code=4, nexthopmtu=1400) / ip_udp), 1),
        (VX_NS[:70], 1),
        (ip_udp, 12),
        (ip_udp, 14),
        (ip_udp, 228),
        (raw(underlay(underlay(Ether() / IP() / ICMP(), vni=2), dport=4789, vni=1)), 1),
    ]
    return [f for f, _ in frames], [lt for _, lt in frames]


def test_a_mixed_batch_decodes_each_row_as_alone() -> None:
    frames, lts = _mixed_frames()
    # Repeat and shuffle so rows of one kind are not contiguous.
    order = np.random.default_rng(7).permutation(len(frames) * 3) % len(frames)
    big = decode_batch(
        _batch([frames[i] for i in order], [lts[i] for i in order], [len(frames[i]) for i in order])
    )
    alone = [
        row(decode_batch(_batch([f], [lt], [len(f)]))) for f, lt in zip(frames, lts, strict=True)
    ]
    together = rows(big)
    for pos, i in enumerate(order):
        assert together[pos] == alone[i], (pos, i)
    assert len({r.get("decode_layer") for r in alone}) > 2  # errors of several layers are mixed in


def test_an_empty_batch() -> None:
    db = decode_batch(RecordBatch.from_frames([]))
    assert db.n == 0
    db.check()


CORPUS = [p for p in public_files() if "libpcap" not in p.parts]  # libpcap/: meant to fail


def _decode_file(path: Path) -> list[DecodedBatch]:
    with open_capture(path) as cap:
        return [decode_batch(b) for b in cap.batches()]


@pytest.mark.skipif(not CORPUS, reason="third-party capture corpus not found")
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_public_corpus_decodes_without_exception(path: Path) -> None:
    for db in _decode_file(path):
        _consistent(db, db.n)


def _corpus_rows(public_dir: Path, rel: str) -> list[dict]:
    return [r for db in _decode_file(public_dir / rel) for r in rows(db)]


def test_corpus_nested_vxlan_triple(public_dir: Path) -> None:
    (r,) = _corpus_rows(public_dir, "zeek/tunnels/vxlan-triple-v2.pcap")
    assert (r["tunnel_depth"], r["vni"], r["outer_vni"], r["outer_src_ip"]) == (3, 3, 1, "1.1.1.1")
    assert (r["src_ip"], r["dport"]) == ("4.4.4.4", 53) and "decode_error" not in r


def test_corpus_geneve_then_vxlan(public_dir: Path) -> None:
    for r in _corpus_rows(public_dir, "zeek/tunnels/geneve-vxlan-dns-truncated.pcap"):
        assert (r["tunnel"], r["tunnel_depth"], r["outer_dport"], r["vni"]) == (
            "vxlan",
            2,
            6081,
            4242,
        )
        assert 53 in (r["sport"], r["dport"])


def test_corpus_malformed_frames(public_dir: Path) -> None:
    bad = _corpus_rows(public_dir, "tcpdump/ipv6-bad-version.pcap")
    assert [r.get("decode_layer") for r in bad] == [None, "ipv6", None, "ipv6"]
    (arp,) = _corpus_rows(public_dir, "tcpdump/arp-too-long-tha.pcap")
    assert arp["decode_layer"] == "arp" and "hlen 14" in arp["decode_error"]
    (trunc,) = _corpus_rows(public_dir, "zeek/trunc/ip6-trunc.pcap")
    assert trunc["decode_error"] == "IPv6 header needs 40 bytes at offset 14, only 34 captured"


def test_corpus_link_layers(public_dir: Path) -> None:
    snap = _corpus_rows(public_dir, "zeek/snap-arp.pcapng")
    assert all(r["ethertype"] == 0x0806 and r["arp_op"] in (1, 2) for r in snap)
    (llc,) = _corpus_rows(public_dir, "pcapplusplus/Sll2PacketLLC.pcap")
    assert "decode_error" not in llc and "ethertype" not in llc
    sll2 = _corpus_rows(public_dir, "zeek/linux_dlt_sll2.pcap")
    assert [r["pkt_type"] for r in sll2[4:]] == ["outgoing", "outgoing"]
    assert {r["ifindex"] for r in sll2[4:]} == {26}
    loop = [
        r
        for r in _corpus_rows(public_dir, "pcapplusplus/many_interfaces-1.pcapng")
        if "src_mac" not in r
    ]
    assert loop and all(r["ip_version"] in (4, 6) for r in loop)


def test_corpus_big_tcp(public_dir: Path) -> None:
    for rel in ("tcpdump/bigtcp-ipv4-vxlan-ipv4.pcap", "tcpdump/bigtcp-ipv6-vxlan-ipv6.pcap"):
        (r,) = _corpus_rows(public_dir, rel)
        assert "decode_error" not in r and r["payload_len"] == 80000 and r["vni"] == 5001
