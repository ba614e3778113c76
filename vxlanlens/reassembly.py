"""IP reassembly: the fragments of one IP packet (outer or pod frame, IPv4 or IPv6) joined, so
that the packet is decoded once (tunnel, inner frame, transport) and pairs like any other.

The decoder marks, on every row that is an IP fragment, where the *outermost* fragmented IP
header starts (:class:`~vxlanlens.decode.result.FragmentRows`). :class:`FragmentStore` keeps a
copy of those records only (fragments are rare, so this costs nothing on ordinary traffic),
across batches and reading processes, and :meth:`FragmentStore.plan` groups them into packets:

* a packet is identified, as a receiving stack does (RFC 791, RFC 8200), by source,
  destination, protocol (IPv6: the fragment header's next header) and identification, and
  also by where it was seen: capture, interface, ``-i any`` interface index and direction,
  and for a fragment inside a tunnel the tunnel's outer addresses and VNI (copies of one
  packet seen at two points of one capture are reassembled separately);
* fragments arrive in any order; a fragment set is complete when the fragments cover the
  payload from offset 0 to the end the last fragment (MF clear) gives, without a gap;
* the packet is reassembled on the row of the fragment that completed it (the last of its
  fragments in capture order), as Wireshark shows it: a synthetic frame made of the first
  fragment's link and enclosing headers (their length fields adjusted), the IP header without
  fragmentation, and the whole payload, decoded by the fast decoder; the other fragments' rows
  are decoded again up to their IP header only (their first bytes are not a packet of their
  own: decoding them further would count one request twice);
* sets that cannot be reassembled become a ``decode_error`` on every fragment's row, which
  otherwise keeps the fields it decoded: overlapping fragments whose bytes differ, two ends,
  a non-last fragment whose length is not a multiple of 8, a packet over 65,535 bytes, more
  than :data:`MAX_FRAGMENTS` fragments, a fragment cut by the snap length, a set still
  incomplete when the capture ends, or one that waited longer than the kernel would
  (:data:`TIMEOUT_NS`; a later fragment with the same identity starts a new set).

A reassembled packet that is itself a fragment of a packet inside it (a tunnel packet
fragmented on the underlay, carrying a pod packet the pod had fragmented too) is shown with
its inner fragment fields and not reassembled a second time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace

import numpy as np

from .decode import decode_batch
from .decode.options import DecodeOptions
from .decode.result import DecodedBatch
from .read.records import RecordBatch
from .schema import COLUMNS

__all__ = [
    "CARRY_AGE_NS",
    "MAX_CARRY",
    "MAX_FRAGMENTS",
    "TIMEOUT_NS",
    "Failed",
    "FragmentStore",
    "Plan",
    "Reassembled",
    "join",
    "open_from",
    "take",
]

TIMEOUT_NS = {4: 30_000_000_000, 6: 60_000_000_000}
"""How long a fragment set may wait for its missing fragments, by IP version (the Linux
defaults ``net.ipv4.ipfrag_time`` = 30 s and ``net.ipv6.ip6frag_time`` = 60 s)."""

MAX_FRAGMENTS = 1024
"""More fragments than this in one set (at least 64 bytes each, short of the 65,535-byte
limit) is not a packet but an attack on reassembly: the set is not reassembled."""

_MAX_PACKET = 65535


@dataclass(slots=True)
class _Fragment:
    row: int  # row in the table being built
    frame_no: int
    ts_ns: int
    key: bytes
    version: int
    offset: int  # fragment offset, bytes
    more: bool  # more fragments follow
    payload: bytes  # the fragmentable bytes it carries
    record: bytes  # the captured record
    linktype: int
    ip_at: int
    hdr_at: int  # IPv6 fragment header, -1 for IPv4
    outer_ip_at: int  # enclosing tunnel's IP header, -1 when the fragment is not in a tunnel
    outer_udp_at: int
    error: str | None = None  # why this fragment cannot take part in a reassembly


@dataclass(frozen=True)
class Reassembled:
    """One packet reassembled from its fragments."""

    row: int
    """Row of the fragment that completed it, which holds the packet."""
    rows: tuple[int, ...]
    """Rows of all its fragments, in capture order (``row`` among them)."""
    first_frame: int
    """Frame number of its first fragment in capture order."""
    length: int
    """Length of the reassembled IP packet, header included."""
    record: bytes
    """The synthetic frame: link and enclosing headers, IP header, whole payload."""
    linktype: int
    own: bytes
    """The record of the fragment that completed it."""
    enclosed: bool
    """The fragmented header is inside a tunnel (each fragment was encapsulated on its own)."""
    others: tuple[tuple[int, bytes, int], ...]
    """``(row, record, linktype)`` of its other fragments."""


@dataclass(frozen=True)
class Failed:
    """A fragment set that could not be reassembled."""

    rows: tuple[int, ...]
    layer: str
    """``ipv4`` or ``ipv6``: the fragmented header's layer."""
    text: str
    """What went wrong, one line."""
    open: bool = False
    """Incomplete only because the input ended: more fragments may follow in a later batch."""


