"""The compiled common paths (``decode/_fast.c``) give what the stages give, record for record.

Every comparison decodes the same records twice, with :func:`_decode_stages` (the reference)
and with :func:`decode_batch` (compiled where it can, the stages for the rest), and compares
every column of every row, texts included.
"""

from __future__ import annotations

import random
import struct
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from craft import rows, shipped_frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.all import (
    ARP,
    ICMP,
    IP,
    TCP,
    UDP,
    Dot1Q,
    Ether,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    raw,
)
from scapy.contrib.geneve import GENEVE
from scapy.layers.vxlan import VXLAN
from testpaths import CAPTURES, public_files

import vxlanlens
from vxlanlens.decode import DecodedBatch, DecodeOptions, decode_batch, stack
from vxlanlens.read.records import RecordBatch
from vxlanlens.schema import COLUMNS

pytestmark = pytest.mark.skipif(not stack.COMPILED, reason="the compiled decoder is not built")

POD, LXC = "4e:5b:57:45:63:3b", "a2:79:14:47:80:b3"
V6A, V6B = "fd00:10:244:1::4749", "fd00:10:244:2::9461"


def _vx(inner, dport: int = 8472, flags: int = 0x08, ip=None) -> bytes:
    outer = ip if ip is not None else IP(src="172.18.0.3", dst="172.18.0.4", flags="DF")
    return raw(
        Ether(src="02:42:ac:12:00:03", dst="02:42:ac:12:00:04")
        / outer
        / UDP(sport=40000, dport=dport)
        / VXLAN(flags=flags, vni=4567)
        / inner
    )


_E = Ether(src=POD, dst=LXC)
_POD6 = Ether(src=POD, dst=LXC) / IPv6(src=V6A, dst=V6B)
_POD4 = Ether(src=POD, dst=LXC) / IP(src="10.0.1.5", dst="10.0.2.7", id=77)
TEMPLATES = [
    _vx(
        Ether(src=POD, dst="33:33:ff:00:22:f1")
        / IPv6(src=V6A, dst="ff02::1:ff00:22f1", hlim=255)
        / ICMPv6ND_NS(tgt=V6B)
        / ICMPv6NDOptSrcLLAddr(lladdr=POD)
    ),
    _vx(
        Ether(src=LXC, dst=POD)
        / IPv6(src=V6B, dst=V6A, hlim=255)
        / ICMPv6ND_NA(tgt=V6B, R=0, S=1, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=LXC)
        / ICMPv6NDOptSrcLLAddr(lladdr=POD)
    ),
    _vx(_POD6 / ICMPv6EchoRequest(id=44, seq=3, data=b"x" * 40)),
    _vx(_POD6 / ICMPv6EchoReply(id=44, seq=3), ip=IPv6(src="fc00::3", dst="fc00::4")),
    _vx(_POD6 / ICMPv6MLReport2()),
    _vx(_POD4 / TCP(sport=43210, dport=80, flags="S", options=[("MSS", 1410)])),
    _vx(_POD4 / ICMP(type=8, id=9, seq=2) / b"ping", dport=4789),
    _vx(_POD4 / ICMP(type=13, id=9, seq=2)),
    _vx(_POD4 / UDP(sport=5353, dport=53) / (b"\x12\x34" * 10)),
    _vx(Ether(src=POD, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=POD, psrc="10.0.1.5", pdst="10.0.1.1")),
    _vx(_POD4 / TCP(sport=1, dport=2), flags=0x88),  # group policy
    _vx(_POD4 / TCP(sport=1, dport=2), dport=9999),  # on no tunnel port: the guess
    _vx(_POD4 / ICMP(type=3, code=4) / IP(dst="10.9.9.9") / UDP()),  # an error: stages
    raw(_E / IP(src="192.0.2.1", dst="192.0.2.2") / TCP(flags="PA") / b"data"),
    raw(_E / IP(src="192.0.2.1", dst="192.0.2.2", options=b"\x01" * 4) / TCP()),
    raw(_E / IP(flags="MF", frag=0) / UDP() / (b"a" * 16)),
    raw(_E / IPv6() / UDP(sport=53, dport=5353) / (b"z" * 8)),
    raw(_E / Dot1Q(vlan=7) / IP() / ICMP()),
    raw(_E / ARP(op=2, hwsrc=POD, hwdst=LXC, psrc="10.0.0.1", pdst="10.0.0.2")),
    raw(Ether(src=POD, dst=LXC, type=0x88CC) / (b"\x02\x07\x04" + b"\x00" * 40)),
    raw(_E / IP() / UDP(sport=5000, dport=6081) / GENEVE(proto=0x6558) / _POD4 / ICMP()),
    raw(_E / IP(proto=89) / (b"\x00" * 24)),
    # Geneve: options (left to the stages), critical, IPv4 and ARP right after it, on 8472
    raw(_E / IP() / UDP(dport=6081) / GENEVE(optionlen=1, options=b"\x01\x02\x80\x00") / _POD6),
    raw(_E / IP() / UDP(dport=6081) / GENEVE(critical=1, vni=77) / _POD4 / UDP(dport=6081)),
    raw(_E / IPv6() / UDP(sport=6081) / GENEVE(proto=0x0800) / IP() / TCP()),
    raw(_E / IP() / UDP(dport=6081) / GENEVE(proto=0x0806) / ARP(hwsrc=POD, hwdst=LXC)),
    raw(_E / IP() / UDP(dport=8472) / GENEVE(proto=0x86DD) / IPv6() / ICMPv6EchoRequest()),
    raw(_E / IP() / UDP(dport=6081) / GENEVE(proto=0x88CC) / (b"\0" * 30)),
]
TEMPLATES += [t + bytes(range(1, 13)) for t in TEMPLATES]  # an Ethernet trailer after each

