"""UDP and TCP headers."""

from __future__ import annotations

import numpy as np

from ._state import P_DONE, State, header, layout, put, select
from .tunnel import classify

__all__ = ["tcp", "udp"]

_UDP = layout(8, sport=(0, ">u2"), dport=(2, ">u2"), length=(4, ">u2"), csum=(6, ">u2"))
_TCP = layout(
    20,
    sport=(0, ">u2"),
    dport=(2, ">u2"),
    seq=(4, ">u4"),
    ack=(8, ">u4"),
    offset=(12, "u1"),
    flags=(13, "u1"),
)


def udp(st: State, rows: np.ndarray) -> None:
    """UDP header: ports, length (checked unless the IP length was 0), checksum; then tunnels."""
    pos, end = st.pos[rows], st.end[rows]
    ok = st.need(rows, 8, "udp", "UDP header", pos=pos, limit=end)
    rows, pos, end = select(ok, rows, pos, end)
    h = header(st.data, st.start[rows] + pos, _UDP)
    ulen = h["length"].astype(np.int64)
    jumbo = st.jumbo[rows]
    avail = end - pos
    # A length to check (or one not to: BIG TCP) in one test for the usual case.
    if ((ulen < 8) | (ulen > avail)).any():
        small = ~jumbo & (ulen < 8)
        over = ~jumbo & ~small & (ulen > avail)
        if small.any() or over.any():
            st.fail(
                rows[small],
                "udp",
                "UDP length {a} is less than its 8-byte header at offset {b}",
                ulen[small],
                pos[small],
            )
            st.fail(
                rows[over],
                "udp",
                "UDP length {a} exceeds the {c} bytes left in the IP packet at offset {b}",
                ulen[over],
                pos[over],
                avail[over],
            )
            rows, h, pos, end, ulen, jumbo = select(~(small | over), rows, h, pos, end, ulen, jumbo)
    end = np.where(jumbo, end, pos + ulen) if jumbo.any() else pos + ulen
    put(st.end, rows, end)
    sport, dport = h["sport"].astype(np.uint16), h["dport"].astype(np.uint16)
    out = st.out
    out.int("sport", rows, sport)
    out.int("dport", rows, dport)
    out.int("payload_len", rows, end - pos - 8)
    put(st.udp_len, rows, ulen)
    put(st.udp_csum, rows, h["csum"])
    put(st.udp_at, rows, pos)
    put(st.pos, rows, pos + 8)
    put(st.nxt, rows, P_DONE)
    classify(st, rows, sport, dport, pos=pos + 8, end=end)


def tcp(st: State, rows: np.ndarray) -> None:
    """TCP header: ports, sequence and acknowledgement numbers, flags (with NS), data offset."""
    pos, end = st.pos[rows], st.end[rows]
    ok = st.need(rows, 20, "tcp", "TCP header", pos=pos, limit=end)
    rows, pos, end = select(ok, rows, pos, end)
    h = header(st.data, st.start[rows] + pos, _TCP)
    b12 = h["offset"].astype(np.int64)
    off = (b12 >> 4) * 4
    bad = off < 20
    if bad.any():
        st.fail(
            rows[bad],
            "tcp",
            "TCP data offset must be at least 20 bytes, found {a} at offset {b}",
            off[bad],
            pos[bad],
        )
        rows, h, off, b12, pos, end = select(~bad, rows, h, off, b12, pos, end)
    ok = st.need(rows, off, "tcp", "TCP header with options", pos=pos, limit=end)
    rows, h, off, b12, pos, end = select(ok, rows, h, off, b12, pos, end)
    out = st.out
    out.int("sport", rows, h["sport"])
    out.int("dport", rows, h["dport"])
    out.int("tcp_seq", rows, h["seq"])
    out.int("tcp_ack", rows, h["ack"])
    out.int("tcp_flags", rows, ((b12 & 1) << 8) | h["flags"])
    out.int("payload_len", rows, end - pos - off)
    put(st.pos, rows, pos + off)
    put(st.nxt, rows, P_DONE)
