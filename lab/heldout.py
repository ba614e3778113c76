#!/usr/bin/env python3
"""Held-out overlay captures: Flannel- and Calico-like overlays built apart from the lab.

The lab (`lab/run.py`) made every scenario vxlanlens was tuned on. This script builds others
with values the lab never uses (underlay 10.99.0.0/24 and fd99:0:0:7::/64 at MTU 1450, Flannel
pods in 10.42.3.0/24 and 10.42.9.0/24 behind `cni0` with `flannel.7` / `flannel-v6.7` on VNI 7,
Calico blocks 192.168.37.0/26 and 192.168.201.64/26 with `vxlan.calico` VNI 4096 on 4789), so
that explanations can be checked on captures no rule was written against. It was written for
the held-out review of 2026-12-05; captures/heldout-*/ were made with it.

usage (root): python3 lab/heldout.py SCENARIO OUTDIR
scenarios: flannel-ok, flannel-ok-vni1, flannel-nofdb, flannel-vni, calico-ok, calico-noproxy,
flannel-win, flannel-mtu, flannel-tcp-icmp, l2-segment
Namespaces: ho-n1, ho-n2 (nodes), ho-p1a, ho-p1b, ho-p2a, ho-p2b (pods); all removed at the end
(never the lab's vl-lab-* ones).
"""

import os
import signal
import subprocess
import sys
import time

NS = ["ho-n1", "ho-n2", "ho-p1a", "ho-p1b", "ho-p2a", "ho-p2b"]


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode:
        raise SystemExit(f"FAILED: {cmd}\n{r.stderr}")
    return r.stdout


def nx(ns, cmd, check=True):
    return sh(f"ip netns exec {ns} {cmd}", check)


def teardown():
    for n in NS:
        sh(f"ip netns del {n}", check=False)


def mkns(n):
    sh(f"ip netns add {n}")
    for k in ("all", "default"):
        nx(n, f"sysctl -qw net.ipv6.conf.{k}.accept_dad=0")
        nx(n, f"sysctl -qw net.ipv6.conf.{k}.router_solicitations=0")
    nx(n, "ip link set lo up")


UL = {
    "ho-n1": ("10.99.0.21", "fd99:0:0:7::21", "02:99:00:00:00:21"),
    "ho-n2": ("10.99.0.22", "fd99:0:0:7::22", "02:99:00:00:00:22"),
}


def underlay():
    for n in ("ho-n1", "ho-n2"):
        mkns(n)
        nx(n, "sysctl -qw net.ipv4.ip_forward=1")
        nx(n, "sysctl -qw net.ipv6.conf.all.forwarding=1")
    sh("ip link add ul1 netns ho-n1 type veth peer name ul2 netns ho-n2")
    for n, dev in (("ho-n1", "ul1"), ("ho-n2", "ul2")):
        v4, v6, mac = UL[n]
        nx(n, f"ip link set {dev} name eth0")
        nx(n, f"ip link set eth0 address {mac} mtu 1450 up")
        nx(n, f"ip addr add {v4}/24 dev eth0")
        nx(n, f"ip addr add {v6}/64 dev eth0 nodad")


# ---------------- flannel-like -----------------
FL = {  # node: (v4 subnet base, v6 subnet, vtep mac, vtep6 mac, cni0 mac)
    "ho-n1": (
        "10.42.3",
        "fd42:0:0:3",
        "3a:1c:5e:07:aa:01",
        "3a:1c:5e:07:bb:01",
        "8e:2d:41:00:c0:01",
    ),
    "ho-n2": (
        "10.42.9",
        "fd42:0:0:9",
        "3a:1c:5e:07:aa:02",
        "3a:1c:5e:07:bb:02",
        "8e:2d:41:00:c0:02",
    ),
}
PODS = {  # pod: (node, host veth, pod mac, host idx)
    "ho-p1a": ("ho-n1", "vethab12cd34", "5e:10:aa:01:00:0a", 17),
    "ho-p1b": ("ho-n1", "veth9f0e7d21", "5e:10:aa:01:00:0b", 33),
    "ho-p2a": ("ho-n2", "vethc3b4a5f6", "5e:10:aa:02:00:0a", 41),
    "ho-p2b": ("ho-n2", "veth0d1e2f3a", "5e:10:aa:02:00:0b", 58),
}


