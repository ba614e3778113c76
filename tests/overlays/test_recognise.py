"""Overlay recognition: each CNI named from what is specific to it, nothing from generic traffic."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw
from scapy.utils import wrpcap
from testpaths import CAPTURES, PUBLIC, public_files

import vxlanlens
from vxlanlens.overlays import CNI_NAMES, recognise

NODE_A, NODE_B = "192.168.10.11", "192.168.10.12"
MAC_A, MAC_B = "02:42:c0:a8:0a:0b", "02:42:c0:a8:0a:0c"


def _read(tmp_path: Path, frames: list, name: str = "cap") -> vxlanlens.Capture:
    path = tmp_path / f"{name}.pcap"
    wrpcap(str(path), frames)
    return vxlanlens.read(str(path))


def _recognise(cap: vxlanlens.Capture, **kw):
    return recognise(cap.packets, cap.topology, cap.exchanges, **kw)


def _vxlan(sport: int, dport: int, vni: int, inner, outer=(NODE_A, NODE_B), macs=(MAC_A, MAC_B)):
    return (
        Ether(src=macs[0], dst=macs[1])
        / IP(src=outer[0], dst=outer[1])
        / UDP(sport=sport, dport=dport)
        / VXLAN(vni=vni, flags=0x08)
        / inner
    )


def _geneve(vni: int, inner: bytes, options: bytes = b"") -> bytes:
    """Ether/IPv4/UDP 6081/Geneve (version 0, options, protocol 0x6558) around ``inner``."""
    opt_len = len(options) // 4
    header = bytes([opt_len & 0x3F, 0x00, 0x65, 0x58]) + vni.to_bytes(3, "big") + b"\x00"
    return bytes(
        Ether(src=MAC_A, dst=MAC_B)
        / IP(src=NODE_A, dst=NODE_B)
        / UDP(sport=40000, dport=6081)
        / Raw(header + options + inner)
    )


@pytest.mark.parametrize("scenario", ["cilium-dual-stack", "lab-ipv6-ping", "lab-geneve-ipv6-ping"])
def test_shipped_cilium_scenarios(scenario: str) -> None:
    folder = CAPTURES / scenario
    cap = vxlanlens.read(
        sorted(str(p) for p in folder.glob("*.pcap*")), topology=str(folder / "topology")
    )
    rec = _recognise(cap)
    assert rec.name == "cilium" and rec.confidence == "high", rec.to_dict()
    assert any("cilium_" in s.text for s in rec.signals)


def test_cilium_without_dumps_from_the_datapath_alone() -> None:
    folder = CAPTURES / "lab-ipv6-ping"
    cap = vxlanlens.read(sorted(str(p) for p in folder.glob("*.pcap*")))
    rec = _recognise(cap)
    assert rec.name == "cilium" and rec.confidence in ("low", "medium"), rec.to_dict()
    assert not any("dumps" in s.text for s in rec.signals)


def test_calico_proxy_arp_and_veth_mac(tmp_path: Path) -> None:
    pod = "0a:58:0a:f4:01:05"
    frames = [
        Ether(src=pod, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=pod, psrc="10.244.1.5", pdst="169.254.1.1"),
        Ether(src="ee:ee:ee:ee:ee:ee", dst=pod)
        / ARP(op=2, hwsrc="ee:ee:ee:ee:ee:ee", psrc="169.254.1.1", hwdst=pod, pdst="10.244.1.5"),
        Ether(src=pod, dst="ee:ee:ee:ee:ee:ee") / IP(src="10.244.1.5", dst="10.244.2.7") / ICMP(),
    ]
    rec = _recognise(_read(tmp_path, frames))
    assert rec.name == "calico" and rec.confidence == "high", rec.to_dict()
    assert rec.is_("calico") and "Calico" in rec.sentence()


def test_flannel_defaults_and_routed_vtep_frames(tmp_path: Path) -> None:
    vtep_a, vtep_b = "3e:11:22:33:44:01", "3e:11:22:33:44:02"
    req = (
        Ether(src=vtep_a, dst=vtep_b)
        / IP(src="10.244.1.5", dst="10.244.2.7", ttl=63)
        / ICMP(type=8, id=7)
    )
    rep = (
        Ether(src=vtep_b, dst=vtep_a)
        / IP(src="10.244.2.7", dst="10.244.1.5", ttl=63)
        / ICMP(type=0, id=7)
    )
    frames = [
        _vxlan(51000, 8472, 1, req),
        _vxlan(52000, 8472, 1, rep, outer=(NODE_B, NODE_A), macs=(MAC_B, MAC_A)),
    ]
    rec = _recognise(_read(tmp_path, frames))
    assert rec.name == "flannel", rec.to_dict()
    assert rec.confidence == "low"  # defaults alone: a dump naming flannel.1 would raise it
    texts = " ".join(s.text for s in rec.signals)
    assert "VNI 1" in texts and "VTEP" in texts


def _vtep_echo(vni: int, port: int) -> list:
    """An echo routed into VTEPs both ways (inner TTL 63, inner MACs VTEP to VTEP)."""
    vtep_a, vtep_b = "3a:1c:5e:07:aa:01", "3a:1c:5e:07:aa:02"
    req = Ether(src=vtep_a, dst=vtep_b) / IP(src="10.42.3.17", dst="10.42.9.41", ttl=63)
    rep = Ether(src=vtep_b, dst=vtep_a) / IP(src="10.42.9.41", dst="10.42.3.17", ttl=63)
    return [
        _vxlan(51000, port, vni, req / ICMP(type=8, id=9)),
        _vxlan(52000, port, vni, rep / ICMP(type=0, id=9), (NODE_B, NODE_A), (MAC_B, MAC_A)),
    ]


def test_flannel_with_another_vni_on_its_port(tmp_path: Path) -> None:
    # flannel.<VNI> with VNI 7: its port and the VTEP-to-VTEP frames still name it (it was
    # "not recognised", then drawn and judged on Cilium's datapath: VNI 7 "kube-apiserver")
    rec = _recognise(_read(tmp_path, _vtep_echo(7, 8472)))
    assert rec.name == "flannel" and rec.confidence == "low", rec.to_dict()
    assert any("8472" in s.text for s in rec.signals)


def test_vtep_frames_rule_cilium_out_when_nothing_is_recognised(tmp_path: Path) -> None:
    from vxlanlens.explain import CILIUM_FINDINGS

    cap = _read(tmp_path, _vtep_echo(7, 4789))
    rec = _recognise(cap)
    assert rec.name is None and "cilium" in rec.ruled_out, rec.to_dict()
    assert rec.to_dict()["ruled_out"]["cilium"].startswith("inner frames routed")
    exp = cap.explain()
    assert not [f.id for f in exp.findings if f.id in CILIUM_FINDINGS]
    words = " ".join(f"{h.place} {h.note}" for p in exp.paths for h in (*p.hops, *p.reply_hops))
    for cilium_word in ("cilium", "eBPF", "lxc"):
        assert cilium_word not in words, cilium_word
    assert "VXLAN device" in words
    assert any("Not Cilium" in str(u) for u in exp.unknowns)


def _l2_segment(*, pod_frames: bool) -> list:
    """Two hosts of one subnet behind two VTEPs: an ARP exchange and an echo inside VXLAN 4789;
    with ``pod_frames`` the echo carries each sender's own MAC pair (pod MAC to its veth, as
    Cilium's tunnel does) instead of the two hosts' MACs swapped."""
    host_a, host_b = "00:16:3e:00:00:0a", "00:16:3e:00:00:0b"
    arp_q = Ether(src=host_a, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=host_a, psrc="10.77.0.5", pdst="10.77.0.9"
    )
    arp_a = Ether(src=host_b, dst=host_a) / ARP(
        op=2, hwsrc=host_b, psrc="10.77.0.9", hwdst=host_a, pdst="10.77.0.5"
    )
    req_macs = ("02:aa:00:00:00:0a", "02:bb:00:00:00:0a") if pod_frames else (host_a, host_b)
    rep_macs = ("02:aa:00:00:00:0b", "02:bb:00:00:00:0b") if pod_frames else (host_b, host_a)
    req = Ether(src=req_macs[0], dst=req_macs[1]) / IP(src="10.77.0.5", dst="10.77.0.9")
    rep = Ether(src=rep_macs[0], dst=rep_macs[1]) / IP(src="10.77.0.9", dst="10.77.0.5")
    back = ((NODE_B, NODE_A), (MAC_B, MAC_A))
    return [
        _vxlan(51000, 4789, 100, arp_q),
        _vxlan(52000, 4789, 100, arp_a, *back),
        _vxlan(51000, 4789, 100, req / ICMP(type=8, id=3)),
        _vxlan(52000, 4789, 100, rep / ICMP(type=0, id=3), *back),
    ]


def test_arp_across_the_tunnel_rules_cilium_out_and_draws_a_bridged_segment(
    tmp_path: Path,
) -> None:
    # Cilium's eBPF program answers a pod's ARP on the pod's veth: ARP never enters its tunnel
    cap = _read(tmp_path, _l2_segment(pod_frames=False))
    rec = _recognise(cap)
    assert rec.name is None and rec.bridged, rec.to_dict()
    assert rec.ruled_out["cilium"].startswith("ARP or Neighbor Discovery carried inside")
    assert rec.profile.datapath.forwarder == "bridge"
    exp = cap.explain()
    words = " ".join(f"{h.place} {h.note}" for p in exp.paths for h in (*p.hops, *p.reply_hops))
    for wrong in ("cilium", "eBPF", "lxc", "routes the packet"):
        assert wrong not in words, wrong
    assert "encapsulates the host's frame unchanged" in words


def test_arp_across_the_tunnel_with_per_sender_inner_macs_keeps_cilium(tmp_path: Path) -> None:
    # the pods' own frames in the tunnel (each direction its sender's MACs) are Cilium's
    # signature: an ARP inside the tunnel beside them rules nothing out
    rec = _recognise(_read(tmp_path, _l2_segment(pod_frames=True)))
    assert not rec.bridged and "cilium" not in rec.ruled_out, rec.to_dict()


def test_antrea_virtual_mac(tmp_path: Path) -> None:
    inner = bytes(
        Ether(src="0a:9c:e7:69:81:99", dst="aa:bb:cc:dd:ee:ff")
        / IP(src="10.244.1.3", dst="10.244.2.4")
        / ICMP()
    )
    rec = _recognise(_read(tmp_path, [Ether(_geneve(0, inner))]))
    assert rec.name == "antrea" and rec.confidence == "medium", rec.to_dict()


def test_ovn_geneve_option_class(tmp_path: Path) -> None:
    inner = bytes(Ether(src="0a:58:0a:f4:01:05", dst="0a:58:0a:f4:01:01") / IP() / ICMP())
    option = (0x0102).to_bytes(2, "big") + bytes([0x80, 0x01]) + b"\x00\x01\x00\x02"
    rec = _recognise(_read(tmp_path, [Ether(_geneve(5, inner, option))]))
    assert rec.name == "ovn", rec.to_dict()


def test_stated_overlay_keeps_the_other_evidence() -> None:
    folder = CAPTURES / "lab-ipv6-ping"
    cap = vxlanlens.read(
        sorted(str(p) for p in folder.glob("*.pcap*")), topology=str(folder / "topology")
    )
    rec = _recognise(cap, stated="flannel")
    assert rec.name == "flannel" and rec.confidence == "stated"
    assert any(s.profile == "cilium" for s in rec.others)
    with pytest.raises(ValueError, match="unknown CNI"):
        _recognise(cap, stated="weave")
    assert set(CNI_NAMES) == {"cilium", "flannel", "calico", "antrea", "ovn"}


@pytest.mark.corpus
def test_antrea_packetcapture_files_are_recognised_as_antrea() -> None:
    """The public Antrea captures hold pod traffic to 8.8.8.8 and nothing of Antrea's datapath;
    their files are written the way Antrea's PacketCapture writes (gopacket's pcapng writer,
    one interface intf0 with snap length 65536): Antrea with low confidence, from the files; no
    other third-party capture is named by its file."""
    files = public_files()
    if not files:
        pytest.skip("third-party corpus absent")
    by_file: dict[str, tuple[str | None, str]] = {}
    for f in files:
        try:
            cap = vxlanlens.read(str(f))
        except vxlanlens.VxlanlensError:
            continue
        rec = _recognise(cap, captures=[s.to_dict() for s in cap.sources])
        by_file[f.relative_to(PUBLIC).as_posix()] = (rec.name, rec.confidence)
    antrea = {k: v for k, v in by_file.items() if k.startswith("antrea/")}
    assert antrea and set(antrea.values()) == {("antrea", "low")}, antrea
    others = {k: v for k, v in by_file.items() if not k.startswith("antrea/") and v[0]}
    assert others == {}


def test_packetcapture_fingerprint_needs_every_part() -> None:
    from vxlanlens.overlays.antrea import written_by_packetcapture

    entry = {"application": "gopacket",
             "interfaces": [{"name": "intf0", "linktype": 1, "snaplen": 65536}]}  # fmt: skip
    assert written_by_packetcapture(entry)
    for change in ({"application": "dumpcap"}, {"application": None}):
        assert not written_by_packetcapture({**entry, **change})
    for iface in ({"snaplen": 262144}, {"name": "eth0"}, {"linktype": 276}):
        assert not written_by_packetcapture(
            {**entry, "interfaces": [{**entry["interfaces"][0], **iface}]}
        )
    assert not written_by_packetcapture({**entry, "interfaces": entry["interfaces"] * 2})


@pytest.mark.corpus
def test_third_party_captures_name_no_overlay() -> None:
    files = public_files()
    if not files:
        pytest.skip("third-party corpus absent")
    named = []
    for f in files:
        try:
            cap = vxlanlens.read(str(f))
        except vxlanlens.VxlanlensError:
            continue
        rec = _recognise(cap)
        if rec.name is not None:
            named.append((f.name, rec.name, rec.confidence))
    assert named == []


def test_cilium_geneve_node_capture_alone() -> None:
    """A node's underlay capture of Cilium on Geneve, requests and replies with one identity
    (so no VNI difference): the identity-range VNI on 6081 and the per-sender inner MACs name
    Cilium with low confidence."""
    cap = vxlanlens.read(str(CAPTURES / "lab-geneve-ipv6-ping" / "node-worker-eth0.pcap"))
    rec = _recognise(cap)
    assert rec.name == "cilium" and rec.confidence == "low", rec.to_dict()
    assert any("security identities" in s.text for s in rec.signals)


@pytest.mark.parametrize(
    ("dport", "vnis", "named"),
    [(8472, (1000, 1000), False), (8472, (0, 300), False), (4789, (300, 301), False)],
)
def test_identity_vnis_alone_name_nothing(
    tmp_path: Path, dport: int, vnis: tuple[int, int], named: bool
) -> None:
    """The identity-range VNI signal is weak: alone it names no overlay, and it is not given
    off Cilium's default ports or with a VNI 0 (Antrea's)."""
    frames = [
        _vxlan(
            51000 + i,
            dport,
            vni,
            Ether(src=MAC_A, dst=MAC_B) / IP(src="10.1.0.5", dst="10.2.0.7") / ICMP(),
        )
        for i, vni in enumerate(vnis)
    ]
    rec = _recognise(_read(tmp_path, frames))
    assert (rec.name is not None) == named, rec.to_dict()
    ident = [s for s in rec.signals + rec.others if "security identities" in s.text]
    assert bool(ident) == (dport == 8472 and min(vnis) > 0), rec.to_dict()
