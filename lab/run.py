#!/usr/bin/env python3
"""vxlanlens real-traffic lab: Cilium's dual-stack overlay datapath in network namespaces.

Builds two "nodes" (network namespaces joined by an underlay veth called eth0 on both sides),
each with cilium_host/cilium_net, a tunnel device and one pod (its own namespace, eth0 <-> lxc
veth), attaches small eBPF programs (lab/bpf/) that do what Cilium's datapath does, drives real
traffic with ping and Python sockets, captures it with tcpdump at every point at once, dumps the
topology the way users paste it, writes a README per scenario and tears everything down.

Usage (root): ``python3 lab/run.py [--out DIR] [--scenario NAME ...] [--list]``.
Only the Python standard library is used; the tools it runs are listed in lab/apt-packages.txt.
All namespaces are named ``vl-lab-*``; nothing touches the host's own interfaces.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import ipaddress
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

LAB = Path(__file__).resolve().parent
ROOT = LAB.parent
BPF_DIR = LAB / "bpf"
NS_PREFIX = "vl-lab-"
sys.path.insert(0, str(LAB))
import lab_antrea  # noqa: E402
import lab_cni  # noqa: E402
import lab_cni6  # noqa: E402
import lab_mirror  # noqa: E402
import lab_ovn  # noqa: E402
import lab_sysdump  # noqa: E402
import lab_xsubnet  # noqa: E402
from lab_readme import write_readme  # noqa: E402  (lab/lab_readme.py, next to this file)

# --------------------------------------------------------------------------------------------
# Topology. Values marked REF come from /work/shared/scenario/cilium-dual-stack.md; everything
# else is invented for the lab (and listed as such in every scenario README).
# --------------------------------------------------------------------------------------------


@dataclass
class Pod:
    """One pod: its namespace, eth0 and the host-side lxc veth on its node."""

    name: str
    netns: str
    eth0_mac: str
    eth0_ifindex: int
    ipv4: str
    ipv6: str
    lxc_name: str
    lxc_mac: str
    lxc_ifindex: int
    endpoint_id: int
    container_id: str
    labels: list[str]
    invented: list[str] = field(default_factory=list)


@dataclass
class Node:
    """One node: namespace, underlay eth0, cilium_host/net, tunnel device and its pods."""

    name: str
    short: str
    netns: str
    eth0_mac: str
    eth0_ifindex: int
    ipv4: str
    ipv6: str
    cilium_host_mac: str
    cilium_net_mac: str
    tunnel_mac: str
    router_ipv4: str
    router_ipv6: str
    pod_cidr4: str
    pod_cidr6: str
    host_endpoint_id: int
    pods: list[Pod]
    invented: list[str] = field(default_factory=list)


DAEMONSET_LABELS = [
    "k8s:app=cni",
    "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=default",
    "k8s:io.cilium.k8s.policy.cluster=default",
    "k8s:io.cilium.k8s.policy.serviceaccount=default",
    "k8s:io.kubernetes.pod.namespace=default",
]

POD1 = Pod(
    name="cni-7t9p4",  # REF
    netns="vl-lab-cni-7t9p4",
    eth0_mac="4e:5b:57:45:63:3b",  # REF
    eth0_ifindex=18,  # REF
    ipv4="10.244.1.233",  # REF
    ipv6="fd00:10:244:1::4749",  # REF
    lxc_name="lxc237a31216c0f",  # REF
    lxc_mac="a2:79:14:47:80:b3",  # REF
    lxc_ifindex=19,  # REF
    endpoint_id=1377,
    container_id="6c0f2a8e4b1d7935e2a0c4f18b6d3e9a7f5c1b2d4e6a8c0f2b4d6e8a0c2e4f61",
    labels=[*DAEMONSET_LABELS, "k8s:lab.vxlanlens.io/side=client"],
    invented=["endpoint id", "container id", "label lab.vxlanlens.io/side=client"],
)
POD2 = Pod(
    name="cni-8qgcs",  # REF
    netns="vl-lab-cni-8qgcs",
    eth0_mac="b6:61:48:ae:63:f5",  # REF
    eth0_ifindex=11,  # REF
    ipv4="10.244.2.245",  # REF
    ipv6="fd00:10:244:2::9461",  # REF
    lxc_name="lxc9e2b4c7d1a05",
    lxc_mac="5e:0c:93:7a:1d:42",
    lxc_ifindex=12,  # REF (eth0@if12)
    endpoint_id=2504,
    container_id="9a41d7e03c5b8f26a1e4d0c7b39f5e82d6a0c4b1e7f3d9a5c2b8e6f4a0d2c8b3",
    labels=[*DAEMONSET_LABELS, "k8s:lab.vxlanlens.io/side=server"],
    invented=[
        "lxc name",
        "lxc MAC",
        "endpoint id",
        "container id",
        "label lab.vxlanlens.io/side=server",
    ],
)
WORKER = Node(
    name="cilium-dual-stack-worker",  # REF
    short="worker",
    netns="vl-lab-worker",
    eth0_mac="02:42:ac:12:00:04",
    eth0_ifindex=8,
    ipv4="172.18.0.4",
    ipv6="fc00:f853:ccd:e793::4",  # REF (on cilium_host in the walkthrough)
    cilium_host_mac="32:ed:4d:67:b2:e1",  # REF
    cilium_net_mac="6a:4f:0e:91:c2:7d",
    tunnel_mac="96:2c:5d:1e:a0:44",
    router_ipv4="10.244.1.154",  # REF
    router_ipv6="fd00:10:244:1::22f1",  # REF
    pod_cidr4="10.244.1.0/24",  # REF
    pod_cidr6="fd00:10:244:1::/64",  # REF
    host_endpoint_id=112,
    pods=[POD1],
    invented=[
        "eth0 MAC/ifindex",
        "eth0 IPv4 172.18.0.4",
        "cilium_net MAC",
        "tunnel MAC",
        "host endpoint id",
    ],
)
WORKER2 = Node(
    name="cilium-dual-stack-worker2",  # REF
    short="worker2",
    netns="vl-lab-worker2",
    eth0_mac="02:42:ac:12:00:03",
    eth0_ifindex=6,
    ipv4="172.18.0.3",
    ipv6="fc00:f853:ccd:e793::3",
    cilium_host_mac="8e:d1:37:5a:0b:96",
    cilium_net_mac="f2:63:a8:14:7c:e5",
    tunnel_mac="5a:b7:02:c9:3e:18",
    router_ipv4="10.244.2.71",
    router_ipv6="fd00:10:244:2::a3c5",
    pod_cidr4="10.244.2.0/24",  # REF
    pod_cidr6="fd00:10:244:2::/64",  # REF
    host_endpoint_id=3021,
    pods=[POD2],
    invented=[
        "eth0 MAC/ifindex",
        "eth0 IPv4 172.18.0.3 and IPv6 fc00:f853:ccd:e793::3",
        "cilium_host MAC",
        "cilium_net MAC",
        "tunnel MAC",
        "router IPv4 10.244.2.71",
        "router IPv6 fd00:10:244:2::a3c5",
        "host endpoint id",
    ],
)
POD3 = Pod(
    name="cni-5mrzl",
    netns="vl-lab-cni-5mrzl",
    eth0_mac="c2:1f:6a:90:3d:7e",
    eth0_ifindex=9,
    ipv4="10.244.3.87",
    ipv6="fd00:10:244:3::c2d1",
    lxc_name="lxc4f81c0e2b9d6",
    lxc_mac="7a:e3:05:b8:61:2c",
    lxc_ifindex=10,
    endpoint_id=731,
    container_id="3e7c1a95d2b04f68a1c3e5d7b9f0a2c4e6b8d0f2a4c6e8b0d2f4a6c8e0b2d4f6",
    labels=[*DAEMONSET_LABELS, "k8s:lab.vxlanlens.io/side=server"],
    invented=["everything (the reference has two nodes)"],
)
WORKER3 = Node(
    name="cilium-dual-stack-worker3",
    short="worker3",
    netns="vl-lab-worker3",
    eth0_mac="02:42:ac:12:00:05",
    eth0_ifindex=7,
    ipv4="172.18.0.5",
    ipv6="fc00:f853:ccd:e793::5",
    cilium_host_mac="d6:0a:4b:73:e8:15",
    cilium_net_mac="4a:b9:27:0c:d3:68",
    tunnel_mac="ae:52:c1:08:7f:93",
    router_ipv4="10.244.3.19",
    router_ipv6="fd00:10:244:3::6e0b",
    pod_cidr4="10.244.3.0/24",
    pod_cidr6="fd00:10:244:3::/64",
    host_endpoint_id=1954,
    pods=[POD3],
    invented=["everything (the reference has two nodes)"],
)
NODES = [WORKER, WORKER2]
PODS = [POD1, POD2]
NODES3 = [WORKER, WORKER2, WORKER3]
UNDERLAY_NS = "vl-lab-underlay"  # holds the bridge of the 3-node underlay


def cluster(sc: Scenario | None = None) -> list[Node]:
    """The nodes of a scenario's cluster: two, or three for ``nodes=3`` scenarios."""
    return NODES3 if sc is not None and sc.nodes == 3 else NODES


