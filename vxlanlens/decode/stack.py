"""The protocol stack: run the layer stages over a batch, then assemble :class:`DecodedBatch`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..proto import PKT_TYPE_TEXT, IpTunnelKind, MirrorKind, TunnelKind
from ..read.records import RecordBatch
from ..schema import column
from . import arp, encap, icmp, ip, link, transport, tunnel
from ._state import (
    LAYERS,
    P_AH,
    P_ARP,
    P_ETH,
    P_ETYPE,
    P_GENEVE,
    P_GPE,
    P_GRE,
    P_ICMP,
    P_ICMP6,
    P_IP6EXT,
    P_IPIP,
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
    P_TCP,
    P_UDP,
    P_VXLAN,
    TUNNEL_NAMES,
    State,
    template_text,
)
from .ip import EXT_NAMES
from .options import DecodeOptions
from .result import DecodedBatch, FragmentRows, Text

__all__ = ["COMPILED", "PKT_TYPES", "decode_batch", "geneve_option_text"]

try:
    from . import _fast
except ImportError:  # pragma: no cover - depends on how the package was installed
    _fast = None  # type: ignore[assignment]

COMPILED = _fast is not None
"""Whether the common paths are decoded in compiled code (``vxlanlens.decode._fast``, built by
``setup.py`` when a C compiler is there); the stages below decode every other record, and all
of them without it."""

_STAGES: tuple[tuple[int, Callable[[State, np.ndarray], None]], ...] = (
    (P_SLL, link.sll),
    (P_SLL2, link.sll2),
    (P_NULL, link.null),
    (P_LOOP, link.loop),
    (P_RAW, link.raw_ip),
    (P_ETH, link.ethernet),
    (P_ETYPE, link.ethertype),
    (P_MPLS, encap.mpls),
    (P_PPPOE, encap.pppoe),
    (P_IPV4, ip.ipv4),
    (P_IPV6, ip.ipv6),
    (P_IP6EXT, ip.ipv6_ext),
    (P_AH, ip.ah4),
    (P_GRE, encap.gre),
    (P_IPIP, encap.ip_in_ip),
    (P_ARP, arp.arp),
    (P_UDP, transport.udp),
    (P_TCP, transport.tcp),
    (P_ICMP, icmp.icmp),
    (P_ICMP6, icmp.icmpv6),
    (P_VXLAN, tunnel.vxlan),
    (P_GPE, tunnel.gpe),
    (P_GENEVE, tunnel.geneve),
    (P_NSH, encap.nsh),
)

PKT_TYPES = PKT_TYPE_TEXT
"""Linux SLL/SLL2 packet types (``pkt_type``); other values are shown as their number."""

_ND_FLAGS = [
    "".join(ch for ch, bit in (("R", 4), ("S", 2), ("O", 1)) if code & bit) for code in range(8)
] + ["".join(ch for ch, bit in (("M", 2), ("O", 1)) if code & bit) for code in range(4)]
# ``nd_flags`` texts (each once) and, for ``st.nd_flags + 1``, the code of its text (-1: null).
_ND_FLAG_TEXT = np.array(sorted(set(_ND_FLAGS)), dtype=object)
_ND_FLAG_CODE = np.array([-1] + [list(_ND_FLAG_TEXT).index(t) for t in _ND_FLAGS], dtype=np.int32)
_TUNNEL_TEXT = np.array(TUNNEL_NAMES[1:], dtype=object)
_IP_TUNNEL_TEXT = np.array([k.text for k in IpTunnelKind][1:], dtype=object)
_MIRROR_TEXT = np.array([k.text for k in MirrorKind][1:], dtype=object)
_DIRECTION_TEXT = np.array(["ingress", "egress"], dtype=object)
_LAYER_TEXT = np.array(LAYERS[1:], dtype=object)
_NO_TEXT = np.zeros(0, dtype=object)
_EMPTY_TEXT = np.array([""], dtype=object)

_DEFAULT_OPTIONS = DecodeOptions()


def decode_batch(batch: RecordBatch, options: DecodeOptions = _DEFAULT_OPTIONS) -> DecodedBatch:
    """Decode every record of ``batch`` into the protocol columns of the packets table.

    Gives one row per record, never raises for bad bytes: a frame that cannot be decoded keeps
    the fields decoded before the problem plus ``decode_layer`` and ``decode_error``.
    """
    if _fast is not None and len(batch) and not options.mirror_vxlan:
        return _decode_compiled(batch, options)
    return _decode_stages(batch, options)


def _decode_stages(batch: RecordBatch, options: DecodeOptions) -> DecodedBatch:
    """:func:`decode_batch` by the stages alone."""
    st = State(batch, options)
    if st.n:
        link.start(st)
        # Each level runs every stage once; a mirror or an encapsulation restarts lower down.
        for _level in range(max(options.max_tunnel_depth, 0) + 8):
            if not st.nxt.any():
                break
            for code, stage in _STAGES:
                rows = st.pending(code)
                if rows.size:
                    stage(st, rows)
        st.nxt[:] = 0
    return _finish(st)


def geneve_option_text(packed: int) -> str:
    """One ``geneve_options`` item: ``0xCLASS/0xTYPE[C]/LEN``.

    CLASS is 4 lowercase hex digits, TYPE the full type byte as 2 lowercase hex digits
    (including the critical bit 0x80), followed by an uppercase ``C`` when that bit is set,
    and LEN the option's total length in bytes including its 4-byte header (as tcpdump
    prints it), e.g. ``0x0132/0x01/8`` or ``0x0000/0x80C/8``.
    """
    cls, typ, ln = packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF
    return f"0x{cls:04x}/0x{typ:02x}{'C' if typ & 0x80 else ''}/{ln}"


def _coded(codes: np.ndarray, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A text column as ``(codes, categories)`` (see :class:`DecodedBatch`): ``codes`` index
    ``texts``, -1 for null; categories whose text repeats are merged so that each is distinct."""
    uniq, inv = np.unique(texts, return_inverse=True)
    if len(uniq) == len(texts):
        return codes, texts
    remap = np.append(inv.reshape(-1).astype(np.int32), np.int32(-1))  # code -1 stays -1
    return remap[codes], uniq


