"""An OVN-shaped Geneve overlay (OVN-Kubernetes) in network namespaces (issue 13, OVN).

OVS and ovn-controller cannot run in the lab and this kernel has no geneve device, so the
pod-to-pod path across nodes is built from plain kernel devices and two eBPF programs
(lab/bpf/bpf_ovn.c): per node a Linux bridge ``br-int`` (standing for OVS's integration bridge)
holding the pod's port, and on that port a tc program doing what OVN's logical flows do to a
packet for a pod on another node (the distributed logical router routes it, TTL - 1, and the
remote node's logical switch addresses it from its router port to the pod), then OVN's Geneve
encapsulation: VNI = the remote logical switch's datapath key, one option of class 0x0102 type
0x80 holding the logical ingress and egress ports. On eth0 the reverse, without TTL change.
The model is OVN-Kubernetes' classic (non-interconnect) topology: one ``ovn_cluster_router``
distributed over the nodes, one logical switch per node. Standard library only.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from types import ModuleType
from typing import Any

from lab_cni import Cni, CniNode, CniPod, dump
from lab_steps import run_bpf_ping

FACTS = {
    "ovn": [
        "OVN's Geneve option: `OVN_GENEVE_CLASS 0x0102`, `OVN_GENEVE_TYPE 0x80` (critical), "
        '`OVN_GENEVE_LEN 4`: ovn-org/ovn `controller/physical.h` ("Keep these in sync with the '
        'documentation in ovn-architecture(7)").',
        "What OVN puts in a tunnel (ovn-architecture(7), Tunnel Encapsulations): a 24-bit "
        "logical datapath identifier (the `tunnel_key` of the Southbound `Datapath_Binding`) in "
        "the Geneve VNI; in the option, 1 reserved bit, the 15-bit logical ingress port and the "
        "16-bit logical egress port (`tunnel_key` of the `Port_Binding`; egress keys from 32768 "
        "are multicast groups).",
        "OVN-Kubernetes derives a port's MAC from its IPv4 address, `0a:58:<a.b.c.d>` (pods and "
        "the node switch's router port, whose address is the node subnet's .1, the pods' "
        "gateway); the pods' ARP for the gateway is answered by OVN's logical flows with the "
        "router port's MAC (recalled from ovn-kubernetes, not read line by line here).",
        "The classic topology: `ovn_cluster_router` distributed over every node, one logical "
        "switch per node; a packet to another node's pod is routed on the sending node (TTL - 1) "
        "and switched there into the remote node's switch, whose egress runs on the remote node: "
        "the tunnel carries the remote switch's datapath key, the router port → pod MACs and TTL "
        "63, and the pod receives TTL 63 (one routing hop). OVN-Kubernetes' interconnect mode "
        "(per-node routers joined by a transit switch) routes twice and is not modelled.",
        "ovn-controller enables the outer UDP checksum on its Geneve tunnels by default "
        "(`ovn-encap-csum`, default `true`, `controller/chassis.c`); the lab leaves it 0.",
        "Not OVN itself: OVS and ovn-controller cannot run in the lab and the kernel has no "
        "geneve device, so `br-int` is a Linux bridge holding the pod's port, there is no "
        "`genev_sys_6081` and no `ovn-k8s-mp0`, and lab/bpf/bpf_ovn.c does the logical flows' "
        "ARP answer, routing, MAC rewrite and the Geneve encapsulation with OVN's option. The "
        "datapath and port keys are invented; the wire is what those flows produce.",
    ],
}

DP_KEYS = {"ovn-worker": 4, "ovn-worker2": 5}
"""Logical datapath keys of the nodes' logical switches (invented; northd numbers them)."""
ROUTER_PORT_KEY = 1
"""Port key of ``stor-<node>``, the switch's port to the cluster router (invented)."""
POD_PORT_KEY = 3
"""Port key of the pod's logical port on its node's switch (invented)."""


def _ovn_mac(ip: str) -> str:
    """``0a:58:<a.b.c.d>``: the MAC OVN-Kubernetes gives the port holding IPv4 ``ip``."""
    return "0a:58:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


OVN = Cni(
    "ovn",
    "br-int",
    0,
    6081,
    [
        CniNode("ovn-worker", "worker", "vl-lab-ovn-worker", "02:42:ac:12:00:04", 8,
                "172.18.0.4", "10.244.1.0/24", "10.244.1.1", _ovn_mac("10.244.1.1"),
                "c6:1b:40:7e:00:11",
                CniPod("busybox-7c9d8", "vl-lab-ovn-pod1", _ovn_mac("10.244.1.5"), "10.244.1.5",
                       24, "3f2a9c71d0e4b6a", "9e:21:6b:d4:03:8a")),
        CniNode("ovn-worker2", "worker2", "vl-lab-ovn-worker2", "02:42:ac:12:00:03", 6,
                "172.18.0.3", "10.244.2.0/24", "10.244.2.1", _ovn_mac("10.244.2.1"),
                "c6:1b:40:7e:00:12",
                CniPod("busybox-k4x2p", "vl-lab-ovn-pod2", _ovn_mac("10.244.2.7"), "10.244.2.7",
                       24, "81d0e4b6a5c3f29", "32:c5:7f:19:ae:60")),
    ],
)  # fmt: skip

