"""Builders for the tests, in one module: bytes, frames, capture files and packets-table rows.

* annotated hex and in-memory decoding, for the decoder tests: :func:`hx`, :func:`decode`,
  :func:`value`, :func:`row`, :func:`rows`;
* capture-file layouts spelled out field by field, for the reader tests: :func:`pcap_header`,
  :func:`pcap_record` and the pcapng blocks (:func:`shb`, :func:`idb`, :func:`epb`, ...);
* a large classic pcap made of the shipped captures' frames, for the split readers:
  :func:`write_big_pcap`, :func:`record_starts`;
* Cilium-like clusters with frames at each capture point, for the explain tests:
  :class:`Cluster`, :func:`write_pcaps`, :func:`reference_like_cluster`;
* packets tables from dict rows, for the exchanges tests: :func:`make_packets`, and the rows
  of requests and answers (:func:`ns_row`, :func:`na_row`, :func:`echo_row`, :func:`arp_row`,
  :func:`tcp_row`).

``tests/read/readcraft.py`` and ``tests/splitcraft.py`` re-export their parts for the tests
that still import them by those names.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6PacketTooBig,
    IPv6,
    in6_getnsma,
    in6_getnsmac,
)
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw
from scapy.utils import inet_pton
from testpaths import CAPTURES

from vxlanlens.decode import DecodedBatch, DecodeOptions, decode_batch
from vxlanlens.proto import EtherType, ICMPType, ICMPv6Type, IPProto, TunnelPort
from vxlanlens.read.records import RecordBatch
from vxlanlens.schema import COLUMN_NAMES, COLUMNS

# --------------------------------------------------------------------------------------------
# annotated hex and in-memory decoding (decoder tests)
# --------------------------------------------------------------------------------------------

_COMMENT = re.compile(r"#[^\n]*")


def hx(text: str) -> bytes:
    """Bytes from annotated hex: ``#`` starts a comment, whitespace is ignored."""
    return bytes.fromhex("".join(_COMMENT.sub("", text).split()))


def decode(
    frames: list[bytes],
    linktype: int | list[int] = 1,
    *,
    wire_len: list[int] | None = None,
    options: DecodeOptions | None = None,
) -> DecodedBatch:
    """Decode in-memory frames (one link type for all, or one per frame)."""
    batch = RecordBatch.from_frames(frames, wire_len=wire_len)
    if not isinstance(linktype, int):
        batch = _with_linktypes(batch, linktype)
    elif linktype != 1:
        batch = _with_linktypes(batch, [linktype] * len(frames))
    db = decode_batch(batch, options or DecodeOptions())
    db.check()
    return db


def _with_linktypes(batch: RecordBatch, linktypes: list[int]) -> RecordBatch:
    return replace(batch, linktype=np.array(linktypes, dtype=np.int64))


def _mac_text(v: int) -> str:
    return ":".join(f"{(int(v) >> s) & 0xFF:02x}" for s in range(40, -8, -8))


def value(db: DecodedBatch, name: str, i: int) -> Any:
    """Row ``i`` of column ``name`` as a Python value (None when null or absent)."""
    if name in db.ints:
        v, m = db.ints[name]
        return int(v[i]) if m[i] else None
    if name in db.bools:
        v, m = db.bools[name]
        return bool(v[i]) if m[i] else None
    if name in db.macs:
        v, m = db.macs[name]
        return _mac_text(v[i]) if m[i] else None
    if name in db.ips:
        a, fam = db.ips[name]
        if fam[i] == 4:
            return str(ipaddress.IPv4Address(bytes(a[i, :4])))
        if fam[i] == 6:
            return str(ipaddress.IPv6Address(bytes(a[i])))
        return None
    if name in db.texts:
        text = db.texts[name]
        if isinstance(text, tuple):  # (codes, categories): see DecodedBatch
            code = int(text[0][i])
            return None if code < 0 else text[1][code]
        return text[i]
    return None


def row(db: DecodedBatch, i: int = 0) -> dict[str, Any]:
    """All decoder-filled columns of row ``i`` that are not null."""
    out: dict[str, Any] = {}
    for c in COLUMNS:
        if c.kind == "record":
            continue
        v = value(db, c.name, i)
        if v is not None:
            out[c.name] = v
    return out


