"""Mirror-transport lab scenarios: the Cilium two-node lab seen through a port mirror.

A network engineer often gets the capture of a node's traffic from a mirror, not from the node:
a switch's ERSPAN session (GRE), or cloud traffic mirroring that wraps each mirrored frame in
VXLAN 4789 with a session VNI. These scenarios build the healthy Cilium lab (``ipv4-ping``) with
its two nodes' eth0s on a Linux bridge (the "switch", namespace ``vl-lab-underlay``) and add:

- a SPAN on the switch port that faces node worker's eth0: tc ingress and egress programs
  (``bpf/mirror_span.c``) copy every frame with ``bpf_clone_redirect`` to a mirror device;
- ``erspan``: the mirror device is the veth ``span0``; its tc egress program
  (``bpf/mirror_erspan.c``) pushes Ethernet + IPv4 + GRE (sequence numbers) + an ERSPAN type II
  or type III header (the kernel here has no gre/erspan driver, so eBPF writes every byte);
- ``vxlan``: the mirror device is a kernel vxlan device (VNI = session, UDP 4789, remote = the
  collector) that leaves through ``span0``;
- ``span0``'s peer is eth0 of the collector namespace ``vl-lab-collector`` (no address: it only
  captures, as a monitoring probe does), captured as ``collector-eth0.pcap``.

Used by lab/run.py (``run_mirror``); standard library only.
"""

from __future__ import annotations

import struct
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from lab_steps import fresh_outdir

COLLECTOR_NS = "vl-lab-collector"
COLLECTOR_FILE = "collector-eth0.pcap"
SWITCH_PORT = "u-worker"  # the bridge port facing node worker's eth0 (lab.build_bridged_underlay)
SPAN_DEV = "span0"
SWITCH_MAC, COLLECTOR_MAC = "0e:5a:7c:00:00:fa", "0e:5a:7c:00:00:63"
SWITCH_IP, COLLECTOR_IP = "172.18.0.250", "172.18.0.99"
MIRROR_MTU = 9000


@dataclass(frozen=True)
class Mirror:
    """One mirror session: its transport and the values it carries."""

    transport: str  # "erspan" | "vxlan"
    session: int  # ERSPAN session id, or the VXLAN VNI
    erspan_ver: int = 0  # ERSPAN header Ver field: 1 = type II, 2 = type III
    hw_id: int = 1  # ERSPAN III hardware id: the mirroring engine (the port index is type II's)
    vxlan_port: int = 4789

    @property
    def label(self) -> str:
        """How the README names the transport."""
        if self.transport == "vxlan":
            return f"VXLAN (UDP {self.vxlan_port}) VNI {self.session}"
        kind = "II" if self.erspan_ver == 1 else "III"
        return f"ERSPAN type {kind} session {self.session}"

    @property
    def overhead(self) -> int:
        """Bytes the transport puts in front of each mirrored frame on the collector's wire."""
        if self.transport == "vxlan":
            return 14 + 20 + 8 + 8
        return 14 + 20 + 8 + (8 if self.erspan_ver == 1 else 12)


MIRRORS = {
    "mirror-erspan": Mirror("erspan", session=7, erspan_ver=1),
    "mirror-erspan3": Mirror("erspan", session=9, erspan_ver=2),
    "mirror-vxlan": Mirror("vxlan", session=7001),
}

TITLES = {
    "mirror-erspan": "IPv4 ping seen through an ERSPAN type II mirror of worker's eth0",
    "mirror-erspan3": "IPv4 ping seen through an ERSPAN type III mirror (direction bit)",
    "mirror-vxlan": "IPv4 ping seen through cloud-style VXLAN 4789 traffic mirroring (VNI 7001)",
}


