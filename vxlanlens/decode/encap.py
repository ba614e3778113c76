"""Other encapsulations: GRE (tunnel or mirror), ERSPAN I/II/III, MPLS, PPPoE, NSH, IP-in-IP.

Sources for the layouts: RFC 2784 / RFC 2890 (GRE), draft-foschiano-erspan-03 (ERSPAN),
RFC 3032 (MPLS), RFC 2516 (PPPoE), RFC 8300 (NSH), RFC 2473 / RFC 4213 (IP in IP).
"""

from __future__ import annotations

import numpy as np

from ..proto import EtherType, IpTunnelKind, MirrorKind
from ._state import (
    P_DONE,
    P_ETH,
    P_IPV4,
    P_IPV6,
    P_MPLS,
    P_NSH,
    P_RAW,
    State,
    put,
    u8,
    u16,
    u24,
    u32,
)
from .mirror import peel
from .tunnel import enter

__all__ = ["gre", "ip_in_ip", "mpls", "nsh", "pppoe"]

_C, _R, _K, _S = 0x8000, 0x4000, 0x2000, 0x1000
_GRE_NEXT = {
    EtherType.IPV4: P_IPV4,
    EtherType.IPV6: P_IPV6,
    EtherType.TEB: P_ETH,
    EtherType.MPLS: P_MPLS,
    EtherType.MPLS_MC: P_MPLS,
    EtherType.NSH: P_NSH,
}
_PLATFORM_PORT_MASK = {3: 0x3FFF, 5: 0xFFFF, 6: 0xFFFF}
"""ERSPAN III platform-specific subheader: platform id -> mask of its Port ID/Index field."""


# GRE (RFC 2784 with the RFC 2890 key and sequence number):
#
#   |C|R|K|S|s|Recur|  Flags  | Ver |         Protocol Type         |
#   |      Checksum (optional)      |       Reserved1 (optional)    |
#   |                         Key (optional)                        |
#   |                 Sequence Number (optional)                    |
#
# ERSPAN (draft-foschiano-erspan-03) rides on GRE: type I is protocol 0x88be without the S
# bit and no header of its own; type II is 0x88be with S and an 8-byte header
# (Ver=1 | VLAN 12 | COS 3 | En 2 | T 1 | Session 10, then Reserved 12 | Index 20); type III is
# 0x22eb with a 12-byte header (Ver=2 | VLAN | COS | BSO | T | Session, Timestamp 32, then
# SGT 16 | P 1 | FT 5 | HW ID 6 | D 1 | Gra 2 | O 1) and, when O is set, an 8-byte
# platform-specific subheader (Platf ID 6 bits first; ids 3, 5, 6 carry a Port ID/Index).
def gre(st: State, rows: np.ndarray) -> None:
    """GRE header; ERSPAN and outermost Ethernet-in-GRE are mirrors (peeled), the rest tunnels."""
    rows = st.keep(rows, 4, "gre", "GRE header")
    d, pos = st.data, st.pos[rows]
    b = st.start[rows] + pos
    flags, proto = u16(d, b, 0), u16(d, b, 2)
    ver = flags & 7
    bad = (ver != 0) | ((flags & _R) != 0)
    if bad.any():
        st.fail(
            rows[bad],
            "gre",
            "GRE version {a} with flags 0x{c:04x} at offset {b} is not decoded "
            "(version 1 is PPTP, the R bit source routing)",
            ver[bad],
            pos[bad],
            flags[bad],
        )
        ok = ~bad
        rows, pos, b, flags, proto = rows[ok], pos[ok], b[ok], flags[ok], proto[ok]
    has_c, has_k, has_s = (flags & _C) != 0, (flags & _K) != 0, (flags & _S) != 0
    hlen = 4 + 4 * (has_c.astype(np.int64) + has_k + has_s)
    ok = st.need(rows, hlen, "gre", "GRE header with its optional fields", pos=pos)
    rows, pos, b, flags, proto, hlen, has_c, has_k, has_s = (
        a[ok] for a in (rows, pos, b, flags, proto, hlen, has_c, has_k, has_s)
    )
    key = u32(d, b, np.where(has_c, 8, 4) * has_k)
    outermost = (st.depth[rows] == 0) & (st.mirror[rows] == 0)
    inner = pos + hlen

    e1 = (proto == EtherType.ERSPAN_2) & ~has_s
    e2 = (proto == EtherType.ERSPAN_2) & has_s
    e3 = proto == EtherType.ERSPAN_3
    teb_mirror = (proto == EtherType.TEB) & outermost
    erspan = e1 | e2 | e3
    nested = erspan & ~outermost
    st.fail(
        rows[nested],
        "erspan",
        "ERSPAN inside a tunnel or another mirror transport at offset {b} is not decoded",
        0,
        pos[nested],
    )
    m = (e1 | teb_mirror) & outermost
    peel_kind = np.where(e1, MirrorKind.ERSPAN_1, MirrorKind.GRE)
    for kind in (MirrorKind.ERSPAN_1, MirrorKind.GRE):
        k = m & (peel_kind == kind)
        peel(st, rows[k], kind, inner[k], key[k], has_k[k])
    for mask, kind in (
        (e2 & outermost, MirrorKind.ERSPAN_2),
        (e3 & outermost, MirrorKind.ERSPAN_3),
    ):
        if mask.any():
            _erspan(st, rows[mask], inner[mask], kind)

    tun = ~erspan & ~teb_mirror
    if not tun.any():
        return
    rows, _first = enter(st, rows[tun], "gre", IpTunnelKind.GRE, ip_tunnel=True)
    _gre_tunnel(st, rows)


