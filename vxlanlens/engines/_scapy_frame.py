"""The scapy engine's frame mapping: link layers, IP, transport, ICMP / ICMPv6 and ND,
quoted packets (the tunnels are in :mod:`._scapy_tunnel`); see :mod:`.scapy_engine`."""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    _ICMPv6,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import (
    ARP,
    LLC,
    SNAP,
    CookedLinux,
    CookedLinuxV2,
    Dot1AD,
    Dot1Q,
    Dot3,
    Ether,
)
from scapy.packet import NoPayload, Packet, Padding, Raw

from ..decode.options import DecodeOptions
from ..proto import (
    ARP_HTYPE_ETHERNET,
    ARP_HTYPE_IEEE802,
    BSD_AF_INET,
    BSD_AF_INET6,
    ETHERTYPE_MIN,
    ICMP_FRAG_NEEDED,
    PKT_TYPE_TEXT,
    ICMPType,
    IPProto,
    LinkType,
    NDOption,
)
from ._scapy_base import (
    _ARPS,
    _ECHO4,
    _ERR4,
    _ERR6,
    _ET,
    _EXT_NAMES,
    _EXT_STOP,
    _L3,
    _ND_MIN,
    _ND_OPTS_AT,
    _T6,
    _VLAN_TPIDS,
    Stop,
    dissect,
)
from ._scapy_encap import EncapFrame

__all__ = ["DEFAULT", "Frame"]

DEFAULT = DecodeOptions()


