"""ARP (and RARP) for Ethernet/IPv4: opcode, sender and target hardware and protocol addresses."""

from __future__ import annotations

import numpy as np

from ._state import P_DONE, State, mac, raw, u8, u16

__all__ = ["arp"]


def arp(st: State, rows: np.ndarray) -> None:
    """ARP header; anything but 48-bit MACs (hardware type 1 Ethernet or 6 IEEE 802, as in
    802.3 LLC/SNAP frames) with 4-byte protocol addresses fails at layer ``arp``."""
    rows = rows[st.need(rows, 8, "arp", "ARP header")]
    d = st.data
    b = st.base(rows)
    htype, hlen, plen = u16(d, b, 0), u8(d, b, 4), u8(d, b, 5)
    bad = ((htype != 1) & (htype != 6)) | (hlen != 6) | (plen != 4)
    st.fail(
        rows[bad],
        "arp",
        "expected Ethernet/IPv4 ARP (hardware type 1 or 6, hlen 6, plen 4), "
        "found hardware type {a}, hlen {b}, plen {c} at offset {d}",
        htype[bad],
        hlen[bad],
        plen[bad],
        st.pos[rows[bad]],
    )
    rows = rows[~bad]
    rows = rows[st.need(rows, 28, "arp", "Ethernet/IPv4 ARP message")]
    b = st.base(rows)
    out = st.out
    out.int("arp_op", rows, u16(d, b, 6))
    out.mac("arp_sender_mac", rows, mac(d, b, 8))
    out.ip("arp_sender_ip", rows, raw(d, b, 14, 4))
    out.mac("arp_target_mac", rows, mac(d, b, 18))
    out.ip("arp_target_ip", rows, raw(d, b, 24, 4))
    st.pos[rows] += 28
    st.nxt[rows] = P_DONE
