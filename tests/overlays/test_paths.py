"""Paths named by the recognised overlay's datapath (issue 13): on the kernel-made Flannel and
Calico captures every hop is one of that overlay's devices, and no Cilium device or rule appears;
the planted faults are named with their evidence."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import Explanation
from vxlanlens.overlays import profile
from vxlanlens.proto import HopKind

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
CILIUM_WORDS = ("cilium", "lxc", "ebpf")


@cache
def _explain(name: str, cni: str | None = None) -> Explanation:
    folder = CAPTURES / name
    cap = vxlanlens.read(
        [str(p) for p in sorted(folder.glob("*.pcap"))], topology=[str(folder / "topology")]
    )
    return cap.explain(cni=cni) if cni else cap.explain()


def _hop_texts(exp: Explanation) -> list[str]:
    out = []
    for p in exp.paths:
        out.append(p.summary)
        for h in (*p.hops, *p.reply_hops):
            out += [h.place, h.note, h.device or ""]
    out += [f.statement for f in exp.findings]
    return out


def _echo(exp: Explanation):
    (p,) = [p for p in exp.paths if p.kind == "echo"]
    return p


@pytest.mark.parametrize(
    ("name", "cni", "devices"),
    [
        ("lab-flannel-ping", "flannel", ("cni0", "flannel.1")),
        ("lab-calico-ping", "calico", ("vxlan.calico",)),
    ],
)
def test_healthy_paths_name_the_overlays_devices_and_no_cilium_one(
    name: str, cni: str, devices: tuple[str, ...]
) -> None:
    exp = _explain(name)
    assert exp.topology["overlay"]["name"] == cni
    assert not [f for f in exp.findings if f.severity.value in ("problem", "warning")]
    texts = " ".join(_hop_texts(exp)).lower()
    for word in CILIUM_WORDS:
        assert word not in texts, word
    p = _echo(exp)
    used = {h.device for h in (*p.hops, *p.reply_hops) if h.device}
    assert set(devices) <= used
    # host-side veths are the dumps' own names, of the profile's shape
    dp = profile(cni).datapath
    veths = {h.device for h in p.hops if h.kind == HopKind.LXC}
    assert veths and all(dp.role(v) == "host-veth" for v in veths if v)
    # every hop of the request was seen, in order (the lab captured every interface)
    assert all(h.observed for h in p.hops if h.kind != HopKind.NETWORK)


def test_flannel_hops_bridge_then_vtep_and_ttl_twice() -> None:
    p = _echo(_explain("lab-flannel-ping"))
    kinds = [h.kind for h in p.hops]
    assert kinds == [
        HopKind.POD_ETH0, HopKind.LXC, HopKind.BRIDGE, HopKind.TUNNEL, HopKind.UNDERLAY,
        HopKind.NETWORK, HopKind.UNDERLAY, HopKind.TUNNEL, HopKind.BRIDGE, HopKind.LXC,
        HopKind.POD_ETH0,
    ]  # fmt: skip
    assert p.hops[0].note.endswith("TTL 64") and p.hops[-1].note.endswith("TTL 62")
    assert "TTL 63" in p.hops[4].note  # routed once before the tunnel


def test_calico_gateway_answered_by_proxy_arp_on_the_pods_own_veth() -> None:
    exp = _explain("lab-calico-ping")
    arps = [p for p in exp.paths if p.kind == "arp" and p.target == "169.254.1.1"]
    topology = vxlanlens.read(
        [str(p) for p in sorted((CAPTURES / "lab-calico-ping").glob("*.pcap"))],
        topology=[str(CAPTURES / "lab-calico-ping" / "topology")],
    ).topology
    assert len(arps) == 2  # one per pod, each answered on its own veth
    for arp in arps:
        responder = arp.reply_hops[0]
        assert responder.kind == HopKind.LXC and responder.observed
        pod = topology.pod_by_ip(arp.src_ip)
        assert pod is not None and responder.device == pod.host_interface
        assert responder.node == pod.node
        assert "proxy ARP" in responder.note
    p = _echo(exp)
    assert [h.kind for h in p.hops].count(HopKind.BRIDGE) == 0  # no bridge: the node routes


def test_a_stated_cilium_draws_ciliums_devices() -> None:
    # the same captures explained as Cilium (as a user may wrongly state): Cilium's hops
    p = _echo(_explain("lab-calico-ping", "cilium"))
    assert any(h.kind == HopKind.EBPF for h in p.hops)


def test_port_mismatch_is_a_refused_tunnel_packet() -> None:
    exp = _explain("lab-flannel-port-mismatch")
    (f,) = [f for f in exp.findings if f.id == "destination-unreachable"]
    assert f.severity.value == "problem" and f.details["tunnel_refused"]
    assert "port unreachable" in f.statement and "never decapsulated" in f.statement
    p = _echo(exp)
    assert p.unanswered and p.hops[-1].kind == HopKind.UNDERLAY and p.hops[-1].observed
    assert p.last_seen == p.hops[-1].place and p.hops[-1].node == "flannel-worker2"
    assert f.details["error_from"] == p.hops[-1].ip == "172.18.0.3"


def test_missing_fdb_stops_at_the_vtep() -> None:
    exp = _explain("lab-flannel-missing-fdb")
    p = _echo(exp)
    assert p.unanswered and p.hops[-1].kind == HopKind.TUNNEL
    assert p.hops[-1].device == "flannel.1" and p.hops[-1].observed
    (f,) = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert {str(e) for e in p.hops[-1].evidence} <= {str(e) for e in f.evidence}
    assert exp.counts["tunnelled_frames"] == 0


def test_proxy_arp_off_is_an_unanswered_gateway_arp() -> None:
    exp = _explain("lab-calico-proxy-arp-off")
    (f,) = [f for f in exp.findings if f.id == "arp-unanswered"]
    assert "169.254.1.1" in f.statement and "proxy_arp" in f.statement
    assert "Cilium" not in f.statement
    assert not [p for p in exp.paths if p.kind == "echo"]  # the ping never left the pod


def _vlan_tagged(src: Path, dst: Path, vid: int) -> None:
    """A copy of an Ethernet pcap with an 802.1Q tag (VLAN ``vid``) in every frame."""
    import struct

    data = src.read_bytes()
    assert struct.unpack_from("<I", data, 0)[0] in (0xA1B2C3D4, 0xA1B23C4D)
    assert struct.unpack_from("<I", data, 20)[0] == 1  # Ethernet
    out, at = bytearray(data[:24]), 24
    while at < len(data):
        sec, frac, caplen, wirelen = struct.unpack_from("<IIII", data, at)
        frame = data[at + 16 : at + 16 + caplen]
        tagged = frame[:12] + struct.pack("!HH", 0x8100, vid) + frame[12:]
        out += struct.pack("<IIII", sec, frac, caplen + 4, wirelen + 4) + tagged
        at += 16 + caplen
    dst.write_bytes(bytes(out))


def test_a_vlan_tagged_underlay_is_said(tmp_path: Path) -> None:
    folder = CAPTURES / "lab-flannel-ping"
    tagged = tmp_path / "node-worker-eth0.pcap"
    _vlan_tagged(folder / "node-worker-eth0.pcap", tagged, 100)
    cap = vxlanlens.read([str(tagged)], topology=[str(folder / "topology")])
    p = _echo(cap.explain())
    (sent,) = [h for h in p.hops if h.kind == HopKind.UNDERLAY and h.observed][:1]
    assert "VXLAN VNI 1 on VLAN 100" in sent.note


def test_a_stated_antrea_names_its_ovs_bridge_and_tunnel_port() -> None:
    # no Antrea capture has tunnelled frames: a Geneve lab capture, without dumps, explained
    # as Antrea draws Antrea's roles (and says nothing of Cilium on its hops)
    folder = CAPTURES / "lab-geneve-ipv6-ping"
    cap = vxlanlens.read([str(p) for p in sorted(folder.glob("*.pcap"))])
    exp = cap.explain(cni="antrea")
    echo = [p for p in exp.paths if p.kind == "echo" and p.hops]
    assert echo
    for p in echo:
        devices = {h.device for h in p.hops if h.kind in (HopKind.BRIDGE, HopKind.TUNNEL)}
        assert devices <= {"br-int", "antrea-tun0"} and "antrea-tun0" in devices
        assert not any(h.kind == HopKind.EBPF for h in p.hops)
    assert any("Antrea" in u and "the OVS hops" in u for u in exp.unknowns)


@pytest.mark.parametrize(
    ("cni", "name", "kind", "role"),
    [
        ("cilium", "lxc237a31216c0f", "lxc", "host-veth"),
        ("cilium", "cilium_geneve", "cilium_geneve", "tunnel"),
        ("cilium", "cilium_host", "cilium_host", "gateway"),
        ("flannel", "flannel.1", "other", "tunnel"),
        ("flannel", "flannel-v6.1", "other", "tunnel"),
        ("flannel", "cni0", "other", "bridge"),
        ("flannel", "veth3f2a9c71", "other", "host-veth"),
        ("calico", "cali1b7f3e90a5c", "other", "host-veth"),
        ("calico", "vxlan.calico", "other", "tunnel"),
        ("antrea", "antrea-tun0", "other", "tunnel"),
        ("antrea", "br-int", "other", "bridge"),
        ("antrea", "antrea-gw0", "other", "gateway"),
        ("calico", "eth0", "underlay", "underlay"),
        ("calico", "docker0", "other", None),
    ],
)
def test_datapath_roles(cni: str, name: str, kind: str, role: str | None) -> None:
    assert profile(cni).datapath.role(name, kind) == role


def test_tunnel_device_names_by_protocol() -> None:
    assert profile("flannel").datapath.tunnel_device("vxlan", 7) == "flannel.7"
    assert profile("flannel").datapath.tunnel_protocol("flannel.7") == "vxlan"
    assert profile("cilium").datapath.tunnel_device("geneve") == "cilium_geneve"
    assert profile("calico").datapath.tunnel_device("geneve") is None
    assert all(p.datapath.host_veth for p in map(profile, ("cilium", "flannel", "calico")))
