"""Pairing and journeys on real capture files: the shipped scenario and the public corpus."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from testpaths import CAPTURES, public_files

import vxlanlens
from vxlanlens.exchanges import exchanges, journeys

SCENARIO = CAPTURES / "cilium-dual-stack"
POD_PCAP, NODE_PCAP = SCENARIO / "pod-eth0.pcap", SCENARIO / "worker-eth0.pcap"
LXC = "a2:79:14:47:80:b3"
ROUTER = "fd00:10:244:1::22f1"


def packets(*paths: Path):  # type: ignore[no-untyped-def]
    return vxlanlens.read([str(p) for p in paths]).packets


def needs(*paths: Path) -> None:
    for p in paths:
        if not p.is_file():
            pytest.skip(f"{p} not built yet")


def test_pod_capture_ns_na_and_echo() -> None:
    needs(POD_PCAP)
    ex = exchanges(packets(POD_PCAP))
    nd = ex[ex["kind"] == "nd"]
    assert list(nd["status"]) == ["answered", "answered"]
    assert set(nd["target"]) == {ROUTER} and set(nd["responder_mac"]) == {LXC}
    assert list(nd["requester_ip"]) == ["fe80::4c5b:57ff:fe45:633b", "fd00:10:244:1::4749"]
    assert set(nd["nd_flags"]) == {"RS"} and set(nd["nd_lladdr"]) == {LXC}
    echo = ex[ex["kind"] == "echo"]
    assert len(echo) == 1
    r = echo.iloc[0]
    assert (r["status"], r["echo_id"], r["echo_seq"]) == ("answered", 44, 0)
    assert (r["request_frame"], r["reply_frame"]) == (5, 6)
    assert r["latency_s"] == pytest.approx(0.000607, abs=1e-9)
    assert len(ex) == 3


def _with_reply_vni(src: Path, dst: Path, frame: int, vni: int) -> None:
    """Copy a little-endian Ethernet/IPv4/UDP/VXLAN pcap, changing one frame's VNI."""
    data = bytearray(src.read_bytes())
    off, n = 24, 0
    while off < len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        n += 1
        if n == frame:
            vxlan = off + 16 + 14 + 20 + 8
            data[vxlan + 4 : vxlan + 7] = vni.to_bytes(3, "big")
        off += 16 + incl
    dst.write_bytes(bytes(data))


def test_node_capture_echo_paired_inside_vxlan(tmp_path: Path) -> None:
    needs(NODE_PCAP)
    ex = exchanges(packets(NODE_PCAP))
    r = ex[ex["kind"] == "echo"].iloc[0]
    assert (r["status"], r["request_frame"], r["reply_frame"]) == ("answered", 1, 2)
    assert bool(r["tunnelled"]) and r["vni_request"] > 0
    # the reply with another identity in its VNI, as between pods of different identities
    patched = tmp_path / "worker-eth0.pcap"
    _with_reply_vni(NODE_PCAP, patched, frame=2, vni=0x123456)
    ex2 = exchanges(packets(patched))
    r2 = ex2[ex2["kind"] == "echo"].iloc[0]
    assert r2["status"] == "answered" and r2["vni_reply"] == 0x123456
    assert r2["vni_request"] == r["vni_request"]


def test_pod_and_node_captures_one_journey() -> None:
    needs(POD_PCAP, NODE_PCAP)
    jr = journeys(packets(POD_PCAP, NODE_PCAP))
    request = jr[jr["key"].str.contains("echo-request")]
    assert request["journey"].nunique() == 1
    assert list(request["point"]) == ["pod-eth0", "worker-eth0"]
    assert list(request["frame_no"]) == [5, 1] and set(request["last_point"]) == {"worker-eth0"}
    assert list(request["tunnelled"]) == [False, True]
    reply = jr[jr["key"].str.contains("echo-reply")]
    assert list(reply["point"]) == ["worker-eth0", "pod-eth0"]
    # NS/NA never left the pod: one observation each
    assert set(jr[jr["key"].str.contains("neighbor")]["n_obs"]) == {1}


# --- public corpus against tshark -----------------------------------------------------------------

