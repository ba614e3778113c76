"""The packets table's schema: every column's name, kind, pandas dtype and one-line meaning.

This module is the single owner of column names. ``docs/columns.md`` is generated from it
(``python scripts/gen_docs.py``) and a test fails when the file is stale.

Column *kinds* tell the decoder what it must hand over and the table builder how to convert it:

``int``    integer field: a NumPy integer array plus a validity mask (null where not present)
``bool``   flag: a NumPy bool array plus a validity mask
``mac``    MAC address: a ``uint64`` array (the 48 bits, network order) plus a validity mask;
           shown as lowercase ``aa:bb:cc:dd:ee:ff``
``ip``     IP address: a ``(n, 16)`` ``uint8`` array (IPv4 in the first 4 bytes) plus a family
           array (``0`` null, ``4``, ``6``); shown in canonical text form (RFC 5952 for IPv6)
``text``   short text: an object array of ``str`` or ``None``
``record`` filled from the capture record, not by the protocol decoder

Unprefixed columns describe the *pod frame*: the innermost frame of a tunnelled packet, or the
frame itself when there is no tunnel, so the same packet seen inside a pod and inside VXLAN on
a node's eth0 has the same unprefixed values. ``outer_*`` columns describe the outermost
(underlay) headers and are null for frames without a tunnel (an overlay, or a GRE / IP-in-IP ``ip_tunnel``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .proto import PKT_TYPE_TEXT, TunnelKind

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "INT_NUMPY",
    "KINDS",
    "OUTER_COLUMNS",
    "Column",
    "column",
    "columns_markdown",
]

KINDS = ("record", "int", "bool", "mac", "ip", "text")

_TUNNEL_TEXTS = [k.text for k in TunnelKind if k.text]
_TUNNELS = ", ".join(_TUNNEL_TEXTS[:-1]) + " or " + _TUNNEL_TEXTS[-1]

INT_NUMPY: dict[str, type[np.integer]] = {
    "UInt8": np.uint8,
    "UInt16": np.uint16,
    "UInt32": np.uint32,
    "UInt64": np.uint64,
    "Int64": np.int64,
}
"""pandas nullable integer dtype -> the NumPy type that holds its values (decoders and table)."""


@dataclass(frozen=True)
class Column:
    """One column of the packets table."""

    name: str
    kind: str
    dtype: str
    doc: str
    group: str

    @property
    def numpy_dtype(self) -> type[np.integer]:
        """The NumPy type of an integer column's values (``KeyError`` for other dtypes)."""
        return INT_NUMPY[self.dtype]


def _c(group: str, name: str, kind: str, dtype: str, doc: str) -> Column:
    if kind not in KINDS:  # pragma: no cover - guarded by a test
        raise ValueError(f"unknown column kind {kind!r}")
    return Column(name=name, kind=kind, dtype=dtype, doc=doc, group=group)


_R, _M, _O, _T, _X, _L2, _L3, _L4, _IC, _ND, _AR, _ER, _RA, _DE = (
    "record",
    "mirror transport",
    "outer (underlay)",
    "tunnel",
    "other encapsulations",
    "pod frame: link layer",
    "pod frame: IP",
    "pod frame: transport",
    "pod frame: ICMP / ICMPv6",
    "pod frame: neighbour discovery",
    "pod frame: ARP",
    "pod frame: packet quoted in an ICMP error",
    "IP reassembly",
    "decoding",
)