def _text_by_unique(
    n: int, mask: np.ndarray, keys: np.ndarray, fmt: Callable
) -> tuple[np.ndarray, np.ndarray]:
    """Text column, ``fmt(key)`` where ``mask`` else null, as ``(codes, categories)``; formats
    each distinct key once."""
    codes = np.full(n, -1, dtype=np.int32)
    if not mask.any():
        return codes, _NO_TEXT
    sel = keys[mask]
    uniq, inv = np.unique(sel, axis=0 if sel.ndim > 1 else None, return_inverse=True)
    texts = np.empty(len(uniq), dtype=object)
    texts[:] = [fmt(u) for u in uniq]
    codes[mask] = inv.reshape(-1)
    return _coded(codes, texts)


def _pkt_type_text(value: int) -> str:
    return PKT_TYPES.get(int(value), str(int(value)))


def _ext_text(seq: int) -> str:
    names = []
    seq = int(seq)
    while seq:
        names.append(EXT_NAMES[seq & 7])
        seq >>= 3
    return ",".join(reversed(names))


def _error_text(row: np.ndarray) -> str:
    tpl, a, b, c, d = (int(x) for x in row)
    return template_text(tpl).format(a=a, b=b, c=c, d=d)


def _geneve_texts(st: State) -> tuple[np.ndarray, np.ndarray]:
    """``geneve_options`` as ``(codes, categories)``: "" for a Geneve header without options."""
    n = st.n
    codes = np.full(n, -1, dtype=np.int32)
    grows = np.flatnonzero(st.gen >= 0)
    if grows.size == 0:
        return codes, _NO_TEXT
    codes[grows] = 0
    empty = (codes, np.array([""], dtype=object))
    rs, js, cs = [], [], []
    for serial, records in st.geneve_opts:
        for opt_no, opt_rows, code in records:
            keep = st.gen[opt_rows] == serial
            rs.append(opt_rows[keep])
            js.append(np.full(int(keep.sum()), opt_no, dtype=np.int64))
            cs.append(code[keep])
    if not rs:
        return empty
    r, j, c = np.concatenate(rs), np.concatenate(js), np.concatenate(cs)
    if r.size == 0:
        return empty
    slot = np.full(n, -1, dtype=np.int64)
    slot[grows] = np.arange(grows.size)
    mat = np.full((grows.size, int(j.max()) + 1), -1, dtype=np.int64)
    mat[slot[r], j] = c
    has = np.asarray((mat >= 0).any(axis=1))
    sub, texts = _text_by_unique(
        grows.size,
        has,
        mat,
        lambda row: ";".join(geneve_option_text(int(x)) for x in row if x >= 0),
    )
    # Category 0 is "" (no options); the texts with options follow.
    codes[grows[has]] = sub[has] + 1
    return _coded(codes, np.concatenate([np.array([""], dtype=object), texts]))


