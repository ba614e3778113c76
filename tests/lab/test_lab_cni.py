"""Checks on the Flannel- and Calico-shaped VXLAN captures (captures/lab-flannel-ping,
captures/lab-calico-ping; issue 13 item 4): overlay facts visible in the packets and dumps,
read with tshark, independent of vxlanlens. No root needed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parent.parent.parent / "captures"
CASES = {
    # name: (device, VNI, port, gateway IP, gateway MAC owner, node names, pod names)
    "flannel-ping": ("flannel.1", 1, 8472, "10.244.1.1", "cni0",
                     ("flannel-worker", "flannel-worker2"), ("busybox-7c9d8", "busybox-k4x2p")),
    "calico-ping": ("vxlan.calico", 4096, 4789, "169.254.1.1", "cali1b7f3e90a5c",
                    ("calico-worker", "calico-worker2"), ("busybox-m8q2v", "busybox-r5t7n")),
}  # fmt: skip
W1, W2 = "172.18.0.4", "172.18.0.3"


def fields(tshark: str, pcap: Path, flt: str, *names: str) -> list[list[str]]:
    argv = [tshark, "-n", "-r", str(pcap), "-d", "udp.port==8472,vxlan", "-Y", flt]
    argv += ["-T", "fields", "-E", "separator=|"]
    for n in names:
        argv += ["-e", n]
    cp = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return [ln.split("|") for ln in cp.stdout.splitlines() if ln.strip()]


def link(dump: Path, name: str) -> tuple[str, str]:
    """(MAC, detail line) of interface ``name`` in an ``ip -d link`` dump."""
    lines = dump.read_text().splitlines()
    for i, ln in enumerate(lines):
        if re.match(rf"^\d+: {re.escape(name)}[:@]", ln):
            mac = lines[i + 1].split()[1]
            return mac, lines[i + 2] if i + 2 < len(lines) else ""
    raise AssertionError(f"{name} not in {dump}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_overlay_device_in_dumps(name: str) -> None:
    dev, vni, port, _gw, _owner, nodes, _pods = CASES[name]
    for node in nodes:
        _mac, detail = link(CAPTURES / f"lab-{name}" / "topology" / node / "ip-d-link.txt", dev)
        assert f"vxlan id {vni} " in detail and f"dstport {port} " in detail
        assert " nolearning " in detail
        fdb = (CAPTURES / f"lab-{name}" / "topology" / node / "bridge-fdb-show.txt").read_text()
        assert "self permanent" in fdb and (W2 if node == nodes[0] else W1) in fdb


@pytest.mark.parametrize("name", sorted(CASES))
def test_tunnel_frames_vni_port_vtep_macs(tshark: str, name: str) -> None:
    dev, vni, port, _gw, _owner, nodes, _pods = CASES[name]
    d = CAPTURES / f"lab-{name}"
    vtep = [link(d / "topology" / n / "ip-d-link.txt", dev)[0] for n in nodes]
    rows = fields(
        tshark, d / "node-worker-eth0.pcap", "vxlan", "ip.src", "udp.dstport", "vxlan.vni",
        "eth.src", "eth.dst", "ip.ttl",
    )  # fmt: skip
    assert len(rows) == 2
    req, rep = rows
    assert req[0].split(",")[0] == W1 and rep[0].split(",")[0] == W2
    assert {req[1], rep[1]} == {str(port)} and {req[2], rep[2]} == {str(vni)}  # same VNI both ways
    assert req[3].split(",")[1] == vtep[0] and req[4].split(",")[1] == vtep[1]  # inner = VTEPs
    assert rep[3].split(",")[1] == vtep[1] and rep[4].split(",")[1] == vtep[0]
    assert req[5].split(",")[1] == "63"  # routed once on the sending node


@pytest.mark.parametrize("name", sorted(CASES))
def test_gateway_arp_and_ttl_62(tshark: str, name: str) -> None:
    _dev, _vni, _port, gw, owner, nodes, pods = CASES[name]
    d = CAPTURES / f"lab-{name}"
    owner_mac = link(d / "topology" / nodes[0] / "ip-d-link.txt", owner)[0]
    pod1 = d / f"pod-{pods[0]}-eth0.pcap"
    rep = fields(tshark, pod1, f"arp.opcode==2 && arp.src.proto_ipv4=={gw}", "arp.src.hw_mac")
    assert rep == [[owner_mac]]
    if name == "calico-ping":
        assert owner_mac == "ee:ee:ee:ee:ee:ee"
        routes = (d / "topology" / pods[0] / "ip-r.txt").read_text()
        assert "default via 169.254.1.1 dev eth0" in routes
        assert "169.254.1.1 dev eth0 scope link" in routes
    assert fields(tshark, d / f"pod-{pods[1]}-eth0.pcap", "icmp.type==8", "ip.ttl") == [["62"]]
    assert fields(tshark, pod1, "icmp.type==0", "ip.ttl") == [["62"]]