CILIUM_NET_IFINDEX, CILIUM_HOST_IFINDEX, TUNNEL_IFINDEX = 2, 3, 4
VXLAN_PORT, GENEVE_PORT = 8472, 6081


def node_of(pod: Pod) -> Node:
    """The node that hosts ``pod``."""
    return next(n for n in NODES3 if pod in n.pods)


# --------------------------------------------------------------------------------------------
# Scenario definitions
# --------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One command run inside a pod's namespace during the capture window."""

    pod: Pod
    argv: list[str]
    what: str
    expect_rc: tuple[int, ...] = (0,)
    background: bool = False
    action: str = ""  # instead of argv: "restore-responders" or "sleep" (argv[0] = seconds)


@dataclass
class Scenario:
    """A lab run: datapath variant, identities, what runs, and how its README is written."""

    name: str
    title: str
    tunnel: str  # "vxlan" | "geneve"
    underlay: str  # "ipv4" | "ipv6"
    identities: dict[str, int]
    steps: list[Step]
    ndp_responder: dict[str, bool] = field(default_factory=dict)
    servers: list[Step] = field(default_factory=list)
    settle: float = 0.3
    description: str = ""
    # Planted faults and variants (all off by default; the original scenarios use none).
    pod_route_mtu: dict[str, int] = field(default_factory=dict)  # pod -> MTU of its defaults
    outer_df: bool = False  # DF on the outer IPv4 header (BPF_F_DONT_FRAGMENT tunnel key)
    responders_off: list[str] = field(default_factory=list)  # pods whose lxc program starts
    # without ARP and NDP responders (a "restore-responders" step attaches the full program)
    drop_tcp: tuple[str, int] | None = None  # (node short name, port): SYNs dropped there
    clock_shift: dict[str, float] = field(default_factory=dict)  # file -> seconds, editcap -t
    sysdump: bool = False  # also write a cilium-sysdump-shaped zip of the topology
    notes: list[str] = field(default_factory=list)  # extra README "Datapath" lines
    nodes: int = 2  # 3: worker3 and a pod on it, the underlay a bridge in UNDERLAY_NS


IDENT_CLIENT, IDENT_SERVER, IDENT_SHARED = 30155, 48217, 27040


def _ping(pod: Pod, family: int, dst: str, *extra: str, wait: int = 2) -> list[str]:
    return ["ping", f"-{family}", "-n", "-c", "1", "-W", str(wait), *extra, dst]


TCP_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 8080)); s.listen(4)
print("listening", flush=True)
for _ in range(int(sys.argv[1])):
    c, _a = s.accept()
    while c.recv(4096):
        pass
    c.close()
"""

TCP_CLIENT = r"""
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
c = socket.socket(fam, socket.SOCK_STREAM)
c.settimeout(float(sys.argv[3]) if len(sys.argv) > 3 else 3)
try:
    c.connect((host, port))
except ConnectionRefusedError:
    print("refused"); sys.exit(3)
except TimeoutError:
    print("timed out"); sys.exit(4)
c.sendall(b"hello\n")
c.shutdown(socket.SHUT_WR)
c.recv(16)
c.close()
print("connected")
"""

UDP_CLIENT = r"""
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
c = socket.socket(fam, socket.SOCK_DGRAM)
c.settimeout(2)
c.connect((host, port))
name = b"".join(bytes([len(x)]) + x for x in b"kubernetes.default.svc.cluster.local".split(b"."))
c.send(bytes.fromhex("1a2b01000001000000000000") + name + b"\x00\x00\x01\x00\x01")  # DNS A query
try:
    c.recv(64)
except ConnectionRefusedError:
    print("refused"); sys.exit(3)
except TimeoutError:
    print("timed out"); sys.exit(4)
