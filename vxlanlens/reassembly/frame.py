"""The synthetic frame of a reassembled packet."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

__all__ = ["MAX_PACKET", "rebuild"]

if TYPE_CHECKING:
    from .store import Fragment

MAX_PACKET = 65535
"""The largest IP packet (IPv4 total length, IPv6 payload length without a jumbogram)."""


def _checksum(header: bytes | bytearray) -> int:
    """The IPv4 header checksum of ``header`` (its checksum field zeroed)."""
    total = sum(struct.unpack(f">{len(header) // 2}H", bytes(header)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def rebuild(first: Fragment, payload: bytes) -> tuple[bytes | None, int]:
    """The synthetic frame of the reassembled packet and the packet's length (the frame is
    ``None`` when an enclosing length field cannot hold it)."""
    rec, at = first.record, first.ip_at
    if first.version == 4:
        ihl = (rec[at] & 0x0F) * 4
        header = bytearray(rec[at : at + ihl])
        length = ihl + len(payload)
        own = struct.unpack_from(">H", rec, at + 2)[0]
        struct.pack_into(">H", header, 2, min(length, MAX_PACKET))
        flags = struct.unpack_from(">H", header, 6)[0]
        struct.pack_into(">H", header, 6, flags & 0x4000)  # keep DF; no MF, offset 0
        struct.pack_into(">H", header, 10, 0)
        struct.pack_into(">H", header, 10, _checksum(header))
    else:
        header = bytearray(rec[at : first.hdr_at])
        nh_at, pos = 6, 40
        while pos < len(header):  # the last unfragmentable extension header names the next
            nh_at = pos
            pos += (header[pos + 1] + 1) * 8
        header[nh_at] = rec[first.hdr_at]
        length = len(header) + len(payload)
        own = 40 + struct.unpack_from(">H", rec, at + 4)[0]
        struct.pack_into(">H", header, 4, min(length - 40, MAX_PACKET))
    if length > MAX_PACKET:
        return None, length
    prefix = bytearray(rec[:at])
    delta = length - own
    if first.outer_ip_at >= 0:
        o = first.outer_ip_at
        if prefix[o] >> 4 == 4:
            field_at, ihl = o + 2, (prefix[o] & 0x0F) * 4
        else:
            field_at, ihl = o + 4, 0
        value = struct.unpack_from(">H", prefix, field_at)[0] + delta
        if value > MAX_PACKET:
            return None, length
        struct.pack_into(">H", prefix, field_at, value)
        if ihl:
            struct.pack_into(">H", prefix, o + 10, 0)
            struct.pack_into(">H", prefix, o + 10, _checksum(prefix[o : o + ihl]))
        if first.outer_udp_at >= 0:
            u = first.outer_udp_at + 4
            value = struct.unpack_from(">H", prefix, u)[0] + delta
            if value > MAX_PACKET:
                return None, length
            struct.pack_into(">H", prefix, u, value)
    return bytes(prefix) + bytes(header) + payload, length