@dataclass
class Plan:
    """What reassembly changes in the table being built."""

    packets: list[Reassembled] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    options: DecodeOptions = field(default_factory=DecodeOptions)

    def decode(self) -> tuple[DecodedBatch, np.ndarray, DecodedBatch, np.ndarray]:
        """The decoded rows reassembly replaces, with the table rows they replace: the rows
        holding the reassembled packets (in ``packets`` order) and the other fragments of those
        packets, decoded up to their fragmented IP header."""
        base = replace(self.options, reassemble=False, stop_at_fragments=False)
        whole = decode_batch(_batch([(p.record, p.linktype) for p in self.packets]), base)
        own = decode_batch(_batch([(p.own, p.linktype) for p in self.packets]), base)
        enclosed = np.array([p.enclosed for p in self.packets], dtype=bool)
        held = _merge(whole, own, enclosed)
        others = [o for p in self.packets for o in p.others]
        stop = replace(base, stop_at_fragments=True)
        parts = decode_batch(_batch([(rec, lt) for _, rec, lt in others]), stop)
        rows = np.array([p.row for p in self.packets], dtype=np.int64)
        other_rows = np.array([r for r, _, _ in others], dtype=np.int64)
        return held, rows, parts, other_rows


# Columns of the fragmented IP header that stay the completing fragment's own, by where the
# header's fields are in a row: the pod frame's IP columns, or the outer ones.
_OWN_POD = ("ip_len", "ip_id", "frag_offset", "more_fragments", "dont_fragment", "ip6_ext")
_OWN_OUTER = ("outer_frag_offset", "outer_more_fragments", "outer_dont_fragment")


def _merge(whole: DecodedBatch, own: DecodedBatch, enclosed: np.ndarray) -> DecodedBatch:
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


