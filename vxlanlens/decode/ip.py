"""IPv4 (options, fragments, BIG TCP) and IPv6 (extension headers, fragments, BIG TCP)."""

from __future__ import annotations

import numpy as np

from ..proto import IPProto
from ._state import (
    P_AH,
    P_DONE,
    P_GRE,
    P_ICMP,
    P_ICMP6,
    P_IP6EXT,
    P_IPIP,
    P_TCP,
    P_UDP,
    State,
    header,
    layout,
    put,
    select,
    u8,
    u16,
    u32,
)

__all__ = ["EXT_NAMES", "ah4", "ipv4", "ipv6", "ipv6_ext"]

_NEXT4 = np.zeros(256, dtype=np.int8)
_NEXT4[IPProto.ICMP] = P_ICMP
_NEXT4[IPProto.TCP] = P_TCP
_NEXT4[IPProto.UDP] = P_UDP
_NEXT4[IPProto.GRE] = P_GRE
_NEXT4[IPProto.IPIP] = P_IPIP
_NEXT4[IPProto.IPV6_ENCAP] = P_IPIP
_NEXT4[IPProto.AH] = P_AH

_NEXT6 = np.zeros(256, dtype=np.int8)
_NEXT6[IPProto.TCP] = P_TCP
_NEXT6[IPProto.UDP] = P_UDP
_NEXT6[IPProto.ICMPV6] = P_ICMP6
_NEXT6[IPProto.GRE] = P_GRE
_NEXT6[IPProto.IPIP] = P_IPIP
_NEXT6[IPProto.IPV6_ENCAP] = P_IPIP

# IPv6 next-header value -> extension code (0: not an extension header).
_EXT = np.zeros(256, dtype=np.int64)
_EXT[IPProto.HOPOPT] = 1
_EXT[IPProto.IPV6_ROUTE] = 2
_EXT[IPProto.IPV6_FRAG] = 3
_EXT[IPProto.IPV6_OPTS] = 4
_EXT[IPProto.AH] = 5  # skipped by its length: its payload is in clear (RFC 4302)
_EXT[IPProto.ESP] = 6  # stop
_EXT[IPProto.IPV6_NONXT] = 7  # stop

EXT_NAMES = ("", "hop-by-hop", "routing", "fragment", "dest-opts", "ah", "esp", "no-next")
"""Names used in ``ip6_ext``, by extension code."""

_MAX_EXT = 12


_IPV4 = layout(
    20,
    vihl=(0, "u1"),
    total=(2, ">u2"),
    ident=(4, ">u2"),
    frag=(6, ">u2"),
    ttl=(8, "u1"),
    proto=(9, "u1"),
    src=(12, "V4"),
    dst=(16, "V4"),
)
_IPV6 = layout(
    40,
    vtc=(0, "u1"),
    plen=(4, ">u2"),
    nh=(6, "u1"),
    hlim=(7, "u1"),
    src=(8, "V16"),
    dst=(24, "V16"),
)


