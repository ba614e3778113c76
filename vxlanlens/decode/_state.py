"""Machinery shared by the decoder's stages: per-row state, byte readers and output columns.

The decoder never builds a Python object per packet. Every stage receives ``rows``, a sorted
``int64`` array of the (unique) row indices whose next protocol is the stage's, reads the
header of all those rows at once by fancy indexing into the batch's concatenated ``data``,
writes output columns with ``rows`` as index, and sets each row's next protocol (``P_DONE``
to stop).

Bytes are read straight from ``RecordBatch.data`` at ``offsets + pos``: every read is guarded
by :meth:`State.need`, which checks the row's captured length first, so no byte matrix (and no
width limit) is needed; a BIG TCP frame of 80 KB is decoded like a 60-byte one.

Speed: a gather costs about the same whether it reads 1 or 40 bytes per row, so a stage reads
its whole fixed header with one gather (:func:`header`, fields described by :func:`layout`)
rather than field by field. Writes go through :func:`put`, a plain copy when a stage covers
every row, and :func:`select` skips the copies when a check drops no row (the usual case).
"""

from __future__ import annotations

import numpy as np

from ..proto import TunnelKind
from ..read._common import every_byte
from ..read.records import RecordBatch
from ..schema import column
from .options import DecodeOptions

# --- next-protocol codes --------------------------------------------------------------------
P_DONE = 0
P_ETH = 1
P_ETYPE = 2
P_SLL = 3
P_SLL2 = 4
P_RAW = 5
P_NULL = 6
P_LOOP = 7
P_IPV4 = 8
P_IPV6 = 9
P_IP6EXT = 10
P_ARP = 11
P_UDP = 12
P_TCP = 13
P_ICMP = 14
P_ICMP6 = 15
P_VXLAN = 16
P_GPE = 17
P_GENEVE = 18
P_GRE = 19
P_MPLS = 20
P_PPPOE = 21
P_NSH = 22
P_AH = 23
P_IPIP = 24

# --- layer names for ``decode_layer`` (index 0 = no error) --------------------------------------
LAYERS = (
    "",
    "link",
    "ethernet",
    "vlan",
    "llc",
    "sll",
    "sll2",
    "loopback",
    "raw-ip",
    "ipv4",
    "ipv6",
    "ipv6-ext",
    "arp",
    "udp",
    "tcp",
    "icmp",
    "icmpv6",
    "vxlan",
    "vxlan-gpe",
    "geneve",
    "gre",
    "erspan",
    "mpls",
    "pppoe",
    "nsh",
    "ah",
    "ip-in-ip",
)
L = {name: i for i, name in enumerate(LAYERS)}

TUNNEL_NAMES = tuple(k.text for k in TunnelKind)
"""``tunnel`` column text by :class:`~vxlanlens.proto.TunnelKind` code (``None``: no tunnel)."""

# --- error message templates, registered once, referenced by code --------------------------------
_TEMPLATES: list[str] = [""]
_TEMPLATE_CODES: dict[str, int] = {}


def template(text: str) -> int:
    """The code of an error message template (``{a}``..``{d}`` are filled per row)."""
    code = _TEMPLATE_CODES.get(text)
    if code is None:
        code = len(_TEMPLATES)
        _TEMPLATES.append(text)
        _TEMPLATE_CODES[text] = code
    return code


def template_text(code: int) -> str:
    """The template registered under ``code``."""
    return _TEMPLATES[code]


# --- byte readers: ``d`` holds the batch's data, ``b`` an int64 array of absolute offsets -------


class Bytes:
    """The batch's bytes with unaligned big-endian views, so that one gather reads one field.

    ``v2[i]`` / ``v4[i]`` are the 16/32-bit big-endian integers starting at byte ``i``, and
    :meth:`records` gives, for a size ``s``, the ``s`` bytes starting at each byte as one item
    (zero-copy views of ``d``).
    """

    def __init__(self, data: np.ndarray) -> None:
        d = np.ascontiguousarray(data, dtype=np.uint8)
        n = d.shape[0]
        self.d = d
        self.v2 = every_byte(d, ">u2", n - 1)
        self.v4 = every_byte(d, ">u4", n - 3)
        self._records: dict[int, np.ndarray] = {}

    def records(self, size: int) -> np.ndarray:
        """View whose item ``i`` is the ``size`` bytes starting at byte ``i`` (dtype ``V<size>``)."""
        view = self._records.get(size)
        if view is None:
            view = every_byte(self.d, np.dtype((np.void, size)), self.d.shape[0] - size + 1)
            self._records[size] = view
        return view


