"""Checks on the Calico CrossSubnet capture (captures/lab-calico-crosssubnet, lab/lab_xsubnet.py):
the routes Felix programs in CrossSubnet mode are in the dumps, and the packets show native
routing between the two nodes of one subnet and VXLAN to the node of another subnet. Read with
tshark, independent of vxlanlens. No root needed."""

from __future__ import annotations

import ipaddress
import re
import subprocess
from pathlib import Path

import pytest

D = Path(__file__).resolve().parent.parent.parent / "captures" / "lab-calico-crosssubnet"
NODES = ("calico-worker", "calico-worker2", "calico-worker3")
SHORT = {"calico-worker": "worker", "calico-worker2": "worker2", "calico-worker3": "worker3"}

pytestmark = pytest.mark.skipif(not D.is_dir(), reason=f"{D} not shipped")


def fields(tshark: str, pcap: Path, flt: str, *names: str) -> list[list[str]]:
    argv = [tshark, "-n", "-r", str(pcap), "-Y", flt, "-T", "fields", "-E", "separator=|"]
    for n in names:
        argv += ["-e", n]
    cp = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return [ln.split("|") for ln in cp.stdout.splitlines() if ln.strip()]


def eth0(node: str) -> tuple[str, ipaddress.IPv4Interface]:
    """(MAC, address/prefix) of a node's eth0, from its ``ip a`` dump."""
    block = (D / "topology" / node / "ip-a.txt").read_text().split(": eth0")[1]
    mac = re.search(r"link/ether (\S+)", block)
    addr = re.search(r"inet (\S+)", block)
    assert mac and addr
    return mac.group(1), ipaddress.IPv4Interface(addr.group(1))


def pods(names: bool = False) -> dict[str, str]:
    """Node → its pod's IP (or name), from the kubectl dump."""
    rows = (D / "topology" / "kubectl-get-pods-o-wide.txt").read_text().splitlines()[1:]
    return {r.split()[6]: r.split()[0 if names else 5] for r in rows}


def test_two_subnets() -> None:
    nets = [eth0(n)[1].network for n in NODES]
    assert nets[0] == nets[1] != nets[2]


def test_routes_native_in_the_subnet_vxlan_across() -> None:
    routes = (D / "topology" / NODES[0] / "ip-r.txt").read_text()
    same = eth0(NODES[1])[1].ip
    other = [r for r in routes.splitlines() if "dev vxlan.calico" in r]
    assert re.search(rf"^\S+/26 via {same} dev eth0 onlink", routes, re.M)
    assert len(other) == 1 and other[0].rstrip().endswith("onlink")
    assert pods()[NODES[2]].rsplit(".", 1)[0] in other[0]  # the other subnet's node's block
    # Felix keeps neighbour and FDB entries for every remote VTEP, the native one included
    fdb = (D / "topology" / NODES[0] / "bridge-fdb-show.txt").read_text()
    assert str(same) in fdb and str(eth0(NODES[2])[1].ip) in fdb


def test_same_subnet_echo_is_native_between_node_macs(tshark: str) -> None:
    a_mac, _a = eth0(NODES[0])
    b_mac, _b = eth0(NODES[1])
    dst = pods()[NODES[1]]
    for node in NODES[:2]:
        rows = fields(
            tshark, D / f"node-{SHORT[node]}-eth0.pcap", f"icmp && ip.dst=={dst}",
            "eth.src", "eth.dst", "ip.ttl", "udp.dstport", "icmp.type",
        )  # fmt: skip
        assert rows == [[a_mac, b_mac, "63", "", "8"]]  # not in UDP: no tunnel; routed once
    back = fields(
        tshark, D / "node-worker-eth0.pcap", f"icmp && ip.src=={dst}", "eth.src", "eth.dst"
    )
    assert back == [[b_mac, a_mac]]
    pod_b = D / f"pod-{pods(names=True)[NODES[1]]}-eth0.pcap"
    assert fields(tshark, pod_b, "icmp.type==8", "ip.ttl") == [["62"]]
    assert fields(tshark, D / "node-worker3-eth0.pcap", f"ip.addr=={dst}", "frame.number") == []


def test_cross_subnet_echo_is_vxlan(tshark: str) -> None:
    dst = pods()[NODES[2]]
    c_ip = str(eth0(NODES[2])[1].ip)
    for node in (NODES[0], NODES[2]):
        rows = fields(
            tshark, D / f"node-{SHORT[node]}-eth0.pcap", f"vxlan && icmp.type==8 && ip.dst=={dst}",
            "ip.dst", "udp.dstport", "vxlan.vni", "ip.ttl",
        )  # fmt: skip
        assert len(rows) == 1
        outer_dst, port, vni, ttls = rows[0]
        assert outer_dst.split(",")[0] == c_ip and (port, vni) == ("4789", "4096")
        assert ttls.split(",")[1] == "63"  # inner: routed once on the sending node
    sent = fields(tshark, D / "node-worker-eth0.pcap", "vxlan && icmp.type==8", "ip.ttl")
    got = fields(tshark, D / "node-worker3-eth0.pcap", "vxlan && icmp.type==8", "ip.ttl")
    assert int(got[0][0].split(",")[0]) == int(sent[0][0].split(",")[0]) - 1  # the router's hop