def notes(name: str) -> list[str]:
    """README "Datapath" lines of a mirror scenario (what was built, and how)."""
    m = MIRRORS[name]
    how = (
        f"its tc egress program (`lab/bpf/mirror_erspan.c`) pushes Ethernet {SWITCH_MAC} → "
        f"{COLLECTOR_MAC}, IPv4 {SWITCH_IP} → {COLLECTOR_IP} (protocol 47, DF, header checksum "
        "computed), GRE with the S bit and a sequence number counted per session (a BPF array "
        f"map), and an {m.label} header "
        + (
            f"(Ver 1, GRE protocol 0x88be, index = the ifindex of the switch port `{SWITCH_PORT}`, "
            "the mirrored port)"
            if m.erspan_ver == 1
            else f"(Ver 2, GRE protocol 0x22eb, hardware id {m.hw_id}, no platform subheader so "
            "no port index, timestamp in "
            "100 µs units, direction bit D: 0 = ingress at the switch port = sent by the node, "
            "1 = egress = received by the node)"
        )
        + " with `bpf_skb_change_head` + `bpf_skb_store_bytes`: this kernel has no "
        "gre/gretap/erspan driver, so eBPF writes every byte"
        if m.transport == "erspan"
        else f"the copies go to a kernel vxlan device (`ip link add mirror-vx type vxlan id "
        f"{m.session} dstport {m.vxlan_port} local {SWITCH_IP} remote {COLLECTOR_IP} "
        f"nolearning noudpcsum`, as cloud traffic mirroring does with a session VNI), which sends them "
        f"through `{SPAN_DEV}`"
    )
    return [
        "**Mirror** (what this scenario adds to `ipv4-ping`): the two nodes' eth0s are plugged "
        'into a Linux bridge (`br0` in `vl-lab-underlay`, the "switch", not captured); tc '
        f"ingress and egress programs on the switch port `{SWITCH_PORT}` that faces "
        "cilium-dual-stack-worker's eth0 (`lab/bpf/mirror_span.c`) copy every frame, untouched, "
        "with `bpf_clone_redirect` (a SPAN source, both directions) to the switch's mirror port "
        f"`{SPAN_DEV}` (MTU {MIRROR_MTU}); " + how + f". `{SPAN_DEV}`'s peer is eth0 "
        f"({COLLECTOR_MAC}) of the collector namespace `{COLLECTOR_NS}`, which has no address "
        f"(it only listens, as a monitoring probe does; the frames for {COLLECTOR_IP} are "
        f"dropped by its stack, silently), captured as `{COLLECTOR_FILE}`: the only capture a "
        "user of the mirror would have. The switch and collector values (MACs, "
        f"{SWITCH_IP}, {COLLECTOR_IP}, session {m.session}) are invented.",
    ]


# --------------------------------------------------------------------------------------------
# Building the mirror
# --------------------------------------------------------------------------------------------


def build_mirror(m: Mirror, lab: ModuleType, workdir: Path) -> None:
    """Collector namespace, the switch's mirror port and the SPAN programs (lab already built)."""
    sw, ns = lab.UNDERLAY_NS, COLLECTOR_NS
    lab.run(["ip", "netns", "add", ns])
    for key in ("all", "default"):
        lab.sysctl(ns, f"net.ipv6.conf.{key}.disable_ipv6", "1")
    lab.run(["ip", "link", "set", "lo", "up"], netns=ns)
    lab.ip(sw, "link", "add", SPAN_DEV, "address", SWITCH_MAC, "mtu", str(MIRROR_MTU), "type",
           "veth", "peer", "name", "eth0", "address", COLLECTOR_MAC, "mtu", str(MIRROR_MTU),
           "netns", ns)  # fmt: skip
    lab.ip(ns, "link", "set", "eth0", "up")
    lab.ip(sw, "link", "set", SPAN_DEV, "up")
    if m.transport == "erspan":
        obj = workdir / "mirror-erspan.o"
        defs = {
            "ERSPAN_VER": str(m.erspan_ver),
            "SESSION_ID": str(m.session),
            "PORT_INDEX": str(_ifindex(lab, sw, SWITCH_PORT)),
            "HW_ID": str(m.hw_id),
            "SRC_MAC": lab.mac_bytes(SWITCH_MAC),
            "DST_MAC": lab.mac_bytes(COLLECTOR_MAC),
            "SRC_IPV4": lab.ip4_int(SWITCH_IP),
            "DST_IPV4": lab.ip4_int(COLLECTOR_IP),
        }
        lab._compile("mirror_erspan.c", obj, defs, [])
        _tc(lab, sw, SPAN_DEV, "egress", obj, "erspan-encap")
        target = SPAN_DEV
    else:
        lab.ip(sw, "addr", "add", f"{SWITCH_IP}/32", "dev", SPAN_DEV)
        lab.ip(sw, "route", "add", f"{COLLECTOR_IP}/32", "dev", SPAN_DEV)
        lab.ip(sw, "neigh", "add", COLLECTOR_IP, "lladdr", COLLECTOR_MAC, "dev", SPAN_DEV,
               "nud", "permanent")  # fmt: skip
        lab.ip(sw, "link", "add", "mirror-vx", "mtu", str(MIRROR_MTU - 50), "type", "vxlan",
               "id", str(m.session), "dstport", str(m.vxlan_port), "local", SWITCH_IP,
               "remote", COLLECTOR_IP, "nolearning", "noudpcsum")  # fmt: skip
        lab.ip(sw, "link", "set", "mirror-vx", "up")
        target = "mirror-vx"
    obj = workdir / "mirror-span.o"
    lab._compile("mirror_span.c", obj, {"MIRROR_IFINDEX": str(_ifindex(lab, sw, target))}, [])
    _tc(lab, sw, SWITCH_PORT, "ingress", obj, "span-ingress")
    _tc(lab, sw, SWITCH_PORT, "egress", obj, "span-egress")


