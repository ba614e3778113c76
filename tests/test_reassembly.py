"""IP reassembly (vxlanlens.reassembly, applied when the packets table is built)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from craft import pcap_header, pcap_record, write_pcap
from scapy.layers.inet import ICMP, IP, UDP, fragment
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN

import vxlanlens
from vxlanlens import parallel
from vxlanlens.reassembly import MAX_FRAGMENTS

NODE_A, NODE_B = "192.0.2.10", "192.0.2.20"
POD_A, POD_B = "10.9.1.5", "10.9.2.7"
POD6_A, POD6_B = "fd00:9:1::5", "fd00:9:2::7"
ETH = dict(src="02:00:00:00:00:0a", dst="02:00:00:00:00:14")
INNER = dict(src="0a:58:0a:09:01:05", dst="0a:58:0a:09:02:07")


def _inner4(size: int = 1500, seq: int = 1, ident: int = 77) -> IP:
    payload = bytes(i % 251 for i in range(size - 28))  # no two 8-byte blocks alike nearby
    return IP(src=POD_A, dst=POD_B, id=ident, flags="DF") / ICMP(id=9, seq=seq) / payload


def _tunnel(inner: object, ident: int = 4000, sport: int = 40000) -> Ether:
    return (
        Ether(**ETH)
        / IP(src=NODE_A, dst=NODE_B, id=ident, flags=0)
        / UDP(sport=sport, dport=8472)
        / VXLAN(vni=1234, flags=0x08)
        / Ether(**INNER)
        / inner
    )


def _outer_fragments(pkt: Ether, size: int = 1480) -> list[bytes]:
    """``pkt``'s outer IPv4 packet in fragments of at most ``size`` payload bytes."""
    frags = fragment(pkt[IP], fragsize=size)
    return [bytes(Ether(**ETH) / f) for f in frags]


def _read(tmp_path: Path, frames: list[bytes], times: list[int] | None = None, **kw: object):
    times = times or [1_000_000 + 100 * i for i in range(len(frames))]
    path = write_pcap(tmp_path / "frag.pcap", list(zip(times, frames, strict=True)))
    return vxlanlens.read(str(path), **kw).packets


def test_outer_fragments_reassembled_on_the_last(tmp_path: Path) -> None:
    frames = _outer_fragments(_tunnel(_inner4()))
    assert len(frames) == 2
    df = _read(tmp_path, frames)
    first, last = df.iloc[0], df.iloc[1]
    # the first fragment stops at its IP header and points to the holding row
    assert pd.isna(first["tunnel"]) and pd.isna(first["sport"]) and pd.isna(first["decode_error"])
    assert first["reassembled_in"] == 2 and bool(first["more_fragments"])
    # the last fragment holds the whole tunnel packet, with its own outer fragment fields
    assert last["tunnel"] == "vxlan" and last["vni"] == 1234
    assert last["outer_src_ip"] == NODE_A and last["outer_dport"] == 8472
    assert last["outer_frag_offset"] == 1480 and not last["outer_more_fragments"]
    assert last["src_ip"] == POD_A and last["icmp_type"] == 8 and last["echo_seq"] == 1
    assert last["ip_len"] == 1500 and bool(last["dont_fragment"])
    assert (last["frag_count"], last["frag_first"], last["reassembled_in"]) == (2, 1, 2)
    assert last["reasm_len"] == 1500 + 50
    assert df["decode_error"].isna().all()


def test_out_of_order_and_duplicate_fragments(tmp_path: Path) -> None:
    a, b, c = _outer_fragments(_tunnel(_inner4(2000)), size=800)
    df = _read(tmp_path, [c, a, a, b])
    holder = df[df["frag_count"].notna()]
    assert holder["frame_no"].tolist() == [4]
    assert holder["frag_count"].iloc[0] == 4 and holder["frag_first"].iloc[0] == 1
    assert holder["echo_seq"].iloc[0] == 1 and holder["ip_len"].iloc[0] == 2000
    assert df["reassembled_in"].tolist() == [4, 4, 4, 4]
    assert df["decode_error"].isna().all()


def test_inner_fragments_each_encapsulated(tmp_path: Path) -> None:
    """A pod fragments its packet itself; each fragment crosses the tunnel on its own."""
    inner = IP(src=POD_A, dst=POD_B, id=55) / ICMP(id=9, seq=3) / (b"y" * 2972)
    frames = [
        bytes(_tunnel(f, ident=100 + i, sport=40000 + i))
        for i, f in enumerate(fragment(inner, 1400))
    ]
    df = _read(tmp_path, frames)
    holder = df.iloc[-1]
    assert holder["frag_count"] == len(frames) == 3
    assert holder["icmp_type"] == 8 and holder["echo_seq"] == 3 and holder["reasm_len"] == 3000
    # its own fragment and its own encapsulation
    assert holder["frag_offset"] == 2800 and holder["outer_sport"] == 40002
    assert holder["ip_len"] == 3000 - 2800
    assert df.iloc[0]["tunnel"] == "vxlan" and pd.isna(df.iloc[0]["icmp_type"])


