"""Tunnels: VXLAN (with GBP), VXLAN-GPE, Geneve with options, port/header validation, nesting."""

from __future__ import annotations

from craft import decode, hx, row
from scapy.all import ICMP, IP, UDP, Ether, IPv6, raw
from scapy.layers.vxlan import VXLAN

from vxlanlens.decode import DecodeOptions

UNDERLAY = hx("""
    02 42 ac 12 00 04       # outer destination MAC (node 2)
    02 42 ac 12 00 03       # outer source MAC (node 1)
    08 00                   # IPv4
    45 00
    00 5a                   # total length 90 = 20 + 8 + 8 + 54
    00 00 40 00
    40                      # TTL 64
    11                      # UDP
    00 00
    ac 12 00 03             # 172.18.0.3
    ac 12 00 04             # 172.18.0.4
    9c 40                   # source port 40000
""")

INNER = hx("""
    a2 79 14 47 80 b3       # inner destination MAC (lxc)
    4e 5b 57 45 63 3b       # inner source MAC (pod)
    08 00
    45 00 00 28             # total length 40
    00 01 00 00
    3f                      # TTL 63
    01                      # ICMP
    00 00
    0a f4 01 e9             # 10.244.1.233
    0a f4 02 f5             # 10.244.2.245
    08 00 00 00             # echo request
    00 2c 00 00             # id 44, seq 0
    00 00 00 00 00 00 00 00 00 00 00 00  # data
""")


def underlay(dport: int, tunnel: bytes, inner: bytes = INNER) -> bytes:
    """The outer frame around ``tunnel + inner`` with the right IP and UDP lengths."""
    udp_len = 8 + len(tunnel) + len(inner)
    head = bytearray(UNDERLAY)
    head[16:18] = (20 + udp_len).to_bytes(2, "big")
    return (
        bytes(head)
        + dport.to_bytes(2, "big")
        + udp_len.to_bytes(2, "big")
        + hx("12 34")
        + tunnel
        + inner
    )


VXLAN_HDR = hx("""
    08              # flags: I
    00 00 00        # reserved
    00 30 39        # VNI 12345
    00              # reserved
""")

GENEVE_HDR = hx("""
    03              # version 0, option length 3 words (12 bytes)
    40              # flags: C (critical options present)
    65 58           # protocol: Transparent Ethernet Bridging
    00 00 0a        # VNI 10
    00              # reserved
    01 32           # option class 0x0132
    01              # type 1
    01              # length 1 word of data
    80 00 00 d1     # data
    00 00           # option class 0x0000
    80              # type 0x80 (critical)
    00              # no data
""")


def test_vxlan_on_8472() -> None:
    r = row(decode([underlay(8472, VXLAN_HDR)]))
    assert (r["tunnel"], r["tunnel_depth"], r["vni"], r["outer_vni"]) == ("vxlan", 1, 12345, 12345)
    assert (r["vxlan_flags"], r["tunnel_proto"]) == (0x08, 0x6558) and "vxlan_gbp" not in r
    assert (r["outer_src_mac"], r["outer_dst_mac"]) == ("02:42:ac:12:00:03", "02:42:ac:12:00:04")
    assert (r["outer_src_ip"], r["outer_dst_ip"], r["outer_ttl"]) == (
        "172.18.0.3",
        "172.18.0.4",
        64,
    )
    assert (r["outer_sport"], r["outer_dport"], r["outer_udp_len"], r["outer_udp_checksum"]) == (
        40000,
        8472,
        70,
        0x1234,
    )
    assert (r["src_mac"], r["dst_mac"], r["src_ip"], r["dst_ip"], r["ttl"]) == (
        "4e:5b:57:45:63:3b",
        "a2:79:14:47:80:b3",
        "10.244.1.233",
        "10.244.2.245",
        63,
    )
    assert (r["echo_id"], r["echo_seq"]) == (44, 0)
    assert "sport" not in r and "decode_error" not in r


def test_vxlan_group_policy() -> None:
    gbp = hx("""
        88              # flags: G, I
        00
        00 2a           # group policy id 42
        00 00 07        # VNI 7
        00
    """)
    r = row(decode([underlay(4789, gbp)]))
    assert (r["vxlan_flags"], r["vxlan_gbp"], r["vni"]) == (0x88, 42, 7)


