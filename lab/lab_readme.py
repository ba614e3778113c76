"""README writer for lab scenarios: facts read back from the fresh captures with tshark.

Every frame number, MAC, VNI, id and hop limit in a scenario README comes from the captures
themselves (``tshark -T json`` with the tunnel ports decoded), so regenerating the lab
regenerates consistent READMEs. Used by lab/run.py; standard library only.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIELDS = [
    "frame.number",
    "frame.time_relative",
    "frame.time_epoch",
    "frame.len",
    "frame.protocols",
    "sll.ifindex",
    "sll.pkttype",
    "sll.src.eth",
    "eth.src",
    "eth.dst",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ip.flags.df",
    "ip.len",
    "ip.id",
    "ip.flags.mf",
    "ip.frag_offset",
    "ipv6.fraghdr.offset",
    "ipv6.fraghdr.more",
    "ipv6.fraghdr.ident",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "ipv6.plen",
    "udp.srcport",
    "udp.dstport",
    "vxlan.vni",
    "geneve.vni",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.proto_ipv4",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.nd.ns.target_address",
    "icmpv6.nd.na.target_address",
    "icmpv6.nd.na.flag.r",
    "icmpv6.nd.na.flag.s",
    "icmpv6.nd.na.flag.o",
    "icmpv6.opt.linkaddr",
    "icmpv6.echo.identifier",
    "icmpv6.echo.sequence_number",
    "icmp.type",
    "icmp.ident",
    "icmp.seq",
    "icmp.code",
    "icmp.mtu",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.flags.fin",
    "tcp.flags.reset",
    "tcp.len",
    "tcp.options.mss_val",
]
DECODE_AS = ["-d", "udp.port==8472,vxlan", "-d", "udp.port==6081,geneve"]
PKTTYPE = {0: "in", 1: "in broadcast", 2: "in multicast", 3: "in otherhost", 4: "out"}


@dataclass
class Frame:
    """One captured frame, reduced to what the READMEs talk about."""

    n: int
    t: float
    length: int
    ifindex: int | None
    pkttype: int | None
    tunnel: str | None = None
    vni: int | None = None
    outer_src: str | None = None
    outer_dst: str | None = None
    outer_sport: int | None = None
    outer_dport: int | None = None
    outer_mac_src: str | None = None
    outer_mac_dst: str | None = None
    src_mac: str | None = None
    dst_mac: str | None = None
    l3: str | None = None
    src: str | None = None
    dst: str | None = None
    hops: int | None = None
    ip_len: int | None = None
    kind: str = "other"
    info: dict[str, Any] = field(default_factory=dict)
    epoch: float = 0.0
    frags: list[str] = field(default_factory=list)  # "outer IPv4 fragment ..." per layer
    frag0: tuple[str, int, bool] | None = None  # first IPv4 layer: (id, offset, MF) if fragment

    def where(self, ifnames: dict[int, str]) -> str:
        """Interface and direction for SLL2 frames, '' for Ethernet captures."""
        if self.ifindex is None:
            return ""
        return f"{ifnames.get(self.ifindex, f'if{self.ifindex}')} {PKTTYPE.get(self.pkttype or 0, '?')}"

    def summary(self) -> str:
        """One line: tunnel, pod-frame MACs, and what the pod frame is."""
        parts = []
        i = self.info
        if self.kind == "frag-needed":  # the quoted packet is not this frame's tunnel
            return (
                f"ICMP fragmentation needed (mtu {i['mtu']}) {self.src} → {self.dst}, quoting "
                f"{i['quoted']}"
            )
        if self.tunnel:
            parts.append(
                f"{self.tunnel.upper()} VNI {self.vni} {self.outer_src}:{self.outer_sport}"
                f" → {self.outer_dst}:{self.outer_dport} |"
            )
        if self.src_mac or self.dst_mac:
            parts.append(f"{self.src_mac or '?'} → {self.dst_mac or '(SLL2: no dst)'} |")
        i = self.info
        if self.kind == "arp-request":
            parts.append(f"ARP who-has {i['tpa']} tell {i['spa']}")
        elif self.kind == "arp-reply":
            parts.append(f"ARP {i['spa']} is-at {i['sha']}")
        elif self.kind == "ns":
            parts.append(f"NS who-has {i['target']} from {self.src} hlim {self.hops}")
        elif self.kind == "na":
            parts.append(
                f"NA {i['target']} is-at {i.get('lladdr')} flags {i['flags']} "
                f"from {self.src} to {self.dst} hlim {self.hops}"
            )
        elif self.kind in ("echo-request", "echo-reply"):
            fam = "ICMPv6" if self.l3 == "ipv6" else "ICMP"
            hl = "hlim" if self.l3 == "ipv6" else "ttl"
            parts.append(
                f"{fam} {self.kind.replace('-', ' ')} {self.src} → {self.dst} "
                f"id 0x{i['id']:04x} seq {i['seq']} {hl} {self.hops} len {self.ip_len}"
            )
        elif self.kind == "tcp":
            parts.append(
                f"TCP {self.src}:{i['sport']} → {self.dst}:{i['dport']} [{i['flags']}]"
                f" len {i['len']}"
            )
        elif self.kind == "udp":
            parts.append(f"UDP {self.src}:{i['sport']} → {self.dst}:{i['dport']}")
        elif self.kind == "unreachable":
            fam = "ICMPv6" if self.l3 == "ipv6" else "ICMP"
            parts.append(f"{fam} destination unreachable code {i['code']} {self.src} → {self.dst}")
        else:
            parts.append(f"{self.l3 or ''} {self.src or ''} → {self.dst or ''}".strip())
        if self.frags:
            parts.append("[" + "; ".join(self.frags) + "]")
        return " ".join(parts)


def _vals(layers: dict[str, list[str]], key: str) -> list[str]:
    return layers.get(key, [])


def _first_int(v: list[str], idx: int = 0) -> int | None:
    if len(v) <= idx:
        return None
    s = v[idx]
    return int(s, 16) if s.startswith("0x") else int(s)


def read_frames(pcap: Path) -> list[Frame]:
    """Decode ``pcap`` with tshark and give one :class:`Frame` per captured frame."""
    argv = ["tshark", "-n", "-r", str(pcap), *DECODE_AS, "-T", "json"]
    for f in FIELDS:
        argv += ["-e", f]
    cp = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    out = []
    for pkt in json.loads(cp.stdout or "[]"):
        lay: dict[str, list[str]] = pkt["_source"]["layers"]
        protos = _vals(lay, "frame.protocols")[0].split(":")
        fr = Frame(
            n=int(_vals(lay, "frame.number")[0]),
            t=float(_vals(lay, "frame.time_relative")[0]),
            length=int(_vals(lay, "frame.len")[0]),
            ifindex=_first_int(_vals(lay, "sll.ifindex")),
            pkttype=_first_int(_vals(lay, "sll.pkttype")),
        )
        fr.epoch = float(_vals(lay, "frame.time_epoch")[0])
        fr.frags = _fragments(lay, protos)
        offs, mfs = _vals(lay, "ip.frag_offset"), _vals(lay, "ip.flags.mf")
        if protos[:4].count("ip") and offs and (int(offs[0]) or mfs[0] in ("1", "True")):
            fr.frag0 = (_vals(lay, "ip.id")[0], int(offs[0]) * 8, mfs[0] in ("1", "True"))
        tunnel = next((p for p in ("vxlan", "geneve") if p in protos), None)
        eth_src, eth_dst = _vals(lay, "eth.src"), _vals(lay, "eth.dst")
        l3s = [p for p in protos if p in ("ip", "ipv6")]
        counters = {"ip": 0, "ipv6": 0}
        if tunnel:
            fr.tunnel = tunnel
            fr.vni = _first_int(_vals(lay, f"{tunnel}.vni"))
            outer = l3s[0]
            fr.outer_src = _vals(lay, f"{outer}.src")[0]
            fr.outer_dst = _vals(lay, f"{outer}.dst")[0]
            fr.outer_sport = _first_int(_vals(lay, "udp.srcport"))
            fr.outer_dport = _first_int(_vals(lay, "udp.dstport"))
            counters[outer] = 1
            if fr.ifindex is None:
                fr.outer_mac_src, fr.outer_mac_dst = eth_src[0], eth_dst[0]
                eth_src, eth_dst = eth_src[1:], eth_dst[1:]
            l3s = l3s[1:]
        if fr.ifindex is not None and not tunnel:
            sll = _vals(lay, "sll.src.eth")
            fr.src_mac = sll[0] if sll else None
        elif eth_src:
            fr.src_mac, fr.dst_mac = eth_src[0], eth_dst[0]
        if l3s:
            fam = l3s[0]
            k = counters[fam]
            fr.l3 = fam
            fr.src = _vals(lay, f"{fam}.src")[k]
            fr.dst = _vals(lay, f"{fam}.dst")[k]
            fr.hops = _first_int(_vals(lay, "ip.ttl" if fam == "ip" else "ipv6.hlim"), k)
            if fam == "ip":
                fr.ip_len = _first_int(_vals(lay, "ip.len"), k)
            else:
                plen = _first_int(_vals(lay, "ipv6.plen"), k)
                fr.ip_len = None if plen is None else plen + 40
        _classify(fr, lay)
        out.append(fr)
    return out


def _fragments(lay: dict[str, list[str]], protos: list[str]) -> list[str]:
    """One description per IPv4 / IPv6 layer of this frame that is a fragment."""
    out = []
    n_ip = protos.count("ip")
    n_l3 = len([p for p in protos if p in ("ip", "ipv6")])
    mfs, offs, ids = (_vals(lay, k) for k in ("ip.flags.mf", "ip.frag_offset", "ip.id"))
    for k in range(min(n_ip, len(offs))):
        mf = mfs[k] in ("1", "True") if k < len(mfs) else False
        off = int(offs[k]) * 8
        if mf or off:
            tunnelled = "vxlan" in protos or "geneve" in protos
            where = ("outer " if k == 0 else "inner ") if tunnelled and n_l3 > 1 else ""
            out.append(f"{where}IPv4 fragment id {ids[k]} offset {off}{', MF' if mf else ''}")
    offs6 = _vals(lay, "ipv6.fraghdr.offset")
    more6, id6 = _vals(lay, "ipv6.fraghdr.more"), _vals(lay, "ipv6.fraghdr.ident")
    for k, off in enumerate(offs6):
        mf = more6[k] in ("1", "True") if k < len(more6) else False
        out.append(
            f"IPv6 fragment ident {id6[k] if k < len(id6) else '?'} offset {int(off) * 8}"
            f"{', M' if mf else ''}"
        )
    return out


def _classify(fr: Frame, lay: dict[str, list[str]]) -> None:
    op = _first_int(_vals(lay, "arp.opcode"))
    if op in (1, 2):
        fr.kind = "arp-request" if op == 1 else "arp-reply"
        fr.info = {
            "sha": _vals(lay, "arp.src.hw_mac")[0],
            "spa": _vals(lay, "arp.src.proto_ipv4")[0],
            "tpa": _vals(lay, "arp.dst.proto_ipv4")[0],
        }
        return
    t6 = _first_int(_vals(lay, "icmpv6.type"))
    if t6 == 135:
        fr.kind = "ns"
        fr.info = {
            "target": _vals(lay, "icmpv6.nd.ns.target_address")[0],
            "lladdr": (_vals(lay, "icmpv6.opt.linkaddr") or [None])[0],
        }
    elif t6 == 136:
        flags = "".join(
            name
            for name, key in (("R", "r"), ("S", "s"), ("O", "o"))
            if _vals(lay, f"icmpv6.nd.na.flag.{key}") in (["1"], ["True"])
        )
        fr.kind = "na"
        fr.info = {
            "target": _vals(lay, "icmpv6.nd.na.target_address")[0],
            "lladdr": (_vals(lay, "icmpv6.opt.linkaddr") or [None])[0],
            "flags": ",".join(flags) or "none",
        }
    elif t6 in (128, 129):
        fr.kind = "echo-request" if t6 == 128 else "echo-reply"
        fr.info = {
            "id": _first_int(_vals(lay, "icmpv6.echo.identifier")),
            "seq": _first_int(_vals(lay, "icmpv6.echo.sequence_number")),
        }
    t4 = _first_int(_vals(lay, "icmp.type"))
    if t4 == 3 and _first_int(_vals(lay, "icmp.code")) == 4:
        srcs, dsts = _vals(lay, "ip.src"), _vals(lay, "ip.dst")
        dfs, dports = _vals(lay, "ip.flags.df"), _vals(lay, "udp.dstport")
        quoted = f"{srcs[1]} → {dsts[1]}" if len(srcs) > 1 else "?"
        if len(dfs) > 1:
            quoted += f" UDP {dports[0]}" if dports else ""
            quoted += " with DF" if dfs[1] in ("1", "True") else " without DF"
        fr.kind = "frag-needed"
        fr.src, fr.dst, fr.l3 = srcs[0], dsts[0], "ip"
        fr.info = {"mtu": _first_int(_vals(lay, "icmp.mtu")), "quoted": quoted}
        return
    if t6 == 1 or t4 == 3:  # destination unreachable (frag-needed is above)
        code = _vals(lay, "icmpv6.code" if t6 == 1 else "icmp.code")
        fr.kind = "unreachable"
        fr.info = {"code": _first_int(code)}
        return
    if t4 in (0, 8):
        fr.kind = "echo-request" if t4 == 8 else "echo-reply"
        fr.info = {
            "id": _first_int(_vals(lay, "icmp.ident")),
            "seq": _first_int(_vals(lay, "icmp.seq")),
        }
    if _vals(lay, "tcp.srcport"):
        names = [("SYN", "syn"), ("ACK", "ack"), ("FIN", "fin"), ("RST", "reset")]
        flags = ",".join(n for n, k in names if _vals(lay, f"tcp.flags.{k}") in (["1"], ["True"]))
        fr.kind = "tcp"
        fr.info = {
            "sport": _first_int(_vals(lay, "tcp.srcport")),
            "dport": _first_int(_vals(lay, "tcp.dstport")),
            "flags": flags,
            "len": _first_int(_vals(lay, "tcp.len")),
            "mss": _first_int(_vals(lay, "tcp.options.mss_val")),
        }
    sports, dports = _vals(lay, "udp.srcport"), _vals(lay, "udp.dstport")
    if fr.kind == "other" and sports and dports and (fr.tunnel is None or len(sports) > 1):
        # the pod frame's UDP header: the last one (the first is the tunnel's)
        fr.kind = "udp"
        fr.info = {"sport": int(sports[-1]), "dport": int(dports[-1])}


# --------------------------------------------------------------------------------------------
# Queries used by the scenario texts
# --------------------------------------------------------------------------------------------


class Caps:
    """The frames of every capture of one scenario, with small query helpers."""

    def __init__(self, outdir: Path, files: list[str]) -> None:
        self.outdir = outdir
        self.frames = {f: read_frames(outdir / f) for f in files}

    def find(self, file: str, kind: str | None = None, **conds: Any) -> list[Frame]:
        """Frames of ``file`` of ``kind`` whose attributes / info entries equal ``conds``."""
        out = []
        for fr in self.frames[file]:
            if kind is not None and fr.kind != kind:
                continue
            if all(
                (getattr(fr, k) if hasattr(fr, k) else fr.info.get(k)) == v
                for k, v in conds.items()
            ):
                out.append(fr)
        return out

    def one(self, file: str, kind: str | None = None, **conds: Any) -> Frame:
        """The single frame matching (raises when there is not exactly one)."""
        got = self.find(file, kind, **conds)
        if len(got) != 1:
            raise RuntimeError(f"{file}: expected one {kind} {conds}, found {[f.n for f in got]}")
        return got[0]


def _us(a: Frame, b: Frame) -> str:
    return f"{(b.t - a.t) * 1e6:.0f} µs"


def _frames(frs: list[Frame]) -> str:
    return ", ".join(str(f.n) for f in frs) or "none"


# --------------------------------------------------------------------------------------------
# Bullet builders
# --------------------------------------------------------------------------------------------


def pod_file(pod: Any) -> str:
    """Capture file name of a pod's eth0."""
    return f"pod-{pod.name}-eth0.pcap"


