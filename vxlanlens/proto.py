"""The project's vocabulary: protocol numbers and the names every layer shares.

No pandas here: decoders, the table, exchanges, explain and reports all import from this module,
so a value is spelled once. String enums compare equal to their text (``Severity.PROBLEM ==
"problem"``), so JSON and tables keep the plain strings users and scripts rely on.
"""

from __future__ import annotations

from enum import Enum, IntEnum, IntFlag

__all__ = [
    "ARP_HTYPE_ETHERNET",
    "ARP_HTYPE_IEEE802",
    "BSD_AF_INET",
    "BSD_AF_INET6",
    "DEFAULT_GENEVE_PORTS",
    "DEFAULT_GPE_PORTS",
    "DEFAULT_VXLAN_PORTS",
    "ETHERTYPE_MIN",
    "ICMP_FRAG_NEEDED",
    "INITIAL_TTLS",
    "ND_OPTIONS_AT",
    "PKT_TYPE_TEXT",
    "TCP_ANSWER_WORDS",
    "ArpOp",
    "EtherType",
    "ExchangeKind",
    "ExchangeStatus",
    "GpeNextProtocol",
    "HopKind",
    "ICMPType",
    "ICMPv6Type",
    "IPProto",
    "IpTunnelKind",
    "LinkType",
    "MirrorKind",
    "NDOption",
    "Severity",
    "SllPacketType",
    "StrEnum",
    "TcpFlag",
    "TunnelKind",
    "TunnelPort",
    "UnknownTopic",
    "initial_ttl",
]


class StrEnum(str, Enum):
    """A string enum whose ``str()`` is its value (``enum.StrEnum`` exists only from 3.11)."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every value, in declaration order."""
        return tuple(m.value for m in cls)


class Severity(StrEnum):
    """How bad a finding is; declared most severe first."""

    PROBLEM = "problem"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for problem: larger is worse."""
        return {"info": 0, "warning": 1, "problem": 2}[self.value]


class ExchangeKind(StrEnum):
    """The request/answer protocols that :mod:`vxlanlens.exchanges` pairs."""

    ARP = "arp"
    ND = "nd"
    ECHO = "echo"
    TCP = "tcp"
    ICMP_ERROR = "icmp-error"


class ExchangeStatus(StrEnum):
    """What became of a request (or of an answer without one)."""

    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    UNSOLICITED = "unsolicited"
    DUPLICATE = "duplicate"
    GRATUITOUS = "gratuitous"
    DAD = "dad"


class HopKind(StrEnum):
    """What kind of place a hop of a path is."""

    POD_ETH0 = "pod-eth0"
    """A pod's own interface (its eth0)."""
    LXC = "lxc"
    """The host side of a pod's veth."""
    EBPF = "ebpf"
    """A program attached to an interface (Cilium's datapath) that answers or redirects."""
    TUNNEL = "tunnel"
    """A tunnel device (cilium_vxlan, cilium_geneve, ...) encapsulating or decapsulating."""
    UNDERLAY = "underlay"
    """A node's underlay interface (its eth0), where tunnel packets leave or arrive."""
    NETWORK = "network"
    """The network between nodes."""
    GATEWAY = "gateway"
    """The router address a pod resolves (its default gateway)."""
    BRIDGE = "bridge"
    """A bridge the pod's frames cross on a node: a Linux bridge (Flannel's cni0) or an OVS
    bridge (Antrea's br-int)."""
    HOST = "host"
    """A host that sent or answered a packet, in an input that shows no overlay (no tunnel
    packet, no dump, nothing of a CNI): named by its address, no pod or node assumed."""


class UnknownTopic(StrEnum):
    """What an entry of ``Topology.unknown`` / ``Explanation.unknowns`` is about."""

    TOPOLOGY = "topology"
    """No dump given, or a dump that lacks a fact."""
    CNI = "cni"
    """Which overlay / CNI this is."""
    PLACEMENT = "placement"
    """Where a capture was taken."""
    IDENTITY = "identity"
    """Security identities behind VNIs."""
    MAC = "mac"
    """A MAC that no dump or capture ties to an interface."""
    NODE = "node"
    """Which node an address or interface belongs to."""
    POD = "pod"
    """Which pod an address or MAC belongs to."""
    SCALE = "scale"
    """What was left out of the output to keep it readable."""
    OTHER = "other"