def _ifindex(lab: ModuleType, netns: str, dev: str) -> int:
    return int(lab.ip(netns, "-o", "link", "show", dev).stdout.split(":")[0])


def _tc(lab: ModuleType, netns: str, dev: str, hook: str, obj: Path, sec: str) -> None:
    lab.run(["tc", "qdisc", "replace", "dev", dev, "clsact"], netns=netns)
    lab.run(["tc", "filter", "replace", "dev", dev, hook, "prio", "1", "handle", "1", "bpf",
             "da", "obj", str(obj), "sec", sec], netns=netns)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def run_mirror(sc: Any, outdir: Path, log: Any, lab: ModuleType) -> None:
    """Build the Cilium lab + the mirror, capture, dump, describe and tear down one scenario."""
    m = MIRRORS[sc.name]
    fresh_outdir(outdir, lab)
    points = [
        *lab.capture_points(lab.NODES),
        lab.CapturePoint(COLLECTOR_NS, "eth0", COLLECTOR_FILE, "mirror collector eth0"),
    ]
    caps = lab.Captures(outdir, points=points)
    try:
        with tempfile.TemporaryDirectory(prefix="vl-lab-") as tmp:
            variant = lab.build(sc, Path(tmp))
            build_mirror(m, lab, Path(tmp))
            time.sleep(1.0)
            caps.start()
            time.sleep(sc.settle)
            results = []
            for step in sc.steps:
                results.append(lab.run_step(step, variant))
                time.sleep(0.2)
            caps.stop()
        lab.dump_topology(outdir, sc, variant)
        node_stats = {f: s for f, s in caps.stats.items() if f != COLLECTOR_FILE}
        lab.write_readme(outdir, sc, variant, results, node_stats, lab.NODES)
        add_mirror_section(outdir, m, caps.stats[COLLECTOR_FILE], lab.WORKER)
        log(f"{sc.name}: ok -> {outdir}")
    finally:
        caps.kill()
        lab.teardown()


# --------------------------------------------------------------------------------------------
# README: what the collector saw, checked against the node's own capture
# --------------------------------------------------------------------------------------------


def pcap_frames(path: Path) -> list[bytes]:
    """The frames of a classic pcap file (as tcpdump -w writes it), in file order."""
    data = path.read_bytes()
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">"}.get(magic)
    if endian is None:
        endian = {b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}[magic]
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "IIII", data[off : off + 16])[2]
        out.append(data[off + 16 : off + 16 + incl])
        off += 16 + incl
    return out


TSHARK_FIELDS = [
    "frame.number",
    "frame.time_relative",
    "ip.src",
    "ip.dst",
    "gre.sequence_number",
    "erspan.version",
    "erspan.spanid",
    "erspan.index",
    "erspan.hw",
    "erspan.direction",
    "vxlan.vni",
    "_ws.col.Protocol",
    "_ws.col.Info",
]