def layout(size: int, **fields: tuple[int, str]) -> np.dtype:
    """A header layout: a structured dtype of ``size`` bytes, each field ``name=(offset, format)``.

    Formats are NumPy's: ``u1``, big-endian ``>u2`` / ``>u4`` / ``>u8``, raw bytes ``V4`` /
    ``V16`` (addresses). Fields may overlap (a MAC is read as the ``>u8`` starting at it).
    """
    names = list(fields)
    return np.dtype(
        {
            "names": names,
            "formats": [fields[k][1] for k in names],
            "offsets": [fields[k][0] for k in names],
            "itemsize": size,
        }
    )


def header(d: Bytes, b: np.ndarray, fmt: np.dtype) -> np.ndarray:
    """Records of ``fmt`` read at each offset ``b``: every field of a header with one gather.

    A field, ``h["name"]``, is a strided view in the layout's byte order; convert it once
    (``.astype(np.int64)``) before computing with it.
    """
    return d.records(fmt.itemsize)[b].view(fmt)


def mac48(word: np.ndarray) -> np.ndarray:
    """The MAC address (uint64) in the top 48 bits of the big-endian 64-bit ``word``s at it."""
    return word.astype(np.uint64) >> np.uint64(16)


def u8(d: Bytes, b: np.ndarray, k: int | np.ndarray = 0) -> np.ndarray:
    """Byte ``k`` after each offset, as int64."""
    return d.d[b + k].astype(np.int64)


def u16(d: Bytes, b: np.ndarray, k: int | np.ndarray = 0) -> np.ndarray:
    """Big-endian 16-bit field at ``b + k``, as int64."""
    return d.v2[b + k].astype(np.int64)


def u24(d: Bytes, b: np.ndarray, k: int | np.ndarray = 0) -> np.ndarray:
    """Big-endian 24-bit field at ``b + k`` (a VNI), as int64."""
    i = b + k
    return (d.v2[i].astype(np.int64) << 8) | d.d[i + 2]


def u32(d: Bytes, b: np.ndarray, k: int | np.ndarray = 0) -> np.ndarray:
    """Big-endian 32-bit field at ``b + k``, as int64."""
    return d.v4[b + k].astype(np.int64)


def raw(d: Bytes, b: np.ndarray, k: int | np.ndarray, size: int) -> np.ndarray:
    """``(m, size)`` uint8 matrix of the ``size`` bytes at ``b + k`` (sniffing)."""
    return d.records(size)[b + k].view(np.uint8).reshape(-1, size)


def mac(d: Bytes, b: np.ndarray, k: int | np.ndarray = 0) -> np.ndarray:
    """48-bit MAC addresses at ``b + k`` as uint64 (network order)."""
    i = b + k
    return (d.v2[i].astype(np.uint64) << np.uint64(32)) | d.v4[i + 2].astype(np.uint64)


def addr(d: Bytes, b: np.ndarray, k: int | np.ndarray, size: int) -> np.ndarray:
    """The ``size``-byte (4 or 16) IP addresses at ``b + k``, as raw ``V4`` / ``V16`` items."""
    return d.records(size)[b + k]


def put(a: np.ndarray, rows: np.ndarray, values: np.ndarray | int | bool) -> None:
    """``a[rows] = values``; a plain copy when ``rows`` are all of ``a``'s rows.

    ``rows`` are unique row indices (as everywhere in the decoder), so ``rows.size == len(a)``
    means every row, in order.
    """
    if rows.size == a.shape[0]:
        a[...] = values
    elif isinstance(values, np.ndarray) and values.dtype != a.dtype and values.ndim == 1:
        a[rows] = values.astype(a.dtype)  # a cast first, then a plain scatter: faster
    else:
        a[rows] = values


def isin(v: np.ndarray, values: tuple[int, ...]) -> np.ndarray:
    """Mask of the elements of ``v`` equal to one of a few ``values`` (faster than
    ``np.isin`` for a handful of small integers)."""
    m = np.zeros(v.shape, dtype=bool)
    for x in values:
        m |= v == x
    return m


