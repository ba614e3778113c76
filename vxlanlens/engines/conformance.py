"""Cross-engine conformance: the packets table of each engine, compared column by column.

Used by ``tests/engines/test_conformance.py`` and ``scripts/conformance.py`` (which writes
``docs/conformance.md``). Record columns (capture, frame_no, ts, lengths, interface, comment)
come from the shared reader and are not compared; ``decode_error`` is each engine's own text
and is not compared either; a column an engine leaves null by design (``NOT_DECODED``) is not
compared for that engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..decode.options import DecodeOptions
from ..read import open_capture
from ..read.records import RecordBatch
from ..schema import COLUMNS
from ..table import TableBuilder
from . import decoder_for

__all__ = [
    "ALLOWED",
    "NOT_DECODED",
    "PAIRS",
    "Difference",
    "PairStats",
    "allowed",
    "compare_tables",
    "edge_cases",
    "engine_tables",
    "file_batches",
]

NOT_DECODED: dict[str, frozenset[str]] = {
    "fast": frozenset(),
    "scapy": frozenset(),
    "tshark": frozenset({"decode_layer"}),
}
"""Columns each engine leaves null by design (not compared for that engine)."""

COMPARED: tuple[str, ...] = tuple(
    c.name for c in COLUMNS if c.kind != "record" and c.name != "decode_error"
)
"""Columns compared between engines."""

PAIRS: tuple[tuple[str, str], ...] = (("fast", "scapy"), ("fast", "tshark"), ("scapy", "tshark"))


@dataclass(frozen=True)
class Difference:
    """One cell on which two engines disagree."""

    pair: str
    source: str
    frame: int
    column: str
    left: Any
    right: Any

    def line(self) -> str:
        """One-line human description."""
        a, b = self.pair.split("/")
        return (
            f"{self.source} frame {self.frame} {self.column}: {a} {self.left!r}, {b} {self.right!r}"
        )


@dataclass
class PairStats:
    """Per column agreement of one engine pair: compared, equal, differing, both null."""

    compared: dict[str, int] = field(default_factory=dict)
    equal: dict[str, int] = field(default_factory=dict)
    differing: dict[str, int] = field(default_factory=dict)
    both_null: dict[str, int] = field(default_factory=dict)

    def add(self, column: str, compared: int, equal: int, differing: int, both_null: int) -> None:
        for store, value in (
            (self.compared, compared),
            (self.equal, equal),
            (self.differing, differing),
            (self.both_null, both_null),
        ):
            store[column] = store.get(column, 0) + value


def _cells(series: pd.Series) -> list[Any]:
    out = []
    for v in series.tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            out.append(None)
        else:
            out.append(v.item() if hasattr(v, "item") else v)
    return out


def compare_tables(
    source: str,
    tables: dict[str, pd.DataFrame],
    stats: dict[str, PairStats] | None = None,
) -> list[Difference]:
    """Every differing cell between each pair of ``tables`` (engine -> packets table).

    ``stats`` (pair name -> :class:`PairStats`) is updated when given.
    """
    diffs: list[Difference] = []
    for a, b in PAIRS:
        if a not in tables or b not in tables:
            continue
        pair = f"{a}/{b}"
        ta, tb = tables[a], tables[b]
        if len(ta) != len(tb):
            raise ValueError(f"{source}: {a} has {len(ta)} rows, {b} {len(tb)}")
        frames = ta["frame_no"].tolist()
        for col in COMPARED:
            if col in NOT_DECODED[a] or col in NOT_DECODED[b]:
                continue
            xa, xb = _cells(ta[col]), _cells(tb[col])
            eq = nulls = 0
            for k, (u, v) in enumerate(zip(xa, xb, strict=True)):
                if u is None and v is None:
                    nulls += 1
                elif u == v:
                    eq += 1
                else:
                    diffs.append(Difference(pair, source, int(frames[k]), col, u, v))
            if stats is not None:
                stats.setdefault(pair, PairStats()).add(
                    col, len(xa), eq, len(xa) - eq - nulls, nulls
                )
    return diffs


def engine_tables(
    batches: Iterable[RecordBatch],
    engines: Iterable[str],
    options: DecodeOptions | None = None,
) -> dict[str, pd.DataFrame]:
    """The packets table of each engine for the same record batches."""
    opts = options or DecodeOptions()
    names = list(engines)
    decoders = {e: decoder_for(e) for e in names}
    builders = {e: TableBuilder() for e in names}
    for batch in batches:
        for e in names:
            builders[e].add(batch, decoders[e](batch, opts))
    return {e: b.build() for e, b in builders.items()}


def file_batches(path: str | Path, max_frames: int = 32768) -> Iterator[RecordBatch]:
    """The record batches of a capture file, from vxlanlens' streaming reader."""
    with open_capture(str(path)) as reader:
        yield from reader.batches(max_frames=max_frames)