# --- protocol numbers ---------------------------------------------------------------------------
# IntEnums compare equal to their numbers (``IPProto.UDP == 17``) and work as NumPy scalars, so
# the columnar decoder and the pairing code use them directly in array comparisons.


class EtherType(IntEnum):
    """Ethertypes the decoder and the engines dispatch on (IEEE registry values)."""

    IPV4 = 0x0800
    ARP = 0x0806
    TEB = 0x6558
    """Transparent Ethernet Bridging: an Ethernet frame follows (what VXLAN and Geneve carry)."""
    RARP = 0x8035
    VLAN = 0x8100
    """802.1Q customer VLAN tag."""
    IPV6 = 0x86DD
    QINQ = 0x88A8
    """802.1ad service VLAN tag."""
    NSH = 0x894F
    """Network Service Header (RFC 8300)."""
    ERSPAN_3 = 0x22EB
    """ERSPAN type III header follows (a GRE protocol type)."""
    ERSPAN_2 = 0x88BE
    """ERSPAN type II header follows (type I when the GRE sequence bit is clear)."""
    MPLS = 0x8847
    """MPLS unicast label stack."""
    MPLS_MC = 0x8848
    """MPLS multicast label stack."""
    PPPOE_DISC = 0x8863
    """PPPoE discovery stage."""
    PPPOE_SESS = 0x8864
    """PPPoE session stage (a PPP frame follows)."""
    VLAN_9100 = 0x9100
    """The pre-802.1ad QinQ outer tag some switches still send."""

    @classmethod
    def vlan_tpids(cls) -> tuple[int, ...]:
        """The tag protocol identifiers the decoder walks through as VLAN tags."""
        return (int(cls.VLAN), int(cls.QINQ), int(cls.VLAN_9100))


ETHERTYPE_MIN = 0x0600
"""Smallest Ethertype: a smaller type/length field is an 802.3 length (an LLC header follows)."""


class IPProto(IntEnum):
    """IP protocol numbers (IPv4 protocol / IPv6 next header), IANA registry values."""

    HOPOPT = 0
    """IPv6 hop-by-hop options extension header."""
    ICMP = 1
    IPIP = 4
    """IPv4 encapsulated in IP (4in4, 4in6)."""
    TCP = 6
    UDP = 17
    IPV6_ENCAP = 41
    """IPv6 encapsulated in IP (6in4, 6in6)."""
    IPV6_ROUTE = 43
    IPV6_FRAG = 44
    GRE = 47
    ESP = 50
    AH = 51
    ICMPV6 = 58
    IPV6_NONXT = 59
    """IPv6 "no next header"."""
    IPV6_OPTS = 60
    """IPv6 destination options extension header."""


class ICMPType(IntEnum):
    """ICMP (IPv4) message types (RFC 792, RFC 950)."""

    ECHO_REPLY = 0
    DEST_UNREACH = 3
    SOURCE_QUENCH = 4
    REDIRECT = 5
    ECHO_REQUEST = 8
    TIME_EXCEEDED = 11
    PARAM_PROBLEM = 12
    TIMESTAMP = 13
    TIMESTAMP_REPLY = 14
    INFO_REQUEST = 15
    INFO_REPLY = 16
    ADDRESS_MASK_REQUEST = 17
    ADDRESS_MASK_REPLY = 18

    @classmethod
    def with_id_seq(cls) -> tuple[int, ...]:
        """Types whose bytes 4-7 are an identifier and a sequence number."""
        return (
            cls.ECHO_REPLY,
            cls.ECHO_REQUEST,
            cls.TIMESTAMP,
            cls.TIMESTAMP_REPLY,
            cls.INFO_REQUEST,
            cls.INFO_REPLY,
            cls.ADDRESS_MASK_REQUEST,
            cls.ADDRESS_MASK_REPLY,
        )

    @classmethod
    def errors(cls) -> tuple[int, ...]:
        """Error types, which quote the offending packet after their 8-byte header."""
        return (
            cls.DEST_UNREACH,
            cls.SOURCE_QUENCH,
            cls.REDIRECT,
            cls.TIME_EXCEEDED,
            cls.PARAM_PROBLEM,
        )