print("answered")
"""


def scenarios() -> list[Scenario]:
    """All lab scenarios, in the order they run."""
    diff = {POD1.name: IDENT_CLIENT, POD2.name: IDENT_SERVER}
    same = {POD1.name: IDENT_SHARED, POD2.name: IDENT_SHARED}
    return [
        Scenario(
            "ipv6-ping",
            "IPv6 ping between pods on two nodes, empty neighbour caches",
            "vxlan",
            "ipv4",
            diff,
            [Step(POD1, _ping(POD1, 6, POD2.ipv6), f"ping -6 -c 1 {POD2.ipv6} from {POD1.name}")],
        ),
        Scenario(
            "ipv4-ping",
            "IPv4 ping between pods on two nodes, empty neighbour caches",
            "vxlan",
            "ipv4",
            diff,
            [Step(POD1, _ping(POD1, 4, POD2.ipv4), f"ping -4 -c 1 {POD2.ipv4} from {POD1.name}")],
        ),
        Scenario(
            "no-such-pod",
            "ping to pod addresses that no endpoint owns (encapsulated, never answered)",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    _ping(POD1, 6, "fd00:10:244:2::dead", wait=1),
                    f"ping -6 -c 1 fd00:10:244:2::dead from {POD1.name}",
                    (1,),
                ),
                Step(
                    POD1,
                    _ping(POD1, 4, "10.244.2.99", wait=1),
                    f"ping -4 -c 1 10.244.2.99 from {POD1.name}",
                    (1,),
                ),
            ],
        ),
        Scenario(
            "ns-unanswered",
            "the lxc NDP responder removed: the gateway NS is never answered",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    _ping(POD1, 6, POD2.ipv6, wait=4),
                    f"ping -6 -c 1 {POD2.ipv6} from {POD1.name}",
                    (1,),
                )
            ],
            ndp_responder={POD1.name: False},
        ),
        Scenario(
            "mtu-df",
            "ping with DF at and over the 1450 route MTU",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    _ping(POD1, 4, POD2.ipv4, "-M", "do", "-s", "1422"),
                    f"ping -4 -M do -s 1422 {POD2.ipv4} (IPv4 packet of 1450 bytes)",
                ),
                Step(
                    POD1,
                    _ping(POD1, 4, POD2.ipv4, "-M", "do", "-s", "1472"),
                    f"ping -4 -M do -s 1472 {POD2.ipv4} (IPv4 packet of 1500 bytes)",
                    (1, 2),
                ),
                Step(
                    POD1,
                    _ping(POD1, 6, POD2.ipv6, "-M", "do", "-s", "1402"),
                    f"ping -6 -M do -s 1402 {POD2.ipv6} (IPv6 packet of 1450 bytes)",
                ),
                Step(
                    POD1,
                    _ping(POD1, 6, POD2.ipv6, "-M", "do", "-s", "1452"),
                    f"ping -6 -M do -s 1452 {POD2.ipv6} (IPv6 packet of 1500 bytes)",
                    (1, 2),
                ),
            ],
        ),
        Scenario(
            "tcp-connect",
            "TCP connect to a listening port (8080) and to a closed port (8081)",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    ["python3", "-c", TCP_CLIENT, POD2.ipv6, "8080"],
                    f"TCP connect [{POD2.ipv6}]:8080, send 'hello\\n', close",
                ),
                Step(
                    POD1,
                    ["python3", "-c", TCP_CLIENT, POD2.ipv6, "8081"],
                    f"TCP connect [{POD2.ipv6}]:8081 (closed)",
                    (3,),
                ),
                Step(
                    POD1,
                    ["python3", "-c", TCP_CLIENT, POD2.ipv4, "8080"],
                    f"TCP connect {POD2.ipv4}:8080, send 'hello\\n', close",
                ),
                Step(
                    POD1,
                    ["python3", "-c", TCP_CLIENT, POD2.ipv4, "8081"],
                    f"TCP connect {POD2.ipv4}:8081 (closed)",
                    (3,),
                ),
            ],
            servers=[
                Step(
                    POD2,
                    ["python3", "-c", TCP_SERVER, "2"],
                    f"TCP listener on [::]:8080 (dual stack) in {POD2.name}",
                    background=True,
                )
            ],
        ),
        Scenario(
            "geneve-ipv6-ping",
            "Geneve (6081) variant: IPv6 then IPv4 ping, both pods one identity",
            "geneve",
            "ipv4",
            same,
            [
                Step(POD1, _ping(POD1, 6, POD2.ipv6), f"ping -6 -c 1 {POD2.ipv6} from {POD1.name}"),
                Step(POD1, _ping(POD1, 4, POD2.ipv4), f"ping -4 -c 1 {POD2.ipv4} from {POD1.name}"),
            ],
        ),
        Scenario(
            "ipv6-underlay",
            "VXLAN over an IPv6 underlay: IPv6 then IPv4 ping",
            "vxlan",
            "ipv6",
            diff,
            [
                Step(POD1, _ping(POD1, 6, POD2.ipv6), f"ping -6 -c 1 {POD2.ipv6} from {POD1.name}"),
                Step(POD1, _ping(POD1, 4, POD2.ipv4), f"ping -4 -c 1 {POD2.ipv4} from {POD1.name}"),
            ],
        ),
        *fault_scenarios(diff),
        Scenario(
            "any-3node",
            "three nodes, a pod on each: ping from cni-7t9p4 to the pods on worker2 and worker3",
            "vxlan",
            "ipv4",
            {**diff, POD3.name: IDENT_SERVER},
            [
                Step(POD1, _ping(POD1, 6, POD2.ipv6), f"ping -6 -c 1 {POD2.ipv6} ({POD2.name})"),
                Step(POD1, _ping(POD1, 4, POD2.ipv4), f"ping -4 -c 1 {POD2.ipv4} ({POD2.name})"),
                Step(POD1, _ping(POD1, 6, POD3.ipv6), f"ping -6 -c 1 {POD3.ipv6} ({POD3.name})"),
                Step(POD1, _ping(POD1, 4, POD3.ipv4), f"ping -4 -c 1 {POD3.ipv4} ({POD3.name})"),
            ],
            nodes=3,
            notes=[
                f"Three nodes: {WORKER3.name} (172.18.0.5) and pod {POD3.name} are added (all "
                "their values invented); the three eth0s are veths plugged into one Linux bridge "
                "(`br0`, STP off, multicast snooping off, in a namespace of its own that is not "
                "captured), so the underlay is switched: unicast between two nodes does not reach "
                f"the third once the bridge has learned the MACs. {POD3.name} carries the same "
                f"labels as {POD2.name}, hence the same identity {IDENT_SERVER}. Each lxc program "
                "holds a table of the two other nodes (pod CIDRs → node IPv4).",
            ],
        ),
        Scenario(
            "flannel-ping",
            "Flannel-shaped VXLAN (flannel.1, VNI 1, 8472, cni0 bridge): one IPv4 ping",
            "vxlan",
            "ipv4",
            {},
            [],
        ),
        Scenario(
            "calico-ping",
            "Calico-shaped VXLAN (vxlan.calico, VNI 4096, 4789, proxy ARP 169.254.1.1): one ping",
            "vxlan",
            "ipv4",
            {},
            [],
        ),
        *(
            Scenario(name, title, "vxlan", "ipv4", {}, [])
            for name, title in (
                (
                    "flannel-port-mismatch",
                    "Flannel-shaped VXLAN, worker2 on UDP 4789: one ping lost",
                ),
                (
                    "flannel-missing-fdb",
                    "Flannel-shaped VXLAN, worker without the FDB entry: one ping lost",
                ),
                (
                    "calico-proxy-arp-off",
                    "Calico-shaped VXLAN, proxy ARP off on the pod's cali veth",
                ),
                (
                    "flannel-ipv6-ping",
                    "Flannel-shaped VXLAN over IPv6 (flannel-v6.1, cni0): one IPv6 ping",
                ),
                (
                    "calico-ipv6-ping",
                    "Calico-shaped VXLAN over IPv6 (vxlan-v6.calico, link-local gateway): one ping",
                ),
                (
                    "antrea-geneve-ping",
                    "Antrea-shaped Geneve (6081, VNI 0, global virtual MAC; eBPF for OVS): one ping",
                ),
                (
                    "flannel-stale-vtep-mac",
                    "Flannel-shaped VXLAN, worker holds worker2's old VTEP MAC",
                ),
                (
                    "flannel-outer-udp-checksum",
                    "Flannel-shaped VXLAN, outer UDP checksums garbled on the underlay",
                ),
                (
                    "calico-port-mismatch",
                    "Calico-shaped VXLAN, worker2's vxlan.calico on UDP 4790: one ping lost",
                ),
                (
                    "calico-missing-fdb",
                    "Calico-shaped VXLAN, worker without the FDB entry: one ping lost",
                ),
                (
                    "calico-vni-mismatch",
                    "Calico-shaped VXLAN, worker2's vxlan.calico with VNI 4097: one ping lost",
                ),
                (
                    "flannel-ipv6-missing-fdb",
                    "Flannel-shaped VXLAN over IPv6, worker without the FDB entry: one ping lost",
                ),
                (
                    "ovn-geneve-ping",
                    "OVN-shaped Geneve (6081, option class 0x0102 with logical ports; eBPF for OVS): one ping",
                ),
                (
                    "calico-ipv6-no-link-local",
                    "Calico-shaped VXLAN over IPv6, the pod's cali veth without its link-local router address",
                ),
                (
                    "calico-ipv6-port-mismatch",
                    "Calico-shaped VXLAN over IPv6, worker2's vxlan-v6.calico on UDP 4790: one ping lost",
                ),
                (
                    "calico-crosssubnet",
                    "Calico-shaped VXLAN in CrossSubnet mode: three nodes, one pod each; native routing in a subnet, VXLAN across",
                ),
            )
        ),
        *lab_mirror.scenario_list(sys.modules[__name__]),  # mirror transports (lab_mirror.py)
    ]


def _big_ping(fam: int, dst: str, size: int, count: int = 3, wait: int = 2) -> list[str]:
    return [
        "ping",
        f"-{fam}",
        "-n",
        "-c",
        str(count),
        "-i",
        "0.3",
        "-W",
        str(wait),
        "-s",
        str(size),
        dst,
    ]


def fault_scenarios(diff: dict[str, int]) -> list[Scenario]:
    """Issue 12 item 9: failures made by the kernel (each planted fault named in its README)."""
    worker2_files = [
        "node-worker2-eth0.pcap",
        "node-worker2-any.pcap",
        f"pod-{POD2.name}-eth0.pcap",
    ]
    return [
        Scenario(
            "mtu-outer-frag",
            "pod route MTU 1500 on a 1450 overlay: outer VXLAN packets fragmented, pings answered",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    _big_ping(4, POD2.ipv4, 1472),
                    f"ping -4 -c 3 -s 1472 {POD2.ipv4} (IPv4 packets of 1500 bytes, DF as ping sets it)",
                ),
                Step(
                    POD1,
                    _big_ping(6, POD2.ipv6, 1452),
                    f"ping -6 -c 3 -s 1452 {POD2.ipv6} (IPv6 packets of 1500 bytes)",
                ),
            ],
            pod_route_mtu={POD1.name: 1500},
            notes=[
                f"**Planted fault**: pod {POD1.name}'s default routes (IPv4 and IPv6) have "
                "`mtu 1500` instead of 1450; everything else is as in the healthy scenarios "
                f"(pod {POD2.name}: mtu 1450; node eth0 MTU 1500; outer DF clear, the kernel "
                "VXLAN default with a collect_md tunnel key without BPF_F_DONT_FRAGMENT).",
            ],
        ),
        Scenario(
            "mtu-outer-df",
            "pod route MTU 1500 and DF on the outer header: oversized VXLAN packets dropped",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    _big_ping(4, POD2.ipv4, 56, count=1),
                    f"ping -4 -c 1 {POD2.ipv4} (84-byte packet: the path works)",
                ),
                Step(
                    POD1,
                    _big_ping(4, POD2.ipv4, 1472, wait=1),
                    f"ping -4 -c 3 -s 1472 {POD2.ipv4} (IPv4 packets of 1500 bytes)",
                    (1,),
                ),
                Step(
                    POD1,
                    _big_ping(6, POD2.ipv6, 1452, wait=1),
                    f"ping -6 -c 3 -s 1452 {POD2.ipv6} (IPv6 packets of 1500 bytes)",
                    (1,),
                ),
            ],
            pod_route_mtu={POD1.name: 1500},
            outer_df=True,
            notes=[
                f"**Planted faults**: pod {POD1.name}'s default routes have `mtu 1500` instead "
                "of 1450, and the tunnel key set by its lxc program asks for DF on the outer "
                "IPv4 header (`BPF_F_DONT_FRAGMENT`), so a 1550-byte outer packet may not be "
                "fragmented to fit the 1500-byte eth0.",
            ],
        ),
        Scenario(
            "ns-transient",
            "gateway NS and ARP unanswered (responder missing), then answered once restored",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    _ping(POD1, 6, POD2.ipv6, wait=4),
                    f"ping -6 -c 1 -W 4 {POD2.ipv6} (responders missing)",
                    (1,),
                ),
                Step(
                    POD1,
                    _ping(POD1, 4, POD2.ipv4, wait=4),
                    f"ping -4 -c 1 -W 4 {POD2.ipv4} (responders missing)",
                    (1,),
                ),
                Step(
                    POD1,
                    [],
                    f"lab: `tc filter replace` on {POD1.lxc_name} with the full program "
                    "(ARP and NDP responders back)",
                    action="restore-responders",
                ),
                Step(POD1, ["2"], "lab: wait 2 s", action="sleep"),
                Step(POD1, _ping(POD1, 6, POD2.ipv6), f"ping -6 -c 1 {POD2.ipv6}"),
                Step(POD1, _ping(POD1, 4, POD2.ipv4), f"ping -4 -c 1 {POD2.ipv4}"),
            ],
            responders_off=[POD1.name],
            notes=[
                f"**Planted fault, then repaired**: {POD1.lxc_name}'s program is first attached "
                "compiled without its ARP and NDP responders (ARP requests dropped; the router "
                "NS handed to the node's kernel, which owns no such address and stays silent); "
                "after the two failed pings the full program replaces it (`tc filter replace`, "
                "same prio/handle).",
            ],
        ),
        Scenario(
            "tcp-refused",
            "TCP SYN answered by RST,ACK from the remote pod: nothing listens on 8080",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    ["python3", "-c", TCP_CLIENT, POD2.ipv6, "8080"],
                    f"TCP connect [{POD2.ipv6}]:8080 (no listener)",
                    (3,),
                ),
                Step(
                    POD1,
                    ["python3", "-c", TCP_CLIENT, POD2.ipv4, "8080"],
                    f"TCP connect {POD2.ipv4}:8080 (no listener)",
                    (3,),
                ),
            ],
            sysdump=True,
            notes=[f"No server runs in {POD2.name}: port 8080 is closed there."],
        ),
        Scenario(
            "udp-refused",
            "DNS query (UDP) answered by ICMP port unreachable from the remote pod: nothing "
            "listens on 53",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    ["python3", "-c", UDP_CLIENT, POD2.ipv6, "53"],
                    f"DNS query to [{POD2.ipv6}]:53 (no listener)",
                    (3,),
                ),
                Step(
                    POD1,
                    ["python3", "-c", UDP_CLIENT, POD2.ipv4, "53"],
                    f"DNS query to {POD2.ipv4}:53 (no listener)",
                    (3,),
                ),
            ],
            notes=[
                f"No server runs in {POD2.name}: UDP port 53 is closed there, so its kernel "
                "answers with ICMP / ICMPv6 port unreachable."
            ],
        ),
        Scenario(
            "tcp-syn-dropped",
            "TCP SYNs dropped on the peer node (tc/eBPF drop): SYN and retransmissions unanswered",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(
                    POD1,
                    ["python3", "-c", TCP_CLIENT, POD2.ipv6, "8080", "3.5"],
                    f"TCP connect [{POD2.ipv6}]:8080 with a 3.5 s timeout",
                    (4,),
                ),
                Step(
                    POD1,
                    ["python3", "-c", TCP_CLIENT, POD2.ipv4, "8080", "3.5"],
                    f"TCP connect {POD2.ipv4}:8080 with a 3.5 s timeout",
                    (4,),
                ),
            ],
            servers=[
                Step(
                    POD2,
                    ["python3", "-c", TCP_SERVER, "1"],
                    f"TCP listener on [::]:8080 (dual stack) in {POD2.name}",
                    background=True,
                )
            ],
            drop_tcp=("worker2", 8080),
            notes=[
                f"**Planted fault**: the program on {WORKER2.name}'s tunnel device "
                "(`bpf_overlay.c` built with `DROP_TCP_DPORT=8080`) drops every decapsulated "
                "TCP SYN to port 8080 (`TC_ACT_SHOT`), as a policy drop at the destination "
                f"would; a listener does run in {POD2.name} on [::]:8080.",
            ],
        ),
        Scenario(
            "clock-skew",
            "IPv6 and IPv4 ping; worker2's three captures shifted +2.5 s after capturing",
            "vxlan",
            "ipv4",
            diff,
            [
                Step(POD1, _ping(POD1, 6, POD2.ipv6), f"ping -6 -c 1 {POD2.ipv6} from {POD1.name}"),
                Step(POD1, _ping(POD1, 4, POD2.ipv4), f"ping -4 -c 1 {POD2.ipv4} from {POD1.name}"),
            ],
            clock_shift={f: 2.5 for f in worker2_files},
            notes=[
                "**Planted fault (after capturing)**: every timestamp of "
                + ", ".join(f"`{f}`" for f in worker2_files)
                + " was moved 2.5 s later with `editcap -F pcap -t +2.5` (as if "
                f"{WORKER2.name}'s clock were 2.5 s ahead); the other captures are untouched. "
                "All captures were taken on one machine with one clock, so before the shift "
                "the clocks agreed to the microsecond.",
            ],
        ),
    ]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


class LabError(RuntimeError):
    """A lab step failed; the message names the command and its output."""


def run(
    argv: list[str], netns: str | None = None, check: bool = True, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run a command (optionally inside a lab namespace) and give its completed process."""
    if netns is not None:
        assert netns.startswith(NS_PREFIX), netns
        argv = ["ip", "netns", "exec", netns, *argv]
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and cp.returncode != 0:
        raise LabError(
            f"{' '.join(argv)!r} exited {cp.returncode}: {cp.stderr.strip() or cp.stdout.strip()}"
        )
    return cp


