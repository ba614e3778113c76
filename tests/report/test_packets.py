"""One tcpdump-like line per frame (vxlanlens.report.packets)."""

from __future__ import annotations

from craft import arp_row, echo_row, make_packets

from vxlanlens.report.packets import packet_line


def _line(row: dict) -> str:
    (r,) = make_packets([row]).to_dict("records")
    return packet_line(r)


def test_the_ttl_is_named_as_tcpdump_names_it() -> None:
    v4 = _line(echo_row(0, "10.0.0.1", "10.0.0.2", 7, 1, v=4, ttl=64))
    assert "10.0.0.1 > 10.0.0.2 ttl 64: ICMP echo request id 7 seq 1" in v4
    v6 = _line(echo_row(0, "fd00::1", "fd00::2", 7, 1, ttl=63))
    assert "fd00::1 > fd00::2 hlim 63: ICMPv6 echo request id 7 seq 1" in v6
    arp = _line(arp_row(0, 1, "02:00:00:00:00:01", "10.0.0.1", "10.0.0.2"))
    assert "ttl" not in arp and "hlim" not in arp