class TcpFlag(IntFlag):
    """TCP header flag bits as the ``tcp_flags`` column holds them (NS is bit 8)."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80
    NS = 0x100


ICMP_FRAG_NEEDED = 4
"""Code of an ICMP destination-unreachable "fragmentation needed and DF set" (RFC 1191 MTU)."""


class ICMPv6Type(IntEnum):
    """ICMPv6 message types (RFC 4443 errors and echo, RFC 4861 neighbour discovery)."""

    DEST_UNREACH = 1
    PACKET_TOO_BIG = 2
    TIME_EXCEEDED = 3
    PARAM_PROBLEM = 4
    ECHO_REQUEST = 128
    ECHO_REPLY = 129
    ROUTER_SOLICITATION = 133
    ROUTER_ADVERTISEMENT = 134
    NEIGHBOR_SOLICITATION = 135
    NEIGHBOR_ADVERTISEMENT = 136
    REDIRECT = 137

    @classmethod
    def errors(cls) -> tuple[int, ...]:
        """Error types, which quote the offending packet after their 8-byte header."""
        return (cls.DEST_UNREACH, cls.PACKET_TOO_BIG, cls.TIME_EXCEEDED, cls.PARAM_PROBLEM)


ND_OPTIONS_AT: dict[int, int] = {
    ICMPv6Type.ROUTER_SOLICITATION: 8,
    ICMPv6Type.ROUTER_ADVERTISEMENT: 16,
    ICMPv6Type.NEIGHBOR_SOLICITATION: 24,
    ICMPv6Type.NEIGHBOR_ADVERTISEMENT: 24,
    ICMPv6Type.REDIRECT: 40,
}
"""Length of the fixed part of each neighbour-discovery message, ICMPv6 header included (RFC
4861 section 4): its minimum length, and where its options start."""


class NDOption(IntEnum):
    """Neighbour-discovery option types (RFC 4861 section 4.6) the decoder reads."""

    SOURCE_LLADDR = 1
    TARGET_LLADDR = 2
    MTU = 5


class ArpOp(IntEnum):
    """ARP opcodes (RFC 826; 3 and 4 are RARP, RFC 903)."""

    REQUEST = 1
    REPLY = 2
    RARP_REQUEST = 3
    RARP_REPLY = 4


ARP_HTYPE_ETHERNET = 1
"""ARP hardware type of Ethernet (6, IEEE 802, is also accepted: 802.3 LLC/SNAP frames use it)."""
ARP_HTYPE_IEEE802 = 6


class TunnelKind(IntEnum):
    """The decoder's tunnel codes (0: no tunnel); :attr:`text` is the ``tunnel`` column's value."""

    NONE = 0
    VXLAN = 1
    VXLAN_GPE = 2
    GENEVE = 3

    @property
    def text(self) -> str | None:
        """The name shown in the ``tunnel`` column (``None`` for :attr:`NONE`)."""
        return (None, "vxlan", "vxlan-gpe", "geneve")[self.value]


class IpTunnelKind(IntEnum):
    """The decoder's codes of tunnels that are not overlays (0: none); :attr:`text` is the
    ``ip_tunnel`` column's value."""

    NONE = 0
    GRE = 1
    """GRE carrying IP (or Ethernet inside another tunnel or mirror): a tunnel, not a mirror."""
    IP_IN_IP = 2
    """IP directly in IP: 6in4 (protocol 41), 4in4 / 4in6 (protocol 4), 6in6."""

    @property
    def text(self) -> str | None:
        """The name shown in the ``ip_tunnel`` column (``None`` for :attr:`NONE`)."""
        return (None, "gre", "ip-in-ip")[self.value]


