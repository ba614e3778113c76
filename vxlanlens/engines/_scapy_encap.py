"""The scapy engine's mirror transports and other encapsulations: GRE (tunnel or mirror),
ERSPAN I/II/III, VXLAN mirrors, MPLS, PPPoE, NSH, IPsec AH and IP-in-IP, mapped from scapy's
own layers with the fast decoder's rules (see :mod:`vxlanlens.decode.encap`)."""

from __future__ import annotations

from typing import Any

from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.contrib.mpls import MPLS
from scapy.contrib.nsh import NSH
from scapy.layers.ipsec import AH
from scapy.layers.l2 import GRE
from scapy.layers.ppp import PPPoE

from ..proto import EtherType, IPProto, MirrorKind
from ..schema import OUTER_COLUMNS as _OUTER_MOVES
from ._scapy_base import _CLEARED_BY_TUNNEL, _ET
from ._scapy_tunnel import TunnelFrame

__all__ = ["EncapFrame"]

_PLATFORM_PORT_MASK = {3: 0x3FFF, 5: 0xFFFF, 6: 0xFFFF}
_MPLS = (EtherType.MPLS, EtherType.MPLS_MC)
_PPPOE = (EtherType.PPPOE_DISC, EtherType.PPPOE_SESS)
_IP_IN_IP = (IPProto.IPIP, IPProto.IPV6_ENCAP)
_OVERLAY = {"vni", "vxlan_flags", "vxlan_gbp", "tunnel_proto", "geneve_critical", "geneve_options"}
_OVERLAY |= {"ovn_inport", "ovn_outport", "nsh_spi", "nsh_si"}
_CLEARED_BY_IP_TUNNEL = [c for c in _CLEARED_BY_TUNNEL if c not in _OVERLAY]


def _layer(cls: type, data: bytes) -> Any:
    return cls(data)