_MAC = bytes.fromhex("4e5b5745633b")


def _sll(frame: bytes, pkt_type: int = 4, hatype: int = 1) -> bytes:
    """Linux SLL (v1) header in place of the Ethernet header of ``frame``."""
    return struct.pack(">HHH8s", pkt_type, hatype, 6, _MAC + b"\0\0") + frame[12:]


def _sll2(frame: bytes, pkt_type: int = 0, hatype: int = 1, ifindex: int = 7) -> bytes:
    """Linux SLL2 header in place of the Ethernet header of ``frame``."""
    head = struct.pack(">HIHBB8s", 0, ifindex, hatype, pkt_type, 6, _MAC + b"\0\0")
    return frame[12:14] + head + frame[14:]


COOKED = {
    113: [_sll(t, pkt_type=k % 5) for k, t in enumerate(TEMPLATES[:12])]
    + [_sll(TEMPLATES[0], hatype=824), _sll(TEMPLATES[0][:12] + b"\x00\x04" + b"\0" * 20)],
    276: [_sll2(t, pkt_type=k % 8, ifindex=k) for k, t in enumerate(TEMPLATES[:12])]
    + [_sll2(TEMPLATES[0], hatype=824), _sll2(TEMPLATES[1], pkt_type=42)],
}


def test_every_byte_of_every_template_changed() -> None:
    # Each byte of the headers set to values that change what a check decides, one at a time.
    frames = []
    for t in TEMPLATES:
        for at in range(min(len(t), 150)):
            b = t[at]
            for v in {
                0,
                1,
                0x08,
                0x45,
                0x60,
                0x80,
                0xFF,
                b ^ 1,
                b ^ 0x80,
                (b + 1) & 0xFF,
                (b - 1) & 0xFF,
            }:
                frames.append(t[:at] + bytes([v]) + t[at + 1 :])
    _compare(_batch(frames))