SCENARIOS = {"ovn-geneve-ping": OVN}
POD_IFINDEX = 20
MTU = "1400"
"""The pods' MTU: the underlay's 1500 less 100, room for Geneve with OVN's option over IPv4 (58
bytes) or IPv6 (78); a lab choice (OVN-Kubernetes takes its MTU from its configuration)."""


def _mac_bytes(mac: str) -> str:
    return ", ".join(f"0x{b}" for b in mac.split(":"))


def _ip4(ip: str) -> str:
    return f"0x{int(ipaddress.IPv4Address(ip)):08x}"


def build(cni: Cni, lab: ModuleType, workdir: Path) -> None:
    """Namespaces, underlay, br-int with the pod's port, eBPF programs."""
    ip, run, sysctl = lab.ip, lab.run, lab.sysctl
    for n in cni.nodes:
        for ns in (n.netns, n.pod.netns):
            run(["ip", "netns", "add", ns])
            run(["ip", "link", "set", "lo", "up"], netns=ns)
            for key in ("all", "default"):
                sysctl(ns, f"net.ipv6.conf.{key}.disable_ipv6", "1")
    a, b = cni.nodes
    ip(a.netns, "link", "add", "eth0", "index", str(a.eth0_ifindex), "address", a.eth0_mac,
       "type", "veth", "peer", "name", "eth0", "index", str(b.eth0_ifindex), "address",
       b.eth0_mac, "netns", b.netns)  # fmt: skip
    for n in cni.nodes:
        ns, p, o = n.netns, n.pod, (b if n is a else a)
        ip(ns, "addr", "add", f"{n.ipv4}/16", "dev", "eth0")
        ip(ns, "link", "set", "eth0", "up")
        ip(ns, "link", "add", "br-int", "address", n.bridge_mac, "mtu", MTU, "type", "bridge")
        sysctl(ns, "net.ipv4.conf.br-int.arp_ignore", "1")  # OVS's bridge has no address
        ip(ns, "link", "set", "br-int", "up")
        ip(ns, "link", "add", p.host_veth, "index", str(POD_IFINDEX), "address", p.host_mac,
           "mtu", MTU, "type", "veth", "peer", "name", "eth0", "address", p.eth0_mac, "mtu", MTU,
           "netns", p.netns)  # fmt: skip
        ip(ns, "link", "set", p.host_veth, "master", "br-int", "up")
        ip(p.netns, "addr", "add", f"{p.ipv4}/{p.prefix}", "dev", "eth0")
        ip(p.netns, "link", "set", "eth0", "up")
        ip(p.netns, "route", "add", "default", "via", n.tunnel_ip, "dev", "eth0")
        net = ipaddress.IPv4Network(o.subnet)
        defs = {
            "NODE_IPV4": _ip4(n.ipv4),
            "REMOTE_NODE_IPV4": _ip4(o.ipv4),
            "NODE_MAC": _mac_bytes(n.eth0_mac),
            "PEER_NODE_MAC": _mac_bytes(o.eth0_mac),
            "GW_IPV4": _ip4(n.tunnel_ip),
            "ROUTER_MAC": _mac_bytes(n.vtep_mac),
            "REMOTE_ROUTER_MAC": _mac_bytes(o.vtep_mac),
            "POD_IFINDEX": str(POD_IFINDEX),
            "UNDERLAY_IFINDEX": str(n.eth0_ifindex),
            "REMOTE_V4_NET": _ip4(str(net.network_address)),
            "REMOTE_V4_MASK": _ip4(str(net.netmask)),
            "LOCAL_DP_KEY": str(DP_KEYS[n.name]),
            "REMOTE_DP_KEY": str(DP_KEYS[o.name]),
            "LOCAL_POD_PORT_KEY": str(POD_PORT_KEY),
            "REMOTE_ROUTER_PORT_KEY": str(ROUTER_PORT_KEY),
            "REMOTE_POD_PORT_KEY": str(POD_PORT_KEY),
        }
        obj = workdir / f"ovn-{n.short}.o"
        lab._compile("bpf_ovn.c", obj, defs, [])
        for dev, sec in ((p.host_veth, "from-pod"), ("eth0", "from-netdev")):
            run(["tc", "qdisc", "replace", "dev", dev, "clsact"], netns=ns)
            run(["tc", "filter", "replace", "dev", dev, "ingress", "prio", "1", "handle", "1",
                 "bpf", "da", "obj", str(obj), "sec", sec], netns=ns)  # fmt: skip


def run_ovn(sc: Any, outdir: Path, log: Any, lab: ModuleType) -> None:
    """Build, capture one ping, dump, describe and tear down the OVN scenario."""
    run_bpf_ping(sc, outdir, log, lab, SCENARIOS[sc.name], build, dump, _readme)


