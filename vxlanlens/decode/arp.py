"""ARP (and RARP) for Ethernet/IPv4: opcode, sender and target hardware and protocol addresses."""

from __future__ import annotations

import numpy as np

from ..proto import ARP_HTYPE_ETHERNET, ARP_HTYPE_IEEE802
from ._state import P_DONE, State, header, layout, mac48, put, select

__all__ = ["arp"]

_FIXED = layout(8, htype=(0, ">u2"), hlen=(4, "u1"), plen=(5, "u1"))
_ETHER_IP = layout(
    28,
    op=(6, ">u2"),
    sender_mac=(8, ">u8"),
    sender_ip=(14, "V4"),
    target_mac=(18, ">u8"),
    target_ip=(24, "V4"),
)


def arp(st: State, rows: np.ndarray) -> None:
    """ARP header; anything but 48-bit MACs (hardware type 1 Ethernet or 6 IEEE 802, as in
    802.3 LLC/SNAP frames) with 4-byte protocol addresses fails at layer ``arp``."""
    pos = st.pos[rows]
    ok = st.need(rows, 8, "arp", "ARP header", pos=pos)
    rows, pos = select(ok, rows, pos)
    h = header(st.data, st.start[rows] + pos, _FIXED)
    htype, hlen, plen = h["htype"].astype(np.int64), h["hlen"], h["plen"]
    bad = ((htype != ARP_HTYPE_ETHERNET) & (htype != ARP_HTYPE_IEEE802)) | (hlen != 6) | (plen != 4)
    if bad.any():
        st.fail(
            rows[bad],
            "arp",
            "expected Ethernet/IPv4 ARP (hardware type 1 or 6, hlen 6, plen 4), "
            "found hardware type {a}, hlen {b}, plen {c} at offset {d}",
            htype[bad],
            hlen[bad],
            plen[bad],
            pos[bad],
        )
        rows, pos = select(~bad, rows, pos)
    ok = st.need(rows, 28, "arp", "Ethernet/IPv4 ARP message", pos=pos)
    rows, pos = select(ok, rows, pos)
    h = header(st.data, st.start[rows] + pos, _ETHER_IP)
    out = st.out
    out.int("arp_op", rows, h["op"])
    out.mac("arp_sender_mac", rows, mac48(h["sender_mac"]))
    out.ip("arp_sender_ip", rows, h["sender_ip"])
    out.mac("arp_target_mac", rows, mac48(h["target_mac"]))
    out.ip("arp_target_ip", rows, h["target_ip"])
    put(st.pos, rows, pos + 28)
    put(st.nxt, rows, P_DONE)