def ipv4(st: State, rows: np.ndarray) -> None:
    """IPv4 header: checks version, IHL and total length, then fields; fragments stop at L3."""
    pos, end = st.pos[rows], st.end[rows]
    ok = st.need(rows, 20, "ipv4", "IPv4 header", pos=pos, limit=end)
    rows, pos, end = select(ok, rows, pos, end)
    h = header(st.data, st.start[rows] + pos, _IPV4)
    vihl = h["vihl"]
    if (vihl == 0x45).all():  # the usual case: version 4 without options, its 20 bytes checked
        ihl = np.full(rows.shape[0], 20, dtype=np.int64)
    else:
        v0 = h["vihl"].astype(np.int64)
        ver, ihl = v0 >> 4, (v0 & 0x0F) * 4
        bad = ver != 4
        bad2 = ~bad & (ihl < 20)
        if bad.any() or bad2.any():
            st.fail(
                rows[bad],
                "ipv4",
                "IPv4 header: expected version 4, found {a} at offset {b}",
                ver[bad],
                pos[bad],
            )
            st.fail(
                rows[bad2],
                "ipv4",
                "IPv4 header length (IHL) must be at least 20 bytes, found {a} at offset {b}",
                ihl[bad2],
                pos[bad2],
            )
            rows, h, ihl, pos, end = select(~(bad | bad2), rows, h, ihl, pos, end)
        ok = st.need(rows, ihl, "ipv4", "IPv4 header with options", pos=pos, limit=end)
        rows, h, ihl, pos, end = select(ok, rows, h, ihl, pos, end)

    tl = h["total"].astype(np.int64)
    avail = end - pos
    # The need() above checked ihl <= avail: a length below the header (or 0, BIG TCP) or past
    # the bytes left is all there is to look at, in one test for the usual case.
    if ((tl < ihl) | (tl > avail)).any():
        jumbo = tl == 0  # BIG TCP / GSO: the length is whatever was captured
        short = ~jumbo & (tl < ihl)
        over = tl > avail
        if short.any() or over.any():
            st.fail(
                rows[short],
                "ipv4",
                "IPv4 total length {a} is shorter than its {c}-byte header at offset {b}",
                tl[short],
                pos[short],
                ihl[short],
            )
            st.fail(
                rows[over],
                "ipv4",
                "IPv4 total length {a} exceeds the {c} bytes left in the frame at offset {b}",
                tl[over],
                pos[over],
                avail[over],
            )
            rows, h, ihl, tl, jumbo, pos, end = select(
                ~(short | over), rows, h, ihl, tl, jumbo, pos, end
            )
        put(st.jumbo, rows, jumbo)
        end = np.where(jumbo, end, pos + tl)
        ip_len = end - pos
    else:
        put(st.jumbo, rows, False)
        end = pos + tl
        ip_len = tl
    put(st.end, rows, end)
    out = st.out
    proto = h["proto"]
    flags = h["frag"].astype(np.int64)
    frag = (flags & 0x1FFF) * 8
    out.int("ip_version", rows, 4)
    out.ip("src_ip", rows, h["src"])
    out.ip("dst_ip", rows, h["dst"])
    out.int("ttl", rows, h["ttl"])
    out.int("ip_proto", rows, proto)
    out.int("ip_len", rows, ip_len)
    out.int("ip_id", rows, h["ident"])
    out.int("frag_offset", rows, frag)
    out.bool("more_fragments", rows, (flags & 0x2000) != 0)
    out.bool("dont_fragment", rows, (flags & 0x4000) != 0)
    put(st.ip_at, rows, pos)
    put(st.pos, rows, pos + ihl)
    is_frag = (flags & 0x3FFF) != 0  # an offset or more fragments
    if not is_frag.any():
        put(st.nxt, rows, _NEXT4[proto])
        return
    first = frag == 0
    fr = rows[is_frag]
    new = st.frag_at[fr] < 0  # the outermost fragmented header is the one reassembled
    st.frag_at[fr[new]] = pos[is_frag][new]
    if st.options.stop_at_fragments:
        first &= ~is_frag
    put(st.nxt, rows, np.where(first, _NEXT4[proto], P_DONE))


def ipv6(st: State, rows: np.ndarray) -> None:
    """IPv6 fixed header: checks version and payload length, then fields; extensions follow."""
    pos, end = st.pos[rows], st.end[rows]
    ok = st.need(rows, 40, "ipv6", "IPv6 header", pos=pos, limit=end)
    rows, pos, end = select(ok, rows, pos, end)
    h = header(st.data, st.start[rows] + pos, _IPV6)
    ver = h["vtc"] >> 4
    bad = ver != 6
    if bad.any():
        st.fail(
            rows[bad],
            "ipv6",
            "IPv6 header: expected version 6, found {a} at offset {b}",
            ver[bad],
            pos[bad],
        )
        rows, h, pos, end = select(~bad, rows, h, pos, end)
    plen = h["plen"].astype(np.int64)
    jumbo = plen == 0  # jumbogram / BIG TCP: the length is whatever was captured
    avail = end - pos - 40
    over = plen > avail  # (never a jumbogram's 0: the 40 bytes were checked)
    if over.any():
        st.fail(
            rows[over],
            "ipv6",
            "IPv6 payload length {a} exceeds the {c} bytes left after the header at offset {b}",
            plen[over],
            pos[over],
            avail[over],
        )
        rows, h, pos, end, plen, jumbo = select(~over, rows, h, pos, end, plen, jumbo)

    put(st.jumbo, rows, jumbo)
    end = np.where(jumbo, end, pos + 40 + plen) if jumbo.any() else pos + 40 + plen
    put(st.end, rows, end)
    out = st.out
    out.int("ip_version", rows, 6)
    out.ip("src_ip", rows, h["src"])
    out.ip("dst_ip", rows, h["dst"])
    out.int("ttl", rows, h["hlim"])
    out.int("ip_len", rows, end - pos)
    put(st.ip_at, rows, pos)
    nh = h["nh"]
    put(st.proto, rows, nh)
    put(st.extseq, rows, 0)
    put(st.pos, rows, pos + 40)
    if (_EXT[nh] == 0).all():  # no extension header: what ipv6_ext would do at once
        _finish6(st, rows, _NEXT6[nh], nh)
    else:
        put(st.nxt, rows, P_IP6EXT)