def test_geneve_with_options() -> None:
    r = row(decode([underlay(6081, GENEVE_HDR)]))
    assert (r["tunnel"], r["vni"], r["tunnel_proto"], r["geneve_critical"]) == (
        "geneve",
        10,
        0x6558,
        True,
    )
    assert r["geneve_options"] == "0x0132/0x01/8;0x0000/0x80C/4"
    assert (r["src_ip"], r["echo_id"]) == ("10.244.1.233", 44)


OVN_HDR = hx("""
    05              # version 0, option length 5 words (20 bytes)
    40              # flags: C
    65 58           # protocol: Transparent Ethernet Bridging
    00 00 07        # VNI 7 (OVN: the logical datapath key)
    00              # reserved
    01 02           # option class 0x0102 (OVN)
    80              # type 0x80 (critical)
    02              # length 2 words: not OVN's 4-byte option, so not its ports
    00 01 00 02 00 00 00 00
    01 02           # option class 0x0102 (OVN)
    80              # type 0x80
    01              # length 1 word
    80 05           # reserved bit set, logical ingress port 5
    01 02           # logical egress port 258
""")


def test_geneve_ovn_logical_ports() -> None:
    r = row(decode([underlay(6081, OVN_HDR)]))
    assert (r["vni"], r["ovn_inport"], r["ovn_outport"]) == (7, 5, 258)
    assert r["geneve_options"] == "0x0102/0x80C/12;0x0102/0x80C/8"


def test_geneve_ovn_ports_need_ovns_class_type_and_length() -> None:
    for changed in (
        OVN_HDR[:20] + hx("01 03") + OVN_HDR[22:],  # another class
        OVN_HDR[:22] + hx("00") + OVN_HDR[23:],  # type without the critical bit
    ):
        r = row(decode([underlay(6081, changed)]))
        assert r["vni"] == 7 and "ovn_inport" not in r and "ovn_outport" not in r
    assert "ovn_inport" not in row(decode([underlay(6081, GENEVE_HDR)]))
    assert "ovn_inport" not in row(decode([underlay(4789, VXLAN_HDR)]))


def test_geneve_ovn_ports_belong_to_the_innermost_overlay() -> None:
    inner_vxlan = UNDERLAY[:14] + underlay(4789, VXLAN_HDR)[14:]
    r = row(decode([underlay(6081, OVN_HDR, inner_vxlan)]))
    assert (r["tunnel"], r["vni"], r["outer_vni"]) == ("vxlan", 12345, 7)
    assert "ovn_inport" not in r and "ovn_outport" not in r
    cut = OVN_HDR[:23] + hx("02") + OVN_HDR[24:]  # the OVN option overruns the options
    r = row(decode([underlay(6081, cut)]))
    assert r["decode_layer"] == "geneve" and "ovn_inport" not in r


def test_geneve_without_ethernet() -> None:
    hdr = hx("00 00  08 00  00 00 01 00")  # no options, protocol IPv4, VNI 1
    r = row(decode([underlay(6081, hdr, INNER[14:])]))
    assert (r["tunnel_proto"], r["geneve_options"], r["ip_version"], r["icmp_type"]) == (
        0x0800,
        "",
        4,
        8,
    )
    assert "src_mac" not in r and "ethertype" not in r


def test_geneve_option_overruns_the_options() -> None:
    bad = hx("01 00 65 58 00 00 0a 00  01 32 01 02")  # 1 word of options, option claims 2 more
    r = row(decode([underlay(6081, bad)]))
    assert r["decode_layer"] == "geneve"
    assert (
        r["decode_error"]
        == "Geneve option at offset 50 declares 12 bytes, only 4 left in the options"
    )
    assert r["tunnel"] == "geneve" and r["outer_dport"] == 6081 and "vni" not in r


def test_geneve_header_on_a_vxlan_port() -> None:
    r = row(decode([underlay(8472, GENEVE_HDR)]))
    assert (r["tunnel"], r["vni"], r["src_ip"]) == ("geneve", 10, "10.244.1.233")


def test_vxlan_header_on_the_geneve_port() -> None:
    r = row(decode([underlay(6081, VXLAN_HDR)]))
    assert (r["tunnel"], r["vni"], r["src_ip"]) == ("vxlan", 12345, "10.244.1.233")


def test_neither_header_is_left_alone() -> None:
    junk = hx("40 00 00 00 00 00 00 00")  # no I bit, Geneve version 1
    r = row(decode([underlay(8472, junk)]))
    assert "tunnel" not in r and "decode_error" not in r
    assert (r["dport"], r["src_ip"], r["tunnel_depth"]) == (8472, "172.18.0.3", 0)


