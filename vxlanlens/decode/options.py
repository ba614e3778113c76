"""Decoder settings: which UDP ports carry which tunnel."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..proto import DEFAULT_GENEVE_PORTS, DEFAULT_GPE_PORTS, DEFAULT_VXLAN_PORTS

__all__ = ["DecodeOptions"]


@dataclass(frozen=True)
class DecodeOptions:
    """Which UDP ports the decoder treats as tunnels, and how far it digs."""

    vxlan_ports: frozenset[int] = DEFAULT_VXLAN_PORTS
    """VXLAN (RFC 7348): IANA 4789 and Linux/Cilium/flannel's 8472."""
    gpe_ports: frozenset[int] = DEFAULT_GPE_PORTS
    """VXLAN-GPE."""
    geneve_ports: frozenset[int] = DEFAULT_GENEVE_PORTS
    """Geneve (RFC 8926)."""
    guess_tunnels: bool = True
    """Also accept a VXLAN header on other UDP ports when it passes strict sanity checks."""
    max_tunnel_depth: int = 4
    """Stop digging after this many nested tunnels (the rest is left undecoded, with an error)."""
    reassemble: bool = True
    """Reassemble IP fragments (outer and inner, IPv4 and IPv6) when the table is built: the
    packet is decoded once, on the row of the fragment that completed it (see
    :mod:`vxlanlens.reassembly`)."""
    stop_at_fragments: bool = False
    """Decode no further than an IP header that is a fragment (also the first one), as the rows
    of a reassembled packet's other fragments are shown."""

    def with_ports(
        self,
        *,
        vxlan: tuple[int, ...] = (),
        geneve: tuple[int, ...] = (),
        gpe: tuple[int, ...] = (),
    ) -> DecodeOptions:
        """A copy with extra tunnel ports added."""
        for p in (*vxlan, *geneve, *gpe):
            if not 0 < int(p) < 65536:
                raise ValueError(f"UDP port must be 1..65535, got {p}")
        return replace(
            self,
            vxlan_ports=self.vxlan_ports | frozenset(vxlan),
            gpe_ports=self.gpe_ports | frozenset(gpe),
            geneve_ports=self.geneve_ports | frozenset(geneve),
        )
