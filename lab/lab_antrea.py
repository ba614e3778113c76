"""An Antrea-shaped Geneve overlay in network namespaces (issue 13 item 4, Antrea).

OVS cannot run in the lab and this kernel has no geneve device, so the pod-to-pod path across
nodes is built from plain kernel devices and two eBPF programs (lab/bpf/bpf_antrea.c): per node
a Linux bridge ``br-int`` (standing for Antrea's OVS bridge) with the pod's veth and the gateway
``antrea-gw0`` (a veth whose peer is a bridge port, standing for the OVS internal port: it holds
the pod CIDR's .1 and answers the pods' ARP in the kernel), and on the pod's port a tc program
doing what Antrea's flows do to a packet for another node's pod: source MAC := antrea-gw0's,
destination MAC := the global virtual MAC aa:bb:cc:dd:ee:ff, TTL - 1, Geneve (UDP 6081, VNI 0)
to the remote node; on eth0 the reverse. Standard library only.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from types import ModuleType
from typing import Any

from lab_cni import MTU, Cni, CniNode, CniPod, dump
from lab_steps import run_bpf_ping

VIRTUAL_MAC = "aa:bb:cc:dd:ee:ff"

FACTS = {
    "antrea": [
        'Global virtual MAC `GlobalVirtualMAC, _ = net.ParseMAC("aa:bb:cc:dd:ee:ff")` and the '
        "flow to a remote node's pods `l3FwdFlowToRemoteViaTun`: `SetSrcMAC(localGatewayMAC)` "
        '("Rewrite src MAC to local gateway MAC"), `SetDstMAC(GlobalVirtualMAC)`, '
        "`SetTunnelDst(tunnelPeer)`, then `L3DecTTLTable`: antrea-io/antrea "
        "`pkg/agent/openflow/pipeline.go`.",
        "The gateway `antrea-gw0` holds the node's pod CIDR .1; the tunnel port `antrea-tun0`; "
        "Geneve on UDP 6081 (the default encapsulation) with VNI 0 (flow-based tunnel, no VNI "
        "set by the flows above); OVS sends tunnels without outer UDP checksum and with DF by "
        "default (assumed from OVS defaults, not read in source here).",
        "The node's kernel route to a remote pod CIDR goes via the remote gateway .1 on "
        "antrea-gw0 with a permanent neighbour entry to the global virtual MAC "
        "(`generateNeigh`: `LinkLayerAddress: openflow.GlobalVirtualMAC`, `State: Permanent`); "
        "the pods' own traffic does not use it (OVS forwards it).",
        "Not Antrea itself: OVS cannot run in the lab and the kernel has no geneve device, so "
        "`br-int` is a Linux bridge, `antrea-gw0` a veth on it, there is no `antrea-tun0` device, "
        "and lab/bpf/bpf_antrea.c does the flows' rewrite and the Geneve encapsulation. The "
        "wire (MACs, TTL, Geneve header) is what those flows produce; the devices are not.",
    ],
}

ANTREA = Cni(
    "antrea",
    "br-int",
    0,
    6081,
    [
        CniNode("antrea-worker", "worker", "vl-lab-an-worker", "02:42:ac:12:00:04", 8,
                "172.18.0.4", "10.10.1.0/24", "10.10.1.1", VIRTUAL_MAC, "4e:3a:91:0c:2d:11",
                CniPod("busybox-7c9d8", "vl-lab-an-pod1", "2e:84:b1:0c:6f:d3", "10.10.1.5", 24,
                       "busybox-3f2a9c", "9e:21:6b:d4:03:8a")),
        CniNode("antrea-worker2", "worker2", "vl-lab-an-worker2", "02:42:ac:12:00:03", 6,
                "172.18.0.3", "10.10.2.0/24", "10.10.2.1", VIRTUAL_MAC, "be:52:07:a9:1e:22",
                CniPod("busybox-k4x2p", "vl-lab-an-pod2", "f6:0b:53:a8:c1:47", "10.10.2.7", 24,
                       "busybox-81d0e4", "32:c5:7f:19:ae:60")),
    ],
)  # fmt: skip

SCENARIOS = {"antrea-geneve-ping": ANTREA}
POD_IFINDEX = 20
BR_MACS = {"worker": "c6:1b:40:7e:00:01", "worker2": "c6:1b:40:7e:00:02"}
"""br-int's own MACs (invented; a Linux bridge would otherwise take its lowest port MAC)."""


