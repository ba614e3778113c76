"""The scapy engine's tunnels: which UDP payload is VXLAN, VXLAN-GPE or Geneve (ports, then
the header, with the fast decoder's rules and guarded guess), and their headers mapped."""

from __future__ import annotations

from typing import Any

from scapy.contrib.geneve import GENEVE
from scapy.layers.l2 import (
    Dot3,
    Ether,
)
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet

from ..decode.tunnel import OVN_GENEVE_CLASS, OVN_GENEVE_LEN, OVN_GENEVE_TYPE, ovn_ports
from ..proto import (
    GpeNextProtocol,
    MirrorKind,
)
from ..schema import OUTER_COLUMNS as _OUTER_MOVES
from ._scapy_base import (
    _CLEARED_BY_TUNNEL,
    _ET,
    _GENEVE_PROTOS,
    _GUESS_MIN,
    _L3,
    FrameBase,
    dissect,
    hdr_len,
)

__all__ = ["TunnelFrame"]

_OVN_OPTION = (OVN_GENEVE_CLASS, OVN_GENEVE_TYPE, OVN_GENEVE_LEN + 4)
"""OVN's logical-port option: class, type byte, total length with its 4-byte header."""


class TunnelFrame(FrameBase):
    """:class:`FrameBase` with the tunnel layers."""

    # ------------------------------------------------------------------ tunnels
    def vxlan_mirror_session(self, vni: int) -> bool:
        """Whether an outermost VXLAN header belongs to a mirror session (see the subclass)."""
        return False

    def peel(self, kind: MirrorKind, inner: int, raw_ip: bool = False, **fields: Any) -> None:
        """Peel a mirror transport (see the subclass)."""
        raise NotImplementedError

    def nsh(self) -> None:
        """Map an NSH header (see the subclass)."""
        raise NotImplementedError

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
            self.geneve(dissect(GENEVE, payload))
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
        inner = dissect(Ether, b[8:])
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
        h = self.buf[self.pos : self.pos + 8]
        # scapy lays the header out by its flags (P and G bits add fields); when that layout
        # is not the 8 bytes the RFCs define, read the VNI / group id where the RFCs put them
        fits = hdr_len(hdr) == 8
        vni = int(hdr.vni) if fits else int.from_bytes(h[4:7], "big")
        if not gpe and self.vxlan_mirror_session(vni):
            self.peel(MirrorKind.VXLAN, self.pos + 8, mirror_session=vni)
            return
        first = self.enter(layer, layer)
        v = self.v
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
            elif nproto == GpeNextProtocol.NSH:
                self.nsh()
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
        ovn: int | None = None
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
            if ovn is None and (cls, typ, ln) == _OVN_OPTION:
                ovn = int.from_bytes(self.buf[cur + 4 : cur + 8], "big")
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
        if ovn is not None:
            v["ovn_inport"], v["ovn_outport"] = ovn_ports(ovn)
        self.pos += 8 + optlen
        if proto == _ET.TEB:
            self.inner_ether()
        elif proto in _L3:
            self.l3(proto)
        elif proto == _ET.ARP:
            self.arp(None)
