"""Flannel- and Calico-shaped VXLAN overlays in network namespaces (issue 13 item 4).

Plain kernel datapaths, no eBPF: each is built the way the CNI's own code builds it (sources cited
in FACTS and in every README), IPv4 only, two nodes joined by a veth underlay, one pod per node,
one ping between the pods, captured at every point like the Cilium scenarios. Used by
lab/run.py (``--scenario flannel-ping`` / ``calico-ping``); standard library only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

# Facts about each overlay, with where they were checked (public sources, read with the
# project's search tool; commit ids are the stored versions that were read).
FACTS = {
    "flannel": [
        "VXLAN device `flannel.<VNI>`, VNI 1 by default (`defaultVNI = 1`, name "
        '`fmt.Sprintf("flannel.%v", cfg.VNI)`), learning off unless configured '
        "(`Learning` defaults to false): flannel-io/flannel `pkg/backend/vxlan/vxlan.go` "
        "(commit 1ba5635).",
        "UDP port: flannel's `Port` defaults to 0, i.e. the kernel's VXLAN default 8472 "
        "(Linux `drivers/net/vxlan` `udp_port` module parameter); the same file.",
        "The device gets the node subnet's network address as a /32 (`PrefixLen: 32`, 'so that no "
        "broadcast routes are created'); the same file.",
        "Per remote node: a static ARP entry `<remote subnet .0> → remote VTEP MAC`, an FDB entry "
        "`remote VTEP MAC → remote node IP`, and a route `<remote subnet> via <remote subnet .0> "
        "dev flannel.1 onlink` (`RTNH_F_ONLINK`), added in that order: flannel-io/flannel "
        "`pkg/backend/vxlan/vxlan_network.go` (commit 067ed7f), `handleSubnetEvents`.",
        "MTU = external interface MTU − 50 (`encapOverhead = 50`); the same file.",
        "Pods hang on the bridge `cni0` whose address is the subnet's .1, their default gateway "
        "(flannel's CNI plugin delegates to the `bridge` plugin with `isGateway`); not checked in "
        "source here: the bridge plugin's defaults are assumed.",
    ],
    "calico": [
        "VXLAN device `vxlan.calico` (`VXLANIfaceNameV4`, "
        "`felix/dataplane/linux/dataplanedefs/dataplane_defs.go`); Felix defaults "
        "`VXLANPort int;4789`, `VXLANVNI int;4096` (`felix/config/config_params.go`), both in "
        "projectcalico/calico.",
        "The host side of every pod veth gets MAC `EE:EE:EE:EE:EE:EE`; inside the pod a "
        "scope-link route to `169.254.1.1` and the default route via it; on the host veth "
        "`proxy_arp=1` and `neigh.proxy_delay=0`, and a scope-link route to the pod's /32: "
        "projectcalico/calico `cni-plugin/pkg/dataplane/linux/dataplane_linux.go` (commit "
        "02b18b5), `DoNetworking`, `configureSysctls`, `SetupRoutes`.",
        "Remote blocks: a route `<block> via <remote tunnel address> dev vxlan.calico onlink`, "
        "a static ARP entry and an FDB entry per remote VTEP (Felix's VXLAN manager), the tunnel "
        "address being an IP of the node's own block on `vxlan.calico`: assumed from Felix's "
        "`IPv4VXLANTunnelAddr` parameter, not read line by line.",
    ],
}


@dataclass
class CniPod:
    name: str
    netns: str
    eth0_mac: str
    ipv4: str
    prefix: int  # 24 (flannel) or 32 (calico)
    host_veth: str
    host_mac: str


@dataclass
class CniNode:
    name: str
    short: str
    netns: str
    eth0_mac: str
    eth0_ifindex: int
    ipv4: str
    subnet: str  # the node's pod subnet / block
    tunnel_ip: str  # address on the VXLAN device
    vtep_mac: str
    bridge_mac: str  # flannel: cni0 MAC
    pod: CniPod


@dataclass
class Cni:
    kind: str  # "flannel" | "calico"
    dev: str
    vni: int
    port: int
    nodes: list[CniNode]


FLANNEL = Cni(
    "flannel",
    "flannel.1",
    1,
    8472,
    [
        CniNode(
            "flannel-worker",
            "worker",
            "vl-lab-fl-worker",
            "02:42:ac:12:00:04",
            8,
            "172.18.0.4",
            "10.244.1.0/24",
            "10.244.1.0",
            "a6:3e:19:c0:5b:71",
            "1a:7d:c2:40:9e:05",
            CniPod(
                "busybox-7c9d8",
                "vl-lab-fl-pod1",
                "2e:84:b1:0c:6f:d3",
                "10.244.1.5",
                24,
                "veth3f2a9c71",
                "9e:21:6b:d4:03:8a",
            ),
        ),
        CniNode(
            "flannel-worker2",
            "worker2",
            "vl-lab-fl-worker2",
            "02:42:ac:12:00:03",
            6,
            "172.18.0.3",
            "10.244.2.0/24",
            "10.244.2.0",
            "56:b8:0e:7a:24:cf",
            "ba:14:e9:63:d0:2b",
            CniPod(
                "busybox-k4x2p",
                "vl-lab-fl-pod2",
                "f6:0b:53:a8:c1:47",
                "10.244.2.7",
                24,
                "veth81d0e4b6",
                "32:c5:7f:19:ae:60",
            ),
        ),
    ],
)
CALICO = Cni(
    "calico",
    "vxlan.calico",
    4096,
    4789,
    [
        CniNode(
            "calico-worker",
            "worker",
            "vl-lab-ca-worker",
            "02:42:ac:12:00:04",
            8,
            "172.18.0.4",
            "10.244.24.192/26",
            "10.244.24.192",
            "66:7f:2d:91:c4:0e",
            "",
            CniPod(
                "busybox-m8q2v",
                "vl-lab-ca-pod1",
                "8a:43:d1:5e:02:b9",
                "10.244.24.197",
                32,
                "cali1b7f3e90a5c",
                "ee:ee:ee:ee:ee:ee",
            ),
        ),
        CniNode(
            "calico-worker2",
            "worker2",
            "vl-lab-ca-worker2",
            "02:42:ac:12:00:03",
            6,
            "172.18.0.3",
            "10.244.115.0/26",
            "10.244.115.0",
            "66:c2:08:b3:7a:15",
            "",
            CniPod(
                "busybox-r5t7n",
                "vl-lab-ca-pod2",
                "d2:6e:90:14:bb:38",
                "10.244.115.6",
                32,
                "cali5d02a8e4f71",
                "ee:ee:ee:ee:ee:ee",
            ),
        ),
    ],
)


@dataclass(frozen=True)
class Fault:
    """One planted fault: what is changed on which node, and what a correct analysis says."""

    kind: str  # "port-mismatch" | "missing-fdb" | "proxy-arp-off" | "stale-vtep-mac" | ...
    change: str
    conclusion: str


STALE_MAC = "56:b8:0e:11:90:4e"
"""flannel-worker2's VTEP MAC before its restart (invented), kept by flannel-worker."""

