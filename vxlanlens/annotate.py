"""The explanation written back into a capture: a pcapng that Wireshark and tshark open, with a
comment on every frame vxlanlens understood.

:func:`annotate` re-reads the captures of a :class:`~vxlanlens.Capture` (their original bytes
and timestamps), merges them in time order (each capture's clock corrected by its estimated
offset when several are merged), and writes:

- a Section Header Block whose comment holds the summary of the explanation, the clock
  corrections applied and the command that reproduces it;
- one Interface Description Block per capture point (capture and interface), with ``if_name``
  naming where it was taken (``kind-worker/eth0``, ``pod web-a eth0``) and ``if_description``
  how that was decided;
- one Enhanced Packet Block per input frame, with its original bytes, its (corrected) time in
  nanoseconds and, when vxlanlens understood it, ``opt_comment`` lines: its role in an
  exchange, the interface of each MAC, the tunnel and the VNI's identity, and the findings
  that cite it. ``tshark -r out.pcapng -Y 'frame.comment contains "unanswered"'`` finds the
  unanswered requests.

The pcapng layout follows draft-ietf-opsawg-pcapng (block types 0x0A0D0D0A, 1 and 6; option
``opt_comment`` = 1, ``if_name`` = 2, ``if_description`` = 3, ``if_tsresol`` = 9).
"""

from __future__ import annotations

import heapq
import os
import struct
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

import pandas as pd

from ._version import __version__
from .errors import CaptureError
from .exchanges import clock_offsets
from .read import open_capture

if TYPE_CHECKING:
    from .capture import Capture
    from .explain import Explanation

__all__ = ["AnnotateResult", "annotate", "decode_as_entries"]

_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_SHB, _IDB, _EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
_OPT_END, _OPT_COMMENT = 0, 1
_IF_NAME, _IF_DESCRIPTION, _IF_TSRESOL = 2, 3, 9
_SHB_HARDWARE, _SHB_OS, _SHB_USERAPPL = 2, 3, 4
_MAX_COMMENT = 60000
"""Bytes of one comment option at most (an option's length field is 16 bits)."""
_MAX_FINDINGS_PER_FRAME = 4
_DEFAULT_PORTS = {"vxlan": {4789, 8472}, "geneve": {6081}, "vxlan-gpe": {4790}}


@dataclass
class AnnotateResult:
    """What :func:`annotate` wrote."""

    frames: int = 0
    """Frames written (every frame of every capture)."""
    commented: int = 0
    """Frames that got a comment."""
    interfaces: list[str] = field(default_factory=list)
    """``if_name`` of each interface written, in IDB order."""
    clock_offsets_s: dict[str, float] = field(default_factory=dict)
    """Per capture, the clock offset subtracted from its timestamps (only non-zero ones)."""


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def _option(code: int, value: bytes) -> bytes:
    value = value[:_MAX_COMMENT]
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def _options(opts: list[tuple[int, bytes]]) -> bytes:
    if not opts:
        return b""
    return b"".join(_option(c, v) for c, v in opts) + struct.pack("<HH", _OPT_END, 0)


