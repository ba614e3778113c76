"""Calico in VXLAN ``CrossSubnet`` mode in network namespaces (``--scenario
calico-crosssubnet``).

Three nodes: calico-worker and calico-worker2 share one underlay subnet (172.18.0.0/16, a
Linux bridge in the router's namespace), calico-worker3 is in another (172.19.0.0/16) behind
a router namespace. As Felix programs it in CrossSubnet mode, a node routes the block of a
node in its own subnet natively (``<block> via <node IP> dev eth0 onlink``: pod packets on the
underlay as they are, no tunnel) and the block of a node in another subnet through
``vxlan.calico`` (``<block> via <VTEP address> dev vxlan.calico onlink``). One ping from the
first pod to each of the two other pods. Plain kernel devices, no eBPF; standard library only.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Any

from lab_cni import MTU, Cni, CniNode, CniPod

ROUTER_NS = "vl-lab-cs-router"
ROUTER_MAC = {"172.18.0.1": "02:42:ac:12:00:01", "172.19.0.1": "02:42:ac:13:00:01"}
"""The router's two legs (invented): the bridge holding 172.18.0.1, and eth1 holding 172.19.0.1."""

FACTS = [
    "IPPool `vxlanMode` takes `Always`, `CrossSubnet` or `Never`; with `CrossSubnet`, Calico "
    "encapsulates only traffic whose destination node is in another subnet than the sender (the "
    "node's subnet comes from its node resource): Calico documentation, IPPool resource "
    "(`ipipMode` / `vxlanMode`) and 'Overlay networking' (docs.tigera.io/calico/latest/"
    "networking/configuring/vxlan-ipip: 'selectively encapsulate only the traffic that is "
    "routed between the VPCs/subnets, and run without encapsulation within each VPC/subnet').",
    "Felix's VXLAN manager programs a route whose destination node is in the same subnet "
    "(`RouteUpdate.SameSubnet`) as a no-encap route on the VTEP's parent interface with the node "
    "IP as gateway ('Destination in same subnet, using no-encap route', "
    "`RouteClassVXLANSameSubnet`), and every other remote block via the remote VTEP's address on "
    "`vxlan.calico`: projectcalico/calico `felix/dataplane/linux/vxlan_mgr.go`, `updateRoutes`, "
    "`noEncapRoute`, `tunneledRoute`. Its neighbour and FDB entries (`updateNeighborsAndAllowed"
    "Sources`) cover every remote VTEP, the same-subnet ones included: the same file.",
    "The same-subnet route reads `10.65.1.0/26 via 172.17.0.6 dev eth0 proto 80 onlink` in "
    "Felix's own functional test (projectcalico/calico `felix/fv/vxlan_test.go`, 'should move "
    "same-subnet routes when the node IP moves to a new interface').",
]

_NODES = [
    CniNode(
        "calico-worker", "worker", "vl-lab-cs-worker", "02:42:ac:12:00:0a", 8, "172.18.0.10",
        "10.244.31.64/26", "10.244.31.64", "66:1d:58:e2:0b:93", "",
        CniPod("web-6f9c4-xk2lq", "vl-lab-cs-pod1", "b6:5a:0e:c3:71:24", "10.244.31.70", 32,
               "cali7c21e05b9d4", "ee:ee:ee:ee:ee:ee"),
    ),
    CniNode(
        "calico-worker2", "worker2", "vl-lab-cs-worker2", "02:42:ac:12:00:0b", 6, "172.18.0.11",
        "10.244.87.128/26", "10.244.87.128", "66:a4:3f:10:d6:2e", "",
        CniPod("api-58d7b-p9wzt", "vl-lab-cs-pod2", "4e:f2:17:9b:a0:65", "10.244.87.133", 32,
               "cali3e9a0d41c72", "ee:ee:ee:ee:ee:ee"),
    ),
    CniNode(
        "calico-worker3", "worker3", "vl-lab-cs-worker3", "02:42:ac:13:00:0c", 10, "172.19.0.12",
        "10.244.140.0/26", "10.244.140.0", "66:58:c9:27:e3:b1", "",
        CniPod("db-7b6d9-q4m8s", "vl-lab-cs-pod3", "8e:3b:d4:62:f9:0a", "10.244.140.9", 32,
               "cali91f4b27e0a6", "ee:ee:ee:ee:ee:ee"),
    ),
]  # fmt: skip
CROSSSUBNET = Cni("calico", "vxlan.calico", 4096, 4789, _NODES)
SCENARIOS = {"calico-crosssubnet": CROSSSUBNET}
_GW = {"172.18": "172.18.0.1", "172.19": "172.19.0.1"}


def _subnet(n: CniNode) -> str:
    return ".".join(n.ipv4.split(".")[:2])