def _columns(db: DecodedBatch) -> dict[str, tuple[list, list]]:
    """Every decoder column as (validity, values with null as 0 / None), absent ones null."""
    out: dict[str, tuple[list, list]] = {}
    n = db.n
    for c in COLUMNS:
        if c.kind == "record":
            continue
        if c.kind in ("int", "bool", "mac"):
            v, m = {"int": db.ints, "bool": db.bools, "mac": db.macs}[c.kind].get(
                c.name, (np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=bool))
            )
            out[c.name] = (m.tolist(), np.where(m, v.astype(np.uint64), 0).tolist())
        elif c.kind == "ip":
            a, fam = db.ips.get(c.name, (np.zeros((n, 16), np.uint8), np.zeros(n, np.uint8)))
            out[c.name] = (fam.tolist(), [bytes(x) for x in a * (fam > 0)[:, None]])
        else:
            out[c.name] = ([], db.text(c.name).tolist())
    return out


def _compare(batch: RecordBatch, options: DecodeOptions | None = None) -> None:
    o = options or DecodeOptions()
    got = decode_batch(batch, o)
    got.check()
    want = stack._decode_stages(batch, o)
    g, w = _columns(got), _columns(want)
    for name in w:
        if g[name] != w[name]:  # name the first row that differs
            i = next(
                i
                for i in range(batch.offsets.size)
                if [x[i] for x in g[name] if x] != [x[i] for x in w[name] if x]
            )
            raise AssertionError(f"{name}, row {i}: {rows(got)[i]} != {rows(want)[i]}")
    gf, wf = got.fragments, want.fragments
    assert (gf is None) == (wf is None)
    if gf is not None and wf is not None:
        for name in ("rows", "ip_at", "hdr_at", "outer_ip_at", "outer_udp_at"):
            assert getattr(gf, name).tolist() == getattr(wf, name).tolist(), name


def _batch(frames: list[bytes], wire: list[int] | None = None) -> RecordBatch:
    return RecordBatch.from_frames(frames, wire_len=wire)


def test_the_templates_decode_as_the_stages_decode_them() -> None:
    _compare(_batch(TEMPLATES))


def test_the_common_paths_are_compiled() -> None:
    # The first dozen templates, also in SLL and SLL2, take only the paths of _fast.c: none is
    # left to the stages.
    calls: list[list[int]] = []
    real = stack._decode_stages

    def spy(batch: RecordBatch, options: DecodeOptions):  # type: ignore[no-untyped-def]
        calls.append(batch.frame_no.tolist())
        return real(batch, options)

    stack._decode_stages = spy  # type: ignore[assignment]
    try:
        decode_batch(_batch(TEMPLATES[:12]))
        for linktype, frames in COOKED.items():
            b = _batch(frames)
            decode_batch(replace(b, linktype=np.full(len(frames), linktype, dtype=np.int64)))
        assert calls == []
        decode_batch(_batch(TEMPLATES[:22]))
        # Left to the stages: the ICMP error, IPv4 options, a fragment, a VLAN tag.
        assert calls == [[13, 15, 16, 18]]
        calls.clear()
        decode_batch(_batch(TEMPLATES[22:28]))
        assert calls == [[1]]  # Geneve with options
    finally:
        stack._decode_stages = real  # type: ignore[assignment]


@pytest.mark.parametrize("linktype", [113, 276], ids=["sll", "sll2"])
def test_every_byte_of_cooked_captures_changed(linktype: int) -> None:
    frames = []
    for t in COOKED[linktype]:
        frames.append(t)
        for at in range(min(len(t), 100)):
            for v in {0, 1, 6, 0x08, 0x81, 0xFF, t[at] ^ 1}:
                frames.append(t[:at] + bytes([v]) + t[at + 1 :])
    b = _batch(frames)
    _compare(replace(b, linktype=np.full(len(frames), linktype, dtype=np.int64)))