FAULTS = {
    "flannel-port-mismatch": Fault(
        "port-mismatch",
        "flannel-worker2's flannel.1 is created with `dstport 4789` while flannel-worker's uses "
        "8472 (flanneld's `Port` set on one node only): worker sends to 172.18.0.3:8472, where "
        "nothing listens",
        "the echo request leaves flannel-worker inside VXLAN to UDP 8472 and reaches "
        "flannel-worker2's eth0, which is not listening there: it is never decapsulated (the "
        "node answers ICMP port unreachable), so the pod never sees it; the path must stop at "
        "flannel-worker2's eth0 with the request unanswered, not be described as delivered",
    ),
    "flannel-missing-fdb": Fault(
        "missing-fdb",
        "flannel-worker has no FDB entry for flannel-worker2's VTEP MAC (the `bridge fdb append "
        "... dst 172.18.0.3` flanneld adds is left out; neighbour entry and route are there)",
        "the echo request is routed to flannel.1 on flannel-worker (TTL 63) but never "
        "encapsulated: with learning off and no FDB entry the VTEP has no remote to send to, "
        "so nothing leaves eth0; the path must stop at flannel.1 on flannel-worker",
    ),
    "flannel-stale-vtep-mac": Fault(
        "stale-vtep-mac",
        f"flannel-worker2's VTEP (flannel.1) has a new MAC after a restart, but flannel-worker "
        f"still holds its old MAC {STALE_MAC} in the neighbour entry for 10.244.2.0 and in the FDB "
        f"entry (`{STALE_MAC} dst 172.18.0.3`): worker encapsulates to the right node with the old "
        f"inner destination MAC",
        f"the echo request leaves flannel-worker inside VXLAN to 172.18.0.3 (the right node) "
        f"with inner destination MAC {STALE_MAC}, which is no longer flannel-worker2's VTEP MAC; "
        f"flannel-worker2 decapsulates it on flannel.1, where the frame is not addressed to the "
        f"device (packet type otherhost in the -i any capture) and is dropped; no reply. A "
        f"correct analysis names the stale VTEP MAC: the inner destination MAC differs from the "
        f"receiving VTEP's MAC (topology/flannel-worker2/ip-a.txt) and the sender's FDB entry "
        f"(topology/flannel-worker/bridge-fdb-show.txt) still maps the old MAC to the node",
    ),
    "flannel-outer-udp-checksum": Fault(
        "outer-udp-checksum",
        "the underlay corrupts the outer UDP checksum of VXLAN datagrams arriving at "
        "flannel-worker2 (a generic-XDP program on its eth0, lab/bpf/xdp_bad_udp_csum.c, runs "
        "before the packet taps); flannel-worker's eth0 computes checksums in software (tx "
        "checksum offload off) and flannel-worker2's eth0 verifies them (rx checksum offload "
        "off), so the capture at the sender shows the checksum it sent and the one at the "
        "receiver the damaged one",
        "the echo request leaves flannel-worker inside VXLAN with a correct outer UDP checksum "
        "and reaches flannel-worker2's eth0 with a different one (same outer and inner headers, "
        "same payload); no capture shows it on flannel.1 on flannel-worker2 and no reply comes: "
        "it was dropped before the VTEP (the kernel discards a UDP datagram whose checksum does "
        "not verify). A "
        "checksum at the sender that equals the pseudo-header sum is checksum offload, not an "
        "error, and must not be flagged",
    ),
    "calico-port-mismatch": Fault(
        "port-mismatch",
        "calico-worker2's vxlan.calico is created with `dstport 4790` while calico-worker's "
        "uses 4789 (Felix's `vxlanPort` set for one node only, e.g. a node-specific "
        "FelixConfiguration): worker sends to 172.18.0.3:4789, where nothing listens",
        "the echo request leaves calico-worker inside VXLAN to UDP 4789 (VNI 4096) and reaches "
        "calico-worker2's eth0, which is not listening there: it is never decapsulated (the "
        "node answers ICMP port unreachable), so the pod never sees it; the two vxlan.calico "
        "devices disagree on the UDP port (ip -d link); the path must stop at calico-worker2's "
        "eth0 with the request unanswered",
    ),
    "calico-vni-mismatch": Fault(
        "vni-mismatch",
        "calico-worker2's vxlan.calico is created with `id 4097` while calico-worker's uses "
        "4096 (Felix's `vxlanVNI` set for one node only): both listen on UDP 4789, but "
        "worker2's kernel has no VXLAN device for VNI 4096",
        "the echo request leaves calico-worker inside VXLAN VNI 4096 to UDP 4789 and reaches "
        "calico-worker2's eth0; the kernel's VXLAN socket finds no device with that VNI and "
        "drops it silently (no ICMP error: the port is open), so the pod never sees it; the two "
        "vxlan.calico devices disagree on the VNI (ip -d link); the path must stop at "
        "calico-worker2's eth0 with the request unanswered",
    ),
    "calico-missing-fdb": Fault(
        "missing-fdb",
        "calico-worker has no FDB entry for calico-worker2's VTEP MAC (the `bridge fdb append "
        "... dst 172.18.0.3` Felix's VXLAN manager programs is left out; neighbour entry and "
        "route are there)",
        "the echo request is routed to vxlan.calico on calico-worker (TTL 63) but never "
        "encapsulated: with learning off and no FDB entry the VTEP has no remote to send to, "
        "so nothing leaves eth0; the path must stop at vxlan.calico on calico-worker",
    ),
    "calico-proxy-arp-off": Fault(
        "proxy-arp-off",
        "proxy ARP is off on busybox-m8q2v's cali veth (`net.ipv4.conf.<cali>.proxy_arp=0`): "
        "nothing answers ARP for 169.254.1.1",
        "the pod's ARP requests for its gateway 169.254.1.1 go unanswered (no ARP reply in any "
        "capture), so the echo request is never sent: an unanswered ARP for the gateway, "
        "nothing in the tunnel",
    ),
}
"""Fault scenarios: the healthy overlay of their CNI with one change."""

