"""ICMP and ICMPv6: echo, errors with the quoted packet, Packet Too Big, neighbour discovery."""

from __future__ import annotations

import numpy as np

from ..proto import ICMP_FRAG_NEEDED, ND_OPTIONS_AT, ICMPType, ICMPv6Type, IPProto, NDOption
from ._state import P_DONE, State, addr, header, isin, layout, mac, put, select, u8, u16, u32

__all__ = ["icmp", "icmpv6"]

_T6 = ICMPv6Type
_ECHO4 = ICMPType.with_id_seq()  # echo, timestamp, information, address mask: id/seq
_ERR4 = ICMPType.errors()
_ERR6 = ICMPv6Type.errors()
# minimum length of the ND messages with a fixed part beyond the ICMPv6 header
_ND_MIN: dict[int, tuple[int, str]] = {
    t: (ND_OPTIONS_AT[t], what)
    for t, what in (
        (_T6.NEIGHBOR_SOLICITATION, "ICMPv6 Neighbor Solicitation"),
        (_T6.NEIGHBOR_ADVERTISEMENT, "ICMPv6 Neighbor Advertisement"),
        (_T6.ROUTER_ADVERTISEMENT, "ICMPv6 Router Advertisement"),
        (_T6.REDIRECT, "ICMPv6 Redirect"),
    )
}
_ND_OPTS_AT = ND_OPTIONS_AT
_MAX_ND_OPTIONS = 128
_MAX_QUOTED_EXT = 4


_ICMP = layout(
    8,
    type=(0, "u1"),
    code=(1, "u1"),
    ident=(4, ">u2"),
    seq=(6, ">u2"),
    mtu32=(4, ">u4"),
    mtu16=(6, ">u2"),
    b4=(4, "u1"),
    b5=(5, "u1"),
)


