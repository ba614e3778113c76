"""UDP and TCP headers, byte by byte."""

from __future__ import annotations

from craft import decode, hx, row

ETH_IP = hx("""
    02 00 00 00 00 02 02 00 00 00 00 01 08 00
    45 00
    00 3c       # total length 60 = 20 + 40
    00 00 40 00 40
    06          # TCP
    00 00 0a 00 00 01 0a 00 00 02
""")


def test_tcp_fields_and_all_flags() -> None:
    frame = ETH_IP + hx("""
        c3 50           # source port 50000
        01 bb           # destination port 443
        00 00 00 64     # sequence number 100
        00 00 00 c8     # acknowledgement number 200
        61              # data offset 6 words (24 bytes), NS bit set
        c3              # CWR ECE ACK SYN FIN
        ff ff           # window
        00 00 00 00     # checksum, urgent pointer
        01 01 01 01     # options: 4 NOPs
        aa bb cc dd ee ff 00 11 22 33 44 55 66 77 88 99  # 16 bytes of payload
    """)
    r = row(decode([frame]))
    assert (r["sport"], r["dport"], r["tcp_seq"], r["tcp_ack"]) == (50000, 443, 100, 200)
    assert r["tcp_flags"] == 0x100 | 0x80 | 0x40 | 0x02 | 0x01
    assert r["payload_len"] == 16


def test_tcp_data_offset_too_small() -> None:
    frame = ETH_IP + hx("c3 50 01 bb 00 00 00 64 00 00 00 c8  40 10 ff ff 00 00 00 00") + bytes(20)
    r = row(decode([frame]))
    assert r["decode_layer"] == "tcp"
    assert r["decode_error"] == "TCP data offset must be at least 20 bytes, found 16 at offset 34"
    assert "sport" not in r


def test_tcp_options_truncated_but_payload_cut_is_fine() -> None:
    hdr = hx("c3 50 01 bb 00 00 00 64 00 00 00 c8  60 18 ff ff 00 00 00 00  01 01 01 01")
    full = ETH_IP + hdr + bytes(16)
    cut_payload = decode([full[:60]], wire_len=[len(full)])
    assert "decode_error" not in row(cut_payload) and row(cut_payload)["payload_len"] == 16
    cut_options = row(decode([full[:56]], wire_len=[len(full)]))
    assert (
        cut_options["decode_error"]
        == "TCP header with options needs 24 bytes at offset 34, only 22 captured"
    )


def test_udp_length_checks() -> None:
    ip = hx(
        "02 00 00 00 00 02 02 00 00 00 00 01 08 00  45 00 00 20 00 00 40 00 40 11 00 00 0a 00 00 01 0a 00 00 02"
    )
    ok = ip + hx("""
        00 35       # source port 53
        c0 00       # destination port 49152
        00 0c       # length 12
        12 34       # checksum
        01 02 03 04
    """)
    too_long = ip + hx("00 35 c0 00  00 40  00 00  01 02 03 04")
    too_short = ip + hx("00 35 c0 00  00 04  00 00  01 02 03 04")
    db = decode([ok, too_long, too_short])
    assert (row(db, 0)["sport"], row(db, 0)["dport"], row(db, 0)["payload_len"]) == (53, 49152, 4)
    assert (
        row(db, 1)["decode_error"]
        == "UDP length 64 exceeds the 12 bytes left in the IP packet at offset 34"
    )
    assert row(db, 2)["decode_error"] == "UDP length 4 is less than its 8-byte header at offset 34"
    assert row(db, 2)["decode_layer"] == "udp" and "sport" not in row(db, 2)