def flannel(vni=7, vni_n2=None, skip_fdb_on_n1=False, v6=True, port=8472):
    underlay()
    for n in ("ho-n1", "ho-n2"):
        b4, b6, vmac, vmac6, bmac = FL[n]
        myvni = vni_n2 if (n == "ho-n2" and vni_n2) else vni
        v4, v6a, _ = UL[n]
        nx(
            n,
            f"ip link add flannel.{myvni} type vxlan id {myvni} local {v4} dev eth0 dstport {port} nolearning",
        )
        nx(n, f"ip link set flannel.{myvni} address {vmac} mtu 1400 up")
        nx(n, f"ip addr add {b4}.0/32 dev flannel.{myvni}")
        if v6:
            nx(
                n,
                f"ip link add flannel-v6.{myvni} type vxlan id {myvni} local {v6a} dev eth0 dstport 8472 nolearning",
            )
            nx(n, f"ip link set flannel-v6.{myvni} address {vmac6} mtu 1380 up")
            nx(n, f"ip addr add {b6}::/128 dev flannel-v6.{myvni} nodad")
        nx(n, "ip link add cni0 type bridge")
        nx(n, f"ip link set cni0 address {bmac} mtu 1400 up")
        nx(n, f"ip addr add {b4}.1/24 dev cni0")
        if v6:
            nx(n, f"ip addr add {b6}::1/64 dev cni0 nodad")
    # remote entries (flanneld order: neigh, fdb, route)
    for n, r in (("ho-n1", "ho-n2"), ("ho-n2", "ho-n1")):
        rb4, rb6, rvmac, rvmac6, _ = FL[r]
        rv4, rv6, _ = UL[r]
        dev = f"flannel.{vni_n2 if (n == 'ho-n2' and vni_n2) else vni}"
        dev6 = dev.replace("flannel.", "flannel-v6.")
        nx(n, f"ip neigh replace {rb4}.0 lladdr {rvmac} dev {dev} nud permanent")
        if not (skip_fdb_on_n1 and n == "ho-n1"):
            nx(n, f"bridge fdb append {rvmac} dev {dev} dst {rv4}")
        nx(n, f"ip route add {rb4}.0/24 via {rb4}.0 dev {dev} onlink")
        if v6:
            nx(n, f"ip -6 neigh replace {rb6}:: lladdr {rvmac6} dev {dev6} nud permanent")
            if not (skip_fdb_on_n1 and n == "ho-n1"):
                nx(n, f"bridge fdb append {rvmac6} dev {dev6} dst {rv6}")
            nx(n, f"ip -6 route add {rb6}::/64 via {rb6}:: dev {dev6} onlink")
    for p, (n, hv, pmac, idx) in PODS.items():
        mkns(p)
        b4, b6 = FL[n][0], FL[n][1]
        sh(f"ip link add {hv} netns {n} type veth peer name eth0 netns {p}")
        nx(n, f"ip link set {hv} master cni0 mtu 1400 up")
        nx(p, f"ip link set eth0 address {pmac} mtu 1400 up")
        nx(p, f"ip addr add {b4}.{idx}/24 dev eth0")
        nx(p, f"ip route add default via {b4}.1")
        if v6:
            nx(p, f"ip addr add {b6}::{idx:x}/64 dev eth0 nodad")
            nx(p, f"ip -6 route add default via {b6}::1")
    time.sleep(1.5)


def pip(p, v6=False):
    n, _, _, idx = PODS[p]
    return f"{FL[n][1]}::{idx:x}" if v6 else f"{FL[n][0]}.{idx}"


# ---------------- one L2 segment stretched over VXLAN -----------------
L2 = {  # node: (bridge mac, vxlan mac)
    "ho-n1": ("7e:51:00:00:b1:01", "7e:51:00:00:c1:01"),
    "ho-n2": ("7e:51:00:00:b1:02", "7e:51:00:00:c1:02"),
}
L2PODS = {  # pod: (node, host veth, pod mac, v4, v6)
    "ho-p1a": ("ho-n1", "vethl2a1", "5e:77:00:01:00:0a", "10.77.0.5", "fd77::5"),
    "ho-p2a": ("ho-n2", "vethl2b1", "5e:77:00:02:00:0a", "10.77.0.9", "fd77::9"),
}


