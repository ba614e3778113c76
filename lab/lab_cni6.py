"""IPv6 Flannel- and Calico-shaped VXLAN overlays (issue 13 item 4, IPv6).

As lab_cni.py builds the IPv4 ones, with the IPv6 device each CNI creates and an IPv6 underlay
(both CNIs take the node's IPv6 address as the IPv6 VTEP's local address):

- Flannel: ``flannel-v6.<VNI>`` (``fmt.Sprintf("flannel-v6.%v", cfg.VNI)``, local address
  ``be.extIface.IfaceV6Addr``: flannel-io/flannel ``pkg/backend/vxlan/vxlan.go``); pods on
  ``cni0`` holding the node's IPv6 pod subnet ``::1`` (their default gateway).
- Calico: ``vxlan-v6.calico`` (``VXLANIfaceNameV6``, ``felix/dataplane/linux/dataplanedefs``);
  the pod's IPv6 address is a /128 and its routes go via the **link-local address of the host
  side of its veth** (no dummy next hop as for IPv4: "the host veth device will already have an
  IPv6 link local address that can be used as a next hop"), with ``proxy_ndp=1`` and DAD off on
  both ends: projectcalico/calico ``cni-plugin/pkg/dataplane/linux/dataplane_linux.go`` (commit
  02b18b5), ``DoNetworking`` and ``configureSysctls``. The host veth's MAC is
  ``ee:ee:ee:ee:ee:ee``, so its link-local address is ``fe80::ecee:eeff:feee:eeee`` (EUI-64).

Addresses are stored in the IPv4-named fields of lab_cni's dataclasses (``ipv4`` holds the
node's or pod's IPv6 address here). Standard library only.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from types import ModuleType
from typing import Any

from lab_cni import MTU, WRONG_PORT, Cni, CniNode, CniPod, Fault

CALICO_LL = "fe80::ecee:eeff:feee:eeee"
"""Link-local address of every Calico host veth (EUI-64 of ee:ee:ee:ee:ee:ee)."""

FACTS6 = {
    "flannel": [
        'IPv6 VTEP `flannel-v6.<VNI>` (`fmt.Sprintf("flannel-v6.%v", cfg.VNI)`), same VNI and '
        "port as the IPv4 one, local address the node's IPv6 address (`be.extIface.IfaceV6Addr`): "
        "flannel-io/flannel `pkg/backend/vxlan/vxlan.go` (`if config.EnableIPv6`).",
        "As for IPv4, a permanent neighbour entry, an FDB entry and an onlink route per remote "
        "node, on flannel-v6.1 (`handleSubnetEvents`, IPv6 branch of `vxlan_network.go`).",
        "Pods on `cni0`, which holds the node's IPv6 subnet `::1`, their default gateway (the "
        "bridge plugin's `isGateway`; assumed, not read in source).",
    ],
    "calico": [
        "IPv6 VTEP `vxlan-v6.calico` (`VXLANIfaceNameV6`, "
        "`felix/dataplane/linux/dataplanedefs/dataplane_defs.go`), VNI 4096 and port 4789 as for "
        "IPv4, over the nodes' IPv6 addresses (Felix's VXLAN manager, `DstNodeIp` IPv6).",
        "Pod: a /128 address; its routes via the link-local address of the host veth "
        "(`hostIPv6Addr := addresses[0].IP` then `ip.AddRoute(r, hostIPv6Addr, contVeth)`); DAD "
        "disabled on both veth ends; `proxy_ndp=1` and forwarding on the host veth; a scope-link "
        "/128 route to the pod on the host: projectcalico/calico "
        "`cni-plugin/pkg/dataplane/linux/dataplane_linux.go` (commit 02b18b5).",
        "The host veth's MAC is ee:ee:ee:ee:ee:ee, hence its link-local address "
        f"{CALICO_LL}; the pod resolves it by NS and the host veth answers (its own address, "
        "no proxy).",
    ],
}

_U6 = ("fc00:f853:ccd:e793::4", "fc00:f853:ccd:e793::3")
"""The nodes' IPv6 underlay addresses (kind's default IPv6 network; invented here)."""

FLANNEL6 = Cni(
    "flannel",
    "flannel-v6.1",
    1,
    8472,
    [
        CniNode("flannel-worker", "worker", "vl-lab-f6-worker", "02:42:ac:12:00:04", 8, _U6[0],
                "fd00:10:244:1::/64", "fd00:10:244:1::", "a6:3e:19:c0:6b:72", "1a:7d:c2:40:9e:05",
                CniPod("busybox-7c9d8", "vl-lab-f6-pod1", "2e:84:b1:0c:6f:d3", "fd00:10:244:1::5",
                       64, "veth3f2a9c71", "9e:21:6b:d4:03:8a")),
        CniNode("flannel-worker2", "worker2", "vl-lab-f6-worker2", "02:42:ac:12:00:03", 6, _U6[1],
                "fd00:10:244:2::/64", "fd00:10:244:2::", "56:b8:0e:7a:34:d0", "ba:14:e9:63:d0:2b",
                CniPod("busybox-k4x2p", "vl-lab-f6-pod2", "f6:0b:53:a8:c1:47", "fd00:10:244:2::7",
                       64, "veth81d0e4b6", "32:c5:7f:19:ae:60")),
    ],
)  # fmt: skip
CALICO6 = Cni(
    "calico",
    "vxlan-v6.calico",
    4096,
    4789,
    [
        CniNode("calico-worker", "worker", "vl-lab-c6-worker", "02:42:ac:12:00:04", 8, _U6[0],
                "fd00:10:244:24::/122", "fd00:10:244:24::1", "66:7f:2d:91:d4:1f", "",
                CniPod("busybox-m8q2v", "vl-lab-c6-pod1", "8a:43:d1:5e:02:b9", "fd00:10:244:24::5",
                       128, "cali1b7f3e90a5c", "ee:ee:ee:ee:ee:ee")),
        CniNode("calico-worker2", "worker2", "vl-lab-c6-worker2", "02:42:ac:12:00:03", 6, _U6[1],
                "fd00:10:244:73::/122", "fd00:10:244:73::1", "66:c2:08:b3:8a:26", "",
                CniPod("busybox-r5t7n", "vl-lab-c6-pod2", "d2:6e:90:14:bb:38", "fd00:10:244:73::6",
                       128, "cali5d02a8e4f71", "ee:ee:ee:ee:ee:ee")),
    ],
)  # fmt: skip

CNIS6 = {
    "flannel-ipv6-ping": FLANNEL6,
    "calico-ipv6-ping": CALICO6,
    "flannel-ipv6-missing-fdb": FLANNEL6,
    "calico-ipv6-no-link-local": CALICO6,
    "calico-ipv6-port-mismatch": CALICO6,
}

FAULTS6 = {
    "flannel-ipv6-missing-fdb": Fault(
        "missing-fdb",
        "flannel-worker has no FDB entry for flannel-worker2's IPv6 VTEP MAC (the `bridge fdb "
        "append ... dst fc00:f853:ccd:e793::3` flanneld adds on flannel-v6.1 is left out; "
        "neighbour entry and route are there)",
        "the echo request is routed to flannel-v6.1 on flannel-worker (hop limit 63) but never "
        "encapsulated: with learning off and no FDB entry the VTEP has no remote to send to, "
        "so nothing leaves eth0; the path must stop at flannel-v6.1 on flannel-worker",
    ),
    "calico-ipv6-no-link-local": Fault(
        "no-link-local",
        "IPv6 is disabled on busybox-m8q2v's cali veth (`net.ipv6.conf.<cali>.disable_ipv6=1`, "
        "which Calico's CNI plugin sets to 0 because 'interfaces won't get a link local address "
        "without this sysctl set to 0'): the veth loses its link-local address "
        f"{CALICO_LL}, the pod's IPv6 router. Not proxy NDP: the node answers the pod's NS for "
        "that address as its own address; `proxy_ndp=0` on the veth alone was tried in the lab "
        "and the NS was still answered",
        f"the pod's Neighbor Solicitations for its router {CALICO_LL} go unanswered (no NA in "
        "any capture), so the echo request is never sent: an unanswered NS for the pod's "
        "gateway on a Calico node, nothing in the tunnel",
    ),
    "calico-ipv6-port-mismatch": Fault(
        "port-mismatch",
        "calico-worker2's vxlan-v6.calico is created with `dstport 4790` while calico-worker's "
        "uses 4789 (Felix's `vxlanPort` set for one node only): worker sends to "
        "[fc00:f853:ccd:e793::3]:4789, where nothing listens",
        "the echo request leaves calico-worker inside VXLAN over IPv6 to UDP 4789 and reaches "
        "calico-worker2's eth0, which is not listening there: it is never decapsulated (the "
        "node answers ICMPv6 port unreachable), so the pod never sees it; the two "
        "vxlan-v6.calico devices disagree on the UDP port (ip -d link); the path must stop at "
        "calico-worker2's eth0 with the request unanswered",
    ),
}
"""IPv6 fault scenarios: the healthy IPv6 overlay of their CNI with one change."""


def _v6_quiet(lab: ModuleType, ns: str) -> None:
    """IPv6 on, without DAD, router solicitations or autoconfiguration (no chatter)."""
    for key in ("all", "default"):
        lab.sysctl(ns, f"net.ipv6.conf.{key}.disable_ipv6", "0")
        lab.sysctl(ns, f"net.ipv6.conf.{key}.accept_dad", "0")
        lab.sysctl(ns, f"net.ipv6.conf.{key}.accept_ra", "0")
        lab.sysctl(ns, f"net.ipv6.conf.{key}.router_solicitations", "0")


def build6(cni: Cni, lab: ModuleType, fault: Fault | None = None) -> None:
    """Namespaces, IPv6 underlay, IPv6 VTEP, cni0 or cali veth, pods, neighbours, routes (with
    ``fault`` planted: the first node's FDB entry left out, IPv6 off on the first pod's cali
    veth, or the second node's VTEP on another UDP port)."""
    ip, run = lab.ip, lab.run
    for n in cni.nodes:
        for ns in (n.netns, n.pod.netns):
            run(["ip", "netns", "add", ns])
            _v6_quiet(lab, ns)
            run(["ip", "link", "set", "lo", "up"], netns=ns)
        lab.sysctl(n.netns, "net.ipv6.conf.all.forwarding", "1")
    a, b = cni.nodes
    ip(a.netns, "link", "add", "eth0", "index", str(a.eth0_ifindex), "address", a.eth0_mac,
       "type", "veth", "peer", "name", "eth0", "index", str(b.eth0_ifindex), "address",
       b.eth0_mac, "netns", b.netns)  # fmt: skip
    for n in cni.nodes:
        ns, p = n.netns, n.pod
        ip(ns, "addr", "add", f"{n.ipv4}/64", "dev", "eth0", "nodad")
        ip(ns, "link", "set", "eth0", "up")
        port = str(cni.port)
        if fault is not None and fault.kind == "port-mismatch" and n is b:
            port = WRONG_PORT[cni.kind]
        ip(ns, "link", "add", cni.dev, "address", n.vtep_mac, "mtu", MTU, "type", "vxlan",
           "id", str(cni.vni), "local", n.ipv4, "dev", "eth0", "dstport", port,
           "nolearning")  # fmt: skip
        plen = 128
        ip(ns, "addr", "add", f"{n.tunnel_ip}/{plen}", "dev", cni.dev, "nodad")
        ip(ns, "link", "set", cni.dev, "up")
        ip(ns, "link", "add", p.host_veth, "address", p.host_mac, "mtu", MTU, "type", "veth",
           "peer", "name", "eth0", "address", p.eth0_mac, "mtu", MTU, "netns", p.netns)  # fmt: skip
        if cni.kind == "flannel":
            net = ipaddress.IPv6Network(n.subnet)
            gw = str(net[1])
            ip(ns, "link", "add", "cni0", "address", n.bridge_mac, "mtu", MTU, "type", "bridge")
            ip(ns, "addr", "add", f"{gw}/{net.prefixlen}", "dev", "cni0", "nodad")
            ip(ns, "link", "set", "cni0", "up")
            ip(ns, "link", "set", p.host_veth, "master", "cni0", "up")
            ip(p.netns, "addr", "add", f"{p.ipv4}/{p.prefix}", "dev", "eth0", "nodad")
            ip(p.netns, "link", "set", "eth0", "up")
            ip(p.netns, "-6", "route", "add", "default", "via", gw, "dev", "eth0")
        else:
            lab.sysctl(ns, f"net.ipv6.conf.{p.host_veth}.proxy_ndp", "1")
            lab.sysctl(ns, f"net.ipv6.conf.{p.host_veth}.forwarding", "1")
            ip(ns, "link", "set", p.host_veth, "up")
            ip(ns, "-6", "route", "add", f"{p.ipv4}/128", "dev", p.host_veth, "scope", "link")
            ip(p.netns, "addr", "add", f"{p.ipv4}/128", "dev", "eth0", "nodad")
            ip(p.netns, "link", "set", "eth0", "up")
            ip(p.netns, "-6", "route", "add", "default", "via", CALICO_LL, "dev", "eth0")
    for n in cni.nodes:
        o = b if n is a else a
        ip(n.netns, "-6", "neigh", "add", o.tunnel_ip, "dev", cni.dev, "lladdr", o.vtep_mac,
           "nud", "permanent")  # fmt: skip
        if not (fault is not None and fault.kind == "missing-fdb" and n is a):
            run(["bridge", "fdb", "append", o.vtep_mac, "dev", cni.dev, "dst", o.ipv4, "self",
                 "permanent"], netns=n.netns)  # fmt: skip
        ip(n.netns, "-6", "route", "add", o.subnet, "via", o.tunnel_ip, "dev", cni.dev, "onlink")
    if fault is not None and fault.kind == "no-link-local":
        lab.sysctl(a.netns, f"net.ipv6.conf.{a.pod.host_veth}.disable_ipv6", "1")


def bullets6(cni: Cni, frames: dict[str, list[Any]]) -> list[str]:
    """What the captures of an IPv6 scenario show, frame by frame."""
    a, b = cni.nodes
    pa, pb = a.pod, b.pod
    pf_a, pf_b = f"pod-{pa.name}-eth0.pcap", f"pod-{pb.name}-eth0.pcap"
    ef_a = f"node-{a.short}-eth0.pcap"

    def find(f: str, kind: str) -> list[Any]:
        return [x for x in frames[f] if x.kind == kind]

    out = []
    ns, na = find(pf_a, "ns"), find(pf_a, "na")
    if ns and na:
        who = (
            "cni0, whose own address it is (the kernel answers)"
            if cni.kind == "flannel"
            else f"{pa.host_veth}, the host side of the pod's veth, for its own link-local "
            "address (no proxy: the pod's route names the veth's link-local address)"
        )
        out.append(
            f"Gateway: pod {pa.name} sends NS who-has {ns[0].info['target']} (frame {ns[0].n}) "
            f"and gets NA {na[0].info['target']} is-at {na[0].info.get('lladdr')} flags "
            f"{na[0].info['flags']} (frame {na[0].n}), answered by {who}."
        )
    req = find(pf_a, "echo-request")[0]
    rep = find(pf_a, "echo-reply")[0]
    t_a = find(ef_a, "echo-request")[0]
    d_b = find(pf_b, "echo-request")[0]
    out.append(
        f"Echo request {pa.ipv4} → {pb.ipv4}: leaves the pod (frame {req.n}) with hop limit "
        f"{req.hops}, MACs {req.src_mac} → {req.dst_mac}."
    )
    out.append(
        f"On {ef_a} (frame {t_a.n}) it is inside VXLAN over IPv6, UDP {t_a.outer_sport} → "
        f"{t_a.outer_dport}, VNI {t_a.vni}, {t_a.outer_src} → {t_a.outer_dst}; inner MACs "
        f"{t_a.src_mac} → {t_a.dst_mac} (the two VTEPs' {cni.dev}), hop limit {t_a.hops} "
        f"({a.name} routed it once)."
    )
    out.append(
        f"At {pb.name} (frame {d_b.n}) it arrives with hop limit {d_b.hops} (routed on both "
        f"nodes) and MACs {d_b.src_mac} → {d_b.dst_mac}; the reply reaches {pa.name} in frame "
        f"{rep.n} with hop limit {rep.hops}: answered, {(rep.t - req.t) * 1e6:.0f} µs round trip."
    )
    out.append(
        f"A correct analysis: healthy, answered; {cni.kind.capitalize()} over IPv6 ({cni.dev}, "
        f"port {cni.port}, VNI {cni.vni}), hop limit 64 → 63 in the tunnel → 62 at the pod, inner "
        "MACs = VTEP MACs; no Cilium rule applied."
    )
    return out


def readme6(
    cni: Cni,
    sc: Any,
    outdir: Path,
    cmd: str,
    output: str,
    stats: dict[str, str],
    fault: Fault | None = None,
) -> None:
    """README of an IPv6 scenario (the IPv4 writer with IPv6 facts and bullets)."""
    import lab_cni_readme
    from lab_readme import read_frames

    files = sorted(stats)
    frames = {f: read_frames(outdir / f) for f in files}
    bullets = (
        bullets6(cni, frames)
        if fault is None
        else lab_cni_readme._fault_bullets(cni, fault, files, frames)
    )
    facts = lab_cni_readme.FACTS[cni.kind]
    lab_cni_readme.FACTS[cni.kind] = FACTS6[cni.kind]
    try:
        lab_cni_readme._write(cni, sc, outdir, cmd, output, stats, files, frames, bullets)
    finally:
        lab_cni_readme.FACTS[cni.kind] = facts