def _gre_tunnel(st: State, rows: np.ndarray) -> None:
    """Rows that entered a GRE tunnel (``enter`` may have stopped some at the depth limit, so
    the header is read again): key and protocol, next protocol from the GRE type."""
    if rows.size == 0:
        return
    d = st.data
    b = st.start[rows] + st.pos[rows]
    flags = u16(d, b, 0)
    proto = u16(d, b, 2)
    has_c, has_k = (flags & _C) != 0, (flags & _K) != 0
    key = u32(d, b, np.where(has_c, 8, 4) * has_k)
    hlen = 4 + 4 * (has_c.astype(np.int64) + has_k + ((flags & _S) != 0))
    out = st.out
    out.int("gre_proto", rows, proto)
    out.int("gre_key", rows[has_k], key[has_k])
    nxt = np.full(rows.size, P_DONE, dtype=np.int8)
    for value, code in _GRE_NEXT.items():
        nxt[proto == value] = code
    st.pos[rows] += hlen
    st.nxt[rows] = nxt


def _erspan(st: State, rows: np.ndarray, at: np.ndarray, kind: int) -> None:
    """ERSPAN type II or III header at record offset ``at``; peels the mirror."""
    size = 8 if kind == MirrorKind.ERSPAN_2 else 12
    layer, name = "erspan", f"ERSPAN type {'II' if size == 8 else 'III'} header"
    ok = st.need(rows, size, layer, name, pos=at)
    rows, at = rows[ok], at[ok]
    d = st.data
    b = st.start[rows] + at
    w0 = u32(d, b, 0)
    ver = w0 >> 28
    want = 1 if size == 8 else 2
    bad = ver != want
    st.fail(
        rows[bad],
        layer,
        f"{name}: expected version {want}, found {{a}} at offset {{b}}",
        ver[bad],
        at[bad],
    )
    ok = ~bad
    rows, at, b, w0 = rows[ok], at[ok], b[ok], w0[ok]
    vlan, session = (w0 >> 16) & 0xFFF, w0 & 0x3FF
    out = st.out
    if size == 8:
        port = u32(d, b, 4) & 0xFFFFF
        peel(st, rows, kind, at + 8, session)
        out.int("mirror_port", rows, port)
    else:
        w2 = u32(d, b, 8)
        sub = (w2 & 1) != 0
        ok = np.ones(rows.size, dtype=bool)
        if sub.any():
            ok[sub] = st.need(
                rows[sub], 20, layer, "ERSPAN type III platform subheader", pos=at[sub]
            )
        rows, at, b, w0, w2, sub, vlan, session = (
            a[ok] for a in (rows, at, b, w0, w2, sub, vlan, session)
        )
        ts = u32(d, b, 4)
        ft = (w2 >> 10) & 0x1F
        inner = at + 12 + 8 * sub
        peel(st, rows, kind, inner, session)
        out.int("mirror_timestamp", rows, ts)
        out.int("mirror_hw_id", rows, (w2 >> 4) & 0x3F)
        st.mirror_dir[rows] = (w2 >> 3) & 1
        if sub.any():
            sw = u32(d, b[sub], 12)
            pid = sw >> 26
            mask = np.zeros(sw.size, dtype=np.int64)
            for p, m in _PLATFORM_PORT_MASK.items():
                mask[pid == p] = m
            has = mask != 0
            out.int("mirror_port", rows[sub][has], (sw & mask)[has])
        st.nxt[rows[ft != 0]] = P_RAW  # frame type 2: an IP packet, no Ethernet header
    nz = vlan != 0
    out.int("mirror_vlan", rows[nz], vlan[nz])


def mpls(st: State, rows: np.ndarray) -> None:
    """MPLS label stack (RFC 3032): top label and depth; the IP packet below the bottom label is
    decoded by its first nibble (4 or 6); other payloads (pseudowires) stop with an error."""
    d = st.data
    act = rows
    for i in range(16):
        act = act[st.need(act, 4, "mpls", "MPLS label")]
        if act.size == 0:
            return
        w = u32(d, st.base(act), 0)
        if i == 0:
            st.out.int("mpls_label", act, w >> 12)
        st.pos[act] += 4
        bos = (w >> 8) & 1
        st.out.int("mpls_depth", act, i + 1)
        done = act[bos == 1]
        _below_stack(st, done)
        act = act[bos == 0]
    st.fail(
        act,
        "mpls",
        "more than 16 MPLS labels; the rest is not decoded at offset {b}",
        0,
        st.pos[act],
    )