def eth_file(node: Any) -> str:
    """Capture file name of a node's eth0."""
    return f"node-{node.short}-eth0.pcap"


def any_file(node: Any) -> str:
    """Capture file name of a node's ``-i any``."""
    return f"node-{node.short}-any.pcap"


class Writer:
    """Builds the 'What a correct analysis must say' bullets of one scenario."""

    def __init__(
        self,
        caps: Caps,
        sc: Any,
        variant: Any,
        nodes: list[Any],
        ifnames: dict[str, dict[int, str]],
    ) -> None:
        self.c, self.sc, self.variant, self.nodes, self.ifnames = caps, sc, variant, nodes, ifnames
        self.bullets: list[str] = []

    def say(self, text: str) -> None:
        """Add one bullet."""
        self.bullets.append(text)

    def node_of(self, pod: Any) -> Any:
        """The node hosting ``pod``."""
        return next(n for n in self.nodes if pod in n.pods)

    def pod_of_ip(self, addr: str) -> Any | None:
        """The pod owning ``addr`` (None when no pod does)."""
        for n in self.nodes:
            for p in n.pods:
                if addr in (p.ipv4, p.ipv6):
                    return p
        return None

    def ident(self, pod: Any) -> str:
        """'identity N (labels)' of a pod in this scenario."""
        n = self.sc.identities[pod.name]
        labels = pod.labels if n != 27040 else [x for x in pod.labels if "lab.vxlanlens" not in x]
        short = ", ".join(lb for lb in labels if lb.startswith("k8s:app") or "lab.vxlanlens" in lb)
        return f"identity {n} ({short})"

    # -- gateway resolution ------------------------------------------------------------------

    def gateway(self, pod: Any, fam: int, answered: bool = True) -> None:
        """Bullets for the pod's resolution of its gateway (NS/NA or ARP)."""
        node = self.node_of(pod)
        pf = pod_file(pod)
        if fam == 6:
            router = node.router_ipv6
            nss = self.c.find(pf, "ns", target=router)
            nas = self.c.find(pf, "na", target=router)
            if not answered:
                gaps = [f"{b.t - a.t:.1f} s" for a, b in itertools.pairwise(nss)]
                self.say(
                    f"Pod {pod.name} eth0 ({pf}): {len(nss)} Neighbor Solicitations for the "
                    f"IPv6 gateway {router} from {nss[0].src} (MAC {pod.eth0_mac}) in frames "
                    f"{_frames(nss)} (retries {', '.join(gaps)} apart), and **no** Neighbor "
                    f"Advertisement: the NS is unanswered. {router} is configured on no "
                    f"interface (topology dumps), so only the eBPF responder on "
                    f"{pod.lxc_name} could answer, and it is missing in this scenario."
                )
                return
            ns, na = nss[0], next(a for a in nas if a.n > nss[0].n)
            self.say(
                f"Pod {pod.name} eth0 ({pf}): NS for {router} from {ns.src} "
                f"(MAC {pod.eth0_mac}, to {ns.dst}) in frame {ns.n} is answered in frame "
                f"{na.n} by an NA from MAC {na.src_mac} = {pod.lxc_name}, the pod's own "
                f"host-side veth on {node.name}, with flags {na.info['flags']} (R=1, S=1, "
                f"O=0), target link-layer address {na.info['lladdr']}, IPv6 source {na.src}, "
                f"destination {na.dst}, hop limit {na.hops}, {_us(ns, na)} later."
            )
            self.say(
                f"{router} (the pod's IPv6 default gateway) is assigned to no interface on "
                f"{node.name} (see topology/{node.name}/ip-j-d-addr.json), so the NA was "
                f"generated by the eBPF program on {pod.lxc_name}, not by a kernel owning "
                f"the address; neither the NS nor the NA appears on {eth_file(node)}."
            )
        else:
            router = node.router_ipv4
            req = self.c.find(pf, "arp-request", tpa=router)[0]
            rep = next(a for a in self.c.find(pf, "arp-reply", spa=router) if a.n > req.n)
            self.say(
                f"Pod {pod.name} eth0 ({pf}): ARP who-has {router} tell {req.info['spa']} "
                f"(frame {req.n}, broadcast from {pod.eth0_mac}) is answered in frame "
                f"{rep.n}: {router} is-at {rep.info['sha']} = {pod.lxc_name}'s MAC, "
                f"{_us(req, rep)} later. {router} is cilium_host's address on {node.name} "
                f"(cilium_host MAC {node.cilium_host_mac}), yet the answer carries the lxc "
                f"MAC: the eBPF program on {pod.lxc_name} answered, not the kernel on "
                f"cilium_host; nothing of it appears on {eth_file(node)}."
            )

    def underlay(self, src: Any, dst: Any) -> None:
        """Bullet for underlay neighbour resolution on the sender's eth0 (if captured)."""
        ef = eth_file(src)
        if self.variant.underlay == "ipv6":
            reqs = self.c.find(ef, "ns", target=dst.ipv6)
            reps = self.c.find(ef, "na", target=dst.ipv6)
            if reqs and reps:
                self.say(
                    f"Underlay on {ef}: NS for {dst.ipv6} from {reqs[0].src} (frame "
                    f"{reqs[0].n}) answered by NA frame {reps[0].n} from {reps[0].src_mac} "
                    f"(flags {reps[0].info['flags']}): node-to-node neighbour discovery by "
                    f"the kernels, before the first tunnel packet."
                )
            return
        reqs = self.c.find(ef, "arp-request", tpa=dst.ipv4)
        reps = self.c.find(ef, "arp-reply", spa=dst.ipv4)
        if reqs and reps:
            self.say(
                f"Underlay on {ef}: ARP who-has {dst.ipv4} tell {src.ipv4} (frame "
                f"{reqs[0].n}) answered by frame {reps[0].n}: {dst.ipv4} is-at "
                f"{reps[0].info['sha']} ({dst.name}'s eth0, answered by its kernel), "
                f"before the first tunnel packet."
            )
        elif not reqs:
            self.say(
                f"No underlay ARP/NS on {ef}: in this variant the tunnel frames carry "
                f"fixed node MACs written by the eBPF program."
            )

    # -- echo journeys -----------------------------------------------------------------------

    def _obs(self, node: Any, fr_list: list[Frame]) -> str:
        names = self.ifnames.get(node.name, {})
        return "; ".join(
            f"frame {f.n} ({f.where(names)}"
            + (f", {f.tunnel.upper()} VNI {f.vni}" if f.tunnel else "")
            + (f", hop limit/TTL {f.hops})" if f.hops is not None else ")")
            for f in fr_list
        )

    def echo(self, src: Any, dst_ip: str, fam: int, answered: bool, what: str = "") -> None:
        """Bullets for one ping: every observation of the request and of the reply."""
        c, a_node = self.c, self.node_of(src)
        dst_pod = self.pod_of_ip(dst_ip)
        b_node = (
            self.node_of(dst_pod)
            if dst_pod is not None
            else next(n for n in self.nodes if n is not a_node)
        )
        proto = "ICMPv6" if fam == 6 else "ICMP"
        hl = "hop limit" if fam == 6 else "TTL"
        req = c.one(pod_file(src), "echo-request", dst=dst_ip)
        ident, seq = req.info["id"], req.info["seq"]
        key = {"id": ident, "seq": seq}
        tag = f"{proto} echo request id 0x{ident:04x} ({ident}) seq {seq} {src.ipv6 if fam == 6 else src.ipv4} → {dst_ip}"
        if what:
            tag += f" ({what})"
        self.say(
            f"{tag}: leaves pod {src.name} eth0 in frame {req.n} with src MAC {req.src_mac} "
            f"(pod eth0) → dst MAC {req.dst_mac} ({src.lxc_name}), {hl} {req.hops}, IP "
            f"length {req.ip_len}."
        )
        a_eth = c.one(eth_file(a_node), "echo-request", **key, dst=dst_ip)
        port = a_eth.outer_dport
        self.say(
            f"The same request on {eth_file(a_node)} frame {a_eth.n} is inside "
            f"{a_eth.tunnel.upper() if a_eth.tunnel else '??'} (UDP {a_eth.outer_sport} → "
            f"{port}) from {a_eth.outer_src} ({a_node.name}) to {a_eth.outer_dst} "
            f"({b_node.name}), VNI {a_eth.vni} = the sender's {self.ident(src)}; the inner "
            f"frame keeps exactly the pod's MACs {a_eth.src_mac} → {a_eth.dst_mac} and "
            f"{hl} {a_eth.hops}; frame length {a_eth.length} bytes."
        )
        self.say(
            f"{a_node.name} -i any ({any_file(a_node)}) sees the request "
            f"{len(c.find(any_file(a_node), 'echo-request', **key, dst=dst_ip))} times, one "
            f"journey: {self._obs(a_node, c.find(any_file(a_node), 'echo-request', **key, dst=dst_ip))}."
        )
        b_eth = c.one(eth_file(b_node), "echo-request", **key, dst=dst_ip)
        b_any = c.find(any_file(b_node), "echo-request", **key, dst=dst_ip)
        if dst_pod is None:
            self.say(
                f"It arrives on {eth_file(b_node)} frame {b_eth.n} (VNI {b_eth.vni}) and, "
                f"in {any_file(b_node)}, {self._obs(b_node, b_any)}; no endpoint on "
                f"{b_node.name} owns {dst_ip} (no pod has it: topology and "
                f"cilium-dbg-endpoint-list.json), so it is dropped after decapsulation: it "
                f"reaches no pod eth0."
            )
        else:
            d = c.one(pod_file(dst_pod), "echo-request", **key, dst=dst_ip)
            self.say(
                f"It arrives on {eth_file(b_node)} frame {b_eth.n} (VNI {b_eth.vni}); on "
                f"{any_file(b_node)}: {self._obs(b_node, b_any)}; delivered to pod "
                f"{dst_pod.name} eth0 in frame {d.n} with MACs rewritten to {d.src_mac} "
                f"({dst_pod.lxc_name}) → {d.dst_mac} (pod eth0) and {hl} {d.hops} "
                f"(decremented once: one routing hop)."
            )
        if not answered:
            replies = [
                f
                for fl in c.frames.values()
                for f in fl
                if f.kind == "echo-reply" and f.info.get("id") == ident
            ]
            self.say(
                f"No echo reply with id 0x{ident:04x} appears in any capture "
                f"({len(replies)} found): the echo is unanswered (lost at {b_node.name}). "
                f"No ICMP error comes back either."
            )
            return
        assert dst_pod is not None
        r_pod = c.one(pod_file(dst_pod), "echo-reply", **key, src=dst_ip)
        r_b = c.one(eth_file(b_node), "echo-reply", **key, src=dst_ip)
        r_a = c.one(pod_file(src), "echo-reply", **key, src=dst_ip)
        self.say(
            f"The echo reply leaves pod {dst_pod.name} in frame {r_pod.n} "
            f"({r_pod.src_mac} → {r_pod.dst_mac}, {hl} {r_pod.hops}); on "
            f"{eth_file(b_node)} frame {r_b.n} it is inside VNI {r_b.vni} = "
            f"{self.ident(dst_pod)}, from {r_b.outer_src} to {r_b.outer_dst}; inner MACs "
            f"{r_b.src_mac} → {r_b.dst_mac} (the replying pod's eth0 and its own lxc on "
            f"{b_node.name}, different from the request's inner MACs)."
        )
        vni_note = (
            "the request and the reply carry different VNIs "
            f"({a_eth.vni} vs {r_b.vni}): the VNI is the sender's identity, not a "
            "network"
            if a_eth.vni != r_b.vni
            else f"request and reply carry the same VNI {a_eth.vni} because both pods have "
            "the same identity (same labels); the VNI is still the sender's identity"
        )
        self.say(
            f"The reply reaches pod {src.name} eth0 in frame {r_a.n} "
            f"({r_a.src_mac} → {r_a.dst_mac}, {hl} {r_a.hops}): the echo is answered, "
            f"round trip at the pod {_us(req, r_a)}; {vni_note}."
        )