def _geneve_option(pcap: Path, frame: int) -> tuple[str, str, str, int, int]:
    """Class, type and data of the Geneve option of ``frame`` in ``pcap`` (read with tshark),
    and the logical ingress and egress ports the data holds (OVN's layout)."""
    import subprocess

    out = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-Y", f"frame.number == {frame}", "-T", "fields",
         "-e", "geneve.option.class", "-e", "geneve.option.type",
         "-e", "geneve.option.unknown.data"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    cls, typ, data = out[0], out[1], out[2].replace(":", "")
    value = int(data, 16)
    return (
        f"0x{int(cls, 0):04x}",
        f"0x{int(typ, 0):02x}",
        data,
        (value >> 16) & 0x7FFF,
        value & 0xFFFF,
    )


def _readme(cni: Cni, sc: Any, outdir: Path, cmd: str, output: str, stats: dict[str, str]) -> None:
    import lab_cni_readme
    from lab_readme import read_frames

    files = sorted(stats)
    frames = {f: read_frames(outdir / f) for f in files}
    a, b = cni.nodes
    pf_a, pf_b = f"pod-{a.pod.name}-eth0.pcap", f"pod-{b.pod.name}-eth0.pcap"
    ef_a, ef_b = f"node-{a.short}-eth0.pcap", f"node-{b.short}-eth0.pcap"

    def find(f: str, kind: str) -> list[Any]:
        return [x for x in frames[f] if x.kind == kind]

    arp = find(pf_a, "arp-reply")
    req, rep = find(pf_a, "echo-request")[0], find(pf_a, "echo-reply")[0]
    t_a, d_b = find(ef_a, "echo-request")[0], find(pf_b, "echo-request")[0]
    r_b = find(ef_b, "echo-reply")[0]
    opt = _geneve_option(outdir / ef_a, t_a.n)
    bullets = [
        f"Gateway: pod {a.pod.name} resolves {a.tunnel_ip} and gets "
        f"{arp[0].info['sha'] if arp else '?'} (the router port's MAC, 0a:58 + its address; "
        "answered by eBPF standing for OVN's ARP responder flows).",
        f"Echo request {a.pod.ipv4} → {b.pod.ipv4} leaves the pod (frame {req.n}) with TTL "
        f"{req.hops}, MACs {req.src_mac} → {req.dst_mac} (pod → router port).",
        f"On {ef_a} (frame {t_a.n}) it is inside Geneve UDP {t_a.outer_sport} → "
        f"{t_a.outer_dport}, VNI {t_a.vni} (the logical datapath key of {b.name}'s switch), "
        f"{t_a.outer_src} → {t_a.outer_dst}, with one option: class {opt[0]}, type {opt[1]}, "
        f"data {opt[2]} (OVN's: logical ingress port {opt[3]}, the switch's router port; "
        f"egress port {opt[4]}, the pod's); inner MACs {t_a.src_mac} → {t_a.dst_mac} ({b.name}'s "
        f"router port → the destination pod), TTL {t_a.hops} (routed once, on {a.name}).",
        f"At {b.pod.name} (frame {d_b.n}) it arrives unchanged: TTL {d_b.hops}, MACs "
        f"{d_b.src_mac} → {d_b.dst_mac}; the reply travels with VNI {r_b.vni} ({a.name}'s "
        f"switch) and reaches {a.pod.name} in frame {rep.n} with TTL {rep.hops}: answered, "
        f"{(rep.t - req.t) * 1e6:.0f} µs round trip.",
        "A correct analysis: healthy, answered; an OVN overlay (Geneve 6081 with option class "
        "0x0102 in every frame, the VNI a logical datapath: request and reply differ because "
        "they enter different switches, not because of any identity), TTL −1 once, inner MACs "
        "router port → pod; no Cilium rule applied (the VNIs are no identities).",
    ]
    facts = lab_cni_readme.FACTS.get("ovn")
    lab_cni_readme.FACTS["ovn"] = FACTS["ovn"]
    made = (
        "namespaces: the kernel's bridge and tc eBPF programs (lab/bpf/bpf_ovn.c) doing what "
        "OVN's logical flows and Geneve tunnel do, because OVS cannot run here and the kernel "
        "has no geneve device). "
    )
    lab_line = (
        "- Lab: per node a Linux bridge `br-int` holding the pod's port (its host veth, named "
        "after the container id as OVN-Kubernetes does); the program `from-pod` on that port "
        "answers the pod's ARP for its gateway and routes, rewrites and encapsulates packets "
        "for the other node's subnet in Geneve with OVN's option, out of eth0; `from-netdev` "
        "on eth0 checks the datapath and port keys, decapsulates and outputs to the pod's "
        f"port; pods' MTU {MTU}; IPv6 disabled everywhere. Datapath keys {DP_KEYS}, router port key "
        f"{ROUTER_PORT_KEY}, pod port key {POD_PORT_KEY} (invented)."
    )
    try:
        lab_cni_readme._write(cni, sc, outdir, cmd, output, stats, files, frames, bullets,
                              made=made, lab_line=lab_line, gateway="router port")  # fmt: skip
    finally:
        if facts is None:
            del lab_cni_readme.FACTS["ovn"]
        else:
            lab_cni_readme.FACTS["ovn"] = facts
