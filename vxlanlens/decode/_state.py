"""Machinery shared by the decoder's stages: per-row state, byte readers and output columns.

The decoder never builds a Python object per packet. Every stage receives ``rows``, an
``int64`` array of row indices whose next protocol is the stage's, reads header fields of all
those rows at once by fancy indexing into the batch's concatenated ``data`` (big-endian
integers assembled from bytes), writes output columns with ``rows`` as index, and sets each
row's next protocol (``P_DONE`` to stop).

Bytes are read straight from ``RecordBatch.data`` at ``offsets + pos``: every read is guarded
by :meth:`State.need`, which checks the row's captured length first, so no byte matrix (and no
width limit) is needed; a BIG TCP frame of 80 KB is decoded like a 60-byte one.
"""

from __future__ import annotations

import numpy as np

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
)
L = {name: i for i, name in enumerate(LAYERS)}

TUNNEL_NAMES = (None, "vxlan", "vxlan-gpe", "geneve")

_NP_DTYPES = {"UInt8": np.uint8, "UInt16": np.uint16, "UInt32": np.uint32}

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
    ``w16[i]`` the 16 bytes starting there (zero-copy views of ``d``).
    """

    def __init__(self, data: np.ndarray) -> None:
        d = np.ascontiguousarray(data, dtype=np.uint8)
        n = d.shape[0]
        self.d = d
        self.v2 = self._view(d, ">u2", n - 1)
        self.v4 = self._view(d, ">u4", n - 3)
        self.w16 = np.lib.stride_tricks.sliding_window_view(d, 16) if n >= 16 else None

    @staticmethod
    def _view(d: np.ndarray, dtype: str, count: int) -> np.ndarray:
        if count <= 0:
            return np.zeros(0, dtype=dtype)
        return np.ndarray(shape=(count,), dtype=dtype, buffer=d, strides=(1,))


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
    """``(m, size)`` uint8 matrix of the ``size`` bytes at ``b + k`` (addresses, sniffing)."""
    i = b + k
    if size == 4:
        return d.v4[i].astype(">u4").view(np.uint8).reshape(-1, 4)
    if size == 16 and d.w16 is not None:
        return d.w16[i]
    if d.d.shape[0] < size:  # no row can have that many bytes; only empty reads get here
        return np.zeros((np.shape(i)[0], size), dtype=np.uint8)
    return np.lib.stride_tricks.sliding_window_view(d.d, size)[i]


def mac(d: Bytes, b: np.ndarray, k: int | np.ndarray = 0) -> np.ndarray:
    """48-bit MAC addresses at ``b + k`` as uint64 (network order)."""
    i = b + k
    return (d.v2[i].astype(np.uint64) << np.uint64(32)) | d.v4[i + 2].astype(np.uint64)


class Out:
    """Output columns, allocated lazily on first write, in the schema's narrow dtypes."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.ints: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.bools: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.macs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.ips: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _int(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        col = self.ints.get(name)
        if col is None:
            dtype = _NP_DTYPES.get(column(name).dtype, np.int64)
            col = (np.zeros(self.n, dtype=dtype), np.zeros(self.n, dtype=bool))
            self.ints[name] = col
        return col

    def int(self, name: str, rows: np.ndarray, values: np.ndarray | int) -> None:
        """Set integer column ``name`` at ``rows``."""
        v, m = self._int(name)
        v[rows] = values
        m[rows] = True

    def bool(self, name: str, rows: np.ndarray, values: np.ndarray | bool) -> None:
        """Set bool column ``name`` at ``rows``."""
        col = self.bools.get(name)
        if col is None:
            col = (np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool))
            self.bools[name] = col
        col[0][rows] = values
        col[1][rows] = True

    def mac(self, name: str, rows: np.ndarray, values: np.ndarray) -> None:
        """Set MAC column ``name`` at ``rows`` (uint64 values)."""
        col = self.macs.get(name)
        if col is None:
            col = (np.zeros(self.n, dtype=np.uint64), np.zeros(self.n, dtype=bool))
            self.macs[name] = col
        col[0][rows] = values
        col[1][rows] = True

    def ip(self, name: str, rows: np.ndarray, addr: np.ndarray) -> None:
        """Set IP column ``name`` at ``rows`` from an ``(m, 4)`` or ``(m, 16)`` byte matrix."""
        col = self.ips.get(name)
        if col is None:
            col = (np.zeros((self.n, 16), dtype=np.uint8), np.zeros(self.n, dtype=np.uint8))
            self.ips[name] = col
        a, fam = col
        if addr.shape[1] == 4:
            a[rows, :4] = addr
            a[rows, 4:] = 0
            fam[rows] = 4
        else:
            a[rows] = addr
            fam[rows] = 6

    def clear(self, names: tuple[str, ...], rows: np.ndarray) -> None:
        """Make columns ``names`` null at ``rows``."""
        for name in names:
            for store in (self.ints, self.bools, self.macs, self.ips):
                col = store.get(name)
                if col is not None:
                    col[1][rows] = 0
                    break

    def move(self, pairs: tuple[tuple[str, str], ...], rows: np.ndarray) -> None:
        """Copy column ``src`` to ``dst`` at ``rows`` (null stays null), then null ``src`` there."""
        for src, dst in pairs:
            for store in (self.ints, self.bools, self.macs, self.ips):
                if src not in store:
                    continue
                sv, sm = store[src]
                if dst not in store:
                    if store is self.ints:
                        self._int(dst)
                    else:
                        store[dst] = (np.zeros_like(sv), np.zeros_like(sm))
                dv, dm = store[dst]
                dv[rows] = sv[rows]
                dm[rows] = sm[rows]
                sm[rows] = 0
                break


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
        self.pkt_type = np.full(n, -1, dtype=np.int64)
        self.nd_flags = np.full(n, -1, dtype=np.int8)  # NA: 0..7 (R=4 S=2 O=1); RA: 8 + (M=2 O=1)
        self.gen = np.full(n, -1, dtype=np.int64)  # serial of the Geneve header owning the options
        # One entry per Geneve stage call: (serial, [(option index, rows, packed option)]).
        self.geneve_opts: list[tuple[int, list[tuple[int, np.ndarray, np.ndarray]]]] = []
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
    ) -> np.ndarray:
        """Mask of ``rows`` that have ``nbytes`` at ``pos + at``; the others fail at ``layer``.

        A row fails when the bytes run past its captured length while the packet goes on
        (truncated by the snap length: "only N captured"), or past the end its enclosing headers
        declare (``limit``, by default the row's current packet end: "only N left in the
        ``container``").
        """
        p = self.pos[rows] + at
        req = p + nbytes
        lim = self.end[rows] if limit is None else limit
        cap = self.cap[rows]
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

    def pending(self, code: int) -> np.ndarray:
        """Rows whose next protocol is ``code``."""
        return np.flatnonzero(self.nxt == code)
