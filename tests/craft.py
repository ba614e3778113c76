"""Crafting Cilium-like overlay captures for tests: pods on nodes, frames at each capture point.

A :class:`Cluster` knows nodes (underlay IP and MAC) and pods (eth0 MAC, lxc MAC, addresses,
identity). Its methods return frames as they would be seen at named capture points
(``"<pod>"`` for a pod's eth0, ``"<node>"`` for a node's eth0), and :func:`write_pcaps` writes
one classic pcap per capture point. Frames follow the datapath facts of
``../shared/domain/cilium-datapath.md``: the sending node keeps the pod's Ethernet header inside
VXLAN, the receiving node rewrites the MACs to lxc -> pod and decrements the hop limit once.
"""

from __future__ import annotations

import socket
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

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
            / UDP(sport=sport, dport=8472, chksum=0)
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


def write_pcap(path: Path, frames: list[tuple[int, bytes]]) -> Path:
    """A classic little-endian microsecond pcap of Ethernet frames."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for t_us, data in frames:
        out.append(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(data), len(data)))
        out.append(data)
    path.write_bytes(b"".join(out))
    return path


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