def _finish(st: State) -> DecodedBatch:
    n = st.n
    out = st.out
    out.int("tunnel_depth", np.arange(n), st.depth)
    texts: dict[str, Text] = {}
    texts["tunnel"] = (st.tunnel.astype(np.int32) - 1, _TUNNEL_TEXT)
    if st.iptun.any():
        texts["ip_tunnel"] = (st.iptun.astype(np.int32) - 1, _IP_TUNNEL_TEXT)
    if st.mirror.any():
        texts["mirror"] = (st.mirror.astype(np.int32) - 1, _MIRROR_TEXT)
        texts["mirror_direction"] = (st.mirror_dir.astype(np.int32), _DIRECTION_TEXT)
    texts["pkt_type"] = _text_by_unique(n, st.pkt_type >= 0, st.pkt_type, _pkt_type_text)
    texts["nd_flags"] = (_ND_FLAG_CODE[st.nd_flags.astype(np.int32) + 1], _ND_FLAG_TEXT)
    texts["ip6_ext"] = _text_by_unique(n, st.extseq > 0, st.extseq, _ext_text)
    texts["geneve_options"] = _geneve_texts(st)
    texts["decode_layer"] = (st.err_layer.astype(np.int32) - 1, _LAYER_TEXT)
    err = st.err_layer > 0
    if err.any():
        keys = np.concatenate([st.err_tpl[:, None].astype(np.int64), st.err_args], axis=1)
        texts["decode_error"] = _text_by_unique(n, err, keys, _error_text)
    else:
        texts["decode_error"] = (np.full(n, -1, dtype=np.int32), _NO_TEXT)
    fragments = None
    if st.options.reassemble:
        fr = np.flatnonzero(st.frag_at >= 0)
        if fr.size:
            fragments = FragmentRows(
                rows=fr,
                ip_at=st.frag_at[fr],
                hdr_at=st.frag_hdr[fr],
                outer_ip_at=st.outer_ip_at[fr],
                outer_udp_at=st.outer_udp_at[fr],
                options=st.options,
            )
    return DecodedBatch(
        n=n,
        ints=out.ints,
        bools=out.bools,
        macs=out.macs,
        ips=out.ips,
        texts=texts,
        fragments=fragments,
    )


def _compiled_dtype(name: str) -> np.dtype:
    kind = column(name).kind
    if kind == "int":
        return np.dtype(column(name).numpy_dtype)
    return np.dtype(bool if kind == "bool" else np.uint64)


if _fast is not None:
    _VALUE_DTYPES = tuple(_compiled_dtype(name) for name in _fast.VALUE_NAMES)
    _VALUE_KINDS = tuple(column(name).kind for name in _fast.VALUE_NAMES)