def _block(btype: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


def _text(s: str) -> bytes:
    """UTF-8 bytes of ``s`` with control characters (ESC, NUL, ...) but newline and tab removed."""
    return "".join(c for c in s if c in "\n\t" or (c.isprintable() and c != "\x7f")).encode(
        "utf-8", "replace"
    )


def _shb(comment: str) -> bytes:
    opts = [
        (_OPT_COMMENT, _text(comment)),
        (_SHB_USERAPPL, _text(f"vxlanlens {__version__}")),
    ]
    body = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + _options(opts)
    return _block(_SHB, body)


def _idb(linktype: int, snaplen: int, name: str, description: str) -> bytes:
    opts = [
        (_IF_NAME, _text(name)),
        (_IF_DESCRIPTION, _text(description)),
        (_IF_TSRESOL, bytes([9])),
    ]
    body = struct.pack("<HHI", linktype & 0xFFFF, 0, snaplen & 0xFFFFFFFF) + _options(opts)
    return _block(_IDB, body)


def _epb(iface: int, ts_ns: int, data: bytes, wire_len: int, comment: str | None) -> bytes:
    ts = max(0, ts_ns) & 0xFFFFFFFFFFFFFFFF
    head = struct.pack(
        "<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), max(wire_len, len(data))
    )
    opts = _options([(_OPT_COMMENT, _text(comment))]) if comment else b""
    return _block(_EPB, head + _pad4(data) + opts)


def _us(seconds: object) -> str:
    try:
        s = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "?"
    if s != s:  # NaN
        return "?"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def _present(value: object) -> bool:
    return (
        value is not None
        and not (isinstance(value, float) and value != value)
        and not (value is pd.NA or value is pd.NaT)
    )


_KIND_WORDS = {
    "arp": "ARP",
    "nd": "NS",
    "echo": "echo",
    "tcp": "TCP SYN",
    "icmp-error": "ICMP error",
}


def _exchange_comments(cap: Capture, comments: dict[tuple[str, int], list[str]], ref: _Ref) -> None:
    """Each request's and reply's role in its exchange."""
    ex = cap.exchanges
    if ex.empty:
        return
    ann = cap.annotated
    src_if: dict[tuple[str, int], str | None] = {}
    for c, f, i, pod in zip(
        ann["capture"], ann["frame_no"], ann["src_if"], ann["src_pod"], strict=True
    ):
        name = str(i) if _present(i) else None
        if name == "eth0" and _present(pod):
            name = f"{pod} eth0"
        src_if[(str(c), int(f))] = name
    cols = [
        "kind",
        "status",
        "key",
        "point",
        "request_capture",
        "request_frame",
        "reply_capture",
        "reply_frame",
        "latency_s",
        "responder_mac",
        "answer",
        "duplicate_of",
    ]
    for row in ex[cols].itertuples(index=False):
        kind, status, key = str(row.kind), str(row.status), str(row.key)
        what = f"{_KIND_WORDS.get(kind, kind)} {key}"
        req = (
            (str(row.request_capture), int(row.request_frame))
            if _present(row.request_capture) and _present(row.request_frame)
            else None
        )
        rep = (
            (str(row.reply_capture), int(row.reply_frame))
            if _present(row.reply_capture) and _present(row.reply_frame)
            else None
        )
        if status == "answered" and req and rep:
            who = src_if.get(rep) or (
                str(row.responder_mac) if _present(row.responder_mac) else "?"
            )
            answer = str(row.answer) if _present(row.answer) else "answer"
            comments[req].append(
                f"{what}: answered at {ref(rep)} ({answer}) by {who} in {_us(row.latency_s)}"
            )
            comments[rep].append(
                f"{answer} answering {ref(req)} ({what}) after {_us(row.latency_s)}"
            )
        elif status == "unanswered" and req:
            comments[req].append(f"{what}: unanswered at {row.point} (no reply within the timeout)")
        elif status == "duplicate":
            frame = req or rep
            if frame and _present(row.duplicate_of):
                first = (frame[0], int(row.duplicate_of))
                comments[frame].append(f"{what}: duplicate of {ref(first)}")
        elif status == "unsolicited" and rep:
            comments[rep].append(f"{what}: unsolicited (no request seen at {row.point})")
        elif status in ("gratuitous", "dad") and (req or rep):
            comments[req or rep].append(f"{what}: {status}")  # type: ignore[index]


def _frame_comments(cap: Capture, comments: dict[tuple[str, int], list[str]]) -> None:
    """Interfaces of the MACs, pods, nodes, tunnel and VNI identity of each frame."""
    ann = cap.annotated
    if ann.empty:
        return
    want = [
        "capture",
        "frame_no",
        "src_mac",
        "dst_mac",
        "src_if",
        "dst_if",
        "src_pod",
        "dst_pod",
        "tunnel",
        "vni",
        "vni_identity",
        "outer_src_node",
        "outer_dst_node",
        "decode_error",
    ]
    have = [c for c in want if c in ann.columns]
    for row in ann[have].itertuples(index=False):
        r = row._asdict()
        parts: list[str] = []
        for side in ("src", "dst"):
            iface, pod = r.get(f"{side}_if"), r.get(f"{side}_pod")
            if _present(iface):
                where = f"{iface}" + (f" of {pod}" if _present(pod) and iface == "eth0" else "")
                parts.append(f"{side} {r.get(f'{side}_mac')} = {where}")
        if _present(r.get("tunnel")):
            t = str(r["tunnel"]).upper()
            vni = r.get("vni")
            text = f"{t} VNI {int(vni)}" if _present(vni) else t
            if _present(r.get("vni_identity")):
                text += f" = identity {r['vni_identity']}"
            a, b = r.get("outer_src_node"), r.get("outer_dst_node")
            if _present(a) or _present(b):
                text += f", {a if _present(a) else '?'} -> {b if _present(b) else '?'}"
            parts.append(text)
        if _present(r.get("decode_error")):
            parts.append(f"decode error: {r['decode_error']}")
        if parts:
            comments[(str(r["capture"]), int(r["frame_no"]))].append("; ".join(parts))


def _finding_comments(exp: Explanation, comments: dict[tuple[str, int], list[str]]) -> None:
    per_frame: dict[tuple[str, int], int] = defaultdict(int)
    for f in exp.findings:
        for e in f.evidence:
            if e.capture is None or e.frame_no is None:
                continue
            key = (str(e.capture), int(e.frame_no))
            if per_frame[key] >= _MAX_FINDINGS_PER_FRAME:
                continue
            per_frame[key] += 1
            comments[key].append(f"{f.severity} {f.id}: {f.statement}")


def _points(exp: Explanation) -> dict[str, dict[str, object]]:
    pts = exp.topology.get("capture_points", []) if isinstance(exp.topology, dict) else []
    return {str(p.get("capture")): p for p in pts if isinstance(p, dict)}


def _interface_name(point: dict[str, object] | None, label: str, if_name: str | None) -> str:
    """``node/interface`` or ``pod NAME eth0``, else the capture label (and its own if_name)."""
    base = if_name or ""
    if point:
        kind, node, pod = point.get("kind"), point.get("node"), point.get("pod")
        if kind == "pod" and pod:
            return f"pod {pod} {base or 'eth0'}"
        if node:
            return f"{node}/{base or 'eth0' if kind == 'node' else base or label}"
    return f"{label}/{base}" if base else label


def _summary(cap: Capture, exp: Explanation, offsets: dict[str, float], command: str) -> str:
    sev = exp.by_severity()
    lines = [
        f"vxlanlens {__version__}: explanation of {', '.join(s.label for s in cap.sources)}",
        f"frames: {len(cap.packets)}; exchanges: {len(cap.exchanges)}; findings: "
        + ", ".join(f"{sev[k]} {k}" for k in sev),
    ]
    for f in exp.findings[:20]:
        lines.append(f"- {f.severity} {f.id}: {f.statement}")
    if len(exp.findings) > 20:
        lines.append(f"- ... {len(exp.findings) - 20} more findings (see vxlanlens explain)")
    if offsets:
        lines.append(
            "clock offsets corrected (subtracted from each capture's timestamps): "
            + ", ".join(f"{k} {v:+.6f} s" for k, v in offsets.items())
        )
    lines.append(f"reproduce: {command}")
    for s in cap.sources:
        lines.append(f"file {s.path}: sha256 {s.sha256 or 'n/a'}")
    return "\n".join(lines)


def _offsets(cap: Capture) -> dict[str, float]:
    if len(cap.sources) < 2 or cap.packets.empty:
        return {}
    table = clock_offsets(cap.packets)
    out: dict[str, float] = {}
    for c, off in zip(table["capture"], table["offset_s"], strict=True):
        if _present(off) and float(off) != 0.0:
            out[str(c)] = float(off)
    return out


class _Ref:
    """Names a frame by its number in the written file (and its capture's, when merged)."""

    def __init__(self, numbers: dict[tuple[str, int], int], merged: bool) -> None:
        self.numbers = numbers
        self.merged = merged

    def __call__(self, key: tuple[str, int]) -> str:
        n = self.numbers.get(key)
        if n is None:
            return f"{key[0]}#{key[1]}"
        return f"#{n} ({key[0]}#{key[1]})" if self.merged else f"#{n}"


def _numbering(cap: Capture, offsets: dict[str, float]) -> dict[tuple[str, int], int]:
    """Frame number in the written file of each (capture, frame_no), in the merge order."""
    from .explain._rows import text_is

    p = cap.packets
    streams = []
    for k, s in enumerate(cap.sources):
        rows = p.loc[text_is(p["capture"], s.label), ["ts_ns", "frame_no"]]  # no text per row
        shift = round(offsets.get(s.label, 0.0) * 1e9)
        ts = (rows["ts_ns"].to_numpy() - shift).tolist()
        streams.append(
            [(t, k, int(f), s.label) for t, f in zip(ts, rows["frame_no"].tolist(), strict=True)]
        )
    merged = heapq.merge(*streams) if len(streams) > 1 else iter(streams[0] if streams else [])
    return {(label, f): n for n, (_, _, f, label) in enumerate(merged, start=1)}


@dataclass(order=True)
class _Rec:
    ts: int
    order: int
    iface: int = field(compare=False)
    data: bytes = field(compare=False)
    wire_len: int = field(compare=False)
    key: tuple[str, int] = field(compare=False)


def annotate(
    cap: Capture,
    out: str | os.PathLike[str] | BinaryIO,
    *,
    explanation: Explanation | None = None,
    command: str | None = None,
) -> AnnotateResult:
    """Write ``cap``'s frames with vxlanlens' explanation as comments into a pcapng ``out``.

    ``out`` is a path or a binary file open for writing. Every frame of every capture is written
    with its original bytes; timestamps are corrected by each capture's estimated clock offset
    when several captures are merged (said in the section comment). Captures read from stdin
    or an open stream cannot be read again: they raise :class:`~vxlanlens.CaptureError`.
    """
    for s in cap.sources:
        if s.path == "-" or not os.path.isfile(s.path):
            raise CaptureError(
                f"{s.path}: annotate reads each capture again and needs a file (not stdin or a stream)"
            )
    exp = explanation if explanation is not None else cap.explain()
    command = command or "vxlanlens annotate " + " ".join(
        f"{s.label}={s.path}" for s in cap.sources
    )
    offsets = _offsets(cap)
    ref = _Ref(_numbering(cap, offsets), merged=len(cap.sources) > 1)
    comments: dict[tuple[str, int], list[str]] = defaultdict(list)
    _exchange_comments(cap, comments, ref)
    _frame_comments(cap, comments)
    _finding_comments(exp, comments)
    points = _points(exp)
    result = AnnotateResult(clock_offsets_s=offsets)

    if isinstance(out, (str, os.PathLike)):
        with open(out, "wb") as fh:
            _write(cap, fh, exp, comments, offsets, points, command, result)
    else:
        _write(cap, out, exp, comments, offsets, points, command, result)
    return result


def _write(
    cap: Capture,
    fh: BinaryIO,
    exp: Explanation,
    comments: dict[tuple[str, int], list[str]],
    offsets: dict[str, float],
    points: dict[str, dict[str, object]],
    command: str,
    result: AnnotateResult,
) -> None:
    fh.write(_shb(_summary(cap, exp, offsets, command)))
    idbs: dict[tuple[str, int, int], int] = {}

    def iface_id(label: str, index: int, linktype: int, if_name: str | None, snap: int) -> int:
        key = (label, index, linktype)
        if key not in idbs:
            point = points.get(label)
            name = _interface_name(point, label, if_name)
            if name in result.interfaces:  # two captures placed alike: keep them apart
                name = f"{name} ({label})"
            how = str(point.get("how")) if point and point.get("how") else "placement unknown"
            fh.write(_idb(linktype, snap, name, f"capture {label}: {how}"))
            idbs[key] = len(idbs)
            result.interfaces.append(name)
        return idbs[key]

    def records(src_index: int) -> Iterator[_Rec]:
        s = cap.sources[src_index]
        shift = round(offsets.get(s.label, 0.0) * 1e9)
        with open_capture(s.path, label=s.label) as reader:
            for batch in reader.batches():
                infos = {i.index: i for i in batch.interfaces}
                for i in range(len(batch)):
                    idx = int(batch.interface[i])
                    info = infos.get(idx)
                    snap = info.snaplen if info is not None and info.snaplen else 262144
                    iid = iface_id(
                        s.label,
                        idx,
                        int(batch.linktype[i]),
                        info.name if info is not None else None,
                        snap,
                    )
                    ts = int(batch.ts_ns[i]) - shift
                    yield _Rec(
                        ts,
                        src_index,
                        iid,
                        batch.frame(i),
                        int(batch.wire_len[i]),
                        (s.label, int(batch.frame_no[i])),
                    )

    streams = [records(k) for k in range(len(cap.sources))]
    merged = heapq.merge(*streams) if len(streams) > 1 else streams[0]
    for rec in merged:
        lines = comments.get(rec.key)
        text = "\n".join(dict.fromkeys(lines)) if lines else None
        fh.write(_epb(rec.iface, rec.ts, rec.data, rec.wire_len, text))
        result.frames += 1
        result.commented += bool(text)


def decode_as_entries(cap: Capture) -> str:
    """A Wireshark ``decode_as_entries`` file for the tunnel ports this capture uses that
    Wireshark does not decode by default (empty when there are none)."""
    p = cap.packets
    if p.empty or "tunnel" not in p.columns:
        return ""
    tun = p[p["tunnel"].notna() & p["outer_dport"].notna()]
    wanted: dict[int, str] = {}
    names = {"vxlan": "VXLAN", "geneve": "Geneve", "vxlan-gpe": "VXLAN-GPE"}
    # Wireshark decodes VXLAN on 4789 and Geneve on 6081 by default; 8472 and others need Decode As.
    wireshark_default = {"vxlan": {4789}, "geneve": {6081}, "vxlan-gpe": {4790}}
    for kind, port in zip(tun["tunnel"].astype(str), tun["outer_dport"], strict=True):
        port = int(port)
        if port not in wireshark_default.get(kind, set()) and kind in names:
            wanted.setdefault(port, names[kind])
    if not wanted:
        return ""
    lines = ['# Wireshark "Decode As" entries written by vxlanlens', ""]
    lines += [
        f"decode_as_entry: udp.port,{port},(none),{proto}" for port, proto in sorted(wanted.items())
    ]
    return "\n".join(lines) + "\n"