def ip(netns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip -n NETNS ARGS`` and give its completed process."""
    assert netns.startswith(NS_PREFIX), netns
    return run(["ip", "-n", netns, *args], check=check)


def sysctl(netns: str, key: str, value: str) -> None:
    """Set one sysctl inside a lab namespace."""
    run(["sysctl", "-q", "-w", f"{key}={value}"], netns=netns)


def lab_namespaces() -> list[str]:
    """Names of all existing namespaces that belong to the lab."""
    cp = run(["ip", "netns", "list"], check=False)
    return [
        line.split()[0]
        for line in cp.stdout.splitlines()
        if line.split() and line.split()[0].startswith(NS_PREFIX)
    ]


def teardown() -> None:
    """Delete every ``vl-lab-*`` namespace (their veths, tunnel devices and programs go with them)."""
    for ns in lab_namespaces():
        run(["ip", "netns", "del", ns], check=False)


def mac_bytes(mac: str) -> str:
    """``aa:bb:..`` as a C initialiser list."""
    return ",".join(f"0x{b}" for b in mac.split(":"))


def ip6_bytes(addr: str) -> str:
    """An IPv6 address as a C initialiser list of its 16 bytes."""
    return ",".join(f"0x{b:02x}" for b in ipaddress.IPv6Address(addr).packed)


def ip4_int(addr: str) -> str:
    """An IPv4 address as a host-order C integer literal."""
    return f"0x{int(ipaddress.IPv4Address(addr)):08x}"


# --------------------------------------------------------------------------------------------
# Requirements
# --------------------------------------------------------------------------------------------


def missing_requirements() -> list[str]:
    """What this machine lacks to run the lab (empty when everything is there)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (the lab creates network namespaces)")
    for tool, pkg in (
        ("ip", "iproute2"),
        ("tc", "iproute2"),
        ("clang", "clang"),
        ("tcpdump", "tcpdump"),
        ("ping", "iputils-ping"),
        ("tshark", "tshark"),
        ("sysctl", "procps"),
    ):
        if shutil.which(tool) is None:
            missing.append(f"{tool} (apt package {pkg})")
    if not Path("/usr/include/bpf/bpf_helpers.h").exists():
        missing.append("/usr/include/bpf/bpf_helpers.h (apt package libbpf-dev)")
    return missing


def probe_kernel() -> list[str]:
    """Kernel features the lab needs that are missing (creates and deletes one namespace)."""
    if missing_requirements():
        return ["(requirements missing, kernel not probed)"]
    ns = f"{NS_PREFIX}probe-{os.getpid()}"
    problems = []
    try:
        cp = run(["ip", "netns", "add", ns], check=False)
        if cp.returncode != 0:
            return [f"ip netns add: {cp.stderr.strip()}"]
        cp = ip(ns, "link", "add", "p0", "type", "veth", "peer", "name", "p1", check=False)
        if cp.returncode != 0:
            problems.append(f"veth: {cp.stderr.strip()}")
        cp = ip(
            ns, "link", "add", "vx", "type", "vxlan", "external", "dstport", "8472", check=False
        )
        if cp.returncode != 0:
            problems.append(f"vxlan external: {cp.stderr.strip()}")
        cp = run(["tc", "qdisc", "add", "dev", "p0", "clsact"], netns=ns, check=False)
        if cp.returncode != 0:
            problems.append(f"tc clsact: {cp.stderr.strip()}")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                src, obj = Path(tmp) / "p.c", Path(tmp) / "p.o"
                src.write_text(
                    "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
                    'SEC("probe") int probe_prog(struct __sk_buff *s) { return 0; }\n'
                    'char l[] SEC("license") = "GPL";\n'
                )
                cp = run(
                    [
                        "clang",
                        "-O2",
                        "-target",
                        "bpf",
                        *_clang_includes(),
                        "-c",
                        str(src),
                        "-o",
                        str(obj),
                    ],
                    check=False,
                )
                if cp.returncode != 0:
                    problems.append(f"clang -target bpf: {cp.stderr.strip()[:200]}")
                else:
                    cp = run(
                        [
                            "tc",
                            "filter",
                            "add",
                            "dev",
                            "p0",
                            "ingress",
                            "bpf",
                            "da",
                            "obj",
                            str(obj),
                            "sec",
                            "probe",
                        ],
                        netns=ns,
                        check=False,
                    )
                    if cp.returncode != 0:
                        problems.append(f"tc filter bpf da: {cp.stderr.strip()[:200]}")
    finally:
        run(["ip", "netns", "del", ns], check=False)
    return problems


def geneve_supported() -> tuple[bool, str]:
    """Whether the kernel can create a Geneve device, and the error text when it cannot."""
    ns = f"{NS_PREFIX}probe-g-{os.getpid()}"
    try:
        run(["ip", "netns", "add", ns])
        cp = ip(ns, "link", "add", "cilium_geneve", "type", "geneve", "external", check=False)
        return cp.returncode == 0, cp.stderr.strip()
    finally:
        run(["ip", "netns", "del", ns], check=False)


def _clang_includes() -> list[str]:
    arch_dirs = sorted(Path("/usr/include").glob("*-linux-gnu*"))
    return [f"-I{d}" for d in arch_dirs if (d / "asm").is_dir()]


# --------------------------------------------------------------------------------------------
# Building the datapath
# --------------------------------------------------------------------------------------------


@dataclass
class Variant:
    """How this run's datapath is built (recorded in the README)."""

    tunnel: str
    underlay: str
    tunnel_dev: str
    geneve_mode: str = ""  # "kernel" | "ebpf" (when tunnel == "geneve")
    geneve_error: str = ""
    # pod -> (netns, lxc, object with the responders) for a "restore-responders" step
    restore: dict[str, tuple[str, str, Path]] = field(default_factory=dict)


def build_veth_underlay() -> None:
    """Two nodes: their eth0s are the two ends of one veth (the original lab underlay)."""
    ip(
        WORKER.netns,
        "link",
        "add",
        "eth0",
        "index",
        str(WORKER.eth0_ifindex),
        "address",
        WORKER.eth0_mac,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "index",
        str(WORKER2.eth0_ifindex),
        "address",
        WORKER2.eth0_mac,
        "netns",
        WORKER2.netns,
    )


def build_bridged_underlay(nodes: list[Node]) -> None:
    """Three or more nodes: each eth0 is a veth whose peer is a port of br0 in UNDERLAY_NS."""
    run(["ip", "netns", "add", UNDERLAY_NS])
    sysctl(UNDERLAY_NS, "net.ipv6.conf.all.disable_ipv6", "1")
    sysctl(UNDERLAY_NS, "net.ipv6.conf.default.disable_ipv6", "1")
    ip(UNDERLAY_NS, "link", "add", "br0", "type", "bridge", "stp_state", "0")
    ip(UNDERLAY_NS, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0")
    for k, node in enumerate(nodes):
        port = f"u-{node.short}"
        # the peer's index is only honoured when the local end has one too
        ip(
            UNDERLAY_NS,
            "link",
            "add",
            port,
            "index",
            str(101 + k),
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "index",
            str(node.eth0_ifindex),
            "address",
            node.eth0_mac,
            "netns",
            node.netns,
        )
        ip(UNDERLAY_NS, "link", "set", port, "master", "br0", "up")
    ip(UNDERLAY_NS, "link", "set", "br0", "up")


def build(sc: Scenario, workdir: Path) -> Variant:
    """Create namespaces, links, addresses, routes and attach the eBPF programs."""
    variant = Variant(sc.tunnel, sc.underlay, "cilium_vxlan")
    if sc.tunnel == "geneve":
        ok, err = geneve_supported()
        variant.tunnel_dev = "cilium_geneve" if ok else ""
        variant.geneve_mode = "kernel" if ok else "ebpf"
        variant.geneve_error = err
    nodes = cluster(sc)
    pods = [p for n in nodes for p in n.pods]
    for ns in [n.netns for n in nodes] + [p.netns for p in pods]:
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "set", "lo", "up"], netns=ns)
        # Quiet, deterministic IPv6: no DAD delay, no router solicitations, fast MLD reports.
        for key, val in (
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.router_solicitations", "0"),
            ("net.ipv6.conf.default.mldv2_unsolicited_report_interval", "1"),
            ("net.ipv6.conf.default.mldv1_unsolicited_report_interval", "1"),
        ):
            sysctl(ns, key, val)
    for node in nodes:
        ns = node.netns
        for key in ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"):
            sysctl(ns, key, "1")
        ip(
            ns,
            "link",
            "add",
            "cilium_host",
            "index",
            str(CILIUM_HOST_IFINDEX),
            "address",
            node.cilium_host_mac,
            "type",
            "veth",
            "peer",
            "name",
            "cilium_net",
            "index",
            str(CILIUM_NET_IFINDEX),
            "address",
            node.cilium_net_mac,
        )
        if variant.tunnel_dev == "cilium_vxlan":
            ip(
                ns,
                "link",
                "add",
                "cilium_vxlan",
                "index",
                str(TUNNEL_IFINDEX),
                "address",
                node.tunnel_mac,
                "type",
                "vxlan",
                "external",
                "dstport",
                str(VXLAN_PORT),
                *(["udp6zerocsumrx"] if sc.underlay == "ipv6" else []),
            )
        elif variant.tunnel_dev == "cilium_geneve":
            ip(
                ns,
                "link",
                "add",
                "cilium_geneve",
                "index",
                str(TUNNEL_IFINDEX),
                "address",
                node.tunnel_mac,
                "type",
                "geneve",
                "external",
                "dstport",
                str(GENEVE_PORT),
            )
    if len(nodes) > 2 or sc.name in lab_mirror.MIRRORS:  # a mirror needs a switch to tap
        build_bridged_underlay(nodes)
    else:
        build_veth_underlay()
    for node in nodes:
        for pod in node.pods:
            ip(
                node.netns,
                "link",
                "add",
                pod.lxc_name,
                "index",
                str(pod.lxc_ifindex),
                "address",
                pod.lxc_mac,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "index",
                str(pod.eth0_ifindex),
                "address",
                pod.eth0_mac,
                "netns",
                pod.netns,
            )
    for node in nodes:
        ns = node.netns
        ip(ns, "addr", "add", f"{node.ipv4}/16", "dev", "eth0")
        ip(ns, "addr", "add", f"{node.ipv6}/64", "dev", "eth0", "nodad")
        ip(ns, "addr", "add", f"{node.router_ipv4}/32", "dev", "cilium_host", "scope", "link")
        ip(ns, "addr", "add", f"{node.ipv6}/128", "dev", "cilium_host", "nodad")
        devs = ["eth0", "cilium_net", "cilium_host", *(p.lxc_name for p in node.pods)]
        if variant.tunnel_dev:
            devs.append(variant.tunnel_dev)
        for dev in devs:
            ip(ns, "link", "set", dev, "up")
        ip(ns, "route", "add", f"{node.router_ipv4}/32", "dev", "cilium_host", "scope", "link")
        ip(
            ns,
            "route",
            "add",
            node.pod_cidr4,
            "via",
            node.router_ipv4,
            "dev",
            "cilium_host",
            "src",
            node.router_ipv4,
        )
        ip(ns, "-6", "route", "add", node.router_ipv6, "dev", "cilium_host")
        ip(ns, "-6", "route", "add", node.pod_cidr6, "via", node.router_ipv6, "dev", "cilium_host")
        for other in (n for n in nodes if n is not node):
            ip(
                ns,
                "route",
                "add",
                other.pod_cidr4,
                "via",
                node.router_ipv4,
                "dev",
                "cilium_host",
                "src",
                node.router_ipv4,
                "mtu",
                "1450",
            )
            ip(
                ns,
                "-6",
                "route",
                "add",
                other.pod_cidr6,
                "via",
                node.router_ipv6,
                "dev",
                "cilium_host",
                "mtu",
                "1450",
            )
    for pod in pods:
        ns, node = pod.netns, node_of(pod)
        ip(ns, "addr", "add", f"{pod.ipv4}/32", "dev", "eth0")
        ip(ns, "addr", "add", f"{pod.ipv6}/128", "dev", "eth0", "nodad")
        ip(ns, "link", "set", "eth0", "up")
        ip(ns, "route", "add", node.router_ipv4, "dev", "eth0", "scope", "link")
        mtu = str(sc.pod_route_mtu.get(pod.name, 1450))
        ip(ns, "route", "add", "default", "via", node.router_ipv4, "dev", "eth0", "mtu", mtu)
        ip(ns, "-6", "route", "add", node.router_ipv6, "dev", "eth0", "metric", "1024")
        ip(
            ns,
            "-6",
            "route",
            "add",
            "default",
            "via",
            node.router_ipv6,
            "dev",
            "eth0",
            "metric",
            "1024",
            "mtu",
            mtu,
        )
    attach_programs(sc, variant, workdir)
    return variant