def l2_segment():
    """A bridge br0 on each node with a VXLAN port (VNI 100, UDP 4789, learning on, all-zero
    FDB entry flooding to the other node): the pods of 10.77.0.0/24 and fd77::/64 on both nodes
    share one L2 segment, their ARP and Neighbor Discovery cross the tunnel."""
    underlay()
    for n, r in (("ho-n1", "ho-n2"), ("ho-n2", "ho-n1")):
        bmac, vmac = L2[n]
        v4, rv4 = UL[n][0], UL[r][0]
        nx(n, "ip link add br0 type bridge")
        nx(n, f"ip link set br0 address {bmac} mtu 1400 up")
        nx(n, f"ip link add vxlan100 type vxlan id 100 local {v4} dev eth0 dstport 4789")
        nx(n, f"ip link set vxlan100 address {vmac} mtu 1400 master br0 up")
        nx(n, f"bridge fdb append 00:00:00:00:00:00 dev vxlan100 dst {rv4}")
    for p, (n, hv, pmac, v4, v6) in L2PODS.items():
        mkns(p)
        sh(f"ip link add {hv} netns {n} type veth peer name eth0 netns {p}")
        nx(n, f"ip link set {hv} master br0 mtu 1400 up")
        nx(p, f"ip link set eth0 address {pmac} mtu 1400 up")
        nx(p, f"ip addr add {v4}/24 dev eth0")
        nx(p, f"ip addr add {v6}/64 dev eth0 nodad")
    time.sleep(1.5)


# ---------------- calico-like -----------------
CA = {  # node: (block, tunnel addr, vtep mac)
    "ho-n1": ("192.168.37.0/26", "192.168.37.0", "66:c4:2b:10:37:01"),
    "ho-n2": ("192.168.201.64/26", "192.168.201.64", "66:c4:2b:10:37:02"),
}
CPODS = {  # pod: (node, cali veth, pod mac, ip)
    "ho-p1a": ("ho-n1", "cali4e7a1b2c3d9", "a2:31:7c:00:01:0a", "192.168.37.13"),
    "ho-p2a": ("ho-n2", "cali8f6e5d4c3b2", "a2:31:7c:00:02:0a", "192.168.201.77"),
}


def calico(proxy_arp=True):
    underlay()
    for n in ("ho-n1", "ho-n2"):  # a node default route, needed by proxy ARP for 169.254.1.1
        nx(n, "ip route add default via 10.99.0.1 dev eth0")
    for n in ("ho-n1", "ho-n2"):
        _blk, tun, vmac = CA[n]
        v4 = UL[n][0]
        nx(
            n,
            f"ip link add vxlan.calico type vxlan id 4096 local {v4} dev eth0 dstport 4789 nolearning",
        )
        nx(n, f"ip link set vxlan.calico address {vmac} mtu 1400 up")
        nx(n, f"ip addr add {tun}/32 dev vxlan.calico")
    for n, r in (("ho-n1", "ho-n2"), ("ho-n2", "ho-n1")):
        rblk, rtun, rvmac = CA[r]
        nx(n, f"ip neigh replace {rtun} lladdr {rvmac} dev vxlan.calico nud permanent")
        nx(n, f"bridge fdb replace {rvmac} dev vxlan.calico dst {UL[r][0]}")
        nx(n, f"ip route add {rblk} via {rtun} dev vxlan.calico onlink")
    for p, (n, hv, pmac, ip) in CPODS.items():
        mkns(p)
        sh(f"ip link add {hv} netns {n} type veth peer name eth0 netns {p}")
        nx(n, f"ip link set {hv} address ee:ee:ee:ee:ee:ee mtu 1400 up")
        nx(n, f"sysctl -qw net.ipv4.conf.{hv}.proxy_arp={1 if proxy_arp else 0}")
        nx(n, f"sysctl -qw net.ipv4.neigh.{hv}.proxy_delay=0")
        nx(n, f"ip route add {ip}/32 dev {hv} scope link")
        nx(p, f"ip link set eth0 address {pmac} mtu 1400 up")
        nx(p, f"ip addr add {ip}/32 dev eth0")
        nx(p, "ip route add 169.254.1.1 dev eth0 scope link")
        nx(p, "ip route add default via 169.254.1.1 dev eth0")
    time.sleep(1.5)


