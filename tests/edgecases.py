"""Generated frames for the engine conformance comparison: what the captures rarely hold.

Used by ``tests/engines/test_conformance.py`` and ``scripts/conformance.py`` (which puts
``tests/`` on ``sys.path``); test-only, so it lives here rather than in the package.
"""

from __future__ import annotations

from typing import Any

from vxlanlens.read.records import RecordBatch

__all__ = ["edge_cases"]


def edge_cases() -> list[tuple[str, RecordBatch]]:
    """Generated frames for what the captures rarely hold, as ``(name, batch)`` pairs.

    Truncations of a VXLAN frame at every header boundary, nested tunnels, VLAN / QinQ (outer
    and inner), IPv6 extension headers and fragments, SLL / SLL2 and raw IP link types, Geneve
    with options (critical and not; OVN's logical ports) and without Ethernet, VXLAN-GPE, VXLAN
    group policy, ICMP and ICMPv6 errors quoting packets, neighbour discovery, IPv4 fragments
    and options.
    """
    from scapy.contrib.geneve import GENEVE, GeneveOptions
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import (
        ICMPv6DestUnreach,
        ICMPv6EchoRequest,
        ICMPv6ND_NA,
        ICMPv6ND_NS,
        ICMPv6ND_RA,
        ICMPv6NDOptDstLLAddr,
        ICMPv6NDOptMTU,
        ICMPv6NDOptSrcLLAddr,
        ICMPv6PacketTooBig,
        ICMPv6TimeExceeded,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
    )
    from scapy.layers.l2 import ARP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
    from scapy.layers.vxlan import VXLAN

    m1, m2, m3, m4 = (
        "02:00:00:00:00:01",
        "02:00:00:00:00:02",
        "0a:00:00:00:00:03",
        "0a:00:00:00:00:04",
    )

    def under4(dport: int = 8472, sport: int = 40000) -> Any:
        return (
            Ether(src=m1, dst=m2)
            / IP(src="192.0.2.1", dst="192.0.2.2", ttl=63)
            / UDP(sport=sport, dport=dport)
        )

    def pod4() -> Any:
        return (
            Ether(src=m3, dst=m4)
            / IP(src="10.0.1.5", dst="10.0.2.7", ttl=62, flags="DF", id=4242)
            / TCP(sport=43210, dport=8080, flags="S", seq=1000)
        )

    def pod6() -> Any:
        return (
            Ether(src=m3, dst=m4)
            / IPv6(src="fd00:10::5", dst="fd00:20::7", hlim=62)
            / ICMPv6EchoRequest(id=7, seq=9)
            / (b"x" * 16)
        )

    vx = under4() / VXLAN(vni=6042, flags=0x08) / pod4()
    cases: dict[str, list[bytes]] = {}
    full = bytes(vx)
    cases["truncated-vxlan"] = [
        full[:k] for k in (0, 6, 14, 20, 34, 40, 42, 46, 50, 56, 64, 70, 80, 90)
    ]
    cases["vxlan"] = [
        bytes(under4() / VXLAN(vni=6042, flags=0x08) / pod6()),
        bytes(under4(4789) / VXLAN(vni=2, flags=0x0C) / pod4()),
        bytes(under4() / VXLAN(vni=77, flags=0x88, gpid=0x1234) / pod4()),
        bytes(under4(33333) / VXLAN(vni=5, flags=0x08) / pod4()),  # guessed tunnel
        bytes(
            Ether(src=m1, dst=m2)
            / IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=64)
            / UDP(sport=1234, dport=8472)
            / VXLAN(vni=9, flags=0x08)
            / Ether(src=m3, dst=m4)
            / ARP(op=1, hwsrc=m3, psrc="10.0.1.5", pdst="10.0.1.1")
        ),
    ]
    cases["nested"] = [
        bytes(under4() / VXLAN(vni=1, flags=0x08) / under4(6081) / GENEVE(vni=2) / pod4()),
        bytes(
            under4(6081)
            / GENEVE(vni=3, options=[GeneveOptions(classid=0x0102, type=0x80, data=b"abcd")])
            / under4()
            / VXLAN(vni=4, flags=0x08)
            / pod6()
        ),
    ]
    cases["vlan"] = [
        bytes(
            Ether(src=m1, dst=m2)
            / Dot1Q(vlan=100)
            / IP(src="192.0.2.1", dst="192.0.2.2")
            / UDP(sport=1, dport=8472)
            / VXLAN(vni=5, flags=0x08)
            / Ether(src=m3, dst=m4)
            / Dot1Q(vlan=7)
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / UDP(sport=53, dport=5353)
            / b"hello"
        ),
        bytes(
            Ether(src=m1, dst=m2)
            / Dot1AD(vlan=10)
            / Dot1Q(vlan=20)
            / IPv6(src="fd00::1", dst="fd00::2")
            / TCP(sport=1, dport=2, flags="PA")
            / b"abc"
        ),
    ]
    cases["ipv6-ext"] = [
        bytes(
            Ether(src=m3, dst=m4)
            / IPv6(src="fd00::1", dst="ff02::16")
            / IPv6ExtHdrHopByHop()
            / IPv6ExtHdrDestOpt()
            / UDP(sport=5, dport=6)
            / (b"q" * 8)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IPv6(src="fd00::1", dst="fd00::2")
            / IPv6ExtHdrRouting(addresses=["fd00::9"])
            / TCP(sport=5, dport=6)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IPv6(src="fd00::1", dst="fd00::2")
            / IPv6ExtHdrFragment(id=0xABCDEF, m=1, offset=0)
            / UDP(sport=5, dport=6)
            / (b"z" * 32)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IPv6(src="fd00::1", dst="fd00::2")
            / IPv6ExtHdrFragment(id=0xABCDEF, m=0, offset=5, nh=17)
            / (b"z" * 16)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF", frag=0)
            / UDP(sport=1, dport=2)
            / (b"a" * 40)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IP(src="10.0.0.1", dst="10.0.0.2", frag=6, proto=17)
            / (b"a" * 24)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IP(src="10.0.0.1", dst="10.0.0.2", options=b"\x94\x04\0\0")
            / ICMP(type=8, id=3, seq=4)
        ),
    ]
    cases["geneve"] = [
        bytes(
            under4(6081)
            / GENEVE(
                vni=0x1389,
                critical=1,
                options=[
                    GeneveOptions(classid=0x0000, type=0x80, data=b"\0\0\0\x0c"),
                    GeneveOptions(classid=0x0132, type=0x01, data=b"12345678"),
                ],
            )
            / pod4()
        ),
        bytes(
            under4(6081)
            / GENEVE(vni=0, proto=0x0800)
            / IP(src="10.1.0.1", dst="10.2.0.1")
            / TCP(sport=22, dport=50000, flags="A")
        ),
        bytes(under4(6081) / GENEVE(vni=12) / pod6()),
        bytes(  # OVN's logical ports (after a 0x0102 option of another length: not OVN's)
            under4(6081)
            / GENEVE(
                vni=0x000005,
                critical=1,
                options=[
                    GeneveOptions(classid=0x0102, type=0x80, data=b"\0\1\0\2\0\0\0\0"),
                    GeneveOptions(classid=0x0102, type=0x80, data=b"\x80\x01\x80\x03"),
                ],
            )
            / pod4()
        ),
    ]
    cases["icmp-errors"] = [
        bytes(
            Ether(src=m3, dst=m4)
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / ICMP(type=3, code=4, nexthopmtu=1450)
            / IP(src="10.0.0.2", dst="10.9.9.9", flags="DF")
            / TCP(sport=40000, dport=443)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / ICMP(type=11, code=0)
            / IP(src="10.0.0.2", dst="10.9.9.9", ttl=1)
            / ICMP(type=8, id=99, seq=3)
        ),
        bytes(
            under4()
            / VXLAN(vni=7, flags=0x08)
            / Ether(src=m3, dst=m4)
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / ICMP(type=3, code=3)
            / IP(src="10.0.0.2", dst="10.0.0.1")
            / UDP(sport=5353, dport=53)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IPv6(src="fd00::1", dst="fd00::2")
            / ICMPv6PacketTooBig(mtu=1280)
            / IPv6(src="fd00::2", dst="fd00::9")
            / TCP(sport=1, dport=2)
            / (b"p" * 20)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IPv6(src="fd00::1", dst="fd00::2")
            / ICMPv6DestUnreach(code=4)
            / IPv6(src="fd00::2", dst="fd00::1")
            / UDP(sport=33434, dport=33435)
        ),
        bytes(
            Ether(src=m3, dst=m4)
            / IPv6(src="fd00::1", dst="fd00::2")
            / ICMPv6TimeExceeded()
            / IPv6(src="fd00::2", dst="fd00::9")
            / ICMPv6EchoRequest(id=5, seq=6)
        ),
    ]
    cases["nd"] = [
        bytes(
            Ether(src=m3, dst="33:33:ff:00:00:02")
            / IPv6(src="fd00::1", dst="ff02::1:ff00:2", hlim=255)
            / ICMPv6ND_NS(tgt="fd00::2")
            / ICMPv6NDOptSrcLLAddr(lladdr=m3)
        ),
        bytes(
            Ether(src=m4, dst=m3)
            / IPv6(src="fd00::2", dst="fd00::1", hlim=255)
            / ICMPv6ND_NA(tgt="fd00::2", R=0, S=1, O=1)
            / ICMPv6NDOptDstLLAddr(lladdr=m4)
        ),
        bytes(
            Ether(src=m4, dst="33:33:00:00:00:01")
            / IPv6(src="fe80::1", dst="ff02::1", hlim=255)
            / ICMPv6ND_RA(M=1, O=0)
            / ICMPv6NDOptSrcLLAddr(lladdr=m4)
            / ICMPv6NDOptMTU(mtu=1450)
        ),
    ]
    batches = [
        (name, RecordBatch.from_frames(frames, capture=name)) for name, frames in cases.items()
    ]
    inner = bytes(
        IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=8472) / VXLAN(vni=3) / pod4()
    )
    sll = (
        bytes(
            CookedLinux(
                pkttype=4, lladdrtype=1, lladdrlen=6, src=b"\x02\0\0\0\0\x01\0\0", proto=0x0800
            )
        )
        + inner
    )
    sll2 = bytes(
        CookedLinuxV2(
            proto=0x86DD,
            ifindex=7,
            lladdrtype=1,
            pkttype=0,
            lladdrlen=6,
            src=b"\x02\0\0\0\0\x01\0\0",
        )
    )
    sll2 += bytes(IPv6(src="fd00::1", dst="fd00::2") / ICMPv6EchoRequest(id=1, seq=2))
    batches.append(("sll", RecordBatch.from_frames([sll, sll[:30]], linktype=113, capture="sll")))
    batches.append(
        ("sll2", RecordBatch.from_frames([sll2, sll2[:19]], linktype=276, capture="sll2"))
    )
    batches.append(
        ("raw-ip", RecordBatch.from_frames([inner, inner[:10]], linktype=101, capture="raw-ip"))
    )
    snap = [bytes(vx)[:k] for k in (60, 96)]
    batches.append(
        (
            "snaplen",
            RecordBatch.from_frames(snap, capture="snaplen", wire_len=[len(full)] * len(snap)),
        )
    )
    return batches
