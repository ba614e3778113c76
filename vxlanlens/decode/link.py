"""Link layers: Ethernet (802.1Q/802.1ad/QinQ, 802.3 LLC/SNAP), Linux SLL/SLL2, raw IP, loopback."""

from __future__ import annotations

import numpy as np

from ..proto import BSD_AF_INET, BSD_AF_INET6, ETHERTYPE_MIN, EtherType, LinkType
from ._state import (
    P_ARP,
    P_DONE,
    P_ETH,
    P_ETYPE,
    P_IPV4,
    P_IPV6,
    P_LOOP,
    P_MPLS,
    P_NSH,
    P_NULL,
    P_PPPOE,
    P_RAW,
    P_SLL,
    P_SLL2,
    State,
    header,
    layout,
    mac,
    mac48,
    put,
    select,
    u8,
    u16,
    u32,
)

__all__ = [
    "LINKTYPES",
    "ethernet",
    "ethertype",
    "loop",
    "null",
    "raw_ip",
    "sll",
    "sll2",
    "start",
]

LINKTYPES: dict[int, int] = {
    LinkType.ETHERNET: P_ETH,
    LinkType.LINUX_SLL: P_SLL,
    LinkType.LINUX_SLL2: P_SLL2,
    LinkType.RAW: P_RAW,
    LinkType.RAW_DLT12: P_RAW,
    LinkType.RAW_DLT14: P_RAW,
    LinkType.IPV4: P_IPV4,
    LinkType.IPV6: P_IPV6,
    LinkType.NULL: P_NULL,
    LinkType.LOOP: P_LOOP,
}
"""LINKTYPE_ value -> first protocol of the frame."""

_KNOWN = sorted(int(t) for t in LINKTYPES)
_UNSUPPORTED = (
    "unsupported link type {a} (expected " + ", ".join(map(str, _KNOWN[:-1])) + f" or {_KNOWN[-1]})"
)

_VLAN_TPIDS = EtherType.vlan_tpids()
_MAX_TAGS = 4
_ARPHRD_NETLINK = 824

# Ethertype -> next protocol (anything else: stop without error).
_ETYPE_NEXT = np.zeros(65536, dtype=np.int8)
_ETYPE_NEXT[[EtherType.IPV4, EtherType.IPV6, EtherType.ARP, EtherType.RARP]] = [
    P_IPV4,
    P_IPV6,
    P_ARP,
    P_ARP,
]
_ETYPE_NEXT[[EtherType.MPLS, EtherType.MPLS_MC]] = P_MPLS
_ETYPE_NEXT[[EtherType.PPPOE_DISC, EtherType.PPPOE_SESS]] = P_PPPOE
_ETYPE_NEXT[EtherType.NSH] = P_NSH


def start(st: State) -> None:
    """Set each row's first protocol from its link type; empty frames and unknown types fail."""
    lt = st.linktype
    if (lt == lt[0]).all():  # the usual case: one link type for the whole batch
        nxt = np.full(st.n, LINKTYPES.get(int(lt[0]), P_DONE), dtype=np.int8)
    else:
        nxt = np.zeros(st.n, dtype=np.int8)
        for value, code in LINKTYPES.items():
            nxt[lt == value] = code
    st.nxt[:] = nxt
    unknown = np.flatnonzero(nxt == P_DONE)
    st.fail(
        unknown,
        "link",
        _UNSUPPORTED,
        lt[unknown],
    )
    empty = np.flatnonzero(st.cap == 0)
    st.fail(empty, "link", "empty frame: 0 bytes captured at offset 0")


_ETH = layout(14, dst=(0, ">u8"), src=(6, ">u8"), etype=(12, ">u2"))


def ethernet(st: State, rows: np.ndarray) -> None:
    """Ethernet II / 802.3 header: destination and source MAC, then the type/length field."""
    pos = st.pos[rows]
    ok = st.need(rows, 14, "ethernet", "Ethernet header", container="frame", pos=pos)
    rows, pos = select(ok, rows, pos)
    h = header(st.data, st.start[rows] + pos, _ETH)
    st.out.mac("dst_mac", rows, mac48(h["dst"]))
    st.out.mac("src_mac", rows, mac48(h["src"]))
    put(st.etype, rows, h["etype"])
    put(st.llc_ok, rows, True)
    put(st.pos, rows, pos + 14)
    put(st.nxt, rows, P_ETYPE)


def _tag_limit(st: State, rows: np.ndarray, et: np.ndarray) -> None:
    """Rows still tagged after _MAX_TAGS VLAN tags get a decode error (nothing more is read)."""
    tag = (et == _VLAN_TPIDS[0]) | (et == _VLAN_TPIDS[1]) | (et == _VLAN_TPIDS[2])
    st.fail(
        rows[tag],
        "vlan",
        f"more than {_MAX_TAGS} VLAN tags; ethertype 0x{{a:04x}} after them is not decoded",
        et[tag],
    )