def tshark_rows(pcap: Path) -> list[dict[str, str]]:
    """One dict per frame of tshark's fields (VXLAN decoded on 8472 as well as 4789)."""
    argv = ["tshark", "-r", str(pcap), "-d", "udp.port==8472,vxlan", "-T", "fields",
            "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]  # fmt: skip
    for f in TSHARK_FIELDS:
        argv += ["-e", f]
    cp = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return [dict(zip(TSHARK_FIELDS, ln.split("\t"), strict=False)) for ln in cp.stdout.splitlines()]


def add_mirror_section(outdir: Path, m: Mirror, stat: str, node: Any) -> None:
    """Insert the collector's capture and what it shows before the README's analysis section."""
    mirrored = pcap_frames(outdir / COLLECTOR_FILE)
    direct = pcap_frames(outdir / f"node-{node.short}-eth0.pcap")
    inner = [f[m.overhead :] for f in mirrored]
    same = Counter(inner) == Counter(direct)
    rows = tshark_rows(outdir / COLLECTOR_FILE)
    sessions = Counter(r.get("erspan.spanid") or r.get("vxlan.vni", "").split(",")[0] for r in rows)
    skip = 1 if m.transport == "vxlan" else 0  # the mirror's own VNI comes first
    tunnelled = sum(1 for r in rows if r.get("vxlan.vni", "").split(",")[skip:] not in ([], [""]))
    L = ["## Mirror capture", ""]
    L += ["| file | point | frames | tcpdump |", "|---|---|---|---|"]
    L += [f"| {COLLECTOR_FILE} | mirror collector eth0 | {len(mirrored)} | {stat} |", ""]
    L += [
        f"Read with `tshark -r {COLLECTOR_FILE} -d udp.port==8472,vxlan` (tshark decodes "
        + ("GRE and ERSPAN" if m.transport == "erspan" else "VXLAN on 4789")
        + " by itself; 8472 is Cilium's overlay port inside).",
        "",
        "| frame | t (ms) | outer IPv4 | transport | inner (tshark's protocol / info) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        ips_s, ips_d = r.get("ip.src", "").split(","), r.get("ip.dst", "").split(",")
        if m.transport == "erspan":
            ver = {"1": "II", "2": "III"}.get(r.get("erspan.version", ""), "?")
            tr = f"GRE seq {r.get('gre.sequence_number')}, ERSPAN {ver} session {r.get('erspan.spanid')}"
            if ver == "III":
                tr += f", direction {'egress' if r.get('erspan.direction') == '1' else 'ingress'}"
        else:
            tr = f"VXLAN VNI {r.get('vxlan.vni', '').split(',')[0]}"
        L.append(
            f"| {r['frame.number']} | {float(r['frame.time_relative']) * 1000:.3f} | "
            f"{ips_s[0]} → {ips_d[0]} | {tr} | {r.get('_ws.col.Protocol')}: "
            f"{r.get('_ws.col.Info', '').replace('|', '/')} |"
        )
    L.append("")
    bullets = [
        f"{COLLECTOR_FILE}: {len(mirrored)} frames, every one from {SWITCH_IP} ({SWITCH_MAC}) to "
        f"the collector {COLLECTOR_IP} ({COLLECTOR_MAC}) carrying one frame of {node.name}'s "
        f"eth0 in {m.label} (sessions seen by tshark: "
        + ", ".join(f"{k} × {v}" for k, v in sorted(sessions.items()))
        + f"); {tunnelled} of the mirrored frames are themselves Cilium VXLAN (UDP 8472).",
        (
            f"Peeled of their {m.overhead} bytes of mirror transport, the {len(mirrored)} "
            f"mirrored frames are byte for byte the {len(direct)} frames of "
            f"node-{node.short}-eth0.pcap (compared as a multiset by the lab)"
            if same
            else f"**Peeled of their {m.overhead} bytes of mirror transport, the mirrored frames "
            f"differ from node-{node.short}-eth0.pcap** ({len(mirrored)} vs {len(direct)} "
            "frames)"
        )
        + ": a correct analysis of the collector capture places it on worker's eth0 (the "
        "mirrored port), finds the same paths and findings as on node-worker-eth0.pcap, and "
        f"names the mirror ({m.label}, {SWITCH_IP} → {COLLECTOR_IP}"
        + (", the direction of each frame" if m.erspan_ver == 2 else "")
        + ").",
    ]
    if m.transport == "vxlan":
        bullets.append(
            f"Two VXLANs nest here: the outer one (UDP {m.vxlan_port}, VNI {m.session}) is the "
            "mirror, the inner one (UDP 8472, VNI = the sender pod's identity) is the cluster's "
            f"overlay; VNI {m.session} is no Cilium identity and the mirror's outer IPs are "
            "no nodes."
        )
    text = (outdir / "README.md").read_text()
    head, sep, tail = text.partition("## What a correct analysis must say\n\n")
    add = "".join(f"- {b}\n" for b in bullets)
    (outdir / "README.md").write_text(head + "\n".join(L) + "\n" + sep + add + tail)


def scenario_list(lab: ModuleType) -> list[Any]:
    """The mirror scenarios (an IPv4 ping from pod cni-7t9p4 to cni-8qgcs each)."""
    src, dst = lab.POD1, lab.POD2
    diff = {src.name: lab.IDENT_CLIENT, dst.name: lab.IDENT_SERVER}
    return [
        lab.Scenario(
            name,
            TITLES[name],
            "vxlan",
            "ipv4",
            diff,
            [
                lab.Step(
                    src,
                    ["ping", "-4", "-n", "-c", "1", "-W", "2", dst.ipv4],
                    f"ping -4 -c 1 {dst.ipv4} from {src.name}",
                )
            ],
            notes=notes(name),
        )
        for name in MIRRORS
    ]