def rows(db: DecodedBatch) -> list[dict[str, Any]]:
    """``row`` for every row."""
    return [row(db, i) for i in range(db.n)]


# --------------------------------------------------------------------------------------------
# capture-file layouts (reader tests)
# --------------------------------------------------------------------------------------------

LE, BE = "<", ">"

# Magic numbers as integers; written with the file's byte order they give the four variants.
PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D


def pcap_header(
    *,
    e: str = LE,
    magic: int = PCAP_MAGIC_US,
    version: tuple[int, int] = (2, 4),
    snaplen: int = 65535,
    linktype: int = 1,
) -> bytes:
    """The 24-byte classic pcap file header."""
    return struct.pack(
        e + "IHHiIII",
        magic,  # magic number: byte order and timestamp resolution
        version[0],  # version_major (2)
        version[1],  # version_minor (4)
        0,  # thiszone (always 0)
        0,  # sigfigs (always 0)
        snaplen,  # snaplen
        linktype,  # LINKTYPE_ value, plus FCS bits 26-31
    )


def pcap_record(
    data: bytes, *, sec: int, sub: int, e: str = LE, wire_len: int | None = None
) -> bytes:
    """A 16-byte record header followed by the captured bytes."""
    return (
        struct.pack(
            e + "IIII",
            sec,  # ts_sec
            sub,  # ts_usec or ts_nsec
            len(data),  # incl_len (captured)
            len(data) if wire_len is None else wire_len,  # orig_len (on the wire)
        )
        + data
    )


def pad4(b: bytes) -> bytes:
    """``b`` padded with zero bytes to a multiple of 4."""
    return b + b"\x00" * (-len(b) % 4)


def option(code: int, value: bytes, e: str = LE) -> bytes:
    """One pcapng option: code u16, length u16, value padded to 4 bytes."""
    return struct.pack(e + "HH", code, len(value)) + pad4(value)


def options(opts: list[tuple[int, bytes]], e: str = LE) -> bytes:
    """A list of options terminated by opt_endofopt (or nothing when the list is empty)."""
    if not opts:
        return b""
    return b"".join(option(c, v, e) for c, v in opts) + struct.pack(e + "HH", 0, 0)


def block(btype: int, body: bytes, e: str = LE) -> bytes:
    """A pcapng block: type u32, total length u32, body (padded), total length u32 again."""
    body = pad4(body)
    total = 12 + len(body)
    return struct.pack(e + "II", btype, total) + body + struct.pack(e + "I", total)


def shb(e: str = LE, version: tuple[int, int] = (1, 0), opts: bytes = b"") -> bytes:
    """Section Header Block (type 0x0A0D0D0A)."""
    body = struct.pack(
        e + "IHHq",
        0x1A2B3C4D,  # byte-order magic, written in the section's byte order
        version[0],  # major version (1)
        version[1],  # minor version (0)
        -1,  # section length: unknown
    )
    return block(0x0A0D0D0A, body + opts, e)


def idb(
    linktype: int = 1,
    snaplen: int = 0,
    *,
    e: str = LE,
    name: str | None = None,
    description: str | None = None,
    tsresol: int | None = None,
    tsoffset: int | None = None,
) -> bytes:
    """Interface Description Block (type 1) with the options the reader understands."""
    opts: list[tuple[int, bytes]] = []
    if name is not None:
        opts.append((2, name.encode()))  # if_name
    if description is not None:
        opts.append((3, description.encode()))  # if_description
    if tsresol is not None:
        opts.append((9, bytes([tsresol])))  # if_tsresol: 10^-n, or 2^-n when bit 7 is set
    if tsoffset is not None:
        opts.append((14, struct.pack(e + "q", tsoffset)))  # if_tsoffset: seconds
    body = struct.pack(e + "HHI", linktype, 0, snaplen)  # link type, reserved, snaplen
    return block(1, body + options(opts, e), e)