def test_ipv6_fragments(tmp_path: Path) -> None:
    pkt = (
        IPv6(src=POD6_A, dst=POD6_B)
        / IPv6ExtHdrFragment(id=0xABCDEF)
        / ICMPv6EchoRequest(id=5, seq=7, data=b"z" * 2400)
    )
    frames = [bytes(_tunnel(f)) for f in fragment6(pkt, 1280)]
    df = _read(tmp_path, frames)
    holder = df[df["frag_count"].notna()].iloc[0]
    assert holder["icmp_type"] == 128 and holder["echo_seq"] == 7
    assert holder["reasm_len"] == 40 + 8 + 2400
    assert "fragment" in str(holder["ip6_ext"])
    assert df["decode_error"].isna().all()


def test_incomplete_set_is_a_decode_error_that_keeps_fields(tmp_path: Path) -> None:
    first, _ = _outer_fragments(_tunnel(_inner4()))
    df = _read(tmp_path, [first])
    row = df.iloc[0]
    assert row["decode_layer"] == "ipv4"
    assert "not reassembled" in row["decode_error"] and "missing" in row["decode_error"]
    assert pd.isna(row["reassembled_in"])
    assert row["src_ip"] == NODE_A  # what was decoded stays


def test_overlap_that_disagrees(tmp_path: Path) -> None:
    a, b = _outer_fragments(_tunnel(_inner4()))
    ident = Ether(a)[IP].id
    evil = Ether(**ETH) / IP(src=NODE_A, dst=NODE_B, id=ident, proto=17, flags="MF", frag=1400 // 8)
    evil = evil / (b"\xff" * 80)  # bytes 1400-1479 again, other values
    df = _read(tmp_path, [a, bytes(evil), b])
    assert (df["decode_layer"] == "ipv4").all()
    assert df["decode_error"].str.contains("disagree").all()
    assert df["frag_count"].isna().all()


def test_timeout_starts_a_new_set(tmp_path: Path) -> None:
    a, b = _outer_fragments(_tunnel(_inner4()))
    df = _read(tmp_path, [a, b], times=[1_000_000, 40_000_000])
    assert df["frag_count"].isna().all()
    assert df["decode_error"].str.contains("30 s").iloc[0]


def test_copies_on_two_interfaces_reassembled_separately(tmp_path: Path) -> None:
    """Fragments of one packet seen on two interfaces are two observations, not duplicates."""
    a, b = _outer_fragments(_tunnel(_inner4()))
    other = ETH | {"src": "02:00:00:00:00:99"}
    a2, b2 = (bytes(Ether(**other) / Ether(f)[IP]) for f in (a, b))
    path = tmp_path / "two.pcapng"
    from scapy.utils import PcapNgWriter

    w = PcapNgWriter(str(path))
    for i, f in enumerate([a, a2, b, b2]):
        p = Ether(f)
        p.time = 1 + i / 1000
        p.sniffed_on = "eth0" if i % 2 == 0 else "eth1"
        w.write(p)
    w.close()
    df = vxlanlens.read(str(path)).packets
    assert df["frag_count"].notna().sum() == 2, df[["frame_no", "interface", "frag_count"]]


def test_too_many_fragments(tmp_path: Path) -> None:
    inner = _inner4(9000)
    frags = _outer_fragments(_tunnel(inner), size=8)
    assert len(frags) > MAX_FRAGMENTS
    df = _read(tmp_path, frags)
    assert df["frag_count"].isna().all()
    assert df["decode_error"].str.contains(f"more than {MAX_FRAGMENTS}").any()


def test_reassembly_can_be_turned_off(tmp_path: Path) -> None:
    frames = _outer_fragments(_tunnel(_inner4()))
    path = write_pcap(tmp_path / "off.pcap", [(1_000_000 + i, f) for i, f in enumerate(frames)])
    df = vxlanlens.read(str(path), reassemble=False).packets
    assert df["reassembled_in"].isna().all()
    assert df.iloc[0]["decode_layer"] == "udp"  # the first fragment, dissected on its own


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_split_reading_reassembles_across_parts(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fragments of one packet read by two processes (a part boundary between them) are
    reassembled as in one process."""
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)  # split this small file too
    seen: list[parallel.SplitResult] = []
    real = parallel.read_split

    def spy(*args: object, **kwargs: object) -> parallel.SplitResult:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(result)
        return result

    monkeypatch.setattr("vxlanlens.capture.read_split", spy)
    frames = []
    for seq in range(401):  # an odd number of 2-fragment packets: parts cut a set
        frames += _outer_fragments(_tunnel(_inner4(seq=seq, ident=seq), ident=seq))
    path = write_pcap(tmp_path / "many.pcap", [(1_000_000 + i, f) for i, f in enumerate(frames)])
    df = vxlanlens.read(str(path), workers=workers).packets
    assert df["frag_count"].notna().sum() == 401
    assert sorted(df["echo_seq"].dropna().astype(int)) == list(range(401))
    assert df["decode_error"].isna().all()
    if workers > 1:
        assert seen and seen[0].parts_used == workers - 1


def test_stream_reassembles_across_batches(tmp_path: Path) -> None:
    """A set split by a batch boundary is carried into the next batch, not left incomplete."""
    frames = []
    for seq in range(30):
        frames += _outer_fragments(_tunnel(_inner4(seq=seq, ident=seq), ident=seq))
    path = write_pcap(tmp_path / "s.pcap", [(1_000_000 + i, f) for i, f in enumerate(frames)])
    whole = vxlanlens.read(str(path)).packets
    parts = list(vxlanlens.iter_batches(str(path), batch_frames=7))  # 7: odd, cuts sets
    streamed = pd.concat(parts, ignore_index=True)
    assert len(streamed) == len(whole) == 60
    assert streamed["decode_error"].isna().all()
    assert streamed["frame_no"].tolist() == whole["frame_no"].tolist()
    for col in ("reassembled_in", "frag_count", "echo_seq", "tunnel"):
        assert streamed[col].astype(object).tolist() == whole[col].astype(object).tolist(), col


_WATCH_CHILD = """
from vxlanlens.watch import watch
for e in watch("-", timeout_s=5.0, tick_s=0.05):
    print(e.id, flush=True)
print("end", flush=True)
"""


def test_watch_waits_for_the_rest_of_a_fragmented_reply() -> None:
    """The fragments of a reply reach a live stream a second apart: the reply is reassembled
    and answers its request (no echo-unanswered)."""
    request = bytes(_tunnel(_inner4(100, seq=5)))
    reply_inner = (
        IP(src=POD_B, dst=POD_A, id=78)
        / ICMP(type=0, id=9, seq=5)
        / bytes(i % 251 for i in range(100 - 28))
    )
    reply = (
        Ether(**ETH)
        / IP(src=NODE_B, dst=NODE_A, id=99, flags=0)
        / UDP(sport=40001, dport=8472)
        / VXLAN(vni=4321, flags=0x08)
        / Ether(src=INNER["dst"], dst=INNER["src"])
        / reply_inner
    )
    frag_a, frag_b = (bytes(Ether(**ETH) / f) for f in fragment(reply[IP], fragsize=80))
    child = subprocess.Popen(
        [sys.executable, "-c", _WATCH_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(pcap_header(snaplen=262144))
    child.stdin.write(pcap_record(request, sec=1, sub=0))
    child.stdin.write(pcap_record(frag_a, sec=1, sub=100))
    child.stdin.flush()
    time.sleep(1.0)  # several ticks: the first fragment is decoded long before the last comes
    child.stdin.write(pcap_record(frag_b, sec=1, sub=200))
    child.stdin.close()
    out = child.stdout.read().decode().split()
    assert child.wait(timeout=60) == 0
    assert out[-1] == "end" and [e for e in out if "unanswered" in e] == []


@pytest.mark.parametrize("command", ["packets", "explain"])
def test_cli_no_reassemble(command: str) -> None:
    """--no-reassemble gives the per-frame view on every command, streaming ones included."""
    from click.testing import CliRunner
    from testpaths import CAPTURES

    from vxlanlens.cli import cli

    cap = str(CAPTURES / "lab-mtu-outer-frag" / "node-worker-eth0.pcap")
    args = [command, cap, "-f", "json"]
    on = CliRunner().invoke(cli, args, catch_exceptions=False)
    off = CliRunner().invoke(cli, [*args, "--no-reassemble"], catch_exceptions=False)
    assert on.exit_code == off.exit_code == 0
    if command == "packets":
        assert '"reassembled_in":4' in on.stdout and '"reassembled_in":4' not in off.stdout
        assert "UDP length 1530 exceeds" in off.stdout and "UDP length" not in on.stdout
    else:
        assert '"echo_answered": 6' in on.stdout and '"echo_answered": 6' not in off.stdout
        md = CliRunner().invoke(cli, [command, cap, "-f", "md", "--no-reassemble"])
        assert "node-worker-eth0.pcap --no-reassemble" in md.stdout  # the reproduce line