class FragmentStore:
    """The IP fragments of a table being built (see the module's documentation)."""

    def __init__(self) -> None:
        self._frags: list[_Fragment] = []
        self._options: DecodeOptions | None = None

    def __len__(self) -> int:
        return len(self._frags)

    def add(self, batch: RecordBatch, decoded: DecodedBatch, base: int) -> None:
        """Keep the fragments of ``batch`` (rows ``base`` onwards of the table)."""
        info = decoded.fragments
        if info is None or info.rows.size == 0:
            return
        opts = info.options
        if isinstance(opts, DecodeOptions):
            self._options = opts
        ifindex = decoded.ints.get("ifindex")
        vni = decoded.ints.get("vni")
        pkt_type = decoded.text("pkt_type") if "pkt_type" in decoded.texts else None
        for j, i in enumerate(info.rows.tolist()):
            start, cap = int(batch.offsets[i]), int(batch.cap_len[i])
            record = batch.data[start : start + cap].tobytes()
            context = [
                batch.capture,
                int(batch.interface[i]),
                int(batch.linktype[i]),
                int(ifindex[0][i]) if ifindex is not None and ifindex[1][i] else -1,
                pkt_type[i] if pkt_type is not None else None,
            ]
            outer_ip_at = int(info.outer_ip_at[j])
            ip_at = int(info.ip_at[j])
            if not 0 <= outer_ip_at < ip_at:
                outer_ip_at = -1
            elif vni is not None and vni[1][i]:
                context.append(int(vni[0][i]))
            frag = _parse(
                record,
                row=base + i,
                frame_no=int(batch.frame_no[i]),
                ts_ns=int(batch.ts_ns[i]),
                linktype=int(batch.linktype[i]),
                ip_at=ip_at,
                hdr_at=int(info.hdr_at[j]),
                outer_ip_at=outer_ip_at,
                outer_udp_at=int(info.outer_udp_at[j]) if outer_ip_at >= 0 else -1,
                wire_len=int(batch.wire_len[i]),
                context=repr(context).encode(),
            )
            if frag is not None:
                self._frags.append(frag)

    def absorb(self, other: FragmentStore, base: int, frame_offset: int = 0) -> None:
        """Append ``other``'s fragments, rows of a builder appended at row ``base`` whose frame
        numbers are shifted by ``frame_offset``."""
        for f in other._frags:
            f.row += base
            f.frame_no += frame_offset
        self._frags.extend(other._frags)
        if self._options is None:
            self._options = other._options
        other._frags = []

    def plan(self) -> Plan:
        """Group the fragments into packets: the complete ones reassembled, the others failed."""
        plan = Plan(options=self._options or DecodeOptions())
        open_sets: dict[bytes, list[_Fragment]] = {}
        for f in sorted(self._frags, key=lambda f: f.row):
            frags = open_sets.get(f.key)
            if frags is not None and f.ts_ns - frags[0].ts_ns > TIMEOUT_NS[f.version]:
                del open_sets[f.key]
                plan.failed.append(_failed(frags, _timeout_text(frags, f)))
                frags = None
            if frags is None:
                frags = open_sets[f.key] = []
            frags.append(f)
            done = _complete(frags)
            if done is None:
                if len(frags) > MAX_FRAGMENTS:
                    del open_sets[f.key]
                    plan.failed.append(
                        _failed(frags, f"more than {MAX_FRAGMENTS} fragments in one set")
                    )
                continue
            del open_sets[f.key]
            if isinstance(done, str):
                plan.failed.append(_failed(frags, done))
            else:
                plan.packets.append(done)
        for frags in open_sets.values():
            plan.failed.append(replace(_failed(frags, _incomplete_text(frags)), open=True))
        return plan


MAX_CARRY = 65536
"""Records a stream may carry into its next batch to complete fragment sets."""

CARRY_AGE_NS = 2_000_000_000
"""A stream waits for the missing fragments of a set at most this long (capture time): the
fragments of one packet leave within microseconds, so a set older than this has lost one."""


def open_from(batch: RecordBatch, decoded: DecodedBatch) -> int | None:
    """The first row of ``batch`` that belongs to a fragment set still incomplete at its end
    and younger than :data:`CARRY_AGE_NS` (its missing fragments may come in the next batch),
    or ``None``: where a stream that reassembles batch by batch may cut the batch and carry the
    rest into the next one."""
    if decoded.fragments is None or len(batch) == 0:
        return None
    store = FragmentStore()
    store.add(batch, decoded, 0)
    plan = store.plan()
    newest = int(batch.ts_ns.max())
    open_rows = [
        min(f.rows)
        for f in plan.failed
        if f.open and newest - int(batch.ts_ns[min(f.rows)]) <= CARRY_AGE_NS
    ]
    if not open_rows:
        return None
    cut = min(open_rows)
    # no other set may straddle the cut: its fragments go together
    spans = sorted(
        [(min(p.rows), max(p.rows)) for p in plan.packets]
        + [(min(f.rows), max(f.rows)) for f in plan.failed],
        key=lambda span: -span[1],
    )
    for lo, hi in spans:
        if hi < cut:
            break
        cut = min(cut, lo)
    return cut