def build(cni: Cni, lab: ModuleType) -> None:
    """Router and bridge, nodes, vxlan.calico, cali veths, pods; per remote node a native route
    (same subnet) or a VXLAN route with its neighbour and FDB entries (other subnet)."""
    ip, sysctl, run = lab.ip, lab.sysctl, lab.run
    r = ROUTER_NS
    for ns in [r, *(x for n in cni.nodes for x in (n.netns, n.pod.netns))]:
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "set", "lo", "up"], netns=ns)
        for key in ("all", "default"):  # IPv4-only cluster: no IPv6 chatter at all
            sysctl(ns, f"net.ipv6.conf.{key}.disable_ipv6", "1")
        sysctl(ns, "net.ipv4.ip_forward", "1")
    ip(r, "link", "add", "br0", "address", ROUTER_MAC["172.18.0.1"], "type", "bridge",
       "stp_state", "0", "mcast_snooping", "0")  # fmt: skip
    ip(r, "addr", "add", "172.18.0.1/16", "dev", "br0")
    ip(r, "link", "set", "br0", "up")
    for i, n in enumerate(cni.nodes):
        ns = n.netns
        leg = f"n{i + 1}"
        ip(ns, "link", "add", "eth0", "index", str(n.eth0_ifindex), "address", n.eth0_mac,
           "type", "veth", "peer", "name", leg, "netns", r)  # fmt: skip
        if _subnet(n) == "172.18":
            ip(r, "link", "set", leg, "master", "br0", "up")
        else:
            ip(r, "link", "set", leg, "name", "eth1", "address", ROUTER_MAC["172.19.0.1"])
            ip(r, "addr", "add", "172.19.0.1/16", "dev", "eth1")
            ip(r, "link", "set", "eth1", "up")
        ip(ns, "addr", "add", f"{n.ipv4}/16", "dev", "eth0")
        ip(ns, "link", "set", "eth0", "up")
        ip(ns, "route", "add", "default", "via", _GW[_subnet(n)], "dev", "eth0")
        ip(ns, "link", "add", cni.dev, "address", n.vtep_mac, "mtu", MTU, "type", "vxlan",
           "id", str(cni.vni), "local", n.ipv4, "dev", "eth0", "dstport", str(cni.port),
           "nolearning")  # fmt: skip
        ip(ns, "addr", "add", f"{n.tunnel_ip}/32", "dev", cni.dev)
        ip(ns, "link", "set", cni.dev, "up")
        p = n.pod
        ip(ns, "link", "add", p.host_veth, "address", p.host_mac, "mtu", MTU, "type", "veth",
           "peer", "name", "eth0", "address", p.eth0_mac, "mtu", MTU, "netns", p.netns)  # fmt: skip
        sysctl(ns, f"net.ipv4.conf.{p.host_veth}.proxy_arp", "1")
        sysctl(ns, f"net.ipv4.neigh.{p.host_veth}.proxy_delay", "0")
        ip(ns, "link", "set", p.host_veth, "up")
        ip(ns, "route", "add", f"{p.ipv4}/32", "dev", p.host_veth, "scope", "link")
        ip(p.netns, "addr", "add", f"{p.ipv4}/32", "dev", "eth0")
        ip(p.netns, "link", "set", "eth0", "up")
        ip(p.netns, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link")
        ip(p.netns, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0")
    for n in cni.nodes:
        for o in cni.nodes:
            if o is n:
                continue
            # Felix's L2 entries for every remote VTEP, whatever the route (vxlan_mgr.go)
            ip(n.netns, "neigh", "add", o.tunnel_ip, "dev", cni.dev, "lladdr", o.vtep_mac,
               "nud", "permanent")  # fmt: skip
            run(["bridge", "fdb", "append", o.vtep_mac, "dev", cni.dev, "dst", o.ipv4, "self",
                 "permanent"], netns=n.netns)  # fmt: skip
            if _subnet(o) == _subnet(n):  # CrossSubnet: same subnet, routed natively
                ip(n.netns, "route", "add", o.subnet, "via", o.ipv4, "dev", "eth0", "onlink")
            else:
                ip(n.netns, "route", "add", o.subnet, "via", o.tunnel_ip, "dev", cni.dev, "onlink")


def pings(cni: Cni, lab: ModuleType) -> tuple[str, str]:
    """One ping from the first pod to each other pod: the commands and ping's output (raises
    ``lab.LabError`` when one is not answered)."""
    a = cni.nodes[0]
    cmds, outs = [], []
    for o in cni.nodes[1:]:
        argv = ["ping", "-4", "-n", "-c", "1", "-W", "2", o.pod.ipv4]
        cp = lab.run(argv, netns=a.pod.netns, check=False, timeout=20)
        out = (cp.stdout + cp.stderr).strip()
        if cp.returncode != 0:
            raise lab.LabError(f"ping {o.pod.ipv4} failed: {out}")
        cmds.append(f"ping -4 -c 1 -W 2 {o.pod.ipv4} ({o.pod.name} on {o.name})")
        outs.append(out)
        time.sleep(0.2)
    return "; then ".join(cmds), "\n".join(outs)


def run_xsubnet(sc: Any, outdir: Path, log: Any, lab: ModuleType) -> None:
    """Build, capture the two pings, dump, describe and tear down the CrossSubnet scenario."""
    from lab_cni import dump
    from lab_steps import fresh_outdir, two_node_points
    from lab_xsubnet_readme import write_readme

    cni = SCENARIOS[sc.name]
    fresh_outdir(outdir, lab)
    caps = lab.Captures(outdir, points=two_node_points(cni, lab))
    try:
        build(cni, lab)
        time.sleep(1.0)
        caps.start()
        time.sleep(0.3)
        cmd, out = pings(cni, lab)
        time.sleep(0.2)
        caps.stop()
        dump(cni, outdir, lab)
        write_readme(cni, sc, outdir, cmd, out, caps.stats)
        log(f"{sc.name}: ok -> {outdir}")
    finally:
        caps.kill()
        lab.teardown()
