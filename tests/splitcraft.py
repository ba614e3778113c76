"""A larger classic pcap made of the shipped captures' Ethernet frames, for the split readers.

The frames of every shipped ``*eth0*.pcap`` (Ethernet, VXLAN and Geneve, IPv4 and IPv6, ARP,
ND, echo, TCP) are repeated, in order, with timestamps one millisecond apart.
"""

from __future__ import annotations

import struct
from pathlib import Path

from testpaths import CAPTURES


def shipped_frames() -> list[bytes]:
    """Every frame of the shipped Ethernet (link type 1) pcap files."""
    frames: list[bytes] = []
    for path in sorted(CAPTURES.glob("*/*eth0*.pcap")):
        data = path.read_bytes()
        endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
        if struct.unpack_from(endian + "I", data, 20)[0] != 1:
            continue
        pos = 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from(endian + "I", data, pos + 8)[0]
            frames.append(data[pos + 16 : pos + 16 + incl])
            pos += 16 + incl
    return frames


def write_big_pcap(path: Path, count: int, tail: bytes = b"") -> Path:
    """A little-endian microsecond pcap of ``count`` shipped frames (repeated), plus ``tail``
    bytes after the last record (e.g. a cut record)."""
    frames = shipped_frames()
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    t_us = 1_720_770_268_594_775
    for i in range(count):
        data = frames[i % len(frames)]
        t = t_us + i * 1000
        out.append(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(data), len(data)))
        out.append(data)
    out.append(tail)
    path.write_bytes(b"".join(out))
    return path


def record_starts(path: Path) -> list[int]:
    """Byte offsets of every record of a little-endian pcap."""
    data = path.read_bytes()
    pos, starts = 24, []
    while pos + 16 <= len(data):
        starts.append(pos)
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    return starts