def select(mask: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """``arrays`` (row arrays, values, header records) restricted to ``mask``; the arrays
    themselves when ``mask`` is all True."""
    if mask.all():
        return arrays
    return tuple(_pick(a, mask) for a in arrays)


def _pick(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if a.dtype.names is not None:  # header records: copied as raw bytes, much faster
        return a.view(np.dtype((np.void, a.dtype.itemsize)))[mask].view(a.dtype)
    return a[mask]


_V4_SLOT = np.dtype({"names": ["v4"], "formats": ["V4"], "offsets": [0], "itemsize": 16})


class _Ip:
    """One IP column: ``(n, 16)`` address bytes (IPv4 in the first 4, the rest zero) and family."""

    def __init__(self, n: int) -> None:
        self.addr = np.zeros((n, 16), dtype=np.uint8)
        self.family = np.zeros(n, dtype=np.uint8)
        self.whole = self.addr.view(np.dtype((np.void, 16))).reshape(-1)  # one item per row
        self.v4 = self.addr.view(_V4_SLOT).reshape(-1)["v4"]  # the first 4 bytes of each row
        self.has_v6 = False  # an IPv6 address was stored: IPv4 writes must clear the tail


class Out:
    """Output columns, allocated lazily on first write, in the schema's narrow dtypes.

    Writes take ``rows`` (unique row indices) and never modify them; the validity mask of the
    last ``rows`` array written is kept, so that the many columns a stage writes at the same
    rows cost one mask update each (a bitwise OR).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.ints: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.bools: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.macs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._ips: dict[str, _Ip] = {}
        self._rows: np.ndarray | None = None
        self._mask = np.zeros(0, dtype=bool)

    @property
    def ips(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """IP columns as ``name -> ((n, 16) uint8 address bytes, uint8 family 0/4/6)``."""
        return {name: (c.addr, c.family) for name, c in self._ips.items()}

    def mask(self, rows: np.ndarray) -> np.ndarray:
        """Bool array, True at ``rows`` (cached for the last ``rows`` array asked about)."""
        if rows is not self._rows:
            if rows.size == self.n:
                mask = np.ones(self.n, dtype=bool)
            else:
                mask = np.zeros(self.n, dtype=bool)
                mask[rows] = True
            self._rows, self._mask = rows, mask
        return self._mask

    def _int(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        col = self.ints.get(name)
        if col is None:
            dtype = column(name).numpy_dtype
            col = (np.zeros(self.n, dtype=dtype), np.zeros(self.n, dtype=bool))
            self.ints[name] = col
        return col

    def _set(self, col: tuple[np.ndarray, np.ndarray], rows: np.ndarray, values) -> None:
        if rows.size:
            put(col[0], rows, values)
            np.logical_or(col[1], self.mask(rows), out=col[1])

    def int(self, name: str, rows: np.ndarray, values: np.ndarray | int) -> None:
        """Set integer column ``name`` at ``rows``."""
        self._set(self._int(name), rows, values)

    def bool(self, name: str, rows: np.ndarray, values: np.ndarray | bool) -> None:
        """Set bool column ``name`` at ``rows``."""
        col = self.bools.get(name)
        if col is None:
            col = (np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool))
            self.bools[name] = col
        self._set(col, rows, values)

    def mac(self, name: str, rows: np.ndarray, values: np.ndarray) -> None:
        """Set MAC column ``name`` at ``rows`` (uint64 values)."""
        col = self.macs.get(name)
        if col is None:
            col = (np.zeros(self.n, dtype=np.uint64), np.zeros(self.n, dtype=bool))
            self.macs[name] = col
        self._set(col, rows, values)

    def _ip(self, name: str) -> _Ip:
        col = self._ips.get(name)
        if col is None:
            col = self._ips[name] = _Ip(self.n)
        return col

    def ip(self, name: str, rows: np.ndarray, addr: np.ndarray) -> None:
        """Set IP column ``name`` at ``rows`` from raw ``V4`` / ``V16`` addresses (see :func:`addr`)."""
        col = self._ip(name)
        if rows.size == 0:
            return
        if addr.dtype.itemsize == 4:
            if col.has_v6:
                put(col.whole, rows, np.zeros((), dtype=col.whole.dtype))
            put(col.v4, rows, addr)
            put(col.family, rows, 4)
        else:
            put(col.whole, rows, addr)
            put(col.family, rows, 6)
            col.has_v6 = True

    def clear(self, names: tuple[str, ...], rows: np.ndarray) -> None:
        """Make columns ``names`` null at ``rows``."""
        if rows.size == 0:
            return
        keep = ~self.mask(rows)
        for name in names:
            for store in (self.ints, self.bools, self.macs):
                col = store.get(name)
                if col is not None:
                    np.logical_and(col[1], keep, out=col[1])
                    break
            else:
                ip = self._ips.get(name)
                if ip is not None:
                    np.multiply(ip.family, keep, out=ip.family)

    def move(self, pairs: tuple[tuple[str, str], ...], rows: np.ndarray) -> None:
        """Copy column ``src`` to ``dst`` at ``rows`` (null stays null), then null ``src`` there."""
        if rows.size == 0:
            return
        at = self.mask(rows)
        keep = ~at
        for src, dst in pairs:
            ip = self._ips.get(src)
            if ip is not None:
                new = dst not in self._ips
                target = self._ip(dst)
                words, twords = ip.addr.view(np.uint64), target.addr.view(np.uint64)
                if new:  # arithmetic instead of a selection: much faster
                    np.multiply(words, at[:, None], out=twords)
                    np.multiply(ip.family, at, out=target.family)
                else:
                    twords[...] = np.where(at[:, None], words, twords)
                    target.family[...] = np.where(at, ip.family, target.family)
                target.has_v6 |= ip.has_v6
                np.multiply(ip.family, keep, out=ip.family)
                continue
            for store in (self.ints, self.bools, self.macs):
                if src not in store:
                    continue
                sv, sm = store[src]
                if dst not in store:
                    if store is self.ints:
                        dv, dm = self._int(dst)
                    else:
                        dv, dm = store[dst] = (np.zeros_like(sv), np.zeros_like(sm))
                    np.multiply(sv, at, out=dv, casting="unsafe")
                    np.logical_and(sm, at, out=dm)
                else:
                    dv, dm = store[dst]
                    dv[...] = np.where(at, sv, dv)
                    dm[...] = (dm & keep) | (sm & at)
                np.logical_and(sm, keep, out=sm)
                break


_NO_ROWS = np.zeros(0, dtype=np.int64)


class State:
    """Per-row decoding state of one batch (all arrays have one entry per record)."""

    def __init__(self, batch: RecordBatch, options: DecodeOptions) -> None:
        n = len(batch)
        self.n = n
        self.options = options
        self.data = Bytes(batch.data)
        self.start = np.asarray(batch.offsets, dtype=np.int64)
        self.cap = np.asarray(batch.cap_len, dtype=np.int64)
        # The end of the current packet as its headers declare it; starts at the wire length.
        self.end = np.maximum(np.asarray(batch.wire_len, dtype=np.int64), self.cap)
        self.linktype = np.asarray(batch.linktype, dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        self.nxt = np.zeros(n, dtype=np.int8)
        self.jumbo = np.zeros(n, dtype=bool)  # IP length 0 (BIG TCP / GSO): lengths not checked
        self.etype = np.zeros(n, dtype=np.int64)
        self.llc_ok = np.zeros(n, dtype=bool)  # an Ethertype < 0x0600 is an 802.3 length
        self.proto = np.zeros(n, dtype=np.int64)  # IPv6 next header while walking extensions
        self.extseq = np.zeros(n, dtype=np.int64)  # IPv6 extension headers, 3 bits each
        self.udp_len = np.zeros(n, dtype=np.int64)
        self.udp_csum = np.zeros(n, dtype=np.int64)
        self.depth = np.zeros(n, dtype=np.int64)
        self.tunnel = np.zeros(n, dtype=np.int8)  # index into TUNNEL_NAMES
        self.iptun = np.zeros(n, dtype=np.int8)  # IpTunnelKind code of the innermost IP tunnel
        self.mirror = np.zeros(n, dtype=np.int8)  # MirrorKind code of the peeled mirror transport
        self.mirror_dir = np.full(n, -1, dtype=np.int8)  # ERSPAN III D bit (0 ingress, 1 egress)
        self.pkt_type = np.full(n, -1, dtype=np.int64)
        self.nd_flags = np.full(n, -1, dtype=np.int8)  # NA: 0..7 (R=4 S=2 O=1); RA: 8 + (M=2 O=1)
        self.gen = np.full(n, -1, dtype=np.int64)  # serial of the Geneve header owning the options
        # One entry per Geneve stage call: (serial, [(option index, rows, packed option)]).
        self.geneve_opts: list[tuple[int, list[tuple[int, np.ndarray, np.ndarray]]]] = []
        # Where headers start (offsets into the record), for reassembling IP fragments:
        self.ip_at = np.full(n, -1, dtype=np.int64)  # the current (latest) IP header
        self.udp_at = np.full(n, -1, dtype=np.int64)  # the current (latest) UDP header
        self.outer_ip_at = np.full(n, -1, dtype=np.int64)  # IP and UDP headers of the outermost
        self.outer_udp_at = np.full(n, -1, dtype=np.int64)  # tunnel (set when entering it)
        self.frag_at = np.full(n, -1, dtype=np.int64)  # the first IP header that is a fragment
        self.frag_hdr = np.full(n, -1, dtype=np.int64)  # its IPv6 fragment header
        self.err_layer = np.zeros(n, dtype=np.int8)
        self.err_tpl = np.zeros(n, dtype=np.int32)
        self.err_args = np.zeros((n, 4), dtype=np.int64)
        self.out = Out(n)

    def base(self, rows: np.ndarray) -> np.ndarray:
        """Absolute offset in ``data`` of each row's current position."""
        return self.start[rows] + self.pos[rows]

    def fail(
        self,
        rows: np.ndarray,
        layer: str,
        text: str,
        a: np.ndarray | int = 0,
        b: np.ndarray | int = 0,
        c: np.ndarray | int = 0,
        d: np.ndarray | int = 0,
    ) -> None:
        """Stop ``rows`` with an error at ``layer``; ``text`` is a template using {a}..{d}."""
        if rows.size == 0:
            return
        self.err_layer[rows] = L[layer]
        self.err_tpl[rows] = template(text)
        self.err_args[rows, 0] = a
        self.err_args[rows, 1] = b
        self.err_args[rows, 2] = c
        self.err_args[rows, 3] = d
        self.nxt[rows] = P_DONE

    def need(
        self,
        rows: np.ndarray,
        nbytes: np.ndarray | int,
        layer: str,
        what: str,
        at: np.ndarray | int = 0,
        limit: np.ndarray | None = None,
        container: str = "packet",
        pos: np.ndarray | None = None,
    ) -> np.ndarray:
        """Mask of ``rows`` that have ``nbytes`` at ``pos + at``; the others fail at ``layer``.

        A row fails when the bytes run past its captured length while the packet goes on
        (truncated by the snap length: "only N captured"), or past the end its enclosing headers
        declare (``limit``, by default the row's current packet end: "only N left in the
        ``container``"). ``pos`` may give ``self.pos[rows]`` when the caller has it.
        """
        p = (self.pos[rows] if pos is None else pos) + at
        req = p + nbytes
        lim = self.end[rows] if limit is None else limit
        cap = self.cap[rows]
        bad = req > np.minimum(cap, lim)
        if not bad.any():  # the usual case: every row has its bytes
            return ~bad
        trunc = (req > cap) & (cap < lim)  # the capture ended before the packet did
        short = ~trunc & (req > lim)  # the enclosing headers declare too few bytes
        if short.any():
            nb = nbytes[short] if isinstance(nbytes, np.ndarray) else nbytes
            self.fail(
                rows[short],
                layer,
                f"{what} needs {{a}} bytes at offset {{b}}, only {{c}} left in the {container}",
                nb,
                p[short],
                np.maximum(lim[short] - p[short], 0),
            )
        if trunc.any():
            nb = nbytes[trunc] if isinstance(nbytes, np.ndarray) else nbytes
            self.fail(
                rows[trunc],
                layer,
                f"{what} needs {{a}} bytes at offset {{b}}, only {{c}} captured",
                nb,
                p[trunc],
                np.maximum(cap[trunc] - p[trunc], 0),
            )
        return ~(short | trunc)

    def keep(
        self,
        rows: np.ndarray,
        nbytes: np.ndarray | int,
        layer: str,
        what: str,
        container: str = "packet",
    ) -> np.ndarray:
        """The ``rows`` that have ``nbytes`` at ``pos`` (``rows`` itself when all do); the others
        fail as in :meth:`need`."""
        ok = self.need(rows, nbytes, layer, what, container=container)
        return rows if ok.all() else rows[ok]

    def pending(self, code: int) -> np.ndarray:
        """Rows whose next protocol is ``code``."""
        m = self.nxt == code
        return np.flatnonzero(m) if m.any() else _NO_ROWS


POD_COLUMNS = (
    "src_mac",
    "dst_mac",
    "vlan",
    "vlan2",
    "ethertype",
    "ip_version",
    "src_ip",
    "dst_ip",
    "ttl",
    "ip_proto",
    "ip_len",
    "ip_id",
    "frag_offset",
    "more_fragments",
    "dont_fragment",
    "sport",
    "dport",
    "payload_len",
    "mpls_label",
    "mpls_depth",
    "pppoe_code",
    "pppoe_session",
    "ppp_proto",
)
"""Pod-frame columns a decoder fills from the frame it is in: cleared when that frame turns out
to be a wrapper (a tunnel entered, a mirror transport peeled)."""
