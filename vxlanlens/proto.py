"""The project's vocabulary: protocol numbers and the names every layer shares.

No pandas here: decoders, the table, exchanges, explain and reports all import from this module,
so a value is spelled once. String enums compare equal to their text (``Severity.PROBLEM ==
"problem"``), so JSON and tables keep the plain strings users and scripts rely on.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "ExchangeKind",
    "ExchangeStatus",
    "HopKind",
    "Severity",
    "StrEnum",
    "UnknownTopic",
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
