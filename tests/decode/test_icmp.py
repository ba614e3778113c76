"""ICMP and ICMPv6, byte by byte: echo, errors with the quoted packet, PTB, neighbour discovery."""

from __future__ import annotations

from craft import decode, hx, row
from scapy.all import (
    ICMP,
    IP,
    UDP,
    Ether,
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6ND_RA,
    ICMPv6ND_Redirect,
    ICMPv6ND_RS,
    ICMPv6NDOptMTU,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6PacketTooBig,
    ICMPv6TimeExceeded,
    IPv6,
    IPv6ExtHdrFragment,
    raw,
)

POD = "4e:5b:57:45:63:3b"


def eth6(plen: int, hlim: int = 255) -> bytes:
    return (
        hx("""
        33 33 ff 00 22 f1                   # destination MAC (solicited-node multicast)
        4e 5b 57 45 63 3b                   # source MAC (pod eth0)
        86 dd                               # IPv6
        60 00 00 00                         # version 6
    """)
        + plen.to_bytes(2, "big")
        + bytes([58, hlim])
        + hx("""
        fd 00 00 10 02 44 00 01 00 00 00 00 00 00 47 49   # fd00:10:244:1::4749
        ff 02 00 00 00 00 00 00 00 00 00 01 ff 00 22 f1   # ff02::1:ff00:22f1
    """)
    )


NS = hx("""
    87                                      # type 135: Neighbor Solicitation
    00                                      # code
    00 00                                   # checksum
    00 00 00 00                             # reserved
    fd 00 00 10 02 44 00 01 00 00 00 00 00 00 22 f1   # target fd00:10:244:1::22f1
    01                                      # option: source link-layer address
    01                                      # length 1 (8 bytes)
    4e 5b 57 45 63 3b                       # the MAC
""")

NA = hx("""
    88                                      # type 136: Neighbor Advertisement
    00 00 00
    c0 00 00 00                             # flags R S (O clear)
    fd 00 00 10 02 44 00 01 00 00 00 00 00 00 22 f1   # target
    02 01                                   # option: target link-layer address, length 1
    a2 79 14 47 80 b3                       # lxc MAC
""")

ECHO6 = hx("""
    80                                      # type 128: echo request
    00 00 00
    00 2c                                   # identifier 44
    00 00                                   # sequence 0
    01 02 03 04 05 06 07 08                 # data
""")


def test_neighbor_solicitation() -> None:
    r = row(decode([eth6(len(NS)) + NS]))
    assert (r["icmp_type"], r["icmp_code"], r["ttl"]) == (135, 0, 255)
    assert r["nd_target"] == "fd00:10:244:1::22f1"
    assert r["nd_lladdr"] == POD
    assert "nd_flags" not in r and "decode_error" not in r


def test_neighbor_advertisement_flags_and_tlla() -> None:
    r = row(decode([eth6(len(NA)) + NA]))
    assert (r["icmp_type"], r["nd_flags"], r["nd_lladdr"]) == (136, "RS", "a2:79:14:47:80:b3")
    no_flags = NA[:4] + b"\x20" + NA[5:]
    assert row(decode([eth6(len(NA)) + no_flags]))["nd_flags"] == "O"


def test_nd_option_length_zero_is_an_error() -> None:
    bad = NS[:24] + hx("01 00 4e 5b 57 45 63 3b")
    r = row(decode([eth6(len(bad)) + bad]))
    assert r["decode_layer"] == "icmpv6"
    assert (
        r["decode_error"] == "ND option length must be at least 1 (RFC 4861), found 0 at offset 78"
    )
    assert r["nd_target"] == "fd00:10:244:1::22f1" and "nd_lladdr" not in r


def test_nd_option_cut_by_the_snap_length() -> None:
    frame = eth6(len(NS)) + NS
    r = row(decode([frame[:-3]], wire_len=[len(frame)]))
    assert r["decode_error"] == "ND option needs 8 bytes at offset 78, only 5 captured"


def test_icmpv6_echo() -> None:
    r = row(decode([eth6(len(ECHO6), 64) + ECHO6]))
    assert (r["icmp_type"], r["echo_id"], r["echo_seq"], r["payload_len"]) == (128, 44, 0, 8)


def test_icmpv6_echo_payload_cut_is_not_an_error() -> None:
    frame = eth6(len(ECHO6), 64) + ECHO6
    r = row(decode([frame[:-5]], wire_len=[len(frame)]))
    assert "decode_error" not in r and r["echo_id"] == 44