# ---------------- capture -----------------
class Caps:
    def __init__(self, out, points):
        self.procs = []
        os.makedirs(out, exist_ok=True)
        for ns, iface, fname in points:
            f = os.path.join(out, fname)
            p = subprocess.Popen(
                ["ip", "netns", "exec", ns, "tcpdump", "-U", "-n", "-i", iface, "-w", f],
                stderr=subprocess.PIPE,
                text=True,
            )
            line = p.stderr.readline()
            if "data link type" in line:
                line = p.stderr.readline()
            if "listening" not in line:
                raise SystemExit(f"tcpdump {ns} {iface}: {line}")
            self.procs.append(p)
        time.sleep(0.3)

    def stop(self):
        time.sleep(0.5)
        for p in self.procs:
            p.send_signal(signal.SIGINT)
        for p in self.procs:
            p.wait(5)
            print("  ", p.stderr.read().strip().replace("\n", "; "))


def dump_topology(out, nodes, pods):
    t = os.path.join(out, "topology")
    for n in nodes + pods:
        d = os.path.join(t, n)
        os.makedirs(d, exist_ok=True)
        for fname, cmd in (
            ("ip-a.txt", "ip a"),
            ("ip-d-link.txt", "ip -d link"),
            ("ip-r.txt", "ip r"),
            ("ip-6-r.txt", "ip -6 r"),
            ("ip-n.txt", "ip n"),
            ("ip-6-n.txt", "ip -6 n"),
        ):
            with open(os.path.join(d, fname), "w") as f:
                f.write(nx(n, cmd))
        if n in nodes:
            with open(os.path.join(d, "bridge-fdb.txt"), "w") as f:
                f.write(nx(n, "bridge fdb show"))
    # kubectl-style pod list (pod name = namespace name)
    with open(os.path.join(t, "kubectl-get-pods-o-wide.txt"), "w") as f:
        f.write(
            "NAME      READY   STATUS    RESTARTS   AGE   IP               NODE    NOMINATED NODE   READINESS GATES\n"
        )
        for p in pods:
            ip = nx(p, "ip -4 -o addr show dev eth0").split()[3].split("/")[0]
            node = (PODS.get(p) or CPODS.get(p))[0]  # the same node in every scenario
            f.write(
                f"{p:9s} 1/1     Running   0          2m    {ip:16s} {node:7s} <none>           <none>\n"
            )


def ping(src, dst, n=2, extra=""):
    r = nx(src, f"ping -c {n} -i 0.3 -W 1 {extra} {dst}", check=False)
    print(f"  ping {src} -> {dst}: " + (r.strip().splitlines()[-2] if r.strip() else "?"))


TCP = (
    "python3 -c \"import socket,sys;s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET);"
    "s.settimeout(3)\ntry:\n s.connect((sys.argv[1],int(sys.argv[2])));print('connected')\n"
    'except Exception as e: print(repr(e))" '
)


