"""A minimal pcap/pcapng reader for decoder tests, used until ``vxlanlens.read`` has one.

It reads what the corpus needs (the four pcap magics; pcapng sections in either byte order,
IDB, EPB, SPB and obsolete packet blocks) and returns one :class:`RecordBatch` per file.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from vxlanlens.read.records import RecordBatch

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\x3c\x4d": ">",
}


def read_batch(path: Path) -> RecordBatch:
    """All records of a pcap or pcapng file (raises ``ValueError`` if it is neither)."""
    buf = path.read_bytes()
    if buf[:4] in _PCAP_MAGICS:
        frames, lts, wires = _pcap(buf)
    elif buf[:4] == b"\x0a\x0d\x0d\x0a":
        frames, lts, wires = _pcapng(buf)
    else:
        raise ValueError(f"{path}: not a pcap or pcapng file")
    batch = RecordBatch.from_frames(frames, capture=path.stem, wire_len=wires)
    from dataclasses import replace

    return replace(batch, linktype=np.array(lts, dtype=np.int64))


def _pcap(buf: bytes) -> tuple[list[bytes], list[int], list[int]]:
    e = _PCAP_MAGICS[buf[:4]]
    lt = struct.unpack_from(e + "I", buf, 20)[0] & 0x0FFFFFFF
    frames, lts, wires = [], [], []
    off = 24
    while off + 16 <= len(buf):
        _s, _u, incl, orig = struct.unpack_from(e + "IIII", buf, off)
        off += 16
        frames.append(buf[off : off + incl])
        lts.append(lt)
        wires.append(max(orig, len(frames[-1])))
        off += incl
    return frames, lts, wires


def _pcapng(buf: bytes) -> tuple[list[bytes], list[int], list[int]]:
    frames, lts, wires = [], [], []
    e = "<"
    idbs: list[int] = []
    off = 0
    while off + 12 <= len(buf):
        btype = struct.unpack_from(e + "I", buf, off)[0]
        if buf[off : off + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if buf[off + 8 : off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            btype = 0x0A0D0D0A
            idbs = []
        blen = struct.unpack_from(e + "I", buf, off + 4)[0]
        if blen < 12 or off + blen > len(buf):
            break
        body = buf[off + 8 : off + blen - 4]
        if btype == 1:
            idbs.append(struct.unpack_from(e + "H", body, 0)[0])
        elif btype == 6:
            iface, _h, _l, incl, orig = struct.unpack_from(e + "IIIII", body, 0)
            frames.append(body[20 : 20 + incl])
            lts.append(idbs[iface] if iface < len(idbs) else -1)
            wires.append(max(orig, incl))
        elif btype == 3:
            orig = struct.unpack_from(e + "I", body, 0)[0]
            data = body[4 : 4 + orig]
            frames.append(data)
            lts.append(idbs[0] if idbs else -1)
            wires.append(max(orig, len(data)))
        elif btype == 2:
            iface, _d, _h, _l, incl, orig = struct.unpack_from(e + "HHIIII", body, 0)
            frames.append(body[20 : 20 + incl])
            lts.append(idbs[iface] if iface < len(idbs) else -1)
            wires.append(max(orig, incl))
        off += blen
    return frames, lts, wires