def ifname_maps(outdir: Path, nodes: list[Any]) -> dict[str, dict[int, str]]:
    """ifindex → name per node, from the dumped ``ip -j -d addr``."""
    out = {}
    for n in nodes:
        data = json.loads((outdir / "topology" / n.name / "ip-j-d-addr.json").read_text())
        out[n.name] = {int(i["ifindex"]): i["ifname"] for i in data}
    return out


def scenario_bullets(w: Writer) -> None:
    """The scenario-specific part of 'What a correct analysis must say'."""
    sc, c = w.sc, w.c
    a_node, b_node = w.nodes[:2]
    src, dst = a_node.pods[0], b_node.pods[0]
    name = sc.name
    if name in ("ipv6-ping", "ipv4-ping") or name.startswith("mirror-"):  # mirrors: ipv4-ping
        fam = 6 if name == "ipv6-ping" else 4
        w.gateway(src, fam)
        w.underlay(a_node, b_node)
        w.echo(src, dst.ipv6 if fam == 6 else dst.ipv4, fam, answered=True)
        w.gateway(dst, fam)
    elif name == "no-such-pod":
        w.gateway(src, 6)
        w.underlay(a_node, b_node)
        w.echo(src, "fd00:10:244:2::dead", 6, answered=False)
        w.gateway(src, 4)
        w.echo(src, "10.244.2.99", 4, answered=False)
        w.say(
            f"Nothing reaches pod {dst.name}: {pod_file(dst)} holds "
            f"{len(c.frames[pod_file(dst)])} frames."
        )
    elif name == "ns-unanswered":
        w.gateway(src, 6, answered=False)
        others = {f: len(c.frames[f]) for f in c.frames if f != pod_file(src)}
        w.say(
            "Because the gateway never resolves, the echo request is never sent: no echo "
            "request appears in any capture, and nothing at all appears on the other capture "
            f"points except the solicitations seen on {src.lxc_name} in {any_file(a_node)} "
            f"(frame counts: {', '.join(f'{k}: {v}' for k, v in sorted(others.items()))})."
        )
        w.say(
            "ping reports 'Destination unreachable: Address unreachable' after ~3 s: that ICMPv6 "
            "error is generated inside the pod's own stack and is not on the wire."
        )
    elif name == "mtu-df":
        w.gateway(src, 4)
        w.echo(src, dst.ipv4, 4, answered=True, what="DF set, IPv4 packet 1450 bytes = route MTU")
        w.echo(src, dst.ipv6, 6, answered=True, what="IPv6 packet 1450 bytes = route MTU")
        big = [f for fl in c.frames.values() for f in fl if (f.ip_len or 0) > 1450 and not f.tunnel]
        w.say(
            "With 50 bytes of VXLAN-over-IPv4 overhead, each 1450-byte pod packet becomes a "
            "1500-byte outer IPv4 packet (a 1514-byte frame on node eth0): exactly the underlay "
            "MTU, so nothing is fragmented."
        )
        w.say(
            f"The 1500-byte pings (IPv4 with DF, and IPv6) appear in **no** capture ({len(big)} "
            "pod frames larger than 1450 bytes): the pod's kernel refused them against the "
            "route MTU 1450 of its default route (ping: 'local error: message too long, "
            "mtu=1450'); no ICMP 'fragmentation needed' / Packet Too Big is on the wire."
        )
    elif name == "tcp-connect":
        for fam, dip in ((6, dst.ipv6), (4, dst.ipv4)):
            pf = pod_file(src)
            syn_ok = c.one(pf, "tcp", dst=dip, dport=8080, flags="SYN")
            synack = c.one(
                pf, "tcp", src=dip, sport=8080, flags="SYN,ACK", dport=syn_ok.info["sport"]
            )
            fins = c.find(pf, "tcp", dst=dip, dport=8080, sport=syn_ok.info["sport"])
            w.say(
                f"TCP {syn_ok.src}:{syn_ok.info['sport']} → {dip}:8080 at {pf}: SYN frame "
                f"{syn_ok.n} (MSS {syn_ok.info['mss']}, i.e. route MTU 1450 minus "
                f"{'60' if fam == 6 else '40'} bytes of headers), SYN,ACK frame {synack.n} "
                f"(MSS {synack.info['mss']}), then ACK: the handshake completes; 6 bytes of data, "
                f"then FIN from both sides (client frames {_frames(fins)})."
            )
            syn_rst = c.one(pf, "tcp", dst=dip, dport=8081, flags="SYN")
            rst = c.one(pf, "tcp", src=dip, sport=8081, flags="ACK,RST")
            w.say(
                f"TCP {syn_rst.src}:{syn_rst.info['sport']} → {dip}:8081 at {pf}: SYN frame "
                f"{syn_rst.n} answered by RST,ACK frame {rst.n} from {dip}: port closed, "
                f"connection refused by pod {dst.name} (not by the network)."
            )
            be = c.one(eth_file(a_node), "tcp", src=dip, sport=8081, flags="ACK,RST")
            w.say(
                f"On {eth_file(a_node)} that RST,ACK is frame {be.n}, inside VXLAN VNI {be.vni} "
                f"= {w.ident(dst)}, while the SYNs carry VNI {w.sc.identities[src.name]} "
                f"= {w.ident(src)}."
            )
        w.gateway(src, 6)
        w.gateway(src, 4)
        w.say(
            f"In {any_file(b_node)} every TCP segment appears three times (eth0 inside VXLAN, "
            f"{w.variant.tunnel_dev} after decapsulation, the lxc veth): these are the same "
            "packets at three points, not retransmissions (tshark's TCP analysis mislabels them)."
        )
    elif name == "geneve-ipv6-ping":
        w.gateway(src, 6)
        w.echo(src, dst.ipv6, 6, answered=True)
        w.gateway(src, 4)
        w.echo(src, dst.ipv4, 4, answered=True)
        tun = [f for f in c.frames[eth_file(a_node)] if f.tunnel]
        w.say(
            f"All {len(tun)} tunnel frames on {eth_file(a_node)} are Geneve (UDP 6081, "
            "protocol 0x6558 Ethernet, no options), none VXLAN; the VNI is "
            f"{w.sc.identities[src.name]} both ways because both pods share one identity."
        )
        if w.variant.geneve_mode == "ebpf":
            w.say(
                "The -i any captures show no cilium_geneve interface: in this run the Geneve "
                "header was written by the eBPF program on the lxc veth and removed by one on "
                "the receiving eth0 (the kernel had no geneve driver), so the decapsulated "
                "frame is seen only on the lxc veth."
            )
        w.underlay(a_node, b_node)
    elif name == "ipv6-underlay":
        w.gateway(src, 6)
        w.underlay(a_node, b_node)
        w.echo(src, dst.ipv6, 6, answered=True)
        w.gateway(src, 4)
        w.echo(src, dst.ipv4, 4, answered=True)
        tun = [f for f in c.frames[eth_file(a_node)] if f.tunnel]
        w.say(
            f"All {len(tun)} tunnel frames on {eth_file(a_node)} are VXLAN over IPv6 between "
            f"{a_node.ipv6} and {b_node.ipv6} (70 bytes of overhead: a 118-byte pod frame "
            "becomes a 188-byte frame); the outer UDP checksum is set (IPv6), and in these "
            "captures it holds only the pseudo-header sum because the sender's veth offloads "
            "the checksum: not an error."
        )
    elif name in FAULT_BULLETS:
        FAULT_BULLETS[name](w)
    elif name == "any-3node":
        _any_3node(w)
    else:
        raise ValueError(f"no README text for scenario {name}")