def _below_stack(st: State, rows: np.ndarray) -> None:
    rows = rows[st.need(rows, 1, "mpls", "MPLS payload")]
    nib = u8(st.data, st.base(rows), 0) >> 4
    st.nxt[rows[nib == 4]] = P_IPV4
    st.nxt[rows[nib == 6]] = P_IPV6
    other = (nib != 4) & (nib != 6)
    st.fail(
        rows[other],
        "mpls",
        "MPLS payload at offset {b} is not IPv4 or IPv6 (first nibble {a}): not decoded",
        nib[other],
        st.pos[rows[other]],
    )


_PPP_NEXT = {0x0021: P_IPV4, 0x0057: P_IPV6}


def pppoe(st: State, rows: np.ndarray) -> None:
    """PPPoE (RFC 2516): code and session id; a session frame's PPP protocol, IPv4 and IPv6
    decoded; discovery frames (PADI, PADO, ...) and PPP control protocols are named only."""
    rows = st.keep(rows, 6, "pppoe", "PPPoE header", container="frame")
    d, b = st.data, st.base(rows)
    vt = u8(d, b, 0)
    bad = vt != 0x11
    st.fail(
        rows[bad],
        "pppoe",
        "PPPoE header: expected version 1 type 1 (0x11), found 0x{a:02x} at offset {b}",
        vt[bad],
        st.pos[rows[bad]],
    )
    rows, b = rows[~bad], b[~bad]
    st.out.int("pppoe_code", rows, u8(d, b, 1))
    st.out.int("pppoe_session", rows, u16(d, b, 2))
    sess = st.etype[rows] == EtherType.PPPOE_SESS
    st.nxt[rows[~sess]] = P_DONE
    rows = rows[sess]
    rows = st.keep(
        rows, 8, "pppoe", "PPPoE session header with the PPP protocol", container="frame"
    )
    proto = u16(d, st.base(rows), 6)
    st.out.int("ppp_proto", rows, proto)
    nxt = np.full(rows.size, P_DONE, dtype=np.int8)
    for value, code in _PPP_NEXT.items():
        nxt[proto == value] = code
    st.pos[rows] += 8
    st.nxt[rows] = nxt


_NSH_NEXT = {1: P_IPV4, 2: P_IPV6, 3: P_ETH, 4: P_NSH, 5: P_MPLS}


def nsh(st: State, rows: np.ndarray) -> None:
    """Network Service Header (RFC 8300): base header (length in 4-byte words, next protocol)
    and service path header (SPI 24 bits, SI 8 bits); context headers are skipped."""
    rows = st.keep(rows, 8, "nsh", "NSH base and service path header")
    d, pos = st.data, st.pos[rows]
    b = st.start[rows] + pos
    ver = u8(d, b, 0) >> 6
    length = (u8(d, b, 1) & 0x3F) * 4
    bad = (ver != 0) | (length < 8)
    st.fail(
        rows[bad],
        "nsh",
        "NSH header at offset {b}: version {a} and length {c} bytes are not valid",
        ver[bad],
        pos[bad],
        length[bad],
    )
    ok = ~bad
    rows, b, length = rows[ok], b[ok], length[ok]
    st.out.int("nsh_spi", rows, u24(d, b, 4))
    st.out.int("nsh_si", rows, u8(d, b, 7))
    nproto = u8(d, b, 3)
    ok = st.need(rows, length, "nsh", "NSH header with its context headers")
    rows, length, nproto = rows[ok], length[ok], nproto[ok]
    nxt = np.full(rows.size, P_DONE, dtype=np.int8)
    for value, code in _NSH_NEXT.items():
        nxt[nproto == value] = code
    st.pos[rows] += length
    put(st.nxt, rows, nxt)


def ip_in_ip(st: State, rows: np.ndarray) -> None:
    """IP directly in IP (6in4, 4in4, 4in6, 6in6): a tunnel; the inner version nibble decides."""
    rows, _first = enter(st, rows, "ip-in-ip", IpTunnelKind.IP_IN_IP, ip_tunnel=True)
    rows = st.keep(rows, 1, "ip-in-ip", "inner IP header")
    nib = u8(st.data, st.base(rows), 0) >> 4
    st.nxt[rows] = np.where(nib == 4, P_IPV4, P_IPV6)
    other = (nib != 4) & (nib != 6)
    st.fail(
        rows[other],
        "ip-in-ip",
        "inner IP header at offset {b}: expected version 4 or 6, found {a}",
        nib[other],
        st.pos[rows[other]],
    )