class EncapFrame(TunnelFrame):
    """:class:`TunnelFrame` with mirror transports and the other encapsulations."""

    mirror: str | None = None

    # ------------------------------------------------------------------ dispatch helpers
    def other_ethertype(self, etype: int) -> bool:
        """Map MPLS, PPPoE or NSH named by an Ethertype; False for other types."""
        if etype in _MPLS:
            self.mpls()
        elif etype in _PPPOE:
            self.pppoe(etype)
        elif etype == EtherType.NSH:
            self.nsh()
        else:
            return False
        return True

    def other_ip_proto(self, proto: int, family: int) -> bool:
        """Map GRE, IP-in-IP or (after IPv4) AH; False for other protocols."""
        if proto == IPProto.GRE:
            self.gre()
        elif proto in _IP_IN_IP:
            self.ip_in_ip()
        elif proto == IPProto.AH and family == 4:
            self.ah4()
        else:
            return False
        return True

    def enter_ip(self, name: str) -> None:
        """Enter a GRE or IP-in-IP tunnel: like an overlay (depth, ``outer_*`` of the outermost)
        but without ``outer_udp_*`` and keeping the overlay's columns; ``ip_tunnel`` names it."""
        if self.depth >= self.opts.max_tunnel_depth:
            self.fail(name, f"tunnels nested deeper than {self.opts.max_tunnel_depth}")
        v = self.v
        if self.depth == 0:
            for src, dst in _OUTER_MOVES:
                if src in v:
                    v[dst] = v[src]
        for c in _CLEARED_BY_IP_TUNNEL:
            v.pop(c, None)
        self.ext = []
        self.jumbo = False
        self.depth += 1
        v["tunnel_depth"] = self.depth
        v["ip_tunnel"] = name

    # ------------------------------------------------------------------ mirrors
    def peel(self, kind: MirrorKind, inner: int, raw_ip: bool = False, **fields: Any) -> None:
        """Forget what the mirror transport said but its addresses, keep ``fields``, and map the
        mirrored Ethernet frame (an IP packet when ``raw_ip``) at ``inner``."""
        old = self.v
        self.v = {"tunnel_depth": 0, "mirror": kind.text}
        for src, dst in (("src_ip", "mirror_src_ip"), ("dst_ip", "mirror_dst_ip")):
            if src in old:
                self.v[dst] = old[src]
        self.v.update({k: x for k, x in fields.items() if x is not None})
        self.mirror = kind.text
        self.ext = []
        self.jumbo = False
        self.pos = inner
        if raw_ip:
            version = self.buf[self.pos] >> 4 if self.pos < self.cap else 0
            if version not in (4, 6):
                self.need(1, "raw-ip", "raw IP header")
                self.fail("raw-ip", f"raw IP: expected IP version 4 or 6, found {version}")
            self.l3(_ET.IPV4 if version == 4 else _ET.IPV6)
            return
        self.inner_ether()

    def vxlan_mirror_session(self, vni: int) -> bool:
        """Whether this VXLAN header (outermost) belongs to a mirror session of the options."""
        if self.depth or self.mirror:
            return False
        dport = self.v.get("dport")
        return any(dport == p and (v < 0 or v == vni) for p, v in self.opts.mirror_vxlan)

    # ------------------------------------------------------------------ GRE and ERSPAN
    def gre(self) -> None:
        self.need(4, "gre", "GRE header")
        g = _layer(GRE, self.buf[self.pos : self.end])
        flags = int.from_bytes(self.buf[self.pos : self.pos + 2], "big")
        ver = int(g.version)
        if ver != 0 or int(g.routing_present):
            self.fail("gre", f"GRE version {ver} with flags 0x{flags:04x} is not decoded")
        has_c, has_k, has_s = int(g.chksum_present), int(g.key_present), int(g.seqnum_present)
        hlen = 4 + 4 * (has_c + has_k + has_s)
        self.need(hlen, "gre", "GRE header with its optional fields")
        proto = int(g.proto)
        key = int(g.key) if has_k else None
        outermost = self.depth == 0 and not self.mirror
        inner = self.pos + hlen
        erspan = proto in (EtherType.ERSPAN_2, EtherType.ERSPAN_3)
        if erspan and not outermost:
            self.fail("erspan", "ERSPAN inside a tunnel or another mirror is not decoded")
        if proto == EtherType.ERSPAN_2 and not has_s:
            self.peel(MirrorKind.ERSPAN_1, inner, mirror_session=key)
            return
        if proto == EtherType.ERSPAN_2:
            self.erspan2(inner)
            return
        if proto == EtherType.ERSPAN_3:
            self.erspan3(inner)
            return
        if proto == EtherType.TEB and outermost:
            self.peel(MirrorKind.GRE, inner, mirror_session=key)
            return
        self.enter_ip("gre")
        self.v["gre_proto"] = proto
        if key is not None:
            self.v["gre_key"] = key
        self.pos = inner
        if proto in (_ET.IPV4, _ET.IPV6):
            self.l3(proto)
        elif proto == EtherType.TEB:
            self.inner_ether()
        elif proto in _MPLS:
            self.mpls()
        elif proto == EtherType.NSH:
            self.nsh()

    def erspan2(self, at: int) -> None:
        self.need(8, "erspan", "ERSPAN type II header", at=at)
        h = _layer(ERSPAN_II, self.buf[at : self.end])
        if int(h.ver) != 1:
            self.fail("erspan", f"ERSPAN type II header: expected version 1, found {h.ver}")
        vlan = int(h.vlan)
        self.peel(
            MirrorKind.ERSPAN_2,
            at + 8,
            mirror_session=int(h.session_id),
            mirror_port=int(h.index),
            mirror_vlan=vlan or None,
        )

    def erspan3(self, at: int) -> None:
        self.need(12, "erspan", "ERSPAN type III header", at=at)
        h = _layer(ERSPAN_III, self.buf[at : self.end])
        if int(h.ver) != 2:
            self.fail("erspan", f"ERSPAN type III header: expected version 2, found {h.ver}")
        sub = int(h.o)
        port = None
        if sub:
            self.need(20, "erspan", "ERSPAN type III platform subheader", at=at)
            p = _layer(ERSPAN_PlatformSpecific, self.buf[at + 12 : at + 20])
            mask = _PLATFORM_PORT_MASK.get(int(p.platf_id))
            if mask is not None:
                port = int(p.info1) & mask
        vlan = int(h.vlan)
        self.peel(
            MirrorKind.ERSPAN_3,
            at + 12 + 8 * sub,
            mirror_session=int(h.session_id),
            mirror_vlan=vlan or None,
            mirror_timestamp=int(h.timestamp),
            mirror_hw_id=int(h.hw),
            mirror_direction="egress" if int(h.d) else "ingress",
            mirror_port=port,
            raw_ip=int(h.ft) != 0,
        )

    # ------------------------------------------------------------------ other encapsulations
    def mpls(self) -> None:
        for i in range(16):
            self.need(4, "mpls", "MPLS label")
            m = _layer(MPLS, self.buf[self.pos : self.pos + 4])
            if i == 0:
                self.v["mpls_label"] = int(m.label)
            self.v["mpls_depth"] = i + 1
            self.pos += 4
            if int(m.s):
                break
        else:
            self.fail("mpls", "more than 16 MPLS labels")
        self.need(1, "mpls", "MPLS payload")
        nib = self.buf[self.pos] >> 4
        if nib == 4:
            self.l3(_ET.IPV4)
        elif nib == 6:
            self.l3(_ET.IPV6)
        else:
            self.fail("mpls", f"MPLS payload is not IPv4 or IPv6 (first nibble {nib})")

    def pppoe(self, etype: int) -> None:
        self.need(6, "pppoe", "PPPoE header")
        h = _layer(PPPoE, self.buf[self.pos : self.pos + 6])
        if (int(h.version), int(h.type)) != (1, 1):
            self.fail("pppoe", "PPPoE header: expected version 1 type 1")
        self.v["pppoe_code"] = int(h.code)
        self.v["pppoe_session"] = int(h.sessionid)
        if etype != EtherType.PPPOE_SESS:
            return
        self.need(8, "pppoe", "PPPoE session header with the PPP protocol")
        proto = int.from_bytes(self.buf[self.pos + 6 : self.pos + 8], "big")
        self.v["ppp_proto"] = proto
        self.pos += 8
        if proto == 0x0021:
            self.l3(_ET.IPV4)
        elif proto == 0x0057:
            self.l3(_ET.IPV6)

    def nsh(self) -> None:
        self.need(8, "nsh", "NSH base and service path header")
        h = _layer(NSH, self.buf[self.pos : self.end])
        length = int(h.length) * 4
        if int(h.ver) != 0 or length < 8:
            self.fail("nsh", f"NSH header: version {h.ver} and length {length} are not valid")
        self.v["nsh_spi"] = int(h.spi)
        self.v["nsh_si"] = int(h.si)
        self.need(length, "nsh", "NSH header with its context headers")
        self.pos += length
        nproto = int(h.nextproto)
        if nproto == 1:
            self.l3(_ET.IPV4)
        elif nproto == 2:
            self.l3(_ET.IPV6)
        elif nproto == 3:
            self.inner_ether()
        elif nproto == 4:
            self.nsh()
        elif nproto == 5:
            self.mpls()

    def ah4(self) -> None:
        self.need(12, "ah", "IPsec AH header")
        h = _layer(AH, self.buf[self.pos : self.end])
        size = (int(h.payloadlen) + 2) * 4
        self.need(size, "ah", "IPsec AH header with its ICV")
        nh = int(h.nh)
        self.v["ip_proto"] = nh
        self.pos += size
        if nh != IPProto.AH:
            self.l4(nh, 4, None)

    def ip_in_ip(self) -> None:
        self.enter_ip("ip-in-ip")
        self.need(1, "ip-in-ip", "inner IP header")
        nib = self.buf[self.pos] >> 4
        if nib not in (4, 6):
            self.fail("ip-in-ip", f"inner IP header: expected version 4 or 6, found {nib}")
        self.l3(_ET.IPV4 if nib == 4 else _ET.IPV6)

    def l4(self, proto: int, family: int, layer: Any) -> None:
        """Map the transport layer (see :class:`Frame`)."""
        raise NotImplementedError