ECHO_FILES = public_files(
    "pcapplusplus/ICMPv6_echos.cap",
    "zeek/icmp/icmp6-ping.pcap",
    "zeek/communityid/icmp6.pcap",
    "zeek/linux_dlt_sll2.pcap",
    "zeek/tunnels/geneve.pcap",
    "zeek/tunnels/vxlan.pcap",
    "suricata-verify/geneve-decoder/input.pcap",
    "tcpdump/geneve.pcap",
    "tcpdump/vxlan.pcap",
    "tcpdump/vxlan_port_8472.pcap",
    "antrea/pr7000/capture.pcapng",
    "tx-gwlb-for-demo/geneve.pcap",
)
# Left out: pcapplusplus/pcapng-example.pcapng (its SYN/ACK is stamped 47 years after the SYN:
# tshark ignores time, we apply the timeout) and suricata-verify/bug-6402-01 (TCP inside GRE
# inside Geneve: the packets table's pod frame is the GRE packet).
TCP_FILES = public_files(
    "tcpdump/tcp-handshake-nano.pcap",
    "tcpdump/timestamp_invalid_nano.pcap",
    "tcpdump/geneve.pcap",
    "suricata-verify/decode-sll2-01/input.pcap",
    "suricata-verify/vxlan-decoder-03/vxlan.pcap",
    "suricata-verify/vxlan-non-zero-reserved-fields/input.pcap",
    "pcapplusplus/nanosecs_big_endian.pcap",
    "pcapplusplus/many_interfaces-1.pcapng",
    "zeek/tunnels/geneve-many-options.pcap",
    "antrea/pr7194/capture.pcapng",
    "tx-gwlb-for-demo/geneve.pcap",
)


def _tshark(tshark: str, path: Path, *fields: str) -> list[list[str]]:
    cmd = [tshark, "-2", "-r", str(path), "-d", "udp.port==8472,vxlan", "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [(line.split("\t") + [""] * len(fields))[: len(fields)] for line in out.splitlines()]


def _first(value: str) -> int | None:
    return int(value.split(",")[0]) if value else None


@pytest.mark.needs_tshark
@pytest.mark.parametrize("path", ECHO_FILES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_echo_pairs_as_tshark_resp_in(path: Path, tshark: str) -> None:
    rows = _tshark(
        tshark, path, "frame.number", "icmp.type", "icmpv6.type", "icmp.resp_in", "icmpv6.resp_in"
    )
    pairs, lonely = set(), set()
    for num, t4, t6, r4, r6 in rows:
        is_request = t4.split(",")[-1:] == ["8"] or t6.split(",")[-1:] == ["128"]
        resp = _first(r4) or _first(r6)
        if resp is not None:
            pairs.add((int(num), resp))
        elif is_request:
            lonely.add(int(num))
    ex = exchanges(packets(path), kinds=["echo"])
    ans = ex[ex["status"] == "answered"]
    assert set(zip(ans["request_frame"], ans["reply_frame"], strict=True)) == pairs
    no_reply = ex[ex["request_frame"].notna() & ex["reply_frame"].isna()]
    assert set(no_reply["request_frame"]) == lonely


@pytest.mark.needs_tshark
@pytest.mark.parametrize("path", TCP_FILES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_handshakes_pair_as_tshark_acks_frame(path: Path, tshark: str) -> None:
    fields = (
        "frame.number",
        "tcp.flags.syn",
        "tcp.flags.ack",
        "tcp.flags.reset",
        "tcp.analysis.acks_frame",
    )
    rows = _tshark(tshark, path, *fields)
    true = ("1", "True")
    syns = {
        int(r[0]) for r in rows if r[1].split(",")[-1] in true and r[2].split(",")[-1] not in true
    }
    pairs = set()
    for num, syn, ack, rst, acks in rows:
        answers = ack.split(",")[-1] in true and (
            syn.split(",")[-1] in true or rst.split(",")[-1] in true
        )
        if answers and _first(acks) in syns:
            pairs.add((_first(acks), int(num)))
    ex = exchanges(packets(path), kinds=["tcp"])
    ans = ex[ex["status"] == "answered"]
    assert set(zip(ans["request_frame"], ans["reply_frame"], strict=True)) == pairs
    assert set(ex["request_frame"].dropna()) <= syns
