"""Builders of mirror transports (ERSPAN I/II/III, GRE, VXLAN mirrors) and other
encapsulations (GRE and IP-in-IP tunnels, MPLS, PPPoE, NSH, AH) for the decoder and engine
tests, with scapy's layers."""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet

MIRROR_SRC4, MIRROR_DST4 = "192.0.2.1", "192.0.2.9"
MIRROR_SRC6, MIRROR_DST6 = "2001:db8::1", "2001:db8::9"


def pod_tcp() -> Packet:
    """A pod's TCP SYN on its Ethernet link (the mirrored frame of the encapsulation tests)."""
    return (
        Ether(src="4e:5b:57:45:63:3b", dst="a2:79:14:47:80:b3")
        / IP(src="10.244.1.233", dst="10.244.2.245", ttl=63)
        / TCP(sport=40001, dport=8080, flags="S")
    )


def cilium_vxlan(inner: Packet | None = None, vni: int = 6899) -> Packet:
    """``inner`` (default :func:`pod_tcp`) in Cilium's VXLAN (UDP 8472) between two nodes."""
    return (
        Ether(src="02:42:ac:12:00:03", dst="02:42:ac:12:00:04")
        / IP(src="172.18.0.3", dst="172.18.0.4", ttl=64)
        / UDP(sport=40000, dport=8472, chksum=0)
        / VXLAN(flags=0x08, vni=vni)
        / (pod_tcp() if inner is None else inner)
    )


def mirror_underlay(ipv6: bool = False) -> Packet:
    """Ethernet + IP (v4 or v6) from a switch to a collector, before the GRE header."""
    from scapy.layers.inet6 import IPv6

    eth = Ether(src="00:11:22:33:44:55", dst="00:11:22:33:44:66")
    if ipv6:
        return eth / IPv6(src=MIRROR_SRC6, dst=MIRROR_DST6)
    return eth / IP(src=MIRROR_SRC4, dst=MIRROR_DST4)


def erspan(kind: int, mirrored: Packet, *, ipv6: bool = False, **fields: Any) -> Packet:
    """``mirrored`` in ERSPAN type ``kind`` (1, 2 or 3) over GRE; ``fields`` go to the ERSPAN
    II/III header (type III: ``platform=(id, info1)`` adds a platform subheader)."""
    from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
    from scapy.layers.l2 import GRE

    under = mirror_underlay(ipv6)
    if kind == 1:
        return under / GRE(proto=0x88BE) / mirrored
    if kind == 2:
        gre = GRE(proto=0x88BE, seqnum_present=1, sequence_number=9)
        return under / gre / ERSPAN_II(**fields) / mirrored
    platform = fields.pop("platform", None)
    hdr = ERSPAN_III(o=int(platform is not None), **fields)
    if platform is not None:
        hdr = hdr / ERSPAN_PlatformSpecific(platf_id=platform[0], info1=platform[1], info2=0)
    return under / GRE(proto=0x22EB) / hdr / mirrored


def gre_mirror(mirrored: Packet, key: int | None = None, ipv6: bool = False) -> Packet:
    """``mirrored`` in plain GRE (Transparent Ethernet Bridging 0x6558), with a key if given."""
    from scapy.layers.l2 import GRE

    gre = GRE(proto=0x6558) if key is None else GRE(proto=0x6558, key_present=1, key=key)
    return mirror_underlay(ipv6) / gre / mirrored


def vxlan_mirror(mirrored: Packet, vni: int, dport: int = 4789) -> Packet:
    """``mirrored`` in a cloud traffic-mirroring VXLAN session (AWS: UDP 4789, VNI = session)."""
    return (
        mirror_underlay()
        / UDP(sport=65000, dport=dport, chksum=0)
        / VXLAN(flags=0x08, vni=vni)
        / mirrored
    )


def encap_frames() -> list[tuple[str, Packet]]:
    """One frame of every mirror transport and other encapsulation the decoders know."""
    from scapy.contrib.geneve import GENEVE
    from scapy.contrib.mpls import MPLS
    from scapy.contrib.nsh import NSH
    from scapy.layers.ipsec import AH
    from scapy.layers.l2 import GRE
    from scapy.layers.ppp import PPP, PPPoE, PPPoED

    icv = b"\0" * 12
    out: list[tuple[str, Packet]] = []
    for kind in (1, 2, 3):
        for v6 in (False, True):
            for name, f in (("pod", pod_tcp()), ("cilium", cilium_vxlan())):
                fields = {} if kind == 1 else {"session_id": 3, "vlan": 4}
                out.append(
                    (
                        f"erspan{kind}-{'v6' if v6 else 'v4'}-{name}",
                        erspan(kind, f, ipv6=v6, **fields),
                    )
                )
    out += [
        ("erspan3-platform3", erspan(3, pod_tcp(), d=1, hw=5, timestamp=9, platform=(3, 77))),
        ("gre-mirror-key", gre_mirror(cilium_vxlan(), key=5)),
        ("gre-mirror-v6", gre_mirror(pod_tcp(), ipv6=True)),
        ("gre-ip", Ether() / IP(src="1.1.1.1") / GRE(key_present=1, key=7) / IP() / TCP()),
        ("gre-ip6", Ether() / IPv6() / GRE(proto=0x86DD) / IPv6() / UDP(dport=53)),
        (
            "geneve-ip-gre-ip",
            Ether()
            / IP()
            / UDP(sport=1, dport=6081)
            / GENEVE(proto=0x0800)
            / IP()
            / GRE()
            / IP()
            / TCP(),
        ),
        ("vxlan-mirror-77", vxlan_mirror(cilium_vxlan(), 77)),
        ("vxlan-not-mirror-78", vxlan_mirror(cilium_vxlan(), 78)),
        ("mpls", Ether() / MPLS(label=100, s=0) / MPLS(label=200, s=1) / IP() / UDP()),
        ("mpls-mc-ip6", Ether(type=0x8848) / MPLS(label=5, s=1) / IPv6() / UDP()),
        ("pppoe-ip", Ether() / PPPoE(sessionid=5) / PPP(proto=0x21) / IP() / ICMP()),
        ("pppoe-lcp", Ether() / PPPoE(sessionid=7) / PPP(proto=0xC021) / b"\x01\x01\x00\x04"),
        ("pppoe-padi", Ether(type=0x8863) / PPPoED(code=9)),
        ("6in4", Ether() / IP() / IPv6() / UDP()),
        ("4in6", Ether() / IPv6() / IP() / TCP()),
        (
            "gpe-nsh",
            Ether()
            / IP()
            / UDP(sport=1, dport=4790)
            / VXLAN(flags=0x0C, NextProtocol=4, vni=3)
            / NSH(spi=0x123, si=254, nextproto=3)
            / Ether()
            / IP()
            / UDP(),
        ),
        ("ah4", Ether() / IP() / AH(nh=6, payloadlen=4, icv=icv) / TCP()),
        ("ah6", Ether() / IPv6() / AH(nh=17, payloadlen=4, icv=icv) / UDP()),
    ]
    return out