class Frame(EncapFrame):
    """One frame being mapped: ``pos`` is the current byte offset, ``end`` the packet's end."""

    # ------------------------------------------------------------------ entry
    def run(self, linktype: int) -> dict[str, Any]:
        try:
            if self.cap == 0:
                self.fail("link", "empty frame: 0 bytes captured at offset 0")
            self.link(linktype)
        except Stop:
            pass
        if self.ext:
            self.v["ip6_ext"] = ",".join(self.ext)
        return self.v

    def link(self, lt: int) -> None:
        buf = self.buf
        if lt == LinkType.ETHERNET:
            self.need(14, "ethernet", "Ethernet header")
            self.ether(dissect(Ether, buf))
        elif lt == LinkType.LINUX_SLL:
            self.need(16, "sll", "Linux SLL header")
            self.cooked(dissect(CookedLinux, buf), 16)
        elif lt == LinkType.LINUX_SLL2:
            self.need(20, "sll2", "Linux SLL2 header")
            self.cooked(dissect(CookedLinuxV2, buf), 20)
        elif lt in (LinkType.RAW, LinkType.RAW_DLT12, LinkType.RAW_DLT14):
            version = buf[0] >> 4
            if version not in (4, 6):
                self.fail("raw-ip", f"raw IP: expected IP version 4 or 6, found {version}")
            self.l3(_ET.IPV4 if version == 4 else _ET.IPV6)
        elif lt == LinkType.IPV4:
            self.l3(_ET.IPV4)
        elif lt == LinkType.IPV6:
            self.l3(_ET.IPV6)
        elif lt in (LinkType.NULL, LinkType.LOOP):
            self.need(4, "loopback", "loopback header")
            raw4 = buf[:4]
            if lt == LinkType.LOOP or raw4[:3] == b"\0\0\0":
                fam = int.from_bytes(raw4, "big")
            else:
                fam = int.from_bytes(raw4, "little")
            self.pos = 4
            if fam == BSD_AF_INET:
                self.l3(_ET.IPV4)
            elif fam in BSD_AF_INET6:
                self.l3(_ET.IPV6)
        else:
            self.fail("link", f"unsupported link type {lt}")

    # ------------------------------------------------------------------ link layers
    def ether(self, eth: Packet) -> None:
        self.need(14, "ethernet", "Ethernet header")
        if isinstance(eth, Dot3):
            self.v["dst_mac"], self.v["src_mac"] = eth.dst, eth.src
            self.pos += 14
            self.llc(eth.payload)
            return
        eth = self.expect(eth, Ether, "ethernet", 14)
        self.v["dst_mac"], self.v["src_mac"] = eth.dst, eth.src
        self.pos += 14
        self.after_type(eth.type, eth.payload, llc_ok=True)

    def inner_ether(self) -> None:
        self.need(14, "ethernet", "Ethernet header")
        self.ether(dissect(Ether, self.buf[self.pos : self.end]))

    def cooked(self, sll: Packet, size: int) -> None:
        self.v["pkt_type"] = PKT_TYPE_TEXT.get(int(sll.pkttype), str(int(sll.pkttype)))
        if isinstance(sll, CookedLinuxV2):
            self.v["ifindex"] = int(sll.ifindex)
        if int(sll.lladdrlen) == 6:
            self.v["src_mac"] = bytes(sll.src)[:6] if isinstance(sll.src, bytes) else sll.src
        self.pos += size
        if int(sll.lladdrtype) == 824:  # ARPHRD_NETLINK: not a network frame
            return
        self.after_type(int(sll.proto), sll.payload, llc_ok=False)

    def after_type(self, etype: int, payload: Packet, llc_ok: bool) -> None:
        """VLAN tags, 802.3 lengths, then the protocol the Ethertype names."""
        tags = 0
        while etype in _VLAN_TPIDS and tags < 4:
            self.need(4, "vlan", "802.1Q/802.1ad tag")
            tag = self.expect(payload, (Dot1Q, Dot1AD), "vlan", 4)
            if tags < 2:
                self.v["vlan" if tags == 0 else "vlan2"] = int(tag.vlan)
            etype = int(tag.type)
            payload = tag.payload
            self.pos += 4
            tags += 1
            llc_ok = True
        if etype < ETHERTYPE_MIN:
            if llc_ok:
                self.llc(payload)
            return
        self.v["ethertype"] = etype
        if etype in _L3:
            self.l3(etype, payload)
        elif etype in _ARPS:
            self.arp(payload)
        else:
            self.other_ethertype(etype)

    def llc(self, payload: Packet) -> None:
        self.need(3, "llc", "802.2 LLC header")
        llc = dissect(LLC, self.buf[self.pos :])
        if (int(llc.dsap), int(llc.ssap), int(llc.ctrl)) != (0xAA, 0xAA, 3):
            return
        self.need(8, "llc", "802.2 LLC/SNAP header")
        snap = llc.payload
        if not isinstance(snap, SNAP):
            snap = dissect(SNAP, self.buf[self.pos + 3 :])
        self.pos += 8
        etype = int(snap.code)
        self.v["ethertype"] = etype
        if etype in _L3:
            self.l3(etype, None)
        elif etype in _ARPS:
            self.arp(None)

    # ------------------------------------------------------------------ network layers
    def l3(self, etype: int, payload: Packet | None = None) -> None:
        """IPv4 / IPv6 at ``pos`` (``payload`` is scapy's dissection of it, if any)."""
        data = self.buf[self.pos :]
        if etype == _ET.IPV4:
            self.need(20, "ipv4", "IPv4 header")
            pkt = payload if isinstance(payload, IP) else dissect(IP, data)
            self.ipv4(self.expect(pkt, IP, "ipv4", 20))
        else:
            self.need(40, "ipv6", "IPv6 header")
            pkt = payload if isinstance(payload, IPv6) else dissect(IPv6, data)
            self.ipv6(self.expect(pkt, IPv6, "ipv6", 40))

    def ipv4(self, ip: Packet) -> None:
        if int(ip.version) != 4:
            self.fail("ipv4", f"IPv4 header: expected version 4, found {ip.version}")
        ihl = int(ip.ihl) * 4
        if ihl < 20:
            self.fail("ipv4", f"IPv4 IHL must be at least 20 bytes, found {ihl}")
        self.need(ihl, "ipv4", "IPv4 header with options")
        tl = int(ip.len)
        jumbo = tl == 0
        avail = self.end - self.pos
        if not jumbo and tl < ihl:
            self.fail("ipv4", f"IPv4 total length {tl} is shorter than its {ihl}-byte header")
        if not jumbo and tl > avail:
            self.fail("ipv4", f"IPv4 total length {tl} exceeds the {avail} bytes left")
        self.jumbo = jumbo
        if not jumbo:
            self.end = self.pos + tl
        v = self.v
        v["ip_version"] = 4
        v["src_ip"], v["dst_ip"] = ip.src, ip.dst
        v["ttl"] = int(ip.ttl)
        v["ip_proto"] = int(ip.proto)
        v["ip_len"] = self.end - self.pos
        v["ip_id"] = int(ip.id)
        v["frag_offset"] = int(ip.frag) * 8
        v["more_fragments"] = bool(int(ip.flags) & 1)
        v["dont_fragment"] = bool(int(ip.flags) & 2)
        self.pos += ihl
        if int(ip.frag) != 0:
            return
        self.l4(int(ip.proto), 4, ip.payload)

    def ipv6(self, ip6: Packet) -> None:
        if int(ip6.version) != 6:
            self.fail("ipv6", f"IPv6 header: expected version 6, found {ip6.version}")
        plen = int(ip6.plen)
        jumbo = plen == 0
        avail = self.end - self.pos - 40
        if not jumbo and plen > avail:
            self.fail("ipv6", f"IPv6 payload length {plen} exceeds the {avail} bytes left")
        self.jumbo = jumbo
        if not jumbo:
            self.end = self.pos + 40 + plen
        v = self.v
        v["ip_version"] = 6
        v["src_ip"], v["dst_ip"] = ip6.src, ip6.dst
        v["ttl"] = int(ip6.hlim)
        v["ip_len"] = self.end - self.pos
        self.ext = []
        self.pos += 40
        nh = int(ip6.nh)
        layer = ip6.payload
        for _ in range(12):
            if nh in _EXT_STOP:
                self.ext.append(_EXT_STOP[nh])
                v["ip_proto"] = nh
                return
            if nh == IPProto.AH:  # its payload is in clear: skipped by its length
                self.ext.append("ah")
                self.need(8, "ipv6-ext", "IPv6 extension header")
                ah = dissect(AH, self.buf[self.pos : self.end])
                size = (int(ah.payloadlen) + 2) * 4
                self.need(size, "ipv6-ext", "IPv6 extension header")
                self.pos += size
                nh = int(ah.nh)
                layer = None  # type: ignore[assignment]  # dissected again below
                continue
            if nh not in _EXT_NAMES:
                break
            self.ext.append(_EXT_NAMES[nh])
            self.need(8, "ipv6-ext", "IPv6 extension header")
            cls = {
                0: IPv6ExtHdrHopByHop,
                43: IPv6ExtHdrRouting,
                44: IPv6ExtHdrFragment,
                60: IPv6ExtHdrDestOpt,
            }[nh]
            if layer is None or not isinstance(layer, cls):
                layer = dissect(cls, self.buf[self.pos : self.end])
            if nh == 44:
                v["ip_id"] = int(layer.id)
                v["frag_offset"] = int(layer.offset) * 8
                v["more_fragments"] = bool(int(layer.m))
                self.pos += 8
                nh = int(layer.nh)
                if int(layer.offset) != 0:
                    v["ip_proto"] = nh
                    return
            else:
                size = (int(layer.len) + 1) * 8
                self.need(size, "ipv6-ext", "IPv6 extension header")
                self.pos += size
                nh = int(layer.nh)
            layer = layer.payload
        else:
            v["ip_proto"] = nh
            return
        v["ip_proto"] = nh
        self.l4(nh, 6, layer)

    def arp(self, payload: Packet | None) -> None:
        self.need(8, "arp", "ARP header")
        a = payload if isinstance(payload, ARP) else dissect(ARP, self.buf[self.pos :])
        if isinstance(a, ARP) and (
            int(a.hwtype) in (ARP_HTYPE_ETHERNET, ARP_HTYPE_IEEE802)
            and a.hwlen == 6
            and a.plen == 4
        ):
            self.need(28, "arp", "Ethernet/IPv4 ARP message")
            v = self.v
            v["arp_op"] = int(a.op)
            v["arp_sender_mac"], v["arp_sender_ip"] = a.hwsrc, a.psrc
            v["arp_target_mac"], v["arp_target_ip"] = a.hwdst, a.pdst
            return
        self.fail("arp", "expected Ethernet/IPv4 ARP (hardware type 1 or 6, hlen 6, plen 4)")

    # ------------------------------------------------------------------ transport layers
    def l4(self, proto: int, family: int, layer: Packet) -> None:
        if proto == IPProto.UDP:
            self.udp(layer)
        elif proto == IPProto.TCP:
            self.tcp(layer)
        elif proto == IPProto.ICMP and family == 4:
            self.icmp(layer)
        elif proto == IPProto.ICMPV6 and family == 6:
            self.icmpv6(layer)
        else:
            self.other_ip_proto(proto, family)

    def _layer(self, layer: Packet, cls: type) -> Packet:
        if isinstance(layer, cls):
            return layer
        return dissect(cls, self.buf[self.pos : self.end])

    def udp(self, layer: Packet) -> None:
        self.need(8, "udp", "UDP header")
        u = self.expect(self._layer(layer, UDP), UDP, "udp", 8)
        ulen = int(u.len)
        avail = self.end - self.pos
        if not self.jumbo and ulen < 8:
            self.fail("udp", f"UDP length {ulen} is less than its 8-byte header")
        if not self.jumbo and ulen > avail:
            self.fail("udp", f"UDP length {ulen} exceeds the {avail} bytes left in the IP packet")
        if not self.jumbo:
            self.end = self.pos + ulen
        sport, dport = int(u.sport), int(u.dport)
        self.v["sport"], self.v["dport"] = sport, dport
        self.v["payload_len"] = self.end - self.pos - 8
        self.udp_len, self.udp_csum = ulen, int(u.chksum)
        self.pos += 8
        self.tunnel(sport, dport)

    def tcp(self, layer: Packet) -> None:
        self.need(20, "tcp", "TCP header")
        t = self.expect(self._layer(layer, TCP), TCP, "tcp", 20)
        off = int(t.dataofs) * 4
        if off < 20:
            self.fail("tcp", f"TCP data offset must be at least 20 bytes, found {off}")
        self.need(off, "tcp", "TCP header with options")
        v = self.v
        v["sport"], v["dport"] = int(t.sport), int(t.dport)
        v["tcp_seq"], v["tcp_ack"] = int(t.seq), int(t.ack)
        v["tcp_flags"] = int(t.flags)
        v["payload_len"] = self.end - self.pos - off
        self.pos += off

    def icmp(self, layer: Packet) -> None:
        self.need(8, "icmp", "ICMP header")
        ic = self.expect(self._layer(layer, ICMP), ICMP, "icmp", 8)
        t, c = int(ic.type), int(ic.code)
        v = self.v
        v["icmp_type"], v["icmp_code"] = t, c
        v["payload_len"] = self.end - self.pos - 8
        if t in _ECHO4:
            v["echo_id"], v["echo_seq"] = int(ic.id), int(ic.seq)
        if t == ICMPType.DEST_UNREACH and c == ICMP_FRAG_NEEDED:
            v["mtu"] = int(ic.nexthopmtu)
        if t in _ERR4:
            self.quoted(ic.payload, 4, "icmp")

    def icmpv6(self, layer: Packet) -> None:
        self.need(8, "icmpv6", "ICMPv6 header")
        data = self.buf[self.pos : self.end]
        ic = layer
        if not isinstance(ic, _ICMPv6):
            ic = dissect(IPv6, bytes(40) + data).payload  # let scapy pick the ICMPv6 class
        if not isinstance(ic, _ICMPv6):
            self.fail("icmpv6", f"scapy could not dissect the ICMPv6 message at {self.pos}")
        t = int(ic.type)
        # a few scapy classes (MLDv2 report) name the code byte otherwise
        c = int(getattr(ic, "code", self.buf[self.pos + 1]))
        v = self.v
        v["icmp_type"], v["icmp_code"] = t, c
        v["payload_len"] = self.end - self.pos - 8
        if t in (_T6.ECHO_REQUEST, _T6.ECHO_REPLY):
            v["echo_id"], v["echo_seq"] = int(ic.id), int(ic.seq)
        if t == _T6.PACKET_TOO_BIG:
            v["mtu"] = int(ic.mtu)
        if t in _ERR6:
            self.quoted(ic.payload, 6, "icmpv6")
        if _T6.ROUTER_SOLICITATION <= t <= _T6.REDIRECT:
            self.nd(ic, t)

    def nd(self, ic: Packet, t: int) -> None:
        if t in _ND_MIN:
            self.need(_ND_MIN[t], "icmpv6", "ICMPv6 ND message")
        v = self.v
        if t in (_T6.NEIGHBOR_SOLICITATION, _T6.NEIGHBOR_ADVERTISEMENT, _T6.REDIRECT):
            v["nd_target"] = ic.tgt
        if t == _T6.NEIGHBOR_ADVERTISEMENT:
            v["nd_flags"] = "".join(L for L, f in (("R", ic.R), ("S", ic.S), ("O", ic.O)) if f)
        if t == _T6.ROUTER_ADVERTISEMENT:
            v["nd_flags"] = "".join(L for L, f in (("M", ic.M), ("O", ic.O)) if f)
        # options: scapy chains them as payload layers of the message
        cur = self.pos + _ND_OPTS_AT[t]
        opt = ic.payload
        while cur < self.end:
            self.need(2, "icmpv6", "ND option header", at=cur)
            if isinstance(opt, (NoPayload, Raw, Padding)) or not hasattr(opt, "len"):
                break
            ln = int(opt.len) * 8
            if ln == 0:
                self.fail("icmpv6", f"ND option length must be at least 1, found 0 at {cur}")
            self.need(ln, "icmpv6", "ND option", at=cur)
            typ = int(opt.type)
            src_lla = typ == NDOption.SOURCE_LLADDR and t in (
                _T6.ROUTER_SOLICITATION,
                _T6.ROUTER_ADVERTISEMENT,
                _T6.NEIGHBOR_SOLICITATION,
            )
            tgt_lla = typ == NDOption.TARGET_LLADDR and t in (
                _T6.NEIGHBOR_ADVERTISEMENT,
                _T6.REDIRECT,
            )
            if ln >= 8 and (src_lla or tgt_lla):
                v["nd_lladdr"] = opt.lladdr
            if ln >= 8 and typ == NDOption.MTU and t == _T6.ROUTER_ADVERTISEMENT:
                v["mtu"] = int(opt.mtu)
            cur += ln
            opt = opt.payload

    def quoted(self, q: Packet, family: int, layer: str) -> None:
        """The packet quoted by an ICMP / ICMPv6 error: ``emb_*``."""
        base = self.pos + 8
        size = 20 if family == 4 else 40
        self.need(size, layer, f"quoted IPv{family} header", at=base)
        version = self.buf[base] >> 4
        if version != family:
            self.fail(layer, f"quoted packet: expected IP version {family}, found {version}")
        lim = min(self.cap, self.end)
        v = self.v
        if family == 4:
            ip = q if isinstance(q, IPerror) else dissect(IPerror, self.buf[base:lim])
            ihl = int(ip.ihl) * 4
            if ihl < 20:
                self.fail(layer, f"quoted IPv4 IHL must be at least 20 bytes, found {ihl}")
            self.need(ihl, layer, "quoted IPv4 header with options", at=base)
            v["emb_src_ip"], v["emb_dst_ip"] = ip.src, ip.dst
            v["emb_ip_len"] = int(ip.len)
            nh = int(ip.proto)
            first = int(ip.frag) == 0
            l4 = base + ihl
            nxt = ip.payload
            echo: tuple[int, tuple[int, ...]] = (
                IPProto.ICMP,
                (ICMPType.ECHO_REPLY, ICMPType.ECHO_REQUEST),
            )
        else:
            if q.__class__.__name__ == "IPerror6":
                ip = q
            else:
                from scapy.layers.inet6 import IPerror6

                ip = dissect(IPerror6, self.buf[base:lim])
            v["emb_src_ip"], v["emb_dst_ip"] = ip.src, ip.dst
            v["emb_ip_len"] = 40 + int(ip.plen)
            nh = int(ip.nh)
            first = True
            l4 = base + 40
            nxt = ip.payload
            for _ in range(4):
                if nh not in _EXT_NAMES or l4 + 8 > lim:
                    break
                hdr = self.buf[l4 : l4 + 8]
                if nh == IPProto.IPV6_FRAG:
                    first &= (int.from_bytes(hdr[2:4], "big") >> 3) == 0
                    ln = 8
                else:
                    ln = (hdr[1] + 1) * 8
                nh = hdr[0]
                l4 += ln
                nxt = None
            echo = (IPProto.ICMPV6, (_T6.ECHO_REQUEST, _T6.ECHO_REPLY))
        v["emb_ip_version"] = family
        v["emb_ip_proto"] = nh
        if not first:
            return
        # scapy's UDPerror/TCPerror/ICMPerror need a full header; a quote that stops after
        # the ports (RFC 792: 8 bytes) is left as Raw, so read what it holds from the bytes.
        if nh in (IPProto.TCP, IPProto.UDP) and l4 + 4 <= lim:
            if nxt is not None and hasattr(nxt, "sport") and not isinstance(nxt, Raw):
                v["emb_sport"], v["emb_dport"] = int(nxt.sport), int(nxt.dport)
            else:
                v["emb_sport"] = int.from_bytes(self.buf[l4 : l4 + 2], "big")
                v["emb_dport"] = int.from_bytes(self.buf[l4 + 2 : l4 + 4], "big")
        if nh == echo[0] and l4 + 8 <= lim and self.buf[l4] in echo[1]:
            if nxt is not None and hasattr(nxt, "seq") and hasattr(nxt, "id"):
                v["emb_echo_id"], v["emb_echo_seq"] = int(nxt.id), int(nxt.seq)
            else:
                v["emb_echo_id"] = int.from_bytes(self.buf[l4 + 4 : l4 + 6], "big")
                v["emb_echo_seq"] = int.from_bytes(self.buf[l4 + 6 : l4 + 8], "big")
