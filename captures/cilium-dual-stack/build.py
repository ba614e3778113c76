"""Build the reference scenario's captures: ``pod-eth0.pcap`` and ``worker-eth0.pcap``.

Reproduces the packets of the public walkthrough described in
``../shared/scenario/cilium-dual-stack.md`` (Cilium 1.13 dual stack, VXLAN tunnel, on kind):

* ``pod-eth0.pcap``: the six frames that ``tcpdump -pne -i eth0`` printed inside pod
  cni-7t9p4 (two NS/NA exchanges for the IPv6 gateway, one ICMPv6 echo request and reply);
* ``worker-eth0.pcap``: the same echo request and reply as seen on the eth0 of node
  cilium-dual-stack-worker, inside VXLAN on UDP 8472.

Values that the walkthrough does not give (VNI, node addresses and MACs, outer UDP source
ports and IPv4 ids, the remote lxc MAC, the echo payload, timestamps on the node) are assumed;
README.md lists them. Run ``python build.py [--out DIR]``: the output is byte-identical on
every run (scapy builds the frames, this script writes the pcap container itself).
"""

from __future__ import annotations

import argparse
import calendar
import struct
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

HERE = Path(__file__).resolve().parent

# --- values from the walkthrough ----------------------------------------------------------
POD_MAC = "4e:5b:57:45:63:3b"  # cni-7t9p4 eth0
LXC_MAC = "a2:79:14:47:80:b3"  # lxc237a31216c0f on cilium-dual-stack-worker
POD_LL = "fe80::4c5b:57ff:fe45:633b"  # cni-7t9p4 eth0 link-local
POD_IP6 = "fd00:10:244:1::4749"  # cni-7t9p4
ROUTER_IP6 = "fd00:10:244:1::22f1"  # Cilium router IP of worker, on no interface
SOLICITED = "ff02::1:ff00:22f1"  # solicited-node group of ROUTER_IP6
SOLICITED_MAC = "33:33:ff:00:22:f1"
REMOTE_POD_MAC = "b6:61:48:ae:63:f5"  # cni-8qgcs eth0 on cilium-dual-stack-worker2
REMOTE_POD_IP6 = "fd00:10:244:2::9461"  # cni-8qgcs
ECHO_ID, ECHO_SEQ = 44, 0
# tcpdump's wall-clock times; the walkthrough does not name the time zone: taken as UTC.
DAY = calendar.timegm((2024, 7, 12, 7, 44, 28, 0, 0, 0))
POD_TIMES_US = (594775, 594812, 594846, 594851, 594856, 595463)

# --- assumed values (see README.md) --------------------------------------------------------
REMOTE_LXC_MAC = "9e:2f:0c:71:d4:a8"  # cni-8qgcs's lxc veth on worker2 (invented)
WORKER_IP, WORKER2_IP = "172.18.0.3", "172.18.0.4"  # kind nodes on the docker network
WORKER_MAC, WORKER2_MAC = "02:42:ac:12:00:03", "02:42:ac:12:00:04"  # docker-style MACs
VNI = 40172  # Cilium security identity of the DaemonSet `cni` pods (both pods share it)
VXLAN_PORT = 8472
REQUEST_SPORT, REPLY_SPORT = 52379, 38702  # flow-hash source ports (invented)
REQUEST_IP_ID, REPLY_IP_ID = 0x5A3C, 0xC1D7  # outer IPv4 ids (invented; DF is not set)
NODE_TIMES_US = (594893, 595428)  # request seen 37 us after the pod, reply 35 us before
# busybox ping: 56 data bytes, a 4-byte host-order microsecond clock then zeros (assumed).
ECHO_PAYLOAD = struct.pack("<I", 2_961_407_212) + bytes(52)

LINKTYPE_ETHERNET = 1
SNAPLEN = 262144  # what tcpdump writes by default


def _ns(src: str) -> bytes:
    """A Linux Neighbor Solicitation for the router IP, with a source link-layer option."""
    return bytes(
        Ether(src=POD_MAC, dst=SOLICITED_MAC)
        / IPv6(src=src, dst=SOLICITED, hlim=255, fl=0, tc=0)
        / ICMPv6ND_NS(tgt=ROUTER_IP6)
        / ICMPv6NDOptSrcLLAddr(lladdr=POD_MAC)
    )


