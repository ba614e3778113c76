"""UDP and TCP headers."""

from __future__ import annotations

import numpy as np

from ._state import P_DONE, State, u8, u16, u32
from .tunnel import classify

__all__ = ["tcp", "udp"]


def udp(st: State, rows: np.ndarray) -> None:
    """UDP header: ports, length (checked unless the IP length was 0), checksum; then tunnels."""
    rows = rows[st.need(rows, 8, "udp", "UDP header")]
    d = st.data
    b = st.base(rows)
    pos = st.pos[rows]
    ulen = u16(d, b, 4)
    jumbo = st.jumbo[rows]
    avail = st.end[rows] - pos
    small = ~jumbo & (ulen < 8)
    st.fail(
        rows[small],
        "udp",
        "UDP length {a} is less than its 8-byte header at offset {b}",
        ulen[small],
        pos[small],
    )
    over = ~jumbo & ~small & (ulen > avail)
    st.fail(
        rows[over],
        "udp",
        "UDP length {a} exceeds the {c} bytes left in the IP packet at offset {b}",
        ulen[over],
        pos[over],
        avail[over],
    )
    keep = ~(small | over)
    rows, b, pos, ulen, jumbo = rows[keep], b[keep], pos[keep], ulen[keep], jumbo[keep]
    end = np.where(jumbo, st.end[rows], pos + ulen)
    st.end[rows] = end
    sport, dport = u16(d, b, 0), u16(d, b, 2)
    out = st.out
    out.int("sport", rows, sport)
    out.int("dport", rows, dport)
    out.int("payload_len", rows, end - pos - 8)
    st.udp_len[rows] = ulen
    st.udp_csum[rows] = u16(d, b, 6)
    st.pos[rows] = pos + 8
    st.nxt[rows] = P_DONE
    classify(st, rows, sport, dport)


def tcp(st: State, rows: np.ndarray) -> None:
    """TCP header: ports, sequence and acknowledgement numbers, flags (with NS), data offset."""
    rows = rows[st.need(rows, 20, "tcp", "TCP header")]
    d = st.data
    b = st.base(rows)
    b12 = u8(d, b, 12)
    off = (b12 >> 4) * 4
    bad = off < 20
    st.fail(
        rows[bad],
        "tcp",
        "TCP data offset must be at least 20 bytes, found {a} at offset {b}",
        off[bad],
        st.pos[rows[bad]],
    )
    rows, b, off, b12 = rows[~bad], b[~bad], off[~bad], b12[~bad]
    ok = st.need(rows, off, "tcp", "TCP header with options")
    rows, b, off, b12 = rows[ok], b[ok], off[ok], b12[ok]
    out = st.out
    out.int("sport", rows, u16(d, b, 0))
    out.int("dport", rows, u16(d, b, 2))
    out.int("tcp_seq", rows, u32(d, b, 4))
    out.int("tcp_ack", rows, u32(d, b, 8))
    out.int("tcp_flags", rows, ((b12 & 1) << 8) | u8(d, b, 13))
    out.int("payload_len", rows, st.end[rows] - st.pos[rows] - off)
    st.pos[rows] += off
    st.nxt[rows] = P_DONE
