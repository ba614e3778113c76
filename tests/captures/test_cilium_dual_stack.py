"""The shipped reference captures in ``captures/cilium-dual-stack``: reproducible, and what
tshark and tcpdump show of them is exactly the walkthrough's scenario."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "captures" / "cilium-dual-stack"
POD = SCENARIO / "pod-eth0.pcap"
WORKER = SCENARIO / "worker-eth0.pcap"

# The walkthrough's `tcpdump -pne -i eth0` output inside pod cni-7t9p4.
WALKTHROUGH = """\
07:44:28.594775 4e:5b:57:45:63:3b > 33:33:ff:00:22:f1, ethertype IPv6 (0x86dd), length 86: fe80::4c5b:57ff:fe45:633b > ff02::1:ff00:22f1: ICMP6, neighbor solicitation, who has fd00:10:244:1::22f1, length 32
07:44:28.594812 a2:79:14:47:80:b3 > 4e:5b:57:45:63:3b, ethertype IPv6 (0x86dd), length 86: fd00:10:244:1::22f1 > fe80::4c5b:57ff:fe45:633b: ICMP6, neighbor advertisement, tgt is fd00:10:244:1::22f1, length 32
07:44:28.594846 4e:5b:57:45:63:3b > 33:33:ff:00:22:f1, ethertype IPv6 (0x86dd), length 86: fd00:10:244:1::4749 > ff02::1:ff00:22f1: ICMP6, neighbor solicitation, who has fd00:10:244:1::22f1, length 32
07:44:28.594851 a2:79:14:47:80:b3 > 4e:5b:57:45:63:3b, ethertype IPv6 (0x86dd), length 86: fd00:10:244:1::22f1 > fd00:10:244:1::4749: ICMP6, neighbor advertisement, tgt is fd00:10:244:1::22f1, length 32
07:44:28.594856 4e:5b:57:45:63:3b > a2:79:14:47:80:b3, ethertype IPv6 (0x86dd), length 118: fd00:10:244:1::4749 > fd00:10:244:2::9461: ICMP6, echo request, id 44, seq 0, length 64
07:44:28.595463 a2:79:14:47:80:b3 > 4e:5b:57:45:63:3b, ethertype IPv6 (0x86dd), length 118: fd00:10:244:2::9461 > fd00:10:244:1::4749: ICMP6, echo reply, id 44, seq 0, length 64
""".splitlines()

POD_MAC, LXC_MAC = "4e:5b:57:45:63:3b", "a2:79:14:47:80:b3"
REMOTE_MAC = "b6:61:48:ae:63:f5"
LL, POD_IP, ROUTER, REMOTE_IP = (
    "fe80::4c5b:57ff:fe45:633b",
    "fd00:10:244:1::4749",
    "fd00:10:244:1::22f1",
    "fd00:10:244:2::9461",
)

FIELDS = [
    "frame.len",
    "eth.src",
    "eth.dst",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ip.flags.df",
    "udp.srcport",
    "udp.dstport",
    "udp.checksum",
    "vxlan.flags",
    "vxlan.vni",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.checksum.status",
    "icmpv6.nd.na.flag.r",
    "icmpv6.nd.na.flag.s",
    "icmpv6.nd.na.flag.o",
    "icmpv6.nd.ns.target_address",
    "icmpv6.nd.na.target_address",
    "icmpv6.opt.type",
    "icmpv6.opt.linkaddr",
    "icmpv6.echo.identifier",
    "icmpv6.echo.sequence_number",
    "data.len",
    "frame.time_epoch",
]


def _tshark_rows(tshark: str, path: Path) -> list[dict[str, str]]:
    """One dict per frame: tshark field name -> its text (occurrences comma-joined)."""
    cmd = [
        tshark,
        "-r",
        str(path),
        "-d",
        "udp.port==8472,vxlan",
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
    ]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def test_build_is_byte_identical(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SCENARIO / "build.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("pod-eth0.pcap", "worker-eth0.pcap"):
        assert (tmp_path / name).read_bytes() == (SCENARIO / name).read_bytes(), name


def test_pod_capture_fields(tshark: str) -> None:
    rows = _tshark_rows(tshark, POD)
    assert len(rows) == 6
    ns1, na1, ns2, na2, req, rep = rows
    for ns, src in ((ns1, LL), (ns2, POD_IP)):
        assert (ns["eth.src"], ns["eth.dst"]) == (POD_MAC, "33:33:ff:00:22:f1")
        assert (ns["ipv6.src"], ns["ipv6.dst"], ns["ipv6.hlim"]) == (
            src,
            "ff02::1:ff00:22f1",
            "255",
        )
        assert (ns["icmpv6.type"], ns["icmpv6.code"]) == ("135", "0")
        assert ns["icmpv6.nd.ns.target_address"] == ROUTER
        assert (ns["icmpv6.opt.type"], ns["icmpv6.opt.linkaddr"]) == ("1", POD_MAC)
        assert ns["frame.len"] == "86"
    for na, dst in ((na1, LL), (na2, POD_IP)):
        assert (na["eth.src"], na["eth.dst"]) == (LXC_MAC, POD_MAC)
        assert (na["ipv6.src"], na["ipv6.dst"], na["ipv6.hlim"]) == (ROUTER, dst, "255")
        assert (na["icmpv6.type"], na["icmpv6.code"]) == ("136", "0")
        flags = (na["icmpv6.nd.na.flag.r"], na["icmpv6.nd.na.flag.s"], na["icmpv6.nd.na.flag.o"])
        assert flags in (("1", "1", "0"), ("True", "True", "False"))
        assert na["icmpv6.nd.na.target_address"] == ROUTER
        assert (na["icmpv6.opt.type"], na["icmpv6.opt.linkaddr"]) == ("2", LXC_MAC)
        assert na["frame.len"] == "86"
    assert (req["eth.src"], req["eth.dst"]) == (POD_MAC, LXC_MAC)
    assert (req["ipv6.src"], req["ipv6.dst"], req["ipv6.hlim"]) == (POD_IP, REMOTE_IP, "64")
    assert (rep["eth.src"], rep["eth.dst"]) == (LXC_MAC, POD_MAC)
    assert (rep["ipv6.src"], rep["ipv6.dst"], rep["ipv6.hlim"]) == (REMOTE_IP, POD_IP, "63")
    for echo, icmp_type in ((req, "128"), (rep, "129")):
        assert echo["icmpv6.type"] == icmp_type
        assert (echo["icmpv6.echo.identifier"], echo["icmpv6.echo.sequence_number"]) == (
            "0x002c",
            "0",
        )
        assert (echo["frame.len"], echo["data.len"]) == ("118", "56")
    for row in rows:
        assert row["icmpv6.checksum.status"] == "1"  # tshark: Good
        assert row["ip.src"] == ""  # no IPv4 anywhere in the pod capture
    times = [row["frame.time_epoch"] for row in rows]
    assert times == [
        f"1720770268.{us}000" for us in ("594775", "594812", "594846", "594851", "594856", "595463")
    ]


def test_worker_capture_fields(tshark: str) -> None:
    rows = _tshark_rows(tshark, WORKER)
    assert len(rows) == 2
    req, rep = rows
    assert req["eth.src"] == f"02:42:ac:12:00:03,{POD_MAC}"
    assert req["eth.dst"] == f"02:42:ac:12:00:04,{LXC_MAC}"
    assert (req["ip.src"], req["ip.dst"]) == ("172.18.0.3", "172.18.0.4")
    assert (req["ipv6.src"], req["ipv6.dst"], req["ipv6.hlim"]) == (POD_IP, REMOTE_IP, "64")
    assert req["icmpv6.type"] == "128"
    assert rep["eth.src"].split(",")[1] == REMOTE_MAC
    assert rep["eth.dst"].split(",")[1] not in (LXC_MAC, POD_MAC, REMOTE_MAC)
    assert (rep["ip.src"], rep["ip.dst"]) == ("172.18.0.4", "172.18.0.3")
    assert (rep["ipv6.src"], rep["ipv6.dst"], rep["ipv6.hlim"]) == (REMOTE_IP, POD_IP, "64")
    assert rep["icmpv6.type"] == "129"
    for row in rows:
        assert row["frame.len"] == "168"
        assert (row["ip.ttl"], row["ip.flags.df"]) in (("64", "0"), ("64", "False"))
        assert row["udp.dstport"] == "8472"
        assert int(row["udp.srcport"]) >= 1024
        assert row["udp.checksum"] == "0x0000"
        assert row["vxlan.flags"] == "0x0800"  # tshark shows the 16-bit flags field
        assert row["vxlan.vni"] == "40172"
        assert (row["icmpv6.echo.identifier"], row["icmpv6.echo.sequence_number"]) == (
            "0x002c",
            "0",
        )
        assert row["icmpv6.checksum.status"] == "1"


def test_inner_request_is_the_pod_frame() -> None:
    """The VXLAN payload of the node's request is byte for byte the pod's request frame."""
    pod = _pcap_frames(POD)
    worker = _pcap_frames(WORKER)
    assert worker[0][14 + 20 + 8 + 8 :] == pod[4]
    inner_reply = worker[1][50:]
    assert inner_reply[14:] != pod[5][14:]  # hop limit 64 on the node, 63 in the pod
    assert inner_reply[14 + 8 :] == pod[5][14 + 8 :]  # ... and nothing else differs after it
    assert inner_reply[14 + 7] == 64 and pod[5][14 + 7] == 63


def _pcap_frames(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == bytes.fromhex("d4c3b2a1")
    frames, off = [], 24
    while off < len(data):
        caplen = int.from_bytes(data[off + 8 : off + 12], "little")
        frames.append(data[off + 16 : off + 16 + caplen])
        off += 16 + caplen
    return frames


@pytest.fixture(scope="module")
def tcpdump() -> str:
    path = shutil.which("tcpdump")
    if path is None:
        pytest.skip("tcpdump is not installed (apt-get install tcpdump)")
    return path


def test_tcpdump_prints_the_walkthrough(tcpdump: str) -> None:
    env = {**os.environ, "TZ": "UTC"}
    out = subprocess.run(
        [tcpdump, "-nne", "-r", str(POD)], check=True, capture_output=True, text=True, env=env
    ).stdout.splitlines()
    assert len(out) == len(WALKTHROUGH)
    for got, want in zip(out, WALKTHROUGH, strict=True):
        assert got.split(" ", 1)[1] == want.split(" ", 1)[1]
        assert got == want  # the times too, since the file stores them as UTC


def test_tcpdump_vxlan_view(tcpdump: str) -> None:
    env = {**os.environ, "TZ": "UTC"}
    out = subprocess.run(
        [tcpdump, "-nne", "-T", "vxlan", "-r", str(WORKER)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.splitlines()
    assert len(out) == 4
    assert out[0].endswith("172.18.0.3.52379 > 172.18.0.4.8472: VXLAN, flags [I] (0x08), vni 40172")
    assert out[1] == WALKTHROUGH[4].split(" ", 1)[1]  # the inner request, as in the pod
    assert "172.18.0.4.38702 > 172.18.0.3.8472: VXLAN, flags [I] (0x08), vni 40172" in out[2]
    assert out[3].startswith(f"{REMOTE_MAC} > ")
    assert out[3].endswith(f"{REMOTE_IP} > {POD_IP}: ICMP6, echo reply, id 44, seq 0, length 64")


def test_vxlanlens_sees_the_same_pod_frame() -> None:
    """vxlanlens: the request inside VXLAN has the pod capture's unprefixed values."""
    vxlanlens = pytest.importorskip("vxlanlens")
    if not hasattr(vxlanlens, "read"):
        pytest.skip("vxlanlens.read is not available yet")
    df = vxlanlens.read([str(POD), str(WORKER)]).packets
    pod = df[df["capture"] == "pod-eth0"].reset_index(drop=True)
    node = df[df["capture"] == "worker-eth0"].reset_index(drop=True)
    assert len(pod) == 6 and len(node) == 2
    cols = ["src_mac", "dst_mac", "src_ip", "dst_ip", "ttl", "icmp_type", "echo_id", "echo_seq"]
    assert [str(v) for v in node.loc[0, cols]] == [str(v) for v in pod.loc[4, cols]]
    assert list(node["outer_src_ip"].astype(str)) == ["172.18.0.3", "172.18.0.4"]
    assert list(node["vni"].astype(int)) == [40172, 40172]
    assert list(node["tunnel"].astype(str)) == ["vxlan", "vxlan"]
    assert list(pod["nd_flags"].astype(str))[1] == "RS"
    assert list(pod["nd_lladdr"].astype(str))[:4] == [POD_MAC, LXC_MAC, POD_MAC, LXC_MAC]
    assert list(pod["ttl"].astype(int)) == [255, 255, 255, 255, 64, 63]