def take(batch: RecordBatch, lo: int, hi: int | None = None) -> RecordBatch:
    """Records ``lo:hi`` of ``batch`` (sharing its bytes)."""
    hi = len(batch) if hi is None else hi
    return replace(
        batch,
        offsets=batch.offsets[lo:hi],
        cap_len=batch.cap_len[lo:hi],
        wire_len=batch.wire_len[lo:hi],
        ts_ns=batch.ts_ns[lo:hi],
        linktype=batch.linktype[lo:hi],
        frame_no=batch.frame_no[lo:hi],
        interface=batch.interface[lo:hi],
        comments={i - lo: t for i, t in batch.comments.items() if lo <= i < hi},
    )


def join(a: RecordBatch, b: RecordBatch) -> RecordBatch:
    """The records of ``a`` then those of ``b`` (two batches of one capture) in one batch."""
    shift = int(a.data.shape[0])
    return replace(
        b,
        data=np.concatenate([a.data, b.data]),
        offsets=np.concatenate([a.offsets, b.offsets + shift]),
        cap_len=np.concatenate([a.cap_len, b.cap_len]),
        wire_len=np.concatenate([a.wire_len, b.wire_len]),
        ts_ns=np.concatenate([a.ts_ns, b.ts_ns]),
        linktype=np.concatenate([a.linktype, b.linktype]),
        frame_no=np.concatenate([a.frame_no, b.frame_no]),
        interface=np.concatenate([a.interface, b.interface]),
        comments={**a.comments, **{i + len(a): t for i, t in b.comments.items()}},
    )


def _batch(records: list[tuple[bytes, int]]) -> RecordBatch:
    """A record batch of in-memory frames with their link types."""
    n = len(records)
    lens = np.array([len(r) for r, _ in records], dtype=np.int64)
    offsets = np.zeros(n, dtype=np.int64)
    if n:
        offsets[1:] = np.cumsum(lens)[:-1]
    data = np.frombuffer(b"".join(r for r, _ in records), dtype=np.uint8).copy()
    return RecordBatch(
        capture="reassembly",
        data=data,
        offsets=offsets,
        cap_len=lens,
        wire_len=lens.copy(),
        ts_ns=np.zeros(n, dtype=np.int64),
        linktype=np.array([lt for _, lt in records], dtype=np.int64),
        frame_no=np.arange(1, n + 1, dtype=np.int64),
        interface=np.full(n, -1, dtype=np.int64),
    )


def _parse(
    record: bytes,
    *,
    row: int,
    frame_no: int,
    ts_ns: int,
    linktype: int,
    ip_at: int,
    hdr_at: int,
    outer_ip_at: int,
    outer_udp_at: int,
    wire_len: int,
    context: bytes,
) -> _Fragment | None:
    """The fragment whose IP header starts at ``ip_at`` in ``record`` (``None`` when the
    decoder's offsets do not describe a fragment, which it never gives)."""
    if ip_at < 0 or ip_at + 20 > len(record):
        return None
    version = record[ip_at] >> 4
    error = None
    if version == 4:
        ihl = (record[ip_at] & 0x0F) * 4
        total, ident, flags = struct.unpack_from(">HHH", record, ip_at + 2)
        proto = record[ip_at + 9]
        src, dst = record[ip_at + 12 : ip_at + 16], record[ip_at + 16 : ip_at + 20]
        offset, more = (flags & 0x1FFF) * 8, bool(flags & 0x2000)
        start, end = ip_at + ihl, ip_at + total
        ident_bytes = struct.pack(">BH", proto, ident)
    elif version == 6 and hdr_at >= ip_at + 40 and hdr_at + 8 <= len(record):
        (plen,) = struct.unpack_from(">H", record, ip_at + 4)
        src, dst = record[ip_at + 8 : ip_at + 24], record[ip_at + 24 : ip_at + 40]
        nh = record[hdr_at]
        fo, ident = struct.unpack_from(">HI", record, hdr_at + 2)
        offset, more = (fo >> 3) * 8, bool(fo & 1)
        start, end = hdr_at + 8, ip_at + 40 + plen
        ident_bytes = struct.pack(">BI", nh, ident)
    else:
        return None
    if end <= start and more:
        return None  # a jumbogram or a length the decoder rejected: not reassembled
    if end > len(record):
        error = (
            f"fragment in frame {frame_no} was cut by the snap length "
            f"({len(record)} of {wire_len} bytes captured)"
        )
    key = context + bytes([version]) + src + dst + ident_bytes
    return _Fragment(
        row=row,
        frame_no=frame_no,
        ts_ns=ts_ns,
        key=key,
        version=version,
        offset=offset,
        more=more,
        payload=record[start : max(start, min(end, len(record)))],
        record=record,
        linktype=linktype,
        ip_at=ip_at,
        hdr_at=hdr_at,
        outer_ip_at=outer_ip_at,
        outer_udp_at=outer_udp_at,
        error=error,
    )