def isb(
    iface: int = 0,
    *,
    e: str = LE,
    ts: int = 0,
    end: int | None = None,
    start: int | None = None,
    ifdrop: int | None = None,
    osdrop: int | None = None,
) -> bytes:
    """Interface Statistics Block (type 5); times are 64-bit counts of interface time units."""
    opts: list[tuple[int, bytes]] = []
    for code, units in ((2, start), (3, end)):  # isb_starttime, isb_endtime
        if units is not None:
            opts.append((code, struct.pack(e + "II", units >> 32, units & 0xFFFFFFFF)))
    for code, count in ((5, ifdrop), (7, osdrop)):  # isb_ifdrop, isb_osdrop
        if count is not None:
            opts.append((code, struct.pack(e + "Q", count)))
    head = struct.pack(e + "III", iface, ts >> 32, ts & 0xFFFFFFFF)
    return block(5, head + options(opts, e), e)


def epb(
    data: bytes,
    *,
    iface: int = 0,
    ts: int = 0,
    e: str = LE,
    wire_len: int | None = None,
    comment: str | None = None,
) -> bytes:
    """Enhanced Packet Block (type 6); ``ts`` is the 64-bit count of interface time units."""
    head = struct.pack(
        e + "IIIII",
        iface,  # interface id (within the section)
        ts >> 32,  # timestamp, high 32 bits
        ts & 0xFFFFFFFF,  # timestamp, low 32 bits
        len(data),  # captured length
        len(data) if wire_len is None else wire_len,  # original length
    )
    opts = options([(1, comment.encode())], e) if comment is not None else b""
    return block(6, head + pad4(data) + opts, e)


def spb(data: bytes, *, e: str = LE, wire_len: int | None = None) -> bytes:
    """Simple Packet Block (type 3): original length, then the packet data."""
    head = struct.pack(e + "I", len(data) if wire_len is None else wire_len)
    return block(3, head + pad4(data), e)


