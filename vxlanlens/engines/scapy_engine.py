"""The scapy engine: each record dissected by scapy, its layers mapped to the packets columns.

:func:`decode_batch_scapy` has the fast decoder's contract (``RecordBatch`` + ``DecodeOptions``
in, :class:`~vxlanlens.decode.DecodedBatch` out). Records come from vxlanlens' own streaming
reader, so only the protocol dissection differs. It is slow (one scapy object per layer, about
2,000 frames per second on 2 cores) and meant for cross-checking.

How scapy is driven, without touching its global state:

* the first layer is chosen by link type (Ether, ``CookedLinux`` / ``CookedLinuxV2`` for SLL /
  SLL2, ``IP`` / ``IPv6`` by version nibble for raw IP, BSD / OpenBSD loopback);
* every dissection runs with ``stop_dissection_after=UDP``, so scapy's own port bindings
  (VXLAN on 4789/4790/8472/..., Geneve on 6081) never apply; at each UDP header the engine picks
  the tunnel from ``options`` (ports, then the header itself, with the same rules as
  :func:`vxlanlens.decode.tunnel.classify`, including the guarded VXLAN guess) and dissects the
  UDP payload with ``scapy.layers.vxlan.VXLAN`` (VXLAN and VXLAN-GPE) or
  ``scapy.contrib.geneve.GENEVE``, then the inner frame with the class the tunnel names. No
  ``bind_layers`` call is made, so nothing leaks between calls or into the user's scapy.

Column semantics are those of :mod:`vxlanlens.schema` (outer = outermost underlay, unprefixed =
the innermost frame, ``emb_*`` = the packet quoted by an ICMP/ICMPv6 error).

What counts as a decoding error (``decode_layer`` uses the fast decoder's layer names):

* a protocol named by the layer below (Ethertype, IP protocol, tunnel port) that scapy could not
  dissect (scapy returns ``Raw``, or nothing) or whose header, as its own length fields give it
  (IPv4 IHL, TCP data offset, Geneve option length), runs past the captured bytes or past the
  length the enclosing header declares;
* inconsistent length or version fields that scapy dissects silently: IPv4 version != 4,
  IHL < 5, total length < header or > the bytes left on the wire; IPv6 version != 6 or payload
  length > the bytes left; UDP length < 8 or > the IP payload; TCP data offset < 5; ARP that
  is not Ethernet/IPv4; Geneve version != 0 or an option longer than the option space; an ND
  option of length 0; a quoted packet whose version does not match its ICMP family; tunnels
  nested deeper than ``options.max_tunnel_depth``.

``decode_error`` is this engine's own one-line text (layer, what, offset); only
``decode_layer`` is meant to be compared with the other engines.
"""

from __future__ import annotations

from typing import Any

from ..decode.options import DecodeOptions
from ..decode.result import DecodedBatch
from ..errors import EngineError
from ..proto import (
    ARP_HTYPE_ETHERNET,
    ARP_HTYPE_IEEE802,
    BSD_AF_INET,
    BSD_AF_INET6,
    ETHERTYPE_MIN,
    ICMP_FRAG_NEEDED,
    ND_OPTIONS_AT,
    PKT_TYPE_TEXT,
    EtherType,
    GpeNextProtocol,
    ICMPType,
    ICMPv6Type,
    IPProto,
    LinkType,
    NDOption,
)
from ..read.records import RecordBatch
from ..schema import OUTER_COLUMNS as _OUTER_MOVES
from ._rows import rows_to_batch

try:  # scapy is a dependency, but keep the failure an EngineError if it is broken
    from scapy.contrib.geneve import GENEVE
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror
    from scapy.layers.inet6 import (
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
        _ICMPv6,
    )
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
    from scapy.layers.vxlan import VXLAN
    from scapy.packet import NoPayload, Packet, Padding, Raw

    _SCAPY_ERROR: Exception | None = None
except Exception as exc:  # pragma: no cover - depends on the environment
    _SCAPY_ERROR = exc