@pytest.mark.parametrize(
    "options",
    [
        DecodeOptions(guess_tunnels=False),
        DecodeOptions(max_tunnel_depth=0),
        DecodeOptions(max_tunnel_depth=1),
        DecodeOptions().with_ports(vxlan=(9999,)),
        DecodeOptions().with_ports(gpe=(8472,), geneve=(4789,)),
        DecodeOptions(reassemble=False, stop_at_fragments=True),
    ],
    ids=["no-guess", "depth-0", "depth-1", "port-9999", "ports-overlap", "fragments"],
)
def test_options_are_honoured(options: DecodeOptions) -> None:
    _compare(_batch(TEMPLATES), options)


def test_every_cut_of_every_template() -> None:
    cuts = [t[:k] for t in TEMPLATES for k in range(len(t) + 1)]
    _compare(_batch(cuts))  # really that short
    wire = [len(t) for t in TEMPLATES for _ in range(len(t) + 1)]
    _compare(_batch(cuts, wire))  # cut by the snap length


def _mutate(rng: random.Random, frame: bytes) -> tuple[bytes, int]:
    b = bytearray(frame)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(min(len(b), 140))
        b[at] = rng.choice((0, 1, 4, 6, 8, 0x11, 0x45, 0x60, 0x80, 0x88, 0xFF, rng.randrange(256)))
    if rng.random() < 0.2:
        b = b[: rng.randrange(len(b) + 1)]
    wire = len(b) + (rng.choice((0, 0, 10, 1000)) if rng.random() < 0.3 else 0)
    return bytes(b), wire


def test_mutated_frames_seeded() -> None:
    rng = random.Random(20261206)
    sources = TEMPLATES + shipped_frames()[:400]
    frames, wire = [], []
    for _ in range(6000):
        f, w = _mutate(rng, rng.choice(sources))
        frames.append(f)
        wire.append(w)
    _compare(_batch(frames, wire))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(
        st.tuples(
            st.integers(0, len(TEMPLATES) - 1),
            st.lists(st.tuples(st.integers(0, 139), st.integers(0, 255)), max_size=4),
            st.integers(0, 300),
            st.sampled_from([0, 0, 1, 64, 2000]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_mutated_frames(picks: list[tuple[int, list[tuple[int, int]], int, int]]) -> None:
    frames, wire = [], []
    for t, flips, cut, extra in picks:
        b = bytearray(TEMPLATES[t])
        for at, v in flips:
            if at < len(b):
                b[at] = v
        b = b[: len(b) - cut] if cut < len(b) else b
        frames.append(bytes(b))
        wire.append(len(b) + extra)
    _compare(_batch(frames, wire))


def _table(path: object) -> pd.DataFrame | str:
    try:
        return vxlanlens.read([path], workers=1).packets
    except vxlanlens.VxlanlensError as e:  # a capture the reader rejects: the same message
        return str(e)


def _same_tables(path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(stack, "_fast", None)
        want = _table(path)
    got = _table(path)
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
    else:
        pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CAPTURES.glob("*/*") if p.suffix in (".pcap", ".pcapng")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_shipped_captures_give_the_same_table(
    path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    _same_tables(path, monkeypatch)


@pytest.mark.corpus
@pytest.mark.parametrize("path", public_files(), ids=lambda p: p.name)
def test_public_captures_give_the_same_table(path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    _same_tables(path, monkeypatch)


def test_records_left_to_the_stages_keep_their_rows_and_order() -> None:
    # Compiled and stage-decoded records interleaved, several of each, fragments among them.
    frag = raw(_E / IP(id=5, flags="MF") / UDP(sport=1, dport=2) / (b"a" * 32))
    frames = [TEMPLATES[i % 12] if i % 3 else frag for i in range(30)]
    _compare(_batch(frames))
    db = decode_batch(_batch(frames))
    assert db.fragments is not None
    assert db.fragments.rows.tolist() == list(range(0, 30, 3))


def test_a_batch_with_one_link_type_per_record() -> None:
    b = _batch(TEMPLATES[:6])
    _compare(replace(b, linktype=np.array([1, 113, 1, 276, 1, 101], dtype=np.int64)))
