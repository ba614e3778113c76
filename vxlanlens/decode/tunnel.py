"""UDP tunnels: VXLAN (RFC 7348, with the group-policy extension), VXLAN-GPE and Geneve (RFC 8926).

:func:`classify` decides, for UDP rows, whether the payload is a tunnel header. The port only
nominates a candidate; the header must agree (see :func:`classify` for the exact rules), so a
Geneve header on a VXLAN port is decoded as Geneve and the reverse too, and a payload that is
neither is left alone (no tunnel, no error).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TypeVar

import numpy as np

from ..proto import ArpOp, EtherType, GpeNextProtocol, TunnelKind
from ..schema import OUTER_COLUMNS as _OUTER_MOVES
from . import mirror
from ._state import (
    P_ARP,
    P_DONE,
    P_ETH,
    P_GENEVE,
    P_GPE,
    P_IPV4,
    P_IPV6,
    P_NSH,
    P_VXLAN,
    POD_COLUMNS,
    State,
    header,
    isin,
    layout,
    put,
    raw,
    select,
    u8,
    u16,
    u24,
    u32,
)

__all__ = [
    "GUESS_MIN_PAYLOAD",
    "OVN_GENEVE_CLASS",
    "OVN_GENEVE_LEN",
    "OVN_GENEVE_TYPE",
    "classify",
    "enter",
    "geneve",
    "gpe",
    "ovn_ports",
    "port_table",
    "vxlan",
]

_VX, _GP, _GN = 1, 2, 4

_ET = EtherType
_GENEVE_PROTOS = (_ET.TEB, _ET.IPV4, _ET.IPV6, _ET.ARP)
_TUNNEL = layout(
    8, word=(0, ">u4"), b0=(0, "u1"), b1=(1, "u1"), proto=(2, ">u2"), b3=(3, "u1"), b7=(7, "u1")
)
_PROTO_NEXT = {_ET.TEB: P_ETH, _ET.IPV4: P_IPV4, _ET.IPV6: P_IPV6, _ET.ARP: P_ARP}
_GPE_NEXT = {
    GpeNextProtocol.IPV4: P_IPV4,
    GpeNextProtocol.IPV6: P_IPV6,
    GpeNextProtocol.ETHERNET: P_ETH,
    GpeNextProtocol.NSH: P_NSH,
}

_I_FLAG = 0x08
"""VXLAN (and VXLAN-GPE) I flag: the VNI is valid."""
_G_FLAG = 0x80
"""VXLAN group-policy extension G flag: bytes 2-3 carry the group policy id."""
_GPE_P_FLAG = 0x04
"""VXLAN-GPE P flag: byte 3 is a next-protocol value."""

OVN_GENEVE_CLASS = 0x0102
"""Geneve option class of OVN's logical ports (ovn-architecture(7), Tunnel Encapsulations;
``OVN_GENEVE_CLASS`` in ovn-org/ovn ``controller/physical.h``)."""
OVN_GENEVE_TYPE = 0x80
"""Its option type byte (critical bit set)."""
OVN_GENEVE_LEN = 4
"""Its data length in bytes: 1 reserved bit, the 15-bit logical ingress port key and the
16-bit logical egress port key, from the most significant bit."""


_Word = TypeVar("_Word", int, np.ndarray)


def ovn_ports(value: _Word) -> tuple[_Word, _Word]:
    """The logical ``(ingress, egress)`` port keys in the 32-bit data of OVN's Geneve option
    (an int, or an int64 array of them)."""
    return (value >> 16) & 0x7FFF, value & 0xFFFF


GUESS_MIN_PAYLOAD = 8 + 14 + 16
"""Captured UDP payload bytes the VXLAN guess inspects (header, inner Ethernet, inner L3 start)."""

_TUNNEL_COLUMNS = (
    "vni",
    "vxlan_flags",
    "vxlan_gbp",
    "tunnel_proto",
    "geneve_critical",
    "ovn_inport",
    "ovn_outport",
    "nsh_spi",
    "nsh_si",
)
_IP_TUNNEL_COLUMNS = ("gre_key", "gre_proto")


@lru_cache(maxsize=16)
def port_table(vxlan: frozenset[int], gpe: frozenset[int], geneve: frozenset[int]) -> np.ndarray:
    """65,536 ``uint8`` flags, one per UDP port: 1 VXLAN, 2 VXLAN-GPE, 4 Geneve (or-ed)."""
    t = np.zeros(65536, dtype=np.uint8)
    for ports, bit in ((vxlan, _VX), (gpe, _GP), (geneve, _GN)):
        for p in ports:
            if 0 <= int(p) < 65536:
                t[int(p)] |= bit
    return t


def _guess(g: np.ndarray, wire: np.ndarray) -> np.ndarray:
    """Mask of rows whose payload ``g`` (m, GUESS_MIN_PAYLOAD bytes) is surely VXLAN."""
    flags_ok = (g[:, 0] == _I_FLAG) & ((g[:, 1] | g[:, 2] | g[:, 3] | g[:, 7]) == 0)
    et = (g[:, 20] << 8) | g[:, 21]
    unicast_src = (g[:, 14] & 1) == 0
    left = wire - 22  # bytes after the inner Ethernet header
    v0 = g[:, 22]
    ihl = (v0 & 0x0F) * 4
    tl = (g[:, 24] << 8) | g[:, 25]
    ip4 = (et == _ET.IPV4) & ((v0 >> 4) == 4) & (ihl >= 20) & (tl >= ihl) & (tl <= left)
    plen = (g[:, 26] << 8) | g[:, 27]
    ip6 = (et == _ET.IPV6) & ((v0 >> 4) == 6) & (40 + plen <= left)
    htype = (g[:, 22] << 8) | g[:, 23]
    ptype = (g[:, 24] << 8) | g[:, 25]
    op = (g[:, 28] << 8) | g[:, 29]
    arp = (
        (et == _ET.ARP)
        & (htype == 1)
        & (ptype == _ET.IPV4)
        & (g[:, 26] == 6)
        & (g[:, 27] == 4)
        & (op >= ArpOp.REQUEST)
        & (op <= ArpOp.RARP_REPLY)
        & (left >= 28)
    )
    return flags_ok & unicast_src & (ip4 | ip6 | arp)


def classify(
    st: State,
    rows: np.ndarray,
    sport: np.ndarray,
    dport: np.ndarray,
    *,
    pos: np.ndarray | None = None,
    end: np.ndarray | None = None,
) -> None:
    """Set ``nxt`` to a tunnel for UDP ``rows`` (positioned after the UDP header) whose payload is one.

    Candidates are rows with either port in ``options.vxlan_ports`` / ``gpe_ports`` /
    ``geneve_ports``. With at least 8 payload bytes, the header decides:

    1. VXLAN-GPE on a GPE port: P bit 0x04 set and next protocol 1..4;
    2. VXLAN on a VXLAN port: I bit 0x08 set, unless the header is a strict Geneve header;
    3. Geneve on a Geneve port: version 0, unless it is a strict VXLAN header and not a strict
       Geneve one; on a VXLAN or GPE port: a strict Geneve header;
    4. VXLAN on a Geneve or GPE port: a strict VXLAN header;
    5. anything else: not a tunnel (no error).

    Strict VXLAN: flags exactly 0x08, reserved bytes 1-3 and 7 zero. Strict Geneve: version 0,
    reserved flag bits and byte 7 zero, protocol 0x6558/0x0800/0x86dd/0x0806, options within the
    UDP payload. A candidate whose payload is 8+ bytes on the wire but under 8 captured fails
    at the tunnel layer (header truncated).

    With ``options.guess_tunnels``, a row on no tunnel port is VXLAN when the payload has at least
    ``GUESS_MIN_PAYLOAD`` bytes captured and (see :func:`_guess`): strict VXLAN flags; inner
    Ethernet with a unicast source MAC and Ethertype 0x0800, 0x86dd or 0x0806 (no VLAN tag);
    then an inner IPv4 header with version 4, IHL >= 5 and IHL*4 <= total length <= the bytes
    left, or an IPv6 header with version 6 and 40 + payload length <= the bytes left, or an ARP
    header with hardware type 1, protocol 0x0800, lengths 6/4 and opcode 1..4.

    ``pos`` and ``end`` may give ``st.pos[rows]`` and ``st.end[rows]`` when the caller has them.
    """
    o = st.options
    tbl = port_table(o.vxlan_ports, o.gpe_ports, o.geneve_ports)
    kind = tbl[sport] | tbl[dport]
    on = kind != 0
    if not on.any() and not o.guess_tunnels:
        return
    pos = st.pos[rows] if pos is None else pos
    wire = (st.end[rows] if end is None else end) - pos
    capt = st.cap[rows] - pos
    hdr = wire >= 8
    cut = on & hdr & (capt < 8)
    if cut.any():
        for bit, layer, name in (
            (_VX, "vxlan", "VXLAN"),
            (_GP, "vxlan-gpe", "VXLAN-GPE"),
            (_GN, "geneve", "Geneve"),
        ):
            m = cut & ((kind & bit) != 0)
            st.fail(
                rows[m],
                layer,
                f"{name} header needs 8 bytes at offset {{b}}, only {{c}} captured",
                8,
                pos[m],
                capt[m],
            )
            cut &= ~m
    is_cand = on & hdr & (capt >= 8)
    if is_cand.any():
        r, k, w, p = select(is_cand, rows, kind, wire, pos)
        h = header(st.data, st.start[r] + p, _TUNNEL)
        b0 = h["b0"].astype(np.int64)
        b1, b3, b7 = h["b1"], h["b3"], h["b7"]
        ibit = (b0 & _I_FLAG) != 0
        gver0 = (b0 >> 6) == 0
        gen_strict = (
            gver0
            & isin(h["proto"], _GENEVE_PROTOS)
            & ((b1 & 0x3F) == 0)
            & (b7 == 0)
            & ((b0 & 0x3F) * 4 + 8 <= w)
        )
        vx_strict = (h["word"] == _I_FLAG << 24) & (b7 == 0)
        gpe_ok = (
            ((b0 & _GPE_P_FLAG) != 0) & (b3 >= GpeNextProtocol.IPV4) & (b3 <= GpeNextProtocol.NSH)
        )
        on_vx, on_gp, on_gn = (k & _VX) != 0, (k & _GP) != 0, (k & _GN) != 0
        gpe = on_gp & gpe_ok
        vx = ~gpe & on_vx & ibit & ~gen_strict
        gen = (
            ~gpe
            & ~vx
            & ((on_gn & gver0 & ~(vx_strict & ~gen_strict)) | ((on_vx | on_gp) & gen_strict))
        )
        vx |= ~gpe & ~gen & (on_gn | on_gp) & vx_strict
        res = np.where(gpe, P_GPE, np.where(vx, P_VXLAN, np.where(gen, P_GENEVE, P_DONE)))
        put(st.nxt, r, res.astype(np.int8))
    if o.guess_tunnels:
        gs = np.flatnonzero(~on & (capt >= GUESS_MIN_PAYLOAD) & (wire >= 8 + 14 + 20))
        if gs.size:
            r = rows[gs]
            g = raw(st.data, st.start[r] + pos[gs], 0, GUESS_MIN_PAYLOAD).astype(np.int64)
            st.nxt[r[_guess(g, wire[gs])]] = P_VXLAN


def enter(
    st: State, rows: np.ndarray, layer: str, code: int, ip_tunnel: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Account for a tunnel header at ``rows``: depth, outermost underlay to ``outer_*``.

    ``code`` is a :class:`TunnelKind` (an overlay on UDP: its length and checksum go to
    ``outer_udp_*``, the overlay columns are reset) or, with ``ip_tunnel``, an
    :class:`IpTunnelKind` (GRE, IP-in-IP: the overlay columns are kept). Returns the rows that
    entered and a mask of those for which it is the outermost tunnel.
    """
    limit = st.options.max_tunnel_depth
    depth = st.depth[rows]
    over = depth >= limit
    if over.any():
        st.fail(
            rows[over],
            layer,
            "tunnels nested deeper than max_tunnel_depth {a} at offset {b}",
            limit,
            st.pos[rows[over]],
        )
        rows, depth = select(~over, rows, depth)
    first = depth == 0
    (fr,) = select(first, rows)
    out = st.out
    out.move(_OUTER_MOVES, fr)
    if not ip_tunnel:
        out.int("outer_udp_len", fr, st.udp_len[fr])
        out.int("outer_udp_checksum", fr, st.udp_csum[fr])
    put(st.outer_ip_at, fr, st.ip_at[fr])
    put(st.outer_udp_at, fr, st.udp_at[fr])
    out.clear(POD_COLUMNS + (_IP_TUNNEL_COLUMNS if ip_tunnel else _TUNNEL_COLUMNS), rows)
    put(st.extseq, rows, 0)
    put(st.jumbo, rows, False)
    if not ip_tunnel:  # the overlay's Geneve options stay with it
        put(st.gen, rows, -1)
    put(st.depth, rows, depth + 1)
    put(st.iptun if ip_tunnel else st.tunnel, rows, code)
    return rows, first