# fmt: off
COLUMNS: tuple[Column, ...] = (
    # --- record -------------------------------------------------------------------------
    _c(_R, "capture", "record", "category", "Capture label: the file's stem, or LABEL from `LABEL=PATH`."),
    _c(_R, "frame_no", "record", "int64", "Frame number within its capture, 1-based as Wireshark counts."),
    _c(
        _R,
        "ts",
        "record",
        "datetime64[ns, UTC]",
        "Capture timestamp (UTC). In CSV and JSON output it is UTC text to the nanosecond, "
        "the same form in every row: `2026-12-06 08:43:17.055933123+00:00` (CSV), "
        "`2026-12-06T08:43:17.055933123Z` (JSON); so are the time columns of the other "
        "tables (`vxlanlens.stream.exact_times`).",
    ),
    _c(_R, "ts_ns", "record", "int64", "Capture timestamp in integer nanoseconds since the Unix epoch."),
    _c(_R, "linktype", "record", "UInt16", "LINKTYPE_ value of the record (1 Ethernet, 113 Linux SLL, 276 Linux SLL2, 101 raw IP, ...)."),
    _c(_R, "interface", "record", "category", "pcapng interface name (`if_name`, else `ifN` by IDB index); null for classic pcap."),
    _c(_R, "wire_len", "record", "UInt32", "Original length of the frame on the wire, in bytes."),
    _c(_R, "cap_len", "record", "UInt32", "Number of bytes captured (less than `wire_len` when the snap length cut the frame)."),
    _c(_R, "comment", "record", "category", "pcapng packet comment (`opt_comment`), if any."),
    _c(_L2, "ifindex", "int", "UInt32", "Interface index from a Linux SLL2 header (`tcpdump -i any`)."),
    _c(_L2, "pkt_type", "text", "category", f"Linux SLL/SLL2 packet type: {', '.join(PKT_TYPE_TEXT.values())} (or the number)."),
    # --- mirror transport (peeled before everything else) ------------------------------------
    _c(_M, "mirror", "text", "category", "Mirror transport the frame arrived through, peeled before the other columns: erspan-1, erspan-2, erspan-3 (ERSPAN over GRE), gre (GRE carrying Ethernet, 0x6558, as the outermost encapsulation) or vxlan (a cloud traffic-mirroring session, `--mirror-vxlan` or detected); null when not mirrored. The other columns describe the mirrored frame as if captured on the mirrored port."),
    _c(_M, "mirror_src_ip", "ip", "category", "Source IP of the mirror transport (the switch or sensor sending the copy)."),
    _c(_M, "mirror_dst_ip", "ip", "category", "Destination IP of the mirror transport (the collector)."),
    _c(_M, "mirror_session", "int", "UInt32", "Mirror session: ERSPAN II/III session id, GRE key when present (plain GRE and ERSPAN I), VXLAN VNI of a VXLAN mirror."),
    _c(_M, "mirror_direction", "text", "category", "`ingress` or `egress` when the transport says so (ERSPAN III D bit); null otherwise."),
    _c(_M, "mirror_port", "int", "UInt32", "Original port / interface index: ERSPAN II index (20 bits); ERSPAN III: the Port ID/Index of the platform-specific subheader (platform ids 3, 5, 6, 16 bits) when present."),
    _c(_M, "mirror_vlan", "int", "UInt16", "Original VLAN carried by the ERSPAN II/III header, when not zero."),
    _c(_M, "mirror_timestamp", "int", "UInt32", "ERSPAN III timestamp field (units given by its granularity bits)."),
    _c(_M, "mirror_hw_id", "int", "UInt8", "ERSPAN III hardware id (6 bits)."),
    # --- outer (underlay) headers -----------------------------------------------------------
    _c(_O, "outer_src_mac", "mac", "category", "Underlay Ethernet source MAC, or the Linux SLL/SLL2 source address (tunnelled frames only)."),
    _c(_O, "outer_dst_mac", "mac", "category", "Underlay Ethernet destination MAC (tunnelled frames only)."),
    _c(_O, "outer_vlan", "int", "UInt16", "Underlay 802.1Q VLAN id (outermost tag)."),
    _c(_O, "outer_ip_version", "int", "UInt8", "Underlay IP version, 4 or 6."),
    _c(_O, "outer_src_ip", "ip", "category", "Underlay source IP: normally the sending node's address."),
    _c(_O, "outer_dst_ip", "ip", "category", "Underlay destination IP: normally the receiving node's address."),
    _c(_O, "outer_ttl", "int", "UInt8", "Underlay IPv4 TTL or IPv6 hop limit."),
    _c(_O, "outer_frag_offset", "int", "UInt16", "Underlay IP fragment offset in bytes (IPv4, or an IPv6 fragment header); 0 or null when the tunnel packet is not a fragment."),
    _c(_O, "outer_more_fragments", "bool", "boolean", "Underlay more-fragments flag: the tunnel packet was fragmented on the underlay and more fragments follow."),
    _c(_O, "outer_dont_fragment", "bool", "boolean", "Underlay IPv4 don't-fragment (DF) flag: set, a tunnel packet too big for a link is dropped (ICMP fragmentation needed) instead of fragmented."),
    _c(_O, "outer_sport", "int", "UInt16", "Underlay UDP source port (an entropy hash of the inner flow for VXLAN/Geneve)."),
    _c(_O, "outer_dport", "int", "UInt16", "Underlay UDP destination port (8472/4789 VXLAN, 6081 Geneve, ...)."),
    _c(_O, "outer_udp_len", "int", "UInt16", "Underlay UDP length field."),
    _c(_O, "outer_udp_checksum", "int", "UInt16", "Underlay UDP checksum field (0 means none was computed)."),
    # --- tunnel ---------------------------------------------------------------------------
    _c(_T, "tunnel", "text", "category", f"Innermost tunnel protocol: {_TUNNELS}; null when not tunnelled."),
    _c(_T, "tunnel_depth", "int", "UInt8", "Number of nested tunnel headers, overlays and `ip_tunnel` ones (0 when not tunnelled)."),
    _c(_T, "vni", "int", "UInt32", "24-bit VNI of the innermost tunnel (in Cilium: the sender's security identity)."),
    _c(_T, "outer_vni", "int", "UInt32", "VNI of the outermost tunnel when tunnels are nested (else equal to `vni`)."),
    _c(_T, "vxlan_flags", "int", "UInt8", "VXLAN / VXLAN-GPE flags byte (0x08 = I bit; 0x0c is scapy's default)."),
    _c(_T, "vxlan_gbp", "int", "UInt16", "VXLAN group-policy id (when the G bit 0x80 is set)."),
    _c(_T, "tunnel_proto", "int", "UInt16", "What the innermost tunnel carries, as an Ethertype (0x6558 Ethernet, 0x0800 IPv4, 0x86dd IPv6, ...)."),
    _c(_T, "geneve_options", "text", "category", "Geneve options as `0xCCCC/0xTT/LEN` items joined by `;`: class (4 hex digits), type byte (2 hex digits, followed by `C` when the critical bit 0x80 is set), total option length in bytes including its 4-byte header; empty when the header has no options."),
    _c(_T, "geneve_critical", "bool", "boolean", "Geneve C flag: the header carries critical options."),
    _c(_T, "ovn_inport", "int", "UInt16", "OVN logical ingress port key (15 bits) from the innermost Geneve header's first OVN option (class 0x0102, type 0x80, 4 bytes of data; ovn-architecture(7), Tunnel Encapsulations): the `tunnel_key` of the port the packet entered the logical datapath named by `vni` through; null when the frame carries no OVN option."),
    _c(_T, "ovn_outport", "int", "UInt16", "OVN logical egress port key (16 bits) from the same option: the `tunnel_key` of the port it leaves that datapath through (32768 and above: a multicast group); null when the frame carries no OVN option."),
    _c(_T, "ip_tunnel", "text", "category", "Innermost tunnel that is not an overlay: gre (GRE carrying IP, MPLS, NSH, or Ethernet inside another tunnel or a mirror) or ip-in-ip (6in4, 4in4, 4in6, 6in6); null when none. It counts in `tunnel_depth` and moves the outermost headers to `outer_*` like an overlay; `tunnel`, `vni`, ... keep describing the overlay tunnel, if any (docs/encapsulations.md)."),
    _c(_T, "gre_key", "int", "UInt32", "GRE key of the innermost GRE tunnel (K bit set)."),
    _c(_T, "gre_proto", "int", "UInt16", "Protocol type of the innermost GRE tunnel (0x0800 IPv4, 0x86dd IPv6, 0x8847 MPLS, 0x6558 Ethernet, ...)."),
    _c(_T, "nsh_spi", "int", "UInt32", "NSH (RFC 8300) service path identifier, after VXLAN-GPE or Ethertype 0x894f."),
    _c(_T, "nsh_si", "int", "UInt8", "NSH service index."),
    # --- other encapsulations -------------------------------------------------------------
    _c(_X, "mpls_label", "int", "UInt32", "Top MPLS label (Ethertype 0x8847/0x8848, or MPLS in GRE); the IP packet below the bottom of the stack is decoded."),
    _c(_X, "mpls_depth", "int", "UInt8", "Number of MPLS labels in the stack."),
    _c(_X, "pppoe_code", "int", "UInt8", "PPPoE code: 0 session data, 0x09 PADI, 0x07 PADO, 0x19 PADR, 0x65 PADS, 0xa7 PADT."),
    _c(_X, "pppoe_session", "int", "UInt16", "PPPoE session id."),
    _c(_X, "ppp_proto", "int", "UInt16", "PPP protocol of a PPPoE session frame (0x0021 IPv4 and 0x0057 IPv6 are decoded; LCP, IPCP, ... are named only)."),
    # --- pod frame: link layer ------------------------------------------------------------
    _c(_L2, "src_mac", "mac", "category", "Source MAC of the pod frame (inner frame when tunnelled; SLL/SLL2 source address)."),
    _c(_L2, "dst_mac", "mac", "category", "Destination MAC of the pod frame (null for SLL/SLL2 and raw IP)."),
    _c(_L2, "vlan", "int", "UInt16", "802.1Q VLAN id of the pod frame (outer tag of QinQ)."),
    _c(_L2, "vlan2", "int", "UInt16", "Second (inner) VLAN id of a QinQ pod frame."),
    _c(_L2, "ethertype", "int", "UInt16", "Ethertype of the pod frame's payload after any VLAN tags; null when no link header carries one (raw IP, loopback, Geneve/GPE without inner Ethernet, plain LLC)."),
    # --- pod frame: IP --------------------------------------------------------------------
    _c(_L3, "ip_version", "int", "UInt8", "IP version of the pod frame, 4 or 6."),
    _c(_L3, "src_ip", "ip", "category", "Source IP of the pod frame."),
    _c(_L3, "dst_ip", "ip", "category", "Destination IP of the pod frame."),
    _c(_L3, "ttl", "int", "UInt8", "IPv4 TTL or IPv6 hop limit of the pod frame."),
    _c(_L3, "ip_proto", "int", "UInt8", "Transport protocol: IPv4 protocol, or the IPv6 next header after extension headers; after an IPsec AH header (IPv4 or IPv6), the protocol it protects."),
    _c(_L3, "ip_len", "int", "UInt32", "IPv4 total length, or 40 + the IPv6 payload length; when the length field is 0 (BIG TCP / GSO), the length actually captured on the wire."),
    _c(_L3, "ip_id", "int", "UInt32", "IPv4 identification, or the IPv6 fragment header's identification."),
    _c(_L3, "frag_offset", "int", "UInt16", "Fragment offset in bytes (IPv4 or IPv6 fragment header)."),
    _c(_L3, "more_fragments", "bool", "boolean", "More-fragments flag (IPv4 MF or IPv6 fragment header M)."),
    _c(_L3, "dont_fragment", "bool", "boolean", "IPv4 don't-fragment (DF) flag."),
    _c(_L3, "ip6_ext", "text", "category", "IPv6 extension headers in order, comma-separated (hop-by-hop, routing, fragment, dest-opts, ah, esp, no-next)."),
    # --- pod frame: transport -------------------------------------------------------------
    _c(_L4, "sport", "int", "UInt16", "UDP or TCP source port."),
    _c(_L4, "dport", "int", "UInt16", "UDP or TCP destination port."),
    _c(_L4, "tcp_flags", "int", "UInt16", "TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...)."),
    _c(_L4, "tcp_seq", "int", "UInt32", "TCP sequence number."),
    _c(_L4, "tcp_ack", "int", "UInt32", "TCP acknowledgement number."),
    _c(_L4, "payload_len", "int", "UInt32", "Bytes of transport payload on the wire: after the UDP or TCP header, or after the 8-byte ICMP/ICMPv6 header."),
    # --- pod frame: ICMP ------------------------------------------------------------------
    _c(_IC, "icmp_type", "int", "UInt8", "ICMP or ICMPv6 type."),
    _c(_IC, "icmp_code", "int", "UInt8", "ICMP or ICMPv6 code."),
    _c(_IC, "echo_id", "int", "UInt16", "Echo request/reply identifier (ICMP 8/0, ICMPv6 128/129)."),
    _c(_IC, "echo_seq", "int", "UInt16", "Echo request/reply sequence number."),
    _c(_IC, "mtu", "int", "UInt32", "MTU of an ICMPv6 Packet Too Big or an ICMP fragmentation-needed message, or of an RA MTU option."),
    # --- pod frame: neighbour discovery -----------------------------------------------------
    _c(_ND, "nd_target", "ip", "category", "Target address of an ICMPv6 Neighbor Solicitation/Advertisement (or Redirect)."),
    _c(_ND, "nd_flags", "text", "category", "Neighbor Advertisement flags as letters, a subset of `RSO` in that order (empty when none is set); RA: `M`/`O` letters."),
    _c(_ND, "nd_lladdr", "mac", "category", "Link-layer address option: source LLA of NS/RS/RA, target LLA of NA."),
    # --- pod frame: ARP -------------------------------------------------------------------
    _c(_AR, "arp_op", "int", "UInt16", "ARP opcode (1 request, 2 reply, 3/4 RARP)."),
    _c(_AR, "arp_sender_mac", "mac", "category", "ARP sender hardware address."),
    _c(_AR, "arp_sender_ip", "ip", "category", "ARP sender protocol address."),
    _c(_AR, "arp_target_mac", "mac", "category", "ARP target hardware address."),
    _c(_AR, "arp_target_ip", "ip", "category", "ARP target protocol address."),
    # --- packet quoted by an ICMP error -------------------------------------------------------
    _c(_ER, "emb_ip_version", "int", "UInt8", "IP version of the packet quoted in an ICMP/ICMPv6 error."),
    _c(_ER, "emb_src_ip", "ip", "category", "Source IP of the quoted packet."),
    _c(_ER, "emb_dst_ip", "ip", "category", "Destination IP of the quoted packet."),
    _c(_ER, "emb_ip_proto", "int", "UInt8", "Transport protocol of the quoted packet."),
    _c(_ER, "emb_ip_len", "int", "UInt32", "Length of the quoted packet as its IP header states it."),
    _c(_ER, "emb_sport", "int", "UInt16", "Source port of the quoted packet (UDP/TCP)."),
    _c(_ER, "emb_dport", "int", "UInt16", "Destination port of the quoted packet (UDP/TCP)."),
    _c(_ER, "emb_echo_id", "int", "UInt16", "Echo identifier of a quoted echo request."),
    _c(_ER, "emb_echo_seq", "int", "UInt16", "Echo sequence number of a quoted echo request."),
    # --- IP reassembly ---------------------------------------------------------------------
    _c(_RA, "reassembled_in", "int", "UInt32", "On every fragment of an IP packet that was reassembled (outer or pod frame, IPv4 or IPv6): the `frame_no` of the row that holds the reassembled packet (the fragment that completed it, as Wireshark's \"reassembled in\"). The other fragments' rows stop decoding at the fragmented IP header."),
    _c(_RA, "frag_count", "int", "UInt16", "On the row holding a reassembled packet: the number of fragments it was reassembled from; that row's columns above the fragmented IP header describe the whole packet, its IP header fields (`ip_len`, `frag_offset`, ... or the `outer_*` ones) its own fragment."),
    _c(_RA, "frag_first", "int", "UInt32", "On the row holding a reassembled packet: the `frame_no` of its first fragment in capture order (the last is the row itself)."),
    _c(_RA, "reasm_len", "int", "UInt32", "On the row holding a reassembled packet: the length of the reassembled IP packet (header included), as if it had not been fragmented."),
    # --- decoding -------------------------------------------------------------------------
    _c(_DE, "decode_layer", "text", "category", "Layer at which decoding stopped with an error (e.g. `ipv6`, `vxlan`, `icmpv6`); null when the frame decoded fully."),
    _c(_DE, "decode_error", "text", "category", "What went wrong at `decode_layer`: expected, found and byte offset; null when the frame decoded fully."),
)
# fmt: on

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

