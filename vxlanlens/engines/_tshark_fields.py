"""The tshark engine's field table: which ``-T fields`` fields are read, which protocol
instance each occurrence belongs to (:data:`FIELDS`, :data:`CONDITIONAL`), and one output line
with its occurrences attributed (:class:`TsharkFrame`); see :mod:`.tshark_engine`."""

from __future__ import annotations

from collections.abc import Callable

from ..proto import ICMPType, ICMPv6Type

__all__ = ["CONDITIONAL", "FIELDS", "ICMP6_ERRORS", "ICMP_ERRORS", "TsharkFrame"]

# tshark field -> the protocol (as named in frame.protocols) whose instances it occurs in ("": not
# attributed to instances; read from ``TsharkFrame.row``). The one owner of this mapping:
# tests/test_conformance_tshark.py reads it too.
FIELDS: dict[str, str] = {
    "frame.number": "",
    "frame.protocols": "",
    "eth.src": "eth",
    "eth.dst": "eth",
    "eth.type": "eth",
    "vlan.id": "vlan",
    "vlan.etype": "vlan",
    "ieee8021ad.id": "ieee8021ad",
    "sll.pkttype": "sll",
    "sll.src.eth": "sll",
    "sll.ifindex": "sll",
    "sll.etype": "sll",
    "llc.type": "llc",
    "ip.hdr_len": "ip",
    "ip.len": "ip",
    "ip.id": "ip",
    "ip.flags.df": "ip",
    "ip.flags.mf": "ip",
    "ip.frag_offset": "ip",
    "ip.ttl": "ip",
    "ip.proto": "ip",
    "ip.src": "ip",
    "ip.dst": "ip",
    "ipv6.plen": "ipv6",
    "ipv6.nxt": "ipv6",
    "ipv6.hlim": "ipv6",
    "ipv6.src": "ipv6",
    "ipv6.dst": "ipv6",
    "ipv6.hopopts.nxt": "ipv6.hopopts",
    "ipv6.hopopts.len_oct": "ipv6.hopopts",
    "ipv6.routing.nxt": "ipv6.routing",
    "ipv6.routing.len_oct": "ipv6.routing",
    "ipv6.dstopts.nxt": "ipv6.dstopts",
    "ipv6.dstopts.len_oct": "ipv6.dstopts",
    "ipv6.fraghdr.nxt": "ipv6.fraghdr",
    "ipv6.fraghdr.offset": "ipv6.fraghdr",
    "ipv6.fraghdr.more": "ipv6.fraghdr",
    "ipv6.fraghdr.ident": "ipv6.fraghdr",
    "udp.srcport": "udp",
    "udp.dstport": "udp",
    "udp.length": "udp",
    "udp.checksum": "udp",
    "tcp.srcport": "tcp",
    "tcp.dstport": "tcp",
    "tcp.seq_raw": "tcp",
    "tcp.ack_raw": "tcp",
    "tcp.flags": "tcp",
    "tcp.len": "tcp",
    "vxlan.flags": "vxlan",
    "vxlan.gbp": "vxlan",
    "vxlan.vni": "vxlan",
    "geneve.vni": "geneve",
    "geneve.proto_type": "geneve",
    "geneve.flags.critical": "geneve",
    "geneve.option.class": "",
    "geneve.option.type": "",
    "geneve.option.length": "",
    "geneve.option": "",
    "icmp.type": "icmp",
    "icmp.code": "icmp",
    "icmp.ident": "icmp",
    "icmp.seq": "icmp",
    "icmp.mtu": "icmp",
    "icmpv6.type": "icmpv6",
    "icmpv6.code": "icmpv6",
    "icmpv6.echo.identifier": "icmpv6",
    "icmpv6.echo.sequence_number": "icmpv6",
    "icmpv6.mtu": "icmpv6",
    "icmpv6.nd.ns.target_address": "icmpv6",
    "icmpv6.nd.na.target_address": "icmpv6",
    "icmpv6.nd.rd.target_address": "icmpv6",
    "icmpv6.nd.na.flag.r": "icmpv6",
    "icmpv6.nd.na.flag.s": "icmpv6",
    "icmpv6.nd.na.flag.o": "icmpv6",
    "icmpv6.nd.ra.flag.m": "icmpv6",
    "icmpv6.nd.ra.flag.o": "icmpv6",
    "icmpv6.opt.mtu": "",
    "icmpv6.opt.linkaddr": "",
    "arp.opcode": "arp",
    "arp.src.hw_mac": "arp",
    "arp.src.proto_ipv4": "arp",
    "arp.dst.hw_mac": "arp",
    "arp.dst.proto_ipv4": "arp",
    "gre.proto": "gre",
    "gre.key": "gre",
    "erspan.version": "erspan",
    "erspan.vlan": "erspan",
    "erspan.spanid": "erspan",
    "erspan.index": "erspan",
    "erspan.timestamp": "erspan",
    "erspan.hw": "erspan",
    "erspan.direction": "erspan",
    "erspan.ft": "erspan",
    "erspan.pid3.port_index": "",
    "erspan.pid5.port_index": "",
    "mpls.label": "",
    "pppoe.code": "",
    "pppoe.session_id": "",
    "ppp.protocol": "ppp",
    "nsh.spi": "nsh",
    "nsh.si": "nsh",
    "ah.next_header": "ah",
}
_FIELD_NAMES = tuple(FIELDS)