def test_icmp_echo_and_truncated_header() -> None:
    frame = hx("""
        02 00 00 00 00 02 02 00 00 00 00 01 08 00
        45 00 00 24 00 00 00 00 40 01 00 00 0a 00 00 01 08 08 08 08
        08              # type 8: echo request
        00              # code
        00 00           # checksum
        12 34           # identifier
        00 07           # sequence 7
        61 62 63 64 65 66 67 68
    """)
    db = decode([frame, frame[:38]], wire_len=[len(frame), len(frame)])
    assert (row(db, 0)["echo_id"], row(db, 0)["echo_seq"], row(db, 0)["payload_len"]) == (
        0x1234,
        7,
        8,
    )
    assert row(db, 1)["decode_error"] == "ICMP header needs 8 bytes at offset 34, only 4 captured"
    assert row(db, 1)["decode_layer"] == "icmp" and "icmp_type" not in row(db, 1)


def test_icmp_frag_needed_quotes_udp() -> None:
    inner = IP(src="10.0.0.1", dst="10.0.0.9") / UDP(sport=5000, dport=53)
    frame = (
        Ether()
        / IP(src="10.0.0.254", dst="10.0.0.1")
        / ICMP(type=3, code=4, nexthopmtu=1400)
        / raw(inner)[:28]
    )
    r = row(decode([raw(frame)]))
    assert (r["icmp_type"], r["icmp_code"], r["mtu"]) == (3, 4, 1400)
    assert (r["emb_ip_version"], r["emb_src_ip"], r["emb_dst_ip"], r["emb_ip_proto"]) == (
        4,
        "10.0.0.1",
        "10.0.0.9",
        17,
    )
    assert (r["emb_ip_len"], r["emb_sport"], r["emb_dport"]) == (28, 5000, 53)


def test_icmp_time_exceeded_quotes_echo() -> None:
    inner = IP(src="10.0.0.1", dst="10.0.0.9") / ICMP(type=8, id=77, seq=3)
    frame = Ether() / IP() / ICMP(type=11, code=0) / raw(inner)
    r = row(decode([raw(frame)]))
    assert (r["emb_ip_proto"], r["emb_echo_id"], r["emb_echo_seq"]) == (1, 77, 3)


def test_icmp_error_with_truncated_quote() -> None:
    frame = raw(Ether() / IP() / ICMP(type=3, code=1) / b"\x45\x00\x00")
    r = row(decode([frame]))
    assert r["decode_layer"] == "icmp"
    assert (
        r["decode_error"]
        == "quoted IPv4 header needs 20 bytes at offset 42, only 3 left in the packet"
    )
    assert r["icmp_type"] == 3 and "emb_src_ip" not in r


def test_icmpv6_errors_quote_the_packet() -> None:
    quoted = (
        IPv6(src="fd00::1", dst="fd00::2")
        / IPv6ExtHdrFragment(offset=0, m=1)
        / UDP(sport=7, dport=9)
    )
    ptb = Ether() / IPv6() / ICMPv6PacketTooBig(mtu=1450) / raw(quoted)
    unreach = (
        Ether()
        / IPv6()
        / ICMPv6DestUnreach(code=4)
        / raw(IPv6(src="fd00::1", dst="fd00::2") / ICMPv6EchoRequest(id=44, seq=5))
    )
    te = (
        Ether()
        / IPv6()
        / ICMPv6TimeExceeded()
        / raw(IPv6(src="fd00::3", dst="fd00::4") / UDP(sport=1, dport=2))[:42]
    )
    db = decode([raw(ptb), raw(unreach), raw(te)])
    a, b, c = row(db, 0), row(db, 1), row(db, 2)
    assert (a["icmp_type"], a["mtu"], a["emb_ip_version"], a["emb_ip_proto"]) == (2, 1450, 6, 17)
    assert (a["emb_src_ip"], a["emb_sport"], a["emb_dport"]) == ("fd00::1", 7, 9)
    assert (b["icmp_code"], b["emb_ip_proto"], b["emb_echo_id"], b["emb_echo_seq"]) == (
        4,
        58,
        44,
        5,
    )
    assert (c["emb_dst_ip"], c["emb_ip_proto"]) == ("fd00::4", 17)
    assert "emb_sport" not in c and "decode_error" not in c  # the quote stops inside UDP


def test_router_solicitation_advertisement_redirect() -> None:
    rs = Ether() / IPv6() / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:0a")
    ra = (
        Ether()
        / IPv6()
        / ICMPv6ND_RA(M=1, O=0)
        / ICMPv6NDOptMTU(mtu=1450)
        / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:0b")
    )
    rd = Ether() / IPv6() / ICMPv6ND_Redirect(tgt="fe80::beef", dst="fd00::5")
    db = decode([raw(rs), raw(ra), raw(rd)])
    assert (row(db, 0)["icmp_type"], row(db, 0)["nd_lladdr"]) == (133, "02:00:00:00:00:0a")
    assert (row(db, 1)["nd_flags"], row(db, 1)["mtu"], row(db, 1)["nd_lladdr"]) == (
        "M",
        1450,
        "02:00:00:00:00:0b",
    )
    assert (row(db, 2)["icmp_type"], row(db, 2)["nd_target"]) == (137, "fe80::beef")
    assert all("decode_error" not in row(db, i) for i in range(3))