def _decode_compiled(batch: RecordBatch, options: DecodeOptions) -> DecodedBatch:
    """:func:`decode_batch`: the common paths in compiled code, the other records by the stages
    (the same columns and values as :func:`_decode_stages`; the tests compare the two)."""
    assert _fast is not None
    n = len(batch)
    values = tuple(np.zeros(n, dtype=dt) for dt in _VALUE_DTYPES)
    masks = tuple(np.zeros(n, dtype=bool) for _ in _VALUE_DTYPES)
    addrs = tuple(np.zeros((n, 16), dtype=np.uint8) for _ in _fast.IP_NAMES)
    families = tuple(np.zeros(n, dtype=np.uint8) for _ in _fast.IP_NAMES)
    tun = np.zeros(n, dtype=np.int8)
    nd_flags = np.full(n, -1, dtype=np.int8)
    declined = np.zeros(n, dtype=np.uint8)
    pkt_type = np.full(n, -1, dtype=np.int32)
    o = options
    n_declined, touched = _fast.decode(
        np.ascontiguousarray(batch.data, dtype=np.uint8),
        np.ascontiguousarray(batch.offsets, dtype=np.int64),
        np.ascontiguousarray(batch.cap_len, dtype=np.int64),
        np.ascontiguousarray(batch.wire_len, dtype=np.int64),
        np.ascontiguousarray(batch.linktype, dtype=np.int64),
        tunnel.port_table(o.vxlan_ports, o.gpe_ports, o.geneve_ports),
        o.guess_tunnels,
        o.max_tunnel_depth,
        values,
        masks,
        addrs,
        families,
        tun,
        nd_flags,
        declined,
        pkt_type,
    )
    out = DecodedBatch(n=n)
    for k, name in enumerate(_fast.VALUE_NAMES):
        if touched >> k & 1:
            store = {"int": out.ints, "bool": out.bools, "mac": out.macs}[_VALUE_KINDS[k]]
            store[name] = (values[k], masks[k])
    for k, name in enumerate(_fast.IP_NAMES):
        if touched >> (63 - k) & 1:
            out.ips[name] = (addrs[k], families[k])
    none = np.full(n, -1, dtype=np.int32)
    out.texts.update(
        tunnel=(tun.astype(np.int32) - 1, _TUNNEL_TEXT),
        pkt_type=_text_by_unique(n, pkt_type >= 0, pkt_type, _pkt_type_text),
        nd_flags=(_ND_FLAG_CODE[nd_flags.astype(np.int32) + 1], _ND_FLAG_TEXT),
        ip6_ext=(none.copy(), _NO_TEXT),
        # "" for a Geneve header without options (the only ones decoded in compiled code)
        geneve_options=(
            (np.where(tun == TunnelKind.GENEVE, 0, -1).astype(np.int32), _EMPTY_TEXT)
            if (tun == TunnelKind.GENEVE).any()
            else (none.copy(), _NO_TEXT)
        ),
        decode_layer=(none.copy(), _LAYER_TEXT),
        decode_error=(none.copy(), _NO_TEXT),
    )
    if n_declined:
        rows = np.flatnonzero(declined)
        _merge(out, _decode_stages(batch.select(rows), options), rows)
    return out


def _merge(out: DecodedBatch, sub: DecodedBatch, rows: np.ndarray) -> None:
    """Put ``sub``, the decoding of ``out``'s ``rows``, in ``out`` at those rows."""
    n = out.n
    for store, sub_store in ((out.ints, sub.ints), (out.bools, sub.bools), (out.macs, sub.macs)):
        for name, (v, m) in sub_store.items():
            if name not in store:
                store[name] = (np.zeros(n, dtype=v.dtype), np.zeros(n, dtype=bool))
            fv, fm = store[name]
            fv[rows] = v
            fm[rows] = m
    for name, (a, f) in sub.ips.items():
        if name not in out.ips:
            out.ips[name] = (np.zeros((n, 16), dtype=np.uint8), np.zeros(n, dtype=np.uint8))
        fa, ff = out.ips[name]
        fa[rows] = a
        ff[rows] = f
    for name, text in sub.texts.items():
        have = out.texts.get(name)
        # Both give every text column as (codes, categories) (see _finish).
        assert isinstance(text, tuple) and (have is None or isinstance(have, tuple))
        codes, cats = text
        fc, fcats = have if have is not None else (np.full(n, -1, dtype=np.int32), _NO_TEXT)
        if len(fcats) == len(cats) and (fcats == cats).all():
            fc[rows] = codes
            out.texts[name] = (fc, fcats)
            continue
        shifted = np.where(codes >= 0, codes + len(fcats), -1)
        fc = fc.astype(np.int32, copy=True)
        fc[rows] = shifted
        out.texts[name] = _coded(fc, np.concatenate([fcats, np.asarray(cats, dtype=object)]))
    if sub.fragments is not None:
        out.fragments = replace(sub.fragments, rows=rows[sub.fragments.rows])