def main():
    sc, out = sys.argv[1], sys.argv[2]
    teardown()
    try:
        if sc in ("flannel-ok", "flannel-ok-vni1"):
            flannel(vni=1 if sc.endswith("vni1") else 7)
            c = Caps(
                out,
                [
                    ("ho-n1", "eth0", "n1-eth0.pcap"),
                    ("ho-n2", "eth0", "n2-eth0.pcap"),
                    ("ho-p1a", "eth0", "p1a-eth0.pcap"),
                ],
            )
            ping("ho-p1a", pip("ho-p2a"))
            ping("ho-p1a", pip("ho-p2a", True), extra="-6")
            ping("ho-p1a", pip("ho-p1b"))
            c.stop()
            dump_topology(out, ["ho-n1", "ho-n2"], ["ho-p1a", "ho-p2a"])
        elif sc == "flannel-nofdb":
            flannel(skip_fdb_on_n1=True, v6=False)
            c = Caps(
                out,
                [
                    ("ho-n1", "eth0", "n1-eth0.pcap"),
                    ("ho-n2", "eth0", "n2-eth0.pcap"),
                    ("ho-n1", "any", "n1-any.pcap"),
                ],
            )
            ping("ho-p1a", pip("ho-p2a"), n=3)
            c.stop()
            dump_topology(out, ["ho-n1", "ho-n2"], ["ho-p1a", "ho-p2a"])
        elif sc == "flannel-vni":
            flannel(vni=7, vni_n2=8, v6=False)
            c = Caps(
                out,
                [
                    ("ho-n1", "eth0", "n1-eth0.pcap"),
                    ("ho-n2", "eth0", "n2-eth0.pcap"),
                    ("ho-n1", "any", "n1-any.pcap"),
                ],
            )
            ping("ho-p1a", pip("ho-p2a"), n=3)
            c.stop()
            dump_topology(out, ["ho-n1", "ho-n2"], ["ho-p1a", "ho-p2a"])
        elif sc == "calico-ok":
            calico()
            c = Caps(out, [("ho-n1", "eth0", "n1-eth0.pcap"), ("ho-n2", "eth0", "n2-eth0.pcap")])
            ping("ho-p1a", CPODS["ho-p2a"][3], n=3)
            c.stop()
            dump_topology(out, ["ho-n1", "ho-n2"], ["ho-p1a", "ho-p2a"])
        elif sc == "flannel-win":  # flannel with Windows-compatible VXLAN: VNI 4096, port 4789
            flannel(vni=4096, port=4789, v6=False)
            c = Caps(out, [("ho-n1", "eth0", "n1-eth0.pcap"), ("ho-n2", "eth0", "n2-eth0.pcap")])
            ping("ho-p1a", pip("ho-p2a"), n=2)
            c.stop()
            dump_topology(out, ["ho-n1", "ho-n2"], ["ho-p1a", "ho-p2a"])
        elif (
            sc == "flannel-mtu"
        ):  # 1400-byte IPv4 DF ping (fits: 1450 underlay - 50) and 1400-byte IPv6 ping (flannel-v6 MTU 1380)
            flannel()
            c = Caps(
                out,
                [
                    ("ho-n1", "eth0", "n1-eth0.pcap"),
                    ("ho-n2", "eth0", "n2-eth0.pcap"),
                    ("ho-p1a", "eth0", "p1a-eth0.pcap"),
                ],
            )
            ping("ho-p1a", pip("ho-p2a"), n=2, extra="-M do -s 1372")
            ping("ho-p1a", pip("ho-p2a", True), n=2, extra="-6 -M do -s 1352")
            c.stop()
            dump_topology(out, ["ho-n1", "ho-n2"], ["ho-p1a", "ho-p2a"])
        elif sc == "calico-noproxy":
            calico(proxy_arp=False)
            c = Caps(out, [("ho-n1", "any", "n1-any.pcap"), ("ho-p1a", "eth0", "p1a-eth0.pcap")])
            ping("ho-p1a", CPODS["ho-p2a"][3], n=3)
            c.stop()
            dump_topology(out, ["ho-n1", "ho-n2"], ["ho-p1a", "ho-p2a"])
        elif sc == "flannel-tcp-icmp":
            flannel(v6=True)
            nx("ho-p2b", "sysctl -qw net.ipv4.icmp_echo_ignore_all=1")
            c = Caps(
                out,
                [
                    ("ho-n1", "eth0", "n1-eth0.pcap"),
                    ("ho-n2", "eth0", "n2-eth0.pcap"),
                    ("ho-p1a", "eth0", "p1a-eth0.pcap"),
                ],
            )
            print("  tcp v4:", nx("ho-p1a", TCP + f"{pip('ho-p2a')} 9099", check=False).strip())
            print(
                "  tcp v6:", nx("ho-p1a", TCP + f"{pip('ho-p2a', True)} 9099", check=False).strip()
            )
            ping("ho-p1a", pip("ho-p2b"), n=3)
            c.stop()
            dump_topology(out, ["ho-n1", "ho-n2"], ["ho-p1a", "ho-p2a", "ho-p2b"])
        elif sc == "l2-segment":
            l2_segment()
            c = Caps(
                out,
                [
                    ("ho-n1", "eth0", "n1-eth0.pcap"),
                    ("ho-n2", "eth0", "n2-eth0.pcap"),
                    ("ho-p1a", "eth0", "p1a-eth0.pcap"),
                    ("ho-n1", "any", "n1-any.pcap"),
                ],
            )
            ping("ho-p1a", L2PODS["ho-p2a"][3], n=2)
            ping("ho-p1a", L2PODS["ho-p2a"][4], n=2, extra="-6")
            c.stop()
            dump_topology(out, ["ho-n1", "ho-n2"], ["ho-p1a", "ho-p2a"])
        else:
            raise SystemExit(__doc__)
    finally:
        teardown()


if __name__ == "__main__":
    main()