def write_readme(
    outdir: Path, sc: Any, variant: Any, results: list[Any], stats: dict[str, str], nodes: list[Any]
) -> None:
    """Write ``outdir/README.md`` for a finished scenario run."""
    files = sorted(stats)
    c = Caps(outdir, files)
    ifn = ifname_maps(outdir, nodes)
    w = Writer(c, sc, variant, nodes, ifn)
    scenario_bullets(w)
    L: list[str] = [f"# Lab scenario `{sc.name}`: {sc.title}", ""]
    L += [
        "Made by `lab/run.py --scenario " + sc.name + "` (real Linux kernel traffic in network "
        "namespaces; see lab/README.md). Regenerate rather than edit: this file is written from "
        "the captures.",
        "",
    ]
    L += ["## Datapath", ""]
    if variant.tunnel == "geneve":
        if variant.geneve_mode == "kernel":
            L.append("- Tunnel: Geneve, kernel device `cilium_geneve` (external, UDP 6081).")
        else:
            L.append(
                "- Tunnel: Geneve on UDP 6081, **built by eBPF**: this kernel has no geneve "
                "driver (`ip link add cilium_geneve type geneve external` failed with "
                f"`{variant.geneve_error}`), so the lxc program writes outer Ethernet/IPv4/"
                "UDP/Geneve itself and redirects to eth0, and a program on the receiving "
                "eth0 strips them. There is no `cilium_geneve` device in the dumps."
            )
    else:
        L.append(
            f"- Tunnel: VXLAN, kernel device `cilium_vxlan` (external/collect_md, UDP 8472), "
            f"{variant.underlay.upper()} underlay."
        )
    L.append(
        "- eBPF on each lxc veth (tc ingress, `lab/bpf/bpf_lxc.c`): ARP and router-NS "
        "responder, tunnel key (VNI = sender identity) + redirect; on the tunnel device "
        "(`lab/bpf/bpf_overlay.c`): TTL/hop limit − 1, MACs → lxc/pod, redirect to the lxc."
    )
    if sc.ndp_responder:
        off = [k for k, v in sc.ndp_responder.items() if not v]
        L.append(f"- **NDP responder disabled** on the lxc of: {', '.join(off)}.")
    L += [f"- {note}" for note in getattr(sc, "notes", [])]
    L += [
        "",
        "## Topology",
        "",
        "| node | eth0 | IPv4 / IPv6 | router IPs | pod CIDRs |",
        "|---|---|---|---|---|",
    ]
    for n in nodes:
        L.append(
            f"| {n.name} | {n.eth0_mac} | {n.ipv4} / {n.ipv6} | {n.router_ipv4}, "
            f"{n.router_ipv6} | {n.pod_cidr4}, {n.pod_cidr6} |"
        )
    L += [
        "",
        "| pod | node | eth0 MAC | IPv4 / IPv6 | lxc (MAC) | identity |",
        "|---|---|---|---|---|---|",
    ]
    for n in nodes:
        for p in n.pods:
            L.append(
                f"| {p.name} | {n.name} | {p.eth0_mac} | {p.ipv4} / {p.ipv6} | "
                f"{p.lxc_name} ({p.lxc_mac}) | {w.ident(p)} |"
            )
    L += [
        "",
        "Invented for the lab (not in the reference walkthrough): "
        + "; ".join(f"{n.name}: {', '.join(n.invented)}" for n in nodes)
        + "; "
        + "; ".join(f"{p.name}: {', '.join(p.invented)}" for n in nodes for p in n.pods)
        + "; all identities. Everything else is the reference scenario's.",
        "",
    ]
    L += [
        "Dumps in `topology/<node or pod>/`: `ip -j -d addr`, `ip -d a l`, "
        + ("`ip a`, `ip -d link`, " if any(outdir.glob("topology/*/ip-d-link.txt")) else "")
        + "`ip r`, `ip -6 r`, "
        "`ip n`, `ip -6 n` (text and JSON) per namespace, taken after the traffic, and "
        "`cilium-dbg-endpoint-list.json` per node (the shape of `cilium-dbg endpoint list -o "
        "json`, lab values; no health endpoint).",
        "",
    ]
    for z in sorted(outdir.glob("cilium-sysdump-*.zip")):
        L += [
            f"`{z.name}`: the same run's topology shaped like a `cilium sysdump` zip (see "
            "lab/lab_sysdump.py for its layout and what is invented): `k8s-pods-*`, "
            "`k8s-nodes-*`, `ciliumendpoints-*`, `ciliumnodes-*` YAML lists whose items carry "
            "no kind/apiVersion (as the typed client lists cilium-cli writes), and one "
            "`cilium-bugtool-<agent pod>-*.tar.gz` per node with the node's real `ip a`, "
            "`ip -4 r`, `ip -6 r`, `ip -4 n`, `ip -6 n`, `ip -d l` and its endpoint list JSON.",
            "",
        ]
    L += ["## What was run", ""]
    for srv in sc.servers:
        L.append(f"- background: {srv.what}")
    for r in results:
        if getattr(r.step, "action", ""):
            L.append(f"- {r.step.what}")
            continue
        L += [f"- `{r.step.pod.name}`: {r.step.what} → exit {r.rc}", "", "  ```"]
        L += [f"  {ln}" for ln in r.output.splitlines() if ln.strip()]
        L += ["  ```"]
    L += ["", "## Captures", "", "| file | point | frames | tcpdump |", "|---|---|---|---|"]
    for f in files:
        point = (
            "pod eth0"
            if f.startswith("pod-")
            else "node -i any (LINUX_SLL2)"
            if f.endswith("-any.pcap")
            else "node eth0"
        )
        shift = getattr(sc, "clock_shift", {}).get(f)
        note = f" (timestamps then shifted {shift:+} s)" if shift else ""
        L.append(f"| {f} | {point} | {len(c.frames[f])} | {stats[f]}{note} |")
    L += [
        "",
        "Decode VXLAN with `tshark -d udp.port==8472,vxlan` (tshark does not decode 8472 by "
        "default).",
        "",
    ]
    for f in files:
        owner = next((n.name for n in nodes if f"-{n.short}-" in f), "")
        names = ifn.get(owner, {})
        L += [f"### {f}", "", "| frame | t (ms) | where | summary |", "|---|---|---|---|"]
        for fr in c.frames[f]:
            L.append(f"| {fr.n} | {fr.t * 1000:.3f} | {fr.where(names)} | {fr.summary()} |")
        L.append("")
    L += ["## What a correct analysis must say", ""]
    L += [f"- {b}" for b in w.bullets]
    L.append("")
    (outdir / "README.md").write_text("\n".join(L))