_T6 = ICMPv6Type
_ECHO4 = frozenset(ICMPType.with_id_seq())  # tshark 4.0 shows icmp.ident/seq for these types
_ECHO6 = frozenset({_T6.ECHO_REQUEST, _T6.ECHO_REPLY})


def _is(value: int) -> Callable[[int], bool]:
    return lambda t: t == value


# field -> (type field, predicate on the instance's type): the instances that carry the field
CONDITIONAL: dict[str, tuple[str, Callable[[int], bool]]] = {
    "icmp.ident": ("icmp.type", lambda t: t in _ECHO4),
    "icmp.seq": ("icmp.type", lambda t: t in _ECHO4),
    "icmp.mtu": ("icmp.type", _is(ICMPType.DEST_UNREACH)),
    "icmpv6.echo.identifier": ("icmpv6.type", lambda t: t in _ECHO6),
    "icmpv6.echo.sequence_number": ("icmpv6.type", lambda t: t in _ECHO6),
    "icmpv6.mtu": ("icmpv6.type", _is(_T6.PACKET_TOO_BIG)),
    "icmpv6.nd.ns.target_address": ("icmpv6.type", _is(_T6.NEIGHBOR_SOLICITATION)),
    "icmpv6.nd.na.target_address": ("icmpv6.type", _is(_T6.NEIGHBOR_ADVERTISEMENT)),
    "icmpv6.nd.rd.target_address": ("icmpv6.type", _is(_T6.REDIRECT)),
    "icmpv6.nd.na.flag.r": ("icmpv6.type", _is(_T6.NEIGHBOR_ADVERTISEMENT)),
    "icmpv6.nd.na.flag.s": ("icmpv6.type", _is(_T6.NEIGHBOR_ADVERTISEMENT)),
    "icmpv6.nd.na.flag.o": ("icmpv6.type", _is(_T6.NEIGHBOR_ADVERTISEMENT)),
    "icmpv6.nd.ra.flag.m": ("icmpv6.type", _is(_T6.ROUTER_ADVERTISEMENT)),
    "icmpv6.nd.ra.flag.o": ("icmpv6.type", _is(_T6.ROUTER_ADVERTISEMENT)),
    "vxlan.gbp": ("vxlan.flags", lambda f: bool(f & 0x8000)),
}
"""Fields tshark gives only for some instances of their protocol: the predicate on the
instance's type says which (occurrences are then matched to those instances in order)."""
ICMP_ERRORS: frozenset[int] = frozenset(ICMPType.errors())
"""ICMP types whose body quotes the offending packet (the ``emb_*`` columns)."""
ICMP6_ERRORS: frozenset[int] = frozenset(ICMPv6Type.errors())
"""ICMPv6 types whose body quotes the offending packet."""
_EXT = {
    "ipv6.hopopts": "hop-by-hop",
    "ipv6.routing": "routing",
    "ipv6.fraghdr": "fragment",
    "ipv6.dstopts": "dest-opts",
}
_TUNNELS = ("vxlan", "geneve", "vxlan_gpe", "gre")
_TAGS = ("vlan", "ieee8021ad")


def _int(text: str) -> int:
    return int(text, 0)


def _flag(text: str) -> bool:
    return text in ("1", "True", "true")