# VXLAN header (RFC 7348 section 5), 8 bytes after the UDP header:
#
#    0                   1                   2                   3
#    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |R|R|R|R|I|R|R|R|            Reserved                           |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |                VXLAN Network Identifier (VNI) |   Reserved    |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#
# I (0x08) says the VNI is valid; the other flag bits and the reserved fields are sent as zero
# and ignored on receipt. An Ethernet frame follows. The group-based-policy extension
# (draft-smith-vxlan-group-policy, the Linux kernel's "gbp") reuses reserved bits:
#
#   |G|R|R|R|I|R|R|R|R|D|R|R|A|R|R|R|        Group Policy ID        |
#
# G (0x80): the policy id is present; D: don't learn; A: policy applied.
_VXLAN = layout(8, flags=(0, "u1"), gbp=(2, ">u2"), vni=(4, ">u4"))


def vxlan(st: State, rows: np.ndarray) -> None:
    """VXLAN header: flags, VNI, group-policy id when the G bit is set; an Ethernet frame follows."""
    rows = st.keep(rows, 8, "vxlan", "VXLAN header")
    if st.options.mirror_vxlan:
        rows = mirror.vxlan_mirror(st, rows)
    rows, first = enter(st, rows, "vxlan", TunnelKind.VXLAN)
    pos = st.pos[rows]
    h = header(st.data, st.start[rows] + pos, _VXLAN)
    flags = h["flags"]
    vni = h["vni"].astype(np.int64) >> 8
    out = st.out
    out.int("vxlan_flags", rows, flags)
    out.int("vni", rows, vni)
    out.int("outer_vni", *select(first, rows, vni))
    out.int("tunnel_proto", rows, int(EtherType.TEB))
    gbp = (flags & _G_FLAG) != 0
    out.int("vxlan_gbp", rows[gbp], h["gbp"][gbp])
    put(st.pos, rows, pos + 8)
    put(st.nxt, rows, P_ETH)