def test_vxlan_header_cut_by_the_snap_length() -> None:
    frame = underlay(8472, VXLAN_HDR)
    r = row(decode([frame[:46]], wire_len=[len(frame)]))
    assert r["decode_layer"] == "vxlan"
    assert r["decode_error"] == "VXLAN header needs 8 bytes at offset 42, only 4 captured"


def test_gpe() -> None:
    gpe = hx("""
        0c              # flags: I, P
        00 00
        01              # next protocol: IPv4
        00 00 05 00     # VNI 5
    """)
    r = row(decode([underlay(4790, gpe, INNER[14:])]))
    assert (r["tunnel"], r["vni"], r["tunnel_proto"], r["vxlan_flags"]) == (
        "vxlan-gpe",
        5,
        0x0800,
        0x0C,
    )
    assert (r["src_ip"], r["echo_id"]) == ("10.244.1.233", 44)
    nsh = gpe[:3] + b"\x04" + gpe[4:]
    r = row(decode([underlay(4790, nsh, INNER[14:])]))
    assert (r["tunnel"], r["tunnel_proto"]) == ("vxlan-gpe", 0x894F) and "src_ip" not in r


def test_extra_ports_via_options() -> None:
    frame = underlay(9999, GENEVE_HDR)
    assert "tunnel" not in row(decode([frame]))
    r = row(decode([frame], options=DecodeOptions().with_ports(geneve=(9999,))))
    assert r["tunnel"] == "geneve"


def test_guessed_vxlan_on_another_port() -> None:
    frame = underlay(6080, VXLAN_HDR)
    assert row(decode([frame]))["vni"] == 12345
    assert "tunnel" not in row(decode([frame], options=DecodeOptions(guess_tunnels=False)))
    scapy_flags = underlay(6080, hx("0c 00 00 00 00 30 39 00"))  # flags 0x0c: not a guess
    assert "tunnel" not in row(decode([scapy_flags]))
    bad_inner = underlay(6080, VXLAN_HDR, INNER[:14] + hx("55") + INNER[15:])  # IP version 5
    assert "tunnel" not in row(decode([bad_inner]))


def test_nested_tunnels_keep_the_outermost_underlay() -> None:
    pod = (
        Ether(src="4e:5b:57:45:63:3b")
        / IPv6(src="fd00::1", dst="fd00::2", hlim=63)
        / UDP(sport=53, dport=53)
    )
    mid = (
        Ether(src="02:00:00:00:00:22")
        / IP(src="2.2.2.2", dst="2.2.2.9", ttl=9)
        / UDP(sport=1, dport=4789)
        / VXLAN(flags=0x08, vni=2)
        / pod
    )
    top = (
        Ether(src="02:00:00:00:00:11")
        / IP(src="1.1.1.1", dst="1.1.1.9", ttl=7)
        / UDP(sport=2, dport=8472)
        / VXLAN(flags=0x08, vni=1)
        / mid
    )
    r = row(decode([raw(top)]))
    assert (r["tunnel_depth"], r["vni"], r["outer_vni"], r["tunnel"]) == (2, 2, 1, "vxlan")
    assert (r["outer_src_mac"], r["outer_src_ip"], r["outer_ttl"], r["outer_dport"]) == (
        "02:00:00:00:00:11",
        "1.1.1.1",
        7,
        8472,
    )
    assert (r["src_mac"], r["src_ip"], r["ttl"], r["sport"]) == (
        "4e:5b:57:45:63:3b",
        "fd00::1",
        63,
        53,
    )
    limited = row(decode([raw(top)], options=DecodeOptions(max_tunnel_depth=1)))
    assert limited["decode_layer"] == "vxlan" and limited["tunnel_depth"] == 1
    assert limited["decode_error"] == "tunnels nested deeper than max_tunnel_depth 1 at offset 92"
    assert (limited["outer_src_ip"], limited["src_ip"], limited["vni"]) == ("1.1.1.1", "2.2.2.2", 1)


def test_ipv6_underlay() -> None:
    frame = (
        Ether()
        / IPv6(src="fc00::3", dst="fc00::4")
        / UDP(sport=1, dport=8472)
        / VXLAN(flags=0x08, vni=9)
        / Ether()
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / ICMP()
    )
    r = row(decode([raw(frame)]))
    assert (r["outer_ip_version"], r["outer_src_ip"], r["ip_version"], r["src_ip"]) == (
        6,
        "fc00::3",
        4,
        "10.0.0.1",
    )