def _compile(src: str, obj: Path, defines: dict[str, str], extra: list[str]) -> None:
    header = obj.with_suffix(".h")
    header.write_text("".join(f"#define {k} {v}\n" for k, v in defines.items()))
    run(
        [
            "clang",
            "-O2",
            "-g",
            "-Wall",
            "-Werror",
            "-target",
            "bpf",
            *_clang_includes(),
            *extra,
            "-include",
            str(header),
            "-c",
            str(BPF_DIR / src),
            "-o",
            str(obj),
        ],
        timeout=120,
    )


def _attach(netns: str, dev: str, obj: Path, sec: str) -> None:
    run(["tc", "qdisc", "replace", "dev", dev, "clsact"], netns=netns)
    run(
        [
            "tc",
            "filter",
            "replace",
            "dev",
            dev,
            "ingress",
            "prio",
            "1",
            "handle",
            "1",
            "bpf",
            "da",
            "obj",
            str(obj),
            "sec",
            sec,
        ],
        netns=netns,
    )


def attach_programs(sc: Scenario, variant: Variant, workdir: Path) -> None:
    """Compile one object per endpoint and per node (config baked in) and attach them."""
    ebpf_geneve = variant.geneve_mode == "ebpf"
    extra = ["-DENCAP_BPF_GENEVE"] if ebpf_geneve else []
    nodes = cluster(sc)
    for node in nodes:
        others = [n for n in nodes if n is not node]
        other = others[0]
        eps = ", ".join(
            f"{{{p.lxc_ifindex}, {ip4_int(p.ipv4)}, {{{ip6_bytes(p.ipv6)}}}, "
            f"{{{mac_bytes(p.eth0_mac)},{mac_bytes(p.lxc_mac)}}}}}"
            for p in node.pods
        )
        ndefs = {
            "N_ENDPOINTS": str(len(node.pods)),
            "LOCAL_ENDPOINTS": eps,
            "NODE_IPV4": ip4_int(node.ipv4),
        }
        if sc.drop_tcp and sc.drop_tcp[0] == node.short:
            ndefs["DROP_TCP_DPORT"] = str(sc.drop_tcp[1])
        obj = workdir / f"overlay-{node.short}.o"
        _compile("bpf_overlay.c", obj, ndefs, extra)
        if ebpf_geneve:
            _attach(node.netns, "eth0", obj, "from-netdev")
        else:
            _attach(node.netns, variant.tunnel_dev, obj, "from-overlay")
        for pod in node.pods:
            net4 = ipaddress.IPv4Network(other.pod_cidr4)
            defs = {
                "LXC_MAC": mac_bytes(pod.lxc_mac),
                "POD_IPV4": ip4_int(pod.ipv4),
                "ROUTER_IPV6": ip6_bytes(node.router_ipv6),
                "REMOTE_V6_PREFIX": ip6_bytes(str(ipaddress.IPv6Network(other.pod_cidr6)[0])),
                "IDENTITY": str(sc.identities[pod.name]),
                "TUNNEL_IFINDEX": str(TUNNEL_IFINDEX),
                "REMOTE_V4_NET": ip4_int(str(net4.network_address)),
                "REMOTE_V4_MASK": ip4_int(str(net4.netmask)),
                "REMOTE_NODE_IPV4": ip4_int(other.ipv4),
                "ENABLE_ARP_RESPONDER": "1",
                "ENABLE_NDP_RESPONDER": "1" if sc.ndp_responder.get(pod.name, True) else "0",
                "NODE_IPV4": ip4_int(node.ipv4),
                "NODE_MAC": mac_bytes(node.eth0_mac),
                "PEER_NODE_MAC": mac_bytes(other.eth0_mac),
                "UNDERLAY_IFINDEX": str(node.eth0_ifindex),
            }
            if sc.underlay == "ipv6":
                defs["UNDERLAY_IPV6"] = "1"
                defs["REMOTE_NODE_IPV6"] = ip6_bytes(other.ipv6)
            if sc.outer_df:
                defs["TUNNEL_DF"] = "1"
            if len(others) > 1:  # one {v4 net, v4 mask, v6 /64 prefix, node IPv4} per node
                defs["N_REMOTES"] = str(len(others))
                defs["REMOTES"] = ", ".join(
                    f"{{{ip4_int(str(ipaddress.IPv4Network(o.pod_cidr4).network_address))}, "
                    f"{ip4_int(str(ipaddress.IPv4Network(o.pod_cidr4).netmask))}, "
                    f"{{{ip6_bytes(str(ipaddress.IPv6Network(o.pod_cidr6)[0]))}}}, "
                    f"{ip4_int(o.ipv4)}}}"
                    for o in others
                )
            obj = workdir / f"lxc-{pod.name}.o"
            _compile("bpf_lxc.c", obj, defs, extra)
            if pod.name in sc.responders_off:
                # Start without the responders; restore_responders() attaches ``obj`` later.
                variant.restore[pod.name] = (node.netns, pod.lxc_name, obj)
                obj = workdir / f"lxc-{pod.name}-noresp.o"
                off = {**defs, "ENABLE_ARP_RESPONDER": "0", "ENABLE_NDP_RESPONDER": "0"}
                _compile("bpf_lxc.c", obj, off, extra)
            _attach(node.netns, pod.lxc_name, obj, "from-container")
    if ebpf_geneve:
        # The eBPF-built Geneve frames leave through eth0 directly; the peer's eth0 MAC is
        # written by the program, so the underlay needs no neighbour resolution.
        pass