# VXLAN-GPE header (draft-ietf-nvo3-vxlan-gpe), 8 bytes after the UDP header (port 4790):
#
#    0                   1                   2                   3
#    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |R|R|Ver|I|P|B|O|       Reserved                |Next Protocol  |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |                VXLAN Network Identifier (VNI) |   Reserved    |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#
# Ver (0x30): version; I (0x08): VNI valid; P (0x04): the next-protocol field is present;
# B (0x02): ingress-replicated BUM traffic; O (0x01): OAM packet. Next protocol: 1 IPv4,
# 2 IPv6, 3 Ethernet, 4 NSH (see GpeNextProtocol).
def gpe(st: State, rows: np.ndarray) -> None:
    """VXLAN-GPE header: flags, next protocol (IPv4, IPv6, Ethernet, NSH; others stop), VNI."""
    rows = rows[st.need(rows, 8, "vxlan-gpe", "VXLAN-GPE header")]
    rows, first = enter(st, rows, "vxlan-gpe", TunnelKind.VXLAN_GPE)
    d, b = st.data, st.base(rows)
    nproto = u8(d, b, 3)
    vni = u24(d, b, 4)
    out = st.out
    out.int("vxlan_flags", rows, u8(d, b, 0))
    out.int("vni", rows, vni)
    out.int("outer_vni", rows[first], vni[first])
    nxt = np.zeros(rows.size, dtype=np.int8)
    for value in GpeNextProtocol:
        m = nproto == value
        out.int("tunnel_proto", rows[m], int(value.ethertype))
        nxt[m] = _GPE_NEXT.get(value, P_DONE)
    st.pos[rows] += 8
    st.nxt[rows] = nxt