OUTER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("src_mac", "outer_src_mac"),
    ("dst_mac", "outer_dst_mac"),
    ("vlan", "outer_vlan"),
    ("ip_version", "outer_ip_version"),
    ("src_ip", "outer_src_ip"),
    ("dst_ip", "outer_dst_ip"),
    ("ttl", "outer_ttl"),
    ("frag_offset", "outer_frag_offset"),
    ("more_fragments", "outer_more_fragments"),
    ("dont_fragment", "outer_dont_fragment"),
    ("sport", "outer_sport"),
    ("dport", "outer_dport"),
)
"""Pod-frame column -> the ``outer_*`` column that keeps its value once a tunnel is found."""
_BY_NAME = {c.name: c for c in COLUMNS}


def column(name: str) -> Column:
    """The :class:`Column` called ``name`` (``KeyError`` if there is none)."""
    return _BY_NAME[name]


def columns_markdown() -> str:
    """The Markdown text of ``docs/columns.md``."""
    lines = [
        "# Packets table columns",
        "",
        "Generated from `vxlanlens/schema.py` by `python scripts/gen_docs.py`;",
        "do not edit by hand (a test fails when this file is stale).",
        "",
        "One row per captured frame. Unprefixed columns describe the *pod frame* (the innermost",
        "frame of a tunnelled packet, or the frame itself); `outer_*` columns describe the underlay",
        "and are null when the frame carries no tunnel. MACs are lowercase `aa:bb:cc:dd:ee:ff`,",
        "IPs are in canonical text form. Null is pandas' `<NA>`.",
        "",
        "**IP fragments are reassembled** (outer and pod frame, IPv4 and IPv6; turn it off with",
        "`DecodeOptions(reassemble=False)`): the row of the fragment that completed a packet holds",
        "the whole packet above the fragmented header (tunnel, inner frame, transport), so that it",
        "pairs like any other, with `frag_count`, `frag_first` and `reasm_len`; its fragmented",
        "header's own fields (`ip_len`, `frag_offset`, ... or `outer_frag_offset`, ...) stay its",
        "own. Every fragment of that packet has `reassembled_in`; the others stop decoding at their",
        "IP header (as Wireshark shows them). A set that cannot be reassembled (a fragment missing,",
        "overlapping fragments that disagree, two ends, over 65,535 bytes, over 1,024 fragments,",
        "cut by the snap length, older than the kernel's 30 s (IPv4) / 60 s (IPv6) timeout) keeps",
        "its fields and gets `decode_layer` `ipv4`/`ipv6` with the reason in `decode_error`.",
        "Fragments are grouped by capture, interface, `-i any` interface and direction, tunnel",
        "(outer addresses, VNI), addresses, protocol and identification: copies of one packet seen",
        "at two points are reassembled separately.",
        "",
    ]
    group = None
    for c in COLUMNS:
        if c.group != group:
            group = c.group
            lines += ["", f"## {group}", "", "| column | dtype | meaning |", "|---|---|---|"]
        lines.append(f"| `{c.name}` | `{c.dtype}` | {c.doc} |")
    return "\n".join(lines) + "\n"