def pb(data: bytes, *, iface: int = 0, ts: int = 0, e: str = LE) -> bytes:
    """Obsolete Packet Block (type 2): like an EPB with a 16-bit interface and a drop count."""
    head = struct.pack(e + "HHIIII", iface, 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
    return block(2, head + pad4(data), e)


def frame(n: int, size: int = 60) -> bytes:
    """A recognisable Ethernet-sized frame: ``size`` bytes, all ``n & 0xff``."""
    return bytes([n & 0xFF]) * size


def write_pcap(path: Path, frames: list[tuple[int, bytes]], tail: bytes = b"") -> Path:
    """A classic little-endian microsecond pcap of Ethernet frames ``(t_us, bytes)``, plus
    ``tail`` bytes after the last record (e.g. a cut record)."""
    out = [pcap_header(snaplen=262144)]
    for t_us, data in frames:
        out.append(pcap_record(data, sec=t_us // 1_000_000, sub=t_us % 1_000_000))
    out.append(tail)
    path.write_bytes(b"".join(out))
    return path


# --------------------------------------------------------------------------------------------
# a large pcap of the shipped frames (split readers)
# --------------------------------------------------------------------------------------------


def shipped_frames() -> list[bytes]:
    """Every frame of the shipped Ethernet (link type 1) pcap files."""
    frames: list[bytes] = []
    for path in sorted(CAPTURES.glob("*/*eth0*.pcap")):
        data = path.read_bytes()
        endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
        if struct.unpack_from(endian + "I", data, 20)[0] != 1:
            continue
        pos = 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from(endian + "I", data, pos + 8)[0]
            frames.append(data[pos + 16 : pos + 16 + incl])
            pos += 16 + incl
    return frames


def write_big_pcap(path: Path, count: int, tail: bytes = b"") -> Path:
    """A little-endian microsecond pcap of ``count`` shipped frames (repeated), plus ``tail``
    bytes after the last record (e.g. a cut record)."""
    frames = shipped_frames()
    t_us = 1_720_770_268_594_775
    timed = [(t_us + i * 1000, frames[i % len(frames)]) for i in range(count)]
    return write_pcap(path, timed, tail=tail)


def record_starts(path: Path) -> list[int]:
    """Byte offsets of every record of a little-endian pcap."""
    data = path.read_bytes()
    pos, starts = 24, []
    while pos + 16 <= len(data):
        starts.append(pos)
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    return starts


# --------------------------------------------------------------------------------------------
# Cilium-like clusters, frames at each capture point (explain tests)
# --------------------------------------------------------------------------------------------

# Frames follow the datapath facts of ../shared/domain/cilium-datapath.md: the sending node keeps
# the pod's Ethernet header inside VXLAN, the receiving node rewrites the MACs to lxc -> pod and
# decrements the hop limit once.


@dataclass
class Node:
    name: str
    ip: str
    mac: str
    router_ip4: str
    router_ip6: str


@dataclass
class Pod:
    name: str
    node: str
    mac: str
    lxc_mac: str
    ip4: str
    ip6: str
    identity: int


@dataclass
class Cluster:
    """Nodes and pods, and a clock; frames accumulate per capture point."""

    nodes: dict[str, Node] = field(default_factory=dict)
    pods: dict[str, Pod] = field(default_factory=dict)
    t_us: int = 1_720_770_268_000_000  # 2024-07-12 07:44:28 UTC
    frames: dict[str, list[tuple[int, bytes]]] = field(default_factory=lambda: defaultdict(list))

    def node(self, name: str, ip: str, mac: str, router_ip4: str, router_ip6: str) -> Node:
        self.nodes[name] = Node(name, ip, mac, router_ip4, router_ip6)
        return self.nodes[name]

    def pod(
        self, name: str, node: str, mac: str, lxc_mac: str, ip4: str, ip6: str, identity: int
    ) -> Pod:
        self.pods[name] = Pod(name, node, mac, lxc_mac, ip4, ip6, identity)
        return self.pods[name]

    # --- recording -------------------------------------------------------------------------
    def at(self, point: str, pkt: Packet | bytes, dt_us: int = 10) -> None:
        """Record a frame at capture point ``point``, ``dt_us`` after the previous frame."""
        self.t_us += dt_us
        self.frames[point].append((self.t_us, bytes(pkt)))

    def encap(
        self, src_node: Node, dst_node: Node, inner: Packet, vni: int, sport: int = 40000
    ) -> Packet:
        """``inner`` inside VXLAN on 8472 between two nodes' underlay addresses."""
        return (
            Ether(src=src_node.mac, dst=dst_node.mac)
            / IP(src=src_node.ip, dst=dst_node.ip, ttl=64, id=0x1234)
            / UDP(sport=sport, dport=int(TunnelPort.VXLAN_LINUX), chksum=0)
            / VXLAN(flags=0x08, vni=vni)
            / inner
        )

    # --- exchanges -------------------------------------------------------------------------
    def ns_gateway(self, pod: str, answered: bool = True, from_link_local: bool = False) -> None:
        """The pod solicits its IPv6 router IP; Cilium's eBPF answers with the lxc MAC unless not."""
        p = self.pods[pod]
        n = self.nodes[p.node]
        target = n.router_ip6
        src = _link_local(p.mac) if from_link_local else p.ip6
        group = in6_getnsma(inet_pton(socket.AF_INET6, target))
        ns = (
            Ether(src=p.mac, dst=in6_getnsmac(group))
            / IPv6(src=src, dst=in6_ntop(group), hlim=255)
            / ICMPv6ND_NS(tgt=target)
            / ICMPv6NDOptSrcLLAddr(lladdr=p.mac)
        )
        self.at(pod, ns)
        if answered:
            na = (
                Ether(src=p.lxc_mac, dst=p.mac)
                / IPv6(src=target, dst=src, hlim=255)
                / ICMPv6ND_NA(tgt=target, R=1, S=1, O=0)
                / ICMPv6NDOptDstLLAddr(lladdr=p.lxc_mac)
            )
            self.at(pod, na, dt_us=30)

    def arp_gateway(self, pod: str, answered: bool = True) -> None:
        """The pod ARPs for its IPv4 router IP (cilium_host); eBPF answers with the lxc MAC."""
        p = self.pods[pod]
        n = self.nodes[p.node]
        self.at(
            pod,
            Ether(src=p.mac, dst="ff:ff:ff:ff:ff:ff")
            / ARP(op=1, hwsrc=p.mac, psrc=p.ip4, pdst=n.router_ip4),
        )
        if answered:
            self.at(
                pod,
                Ether(src=p.lxc_mac, dst=p.mac)
                / ARP(op=2, hwsrc=p.lxc_mac, psrc=n.router_ip4, hwdst=p.mac, pdst=p.ip4),
                dt_us=20,
            )

    def echo(
        self,
        src: str,
        dst: str,
        *,
        v6: bool = True,
        seq: int = 0,
        ident: int = 44,
        size: int = 56,
        lost: str | None = None,
        reply_via: str | None = None,
        dst_ip: str | None = None,
    ) -> None:
        """One echo from pod ``src`` to pod ``dst`` (on another node), seen at all four points.

        ``lost``: ``"sender"`` (seen on the sending pod only: dropped before encapsulation),
        ``"underlay"`` (request left the source node but never reached the other node),
        ``"remote"`` (reached the other node but was never answered), ``None``.
        ``reply_via``: a node name whose underlay the reply comes from instead of the
        destination node (an asymmetric path). ``dst_ip`` overrides the destination address
        (e.g. a pod address that does not exist; then ``dst`` only names the node it lives on).
        """
        a, b = self.pods[src], self.pods[dst]
        na, nb = self.nodes[a.node], self.nodes[b.node]
        sip, dip = (a.ip6, dst_ip or b.ip6) if v6 else (a.ip4, dst_ip or b.ip4)
        payload = Raw(b"\x00" * size)

        def l3(s: str, d: str, hl: int) -> Packet:
            return (
                IPv6(src=s, dst=d, hlim=hl)
                if v6
                else IP(src=s, dst=d, ttl=hl, flags="DF", id=seq + 1)
            )

        def echo_req() -> Packet:
            return ICMPv6EchoRequest(id=ident, seq=seq) if v6 else ICMP(type=8, id=ident, seq=seq)

        def echo_rep() -> Packet:
            return ICMPv6EchoReply(id=ident, seq=seq) if v6 else ICMP(type=0, id=ident, seq=seq)

        req = Ether(src=a.mac, dst=a.lxc_mac) / l3(sip, dip, 64) / echo_req() / payload
        self.at(src, req)
        if lost == "sender":
            return
        self.at(a.node, self.encap(na, nb, req, a.identity, sport=41000 + seq), dt_us=25)
        if lost == "underlay":
            return
        self.at(b.node, self.encap(na, nb, req, a.identity, sport=41000 + seq), dt_us=150)
        if dst_ip is not None or lost == "remote":
            return
        self.at(
            dst, Ether(src=b.lxc_mac, dst=b.mac) / l3(sip, dip, 63) / echo_req() / payload, dt_us=20
        )
        rep = Ether(src=b.mac, dst=b.lxc_mac) / l3(dip, sip, 64) / echo_rep() / payload
        self.at(dst, rep, dt_us=30)
        via = self.nodes[reply_via] if reply_via else nb
        self.at(via.name, self.encap(via, na, rep, b.identity, sport=42000 + seq), dt_us=20)
        self.at(a.node, self.encap(via, na, rep, b.identity, sport=42000 + seq), dt_us=150)
        self.at(
            src, Ether(src=a.lxc_mac, dst=a.mac) / l3(dip, sip, 63) / echo_rep() / payload, dt_us=20
        )

    def packet_too_big(self, pod: str, about: bytes, mtu: int = 1450) -> None:
        """Cilium/kernel answers an oversized packet with ICMPv6 Packet Too Big to the pod."""
        p = self.pods[pod]
        n = self.nodes[p.node]
        quoted = IPv6(bytes(about)[14:])
        self.at(
            pod,
            Ether(src=p.lxc_mac, dst=p.mac)
            / IPv6(src=n.router_ip6, dst=p.ip6, hlim=64)
            / ICMPv6PacketTooBig(mtu=mtu)
            / Raw(bytes(quoted)[:1232]),
            dt_us=15,
        )

    def tcp_syn(self, src: str, dst: str, dport: int, answer: str | None = "synack") -> None:
        """A TCP SYN between pods on the pod captures (answered by SYN/ACK, RST, or nothing)."""
        a, b = self.pods[src], self.pods[dst]
        syn = (
            Ether(src=a.mac, dst=a.lxc_mac)
            / IPv6(src=a.ip6, dst=b.ip6)
            / TCP(sport=50000, dport=dport, flags="S", seq=1000)
        )
        self.at(src, syn)
        if answer is not None:
            flags = "SA" if answer == "synack" else "RA"
            self.at(
                src,
                Ether(src=a.lxc_mac, dst=a.mac)
                / IPv6(src=b.ip6, dst=a.ip6, hlim=63)
                / TCP(sport=dport, dport=50000, flags=flags, seq=5000, ack=1001),
                dt_us=400,
            )


def _link_local(mac: str) -> str:
    b = bytearray(int(x, 16) for x in mac.split(":"))
    b[0] ^= 0x02
    eui = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
    return socket.inet_ntop(socket.AF_INET6, b"\xfe\x80" + b"\0" * 6 + eui)


def in6_ntop(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, packed)


def write_pcaps(cluster: Cluster, folder: Path) -> dict[str, Path]:
    """One ``<point>.pcap`` per capture point; returns point -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        point: write_pcap(folder / f"{point}.pcap", frames)
        for point, frames in cluster.frames.items()
    }


def reference_like_cluster() -> Cluster:
    """Two kind-like nodes with one pod each, shaped like the reference scenario (other values)."""
    c = Cluster()
    c.node("node-a", "192.168.50.11", "02:42:c0:a8:32:0b", "10.10.1.1", "fd00:aa:1::77")
    c.node("node-b", "192.168.50.12", "02:42:c0:a8:32:0c", "10.10.2.1", "fd00:aa:2::88")
    c.pod(
        "client",
        "node-a",
        "5a:00:00:00:00:01",
        "ca:fe:00:00:00:01",
        "10.10.1.5",
        "fd00:aa:1::5",
        51234,
    )
    c.pod(
        "server",
        "node-b",
        "5a:00:00:00:00:02",
        "ca:fe:00:00:00:02",
        "10.10.2.6",
        "fd00:aa:2::6",
        60001,
    )
    return c


# --------------------------------------------------------------------------------------------
# packets tables from dict rows (exchanges tests)
# --------------------------------------------------------------------------------------------

BASE_NS = 1_720_770_268_000_000_000  # 2024-07-12T07:44:28Z
"""Time of the first row of :func:`make_packets` tables."""


def make_packets(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """A packets table with the schema's columns and dtypes.

    Each row is a dict of column values; ``t`` (seconds after a fixed base time) may stand in for
    ``ts_ns``; ``capture`` defaults to ``"cap"`` and ``frame_no`` to the row's 1-based number
    within its capture.
    """
    counters: dict[str, int] = {}
    out: list[dict[str, object]] = []
    for i, row in enumerate(rows):
        r = dict(row)
        r.setdefault("capture", "cap")
        counters[r["capture"]] = counters.get(r["capture"], 0) + 1
        r.setdefault("frame_no", counters[r["capture"]])
        if "t" in r:
            r["ts_ns"] = BASE_NS + round(float(r.pop("t")) * 1e9)
        r.setdefault("ts_ns", BASE_NS + i * 1000)
        r["ts"] = pd.Timestamp(r["ts_ns"], unit="ns", tz="UTC")
        unknown = set(r) - set(COLUMN_NAMES)
        assert not unknown, f"not packets-table columns: {unknown}"
        out.append(r)
    df = pd.DataFrame(out, columns=list(COLUMN_NAMES))
    return df.astype({c.name: c.dtype for c in COLUMNS})


# Addresses of a pod, its lxc veth and its IPv6 gateway (the reference scenario's values).
POD_MAC = "4e:5b:57:45:63:3b"
LXC_MAC = "a2:79:14:47:80:b3"
ROUTER6 = "fd00:10:244:1::22f1"


def _with(row: dict[str, object], kw: Mapping[str, object]) -> dict[str, object]:
    """``row`` with the columns in ``kw`` added or overriding its defaults."""
    row.update(kw)
    return row


def ns_row(
    t: float, src: str, target: str = ROUTER6, mac: str = POD_MAC, **kw: object
) -> dict[str, object]:
    """A Neighbor Solicitation for ``target`` from ``src`` (``::``: a DAD probe), to the
    solicited-node group of the reference router address."""
    row: dict[str, object] = {
        "t": t,
        "src_mac": mac,
        "dst_mac": "33:33:ff:00:22:f1",
        "ip_version": 6,
        "src_ip": src,
        "dst_ip": "ff02::1:ff00:22f1",
        "ip_proto": IPProto.ICMPV6,
        "icmp_type": ICMPv6Type.NEIGHBOR_SOLICITATION,
        "icmp_code": 0,
        "nd_target": target,
        "nd_lladdr": mac if src != "::" else None,
    }
    return _with(row, kw)


def na_row(
    t: float,
    dst: str,
    flags: str = "RS",
    target: str = ROUTER6,
    mac: str = LXC_MAC,
    dst_mac: str = POD_MAC,
    **kw: object,
) -> dict[str, object]:
    """A Neighbor Advertisement of ``target`` at ``mac``, sent to ``dst``."""
    row: dict[str, object] = {
        "t": t,
        "src_mac": mac,
        "dst_mac": dst_mac,
        "ip_version": 6,
        "src_ip": target,
        "dst_ip": dst,
        "ip_proto": IPProto.ICMPV6,
        "icmp_type": ICMPv6Type.NEIGHBOR_ADVERTISEMENT,
        "icmp_code": 0,
        "nd_target": target,
        "nd_flags": flags,
        "nd_lladdr": mac,
    }
    return _with(row, kw)


def echo_row(
    t: float,
    src: str,
    dst: str,
    eid: int,
    seq: int,
    reply: bool = False,
    v: int = 6,
    smac: str = POD_MAC,
    dmac: str = LXC_MAC,
    **kw: object,
) -> dict[str, object]:
    """An ICMP (``v=4``) or ICMPv6 echo request, or reply, with a 56-byte payload."""
    if v == 6:
        typ = ICMPv6Type.ECHO_REPLY if reply else ICMPv6Type.ECHO_REQUEST
    else:
        typ = ICMPType.ECHO_REPLY if reply else ICMPType.ECHO_REQUEST
    row: dict[str, object] = {
        "t": t,
        "src_mac": smac,
        "dst_mac": dmac,
        "ip_version": v,
        "src_ip": src,
        "dst_ip": dst,
        "ip_proto": IPProto.ICMPV6 if v == 6 else IPProto.ICMP,
        "icmp_type": typ,
        "icmp_code": 0,
        "echo_id": eid,
        "echo_seq": seq,
        "payload_len": 56,
    }
    return _with(row, kw)


def arp_row(
    t: float, op: int, sha: str, spa: str, tpa: str, tha: str | None = None, **kw: object
) -> dict[str, object]:
    """An ARP message (``op`` 1 who-has, 2 is-at); broadcast unless ``tha`` is given."""
    row: dict[str, object] = {
        "t": t,
        "src_mac": sha,
        "dst_mac": tha or "ff:ff:ff:ff:ff:ff",
        "ethertype": EtherType.ARP,
        "arp_op": op,
        "arp_sender_mac": sha,
        "arp_sender_ip": spa,
        "arp_target_ip": tpa,
        "arp_target_mac": tha or "00:00:00:00:00:00",
    }
    return _with(row, kw)


def tcp_row(
    t: float,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    flags: int,
    seq: int,
    ack: int = 0,
    **kw: object,
) -> dict[str, object]:
    """A TCP segment without payload (IPv4 unless ``ip_version`` is given)."""
    row: dict[str, object] = {
        "t": t,
        "src_mac": POD_MAC,
        "dst_mac": LXC_MAC,
        "ip_version": 4,
        "src_ip": src,
        "dst_ip": dst,
        "ip_proto": IPProto.TCP,
        "sport": sport,
        "dport": dport,
        "tcp_flags": flags,
        "tcp_seq": seq,
        "tcp_ack": ack,
        "payload_len": 0,
    }
    return _with(row, kw)