def _mac_bytes(mac: str) -> str:
    return ", ".join(f"0x{b}" for b in mac.split(":"))


def _ip4(ip: str) -> str:
    return f"0x{int(ipaddress.IPv4Address(ip)):08x}"


def build(cni: Cni, lab: ModuleType, workdir: Path) -> None:
    """Namespaces, underlay, br-int with antrea-gw0 and the pod, routes, eBPF programs."""
    ip, run, sysctl = lab.ip, lab.run, lab.sysctl
    for n in cni.nodes:
        for ns in (n.netns, n.pod.netns):
            run(["ip", "netns", "add", ns])
            run(["ip", "link", "set", "lo", "up"], netns=ns)
            for key in ("all", "default"):
                sysctl(ns, f"net.ipv6.conf.{key}.disable_ipv6", "1")
        sysctl(n.netns, "net.ipv4.ip_forward", "1")
    a, b = cni.nodes
    ip(a.netns, "link", "add", "eth0", "index", str(a.eth0_ifindex), "address", a.eth0_mac,
       "type", "veth", "peer", "name", "eth0", "index", str(b.eth0_ifindex), "address",
       b.eth0_mac, "netns", b.netns)  # fmt: skip
    for n in cni.nodes:
        ns, p, o = n.netns, n.pod, (b if n is a else a)
        ip(ns, "addr", "add", f"{n.ipv4}/16", "dev", "eth0")
        ip(ns, "link", "set", "eth0", "up")
        ip(ns, "link", "add", "br-int", "address", BR_MACS[n.short], "mtu", MTU, "type",
           "bridge")  # fmt: skip
        # br-int stands for the OVS bridge, which has no address: only antrea-gw0 answers ARP
        sysctl(ns, "net.ipv4.conf.br-int.arp_ignore", "1")
        ip(ns, "link", "set", "br-int", "up")
        ip(ns, "link", "add", "antrea-gw0", "address", n.bridge_mac, "mtu", MTU, "type", "veth",
           "peer", "name", "gw0-port", "mtu", MTU)  # fmt: skip
        ip(ns, "link", "set", "gw0-port", "master", "br-int", "up")
        ip(ns, "addr", "add", f"{n.tunnel_ip}/24", "dev", "antrea-gw0")
        ip(ns, "link", "set", "antrea-gw0", "up")
        ip(ns, "link", "add", p.host_veth, "index", str(POD_IFINDEX), "address", p.host_mac,
           "mtu", MTU, "type", "veth", "peer", "name", "eth0", "address", p.eth0_mac, "mtu", MTU,
           "netns", p.netns)  # fmt: skip
        ip(ns, "link", "set", p.host_veth, "master", "br-int", "up")
        ip(p.netns, "addr", "add", f"{p.ipv4}/24", "dev", "eth0")
        ip(p.netns, "link", "set", "eth0", "up")
        ip(p.netns, "route", "add", "default", "via", n.tunnel_ip, "dev", "eth0")
        # the kernel's own route to the remote pod CIDR, as Antrea installs it (unused by pods)
        ip(ns, "neigh", "add", o.tunnel_ip, "dev", "antrea-gw0", "lladdr", VIRTUAL_MAC,
           "nud", "permanent")  # fmt: skip
        ip(ns, "route", "add", o.subnet, "via", o.tunnel_ip, "dev", "antrea-gw0", "onlink")
        net = ipaddress.IPv4Network(o.subnet)
        defs = {
            "NODE_IPV4": _ip4(n.ipv4),
            "REMOTE_NODE_IPV4": _ip4(o.ipv4),
            "NODE_MAC": _mac_bytes(n.eth0_mac),
            "PEER_NODE_MAC": _mac_bytes(o.eth0_mac),
            "GW_MAC": _mac_bytes(n.bridge_mac),
            "POD_IPV4": _ip4(p.ipv4),
            "POD_MAC": _mac_bytes(p.eth0_mac),
            "POD_IFINDEX": str(POD_IFINDEX),
            "UNDERLAY_IFINDEX": str(n.eth0_ifindex),
            "REMOTE_V4_NET": _ip4(str(net.network_address)),
            "REMOTE_V4_MASK": _ip4(str(net.netmask)),
        }
        obj = workdir / f"antrea-{n.short}.o"
        lab._compile("bpf_antrea.c", obj, defs, [])
        for dev, sec in ((p.host_veth, "from-pod"), ("eth0", "from-netdev")):
            run(["tc", "qdisc", "replace", "dev", dev, "clsact"], netns=ns)
            run(["tc", "filter", "replace", "dev", dev, "ingress", "prio", "1", "handle", "1",
                 "bpf", "da", "obj", str(obj), "sec", sec], netns=ns)  # fmt: skip