def ethertype(st: State, rows: np.ndarray) -> None:
    """VLAN tags, 802.3 LLC/SNAP, then dispatch on the Ethertype (``st.etype``)."""
    d = st.data
    for i in range(_MAX_TAGS):
        et = st.etype[rows]
        tag = (et == _VLAN_TPIDS[0]) | (et == _VLAN_TPIDS[1]) | (et == _VLAN_TPIDS[2])
        if not tag.any():
            break
        t = rows[tag]
        t = t[st.need(t, 4, "vlan", "802.1Q/802.1ad tag", container="frame")]
        b = st.base(t)
        if i < 2:
            st.out.int("vlan" if i == 0 else "vlan2", t, u16(d, b, 0) & 0x0FFF)
        st.etype[t] = u16(d, b, 2)
        st.pos[t] += 4
        st.llc_ok[t] = True
        rows = rows[st.nxt[rows] == P_ETYPE]
    else:  # a tag at every level looked at: read the Ethertype after the last one
        et = st.etype[rows]
        _tag_limit(st, rows, et)

    small = et < ETHERTYPE_MIN
    if small.any():
        # 802.3 length field: an LLC header follows; SNAP carries an Ethertype. Linux SLL
        # protocols below 0x0600 (0x0004 = 802.2 LLC, 0x0001 = Novell 802.3) just stop.
        llc = rows[small & st.llc_ok[rows]]
        st.nxt[rows[small]] = P_DONE
        llc = llc[st.need(llc, 3, "llc", "802.2 LLC header", container="frame")]
        b = st.base(llc)
        snap = (u8(d, b, 0) == 0xAA) & (u8(d, b, 1) == 0xAA) & (u8(d, b, 2) == 0x03)
        snap_rows = llc[snap]
        snap_rows = snap_rows[
            st.need(snap_rows, 8, "llc", "802.2 LLC/SNAP header", container="frame")
        ]
        st.etype[snap_rows] = u16(d, st.base(snap_rows), 6)
        st.pos[snap_rows] += 8
        rows = np.sort(np.concatenate([rows[~small], snap_rows]))  # rows stay in order
        et = st.etype[rows]
    st.out.int("ethertype", rows, et)
    put(st.nxt, rows, _ETYPE_NEXT[et])


def _cooked_next(st: State, rows: np.ndarray, proto: np.ndarray, hatype: np.ndarray) -> None:
    st.etype[rows] = proto
    st.llc_ok[rows] = False
    st.nxt[rows] = np.where(hatype == _ARPHRD_NETLINK, P_DONE, P_ETYPE)


def sll(st: State, rows: np.ndarray) -> None:
    """Linux cooked capture v1 (16 bytes): packet type, ARPHRD, address, protocol."""
    rows = rows[st.need(rows, 16, "sll", "Linux SLL header", container="frame")]
    d, b = st.data, st.base(rows)
    st.pkt_type[rows] = u16(d, b, 0)
    alen = u16(d, b, 4)
    six = rows[alen == 6]
    st.out.mac("src_mac", six, mac(d, b[alen == 6], 6))
    st.pos[rows] += 16
    _cooked_next(st, rows, u16(d, b, 14), u16(d, b, 2))


def sll2(st: State, rows: np.ndarray) -> None:
    """Linux cooked capture v2 (20 bytes): protocol, ifindex, ARPHRD, packet type, address."""
    rows = rows[st.need(rows, 20, "sll2", "Linux SLL2 header", container="frame")]
    d, b = st.data, st.base(rows)
    st.out.int("ifindex", rows, u32(d, b, 4))
    st.pkt_type[rows] = u8(d, b, 10)
    alen = u8(d, b, 11)
    six = rows[alen == 6]
    st.out.mac("src_mac", six, mac(d, b[alen == 6], 12))
    st.pos[rows] += 20
    _cooked_next(st, rows, u16(d, b, 0), u16(d, b, 8))


def _family_next(st: State, rows: np.ndarray, fam: np.ndarray) -> None:
    nxt = np.full(rows.size, P_DONE, dtype=np.int8)
    nxt[fam == BSD_AF_INET] = P_IPV4
    nxt[np.isin(fam, BSD_AF_INET6)] = P_IPV6
    st.pos[rows] += 4
    st.nxt[rows] = nxt


def null(st: State, rows: np.ndarray) -> None:
    """BSD loopback (LINKTYPE_NULL): a 4-byte address family in the capturing host's order."""
    rows = rows[st.need(rows, 4, "loopback", "BSD loopback header", container="frame")]
    d, b = st.data, st.base(rows)
    b0, b1, b2, b3 = (u8(d, b, k) for k in range(4))
    big = (b0 | b1 | b2) == 0
    fam = np.where(big, b3, b0 | (b1 << 8) | (b2 << 16) | (b3 << 24))
    _family_next(st, rows, fam)


def loop(st: State, rows: np.ndarray) -> None:
    """OpenBSD loopback (LINKTYPE_LOOP): a 4-byte address family in network order."""
    rows = rows[st.need(rows, 4, "loopback", "loopback header", container="frame")]
    _family_next(st, rows, u32(st.data, st.base(rows), 0))


def raw_ip(st: State, rows: np.ndarray) -> None:
    """Raw IP: the version nibble says IPv4 or IPv6."""
    rows = rows[st.need(rows, 1, "raw-ip", "raw IP header", container="frame")]
    v = u8(st.data, st.base(rows), 0) >> 4
    bad = (v != 4) & (v != 6)
    st.fail(
        rows[bad],
        "raw-ip",
        "raw IP: expected IP version 4 or 6, found {a} at offset {b}",
        v[bad],
        st.pos[rows[bad]],
    )
    ok = ~bad
    st.nxt[rows[ok]] = np.where(v[ok] == 4, P_IPV4, P_IPV6)