__all__ = ["decode_batch_scapy"]

_DEFAULT = DecodeOptions()

_CLEARED_BY_TUNNEL = (
    "src_mac dst_mac vlan vlan2 ethertype ip_version src_ip dst_ip ttl ip_proto ip_len ip_id "
    "frag_offset more_fragments dont_fragment sport dport payload_len "
    "vni vxlan_flags vxlan_gbp tunnel_proto geneve_critical geneve_options ip6_ext"
).split()
_ET, _T6 = EtherType, ICMPv6Type
_ECHO4 = ICMPType.with_id_seq()
_ERR4 = ICMPType.errors()
_ERR6 = ICMPv6Type.errors()
_ND_OPTS_AT = ND_OPTIONS_AT
_ND_MIN: dict[int, int] = {t: n for t, n in ND_OPTIONS_AT.items() if t != _T6.ROUTER_SOLICITATION}
_EXT_NAMES: dict[int, str] = {
    IPProto.HOPOPT: "hop-by-hop",
    IPProto.IPV6_ROUTE: "routing",
    IPProto.IPV6_FRAG: "fragment",
    IPProto.IPV6_OPTS: "dest-opts",
}
_EXT_STOP: dict[int, str] = {IPProto.AH: "ah", IPProto.ESP: "esp", IPProto.IPV6_NONXT: "no-next"}
_GENEVE_PROTOS = (_ET.TEB, _ET.IPV4, _ET.IPV6, _ET.ARP)
_VLAN_TPIDS = EtherType.vlan_tpids()
_L3 = (_ET.IPV4, _ET.IPV6)
_ARPS = (_ET.ARP, _ET.RARP)
_GUESS_MIN = 8 + 14 + 16


class _Stop(Exception):
    """Decoding of the frame ends here (with or without an error)."""


def _hdr_len(layer: Packet) -> int:
    """Bytes of ``layer``'s own header as scapy dissected it."""
    cache = getattr(layer, "raw_packet_cache", None)
    if cache is not None:
        return len(cache)
    return len(layer) - len(layer.payload)


def _dissect(cls: type, data: bytes) -> Packet:
    return cls(data, stop_dissection_after=UDP)


