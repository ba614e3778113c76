"""Byte-level builders for capture files used by the reader tests.

Every helper spells out the on-disk layout field by field, so a test reads like the format
specification: classic pcap (file header + record headers) and pcapng blocks.
"""

from __future__ import annotations

import struct

LE, BE = "<", ">"

# Magic numbers as integers; written with the file's byte order they give the four variants.
PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D


def pcap_header(
    *,
    e: str = LE,
    magic: int = PCAP_MAGIC_US,
    version: tuple[int, int] = (2, 4),
    snaplen: int = 65535,
    linktype: int = 1,
) -> bytes:
    """The 24-byte classic pcap file header."""
    return struct.pack(
        e + "IHHiIII",
        magic,  # magic number: byte order and timestamp resolution
        version[0],  # version_major (2)
        version[1],  # version_minor (4)
        0,  # thiszone (always 0)
        0,  # sigfigs (always 0)
        snaplen,  # snaplen
        linktype,  # LINKTYPE_ value, plus FCS bits 26-31
    )


def pcap_record(
    data: bytes, *, sec: int, sub: int, e: str = LE, wire_len: int | None = None
) -> bytes:
    """A 16-byte record header followed by the captured bytes."""
    return (
        struct.pack(
            e + "IIII",
            sec,  # ts_sec
            sub,  # ts_usec or ts_nsec
            len(data),  # incl_len (captured)
            len(data) if wire_len is None else wire_len,  # orig_len (on the wire)
        )
        + data
    )


def pad4(b: bytes) -> bytes:
    """``b`` padded with zero bytes to a multiple of 4."""
    return b + b"\x00" * (-len(b) % 4)


def option(code: int, value: bytes, e: str = LE) -> bytes:
    """One pcapng option: code u16, length u16, value padded to 4 bytes."""
    return struct.pack(e + "HH", code, len(value)) + pad4(value)


def options(opts: list[tuple[int, bytes]], e: str = LE) -> bytes:
    """A list of options terminated by opt_endofopt (or nothing when the list is empty)."""
    if not opts:
        return b""
    return b"".join(option(c, v, e) for c, v in opts) + struct.pack(e + "HH", 0, 0)


def block(btype: int, body: bytes, e: str = LE) -> bytes:
    """A pcapng block: type u32, total length u32, body (padded), total length u32 again."""
    body = pad4(body)
    total = 12 + len(body)
    return struct.pack(e + "II", btype, total) + body + struct.pack(e + "I", total)


def shb(e: str = LE, version: tuple[int, int] = (1, 0), opts: bytes = b"") -> bytes:
    """Section Header Block (type 0x0A0D0D0A)."""
    body = struct.pack(
        e + "IHHq",
        0x1A2B3C4D,  # byte-order magic, written in the section's byte order
        version[0],  # major version (1)
        version[1],  # minor version (0)
        -1,  # section length: unknown
    )
    return block(0x0A0D0D0A, body + opts, e)


def idb(
    linktype: int = 1,
    snaplen: int = 0,
    *,
    e: str = LE,
    name: str | None = None,
    description: str | None = None,
    tsresol: int | None = None,
    tsoffset: int | None = None,
) -> bytes:
    """Interface Description Block (type 1) with the options the reader understands."""
    opts: list[tuple[int, bytes]] = []
    if name is not None:
        opts.append((2, name.encode()))  # if_name
    if description is not None:
        opts.append((3, description.encode()))  # if_description
    if tsresol is not None:
        opts.append((9, bytes([tsresol])))  # if_tsresol: 10^-n, or 2^-n when bit 7 is set
    if tsoffset is not None:
        opts.append((14, struct.pack(e + "q", tsoffset)))  # if_tsoffset: seconds
    body = struct.pack(e + "HHI", linktype, 0, snaplen)  # link type, reserved, snaplen
    return block(1, body + options(opts, e), e)


def epb(
    data: bytes,
    *,
    iface: int = 0,
    ts: int = 0,
    e: str = LE,
    wire_len: int | None = None,
    comment: str | None = None,
) -> bytes:
    """Enhanced Packet Block (type 6); ``ts`` is the 64-bit count of interface time units."""
    head = struct.pack(
        e + "IIIII",
        iface,  # interface id (within the section)
        ts >> 32,  # timestamp, high 32 bits
        ts & 0xFFFFFFFF,  # timestamp, low 32 bits
        len(data),  # captured length
        len(data) if wire_len is None else wire_len,  # original length
    )
    opts = options([(1, comment.encode())], e) if comment is not None else b""
    return block(6, head + pad4(data) + opts, e)


def spb(data: bytes, *, e: str = LE, wire_len: int | None = None) -> bytes:
    """Simple Packet Block (type 3): original length, then the packet data."""
    head = struct.pack(e + "I", len(data) if wire_len is None else wire_len)
    return block(3, head + pad4(data), e)


def pb(data: bytes, *, iface: int = 0, ts: int = 0, e: str = LE) -> bytes:
    """Obsolete Packet Block (type 2): like an EPB with a 16-bit interface and a drop count."""
    head = struct.pack(e + "HHIIII", iface, 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
    return block(2, head + pad4(data), e)


def frame(n: int, size: int = 60) -> bytes:
    """A recognisable Ethernet-sized frame: ``size`` bytes, all ``n & 0xff``."""
    return bytes([n & 0xFF]) * size