# --------------------------------------------------------------------------------------------
# Capturing
# --------------------------------------------------------------------------------------------


@dataclass
class CapturePoint:
    """One tcpdump: namespace, interface and output file name."""

    netns: str
    iface: str
    filename: str
    what: str


def capture_points(nodes: list[Node] | None = None) -> list[CapturePoint]:
    """Every capture point: each pod's eth0, each node's eth0 and each node's ``-i any``."""
    nodes = nodes or NODES
    pts = [
        CapturePoint(p.netns, "eth0", f"pod-{p.name}-eth0.pcap", f"pod {p.name} eth0 (Ethernet)")
        for n in nodes
        for p in n.pods
    ]
    for n in nodes:
        pts.append(
            CapturePoint(
                n.netns, "eth0", f"node-{n.short}-eth0.pcap", f"node {n.name} eth0 (Ethernet)"
            )
        )
        pts.append(
            CapturePoint(
                n.netns,
                "any",
                f"node-{n.short}-any.pcap",
                f"node {n.name} -i any (Linux SLL2, all interfaces)",
            )
        )
    return pts


class Captures:
    """tcpdump on every capture point, started together and stopped cleanly."""

    def __init__(
        self,
        outdir: Path,
        nodes: list[Node] | None = None,
        points: list[CapturePoint] | None = None,
    ) -> None:
        self.outdir = outdir
        self.points = points if points is not None else capture_points(nodes or NODES)
        self.procs: list[tuple[CapturePoint, subprocess.Popen[bytes]]] = []
        self.stats: dict[str, str] = {}

    def start(self, timeout: float = 10.0) -> None:
        """Start all captures and return once every tcpdump reports that it is listening."""
        for pt in self.points:
            argv = [
                "ip",
                "netns",
                "exec",
                pt.netns,
                "tcpdump",
                "-U",
                "--immediate-mode",
                "-n",
                "-p",
                "-s",
                "9216",
                "-B",
                "8192",
                "-i",
                pt.iface,
                "-w",
                str(self.outdir / pt.filename),
            ]
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.procs.append((pt, proc))
        deadline = time.monotonic() + timeout
        for pt, proc in self.procs:
            assert proc.stderr is not None
            sel = selectors.DefaultSelector()
            sel.register(proc.stderr, selectors.EVENT_READ)
            buf = b""
            while b"listening on" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or proc.poll() is not None:
                    raise LabError(f"tcpdump on {pt.netns}/{pt.iface} did not start: {buf!r}")
                if sel.select(left):
                    chunk = os.read(proc.stderr.fileno(), 4096)
                    if not chunk:
                        continue
                    buf += chunk
            sel.close()

    def stop(self) -> None:
        """SIGINT every tcpdump, wait for it, and keep its packet counts."""
        time.sleep(0.3)  # let the last frames reach the capture buffers
        for _pt, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for pt, proc in self.procs:
            try:
                _out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                _out, err = proc.communicate()
            lines = [ln for ln in err.decode(errors="replace").splitlines() if "packets" in ln]
            self.stats[pt.filename] = "; ".join(lines)
            dropped = [ln for ln in lines if "dropped by kernel" in ln and not ln.startswith("0 ")]
            if dropped:
                raise LabError(f"tcpdump on {pt.netns}/{pt.iface} lost frames: {dropped[0]}")
        self.procs = []

    def kill(self) -> None:
        """Stop any tcpdump still running (used on failure)."""
        for _pt, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            if proc.poll() is None:
                proc.kill()
        self.procs = []


