"""The row holding a reassembled packet: the whole packet's decode with the completing
fragment's own header fields."""

from __future__ import annotations

import numpy as np

from ..decode.result import DecodedBatch
from ..schema import COLUMNS

__all__ = ["merge"]

# Columns of the fragmented IP header that stay the completing fragment's own, by where the
# header's fields are in a row: the pod frame's IP columns, or the outer ones.
_OWN_POD = ("ip_len", "ip_id", "frag_offset", "more_fragments", "dont_fragment", "ip6_ext")
_OWN_OUTER = ("outer_frag_offset", "outer_more_fragments", "outer_dont_fragment")


def merge(whole: DecodedBatch, own: DecodedBatch, enclosed: np.ndarray) -> DecodedBatch:
    """``whole`` (the reassembled packets decoded) with the completing fragments' own header
    fields from ``own``: the fragmented header's fragment fields, and for a fragment inside a
    tunnel every outer and tunnel column (each fragment was encapsulated on its own)."""
    n = whole.n
    if n == 0:
        return whole
    own_depth = _ints(own, "tunnel_depth")[0]
    whole_depth = _ints(whole, "tunnel_depth")[0]
    # Where the fragmented header's fields are, in each decode: a fragment that is the
    # outermost IP header has them in outer_* once its row entered a tunnel.
    own_outer = ~enclosed & (own_depth > 0)
    whole_outer = ~enclosed & (whole_depth > 0)
    for k in range(len(_OWN_OUTER)):
        for src_outer, dst_outer in ((False, False), (False, True), (True, False), (True, True)):
            rows = (own_outer == src_outer) & (whole_outer == dst_outer)
            if rows.any():
                src = _OWN_OUTER[k] if src_outer else _OWN_POD[k + 2]
                dst = _OWN_OUTER[k] if dst_outer else _OWN_POD[k + 2]
                _copy(own, src, whole, dst, rows)
    pod = ~whole_outer
    for name in ("ip_len", "ip_id", "ip6_ext"):
        _copy(own, name, whole, name, pod & ~own_outer)
    if enclosed.any():
        for col in COLUMNS:
            if col.group in ("outer (underlay)", "tunnel"):
                _copy(own, col.name, whole, col.name, enclosed)
    return whole


def _ints(batch: DecodedBatch, name: str) -> tuple[np.ndarray, np.ndarray]:
    pair = batch.ints.get(name)
    if pair is None:
        return np.zeros(batch.n, dtype=np.int64), np.zeros(batch.n, dtype=bool)
    return pair


def _copy(src: DecodedBatch, name: str, dst: DecodedBatch, to: str, rows: np.ndarray) -> None:
    """``dst[to][rows] = src[name][rows]`` for one column (both of the same kind)."""
    if not rows.any():
        return
    kind = _KIND[name]
    if kind == "text":
        values = dst.text(to).copy()
        values[rows] = src.text(name)[rows]
        dst.texts[to] = values
        return
    store_src, store_dst = _STORE[kind](src), _STORE[kind](dst)
    n = dst.n
    if kind == "ip":
        addr, fam = store_src.get(name, (np.zeros((n, 16), np.uint8), np.zeros(n, np.uint8)))
        daddr, dfam = store_dst.get(to, (np.zeros((n, 16), np.uint8), np.zeros(n, np.uint8)))
        daddr, dfam = daddr.copy(), dfam.copy()
        daddr[rows], dfam[rows] = addr[rows], fam[rows]
        store_dst[to] = (daddr, dfam)
        return
    dtype = np.uint64 if kind == "mac" else (np.bool_ if kind == "bool" else np.int64)
    values, valid = store_src.get(name, (np.zeros(n, dtype), np.zeros(n, bool)))
    dvalues, dvalid = store_dst.get(to, (np.zeros(n, values.dtype), np.zeros(n, bool)))
    dvalues = dvalues.astype(np.result_type(dvalues.dtype, values.dtype))
    dvalid = dvalid.copy()
    dvalues[rows], dvalid[rows] = values[rows], valid[rows]
    store_dst[to] = (dvalues, dvalid)


_KIND = {c.name: c.kind for c in COLUMNS}
_STORE = {
    "int": lambda b: b.ints,
    "bool": lambda b: b.bools,
    "mac": lambda b: b.macs,
    "ip": lambda b: b.ips,
}
