"""Generate a deterministic mixed overlay capture for the benchmark.

``python bench/gen_mixed.py N OUT.pcap [--seed S]`` writes N Ethernet frames into a classic
little-endian microsecond pcap. The traffic imitates a Cilium cluster in VXLAN tunnel mode
(64 nodes, 48 pods each, a few hundred security identities):

* about 60 % VXLAN on UDP 8472 over IPv4 carrying inner IPv6: echo request/reply (118-byte
  inner frames), Neighbor Solicitation/Advertisement pairs, TCP with 0-1390 payload bytes;
* about 20 % VXLAN carrying inner IPv4: ICMP echo request/reply, ARP request/reply, TCP with
  0-1410 payload bytes, UDP DNS queries;
* about 20 % plain underlay TCP between node addresses (API server, kubelet, health checks).

Outer headers follow Cilium: node MAC and IP on the outside, UDP checksum 0, a flow-hash UDP
source port, VXLAN flags 0x08 and the VNI = the sender's security identity. Inner frames keep
the sending pod's MAC and its lxc MAC. Timestamps increase monotonically. IPv4 header,
ICMP and ICMPv6 checksums are correct; TCP checksums are left at 0 (no decoder under test checks
them, and computing them in Python would dominate the run time).

Frames are assembled from byte templates with ``struct``: no per-packet scapy objects, so a
million frames take seconds. The same N and seed always give the same bytes.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KINDS", "generate", "write_pcap"]

NODES = 64
PODS_PER_NODE = 48
IDENTITIES = 300
VXLAN_PORT = 8472
START_US = 1_720_770_268_000_000  # 2024-07-12 07:44:28 UTC
POD_MTU = 1450

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
_REC = struct.Struct("<IIII")
_ETH = struct.Struct("!6s6sH")
_IP4 = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_UDP = struct.Struct("!HHHH")
_TCP = struct.Struct("!HHIIBBHHH")
_VXLAN = struct.Struct("!II")
_ICMP_ECHO = struct.Struct("!BBHHH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_QNAMES = [
    b"".join(bytes([len(p)]) + p for p in name.encode().split(b"."))
    + b"\x00"
    + struct.pack("!HH", qtype, 1)
    for name in (
        "kubernetes.default.svc.cluster.local",
        "cni.default.svc.cluster.local",
        "kube-dns.kube-system.svc.cluster.local",
        "api.example.com",
    )
    for qtype in (1, 28)
]  # DNS questions (A and AAAA)
_ECHO_DATA = bytes(range(0x10, 0x10 + 56))  # 56 data bytes, as ping sends by default
_FILL = random.Random(0x5EED).randbytes(1500)  # payload bytes (random: no dissector heuristics)

# Share of frames per kind; pair kinds emit two frames (request, answer) per event.
KINDS: dict[str, tuple[float, int]] = {
    "vxlan6-echo": (0.12, 2),
    "vxlan6-nd": (0.06, 2),
    "vxlan6-tcp": (0.42, 1),
    "vxlan4-icmp": (0.05, 2),
    "vxlan4-arp": (0.03, 2),
    "vxlan4-tcp": (0.08, 1),
    "vxlan4-udp": (0.04, 1),
    "underlay-tcp": (0.20, 1),
}


@dataclass(frozen=True)
class Pod:
    """A pod: its node index, MACs, addresses and security identity."""

    node: int
    mac: bytes
    lxc_mac: bytes
    ip4: bytes
    ip6: bytes
    identity: int


@dataclass(frozen=True)
class Node:
    """A node: underlay MAC and IPv4 address."""

    mac: bytes
    ip4: bytes


def _mac(rng: random.Random) -> bytes:
    """A random locally administered unicast MAC."""
    first = (rng.randrange(256) & 0xFC) | 0x02
    return bytes([first]) + rng.randbytes(5)


def _world(rng: random.Random) -> tuple[list[Node], list[Pod]]:
    nodes = []
    for n in range(NODES):
        ip = bytes([172, 18, n // 250, n % 250 + 2])
        nodes.append(Node(mac=b"\x02\x42" + ip, ip4=ip))
    identities = rng.sample(range(256, 65536), IDENTITIES)
    pods = []
    for n in range(NODES):
        for k in range(PODS_PER_NODE):
            # fd00:10:244:<node>::<random>, the pod CIDR layout of the reference scenario
            ip6 = (
                bytes.fromhex(f"fd000010024400{n + 1:02x}")
                + bytes(6)
                + struct.pack("!H", rng.randrange(1, 65536))
            )
            pods.append(
                Pod(
                    node=n,
                    mac=_mac(rng),
                    lxc_mac=_mac(rng),
                    ip4=bytes([10, 244, n + 1, k + 2]),
                    ip6=ip6,
                    identity=identities[rng.randrange(IDENTITIES)],
                )
            )
    return nodes, pods


def _csum(data: bytes, start: int = 0) -> int:
    """Internet checksum of ``data`` (padded to even length) plus a 32-bit partial ``start``."""
    if len(data) % 2:
        data += b"\x00"
    s = start + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ip4(src: bytes, dst: bytes, proto: int, payload_len: int, ident: int, ttl: int = 64) -> bytes:
    hdr = _IP4.pack(
        0x45,
        0,
        20 + payload_len,
        ident & 0xFFFF,
        0x4000 if proto == 6 else 0,
        ttl,
        proto,
        0,
        src,
        dst,
    )
    return hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]


def _ip6(src: bytes, dst: bytes, nh: int, payload_len: int, hlim: int = 64) -> bytes:
    return _IP6.pack(0x60000000, payload_len, nh, hlim, src, dst)


def _pseudo6(src: bytes, dst: bytes, length: int, nh: int) -> int:
    return sum(struct.unpack("!16H", src + dst)) + length + nh


def _icmp6(src: bytes, dst: bytes, body: bytes) -> bytes:
    """ICMPv6 message ``body`` (checksum field zero) with its checksum filled in."""
    c = _csum(body, _pseudo6(src, dst, len(body), 58))
    return body[:2] + struct.pack("!H", c) + body[4:]


def _tcp(sport: int, dport: int, seq: int, ack: int, flags: int) -> bytes:
    return _TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 64240, 0, 0)


def _solicited(ip6: bytes) -> tuple[bytes, bytes]:
    """Solicited-node multicast address of ``ip6`` and its MAC."""
    grp = bytes.fromhex("ff02" + "00" * 9 + "01ff") + ip6[13:]
    return grp, b"\x33\x33" + grp[12:]


class _Gen:
    """State of the generator: the world, counters and the random stream."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.nodes, self.pods = _world(self.rng)
        self.ip_id = 0
        self.echo_id = 0
        self.seq = 0

    def _pair(self) -> tuple[Pod, Pod]:
        rng, pods = self.rng, self.pods
        a = pods[rng.randrange(len(pods))]
        while True:
            b = pods[rng.randrange(len(pods))]
            if b.node != a.node:
                return a, b

    def _vxlan(self, src: Pod, dst: Pod, inner: bytes, flow: int) -> bytes:
        """``inner`` in VXLAN from ``src``'s node to ``dst``'s node, VNI = src's identity."""
        sn, dn = self.nodes[src.node], self.nodes[dst.node]
        self.ip_id += 1
        udp_len = 16 + len(inner)
        sport = 32768 + (flow * 2654435761 & 0xFFFFFFFF) % 28232
        return b"".join(
            (
                _ETH.pack(dn.mac, sn.mac, 0x0800),
                _ip4(sn.ip4, dn.ip4, 17, udp_len, self.ip_id),
                _UDP.pack(sport, VXLAN_PORT, udp_len, 0),
                _VXLAN.pack(0x08000000, src.identity << 8),
                inner,
            )
        )

    def _payload_len(self, limit: int) -> int:
        r = self.rng.random()
        if r < 0.45:
            return 0  # bare ACKs
        if r < 0.75:
            return self.rng.randrange(1, 400)
        return limit if r < 0.9 else self.rng.randrange(400, limit + 1)

    def event(self, kind: str) -> list[bytes]:
        """The frames of one event of ``kind``."""
        rng = self.rng
        a, b = self._pair()
        flow = int.from_bytes(a.ip4[2:] + b.ip4[2:], "big")
        if kind == "vxlan6-echo":
            self.echo_id = (self.echo_id + 1) & 0xFFFF
            frames = []
            for typ, s, d, hl in ((128, a, b, 64), (129, b, a, 64)):
                body = _icmp6(
                    s.ip6, d.ip6, _ICMP_ECHO.pack(typ, 0, 0, self.echo_id, 0) + _ECHO_DATA
                )
                inner = (
                    _ETH.pack(s.lxc_mac, s.mac, 0x86DD)
                    + _ip6(s.ip6, d.ip6, 58, len(body), hl)
                    + body
                )
                frames.append(self._vxlan(s, d, inner, flow))
            return frames
        if kind == "vxlan6-nd":
            grp, grp_mac = _solicited(b.ip6)
            ns = _icmp6(
                a.ip6, grp, struct.pack("!BBHI", 135, 0, 0, 0) + b.ip6 + b"\x01\x01" + a.mac
            )
            na = _icmp6(
                b.ip6,
                a.ip6,
                struct.pack("!BBHI", 136, 0, 0, 0x60000000) + b.ip6 + b"\x02\x01" + b.mac,
            )
            return [
                self._vxlan(
                    a,
                    b,
                    _ETH.pack(grp_mac, a.mac, 0x86DD) + _ip6(a.ip6, grp, 58, 32, 255) + ns,
                    flow,
                ),
                self._vxlan(
                    b,
                    a,
                    _ETH.pack(a.mac, b.mac, 0x86DD) + _ip6(b.ip6, a.ip6, 58, 32, 255) + na,
                    flow,
                ),
            ]
        if kind in ("vxlan6-tcp", "vxlan4-tcp"):
            v6 = kind == "vxlan6-tcp"
            n = self._payload_len(POD_MTU - (60 if v6 else 40))
            self.seq += 1 + n
            sport, dport = 32768 + (flow & 0x3FFF), (80, 443, 8080, 5432, 6379)[flow % 5]
            if rng.random() < 0.5:
                a, b, sport, dport = b, a, dport, sport
            seg = _tcp(sport, dport, self.seq, self.seq * 7, 0x18 if n else 0x10) + _FILL[:n]
            if v6:
                ip = _ip6(a.ip6, b.ip6, 6, len(seg))
            else:
                self.ip_id += 1
                ip = _ip4(a.ip4, b.ip4, 6, len(seg), self.ip_id)
            inner = _ETH.pack(a.lxc_mac, a.mac, 0x86DD if v6 else 0x0800) + ip + seg
            return [self._vxlan(a, b, inner, flow)]
        if kind == "vxlan4-icmp":
            self.echo_id = (self.echo_id + 1) & 0xFFFF
            frames = []
            for typ, s, d in ((8, a, b), (0, b, a)):
                body = _ICMP_ECHO.pack(typ, 0, 0, self.echo_id, 0) + _ECHO_DATA
                body = body[:2] + struct.pack("!H", _csum(body)) + body[4:]
                self.ip_id += 1
                inner = (
                    _ETH.pack(s.lxc_mac, s.mac, 0x0800)
                    + _ip4(s.ip4, d.ip4, 1, len(body), self.ip_id)
                    + body
                )
                frames.append(self._vxlan(s, d, inner, flow))
            return frames
        if kind == "vxlan4-arp":
            req = _ETH.pack(b"\xff" * 6, a.mac, 0x0806) + _ARP.pack(
                1, 0x0800, 6, 4, 1, a.mac, a.ip4, bytes(6), b.ip4
            )
            rep = _ETH.pack(a.mac, b.mac, 0x0806) + _ARP.pack(
                1, 0x0800, 6, 4, 2, b.mac, b.ip4, a.mac, a.ip4
            )
            return [self._vxlan(a, b, req, flow), self._vxlan(b, a, rep, flow)]
        if kind == "vxlan4-udp":
            self.echo_id = (self.echo_id + 1) & 0xFFFF
            query = (
                struct.pack("!HHHHHH", self.echo_id, 0x0100, 1, 0, 0, 0)
                + _QNAMES[flow % len(_QNAMES)]
            )
            udp = _UDP.pack(32768 + (flow & 0x7FFF), 53, 8 + len(query), 0) + query
            self.ip_id += 1
            inner = (
                _ETH.pack(a.lxc_mac, a.mac, 0x0800)
                + _ip4(a.ip4, b.ip4, 17, len(udp), self.ip_id)
                + udp
            )
            return [self._vxlan(a, b, inner, flow)]
        if kind == "underlay-tcp":
            sn, dn = self.nodes[a.node], self.nodes[b.node]
            n = self._payload_len(1460)
            self.seq += 1 + n
            sport, dport = 32768 + (flow & 0x7FFF), (6443, 10250, 4240, 2379)[flow % 4]
            seg = _tcp(sport, dport, self.seq, self.seq * 3, 0x18 if n else 0x10) + _FILL[:n]
            self.ip_id += 1
            return [
                _ETH.pack(dn.mac, sn.mac, 0x0800)
                + _ip4(sn.ip4, dn.ip4, 6, len(seg), self.ip_id)
                + seg
            ]
        raise ValueError(f"unknown event kind {kind!r}")


