"""Flannel- and Calico-shaped VXLAN overlays in network namespaces (issue 13 item 4).

Plain kernel datapaths, no eBPF: each is built the way the CNI's own code builds it (sources cited
in FACTS and in every README), IPv4 only, two nodes joined by a veth underlay, one pod per node,
one ping between the pods, captured at every point like the Cilium scenarios. Used by
lab/run.py (``--scenario flannel-ping`` / ``calico-ping``); standard library only.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from lab_readme import Frame, read_frames

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

    kind: str  # "port-mismatch" | "missing-fdb" | "proxy-arp-off"
    change: str
    conclusion: str


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
}
MTU = "1450"
WRONG_PORT = "4789"


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
            port = WRONG_PORT
        ip(ns, "link", "add", cni.dev, "address", n.vtep_mac, "mtu", MTU, "type", "vxlan",
           "id", str(cni.vni), "local", n.ipv4, "dev", "eth0", "dstport", port,
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
        ip(n.netns, "neigh", "add", o.tunnel_ip, "dev", cni.dev, "lladdr", o.vtep_mac,
           "nud", "permanent")  # fmt: skip
        if not (fault is not None and fault.kind == "missing-fdb" and n is a):
            run(["bridge", "fdb", "append", o.vtep_mac, "dev", cni.dev, "dst", o.ipv4, "self",
                 "permanent"], netns=n.netns)  # fmt: skip
        ip(n.netns, "route", "add", o.subnet, "via", o.tunnel_ip, "dev", cni.dev, "onlink")


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


def dump(cni: Cni, outdir: Path, lab: ModuleType) -> None:
    """``topology/<node or pod>/`` with ip dumps, ``bridge fdb`` per node, kubectl-like pods."""
    for n in cni.nodes:
        for who, ns in ((n.name, n.netns), (n.pod.name, n.pod.netns)):
            d = outdir / "topology" / who
            d.mkdir(parents=True, exist_ok=True)
            for fname, argv in DUMPS:
                (d / fname).write_text(lab.run(argv, netns=ns).stdout)
        fdb = lab.run(["bridge", "fdb", "show", "dev", cni.dev], netns=n.netns).stdout
        (outdir / "topology" / n.name / "bridge-fdb-show.txt").write_text(fdb)
    rows = ["NAME            READY   STATUS    RESTARTS   AGE   IP              NODE"]
    for n in cni.nodes:
        rows.append(
            f"{n.pod.name:<15} 1/1     Running   0          5m    {n.pod.ipv4:<15} {n.name}"
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
    """Build, capture one ping, dump, describe and tear down one CNI scenario."""
    import shutil

    cni = CNIS[sc.name]
    fault = FAULTS.get(sc.name)
    outdir.mkdir(parents=True, exist_ok=True)
    for old in [*outdir.glob("*.pcap"), outdir / "README.md"]:
        old.unlink(missing_ok=True)
    if (outdir / "topology").is_dir():
        shutil.rmtree(outdir / "topology")
    lab.teardown()
    points = []
    for n in cni.nodes:
        points.append(lab.CapturePoint(n.pod.netns, "eth0", f"pod-{n.pod.name}-eth0.pcap", "pod"))
    for n in cni.nodes:
        points.append(lab.CapturePoint(n.netns, "eth0", f"node-{n.short}-eth0.pcap", "node eth0"))
        points.append(lab.CapturePoint(n.netns, "any", f"node-{n.short}-any.pcap", "node any"))
    caps = lab.Captures(outdir, points=points)
    try:
        build(cni, lab, fault)
        time.sleep(1.0)
        caps.start()
        time.sleep(0.3)
        a, b = cni.nodes
        argv = ["ping", "-4", "-n", "-c", "1", "-W", "2", b.pod.ipv4]
        cp = lab.run(argv, netns=a.pod.netns, check=False, timeout=20)
        out = (cp.stdout + cp.stderr).strip()
        if (cp.returncode != 0) != (fault is not None):
            raise lab.LabError(f"ping {'failed' if fault is None else 'answered'}: {out}")
        time.sleep(0.2)
        caps.stop()
        dump(cni, outdir, lab)
        cmd = f"ping -4 -c 1 -W 2 {b.pod.ipv4}"
        if fault is None:
            write_readme(cni, sc, outdir, cmd, out, caps.stats)
        else:
            write_readme(cni, sc, outdir, cmd, out, caps.stats, fault=fault)
        log(f"{sc.name}: ok -> {outdir}")
    finally:
        caps.kill()
        lab.teardown()


def _fr(frames: list[Frame], **conds: Any) -> list[Frame]:
    out = []
    for f in frames:
        if all((getattr(f, k) if hasattr(f, k) else f.info.get(k)) == v for k, v in conds.items()):
            out.append(f)
    return out


def _fault_bullets(
    cni: Cni, fault: Fault, files: list[str], frames: dict[str, list[Frame]]
) -> list[str]:
    """What the captures show of a planted fault, and what a correct analysis concludes."""
    out = [f"Planted fault: {fault.change}."]
    gw = "169.254.1.1" if cni.kind == "calico" else str(_net(cni.nodes[0].subnet)[1])
    for f in files:
        reqs = _fr(frames[f], kind="echo-request")
        reps = _fr(frames[f], kind="echo-reply")
        arq = [x for x in _fr(frames[f], kind="arp-request") if x.info.get("tpa") == gw]
        arp = [x for x in _fr(frames[f], kind="arp-reply") if x.info.get("spa") == gw]
        said = []
        if reqs:
            said.append(
                f"{len(reqs)} echo request(s) (frame {', '.join(str(x.n) for x in reqs[:3])}"
                + (", in VXLAN" if any(x.tunnel for x in reqs) else "")
                + ")"
            )
        said.append(f"{len(reps)} echo reply(s)")
        if arq or arp:
            said.append(f"{len(arq)} ARP request(s) for {gw}, {len(arp)} answer(s)")
        out.append(f"{f}: " + "; ".join(said) + ".")
    out.append(f"A correct analysis: {fault.conclusion}.")
    return out


def write_readme(
    cni: Cni,
    sc: Any,
    outdir: Path,
    cmd: str,
    output: str,
    stats: dict[str, str],
    fault: Fault | None = None,
) -> None:
    """README from the captures: what was run, facts with sources, frames, expected analysis."""
    files = sorted(stats)
    frames = {f: read_frames(outdir / f) for f in files}
    bullets = (
        _fault_bullets(cni, fault, files, frames)
        if fault is not None
        else _healthy_bullets(cni, outdir, frames)
    )
    _write(cni, sc, outdir, cmd, output, stats, files, frames, bullets)


def _healthy_bullets(cni: Cni, outdir: Path, frames: dict[str, list[Frame]]) -> list[str]:
    """What the captures of the healthy scenario show, frame by frame."""
    a, b = cni.nodes
    pa, pb = a.pod, b.pod
    pf_a, pf_b = f"pod-{pa.name}-eth0.pcap", f"pod-{pb.name}-eth0.pcap"
    ef_a, ef_b = f"node-{a.short}-eth0.pcap", f"node-{b.short}-eth0.pcap"
    gw_a = str(_net(a.subnet)[1]) if cni.kind == "flannel" else "169.254.1.1"
    bullets = []
    arq = _fr(frames[pf_a], kind="arp-request", tpa=gw_a)
    arp = _fr(frames[pf_a], kind="arp-reply", spa=gw_a)
    who = (
        f"cni0 (the bridge, MAC {a.bridge_mac}), whose own address {gw_a} it is: the kernel"
        if cni.kind == "flannel"
        else f"{pa.host_veth}, the host side of the pod's veth (MAC ee:ee:ee:ee:ee:ee, "
        "the same on every cali veth), by **proxy ARP**: 169.254.1.1 is configured nowhere"
    )
    bullets.append(
        f"Gateway: pod {pa.name} ({pf_a}) asks ARP who-has {gw_a} (frame "
        f"{arq[0].n}) and gets {gw_a} is-at {arp[0].info['sha']} (frame {arp[0].n}), answered "
        f"by {who}."
    )
    req = _fr(frames[pf_a], kind="echo-request")[0]
    rep = _fr(frames[pf_a], kind="echo-reply")[0]
    key = {"id": req.info["id"], "seq": req.info["seq"]}
    t_a = _fr(frames[ef_a], kind="echo-request", **key)[0]
    t_b = _fr(frames[ef_b], kind="echo-request", **key)[0]
    d_b = _fr(frames[pf_b], kind="echo-request", **key)[0]
    r_b = _fr(frames[ef_b], kind="echo-reply", **key)[0]
    bullets.append(
        f"Echo request {pa.ipv4} → {pb.ipv4} id 0x{key['id']:04x}: leaves the pod (frame "
        f"{req.n}) with TTL {req.hops}, MACs {req.src_mac} → {req.dst_mac} (pod → gateway)."
    )
    bullets.append(
        f"On {ef_a} (frame {t_a.n}) it is inside VXLAN UDP {t_a.outer_sport} → "
        f"{t_a.outer_dport}, VNI {t_a.vni}, {t_a.outer_src} → {t_a.outer_dst}; the inner "
        f"frame is **routed, not bridged**: its MACs are the two VTEP MACs {t_a.src_mac} → "
        f"{t_a.dst_mac} ({cni.dev} on {a.name} → {cni.dev} on {b.name}, from the static "
        f"neighbour entry {b.tunnel_ip} in topology/{a.name}/ip-n.txt and the FDB entry in "
        f"bridge-fdb-show.txt), and its TTL is already {t_a.hops} ({a.name} routed it once)."
    )
    bullets.append(
        f"{b.name} decapsulates it ({ef_b} frame {t_b.n}) and routes it again to the pod: "
        f"{pf_b} frame {d_b.n} has TTL {d_b.hops} (decremented on **both** nodes) and MACs "
        f"{d_b.src_mac} → {d_b.dst_mac}."
    )
    bullets.append(
        f"The reply comes back the same way (VNI {r_b.vni}: the VNI is the network, the same "
        f"both ways, unlike Cilium's identity VNIs; inner MACs {r_b.src_mac} → {r_b.dst_mac}) "
        f"and reaches the pod in frame {rep.n} with TTL {rep.hops}: answered, "
        f"{(rep.t - req.t) * 1e6:.0f} µs round trip."
    )
    if cni.kind == "calico":
        bullets.append(
            "Every MAC the pods see for their gateway is ee:ee:ee:ee:ee:ee, on both nodes: a "
            "MAC that identifies no single interface; an analysis must bind it through the pod's "
            "veth (topology/<node>/ip-d-link.txt), not by MAC alone."
        )
    bullets.append(
        "A correct analysis: healthy, answered; a VXLAN overlay of the "
        f"{cni.kind.capitalize()} kind (port {cni.port}, VNI {cni.vni} as a network id), "
        "two routing hops (TTL −2), inner MACs = VTEP MACs; it must not apply Cilium's rules "
        "(VNI = identity, pod MACs inside the tunnel, lxc answering the gateway)."
    )
    return bullets


def _write(
    cni: Cni,
    sc: Any,
    outdir: Path,
    cmd: str,
    output: str,
    stats: dict[str, str],
    files: list[str],
    frames: dict[str, list[Frame]],
    bullets: list[str],
) -> None:
    a = cni.nodes[0]
    pa = a.pod
    L = [f"# Lab scenario `{sc.name}`: {sc.title}", ""]
    L += [
        f"Made by `lab/run.py --scenario {sc.name}` (real Linux kernel traffic in network "
        "namespaces; no eBPF: the kernel's own VXLAN, bridge, proxy ARP and routing). "
        "Regenerate rather than edit: this file is written from the captures.",
        "",
        "## Datapath, and where each fact comes from",
        "",
    ]
    L += [f"- {f}" for f in FACTS[cni.kind]]
    L += [
        f"- Lab: `ip link add {cni.dev} type vxlan id {cni.vni} local <node IP> dev eth0 dstport "
        f"{cni.port} nolearning`, MTU {MTU}; one static neighbour, one `bridge fdb append ... "
        "self permanent` and one onlink route per remote node; nodes have a default route via "
        "172.18.0.1 (no such host: it only makes proxy ARP answer off-link targets, as on a "
        "real node); IPv6 disabled everywhere (IPv4-only cluster).",
        "",
        "## Topology (all values invented)",
        "",
        f"| node | eth0 | IPv4 | pod subnet | {cni.dev} (MAC) | pod | pod IP | pod MAC | host veth (MAC) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in cni.nodes:
        L.append(
            f"| {n.name} | {n.eth0_mac} | {n.ipv4} | {n.subnet} | {n.tunnel_ip} ({n.vtep_mac}) "
            f"| {n.pod.name} | {n.pod.ipv4}/{n.pod.prefix} | {n.pod.eth0_mac} | "
            f"{n.pod.host_veth} ({n.pod.host_mac}) |"
        )
    L += [
        "",
        "Dumps in `topology/<node or pod>/`: `ip a`, `ip -d link`, `ip -j -d addr`, `ip r`, "
        "`ip -j r`, `ip n`, `ip -j n`, and `bridge fdb show dev "
        f"{cni.dev}` per node; `topology/kubectl-get-pods-o-wide.txt`; "
        "`topology/vxlanlens-topology.yaml` binds each pod folder's dumps to its pod and node "
        "(a pod's `ip a` with a /24 address alone does not tell a pod from a node).",
        "",
        "## What was run",
        "",
        f"- `{pa.name}`: {cmd}",
        "",
        "  ```",
        *[f"  {ln}" for ln in output.splitlines() if ln.strip()],
        "  ```",
        "",
        "## Captures",
        "",
        "| file | frames | tcpdump |",
        "|---|---|---|",
    ]
    L += [f"| {f} | {len(frames[f])} | {stats[f]} |" for f in files]
    L.append("")
    if cni.port == 8472:
        L += ["Decode VXLAN with `tshark -d udp.port==8472,vxlan`.", ""]
    for f in files:
        owner = next((n for n in cni.nodes if f"-{n.short}-" in f), None)
        names = {}
        if owner is not None:
            data = json.loads((outdir / "topology" / owner.name / "ip-j-d-addr.json").read_text())
            names = {int(i["ifindex"]): i["ifname"] for i in data}
        L += [f"### {f}", "", "| frame | t (ms) | where | summary |", "|---|---|---|---|"]
        L += [f"| {x.n} | {x.t * 1000:.3f} | {x.where(names)} | {x.summary()} |" for x in frames[f]]
        L.append("")
    L += ["## What a correct analysis must say", ""]
    L += [f"- {x}" for x in bullets]
    L.append("")
    (outdir / "README.md").write_text("\n".join(L))
