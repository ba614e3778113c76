"""README of the Calico CrossSubnet lab scenario (lab_xsubnet.py), written from its captures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab_cni import MTU, Cni
from lab_cni_readme import _fr, _write
from lab_readme import Frame, read_frames
from lab_xsubnet import FACTS, ROUTER_MAC


def _lab_line(cni: Cni) -> str:
    a, b, c = cni.nodes
    return "\n- ".join(
        [
            *FACTS,
            f"Lab: {a.name} ({a.ipv4}) and {b.name} ({b.ipv4}) are on one underlay subnet "
            f"172.18.0.0/16 (their eth0 veths plugged into a Linux bridge `br0` holding "
            f"172.18.0.1, MAC {ROUTER_MAC['172.18.0.1']}, in a router namespace that is not "
            f"captured); {c.name} ({c.ipv4}) is on 172.19.0.0/16 behind that router (its leg "
            f"`eth1` holds 172.19.0.1, MAC {ROUTER_MAC['172.19.0.1']}); each node's default "
            f"route goes via its subnet's router address. `ip link add {cni.dev} type vxlan id "
            f"{cni.vni} local <node IP> dev eth0 dstport {cni.port} nolearning`, MTU {MTU}, on "
            "every node. Between the two nodes of one subnet the route to the other's block is "
            "`<block> via <node IP> dev eth0 onlink` (Felix's no-encap route; Felix also sets "
            "`proto 80`, left out here as in the other lab scenarios); between subnets `<block> "
            "via <VTEP address> dev vxlan.calico onlink`; a static neighbour entry and a `bridge "
            "fdb append ... self permanent` for every remote VTEP, the same-subnet one included "
            "(unused by the native route). Pods as in "
            "lab-calico-ping (cali veths with ee:ee:ee:ee:ee:ee and proxy ARP, `default via "
            "169.254.1.1`); IPv6 disabled everywhere.",
        ]
    )


def _echo(frames: list[Frame], kind: str, dst: str | None = None, src: str | None = None) -> Frame:
    for f in _fr(frames, kind=kind):
        if (dst is None or f.dst == dst) and (src is None or f.src == src):
            return f
    raise ValueError(f"no {kind} {src} → {dst} in the capture")


def _bullets(cni: Cni, frames: dict[str, list[Frame]]) -> list[str]:
    a, b, c = cni.nodes
    pa = a.pod
    pod = {n.name: frames[f"pod-{n.pod.name}-eth0.pcap"] for n in cni.nodes}
    eth = {n.name: frames[f"node-{n.short}-eth0.pcap"] for n in cni.nodes}
    arq = _fr(pod[a.name], kind="arp-request", tpa="169.254.1.1")
    arp = _fr(pod[a.name], kind="arp-reply", spa="169.254.1.1")
    out = [
        f"Gateway: pod {pa.name} asks ARP who-has 169.254.1.1 (frame {arq[0].n}) and gets "
        f"169.254.1.1 is-at {arp[0].info['sha']} (frame {arp[0].n}), answered by "
        f"{pa.host_veth} by **proxy ARP**, as in lab-calico-ping.",
    ]
    # same subnet: native
    q0 = _echo(pod[a.name], "echo-request", dst=b.pod.ipv4)
    qa = _echo(eth[a.name], "echo-request", dst=b.pod.ipv4)
    qb = _echo(eth[b.name], "echo-request", dst=b.pod.ipv4)
    q2 = _echo(pod[b.name], "echo-request", dst=b.pod.ipv4)
    rb = _echo(eth[b.name], "echo-reply", src=b.pod.ipv4)
    r0 = _echo(pod[a.name], "echo-reply", src=b.pod.ipv4)
    node_arp = _fr(eth[a.name], kind="arp-request", tpa=b.ipv4)
    out += [
        f"**Same subnet, routed natively** ({pa.name} → {b.pod.name}, {pa.ipv4} → "
        f"{b.pod.ipv4}): the request leaves the pod (frame {q0.n}) with TTL {q0.hops}, MACs "
        f"{q0.src_mac} → {q0.dst_mac}. On node-{a.short}-eth0.pcap (frame {qa.n}) it is "
        f"**not encapsulated**: the pod's own IPv4 packet with TTL {qa.hops} ({a.name} routed it "
        f"once, by `{b.subnet} via {b.ipv4} dev eth0 onlink`) in an Ethernet frame from "
        f"{a.name}'s eth0 MAC {qa.src_mac} to {b.name}'s eth0 MAC {qa.dst_mac}"
        + (
            f" (resolved by an ordinary ARP for {b.ipv4} on the underlay, frame {node_arp[0].n})"
            if node_arp
            else ""
        )
        + ".",
        f"{b.name} receives the same frame on its eth0 (node-{b.short}-eth0.pcap frame {qb.n}, "
        f"TTL {qb.hops}, MACs {qb.src_mac} → {qb.dst_mac}: the bridge between them does not "
        f"route) and routes it by the pod's /32 to {b.pod.host_veth}: the pod gets it with TTL "
        f"{q2.hops} from {q2.src_mac} (frame {q2.n}). The reply goes back the same way "
        f"({b.name}'s eth0 frame {rb.n}: {rb.src_mac} → {rb.dst_mac}, TTL {rb.hops}) and reaches "
        f"{pa.name} with TTL {r0.hops} (frame {r0.n}), {(r0.t - q0.t) * 1e6:.0f} µs round trip. "
        "No VXLAN frame at all for this pair.",
    ]
    # other subnet: VXLAN
    q0 = _echo(pod[a.name], "echo-request", dst=c.pod.ipv4)
    qa = _echo(eth[a.name], "echo-request", dst=c.pod.ipv4)
    qc = _echo(eth[c.name], "echo-request", dst=c.pod.ipv4)
    q3 = _echo(pod[c.name], "echo-request", dst=c.pod.ipv4)
    r0 = _echo(pod[a.name], "echo-reply", src=c.pod.ipv4)
    out += [
        f"**Other subnet, VXLAN** ({pa.name} → {c.pod.name}, {pa.ipv4} → {c.pod.ipv4}): on "
        f"node-{a.short}-eth0.pcap (frame {qa.n}) the request is inside VXLAN UDP "
        f"{qa.outer_sport} → {qa.outer_dport}, VNI {qa.vni}, {qa.outer_src} → {qa.outer_dst}, "
        f"outer MACs {qa.outer_mac_src} → {qa.outer_mac_dst} (the router: {c.name} is off-link); "
        f"the inner frame goes from VTEP MAC {qa.src_mac} to VTEP MAC {qa.dst_mac} with TTL "
        f"{qa.hops}.",
        f"{c.name} gets it through the router (node-{c.short}-eth0.pcap frame {qc.n}, outer MACs "
        f"{qc.outer_mac_src} → {qc.outer_mac_dst}; the inner frame unchanged, TTL {qc.hops}), "
        f"decapsulates it and routes it to the pod: TTL {q3.hops} (frame {q3.n}). The reply "
        f"comes back in VXLAN and reaches {pa.name} with TTL {r0.hops} (frame {r0.n}).",
        "A correct analysis: healthy, both answered; Calico in VXLAN CrossSubnet mode: the pair "
        "in one subnet is routed between the nodes without encapsulation (pod IPs on the "
        "underlay between the two nodes' eth0 MACs, two routing hops, TTL −2; not a missing "
        "tunnel nor traffic escaping the overlay), the pair across subnets goes through "
        f"vxlan.calico (port {cni.port}, VNI {cni.vni}, inner MACs = VTEP MACs, TTL −2); no "
        "Cilium rule applies.",
    ]
    return out


def write_readme(
    cni: Cni, sc: Any, outdir: Path, cmd: str, output: str, stats: dict[str, str]
) -> None:
    """README from the captures: what was run, facts with sources, frames, expected analysis."""
    files = sorted(stats)
    frames = {f: read_frames(outdir / f) for f in files}
    _write(
        cni,
        sc,
        outdir,
        cmd,
        output,
        stats,
        files,
        frames,
        _bullets(cni, frames),
        lab_line="- " + _lab_line(cni),
    )