def _ident(f: _Fragment) -> str:
    """``IPv4 ID 0x1a2b`` / ``IPv6 fragment ID 0x...`` of a fragment, for messages."""
    if f.version == 4:
        return f"IPv4 ID 0x{struct.unpack_from('>H', f.record, f.ip_at + 4)[0]:04x}"
    return f"IPv6 fragment ID 0x{struct.unpack_from('>I', f.record, f.hdr_at + 4)[0]:08x}"


def _frames(frags: list[_Fragment]) -> str:
    nos = [f.frame_no for f in frags]
    shown = ", ".join(str(n) for n in nos[:5])
    return f"frame{'s' if len(nos) > 1 else ''} {shown}{', ...' if len(nos) > 5 else ''}"


def _failed(frags: list[_Fragment], text: str) -> Failed:
    layer = "ipv4" if frags[0].version == 4 else "ipv6"
    return Failed(
        rows=tuple(f.row for f in frags),
        layer=layer,
        text=f"fragments not reassembled ({_ident(frags[0])}, {_frames(frags)}): {text}",
    )


def _timeout_text(frags: list[_Fragment], late: _Fragment) -> str:
    secs = TIMEOUT_NS[late.version] // 1_000_000_000
    return (
        f"still incomplete after {secs} s (the kernel's reassembly timeout); frame "
        f"{late.frame_no} starts a new set"
    )


def _incomplete_text(frags: list[_Fragment]) -> str:
    bad = next((f.error for f in frags if f.error), None)
    if bad:
        return bad
    have = sorted((f.offset, f.offset + len(f.payload)) for f in frags)
    covered, gaps = 0, []
    for lo, hi in have:
        if lo > covered:
            gaps.append(f"{covered}-{lo - 1}")
        covered = max(covered, hi)
    last = next((f for f in frags if not f.more), None)
    if last is None:
        gaps.append(f"{covered}- (the last fragment)")
    what = ", ".join(gaps[:4]) + (", ..." if len(gaps) > 4 else "")
    return f"incomplete when the capture ends: payload bytes {what} missing"