class MirrorKind(IntEnum):
    """The decoder's mirror-transport codes (0: none); :attr:`text` is the ``mirror`` column's."""

    NONE = 0
    ERSPAN_1 = 1
    ERSPAN_2 = 2
    ERSPAN_3 = 3
    GRE = 4
    VXLAN = 5

    @property
    def text(self) -> str | None:
        """The name shown in the ``mirror`` column (``None`` for :attr:`NONE`)."""
        return (None, "erspan-1", "erspan-2", "erspan-3", "gre", "vxlan")[self.value]


class TunnelPort(IntEnum):
    """Well-known UDP destination ports of the tunnels."""

    VXLAN_LINUX = 8472
    """The Linux kernel's VXLAN default, older than the IANA port; Cilium and Flannel use it."""
    VXLAN = 4789
    """IANA port of VXLAN (RFC 7348)."""
    VXLAN_GPE = 4790
    """IANA port of VXLAN-GPE."""
    GENEVE = 6081
    """IANA port of Geneve (RFC 8926)."""


DEFAULT_VXLAN_PORTS: frozenset[int] = frozenset(
    {int(TunnelPort.VXLAN_LINUX), int(TunnelPort.VXLAN)}
)
"""UDP ports tried as VXLAN unless the user says otherwise."""
DEFAULT_GPE_PORTS: frozenset[int] = frozenset({int(TunnelPort.VXLAN_GPE)})
"""UDP ports tried as VXLAN-GPE."""
DEFAULT_GENEVE_PORTS: frozenset[int] = frozenset({int(TunnelPort.GENEVE)})
"""UDP ports tried as Geneve."""


class GpeNextProtocol(IntEnum):
    """VXLAN-GPE next-protocol values (draft-ietf-nvo3-vxlan-gpe)."""

    IPV4 = 1
    IPV6 = 2
    ETHERNET = 3
    NSH = 4

    @property
    def ethertype(self) -> EtherType:
        """The same protocol as an Ethertype (what the ``tunnel_proto`` column holds)."""
        return {
            1: EtherType.IPV4,
            2: EtherType.IPV6,
            3: EtherType.TEB,
            4: EtherType.NSH,
        }[self.value]


class LinkType(IntEnum):
    """pcap / pcapng link types (``LINKTYPE_*``, tcpdump.org/linktypes.html) the decoder reads."""

    NULL = 0
    """BSD loopback: a 4-byte address family in the capturing host's byte order."""
    ETHERNET = 1
    RAW_DLT12 = 12
    """Raw IP under the platform value of DLT_RAW that some files carry instead of 101."""
    RAW_DLT14 = 14
    """Raw IP under OpenBSD's DLT_RAW value."""
    RAW = 101
    LOOP = 108
    """OpenBSD loopback: a 4-byte address family in network byte order."""
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276


BSD_AF_INET = 2
"""Address family of IPv4 in a BSD loopback header (every platform)."""
BSD_AF_INET6: tuple[int, ...] = (24, 28, 30)
"""Address families of IPv6 in a BSD loopback header: NetBSD/OpenBSD, FreeBSD, macOS."""


class SllPacketType(IntEnum):
    """Linux cooked-capture packet types (``PACKET_*`` of ``<linux/if_packet.h>``)."""

    HOST = 0
    BROADCAST = 1
    MULTICAST = 2
    OTHERHOST = 3
    OUTGOING = 4


PKT_TYPE_TEXT: dict[int, str] = {t.value: t.name.lower() for t in SllPacketType}
"""The ``pkt_type`` column's text by packet type (another number is shown as the number)."""


INITIAL_TTLS = (64, 128, 255)
"""The TTLs / hop limits hosts send with (Linux 64, Windows 128, routers and ND 255)."""


def initial_ttl(ttl: int) -> int:
    """The most likely TTL / hop limit a packet seen with ``ttl`` (1-255) was sent with: the
    smallest of :data:`INITIAL_TTLS` not below it."""
    return next(x for x in INITIAL_TTLS if ttl <= x)


TCP_ANSWER_WORDS: dict[str, str] = {"syn-ack": "SYN-ACK", "rst": "RST (refused)"}
"""A TCP handshake's reply in words, by the exchanges table's ``answer`` (path summaries and
ladder labels)."""