# --------------------------------------------------------------------------------------------
# Topology dumps
# --------------------------------------------------------------------------------------------

DUMPS = [
    ("ip-j-d-addr.json", ["-j", "-d", "addr"]),
    ("ip-d-a-l.txt", ["-d", "a", "l"]),
    ("ip-a.txt", ["a"]),
    ("ip-d-link.txt", ["-d", "link"]),
    ("ip-r.txt", ["r"]),
    ("ip-6-r.txt", ["-6", "r"]),
    ("ip-j-r.json", ["-j", "r"]),
    ("ip-j-6-r.json", ["-j", "-6", "r"]),
    ("ip-n.txt", ["n"]),
    ("ip-6-n.txt", ["-6", "n"]),
    ("ip-j-n.json", ["-j", "n"]),
    ("ip-j-6-n.json", ["-j", "-6", "n"]),
]


def dump_topology(outdir: Path, sc: Scenario, variant: Variant) -> None:
    """Write ``topology/<node or pod>/`` with ip dumps, and a cilium-dbg endpoint list per node."""
    nodes = cluster(sc)
    targets = [(n.name, n.netns) for n in nodes] + [
        (p.name, p.netns) for n in nodes for p in n.pods
    ]
    for name, ns in targets:
        d = outdir / "topology" / name
        d.mkdir(parents=True, exist_ok=True)
        for fname, args in DUMPS:
            cp = ip(ns, *args)
            if fname.endswith(".json"):
                json.loads(cp.stdout or "[]")  # must be valid JSON; kept exactly as ip printed it
            (d / fname).write_text(cp.stdout)
    for node in nodes:
        links = {lk["ifname"]: lk for lk in json.loads(ip(node.netns, "-j", "link").stdout)}
        (outdir / "topology" / node.name / "cilium-dbg-endpoint-list.json").write_text(
            json.dumps(endpoint_list(node, sc, links), indent=2) + "\n"
        )


def _endpoint(
    ep_id: int,
    ident: int,
    labels: list[str],
    networking: dict[str, object],
    external: dict[str, str],
) -> dict[str, object]:
    options = {
        "Conntrack": "Enabled",
        "ConntrackAccounting": "Enabled",
        "Debug": "Disabled",
        "DropNotification": "Enabled",
        "MonitorAggregationLevel": "None",
        "PolicyAuditMode": "Disabled",
        "TraceNotification": "Enabled",
    }
    return {
        "id": ep_id,
        "spec": {"label-configuration": {}, "options": options},
        "status": {
            "external-identifiers": external,
            "health": {"bpf": "OK", "connected": True, "overallHealth": "OK", "policy": "OK"},
            "identity": {"id": ident, "labels": labels},
            "labels": {"realized": {}, "security-relevant": labels},
            "networking": networking,
            "policy": {
                "realized": {"id": ident, "policy-enabled": "none"},
                "spec": {"id": ident, "policy-enabled": "none"},
            },
            "realized": {"label-configuration": {}, "options": options},
            "state": "ready",
        },
    }