def run_antrea(sc: Any, outdir: Path, log: Any, lab: ModuleType) -> None:
    """Build, capture one ping, dump, describe and tear down the Antrea scenario."""
    run_bpf_ping(sc, outdir, log, lab, SCENARIOS[sc.name], build, dump, _readme)


def _readme(cni: Cni, sc: Any, outdir: Path, cmd: str, output: str, stats: dict[str, str]) -> None:
    import lab_cni_readme
    from lab_readme import read_frames

    files = sorted(stats)
    frames = {f: read_frames(outdir / f) for f in files}
    a, b = cni.nodes
    pf_a, pf_b = f"pod-{a.pod.name}-eth0.pcap", f"pod-{b.pod.name}-eth0.pcap"
    ef_a = f"node-{a.short}-eth0.pcap"

    def find(f: str, kind: str) -> list[Any]:
        return [x for x in frames[f] if x.kind == kind]

    arp = find(pf_a, "arp-reply")
    req, rep = find(pf_a, "echo-request")[0], find(pf_a, "echo-reply")[0]
    t_a, d_b = find(ef_a, "echo-request")[0], find(pf_b, "echo-request")[0]
    bullets = [
        f"Gateway: pod {a.pod.name} resolves {a.tunnel_ip} and gets "
        f"{arp[0].info['sha'] if arp else '?'} (antrea-gw0, answered by the kernel).",
        f"Echo request {a.pod.ipv4} → {b.pod.ipv4} leaves the pod (frame {req.n}) with TTL "
        f"{req.hops}, MACs {req.src_mac} → {req.dst_mac} (pod → antrea-gw0).",
        f"On {ef_a} (frame {t_a.n}) it is inside Geneve UDP {t_a.outer_sport} → "
        f"{t_a.outer_dport}, VNI {t_a.vni}, {t_a.outer_src} → {t_a.outer_dst}; inner MACs "
        f"{t_a.src_mac} → {t_a.dst_mac}: antrea-gw0's MAC to the **global virtual MAC**, TTL "
        f"{t_a.hops} (routed once).",
        f"At {b.pod.name} (frame {d_b.n}) it arrives with TTL {d_b.hops} and MACs {d_b.src_mac} → "
        f"{d_b.dst_mac} (antrea-gw0 of {b.name} → pod); the reply reaches {a.pod.name} in frame "
        f"{rep.n} with TTL {rep.hops}: answered, {(rep.t - req.t) * 1e6:.0f} µs round trip.",
        "A correct analysis: healthy, answered; Antrea (Geneve 6081, VNI 0, inner destination "
        f"{VIRTUAL_MAC}), TTL −2, no Cilium rule applied (the VNI 0 is no identity).",
    ]
    facts = lab_cni_readme.FACTS.get("antrea")
    lab_cni_readme.FACTS["antrea"] = FACTS["antrea"]
    try:
        lab_cni_readme._write(cni, sc, outdir, cmd, output, stats, files, frames, bullets)
    finally:
        if facts is None:
            del lab_cni_readme.FACTS["antrea"]
        else:
            lab_cni_readme.FACTS["antrea"] = facts