def _na(dst: str) -> bytes:
    """The NA that Cilium's eBPF program on the lxc veth returns for the router IP.

    R=1 S=1 O=0, IPv6 source = the router IP, target link-layer option = the lxc MAC.
    """
    return bytes(
        Ether(src=LXC_MAC, dst=POD_MAC)
        / IPv6(src=ROUTER_IP6, dst=dst, hlim=255, fl=0, tc=0)
        / ICMPv6ND_NA(R=1, S=1, O=0, tgt=ROUTER_IP6)
        / ICMPv6NDOptDstLLAddr(lladdr=LXC_MAC)
    )


def echo_request() -> bytes:
    """The echo request as it leaves cni-7t9p4 (and, unchanged, inside VXLAN on worker)."""
    return bytes(
        Ether(src=POD_MAC, dst=LXC_MAC)
        / IPv6(src=POD_IP6, dst=REMOTE_POD_IP6, hlim=64, fl=0, tc=0)
        / ICMPv6EchoRequest(id=ECHO_ID, seq=ECHO_SEQ, data=ECHO_PAYLOAD)
    )


def echo_reply(src_mac: str, dst_mac: str, hlim: int) -> bytes:
    """The echo reply from cni-8qgcs with the given MACs and hop limit."""
    return bytes(
        Ether(src=src_mac, dst=dst_mac)
        / IPv6(src=REMOTE_POD_IP6, dst=POD_IP6, hlim=hlim, fl=0, tc=0)
        / ICMPv6EchoReply(id=ECHO_ID, seq=ECHO_SEQ, data=ECHO_PAYLOAD)
    )


def _vxlan(
    inner: bytes, src: tuple[str, str], dst: tuple[str, str], sport: int, ip_id: int
) -> bytes:
    """``inner`` inside VXLAN (flags 0x08, VNI = identity) over IPv4/UDP 8472, UDP checksum 0."""
    return bytes(
        Ether(src=src[1], dst=dst[1])
        / IP(src=src[0], dst=dst[0], ttl=64, id=ip_id, flags=0, tos=0)
        / UDP(sport=sport, dport=VXLAN_PORT, chksum=0)
        / VXLAN(flags=0x08, vni=VNI)
        / Raw(inner)
    )


def pod_frames() -> list[tuple[int, bytes]]:
    """(timestamp in microseconds since the epoch, frame) for the pod's eth0 capture."""
    frames = [
        _ns(POD_LL),
        _na(POD_LL),
        _ns(POD_IP6),
        _na(POD_IP6),
        echo_request(),
        echo_reply(LXC_MAC, POD_MAC, 63),
    ]
    return [(DAY * 1_000_000 + t, f) for t, f in zip(POD_TIMES_US, frames, strict=True)]


def worker_frames() -> list[tuple[int, bytes]]:
    """(timestamp in microseconds since the epoch, frame) for the worker node's eth0 capture."""
    worker, worker2 = (WORKER_IP, WORKER_MAC), (WORKER2_IP, WORKER2_MAC)
    frames = [
        _vxlan(echo_request(), worker, worker2, REQUEST_SPORT, REQUEST_IP_ID),
        _vxlan(
            echo_reply(REMOTE_POD_MAC, REMOTE_LXC_MAC, 64),
            worker2,
            worker,
            REPLY_SPORT,
            REPLY_IP_ID,
        ),
    ]
    return [(DAY * 1_000_000 + t, f) for t, f in zip(NODE_TIMES_US, frames, strict=True)]


def pcap_bytes(records: list[tuple[int, bytes]]) -> bytes:
    """A classic little-endian microsecond pcap (link type Ethernet) holding ``records``."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)]
    for ts_us, frame in records:
        sec, usec = divmod(ts_us, 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def build(out_dir: Path = HERE) -> list[Path]:
    """Write both captures into ``out_dir``; gives the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, records in (("pod-eth0.pcap", pod_frames()), ("worker-eth0.pcap", worker_frames())):
        path = out_dir / name
        path.write_bytes(pcap_bytes(records))
        written.append(path)
    return written


def main() -> None:
    """Command line: ``build.py [--out DIR]`` (default: this script's folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    args = parser.parse_args()
    for path in build(args.out):
        print(path)


if __name__ == "__main__":
    main()