# --------------------------------------------------------------------------------------------
# Planted faults (issue 12 item 9): bullets read back from the captures like the others
# --------------------------------------------------------------------------------------------


def _route_line(w: Writer, who: str, fname: str, prefix: str = "default") -> str:
    """'`line` (topology/WHO/FNAME line N)' for the first route line starting with ``prefix``."""
    path = w.c.outdir / "topology" / who / fname
    for i, ln in enumerate(path.read_text().splitlines(), 1):
        if ln.startswith(prefix):
            return f"`{ln.strip()}` (topology/{who}/{fname} line {i})"
    raise RuntimeError(f"{path}: no line starting with {prefix!r}")


def _eth0_mtu(w: Writer, node: Any) -> int:
    data = json.loads((w.c.outdir / "topology" / node.name / "ip-j-d-addr.json").read_text())
    return int(next(i["mtu"] for i in data if i["ifname"] == "eth0"))


def _route_mtu_bullet(w: Writer, pod: Any, other: Any) -> None:
    node = w.node_of(pod)
    mtu = _eth0_mtu(w, node)
    w.say(
        f"**Route MTU too large** (the planted fault): pod {pod.name}'s default routes are "
        f"{_route_line(w, pod.name, 'ip-r.txt')} and {_route_line(w, pod.name, 'ip-6-r.txt')}, "
        f"but the overlay carries at most {mtu - 50} bytes: {node.name}'s eth0 has MTU {mtu} "
        f"(topology/{node.name}/ip-d-a-l.txt) and VXLAN over IPv4 adds 50 bytes (outer "
        f"Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8). Pod {other.name} has the right value: "
        f"{_route_line(w, other.name, 'ip-r.txt')}."
    )


