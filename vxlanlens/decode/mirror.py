"""Mirror transports: peel the wrapper a mirrored frame arrived in, and detect VXLAN mirrors.

A *mirror transport* carries a copy of a frame from the port where it was seen (a switch
port, a cloud instance's interface) to a collector: ERSPAN types I/II/III and plain GRE
(Ethernet in GRE, 0x6558, as the outermost encapsulation; see :mod:`.encap`), and cloud
traffic mirroring over VXLAN (AWS VPC Traffic Mirroring: UDP 4789, VNI = the session's VNI).

Peeling (:func:`peel`) keeps what the transport says in the ``mirror*`` columns (its IP
addresses go to ``mirror_src_ip`` / ``mirror_dst_ip``), forgets every other column decoded so
far, and restarts decoding at the mirrored frame, so that every non-mirror column describes
that frame exactly as if it had been captured on the mirrored port.

VXLAN mirrors are peeled only when asked for (``DecodeOptions.mirror_vxlan``, the CLI's
``--mirror-vxlan PORT[:VNI]``) or detected when captures are read (:func:`detect`, unless
``--mirror-vxlan none``): within the packets table of the captures read, a VXLAN (UDP destination port, VNI) pair whose frames carry another
overlay tunnel inside (VXLAN, VXLAN-GPE or Geneve) in at least ``AUTO_MIN_FRAMES`` frames and
at least ``AUTO_MIN_SHARE`` of that pair's frames is a mirror session. The limits of the rule:
a genuinely nested overlay (an overlay run inside VMs whose own traffic rides a VXLAN
underlay) looks the same and is peeled too; a mirror session carrying no overlay traffic is
not detected (name it with ``--mirror-vxlan``); standard input and open files are not
read twice, so they are not detected either. The captures are read again, with the sessions
found, when detection finds one.
"""

from __future__ import annotations

import numpy as np

from ..proto import MirrorKind
from ._state import P_ETH, POD_COLUMNS, State, put

__all__ = ["AUTO_MIN_FRAMES", "AUTO_MIN_SHARE", "detect", "peel", "vxlan_mirror"]

AUTO_MIN_FRAMES = 2
"""Frames of a (port, VNI) pair that must carry a tunnel inside for it to be a mirror session."""
AUTO_MIN_SHARE = 0.1
"""Share of a (port, VNI) pair's frames that must carry a tunnel inside."""

# Columns a mirror transport may have written before it was recognised (link, IP, UDP).
_ADDRESSES = (("src_ip", "mirror_src_ip"), ("dst_ip", "mirror_dst_ip"))
_FORGET = (
    "ifindex",  # the collector's, not the mirrored port's
    *(c for c in POD_COLUMNS if c not in {a for a, _ in _ADDRESSES}),
)


def peel(
    st: State,
    rows: np.ndarray,
    kind: int,
    inner: np.ndarray,
    session: np.ndarray | None = None,
    has_session: np.ndarray | None = None,
) -> None:
    """Peel a mirror transport of ``kind`` (:class:`MirrorKind`) at ``rows``: the mirrored
    Ethernet frame starts at record offset ``inner``; ``session`` (where ``has_session``) is
    the transport's session id. Sets each row's next protocol to Ethernet."""
    if rows.size == 0:
        return
    out = st.out
    out.move(_ADDRESSES, rows)
    out.clear(_FORGET, rows)
    put(st.mirror, rows, kind)
    put(st.pkt_type, rows, -1)
    put(st.extseq, rows, 0)
    put(st.jumbo, rows, False)
    put(st.ip_at, rows, -1)
    put(st.udp_at, rows, -1)
    put(st.frag_at, rows, -1)
    put(st.frag_hdr, rows, -1)
    put(st.pos, rows, inner)
    put(st.nxt, rows, P_ETH)
    if session is not None:
        keep = np.ones(rows.size, dtype=bool) if has_session is None else has_session
        out.int("mirror_session", rows[keep], session[keep])


def vxlan_mirror(st: State, rows: np.ndarray) -> np.ndarray:
    """Peel the VXLAN rows (positioned at their VXLAN header) that belong to a mirror session
    of ``options.mirror_vxlan`` (UDP destination port, and VNI unless it is -1), outermost
    only; gives the other rows (still VXLAN tunnels)."""
    dport = st.out.ints.get("dport")
    if dport is None or rows.size == 0:
        return rows
    port = dport[0][rows].astype(np.int64)
    vni = st.data.v4[st.start[rows] + st.pos[rows] + 4].astype(np.int64) >> 8
    hit = np.zeros(rows.size, dtype=bool)
    for p, v in st.options.mirror_vxlan:
        hit |= (port == p) & ((vni == v) if v >= 0 else True)
    hit &= (st.depth[rows] == 0) & (st.mirror[rows] == 0)
    if not hit.any():
        return rows
    peel(st, rows[hit], MirrorKind.VXLAN, st.pos[rows[hit]] + 8, vni[hit])
    return rows[~hit]


def detect(
    outer_dport: np.ndarray,
    outer_vni: np.ndarray,
    outermost_vxlan: np.ndarray,
    nested_overlay: np.ndarray,
) -> frozenset[tuple[int, int]]:
    """The (UDP destination port, VNI) pairs that look like VXLAN mirror sessions (see the
    module's rule), from one value per frame: the outer UDP destination port and VNI (-1 when
    null), whether the outermost tunnel is VXLAN (and no mirror was peeled), and whether the
    frame holds an overlay tunnel (VXLAN, VXLAN-GPE, Geneve) inside that one (the caller counts
    overlay headers: ``tunnel_depth`` less a GRE / IP-in-IP ``ip_tunnel``). Empty when none
    (decided at once when no frame holds a nested overlay)."""
    nested = np.asarray(nested_overlay, dtype=bool)
    if not nested.any():
        return frozenset()
    port = np.asarray(outer_dport, dtype=np.int64)
    vni = np.asarray(outer_vni, dtype=np.int64)
    cand = np.asarray(outermost_vxlan, dtype=bool) & (port >= 0) & (vni >= 0)
    if not (cand & nested).any():
        return frozenset()
    key = (port << 24) | vni
    keys, total = np.unique(key[cand], return_counts=True)
    inside = np.zeros(keys.size, dtype=np.int64)
    np.add.at(inside, np.searchsorted(keys, key[cand & nested]), 1)
    ok = (inside >= AUTO_MIN_FRAMES) & (inside >= AUTO_MIN_SHARE * total)
    return frozenset((int(k >> 24), int(k & 0xFFFFFF)) for k in keys[ok])