CNIS = {
    "flannel-ping": FLANNEL,
    "calico-ping": CALICO,
    "flannel-port-mismatch": FLANNEL,
    "flannel-missing-fdb": FLANNEL,
    "calico-proxy-arp-off": CALICO,
    "flannel-stale-vtep-mac": FLANNEL,
    "flannel-outer-udp-checksum": FLANNEL,
    "calico-port-mismatch": CALICO,
    "calico-missing-fdb": CALICO,
    "calico-vni-mismatch": CALICO,
}
MTU = "1450"
WRONG_PORT = {"flannel": "4789", "calico": "4790"}
"""The second node's VXLAN port in a port-mismatch scenario, per CNI (another than its default)."""


def build(cni: Cni, lab: ModuleType, fault: Fault | None = None) -> None:
    """Namespaces, underlay, VXLAN device, bridge or cali veth, pods, neighbours, routes (with
    ``fault`` planted: a port mismatch on the second node, the first node's FDB entry left out,
    or proxy ARP off on the first pod's veth)."""
    ip, sysctl, run = lab.ip, lab.sysctl, lab.run
    for n in cni.nodes:
        for ns in (n.netns, n.pod.netns):
            run(["ip", "netns", "add", ns])
            run(["ip", "link", "set", "lo", "up"], netns=ns)
            for key in ("all", "default"):  # IPv4-only clusters: no IPv6 chatter at all
                sysctl(ns, f"net.ipv6.conf.{key}.disable_ipv6", "1")
        sysctl(n.netns, "net.ipv4.ip_forward", "1")
    a, b = cni.nodes
    ip(a.netns, "link", "add", "eth0", "index", str(a.eth0_ifindex), "address", a.eth0_mac,
       "type", "veth", "peer", "name", "eth0", "index", str(b.eth0_ifindex), "address",
       b.eth0_mac, "netns", b.netns)  # fmt: skip
    for n in cni.nodes:
        ns, p = n.netns, n.pod
        ip(ns, "addr", "add", f"{n.ipv4}/16", "dev", "eth0")
        ip(ns, "link", "set", "eth0", "up")
        ip(ns, "route", "add", "default", "via", "172.18.0.1", "dev", "eth0")
        port = str(cni.port)
        if fault is not None and fault.kind == "port-mismatch" and n is b:
            port = WRONG_PORT[cni.kind]
        vni = str(cni.vni)
        if fault is not None and fault.kind == "vni-mismatch" and n is b:
            vni = str(cni.vni + 1)
        ip(ns, "link", "add", cni.dev, "address", n.vtep_mac, "mtu", MTU, "type", "vxlan",
           "id", vni, "local", n.ipv4, "dev", "eth0", "dstport", port,
           "nolearning")  # fmt: skip
        ip(ns, "addr", "add", f"{n.tunnel_ip}/32", "dev", cni.dev)
        ip(ns, "link", "set", cni.dev, "up")
        ip(ns, "link", "add", p.host_veth, "address", p.host_mac, "mtu", MTU, "type", "veth",
           "peer", "name", "eth0", "address", p.eth0_mac, "mtu", MTU, "netns", p.netns)  # fmt: skip
        if cni.kind == "flannel":
            gw = str(_net(n.subnet)[1])
            ip(ns, "link", "add", "cni0", "address", n.bridge_mac, "mtu", MTU, "type", "bridge")
            ip(ns, "addr", "add", f"{gw}/{_net(n.subnet).prefixlen}", "dev", "cni0")
            ip(ns, "link", "set", "cni0", "up")
            ip(ns, "link", "set", p.host_veth, "master", "cni0", "up")
            ip(p.netns, "addr", "add", f"{p.ipv4}/{p.prefix}", "dev", "eth0")
            ip(p.netns, "link", "set", "eth0", "up")
            ip(p.netns, "route", "add", "default", "via", gw, "dev", "eth0")
        else:
            proxy = "0" if fault is not None and fault.kind == "proxy-arp-off" and n is a else "1"
            sysctl(ns, f"net.ipv4.conf.{p.host_veth}.proxy_arp", proxy)
            sysctl(ns, f"net.ipv4.neigh.{p.host_veth}.proxy_delay", "0")
            sysctl(ns, f"net.ipv4.conf.{p.host_veth}.route_localnet", "1")
            ip(ns, "link", "set", p.host_veth, "up")
            ip(ns, "route", "add", f"{p.ipv4}/32", "dev", p.host_veth, "scope", "link")
            ip(p.netns, "addr", "add", f"{p.ipv4}/32", "dev", "eth0")
            ip(p.netns, "link", "set", "eth0", "up")
            ip(p.netns, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link")
            ip(p.netns, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0")
    for n in cni.nodes:
        o = b if n is a else a
        mac = (
            STALE_MAC
            if fault is not None and fault.kind == "stale-vtep-mac" and n is a
            else o.vtep_mac
        )
        ip(n.netns, "neigh", "add", o.tunnel_ip, "dev", cni.dev, "lladdr", mac,
           "nud", "permanent")  # fmt: skip
        if not (fault is not None and fault.kind == "missing-fdb" and n is a):
            run(["bridge", "fdb", "append", mac, "dev", cni.dev, "dst", o.ipv4, "self",
                 "permanent"], netns=n.netns)  # fmt: skip
        ip(n.netns, "route", "add", o.subnet, "via", o.tunnel_ip, "dev", cni.dev, "onlink")
    if fault is not None and fault.kind == "outer-udp-checksum":
        bad_checksums(cni, lab)


_ETHTOOL = """
import array, fcntl, socket, struct, sys
cmd, on = int(sys.argv[1]), int(sys.argv[2])
val = array.array("B", struct.pack("II", cmd, on))
ifr = struct.pack("16sP", b"eth0", val.buffer_info()[0])
fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8946, ifr + bytes(40 - len(ifr)))
"""
"""``ethtool -K eth0 tx|rx off`` without ethtool: SIOCETHTOOL with ETHTOOL_STXCSUM (0x17) or
ETHTOOL_SRXCSUM (0x15)."""


def bad_checksums(cni: Cni, lab: ModuleType) -> None:
    """The outer-udp-checksum fault: checksums computed in software at the first node, verified
    at the second, and garbled on arrival there by generic XDP (before the packet taps)."""
    import tempfile

    a, b = cni.nodes
    lab.run(["python3", "-c", _ETHTOOL, str(0x17), "0"], netns=a.netns)
    lab.run(["python3", "-c", _ETHTOOL, str(0x15), "0"], netns=b.netns)
    obj = Path(tempfile.mkdtemp(prefix="vxl-csum-")) / "xdp_bad_udp_csum.o"
    lab.run(["clang", "-O2", "-g", "-Wall", "-Werror", "-target", "bpf",
             *lab._clang_includes(), f"-DTUNNEL_PORT={cni.port}", "-c",
             str(lab.BPF_DIR / "xdp_bad_udp_csum.c"), "-o", str(obj)], timeout=120)  # fmt: skip
    lab.ip(b.netns, "link", "set", "dev", "eth0", "xdpgeneric", "obj", str(obj), "sec", "xdp")


def _net(cidr: str) -> Any:
    import ipaddress

    return ipaddress.IPv4Network(cidr)


DUMPS = [
    ("ip-a.txt", ["ip", "a"]),
    ("ip-d-link.txt", ["ip", "-d", "link"]),
    ("ip-j-d-addr.json", ["ip", "-j", "-d", "addr"]),
    ("ip-r.txt", ["ip", "r"]),
    ("ip-j-r.json", ["ip", "-j", "r"]),
    ("ip-n.txt", ["ip", "n"]),
    ("ip-j-n.json", ["ip", "-j", "n"]),
]


DUMPS6 = [("ip-6-r.txt", ["ip", "-6", "r"]), ("ip-j-6-r.json", ["ip", "-j", "-6", "r"])]


def dump(cni: Cni, outdir: Path, lab: ModuleType) -> None:
    """``topology/<node or pod>/`` with ip dumps, ``bridge fdb`` per node, kubectl-like pods."""
    for n in cni.nodes:
        for who, ns in ((n.name, n.netns), (n.pod.name, n.pod.netns)):
            d = outdir / "topology" / who
            d.mkdir(parents=True, exist_ok=True)
            for fname, argv in DUMPS:
                text = lab.run(argv, netns=ns).stdout
                if ":" not in n.ipv4 or text.strip() not in ("", "[]"):  # IPv6: no empty dumps
                    (d / fname).write_text(text)
            for fname, argv in DUMPS6:  # only where the namespace has IPv6 routes
                text = lab.run(argv, netns=ns).stdout
                if text.strip() not in ("", "[]"):
                    (d / fname).write_text(text)
        fdb = lab.run(["bridge", "fdb", "show", "dev", cni.dev], netns=n.netns).stdout
        (outdir / "topology" / n.name / "bridge-fdb-show.txt").write_text(fdb)
        fdb = lab.run(["bridge", "-j", "fdb", "show", "dev", cni.dev], netns=n.netns).stdout
        (outdir / "topology" / n.name / "bridge-j-fdb-show.json").write_text(fdb)
    w = max(15, *(len(n.pod.ipv4) + 1 for n in cni.nodes))
    rows = [f"NAME            READY   STATUS    RESTARTS   AGE   {'IP':<{w}} NODE"]
    for n in cni.nodes:
        rows.append(
            f"{n.pod.name:<15} 1/1     Running   0          5m    {n.pod.ipv4:<{w}} {n.name}"
        )
    (outdir / "topology" / "kubectl-get-pods-o-wide.txt").write_text("\n".join(rows) + "\n")
    # whose dumps each pod folder holds, stated as a user states it (docs/topology.md): a pod
    # with a /24 address (Flannel) is not told from a node by its `ip a` alone
    manifest = ["vxlanlens-topology: 1", "dumps:"]
    for n in cni.nodes:
        d = outdir / "topology" / n.pod.name
        for f in sorted(d.iterdir()):
            if f.read_text().strip() in ("", "[]"):
                continue  # an empty table: nothing to bind (the loader refuses empty lists)
            manifest += [
                f"  - path: {n.pod.name}/{f.name}",
                f"    node: {n.name}",
                f"    pod: default/{n.pod.name}",
            ]
    (outdir / "topology" / "vxlanlens-topology.yaml").write_text("\n".join(manifest) + "\n")


def run_cni(sc: Any, outdir: Path, log: Any, lab: ModuleType) -> None:
    """Build, capture one ping, dump, describe and tear down one CNI scenario (IPv4, or IPv6
    for the scenarios of lab_cni6)."""
    import lab_cni6
    from lab_steps import fresh_outdir, ping_once, two_node_points

    v6 = sc.name in lab_cni6.CNIS6
    cni = lab_cni6.CNIS6[sc.name] if v6 else CNIS[sc.name]
    fault = FAULTS.get(sc.name) or lab_cni6.FAULTS6.get(sc.name)
    fresh_outdir(outdir, lab)
    caps = lab.Captures(outdir, points=two_node_points(cni, lab))
    try:
        if v6:
            lab_cni6.build6(cni, lab, fault)
        else:
            build(cni, lab, fault)
        time.sleep(1.0)
        caps.start()
        time.sleep(0.3)
        fam = "-6" if v6 else "-4"
        cmd, out = ping_once(cni, lab, fam, answered=fault is None)
        time.sleep(0.2)
        caps.stop()
        dump(cni, outdir, lab)
        from lab_cni_readme import write_readme

        if v6:
            lab_cni6.readme6(cni, sc, outdir, cmd, out, caps.stats, fault=fault)
        else:
            write_readme(cni, sc, outdir, cmd, out, caps.stats, fault=fault)
        log(f"{sc.name}: ok -> {outdir}")
    finally:
        caps.kill()
        lab.teardown()