def endpoint_list(node: Node, sc: Scenario, links: dict[str, dict[str, object]]) -> list[object]:
    """A ``cilium-dbg endpoint list -o json``-shaped array for one node (lab values)."""
    out: list[object] = [
        _endpoint(
            node.host_endpoint_id,
            1,
            ["reserved:host"],
            {
                "addressing": [{}],
                "host-mac": links["cilium_host"]["address"],
                "interface-name": "cilium_host",
                "mac": links["cilium_host"]["address"],
            },
            {},
        )
    ]
    for pod in node.pods:
        ident = sc.identities[pod.name]
        labels = pod.labels if ident != IDENT_SHARED else DAEMONSET_LABELS
        out.append(
            _endpoint(
                pod.endpoint_id,
                ident,
                labels,
                {
                    "addressing": [{"ipv4": pod.ipv4, "ipv6": pod.ipv6}],
                    "container-interface-name": "eth0",
                    "host-mac": links[pod.lxc_name]["address"],
                    "interface-index": links[pod.lxc_name]["ifindex"],
                    "interface-name": pod.lxc_name,
                    "mac": pod.eth0_mac,
                },
                {
                    "cni-attachment-id": f"{pod.container_id}:eth0",
                    "container-id": pod.container_id,
                    "k8s-namespace": "default",
                    "k8s-pod-name": pod.name,
                    "pod-name": f"default/{pod.name}",
                },
            )
        )
    return sorted(out, key=lambda e: e["id"])  # type: ignore[index]


def write_sysdump(outdir: Path, sc: Scenario) -> Path:
    """A cilium-sysdump-shaped zip of this run (lab/lab_sysdump.py), next to the captures."""
    ip_out = {
        n.name: {f: ip(n.netns, *args).stdout for f, args in lab_sysdump.BUGTOOL_IP.items()}
        for n in cluster(sc)
    }
    eps = {}
    for n in cluster(sc):
        links = {lk["ifname"]: lk for lk in json.loads(ip(n.netns, "-j", "link").stdout)}
        eps[n.name] = endpoint_list(n, sc, links)
    return lab_sysdump.write_sysdump(outdir, cluster(sc), sc.identities, ip_out, eps)


# --------------------------------------------------------------------------------------------
# Running a scenario
# --------------------------------------------------------------------------------------------


@dataclass
class StepResult:
    """What one step printed and how it ended."""

    step: Step
    rc: int
    output: str


def run_step(step: Step, variant: Variant) -> StepResult:
    """Run one step: a command in a pod's namespace, or a lab action between commands."""
    if step.action == "sleep":
        time.sleep(float(step.argv[0]))
        return StepResult(step, 0, "")
    if step.action == "restore-responders":
        for netns, lxc, obj in variant.restore.values():
            _attach(netns, lxc, obj, "from-container")  # tc filter replace: same prio/handle
        return StepResult(step, 0, "")
    if step.action:
        raise LabError(f"unknown action {step.action!r}")
    cp = run(step.argv, netns=step.pod.netns, check=False, timeout=20)
    out = (cp.stdout + cp.stderr).strip()
    if cp.returncode not in step.expect_rc:
        raise LabError(f"{step.what}: exit {cp.returncode}, expected {step.expect_rc}: {out}")
    return StepResult(step, cp.returncode, out)


def shift_clock(pcap: Path, seconds: float) -> None:
    """Add ``seconds`` to every timestamp of ``pcap`` (editcap -t), keeping classic pcap."""
    tmp = pcap.with_suffix(".shifted")
    run(["editcap", "-F", "pcap", "-t", f"{seconds:+}", str(pcap), str(tmp)])
    tmp.replace(pcap)


def run_scenario(sc: Scenario, outdir: Path, log: Callable[[str], None]) -> None:
    """Build, capture, drive, dump, describe and tear down one scenario into ``outdir``."""
    if sc.name in lab_ovn.SCENARIOS:  # OVN-shaped Geneve: kernel bridge + eBPF
        lab_ovn.run_ovn(sc, outdir, log, sys.modules[__name__])
        return
    if sc.name in lab_antrea.SCENARIOS:  # Antrea-shaped Geneve: kernel bridge + eBPF
        lab_antrea.run_antrea(sc, outdir, log, sys.modules[__name__])
        return
    if sc.name in lab_cni.CNIS or sc.name in lab_cni6.CNIS6:  # Flannel / Calico: own builder
        lab_cni.run_cni(sc, outdir, log, sys.modules[__name__])
        return
    if sc.name in lab_xsubnet.SCENARIOS:  # Calico CrossSubnet: three nodes, a router
        lab_xsubnet.run_xsubnet(sc, outdir, log, sys.modules[__name__])
        return
    if sc.name in lab_mirror.MIRRORS:  # ERSPAN / VXLAN mirror of worker's eth0
        lab_mirror.run_mirror(sc, outdir, log, sys.modules[__name__])
        return
    outdir.mkdir(parents=True, exist_ok=True)
    for old in [*outdir.glob("*.pcap"), *outdir.glob("*.zip"), outdir / "README.md"]:
        old.unlink(missing_ok=True)
    if (outdir / "topology").is_dir():
        shutil.rmtree(outdir / "topology")
    teardown()
    caps = Captures(outdir, cluster(sc))
    servers: list[subprocess.Popen[str]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="vl-lab-") as tmp:
            variant = build(sc, Path(tmp))  # objects stay in tmp for restore steps
            time.sleep(1.0)  # let link-up MLD reports pass before the capture window
            for srv in sc.servers:
                proc = subprocess.Popen(
                    ["ip", "netns", "exec", srv.pod.netns, *srv.argv],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                servers.append(proc)
                assert proc.stdout is not None
                if proc.stdout.readline().strip() != "listening":
                    raise LabError(f"server {srv.what} did not start")
            caps.start()
            time.sleep(sc.settle)
            results = []
            for step in sc.steps:
                results.append(run_step(step, variant))
                time.sleep(0.2)
            for proc in servers:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            caps.stop()
        for fname, secs in sc.clock_shift.items():
            shift_clock(outdir / fname, secs)
        dump_topology(outdir, sc, variant)
        if sc.sysdump:
            write_sysdump(outdir, sc)
        write_readme(outdir, sc, variant, results, caps.stats, cluster(sc))
        log(f"{sc.name}: ok -> {outdir}")
    finally:
        caps.kill()
        for proc in servers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        teardown()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; gives the process exit status."""
    names = [s.name for s in scenarios()]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out",
        type=Path,
        default=ROOT / "captures",
        help="parent folder; each scenario goes to OUT/lab-<name>/ (default: captures/)",
    )
    ap.add_argument("--scenario", action="append", choices=names, help="run only these")
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument(
        "--check",
        action="store_true",
        help="print what is missing to run the lab (exit 1 if anything is)",
    )
    ap.add_argument("--teardown", action="store_true", help="remove any lab namespaces and exit")
    args = ap.parse_args(argv)
    if args.list:
        for s in scenarios():
            print(f"{s.name:18} {s.title}")
        return 0
    with _exclusive():
        return _locked_main(args)


LOCK = Path(tempfile.gettempdir()) / "vl-lab-run.lock"
"""Held by every lab run: teardown removes *all* ``vl-lab-*`` namespaces, so two runs at once
would destroy each other's."""


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """Holds :data:`LOCK` for the block, waiting (and saying so) while another run holds it."""
    with LOCK.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"lab: another lab run holds {LOCK}; waiting for it", file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _locked_main(args: argparse.Namespace) -> int:
    """The lab run itself, with the lock held."""
    if args.teardown:
        teardown()
        return 0
    missing = missing_requirements() or probe_kernel()
    if args.check or missing:
        for m in missing:
            print(f"missing: {m}", file=sys.stderr)
        return 1 if missing else 0

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    selected = [s for s in scenarios() if not args.scenario or s.name in args.scenario]
    try:
        for sc in selected:
            run_scenario(sc, args.out / f"lab-{sc.name}", log)
    finally:
        teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
