"""Link layers, byte by byte: Ethernet/VLAN/LLC-SNAP, Linux SLL and SLL2, raw IP, loopback."""

from __future__ import annotations

from craft import decode, hx, row

# A minimal IPv4/UDP packet reused after every link header: 10.0.0.1:1000 -> 10.0.0.2:2000.
IP_UDP = hx("""
    45          # version 4, IHL 5
    00          # DSCP/ECN
    00 1e       # total length 30
    00 07       # identification 7
    40 00       # flags DF, fragment offset 0
    40          # TTL 64
    11          # protocol UDP
    00 00       # header checksum (not checked)
    0a 00 00 01 # source 10.0.0.1
    0a 00 00 02 # destination 10.0.0.2
    03 e8       # source port 1000
    07 d0       # destination port 2000
    00 0a       # UDP length 10
    00 00       # checksum none
    ab cd       # 2 bytes of payload
""")

IP6_HDR = hx("""
    60 00 00 00                         # version 6, traffic class, flow label
    00 00                               # payload length 0 (nothing follows)
    3b                                  # next header: no next header
    40                                  # hop limit 64
    fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01   # source fe80::1
    fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 02   # destination fe80::2
""")

MACS = hx("""
    02 00 00 00 00 02   # destination MAC
    02 00 00 00 00 01   # source MAC
""")


def test_ethernet_ipv4_udp() -> None:
    r = row(decode([MACS + hx("08 00") + IP_UDP]))
    assert r["dst_mac"] == "02:00:00:00:00:02"
    assert r["src_mac"] == "02:00:00:00:00:01"
    assert r["ethertype"] == 0x0800
    assert (r["src_ip"], r["dst_ip"], r["sport"], r["dport"]) == (
        "10.0.0.1",
        "10.0.0.2",
        1000,
        2000,
    )
    assert "vlan" not in r and "decode_error" not in r
    assert r["tunnel_depth"] == 0 and "tunnel" not in r and "outer_src_ip" not in r


def test_qinq_tags() -> None:
    frame = (
        MACS
        + hx("""
        88 a8       # 802.1ad service tag
        20 64       # PCP 1, VLAN 100
        81 00       # 802.1Q customer tag
        00 c8       # VLAN 200
        08 00       # IPv4
    """)
        + IP_UDP
    )
    r = row(decode([frame]))
    assert (r["vlan"], r["vlan2"], r["ethertype"], r["dport"]) == (100, 200, 0x0800, 2000)


def test_vlan_tag_truncated() -> None:
    r = row(decode([MACS + hx("81 00 00")], wire_len=[60]))
    assert r["decode_layer"] == "vlan"
    assert r["decode_error"] == "802.1Q/802.1ad tag needs 4 bytes at offset 14, only 1 captured"
    assert r["src_mac"] == "02:00:00:00:00:01" and "vlan" not in r


def test_llc_snap_carries_an_ethertype() -> None:
    frame = MACS + hx("""
        00 24               # 802.3 length 36
        aa aa 03            # LLC: DSAP SNAP, SSAP SNAP, UI
        00 00 00            # SNAP OUI 0
        08 06               # SNAP type ARP
        00 01 08 00 06 04   # Ethernet/IPv4 ARP
        00 01               # request
        02 00 00 00 00 01   # sender MAC
        0a 00 00 01         # sender IP
        00 00 00 00 00 00   # target MAC
        0a 00 00 02         # target IP
    """)
    r = row(decode([frame]))
    assert (r["ethertype"], r["arp_op"], r["arp_target_ip"]) == (0x0806, 1, "10.0.0.2")


def test_plain_llc_stops_without_error() -> None:
    frame = MACS + hx("""
        00 26       # 802.3 length
        42 42 03    # LLC: STP
        00 00 00 00 # BPDU start
    """)
    r = row(decode([frame]))
    assert "ethertype" not in r and "decode_error" not in r and r["src_mac"] == "02:00:00:00:00:01"


def test_linux_sll() -> None:
    frame = (
        hx("""
        00 04                       # packet type 4: outgoing
        00 01                       # ARPHRD_ETHER
        00 06                       # address length 6
        00 16 3e 27 78 a2 00 00     # address (padded to 8)
        08 00                       # protocol IPv4
    """)
        + IP_UDP
    )
    r = row(decode([frame], 113))
    assert (r["pkt_type"], r["src_mac"], r["ethertype"], r["sport"]) == (
        "outgoing",
        "00:16:3e:27:78:a2",
        0x0800,
        1000,
    )
    assert "dst_mac" not in r and "ifindex" not in r


