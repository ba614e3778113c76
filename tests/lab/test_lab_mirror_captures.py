"""Checks on the mirror scenarios (captures/lab-mirror-*; issue 13 item 5): the collector's
capture is well-formed ERSPAN / VXLAN carrying, byte for byte, the frames of node worker's eth0.
Read with the standard library and tshark, independent of vxlanlens. No root needed.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
CAPTURES = ROOT / "captures"
sys.path.insert(0, str(ROOT / "lab"))
import lab_mirror  # noqa: E402

SCENARIOS = sorted(lab_mirror.MIRRORS)


def _csum_ok(header: bytes) -> bool:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def test_every_mirror_scenario_is_shipped() -> None:
    shipped = {p.name[len("lab-") :] for p in CAPTURES.glob("lab-mirror-*")}
    assert shipped == set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_collector_frames_are_the_node_frames_in_the_transport(name: str) -> None:
    m = lab_mirror.MIRRORS[name]
    d = CAPTURES / f"lab-{name}"
    mirrored = lab_mirror.pcap_frames(d / lab_mirror.COLLECTOR_FILE)
    direct = lab_mirror.pcap_frames(d / "node-worker-eth0.pcap")
    assert mirrored and Counter(f[m.overhead :] for f in mirrored) == Counter(direct)
    seqs = []
    for f in mirrored:
        ip = f[14:34]
        assert f[12:14] == b"\x08\x00" and _csum_ok(ip)
        assert ip[12:16] == bytes(map(int, lab_mirror.SWITCH_IP.split(".")))
        assert ip[16:20] == bytes(map(int, lab_mirror.COLLECTOR_IP.split(".")))
        assert struct.unpack("!H", ip[2:4])[0] == len(f) - 14
        if m.transport == "erspan":
            assert ip[9] == 47
            flags, proto, seq = struct.unpack("!HHI", f[34:42])
            assert flags == 0x1000 and proto == (0x88BE if m.erspan_ver == 1 else 0x22EB)
            ver_vlan, cos_session = struct.unpack("!HH", f[42:46])
            assert ver_vlan >> 12 == m.erspan_ver and cos_session & 0x3FF == m.session
            seqs.append(seq)
        else:
            assert ip[9] == 17
            (dport,) = struct.unpack("!H", f[36:38])
            assert dport == m.vxlan_port and f[42] == 0x08
            assert int.from_bytes(f[46:49], "big") == m.session
    if seqs:
        assert sorted(seqs) == list(range(min(seqs), min(seqs) + len(seqs)))


@pytest.mark.parametrize("name", SCENARIOS)
def test_tshark_decodes_the_mirror(tshark: str, name: str) -> None:
    m = lab_mirror.MIRRORS[name]
    pcap = CAPTURES / f"lab-{name}" / lab_mirror.COLLECTOR_FILE
    argv = [tshark, "-n", "-r", str(pcap), "-d", "udp.port==8472,vxlan", "-T", "fields",
            "-E", "separator=|", "-e", "frame.protocols", "-e", "erspan.spanid",
            "-e", "erspan.direction", "-e", "vxlan.vni"]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout
    rows = [ln.split("|") for ln in out.splitlines() if ln.strip()]
    assert rows
    inner_cilium = 0
    for protos, span, direction, vnis in rows:
        if m.transport == "erspan":
            assert protos.startswith("eth:ethertype:ip:gre:erspan:eth:")
            assert span == str(m.session)
            assert (direction != "") == (m.erspan_ver == 2)
            inner_cilium += bool(vnis)
        else:
            assert protos.startswith("eth:ethertype:ip:udp:vxlan:eth:")
            assert vnis.split(",")[0] == str(m.session)
            inner_cilium += "," in vnis
    assert inner_cilium >= 2  # the echo request and reply, in Cilium's VXLAN 8472
    if m.erspan_ver == 2:
        assert {r[2] for r in rows} == {"0", "1"}  # both directions of the mirrored port
