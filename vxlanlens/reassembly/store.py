"""Fragment sets: fragments kept as they are decoded, grouped into packets, and each packet
reassembled or failed with its reason (see :mod:`vxlanlens.reassembly`)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace

import numpy as np

from ..decode import decode_batch
from ..decode.options import DecodeOptions
from ..decode.result import DecodedBatch
from ..read.records import RecordBatch
from .frame import MAX_PACKET, rebuild
from .merge import merge

__all__ = [
    "MAX_FRAGMENTS",
    "TIMEOUT_NS",
    "Failed",
    "Fragment",
    "FragmentStore",
    "Plan",
    "Reassembled",
]

TIMEOUT_NS = {4: 30_000_000_000, 6: 60_000_000_000}
"""How long a fragment set may wait for its missing fragments, by IP version (the Linux
defaults ``net.ipv4.ipfrag_time`` = 30 s and ``net.ipv6.ip6frag_time`` = 60 s)."""

MAX_FRAGMENTS = 1024
"""More fragments than this in one set (at least 64 bytes each, short of the 65,535-byte
limit) is not a packet but an attack on reassembly: the set is not reassembled."""


@dataclass(slots=True)
class Fragment:
    """One IP fragment as kept for reassembly: where it is, what identifies its packet, and
    the bytes it carries."""

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
        types = [p.linktype for p in self.packets]
        whole = decode_batch(_batch_of([p.record for p in self.packets], types), base)
        own = decode_batch(_batch_of([p.own for p in self.packets], types), base)
        enclosed = np.array([p.enclosed for p in self.packets], dtype=bool)
        held = merge(whole, own, enclosed)
        others = [o for p in self.packets for o in p.others]
        stop = replace(base, stop_at_fragments=True)
        parts = decode_batch(_batch_of([o[1] for o in others], [o[2] for o in others]), stop)
        rows = np.array([p.row for p in self.packets], dtype=np.int64)
        other_rows = np.array([r for r, _, _ in others], dtype=np.int64)
        return held, rows, parts, other_rows


def _batch_of(records: list[bytes], linktypes: list[int]) -> RecordBatch:
    """The records to decode again, as one batch."""
    return RecordBatch.from_frames(records, linktype=linktypes, capture="reassembly")


class FragmentStore:
    """The IP fragments of a table being built (see the module's documentation)."""

    def __init__(self) -> None:
        self._frags: list[Fragment] = []
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
        open_sets: dict[bytes, list[Fragment]] = {}
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
) -> Fragment | None:
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
    return Fragment(
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


def _ident(f: Fragment) -> str:
    """``IPv4 ID 0x1a2b`` / ``IPv6 fragment ID 0x...`` of a fragment, for messages."""
    if f.version == 4:
        return f"IPv4 ID 0x{struct.unpack_from('>H', f.record, f.ip_at + 4)[0]:04x}"
    return f"IPv6 fragment ID 0x{struct.unpack_from('>I', f.record, f.hdr_at + 4)[0]:08x}"


def _frames(frags: list[Fragment]) -> str:
    nos = [f.frame_no for f in frags]
    shown = ", ".join(str(n) for n in nos[:5])
    return f"frame{'s' if len(nos) > 1 else ''} {shown}{', ...' if len(nos) > 5 else ''}"


def _failed(frags: list[Fragment], text: str) -> Failed:
    layer = "ipv4" if frags[0].version == 4 else "ipv6"
    return Failed(
        rows=tuple(f.row for f in frags),
        layer=layer,
        text=f"fragments not reassembled ({_ident(frags[0])}, {_frames(frags)}): {text}",
    )


def _timeout_text(frags: list[Fragment], late: Fragment) -> str:
    secs = TIMEOUT_NS[late.version] // 1_000_000_000
    return (
        f"still incomplete after {secs} s (the kernel's reassembly timeout); frame "
        f"{late.frame_no} starts a new set"
    )


def _incomplete_text(frags: list[Fragment]) -> str:
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


def _complete(frags: list[Fragment]) -> Reassembled | str | None:
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
    record, length = rebuild(first, bytes(buf))
    if length > MAX_PACKET:
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