def _by_id(frames: list[Frame]) -> dict[str, list[Frame]]:
    out: dict[str, list[Frame]] = {}
    for f in frames:
        if f.frag0 is not None:
            out.setdefault(f.frag0[0], []).append(f)
    return out


def _mtu_outer_frag(w: Writer) -> None:
    c = w.c
    a_node, b_node = w.nodes
    src, dst = a_node.pods[0], b_node.pods[0]
    _route_mtu_bullet(w, src, dst)
    ef_a, ef_b = eth_file(a_node), eth_file(b_node)
    for fam, dip in ((4, dst.ipv4), (6, dst.ipv6)):
        reqs = c.find(pod_file(src), "echo-request", dst=dip)
        big = [r for r in reqs if r.ip_len == 1500]
        df = "with DF set (ping's default on IPv4)" if fam == 4 else "(IPv6: no DF bit)"
        # outer fragments from a_node to b_node on a_node's eth0, grouped by outer IP id
        out_frags = [
            f
            for f in c.frames[ef_a]
            if f.frag0 is not None
            and (f.outer_src or f.src) == a_node.ipv4
            and (f.tunnel is None or f.dst == dip)
        ]
        groups = {k: v for k, v in _by_id(out_frags).items() if len(v) == 2}
        pairs = []
        for ident, (first, last) in groups.items():
            if last.kind == "echo-request" and last.dst == dip:
                pairs.append(
                    f"frames {first.n}+{last.n} (outer IP id {ident}: {first.length}-byte frame "
                    f"offset 0 MF, {last.length}-byte frame offset {last.frag0[1] if last.frag0 else '?'}; "
                    f"seq {last.info['seq']})"
                )
        w.say(
            f"IPv{fam}: pod {src.name} sends {len(big)} echo requests of IP length 1500 {df} "
            f"to {dip} (frames {_frames(big)} of {pod_file(src)}); the route allowed them. "
            f"{a_node.name} encapsulates each into a 1550-byte outer IPv4 packet with DF "
            f"clear, larger than eth0's MTU {_eth0_mtu(w, a_node)}, so it **fragments the "
            f"outer packet**: on {ef_a} each request is two outer IPv4 fragments, "
            + "; ".join(pairs)
            + ". tshark shows the first fragment as plain IPv4 (no UDP/VXLAN header to "
            "decode) and decodes the VXLAN packet on the last one, after reassembly."
        )
        got_b = [
            f
            for f in c.frames[ef_b]
            if f.frag0 is not None
            and (f.outer_src or f.src) == a_node.ipv4
            and f.frag0[0] in groups
        ]
        delivered = c.find(pod_file(dst), "echo-request", dst=dip)
        w.say(
            f"IPv{fam}: the same {len(got_b)} outer fragments arrive on {ef_b} (frames "
            f"{_frames(got_b)}); {b_node.name} reassembles them before decapsulation: "
            f"{any_file(b_node)} shows each request whole on {w.variant.tunnel_dev} and on "
            f"{dst.lxc_name}, and pod {dst.name} receives {len(delivered)} complete requests "
            f"of IP length {sorted({d.ip_len for d in delivered})} (frames {_frames(delivered)}, "
            f"{'TTL' if fam == 4 else 'hop limit'} {sorted({d.hops for d in delivered})})."
        )
        r_frags = [
            f
            for f in c.frames[pod_file(dst)]
            if f.src == dip and f.frags and f.dst in (src.ipv4, src.ipv6)
        ]
        back = c.find(pod_file(src), "echo-reply", src=dip)
        big_b = [
            f for f in c.frames[ef_b] if f.tunnel and f.outer_src == b_node.ipv4 and f.frag0 is None
        ]
        w.say(
            f"IPv{fam} replies: pod {dst.name}'s own route MTU is 1450, so its kernel sends "
            f"each 1500-byte echo reply as two **inner** fragments (frames {_frames(r_frags)} "
            f"of {pod_file(dst)}: {'; '.join(', '.join(r.frags) for r in r_frags[:2])}; ...); "
            f"each fits the tunnel and crosses {ef_b} as an unfragmented VXLAN packet (no outer "
            f"fragments from {b_node.ipv4}). This sender-side fragmentation at the right MTU is "
            f"normal. Pod {src.name} reassembles them: {len(back)} echo replies (frames "
            f"{_frames(back)}), every request answered."
        )
        del big_b
    errs = [f for fl in c.frames.values() for f in fl if f.kind == "frag-needed"]
    w.say(
        f"Nothing is dropped and no ICMP error is sent ({len(errs)} ICMP "
        "fragmentation-needed / Packet Too Big in all captures); both pings report 0% loss. "
        "A correct analysis names the route-MTU mismatch (the route lines above) and the "
        "**outer fragmentation** it causes on the underlay (every large pod packet costs two "
        "underlay packets and a reassembly on the receiving node), and must **not** call "
        "these packets dropped or unanswered."
    )