def _complete(frags: list[_Fragment]) -> Reassembled | str | None:
    """The packet once ``frags`` cover it, an error text when they cannot, else ``None``."""
    last = [f for f in frags if not f.more]
    ends = {f.offset + len(f.payload) for f in last}
    if len(ends) > 1:
        return f"two last fragments give different lengths ({', '.join(map(str, sorted(ends)))})"
    for f in frags:
        if f.more and len(f.payload) % 8:
            return f"fragment in frame {f.frame_no} is not the last but its length is not a multiple of 8"
    if not last:
        return None
    total = ends.pop()
    if any(f.offset + len(f.payload) > total for f in frags):
        return f"a fragment extends past the end ({total} bytes) the last fragment gives"
    ordered = sorted(frags, key=lambda f: (f.offset, f.row))
    covered = 0
    buf = bytearray(total)
    for f in ordered:
        lo, hi = f.offset, f.offset + len(f.payload)
        if lo > covered:
            return None  # a gap: wait for more
        if lo < covered:
            overlap = min(hi, covered)
            if bytes(buf[lo:overlap]) != f.payload[: overlap - lo]:
                return f"overlapping fragments disagree on payload bytes {lo}-{overlap - 1}"
        buf[lo:hi] = f.payload
        covered = max(covered, hi)
    if covered < total:
        return None
    bad = next((f.error for f in frags if f.error), None)
    if bad:
        return bad
    first = ordered[0]
    record, length = _rebuild(first, bytes(buf))
    if length > _MAX_PACKET:
        return f"the reassembled packet would be {length} bytes, over the 65,535 IP allows"
    if record is None:
        return "the enclosing tunnel's length fields cannot hold the reassembled packet"
    completing = max(frags, key=lambda f: f.row)
    return Reassembled(
        row=completing.row,
        rows=tuple(f.row for f in sorted(frags, key=lambda f: f.row)),
        first_frame=min(frags, key=lambda f: f.row).frame_no,
        length=length,
        record=record,
        linktype=first.linktype,
        own=completing.record,
        enclosed=completing.outer_ip_at >= 0,
        others=tuple((f.row, f.record, f.linktype) for f in frags if f is not completing),
    )


def _checksum(header: bytes | bytearray) -> int:
    """The IPv4 header checksum of ``header`` (its checksum field zeroed)."""
    total = sum(struct.unpack(f">{len(header) // 2}H", bytes(header)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _rebuild(first: _Fragment, payload: bytes) -> tuple[bytes | None, int]:
    """The synthetic frame of the reassembled packet and the packet's length (the frame is
    ``None`` when an enclosing length field cannot hold it)."""
    rec, at = first.record, first.ip_at
    if first.version == 4:
        ihl = (rec[at] & 0x0F) * 4
        header = bytearray(rec[at : at + ihl])
        length = ihl + len(payload)
        own = struct.unpack_from(">H", rec, at + 2)[0]
        struct.pack_into(">H", header, 2, min(length, _MAX_PACKET))
        flags = struct.unpack_from(">H", header, 6)[0]
        struct.pack_into(">H", header, 6, flags & 0x4000)  # keep DF; no MF, offset 0
        struct.pack_into(">H", header, 10, 0)
        struct.pack_into(">H", header, 10, _checksum(header))
    else:
        header = bytearray(rec[at : first.hdr_at])
        nh_at, pos = 6, 40
        while pos < len(header):  # the last unfragmentable extension header names the next
            nh_at = pos
            pos += (header[pos + 1] + 1) * 8
        header[nh_at] = rec[first.hdr_at]
        length = len(header) + len(payload)
        own = 40 + struct.unpack_from(">H", rec, at + 4)[0]
        struct.pack_into(">H", header, 4, min(length - 40, _MAX_PACKET))
    if length > _MAX_PACKET:
        return None, length
    prefix = bytearray(rec[:at])
    delta = length - own
    if first.outer_ip_at >= 0:
        o = first.outer_ip_at
        if prefix[o] >> 4 == 4:
            field_at, ihl = o + 2, (prefix[o] & 0x0F) * 4
        else:
            field_at, ihl = o + 4, 0
        value = struct.unpack_from(">H", prefix, field_at)[0] + delta
        if value > _MAX_PACKET:
            return None, length
        struct.pack_into(">H", prefix, field_at, value)
        if ihl:
            struct.pack_into(">H", prefix, o + 10, 0)
            struct.pack_into(">H", prefix, o + 10, _checksum(prefix[o : o + ihl]))
        if first.outer_udp_at >= 0:
            u = first.outer_udp_at + 4
            value = struct.unpack_from(">H", prefix, u)[0] + delta
            if value > _MAX_PACKET:
                return None, length
            struct.pack_into(">H", prefix, u, value)
    return bytes(prefix) + bytes(header) + payload, length