def test_linux_sll2() -> None:
    frame = (
        hx("""
        86 dd           # protocol IPv6
        00 00           # reserved
        00 00 00 1a     # interface index 26
        00 01           # ARPHRD_ETHER
        00              # packet type 0: host
        06              # address length 6
        8e 36 06 44 ac af 00 00   # address
    """)
        + IP6_HDR
    )
    r = row(decode([frame], 276))
    assert (r["ifindex"], r["pkt_type"], r["src_mac"], r["ethertype"]) == (
        26,
        "host",
        "8e:36:06:44:ac:af",
        0x86DD,
    )
    assert (r["src_ip"], r["ip_proto"], r["ip6_ext"]) == ("fe80::1", 59, "no-next")


def test_sll2_llc_protocol_stops_cleanly() -> None:
    frame = hx("""
        00 04           # protocol 0x0004: 802.2 LLC frames
        00 00 00 00 00 03 00 01
        02              # packet type 2: multicast
        06 e0 1c fc d3 b1 e1 00 00
        42 42 03 00 00  # LLC + STP
    """)
    r = row(decode([frame], 276))
    assert r["pkt_type"] == "multicast" and "decode_error" not in r and "ethertype" not in r


def test_sll2_truncated() -> None:
    r = row(decode([hx("86 dd 00 00 00 00")], 276))
    assert r["decode_layer"] == "sll2"
    assert (
        r["decode_error"]
        == "Linux SLL2 header needs 20 bytes at offset 0, only 6 left in the frame"
    )


def test_raw_ip_link_types() -> None:
    db = decode([IP_UDP, IP6_HDR, IP_UDP, IP_UDP, IP6_HDR], [101, 101, 12, 228, 229])
    for i in range(5):
        assert "decode_error" not in row(db, i)
    assert row(db, 2)["dport"] == 2000 and row(db, 1)["dst_ip"] == "fe80::2"
    assert "ethertype" not in row(db, 0)


def test_raw_ip_bad_version() -> None:
    r = row(decode([hx("50 00 00 00")], 101))
    assert r["decode_layer"] == "raw-ip"
    assert r["decode_error"] == "raw IP: expected IP version 4 or 6, found 5 at offset 0"


def test_bsd_loopback_both_byte_orders() -> None:
    little = hx("02 00 00 00") + IP_UDP  # AF_INET written by a little-endian host
    big = hx("00 00 00 02") + IP_UDP  # ... by a big-endian host
    v6 = hx("1e 00 00 00") + IP6_HDR  # AF_INET6 = 30 (macOS)
    v6b = hx("00 00 00 18") + IP6_HDR  # AF_INET6 = 24 (NetBSD/OpenBSD), big-endian
    other = hx("07 00 00 00 01 02")  # unknown family: stop, no error
    db = decode([little, big, v6, v6b, other], 0)
    assert [row(db, i).get("ip_version") for i in range(5)] == [4, 4, 6, 6, None]
    assert all("decode_error" not in row(db, i) for i in range(5))


def test_openbsd_loop_is_network_order() -> None:
    db = decode([hx("00 00 00 02") + IP_UDP, hx("00 00 00 18") + IP6_HDR], 108)
    assert row(db, 0)["sport"] == 1000 and row(db, 1)["ip_version"] == 6


def test_unknown_link_type_and_empty_frame() -> None:
    db = decode([b"\x01\x02", b""], [147, 1])
    assert row(db, 0) == {
        "tunnel_depth": 0,
        "decode_layer": "link",
        "decode_error": "unsupported link type 147 "
        "(expected 0, 1, 12, 14, 101, 108, 113, 228, 229 or 276)",
    }
    assert row(db, 1)["decode_error"] == "empty frame: 0 bytes captured at offset 0"


def test_ethernet_truncated() -> None:
    r = row(decode([MACS[:8]], wire_len=[60]))
    assert r["decode_layer"] == "ethernet"
    assert r["decode_error"] == "Ethernet header needs 14 bytes at offset 0, only 8 captured"
    assert "src_mac" not in r