def _mtu_outer_df(w: Writer) -> None:
    c = w.c
    a_node, b_node = w.nodes
    src, dst = a_node.pods[0], b_node.pods[0]
    _route_mtu_bullet(w, src, dst)
    small = [r for r in c.find(pod_file(src), "echo-request", dst=dst.ipv4) if r.ip_len == 84]
    small_rep = c.find(pod_file(src), "echo-reply", src=dst.ipv4)
    w.say(
        f"The path itself works: a small IPv4 ping (IP length 84, frame "
        f"{_frames(small)} of {pod_file(src)}) is answered (frame {_frames(small_rep)}), "
        f"through VXLAN on {eth_file(a_node)}."
    )
    names = w.ifnames.get(a_node.name, {})
    af = any_file(a_node)
    for fam, dip in ((4, dst.ipv4), (6, dst.ipv6)):
        big = [r for r in c.find(pod_file(src), "echo-request", dst=dip) if r.ip_len == 1500]
        seen_any = [
            f for f in c.find(af, "echo-request", dst=dip) if f.ip_len == 1500 and not f.tunnel
        ]
        on_eth = [f for f in c.find(eth_file(a_node), "echo-request", dst=dip) if f.ip_len == 1500]
        errs = [f for f in c.frames[af] if f.kind == "frag-needed"]
        errs_fam = [e for e in errs if any(abs(e.t - b.t) < 0.01 for b in seen_any)]
        where = sorted({f.where(names) for f in seen_any})
        w.say(
            f"IPv{fam}: pod {src.name} sends {len(big)} echo requests of IP length 1500 to "
            f"{dip} (frames {_frames(big)}); {af} shows each on {', '.join(where)} (frames "
            f"{_frames(seen_any)}) but **none leaves eth0**: {eth_file(a_node)} holds "
            f"{len(on_eth)} of them. For each, {af} holds a locally generated ICMP "
            f"'fragmentation needed' on "
            f"{', '.join(sorted({e.where(names) for e in errs_fam})) or '?'} (frames "
            f"{_frames(errs_fam)}): "
            + (errs_fam[0].summary() if errs_fam else "?")
            + f". The 1550-byte outer IPv4 packet carries DF (tunnel key with "
            f"BPF_F_DONT_FRAGMENT), exceeds eth0's MTU {_eth0_mtu(w, a_node)}, and the node "
            "may not fragment it, so it is dropped on the sending node."
        )
    got = [f for f in c.frames[pod_file(dst)] if f.kind == "echo-request"]
    w.say(
        f"That ICMP error is addressed to the outer sender, {a_node.name} itself "
        f"({a_node.ipv4}), not to the pod: pod {src.name} receives no reply and no error "
        f"(its capture ends with unanswered requests), and pod {dst.name} receives only the "
        f"small ping ({len(got)} echo request in {pod_file(dst)}). A correct analysis names "
        "the route-MTU mismatch and a **black hole**: large packets dropped at the sending "
        "node because of DF on the outer header, the remote pod never sees them; it must not "
        "blame the remote pod or the peer node."
    )


def _ns_transient(w: Writer) -> None:
    c = w.c
    a_node = w.nodes[0]
    src = a_node.pods[0]
    pf = pod_file(src)
    r6, r4 = a_node.router_ipv6, a_node.router_ipv4
    nss = c.find(pf, "ns", target=r6)
    nas = c.find(pf, "na", target=r6)
    arps = c.find(pf, "arp-request", tpa=r4)
    reps = c.find(pf, "arp-reply", spa=r4)
    first_na = nas[0]
    # unanswered: no NA before the next solicitation (the kernel retries after 1 s)
    before = [n for n in nss if not any(n.n < a.n and a.t - n.t < 0.5 for a in nas)]
    after = [n for n in nss if n.n > before[-1].n]
    gaps = ", ".join(f"{b.t - a.t:.2f} s" for a, b in itertools.pairwise(before))
    w.say(
        f"Pod {src.name} eth0 ({pf}): {len(before)} Neighbor Solicitations for the IPv6 "
        f"gateway {r6} in frames {_frames(before)} ({gaps} apart), none answered; ping gives "
        f"up (no echo request is sent)."
    )
    a_before = [a for a in arps if not any(a.n < r.n and r.t - a.t < 0.5 for r in reps)]
    w.say(
        f"Then {len(a_before)} ARP requests who-has {r4} in frames {_frames(a_before)} "
        f"({', '.join(f'{b.t - a.t:.2f} s' for a, b in itertools.pairwise(a_before))} apart), "
        f"none answered; no echo request either."
    )
    w.say(
        f"{after[0].t - before[-1].t:.1f} s after the last unanswered NS (the responders were "
        f"restored in between), a new NS (frame {after[0].n}) is answered by an NA in frame "
        f"{first_na.n} from {first_na.src_mac} = {src.lxc_name} (flags "
        f"{first_na.info['flags']}, {_us(after[0], first_na)} later), and a new ARP request "
        f"(frame {next(a for a in arps if a not in a_before).n}) by an ARP reply in frame "
        f"{reps[0].n} ({r4} is-at {reps[0].info['sha']})."
    )
    for fam, dip in ((6, w.nodes[1].pods[0].ipv6), (4, w.nodes[1].pods[0].ipv4)):
        req = c.one(pf, "echo-request", dst=dip)
        rep = c.one(pf, "echo-reply", src=dip)
        w.say(
            f"After the repair the IPv{fam} ping goes through: echo request frame {req.n}, "
            f"reply frame {rep.n} ({_us(req, rep)})."
        )
    others = {f: len(c.frames[f]) for f in c.frames if f != pf}
    w.say(
        "A correct analysis reports the gateway resolution as **failing, then recovering**: "
        f"NS for {r6} unanswered {len(before)} times, then answered; ARP for {r4} unanswered "
        f"{len(a_before)} times, then answered; not a permanent failure and not a healthy "
        "exchange. Nothing "
        "of the failed phase leaves the pod's veth (it appears only on "
        f"{src.lxc_name} in {any_file(a_node)}; frame counts elsewhere: "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(others.items()))})."
    )


def _tcp_pairs(w: Writer, dip: str, port: int) -> tuple[list[Frame], list[Frame]]:
    pf = pod_file(w.nodes[0].pods[0])
    syns = w.c.find(pf, "tcp", dst=dip, dport=port, flags="SYN")
    answers = w.c.find(pf, "tcp", src=dip, sport=port)
    return syns, answers


def _tcp_refused(w: Writer) -> None:
    c = w.c
    a_node, b_node = w.nodes
    src, dst = a_node.pods[0], b_node.pods[0]
    pf = pod_file(src)
    for dip in (dst.ipv6, dst.ipv4):
        syns, answers = _tcp_pairs(w, dip, 8080)
        syn, rst = syns[0], answers[0]
        w.say(
            f"TCP {syn.src}:{syn.info['sport']} → {dip}:8080 at {pf}: SYN frame {syn.n} "
            f"({len(syns)} SYN, no retransmission) answered by [{rst.info['flags']}] frame "
            f"{rst.n} from {dip}, {_us(syn, rst)} later; no SYN,ACK anywhere."
        )
        d_syn = c.one(pod_file(dst), "tcp", dst=dip, dport=8080, flags="SYN")
        d_rst = c.one(pod_file(dst), "tcp", src=dip, sport=8080, flags="ACK,RST")
        be = c.one(eth_file(a_node), "tcp", src=dip, sport=8080, flags="ACK,RST")
        w.say(
            f"The SYN reaches pod {dst.name} ({pod_file(dst)} frame {d_syn.n}) and the "
            f"RST,ACK leaves it (frame {d_rst.n}, src MAC {d_rst.src_mac} = pod eth0): the "
            f"remote pod's kernel refused the connection (nothing listens on 8080). The RST "
            f"crosses {eth_file(a_node)} in frame {be.n} inside VXLAN VNI {be.vni} = "
            f"{w.ident(dst)}."
        )
    w.say(
        "A correct analysis: **connection refused by the remote pod** (port closed), the "
        "network delivered both directions; not a drop, not a timeout."
    )


