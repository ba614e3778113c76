"""The scapy engine's shared parts: scapy's classes, the constants, and the frame being
mapped with its bounds checks (:class:`FrameBase`); see :mod:`.scapy_engine`."""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import UDP
from scapy.packet import Packet, Padding, Raw

from ..decode.options import DecodeOptions
from ..proto import (
    ND_OPTIONS_AT,
    EtherType,
    ICMPType,
    ICMPv6Type,
    IPProto,
)

__all__ = ["FrameBase", "Stop", "dissect", "hdr_len"]

_DEFAULT = DecodeOptions()

_CLEARED_BY_TUNNEL = (
    "src_mac dst_mac vlan vlan2 ethertype ip_version src_ip dst_ip ttl ip_proto ip_len ip_id "
    "frag_offset more_fragments dont_fragment sport dport payload_len "
    "vni vxlan_flags vxlan_gbp tunnel_proto geneve_critical geneve_options ovn_inport ovn_outport "
    "ip6_ext "
    "gre_key gre_proto nsh_spi nsh_si mpls_label mpls_depth pppoe_code pppoe_session ppp_proto"
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
_EXT_STOP: dict[int, str] = {IPProto.ESP: "esp", IPProto.IPV6_NONXT: "no-next"}
_GENEVE_PROTOS = (_ET.TEB, _ET.IPV4, _ET.IPV6, _ET.ARP)
_VLAN_TPIDS = EtherType.vlan_tpids()
_L3 = (_ET.IPV4, _ET.IPV6)
_ARPS = (_ET.ARP, _ET.RARP)
_GUESS_MIN = 8 + 14 + 16


class Stop(Exception):
    """Decoding of the frame ends here (with or without an error)."""


def hdr_len(layer: Packet) -> int:
    """Bytes of ``layer``'s own header as scapy dissected it."""
    cache = getattr(layer, "raw_packet_cache", None)
    if cache is not None:
        return len(cache)
    return len(layer) - len(layer.payload)


def dissect(cls: type, data: bytes) -> Packet:
    return cls(data, stop_dissection_after=UDP)


class FrameBase:
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
        raise Stop

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

    # ------------------------------------------------------------------ layers the subclasses map
    def inner_ether(self) -> None:
        """Map the Ethernet frame inside a tunnel at ``pos``."""
        raise NotImplementedError

    def l3(self, etype: int, payload: Packet | None = None) -> None:
        """Map the network layer named by ``etype`` at ``pos``."""
        raise NotImplementedError

    def arp(self, payload: Packet | None) -> None:
        """Map an ARP packet at ``pos``."""
        raise NotImplementedError
