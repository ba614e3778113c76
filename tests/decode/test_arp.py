"""ARP, byte by byte."""

from __future__ import annotations

from craft import decode, hx, row

ETH = hx("ff ff ff ff ff ff  4e 5b 57 45 63 3b  08 06")


def test_arp_request() -> None:
    frame = ETH + hx("""
        00 01               # hardware type Ethernet
        08 00               # protocol IPv4
        06                  # hardware length
        04                  # protocol length
        00 01               # opcode: request
        4e 5b 57 45 63 3b   # sender MAC
        0a f4 01 e9         # sender IP 10.244.1.233
        00 00 00 00 00 00   # target MAC
        0a f4 01 9a         # target IP 10.244.1.154
    """)
    r = row(decode([frame]))
    assert r["arp_op"] == 1
    assert (r["arp_sender_mac"], r["arp_sender_ip"]) == ("4e:5b:57:45:63:3b", "10.244.1.233")
    assert (r["arp_target_mac"], r["arp_target_ip"]) == ("00:00:00:00:00:00", "10.244.1.154")


def test_arp_with_wrong_lengths() -> None:
    frame = (
        ETH
        + hx("""
        30 30               # hardware type 12336
        08 00
        0e                  # hardware length 14
        04
        00 01
    """)
        + bytes(40)
    )
    r = row(decode([frame]))
    assert r["decode_layer"] == "arp"
    assert r["decode_error"] == (
        "expected Ethernet/IPv4 ARP (hardware type 1 or 6, hlen 6, plen 4), "
        "found hardware type 12336, hlen 14, plen 4 at offset 14"
    )
    assert "arp_op" not in r


def test_arp_truncated() -> None:
    frame = ETH + hx("00 01 08 00 06 04 00 02 4e 5b 57")
    r = row(decode([frame], wire_len=[60]))
    assert (
        r["decode_error"]
        == "Ethernet/IPv4 ARP message needs 28 bytes at offset 14, only 11 captured"
    )
    assert "arp_op" not in r