class _Frame:
    """One frame being mapped: ``pos`` is the current byte offset, ``end`` the packet's end."""

    def __init__(self, buf: bytes, wire_len: int, options: DecodeOptions) -> None:
        self.buf = buf
        self.cap = len(buf)
        self.end = max(int(wire_len), self.cap)
        self.pos = 0
        self.opts = options
        self.v: dict[str, Any] = {"tunnel_depth": 0}
        self.depth = 0
        self.jumbo = False
        self.ext: list[str] = []
        self.udp_len = 0
        self.udp_csum = 0

    # ------------------------------------------------------------------ helpers
    def fail(self, layer: str, text: str) -> None:
        self.v["decode_layer"] = layer
        self.v["decode_error"] = f"scapy: {text}"
        raise _Stop

    def need(self, nbytes: int, layer: str, what: str, at: int | None = None) -> None:
        """Fail at ``layer`` unless ``nbytes`` from ``at`` (default: pos) are present."""
        p = self.pos if at is None else at
        if p + nbytes > self.end:
            self.fail(
                layer,
                f"{what} needs {nbytes} bytes at offset {p}, only {max(self.end - p, 0)} left "
                "in the packet",
            )
        if p + nbytes > self.cap:
            self.fail(
                layer,
                f"{what} needs {nbytes} bytes at offset {p}, only {max(self.cap - p, 0)} captured",
            )

    def expect(self, layer: Packet, cls: type | tuple[type, ...], name: str, size: int) -> Packet:
        """``layer`` if scapy dissected it as ``cls``; else a truncation / malformation error."""
        if isinstance(layer, cls) and not isinstance(layer, (Raw, Padding)):
            return layer
        self.need(size, name, f"{name} header")
        self.fail(name, f"scapy could not dissect the {name} header at offset {self.pos}")
        raise AssertionError  # unreachable

    # ------------------------------------------------------------------ entry
    def run(self, linktype: int) -> dict[str, Any]:
        try:
            if self.cap == 0:
                self.fail("link", "empty frame: 0 bytes captured at offset 0")
            self.link(linktype)
        except _Stop:
            pass
        if self.ext:
            self.v["ip6_ext"] = ",".join(self.ext)
        return self.v

    def link(self, lt: int) -> None:
        buf = self.buf
        if lt == LinkType.ETHERNET:
            self.need(14, "ethernet", "Ethernet header")
            self.ether(_dissect(Ether, buf))
        elif lt == LinkType.LINUX_SLL:
            self.need(16, "sll", "Linux SLL header")
            self.cooked(_dissect(CookedLinux, buf), 16)
        elif lt == LinkType.LINUX_SLL2:
            self.need(20, "sll2", "Linux SLL2 header")
            self.cooked(_dissect(CookedLinuxV2, buf), 20)
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
        self.ether(_dissect(Ether, self.buf[self.pos : self.end]))

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

    def llc(self, payload: Packet) -> None:
        self.need(3, "llc", "802.2 LLC header")
        llc = _dissect(LLC, self.buf[self.pos :])
        if (int(llc.dsap), int(llc.ssap), int(llc.ctrl)) != (0xAA, 0xAA, 3):
            return
        self.need(8, "llc", "802.2 LLC/SNAP header")
        snap = llc.payload
        if not isinstance(snap, SNAP):
            snap = _dissect(SNAP, self.buf[self.pos + 3 :])
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
            pkt = payload if isinstance(payload, IP) else _dissect(IP, data)
            self.ipv4(self.expect(pkt, IP, "ipv4", 20))
        else:
            self.need(40, "ipv6", "IPv6 header")
            pkt = payload if isinstance(payload, IPv6) else _dissect(IPv6, data)
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
            if not isinstance(layer, cls):
                layer = _dissect(cls, self.buf[self.pos : self.end])
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
        a = payload if isinstance(payload, ARP) else _dissect(ARP, self.buf[self.pos :])
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

    def _layer(self, layer: Packet, cls: type) -> Packet:
        if isinstance(layer, cls):
            return layer
        return _dissect(cls, self.buf[self.pos : self.end])

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
            ic = _dissect(IPv6, bytes(40) + data).payload  # let scapy pick the ICMPv6 class
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
            ip = q if isinstance(q, IPerror) else _dissect(IPerror, self.buf[base:lim])
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

                ip = _dissect(IPerror6, self.buf[base:lim])
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

    # ------------------------------------------------------------------ tunnels
    def tunnel(self, sport: int, dport: int) -> None:
        """Pick and dissect the tunnel in the UDP payload at ``pos`` (see the module doc)."""
        o = self.opts
        on_vx = sport in o.vxlan_ports or dport in o.vxlan_ports
        on_gp = sport in o.gpe_ports or dport in o.gpe_ports
        on_gn = sport in o.geneve_ports or dport in o.geneve_ports
        wire = self.end - self.pos
        capt = self.cap - self.pos
        if on_vx or on_gp or on_gn:
            if wire < 8:
                return
            if capt < 8:
                name = "vxlan-gpe" if on_gp and not on_vx else "vxlan" if on_vx else "geneve"
                if on_gp and not on_vx:
                    name = "vxlan-gpe"
                self.fail(name, f"tunnel header needs 8 bytes at {self.pos}, only {capt} captured")
            kind = self.classify(on_vx, on_gp, on_gn, wire)
        elif o.guess_tunnels and capt >= _GUESS_MIN and wire >= 8 + 14 + 20:
            kind = "vxlan" if self.guess(wire) else None
        else:
            kind = None
        if kind is None:
            return
        payload = self.buf[self.pos : self.end]
        if kind == "geneve":
            self.geneve(_dissect(GENEVE, payload))
        else:
            self.vxlan(VXLAN(payload, stop_dissection_after=VXLAN), gpe=kind == "vxlan-gpe")

    def classify(self, on_vx: bool, on_gp: bool, on_gn: bool, wire: int) -> str | None:
        payload = self.buf[self.pos : self.end]
        vx = VXLAN(payload, stop_dissection_after=VXLAN)
        gn = GENEVE(payload, stop_dissection_after=GENEVE)
        flags = int(vx.flags)
        ibit = bool(flags & 0x08)
        g = self.buf[self.pos : self.pos + 8]
        gen_strict = (
            int(gn.version) == 0
            and int(gn.proto) in _GENEVE_PROTOS
            and (g[1] & 0x3F) == 0
            and int(gn.reserved2) == 0
            and int(gn.optionlen) * 4 + 8 <= wire
        )
        vx_strict = flags == 0x08 and g[1:4] == b"\0\0\0" and g[7] == 0
        gpe_ok = bool(flags & 0x04) and GpeNextProtocol.IPV4 <= g[3] <= GpeNextProtocol.NSH
        if on_gp and gpe_ok:
            return "vxlan-gpe"
        if on_vx and ibit and not gen_strict:
            return "vxlan"
        if (on_gn and int(gn.version) == 0 and not (vx_strict and not gen_strict)) or (
            (on_vx or on_gp) and gen_strict
        ):
            return "geneve"
        if (on_gn or on_gp) and vx_strict:
            return "vxlan"
        return None

    def guess(self, wire: int) -> bool:
        """The guarded VXLAN guess for UDP on no tunnel port (see ``DecodeOptions``)."""
        b = self.buf[self.pos : self.pos + _GUESS_MIN]
        vx = VXLAN(self.buf[self.pos : self.end], stop_dissection_after=VXLAN)
        if int(vx.flags) != 0x08 or b[1:4] != b"\0\0\0" or b[7] != 0:
            return False
        inner = _dissect(Ether, b[8:])
        if not isinstance(inner, Ether) or isinstance(inner, Dot3) or int(inner.src[1], 16) & 1:
            return False
        left = wire - 22
        et = int(inner.type)
        p = b[22:]
        if et == _ET.IPV4:
            ihl = (p[0] & 0x0F) * 4
            tl = int.from_bytes(p[2:4], "big")
            return p[0] >> 4 == 4 and ihl >= 20 and ihl <= tl <= left
        if et == _ET.IPV6:
            return p[0] >> 4 == 6 and 40 + int.from_bytes(p[4:6], "big") <= left
        if et == _ET.ARP:
            return (
                p[0:2] == b"\0\x01"
                and p[2:4] == b"\x08\x00"
                and p[4] == 6
                and p[5] == 4
                and 1 <= int.from_bytes(p[6:8], "big") <= 4
                and left >= 28
            )
        return False

    def enter(self, name: str, code_layer: str) -> bool:
        """Account for a tunnel header; True when it is the outermost one."""
        if self.depth >= self.opts.max_tunnel_depth:
            self.fail(code_layer, f"tunnels nested deeper than {self.opts.max_tunnel_depth}")
        v = self.v
        first = self.depth == 0
        if first:
            for src, dst in _OUTER_MOVES:
                if src in v:
                    v[dst] = v[src]
            v["outer_udp_len"] = self.udp_len
            v["outer_udp_checksum"] = self.udp_csum
        for c in _CLEARED_BY_TUNNEL:
            v.pop(c, None)
        self.ext = []
        self.jumbo = False
        self.depth += 1
        v["tunnel_depth"] = self.depth
        v["tunnel"] = name
        return first

    def vxlan(self, hdr: Packet, gpe: bool) -> None:
        layer = "vxlan-gpe" if gpe else "vxlan"
        self.need(8, layer, f"{layer} header")
        first = self.enter(layer, layer)
        v = self.v
        h = self.buf[self.pos : self.pos + 8]
        # scapy lays the header out by its flags (P and G bits add fields); when that layout
        # is not the 8 bytes the RFCs define, read the VNI / group id where the RFCs put them
        fits = _hdr_len(hdr) == 8
        vni = int(hdr.vni) if fits else int.from_bytes(h[4:7], "big")
        v["vxlan_flags"] = int(hdr.flags)
        v["vni"] = vni
        if first:
            v["outer_vni"] = vni
        self.pos += 8
        if gpe:
            nproto = self.buf[self.pos - 5]
            if GpeNextProtocol.IPV4 <= nproto <= GpeNextProtocol.NSH:
                v["tunnel_proto"] = int(GpeNextProtocol(nproto).ethertype)
            if nproto == GpeNextProtocol.IPV4:
                self.l3(_ET.IPV4)
            elif nproto == GpeNextProtocol.IPV6:
                self.l3(_ET.IPV6)
            elif nproto == GpeNextProtocol.ETHERNET:
                self.inner_ether()
            return
        v["tunnel_proto"] = int(_ET.TEB)
        if int(hdr.flags) & 0x80:
            v["vxlan_gbp"] = int(hdr.gpid) if fits else int.from_bytes(h[2:4], "big")
        self.inner_ether()

    def geneve(self, g: Packet) -> None:
        self.need(8, "geneve", "Geneve header")
        first = self.enter("geneve", "geneve")
        if int(g.version) != 0:
            self.fail("geneve", f"Geneve header: expected version 0, found {g.version}")
        optlen = int(g.optionlen) * 4
        self.need(8 + optlen, "geneve", "Geneve header with options")
        items = []
        cur, stop = self.pos + 8, self.pos + 8 + optlen
        opts = list(g.options) if isinstance(g, GENEVE) else []
        k = 0
        while cur < stop:
            if k < len(opts):
                o = opts[k]
                cls, typ, ln = int(o.classid), int(o.type), int(o.length) * 4 + 4
            else:  # scapy stopped listing options (malformed data): read the header bytes
                b = self.buf[cur : cur + 4]
                cls, typ, ln = int.from_bytes(b[:2], "big"), b[2], (b[3] & 0x1F) * 4 + 4
            if cur + ln > stop:
                self.fail(
                    "geneve", f"Geneve option at {cur} declares {ln} bytes, {stop - cur} left"
                )
            items.append(f"0x{cls:04x}/0x{typ:02x}{'C' if typ & 0x80 else ''}/{ln}")
            cur += ln
            k += 1
        v = self.v
        vni = int(g.vni)
        proto = int(g.proto)
        v["vni"] = vni
        if first:
            v["outer_vni"] = vni
        v["tunnel_proto"] = proto
        v["geneve_critical"] = bool(int(g.critical))
        v["geneve_options"] = ";".join(items)
        self.pos += 8 + optlen
        if proto == _ET.TEB:
            self.inner_ether()
        elif proto in _L3:
            self.l3(proto)
        elif proto == _ET.ARP:
            self.arp(None)


def decode_batch_scapy(batch: RecordBatch, options: DecodeOptions = _DEFAULT) -> DecodedBatch:
    """Decode every record of ``batch`` with scapy into the packets table's protocol columns.

    Gives one row per record and never raises for bad bytes (see the module docstring for
    what sets ``decode_layer``); raises :class:`EngineError` only when scapy cannot be imported.
    """
    if _SCAPY_ERROR is not None:
        raise EngineError(
            f"the scapy engine needs scapy (pip install scapy); importing it failed: {_SCAPY_ERROR}"
        )
    rows = []
    data = batch.data
    for i in range(len(batch)):
        start = int(batch.offsets[i])
        buf = data[start : start + int(batch.cap_len[i])].tobytes()
        fr = _Frame(buf, int(batch.wire_len[i]), options)
        try:
            rows.append(fr.run(int(batch.linktype[i])))
        except Exception as exc:  # a scapy bug on odd bytes must not lose the frame
            v = fr.v
            v["decode_layer"] = v.get("decode_layer") or "scapy"
            v["decode_error"] = f"scapy raised {type(exc).__name__}: {exc}"[:200]
            rows.append(v)
    return rows_to_batch(rows)