def _header(
    st: State, rows: np.ndarray, layer: str, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 8-byte ICMP / ICMPv6 header: rows that have it, their offsets and header records."""
    pos, end = st.pos[rows], st.end[rows]
    ok = st.need(rows, 8, layer, what, pos=pos, limit=end)
    rows, pos, end = select(ok, rows, pos, end)
    b = st.start[rows] + pos
    h = header(st.data, b, _ICMP)
    out = st.out
    out.int("icmp_type", rows, h["type"])
    out.int("icmp_code", rows, h["code"])
    out.int("payload_len", rows, end - pos - 8)
    put(st.nxt, rows, P_DONE)
    return rows, b, h


def icmp(st: State, rows: np.ndarray) -> None:
    """ICMP: type, code, echo id/seq, fragmentation-needed MTU, the packet quoted by an error."""
    rows, _b, h = _header(st, rows, "icmp", "ICMP header")
    out = st.out
    t, c = h["type"], h["code"]
    echo = isin(t, _ECHO4)
    out.int("echo_id", rows[echo], h["ident"][echo])
    out.int("echo_seq", rows[echo], h["seq"][echo])
    fn = (t == ICMPType.DEST_UNREACH) & (c == ICMP_FRAG_NEEDED)
    out.int("mtu", rows[fn], h["mtu16"][fn])
    _quoted(st, rows[isin(t, _ERR4)], "icmp", 4)


def icmpv6(st: State, rows: np.ndarray) -> None:
    """ICMPv6: echo, errors (quoted packet), Packet Too Big, RS/RA/NS/NA/Redirect with options."""
    rows, b, h = _header(st, rows, "icmpv6", "ICMPv6 header")
    d, out = st.data, st.out
    t = h["type"]
    echo = (t == _T6.ECHO_REQUEST) | (t == _T6.ECHO_REPLY)
    out.int("echo_id", rows[echo], h["ident"][echo])
    out.int("echo_seq", rows[echo], h["seq"][echo])
    ptb = t == _T6.PACKET_TOO_BIG
    out.int("mtu", rows[ptb], h["mtu32"][ptb])
    _quoted(st, rows[isin(t, _ERR6)], "icmpv6", 6)

    nd = (t >= _T6.ROUTER_SOLICITATION) & (t <= _T6.REDIRECT)
    if not nd.any():
        return
    rows, b, h = select(nd, rows, b, h)
    for typ, (size, what) in _ND_MIN.items():
        m = h["type"] == typ
        if m.any():
            m[m] = ~st.need(rows[m], size, "icmpv6", what)
            rows, b, h = select(~m, rows, b, h)
    t = h["type"]
    tgt = (t == _T6.NEIGHBOR_SOLICITATION) | (t == _T6.NEIGHBOR_ADVERTISEMENT) | (t == _T6.REDIRECT)
    out.ip("nd_target", rows[tgt], addr(d, b[tgt], 8, 16))
    na = t == _T6.NEIGHBOR_ADVERTISEMENT
    st.nd_flags[rows[na]] = (h["b4"][na] >> 5) & 7
    ra = t == _T6.ROUTER_ADVERTISEMENT
    st.nd_flags[rows[ra]] = 8 + ((h["b5"][ra] >> 6) & 3)
    start = np.zeros(rows.size, dtype=np.int64)
    for typ, at in _ND_OPTS_AT.items():
        start[t == typ] = at
    _nd_options(st, rows, start, t)


def _nd_options(st: State, rows: np.ndarray, start: np.ndarray, msg: np.ndarray) -> None:
    """Walk ND options (RFC 4861 4.6): link-layer address options and the RA MTU option."""
    d, out = st.data, st.out
    cur = st.pos[rows] + start
    for _ in range(_MAX_ND_OPTIONS):
        m = cur < st.end[rows]
        rows, cur, msg = rows[m], cur[m], msg[m]
        if rows.size == 0:
            return
        ok = st.need(rows, 2, "icmpv6", "ND option header", at=cur - st.pos[rows])
        rows, cur, msg = rows[ok], cur[ok], msg[ok]
        ob = st.start[rows] + cur
        typ = u8(d, ob, 0)
        ln = u8(d, ob, 1) * 8
        zero = ln == 0
        st.fail(
            rows[zero],
            "icmpv6",
            "ND option length must be at least 1 (RFC 4861), found 0 at offset {b}",
            0,
            cur[zero],
        )
        nz = ~zero
        rows, cur, msg, ob, typ, ln = rows[nz], cur[nz], msg[nz], ob[nz], typ[nz], ln[nz]
        ok = st.need(rows, ln, "icmpv6", "ND option", at=cur - st.pos[rows])
        rows, cur, msg, ob, typ, ln = rows[ok], cur[ok], msg[ok], ob[ok], typ[ok], ln[ok]
        src_lla = (typ == NDOption.SOURCE_LLADDR) & (
            (msg == _T6.ROUTER_SOLICITATION)
            | (msg == _T6.ROUTER_ADVERTISEMENT)
            | (msg == _T6.NEIGHBOR_SOLICITATION)
        )
        tgt_lla = (typ == NDOption.TARGET_LLADDR) & (
            (msg == _T6.NEIGHBOR_ADVERTISEMENT) | (msg == _T6.REDIRECT)
        )
        lla = (src_lla | tgt_lla) & (ln >= 8)
        out.mac("nd_lladdr", rows[lla], mac(d, ob[lla], 2))
        mtu = (typ == NDOption.MTU) & (msg == _T6.ROUTER_ADVERTISEMENT) & (ln >= 8)
        out.int("mtu", rows[mtu], u32(d, ob[mtu], 4))
        cur = cur + ln


def _quoted(st: State, rows: np.ndarray, layer: str, family: int) -> None:
    """Decode the IP header (and ports / echo id) of the packet quoted by an ICMP error."""
    if rows.size == 0:
        return
    d, out = st.data, st.out
    name = "IPv4" if family == 4 else "IPv6"
    size = 20 if family == 4 else 40
    rows = rows[st.need(rows, size, layer, f"quoted {name} header", at=8)]
    qb = st.base(rows) + 8
    ver = u8(d, qb, 0) >> 4
    bad = ver != family
    st.fail(
        rows[bad],
        layer,
        f"quoted packet: expected IP version {family}, found {{a}} at offset {{b}}",
        ver[bad],
        st.pos[rows[bad]] + 8,
    )
    rows, qb = rows[~bad], qb[~bad]
    if family == 4:
        ihl = (u8(d, qb, 0) & 0x0F) * 4
        small = ihl < 20
        st.fail(
            rows[small],
            layer,
            "quoted IPv4 header length (IHL) must be at least 20 bytes, found {a} at offset {b}",
            ihl[small],
            st.pos[rows[small]] + 8,
        )
        rows, qb, ihl = rows[~small], qb[~small], ihl[~small]
        ok = st.need(rows, ihl, layer, "quoted IPv4 header with options", at=8)
        rows, qb, ihl = rows[ok], qb[ok], ihl[ok]
        nh = u8(d, qb, 9)
        first = (u16(d, qb, 6) & 0x1FFF) == 0
        out.ip("emb_src_ip", rows, addr(d, qb, 12, 4))
        out.ip("emb_dst_ip", rows, addr(d, qb, 16, 4))
        out.int("emb_ip_len", rows, u16(d, qb, 2))
        l4 = st.pos[rows] + 8 + ihl
        echo_proto: int = IPProto.ICMP
        echo_types: tuple[int, ...] = (ICMPType.ECHO_REPLY, ICMPType.ECHO_REQUEST)
    else:
        nh = u8(d, qb, 6)
        first = np.ones(rows.size, dtype=bool)
        out.ip("emb_src_ip", rows, addr(d, qb, 8, 16))
        out.ip("emb_dst_ip", rows, addr(d, qb, 24, 16))
        out.int("emb_ip_len", rows, 40 + u16(d, qb, 4))
        l4 = st.pos[rows] + 48
        lim = np.minimum(st.cap[rows], st.end[rows])
        for _ in range(_MAX_QUOTED_EXT):
            ext = (
                (nh == IPProto.HOPOPT)
                | (nh == IPProto.IPV6_ROUTE)
                | (nh == IPProto.IPV6_OPTS)
                | (nh == IPProto.IPV6_FRAG)
            ) & (l4 + 8 <= lim)
            if not ext.any():
                break
            hb = st.start[rows[ext]] + l4[ext]
            enh = nh[ext]
            isfrag = enh == IPProto.IPV6_FRAG
            ln = np.where(isfrag, 8, (u8(d, hb, 1) + 1) * 8)
            first[ext] &= ~isfrag | ((u16(d, hb, 2) >> 3) == 0)
            nh[ext] = u8(d, hb, 0)
            l4[ext] += ln
        echo_proto, echo_types = IPProto.ICMPV6, (_T6.ECHO_REQUEST, _T6.ECHO_REPLY)
    out.int("emb_ip_version", rows, family)
    out.int("emb_ip_proto", rows, nh)
    lim = np.minimum(st.cap[rows], st.end[rows])
    ports = ((nh == IPProto.TCP) | (nh == IPProto.UDP)) & first & (l4 + 4 <= lim)
    pb = st.start[rows[ports]] + l4[ports]
    out.int("emb_sport", rows[ports], u16(d, pb, 0))
    out.int("emb_dport", rows[ports], u16(d, pb, 2))
    ech = (nh == echo_proto) & first & (l4 + 8 <= lim)
    eb = st.start[rows[ech]] + l4[ech]
    et = u8(d, eb, 0)
    is_echo = isin(et, echo_types)
    er, eb = rows[ech][is_echo], eb[is_echo]
    out.int("emb_echo_id", er, u16(d, eb, 4))
    out.int("emb_echo_seq", er, u16(d, eb, 6))