# --------------------------------------------------------------------------------------------
# generated edge cases
# --------------------------------------------------------------------------------------------


def edge_cases() -> list[tuple[str, RecordBatch]]:
    """Generated frames for what the captures rarely hold, as ``(name, batch)`` pairs.

    Truncations of a VXLAN frame at every header boundary, nested tunnels, VLAN / QinQ (outer
    and inner), IPv6 extension headers and fragments, SLL / SLL2 and raw IP link types, Geneve
    with options (critical and not) and without Ethernet, VXLAN-GPE, VXLAN group policy, ICMP
    and ICMPv6 errors quoting packets, neighbour discovery, IPv4 fragments and options.
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


# --------------------------------------------------------------------------------------------
# the allow-list: known, explained differences (the contract of the conformance test)
# --------------------------------------------------------------------------------------------

_CUT = (
    "header cut short (snap length or a malformed length): tshark shows the fields that "
    "were captured, fast and scapy reject the whole header with decode_layer"
)
_BIGTCP = "BIG TCP (IP length 0): tshark 4.0 stops at the outer UDP and never sees the VXLAN header"

ALLOWED: tuple[tuple[str, str, int | str, str, str], ...] = (
    # (engine whose pairs it concerns, source, frame or "*", column or "*", reason)
    ("tshark", "public/tcpdump/bigtcp-ipv4-vxlan-ipv4.pcap", 1, "*", _BIGTCP),
    ("tshark", "public/tcpdump/bigtcp-ipv6-vxlan-ipv6.pcap", 1, "*", _BIGTCP),
    (
        "tshark",
        "public/tcpdump/esp_truncated.pcap",
        1,
        "*",
        "UDP length 362 > the 50-byte IP payload: fast/scapy stop at UDP with decode_layer, "
        "tshark (told 8472 is VXLAN) shows a cut VXLAN header",
    ),
    (
        "tshark",
        "public/tcpdump/icmp-cksum-oobr-1.pcap",
        1,
        "*",
        "IPv4 total length 13911 > the 188-byte frame: fast/scapy reject the header, "
        "tshark dissects it anyway",
    ),
    (
        "tshark",
        "public/tcpdump/arp-too-long-tha.pcap",
        1,
        "*",
        "malformed ARP (hardware type 12336) in 802.1ad: fast/scapy decode only Ethernet/IPv4 "
        "ARP; tshark shows op and addresses, and names the 802.1ad tag ieee8021ad (no etype)",
    ),
    ("tshark", "public/zeek/trunc/ip6-trunc.pcap", 1, "*", _CUT),
    ("tshark", "generated/truncated-vxlan", "*", "*", _CUT),
    ("tshark", "generated/sll", 2, "*", _CUT),
    ("tshark", "generated/sll2", 2, "*", _CUT),
    ("tshark", "generated/raw-ip", 2, "*", _CUT),
    ("tshark", "generated/snaplen", 2, "*", _CUT),
    (
        "tshark",
        "generated/vxlan",
        4,
        "*",
        "VXLAN on UDP 33333 (no tunnel port): fast/scapy guess it (guess_tunnels), "
        "tshark never guesses",
    ),
)
"""Known differences; any other differing cell fails ``tests/engines/test_conformance.py``."""


def allowed(diff: Difference) -> str | None:
    """The reason ``diff`` is a known difference, or None when it is new."""
    engines = diff.pair.split("/")
    for engine, source, frame, column, reason in ALLOWED:
        if (
            engine in engines
            and source == diff.source
            and frame in ("*", diff.frame)
            and column in ("*", diff.column)
        ):
            return reason
    return None