def _tcp_syn_dropped(w: Writer) -> None:
    c = w.c
    a_node, b_node = w.nodes
    src, dst = a_node.pods[0], b_node.pods[0]
    pf = pod_file(src)
    names = w.ifnames.get(b_node.name, {})
    for dip in (dst.ipv6, dst.ipv4):
        syns, answers = _tcp_pairs(w, dip, 8080)
        ports = {s.info["sport"] for s in syns}
        gaps = ", ".join(f"{b.t - a.t:.2f} s" for a, b in itertools.pairwise(syns))
        w.say(
            f"TCP {syns[0].src}:{'/'.join(map(str, sorted(ports)))} → {dip}:8080 at {pf}: "
            f"{len(syns)} SYNs with the same source port and sequence number (frames "
            f"{_frames(syns)}, {gaps} apart: the first and {len(syns) - 1} retransmissions), "
            f"and **nothing** comes back ({len(answers)} segments from {dip}:8080): no "
            "SYN,ACK, no RST, no ICMP."
        )
        on_a = c.find(eth_file(a_node), "tcp", dst=dip, dport=8080)
        on_b = c.find(eth_file(b_node), "tcp", dst=dip, dport=8080)
        b_any = c.find(any_file(b_node), "tcp", dst=dip, dport=8080)
        where = sorted({f.where(names) for f in b_any})
        w.say(
            f"All {len(on_a)} leave {eth_file(a_node)} inside VXLAN (frames {_frames(on_a)}, "
            f"VNI {on_a[0].vni}) and all {len(on_b)} arrive on {eth_file(b_node)} (frames "
            f"{_frames(on_b)}); in {any_file(b_node)} each is seen only on {', '.join(where)} "
            f"(frames {_frames(b_any)}), never on {dst.lxc_name}: dropped on {b_node.name} "
            f"after decapsulation, before the pod."
        )
    w.say(
        f"Pod {dst.name}'s eth0 capture holds {len(c.frames[pod_file(dst)])} frames although "
        f"a listener runs there: a correct analysis reports **SYN unanswered, retransmitted, "
        f"dropped on {b_node.name} between its tunnel device and the pod** (a drop on the "
        "peer node, e.g. policy), not a refusal (there is no RST) and not an underlay loss "
        "(the packets reached the peer's eth0)."
    )


def _clock_skew(w: Writer) -> None:
    c = w.c
    a_node, b_node = w.nodes
    src, dst = a_node.pods[0], b_node.pods[0]
    shift = w.sc.clock_shift
    w.gateway(src, 6)
    w.echo(src, dst.ipv6, 6, answered=True)
    w.gateway(src, 4)
    w.echo(src, dst.ipv4, 4, answered=True)
    ea, eb = eth_file(a_node), eth_file(b_node)
    for fam, dip in ((6, dst.ipv6), (4, dst.ipv4)):
        req = c.one(pod_file(src), "echo-request", dst=dip)
        key = {"id": req.info["id"], "seq": req.info["seq"]}
        qa = c.one(ea, "echo-request", **key, dst=dip)
        qb = c.one(eb, "echo-request", **key, dst=dip)
        ra = c.one(ea, "echo-reply", **key, src=dip)
        rb = c.one(eb, "echo-reply", **key, src=dip)
        fwd, back = qb.epoch - qa.epoch, ra.epoch - rb.epoch
        w.say(
            f"IPv{fam} echo id 0x{key['id']:04x}: the request is on {ea} frame {qa.n} and on "
            f"{eb} frame {qb.n} {fwd:+.6f} s later by the files' clocks; the reply is on {eb} "
            f"frame {rb.n} and on {ea} frame {ra.n} {back:+.6f} s later, i.e. it 'arrives "
            f"before it was sent'. Offset of {b_node.name}'s clock = (forward − back) / 2 = "
            f"{(fwd - back) / 2:+.4f} s; one-way delay = (forward + back) / 2 = "
            f"{(fwd + back) / 2 * 1e6:.0f} µs."
        )
    w.say(
        f"A correct analysis attributes the ≈{next(iter(shift.values())):+} s to **clock "
        f"offset between captures** ({', '.join(sorted(shift))} are "
        f"{next(iter(shift.values())):+} s off), not to latency or loss: every exchange is "
        "answered in microseconds at the pods, and the per-hop order is only consistent after "
        "removing the offset."
    )


def _udp_refused(w: Writer) -> None:
    c = w.c
    a_node, b_node = w.nodes
    src, dst = a_node.pods[0], b_node.pods[0]
    pf = pod_file(src)
    for dip, icmp in ((dst.ipv6, "ICMPv6"), (dst.ipv4, "ICMP")):
        q = c.one(pf, "udp", dst=dip, dport=53)
        err = c.one(pf, "unreachable", src=dip)
        w.say(
            f"DNS query (UDP) {q.src}:{q.info['sport']} → {dip}:53 at {pf}: frame {q.n}, answered by "
            f"{icmp} destination unreachable (code {err.info['code']}, port unreachable) frame "
            f"{err.n} from {dip}, {_us(q, err)} later; no DNS answer anywhere."
        )
        d_q = c.one(pod_file(dst), "udp", dst=dip, dport=53)
        d_err = c.one(pod_file(dst), "unreachable", src=dip)
        be = c.one(eth_file(a_node), "unreachable", src=dip)
        w.say(
            f"The datagram reaches pod {dst.name} ({pod_file(dst)} frame {d_q.n}) and the port "
            f"unreachable leaves it (frame {d_err.n}, src MAC {d_err.src_mac} = pod eth0): the "
            f"remote pod's kernel refused it (nothing listens on UDP 53: no DNS server there). The error crosses "
            f"{eth_file(a_node)} in frame {be.n} inside VXLAN VNI {be.vni} = {w.ident(dst)}."
        )
    w.say(
        "A correct analysis: **UDP port unreachable from the remote pod** (port closed), the "
        "network delivered both directions: an answer, not a loss or a timeout."
    )


FAULT_BULLETS = {
    "mtu-outer-frag": _mtu_outer_frag,
    "mtu-outer-df": _mtu_outer_df,
    "ns-transient": _ns_transient,
    "tcp-refused": _tcp_refused,
    "udp-refused": _udp_refused,
    "tcp-syn-dropped": _tcp_syn_dropped,
    "clock-skew": _clock_skew,
}


def _link_lines(w: Writer, node: Any) -> dict[int, tuple[str, str, int]]:
    """ifindex → (name, MAC, line number) from ``topology/<node>/ip-d-link.txt``."""
    out: dict[int, tuple[str, str, int]] = {}
    lines = (w.c.outdir / "topology" / node.name / "ip-d-link.txt").read_text().splitlines()
    for i, ln in enumerate(lines, 1):
        m = re.match(r"^(\d+): ([^:@]+)", ln)
        if m and i < len(lines):
            mac = re.search(r"link/\S+ (\S+)", lines[i])
            out[int(m.group(1))] = (m.group(2), mac.group(1) if mac else "?", i)
    return out


def _any_3node(w: Writer) -> None:
    c = w.c
    src = w.nodes[0].pods[0]
    dsts = [n.pods[0] for n in w.nodes[1:]]
    for n in w.nodes:
        links = _link_lines(w, n)
        seen = sorted({f.ifindex for f in c.frames[any_file(n)] if f.ifindex is not None})
        w.say(
            f"{any_file(n)} ({n.name}, LINUX_SLL2): the ifindexes it holds are "
            + ", ".join(
                f"{i} = {links[i][0]} ({links[i][1]}, ip-d-link.txt line {links[i][2]})"
                for i in seen
            )
            + f" (topology/{n.name}/ip-d-link.txt)."
        )
    w.say(
        "The same ifindex means different interfaces on different nodes (2, 3 and 4 are "
        "cilium_net, cilium_host and cilium_vxlan everywhere, but each node's eth0 and lxc "
        "have their own numbers), so an analysis must resolve each -i any frame's ifindex "
        "with the dump of the node that capture was taken on; SLL2 carries only the source "
        "MAC, never the destination."
    )
    w.gateway(src, 6)
    for d in dsts:
        w.echo(src, d.ipv6, 6, answered=True)
    w.gateway(src, 4)
    for d in dsts:
        w.echo(src, d.ipv4, 4, answered=True)
    n2, n3 = w.nodes[1], w.nodes[2]
    for here, there, pod in ((n2, n3, dsts[1]), (n3, n2, dsts[0])):
        foreign = [
            f
            for f in c.frames[any_file(here)]
            if f.tunnel and there.ipv4 in (f.outer_src, f.outer_dst)
        ]
        arps = [
            f
            for f in c.frames[any_file(here)]
            if f.kind == "arp-request" and f.info["tpa"] == there.ipv4
        ]
        w.say(
            f"{any_file(here)} holds none of the traffic to pod {pod.name} on {there.name} "
            f"({len(foreign)} tunnel frames to or from {there.ipv4}), only the broadcast "
            f"ARP who-has {there.ipv4} (frames {_frames(arps)}): the underlay is a learning "
            "switch, so a capture on one node never proves what crossed between two others."
        )