# Geneve header (RFC 8926 section 3.4), 8 bytes after the UDP header, then the options:
#
#    0                   1                   2                   3
#    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |        Virtual Network Identifier (VNI)       |    Reserved   |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |                                                               |
#   ~                    Variable-Length Options                    ~
#   |                                                               |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#
# Ver: 0. Opt Len: options length in 4-byte words. O (0x80 of byte 1): OAM packet; C (0x40):
# a critical option is present. Protocol Type: an Ethertype (0x6558 for an Ethernet frame).
# Each option: class (16 bits), type (8 bits, its top bit "critical"), 3 reserved bits and a
# 5-bit length in 4-byte words (the 4-byte option header excluded), then its data.
# OVN's option (class 0x0102, type 0x80, 4 bytes of data) carries the logical ports:
#
#   |R|     logical ingress port (15)   |      logical egress port (16)       |
def geneve(st: State, rows: np.ndarray) -> None:
    """Geneve header and its TLV options; the protocol type says what follows. The first OVN
    option (class 0x0102, type 0x80, 4 bytes of data) gives ``ovn_inport`` / ``ovn_outport``."""
    rows = rows[st.need(rows, 8, "geneve", "Geneve header")]
    rows, first = enter(st, rows, "geneve", TunnelKind.GENEVE)
    d = st.data
    b = st.base(rows)
    b0 = u8(d, b, 0)
    ver = b0 >> 6
    bad = ver != 0
    st.fail(
        rows[bad],
        "geneve",
        "Geneve header: expected version 0, found {a} at offset {b}",
        ver[bad],
        st.pos[rows[bad]],
    )
    optlen = (b0 & 0x3F) * 4
    ok = ~bad
    ok[ok] = st.need(rows[ok], 8 + optlen[ok], "geneve", "Geneve header with options")
    rows, first, optlen = rows[ok], first[ok], optlen[ok]

    # Walk the options (each a multiple of 4 bytes, so an option header always fits).
    serial = len(st.geneve_opts)
    records: list[tuple[int, np.ndarray, np.ndarray]] = []
    act, at = rows, np.arange(rows.size)
    ovn = np.full(rows.size, -1, dtype=np.int64)  # OVN option data per row (-1: none yet)
    cur = st.pos[rows] + 8
    stop = cur + optlen
    for j in range(64):
        m = cur < stop
        act, at, cur, stop = act[m], at[m], cur[m], stop[m]
        if act.size == 0:
            break
        ob = st.start[act] + cur
        cls, typ = u16(d, ob, 0), u8(d, ob, 2)
        ln = (u8(d, ob, 3) & 0x1F) * 4 + 4
        over = cur + ln > stop
        hit = (
            ~over
            & (cls == OVN_GENEVE_CLASS)
            & (typ == OVN_GENEVE_TYPE)
            & (ln == OVN_GENEVE_LEN + 4)
            & (ovn[at] < 0)
        )
        if hit.any():
            ovn[at[hit]] = u32(d, ob[hit], 4)
        st.fail(
            act[over],
            "geneve",
            "Geneve option at offset {b} declares {a} bytes, only {c} left in the options",
            ln[over],
            cur[over],
            (stop - cur)[over],
        )
        keep = ~over
        records.append((j, act[keep], (cls[keep] << 16) | (typ[keep] << 8) | ln[keep]))
        act, at, cur, stop = act[keep], at[keep], cur[keep] + ln[keep], stop[keep]

    good = st.nxt[rows] == P_GENEVE
    rows, first, optlen, ovn = rows[good], first[good], optlen[good], ovn[good]
    b = st.base(rows)
    vni = u24(d, b, 4)
    proto = u16(d, b, 2)
    out = st.out
    out.int("vni", rows, vni)
    out.int("outer_vni", rows[first], vni[first])
    out.int("tunnel_proto", rows, proto)
    out.bool("geneve_critical", rows, (u8(d, b, 1) & 0x40) != 0)
    has = ovn >= 0
    if has.any():
        inport, outport = ovn_ports(ovn[has])
        out.int("ovn_inport", rows[has], inport)
        out.int("ovn_outport", rows[has], outport)
    st.gen[rows] = serial
    st.geneve_opts.append((serial, records))
    nxt = np.zeros(rows.size, dtype=np.int8)
    for value, code in _PROTO_NEXT.items():
        nxt[proto == value] = code
    st.pos[rows] += 8 + optlen
    st.nxt[rows] = nxt
