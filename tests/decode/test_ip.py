"""IPv4 and IPv6 headers, byte by byte: options, fragments, extension headers, bad versions."""

from __future__ import annotations

from craft import decode, hx, row

ETH4 = hx("02 00 00 00 00 02  02 00 00 00 00 01  08 00")
ETH6 = hx("02 00 00 00 00 02  02 00 00 00 00 01  86 dd")
UDP = hx("""
    03 e8   # source port 1000
    07 d0   # destination port 2000
    00 0a   # length 10
    00 00   # checksum
    ab cd   # payload
""")
V6_ADDRS = hx("""
    fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01   # source fd00::1
    fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02   # destination fd00::2
""")


def test_ipv4_with_options() -> None:
    frame = (
        ETH4
        + hx("""
        46          # version 4, IHL 6 (24 bytes)
        00
        00 22       # total length 34
        12 34       # identification 0x1234
        00 00       # no flags
        05          # TTL 5
        11          # UDP
        00 00
        c0 a8 00 01 # 192.168.0.1
        c0 a8 00 02 # 192.168.0.2
        01 01 01 00 # options: NOP NOP NOP EOL
    """)
        + UDP
    )
    r = row(decode([frame]))
    assert (r["ip_version"], r["ttl"], r["ip_proto"], r["ip_len"], r["ip_id"]) == (
        4,
        5,
        17,
        34,
        0x1234,
    )
    assert (r["dont_fragment"], r["more_fragments"], r["frag_offset"]) == (False, False, 0)
    assert (r["sport"], r["dport"], r["payload_len"]) == (1000, 2000, 2)


def test_ipv4_ihl_below_five() -> None:
    frame = ETH4 + hx("44 00 00 14 00 00 00 00 40 11 00 00 0a 00 00 01 0a 00 00 02")
    r = row(decode([frame]))
    assert r["decode_layer"] == "ipv4"
    assert r["decode_error"] == (
        "IPv4 header length (IHL) must be at least 20 bytes, found 16 at offset 14"
    )
    assert "src_ip" not in r and r["ethertype"] == 0x0800


def test_ipv4_bad_version() -> None:
    frame = ETH4 + hx("65 00 00 14") + bytes(16)
    r = row(decode([frame]))
    assert r["decode_error"] == "IPv4 header: expected version 4, found 6 at offset 14"


def test_ipv4_non_first_fragment_has_no_l4() -> None:
    frame = (
        ETH4
        + hx("""
        45 00 00 1e
        00 09       # identification 9
        20 03       # MF set, fragment offset 3 (24 bytes)
        40 11 00 00 0a 00 00 01 0a 00 00 02
    """)
        + UDP
    )
    r = row(decode([frame]))
    assert (r["frag_offset"], r["more_fragments"], r["ip_id"], r["ip_proto"]) == (24, True, 9, 17)
    assert "sport" not in r and "decode_error" not in r


def test_ipv4_total_length_beyond_frame() -> None:
    frame = ETH4 + hx("45 00 01 00 00 00 00 00 40 11 00 00 0a 00 00 01 0a 00 00 02") + UDP
    r = row(decode([frame]))
    assert (
        r["decode_error"]
        == "IPv4 total length 256 exceeds the 30 bytes left in the frame at offset 14"
    )


def test_ipv4_total_length_zero_is_big_tcp() -> None:
    frame = (
        ETH4
        + hx("""
        45 00
        00 00       # total length 0: BIG TCP / GSO, use the captured length
        00 00 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02
        03 e8 07 d0
        00 00       # UDP length 0 too: not checked
        00 00
    """)
        + bytes(100)
    )
    r = row(decode([frame]))
    assert "decode_error" not in r
    assert (r["ip_len"], r["payload_len"]) == (128, 100)


def test_ipv6_extension_headers() -> None:
    frame = (
        ETH6
        + hx("""
        60 00 00 00
        00 22       # payload length 34 = 8 + 16 + 10
        00          # next header: hop-by-hop
        40
    """)
        + V6_ADDRS
        + hx("""
        3c 00 05 02 00 00 01 00                 # hop-by-hop -> dest-opts; router alert, PadN
        11 01 01 04 00 00 00 00 00 00 00 00 00 00 00 00  # dest-opts (16 bytes) -> UDP
    """)
        + UDP
    )
    r = row(decode([frame]))
    assert (r["ip6_ext"], r["ip_proto"], r["ip_len"], r["ttl"]) == (
        "hop-by-hop,dest-opts",
        17,
        74,
        64,
    )
    assert (r["src_ip"], r["dst_ip"], r["dport"]) == ("fd00::1", "fd00::2", 2000)


def test_ipv6_fragment_headers() -> None:
    first = (
        ETH6
        + hx("60 00 00 00  00 12  2c 40")
        + V6_ADDRS
        + hx("""
        11          # next header UDP
        00
        00 01       # offset 0, M=1
        de ad be ef # identification
    """)
        + UDP
    )
    later = (
        ETH6
        + hx("60 00 00 00  00 12  2c 40")
        + V6_ADDRS
        + hx("""
        11 00
        00 a8       # offset 21 (168 bytes), M=0
        de ad be ef
    """)
        + UDP
    )
    db = decode([first, later])
    a, b = row(db, 0), row(db, 1)
    assert (a["ip_id"], a["frag_offset"], a["more_fragments"], a["dport"]) == (
        0xDEADBEEF,
        0,
        True,
        2000,
    )
    assert (b["frag_offset"], b["more_fragments"], b["ip6_ext"], b["ip_proto"]) == (
        168,
        False,
        "fragment",
        17,
    )
    assert "dport" not in b and "decode_error" not in b


def test_ipv6_stops_at_esp() -> None:
    frame = ETH6 + hx("60 00 00 00  00 08  32 40") + V6_ADDRS + hx("00 00 00 01 00 00 00 01")
    r = row(decode([frame]))
    assert (r["ip6_ext"], r["ip_proto"]) == ("esp", 50) and "decode_error" not in r


def test_ipv6_version_zero() -> None:
    frame = ETH6 + hx("00 00 00 00  00 00  3b 40") + V6_ADDRS
    r = row(decode([frame]))
    assert r["decode_layer"] == "ipv6"
    assert r["decode_error"] == "IPv6 header: expected version 6, found 0 at offset 14"
    assert "src_ip" not in r


def test_ipv6_truncated_header() -> None:
    frame = ETH6 + hx("60 00 00 00  00 00  3b 40") + V6_ADDRS[:20]
    r = row(decode([frame], wire_len=[100]))
    assert r["decode_error"] == "IPv6 header needs 40 bytes at offset 14, only 28 captured"


def test_ipv6_extension_header_truncated() -> None:
    frame = ETH6 + hx("60 00 00 00  00 10  00 40") + V6_ADDRS + hx("11 01 00 00")
    r = row(decode([frame], wire_len=[14 + 40 + 16]))
    assert r["decode_layer"] == "ipv6-ext"
    assert r["decode_error"] == "IPv6 extension header needs 8 bytes at offset 54, only 4 captured"
    assert r["src_ip"] == "fd00::1" and "ip_proto" not in r


def test_ipv6_payload_length_zero_is_big_tcp() -> None:
    frame = (
        ETH6
        + hx("60 00 00 00  00 00  11 40")
        + V6_ADDRS
        + hx("03 e8 07 d0 00 00 00 00")
        + bytes(50)
    )
    r = row(decode([frame]))
    assert "decode_error" not in r and (r["ip_len"], r["payload_len"]) == (98, 50)