class TsharkFrame:
    """One tshark line (``run_fields`` row) with its occurrences attributed to protocol
    instances: ``values[field][i]`` is the field's text in the ``i``-th entry of ``protos``.

    Occurrences are matched to the instances of the field's protocol (those that carry it, for
    :data:`CONDITIONAL` fields) in order. Fewer occurrences than instances: a cut frame whose
    last layers lack the field. With ``strict``, a conditional field with fewer occurrences, or
    any field with more occurrences than instances, is not attributed and is noted in
    ``unmapped`` instead (the engine drops those silently).
    """

    def __init__(
        self, row: dict[str, list[str]], fields: dict[str, str] = FIELDS, *, strict: bool = False
    ) -> None:
        self.row = row
        self.strict = strict
        protos = row["frame.protocols"]
        self.protos: list[str] = protos[0].split(":") if protos else []
        self.unmapped: list[str] = []
        self.values: dict[str, dict[int, str]] = {}
        for field, proto in fields.items():
            if proto:
                self.values[field] = self._attribute(field, proto)

    def _attribute(self, field: str, proto: str) -> dict[int, str]:
        occ = self.row[field]
        inst = [i for i, p in enumerate(self.protos) if p == proto]
        if field in CONDITIONAL:
            type_field, pred = CONDITIONAL[field]
            types = self.values.get(type_field) or self._attribute(type_field, proto)
            inst = [i for i in inst if i in types and pred(_int(types[i]))]
        if not occ:
            return {}
        if len(occ) > len(inst) or (self.strict and len(occ) < len(inst) and field in CONDITIONAL):
            if self.strict:
                self.unmapped.append(f"{field}: {len(occ)} values for {len(inst)} {proto} layers")
            return {}
        # fewer values than layers: a cut frame, whose last layers lack the field
        return dict(zip(inst, occ, strict=False))

    def get(self, field: str, index: int | None) -> str | None:
        """The field's text at protocol instance ``index`` (``None``: absent, or no index)."""
        if index is None:
            return None
        return self.values[field].get(index)

    def geti(self, field: str, index: int | None) -> int | None:
        """:meth:`get` as an integer (decimal or ``0x`` hex)."""
        text = self.get(field, index)
        return None if text is None else _int(text)

    def first(self, names: tuple[str, ...], lo: int, hi: int) -> int | None:
        """Index of the first protocol in ``names`` within ``protos[lo:hi]`` (``None``: none)."""
        for i in range(lo, hi):
            if self.protos[i] in names:
                return i
        return None

    def all(self, names: tuple[str, ...], lo: int, hi: int) -> list[int]:
        """Indexes of every protocol in ``names`` within ``protos[lo:hi]``."""
        return [i for i in range(lo, hi) if self.protos[i] in names]

    def nd_flags(self, icmp_type: int | None, ic: int) -> str | None:
        """The ``nd_flags`` text of the ICMPv6 header at ``ic``: ``RSO`` letters of an NA, ``MO``
        of an RA (``None``: another type, or a flag tshark did not give)."""
        if icmp_type == ICMPv6Type.NEIGHBOR_ADVERTISEMENT:
            prefix, letters = "icmpv6.nd.na.flag.", "RSO"
        elif icmp_type == ICMPv6Type.ROUTER_ADVERTISEMENT:
            prefix, letters = "icmpv6.nd.ra.flag.", "MO"
        else:
            return None
        flags = [self.get(prefix + x.lower(), ic) for x in letters]
        if None in flags:
            return None
        return "".join(L for L, f in zip(letters, flags, strict=True) if f and _flag(f))

    def quoted_start(self, ip: int) -> tuple[int, int | None]:
        """Where the pod frame that starts with the IP header at ``ip`` ends, and where the
        packet quoted by an ICMP error starts (``None``: no quoted packet).

        A second IP header ends the pod frame; it is the quoted packet when an ICMP/ICMPv6
        error header stands between the two.
        """
        p, n = self.protos, len(self.protos)
        nxt = self.first(("ip", "ipv6"), ip + 1, n)
        if nxt is None:
            return n, None
        icmp = self.first(("icmp", "icmpv6"), ip + 1, nxt)
        if icmp is not None:
            t = self.geti(f"{p[icmp]}.type", icmp)
            if t in (ICMP_ERRORS if p[icmp] == "icmp" else ICMP6_ERRORS):
                return nxt, nxt
        return nxt, None
