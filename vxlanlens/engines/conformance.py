"""Cross-engine conformance: the packets table of each engine, compared column by column.

Used by ``tests/engines/test_conformance.py`` and ``scripts/conformance.py`` (which writes
``docs/conformance.md``); both also compare the generated frames of ``tests/edgecases.py``. Record columns (capture, frame_no, ts, lengths, interface, comment)
come from the shared reader and are not compared; ``decode_error`` is each engine's own text
and is not compared either; a column an engine leaves null by design (``NOT_DECODED``) is not
compared for that engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
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
    """The series' values as None, or plain Python scalars."""
    out: list[Any] = []
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
    """The packets table of each engine for the same record batches, frame by frame (IP
    reassembly off: the other engines dissect every frame on its own)."""
    opts = replace(options or DecodeOptions(), reassemble=False)
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
# the allow-list: known, explained differences (the contract of the conformance test)
# --------------------------------------------------------------------------------------------

_CUT = (
    "header cut short (snap length or a malformed length): tshark shows the fields that "
    "were captured, fast and scapy reject the whole header with decode_layer"
)
_BIGTCP = "BIG TCP (IP length 0): tshark 4.0 stops at the outer UDP and never sees the VXLAN header"

_OUTER_FRAG = (
    "outer IPv4 fragments of VXLAN packets, compared frame by frame (reassembly off): the first "
    "fragment's UDP length exceeds the fragment, so fast/scapy stop at UDP with decode_layer "
    "while tshark dissects the cut VXLAN packet (with reassembly on, tests/"
    "test_conformance_tshark.py compares vxlanlens' reassembly with tshark's)"
)

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
    *(
        ("tshark", f"captures/lab-mtu-outer-frag/{name}.pcap", "*", "*", _OUTER_FRAG)
        for name in ("node-worker-any", "node-worker-eth0", "node-worker2-any", "node-worker2-eth0")
    ),
    (
        "tshark",
        "captures/lab-mtu-outer-df/node-worker-any.pcap",
        "*",
        "*",
        "ICMP fragmentation-needed on lo quoting a whole VXLAN packet: tshark dissects the quoted "
        "UDP/VXLAN and its inner frame into the tunnel fields; vxlanlens keeps the quote in the "
        "emb_* columns and leaves the outer_* ones empty",
    ),
    *(
        (
            "tshark",
            f"captures/lab-{cni}-port-mismatch/{name}.pcap",
            frame,
            "*",
            "ICMP port unreachable quoting a whole VXLAN packet (the peer's VXLAN port differs): "
            "tshark dissects the quoted UDP/VXLAN and its inner frame into the tunnel fields; "
            "vxlanlens keeps the quote in the emb_* columns",
        )
        for cni, name, frame in (
            ("flannel", "node-worker-any", 11),
            ("flannel", "node-worker-eth0", 4),
            ("flannel", "node-worker2-any", 4),
            ("flannel", "node-worker2-eth0", 4),
            ("calico", "node-worker-any", 8),
            ("calico", "node-worker-eth0", 4),
            ("calico", "node-worker2-any", 4),
            ("calico", "node-worker2-eth0", 4),
            ("calico-ipv6", "node-worker-any", 8),
            ("calico-ipv6", "node-worker-eth0", 4),
            ("calico-ipv6", "node-worker2-any", 4),
            ("calico-ipv6", "node-worker2-eth0", 4),
        )
    ),
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