def generate(n_frames: int, seed: int = 1) -> Iterator[tuple[int, bytes]]:
    """Yield ``n_frames`` (timestamp in microseconds, Ethernet frame) pairs."""
    gen = _Gen(seed)
    kinds = list(KINDS)
    weights = [share / per_event for share, per_event in KINDS.values()]
    rng = gen.rng
    ts = START_US
    made = 0
    while made < n_frames:
        for kind in rng.choices(kinds, weights, k=1024):
            for frame in gen.event(kind):
                ts += 1 + rng.randrange(40)
                yield ts, frame
                made += 1
                if made == n_frames:
                    return


def write_pcap(path: Path, n_frames: int, seed: int = 1) -> int:
    """Write the capture; gives the number of bytes written."""
    size = len(_PCAP_HEADER)
    buf: list[bytes] = []
    pack = _REC.pack
    with open(path, "wb") as f:
        f.write(_PCAP_HEADER)
        for ts, frame in generate(n_frames, seed):
            sec, usec = divmod(ts, 1_000_000)
            buf.append(pack(sec, usec, len(frame), len(frame)))
            buf.append(frame)
            if len(buf) >= 16384:
                chunk = b"".join(buf)
                f.write(chunk)
                size += len(chunk)
                buf.clear()
        chunk = b"".join(buf)
        f.write(chunk)
        size += len(chunk)
    return size


def main(argv: list[str] | None = None) -> int:
    """Command line: ``gen_mixed.py N OUT.pcap [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames", type=int, help="number of frames")
    parser.add_argument("out", type=Path, help="output pcap path")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    if args.frames < 0:
        parser.error("N must be >= 0")
    size = write_pcap(args.out, args.frames, args.seed)
    print(f"wrote {args.frames} frames, {size} bytes to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
