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
    mirror_vxlan: frozenset[tuple[int, int]] = frozenset()
    """VXLAN mirror sessions to peel (cloud traffic mirroring): ``(UDP destination port, VNI)``
    pairs, VNI -1 for any; see :mod:`vxlanlens.decode.mirror`. Their ports must also be VXLAN
    ports (:meth:`with_mirror_vxlan` adds them)."""
    mirror_auto: bool = True
    """When captures are read (not by :func:`decode_batch`, which sees one batch): detect VXLAN
    mirror sessions (a port and VNI whose frames carry overlay tunnels inside) and read again
    peeling them; see :mod:`vxlanlens.decode.mirror`."""
    stop_at_fragments: bool = False
    """Decode no further than an IP header that is a fragment (also the first one), as the rows
    of a reassembled packet's other fragments are shown."""

    def with_mirror_vxlan(self, sessions: tuple[tuple[int, int], ...]) -> DecodeOptions:
        """A copy that peels VXLAN mirror ``sessions`` ``(port, vni)`` (VNI -1: any VNI)."""
        for p, v in sessions:
            if not 0 < int(p) < 65536:
                raise ValueError(f"UDP port must be 1..65535, got {p}")
            if not -1 <= int(v) < 1 << 24:
                raise ValueError(f"VNI must be 0..16777215, got {v}")
        return replace(
            self,
            mirror_vxlan=self.mirror_vxlan | frozenset((int(p), int(v)) for p, v in sessions),
            vxlan_ports=self.vxlan_ports | frozenset(int(p) for p, _ in sessions),
        )

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
