"""README of a Flannel / Calico / Antrea shaped lab scenario, written from its captures
(moved out of lab_cni.py: the builders there, the words here)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from lab_cni import FACTS, MTU, Cni, Fault, _net
from lab_cni6 import CALICO_LL
from lab_readme import Frame, read_frames


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
    v6 = ":" in cni.nodes[0].ipv4
    if cni.kind == "calico":
        gw = CALICO_LL if v6 else "169.254.1.1"
    else:
        gw = str(ipaddress.ip_network(cni.nodes[0].subnet)[1])
    for f in files:
        reqs = _fr(frames[f], kind="echo-request")
        reps = _fr(frames[f], kind="echo-reply")
        if v6:
            arq = [x for x in _fr(frames[f], kind="ns") if x.info.get("target") == gw]
            arp = [x for x in _fr(frames[f], kind="na") if x.info.get("target") == gw]
        else:
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
            what = "Neighbor Solicitation(s)" if v6 else "ARP request(s)"
            said.append(f"{len(arq)} {what} for {gw}, {len(arp)} answer(s)")
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
    made: str | None = None,
    lab_line: str | None = None,
    gateway: str | None = None,
) -> None:
    """The README: ``made`` says what made the traffic (default: the kernel's own devices),
    ``lab_line`` how the lab builds the datapath, ``gateway`` the topology table's device column
    (defaults: the VXLAN lab's; the Antrea and OVN scenarios give their own)."""
    a = cni.nodes[0]
    pa = a.pod
    if cni.kind == "antrea" and made is None:
        made = (
            "namespaces: the kernel's bridge, ARP and routing, and tc eBPF programs "
            "(lab/bpf/bpf_antrea.c) doing what Antrea's OVS flows and tunnel port do, because "
            "OVS cannot run here and the kernel has no geneve device). "
        )
        lab_line = (
            "- Lab: per node a Linux bridge `br-int` with the pod's veth and `gw0-port`, the "
            "peer of `antrea-gw0` (which holds the pod CIDR .1); the program `from-pod` on the "
            "pod's port encapsulates packets for the other node's pod CIDR in Geneve and sends "
            "them out of eth0, `from-netdev` on eth0 decapsulates and delivers; IPv6 disabled "
            "everywhere."
        )
        gateway = "antrea-gw0"
    L = [f"# Lab scenario `{sc.name}`: {sc.title}", ""]
    L += [
        f"Made by `lab/run.py --scenario {sc.name}` (real Linux kernel traffic in network "
        + (made or "namespaces; no eBPF: the kernel's own VXLAN, bridge, proxy ARP and routing). ")
        + "Regenerate rather than edit: this file is written from the captures.",
        "",
        "## Datapath, and where each fact comes from",
        "",
    ]
    L += [f"- {f}" for f in FACTS[cni.kind]]
    L += [
        lab_line
        if lab_line is not None
        else f"- Lab: `ip link add {cni.dev} type vxlan id {cni.vni} local <node IP> dev eth0 dstport "
        f"{cni.port} nolearning`, MTU {MTU}; one static neighbour, one `bridge fdb append ... "
        "self permanent` and one onlink route per remote node; nodes have a default route via "
        "172.18.0.1 (no such host: it only makes proxy ARP answer off-link targets, as on a "
        "real node); IPv6 disabled everywhere (IPv4-only cluster)."
        if ":" not in a.ipv4
        else f"- Lab: `ip link add {cni.dev} type vxlan id {cni.vni} local <node IPv6> dev eth0 "
        f"dstport {cni.port} nolearning`, MTU {MTU}; one static neighbour, one `bridge fdb "
        "append ... self permanent` and one onlink route per remote node; IPv6 only (no IPv4 "
        "address anywhere), DAD, router solicitations and autoconfiguration off.",
        "",
        "## Topology (all values invented)",
        "",
        f"| node | eth0 | {'IPv6' if ':' in a.ipv4 else 'IPv4'} | pod subnet | {gateway or cni.dev} (MAC) | pod | pod IP | pod MAC | host veth (MAC) |",
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