def _finish6(
    st: State, rows: np.ndarray, nxt: np.ndarray | int, proto: np.ndarray | None = None
) -> None:
    """The last next-header value (``proto``, by default ``st.proto``) is ``ip_proto``."""
    st.out.int("ip_proto", rows, st.proto[rows] if proto is None else proto)
    put(st.nxt, rows, nxt)


def ipv6_ext(st: State, rows: np.ndarray) -> None:
    """Walk IPv6 extension headers (bounded), then dispatch on the last next-header value."""
    d = st.data
    for _ in range(_MAX_EXT):
        nh = st.proto[rows]
        code = _EXT[nh]
        plain = code == 0
        _finish6(st, rows[plain], _NEXT6[nh[plain]])
        rows, code = rows[~plain], code[~plain]
        if rows.size == 0:
            return
        st.extseq[rows] = (st.extseq[rows] << 3) | code
        stop = code >= 6  # ESP, no next header: stop cleanly
        _finish6(st, rows[stop], P_DONE)
        rows, code = rows[~stop], code[~stop]
        ok = st.need(rows, 8, "ipv6-ext", "IPv6 extension header")
        rows, code = rows[ok], code[ok]
        b = st.base(rows)
        st.proto[rows] = u8(d, b, 0)
        frag = code == 3
        if frag.any():
            fr, fb = rows[frag], b[frag]
            fo = u16(d, fb, 2)
            off = (fo >> 3) * 8
            st.out.int("ip_id", fr, u32(d, fb, 4))
            st.out.int("frag_offset", fr, off)
            st.out.bool("more_fragments", fr, (fo & 1) != 0)
            new = st.frag_at[fr] < 0  # the outermost fragmented header is the one reassembled
            st.frag_at[fr[new]] = st.ip_at[fr[new]]
            st.frag_hdr[fr[new]] = st.pos[fr[new]]
            st.pos[fr] += 8
            later = off != 0  # a non-first fragment carries no transport header
            if st.options.stop_at_fragments:
                later |= (fo & 1) != 0
            _finish6(st, fr[later], P_DONE)
        opt = rows[~frag]
        hl = np.where(code[~frag] == 5, (u8(d, b[~frag], 1) + 2) * 4, (u8(d, b[~frag], 1) + 1) * 8)
        ok = st.need(opt, hl, "ipv6-ext", "IPv6 extension header")
        st.pos[opt[ok]] += hl[ok]
        rows = rows[st.nxt[rows] == P_IP6EXT]
    _ext_limit(st, rows)


def _ext_limit(st: State, rows: np.ndarray) -> None:
    """After _MAX_EXT extension headers: finish the rows whose next header ends the chain, and
    mark the others with a decode error (they are not decoded further)."""
    nh = st.proto[rows]
    code = _EXT[nh]
    plain = code == 0
    _finish6(st, rows[plain], _NEXT6[nh[plain]])
    _finish6(st, rows[~plain], P_DONE)
    st.fail(
        rows[~plain & (code < 6)],
        "ipv6-ext",
        f"more than {_MAX_EXT} IPv6 extension headers; next header {{a}} is not decoded",
        nh[~plain & (code < 6)],
    )


def ah4(st: State, rows: np.ndarray) -> None:
    """IPsec Authentication Header after IPv4 (RFC 4302): its payload is in clear, so it is
    skipped by its length ((payload length + 2) * 4 bytes); ``ip_proto`` becomes its next
    header and decoding goes on."""
    rows = st.keep(rows, 12, "ah", "IPsec AH header")
    d = st.data
    b = st.base(rows)
    nh, hl = u8(d, b, 0), (u8(d, b, 1) + 2) * 4
    ok = st.need(rows, hl, "ah", "IPsec AH header with its ICV")
    rows, nh, hl = rows[ok], nh[ok], hl[ok]
    st.out.int("ip_proto", rows, nh)
    st.pos[rows] += hl
    nxt = _NEXT4[nh]
    st.nxt[rows] = np.where(nxt == P_AH, P_DONE, nxt)
