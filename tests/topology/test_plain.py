"""The topology of an input that shows no overlay (``Topology.as_plain``,
``Capture.shows_overlay``): the hosts an inference took for pods are hosts, and no capture is
placed at one; ``vxlanlens topology`` shows it so, as ``explain`` draws host-to-host paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import wrpcap
from testpaths import CAPTURES

import vxlanlens
from vxlanlens.cli import cli
from vxlanlens.topology.model import PLAIN_UNPLACED

A_MAC, B_MAC = "02:00:00:00:0a:01", "02:00:00:00:0b:02"
A_IP, B_IP = "192.168.50.10", "192.168.50.20"


def _lan(path: Path) -> Path:
    """A host's capture on its LAN: it resolves a neighbour by ARP and pings it."""
    frames = [
        Ether(src=A_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=A_MAC, psrc=A_IP, pdst=B_IP),
        Ether(src=B_MAC, dst=A_MAC) / ARP(op=2, hwsrc=B_MAC, psrc=B_IP, hwdst=A_MAC, pdst=A_IP),
        Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP) / ICMP(id=7, seq=1),
        Ether(src=B_MAC, dst=A_MAC) / IP(src=B_IP, dst=A_IP) / ICMP(type=0, id=7, seq=1),
    ]
    for k, f in enumerate(frames):
        f.time = 1_700_000_000.0 + k * 0.001
    wrpcap(str(path), frames)
    return path


def _overlay_captures() -> list[str]:
    folder = CAPTURES / "lab-ipv4-ping"
    if not folder.is_dir():
        pytest.skip(f"{folder} not shipped")
    return sorted(str(p) for p in folder.glob("*.pcap*"))


def _topology(*args: str) -> str:
    res = CliRunner().invoke(cli, ["topology", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_a_lan_capture_shows_no_overlay_and_explain_agrees(tmp_path: Path) -> None:
    cap = vxlanlens.read(str(_lan(tmp_path / "lan.pcap")))
    assert cap.shows_overlay() is False
    assert cap.shows_overlay(cni="cilium") is True  # a stated overlay is one
    assert cap.explain().topology["overlay_shown"] is False
    assert cap.explain(cni="cilium").topology["overlay_shown"] is True
    # the inference alone still reads the answering host as a pod: the plain view renames it
    assert [p.label for p in cap.topology.pods] == [f"pod {B_IP}"]


def test_as_plain_makes_pods_hosts_and_unplaces_their_captures(tmp_path: Path) -> None:
    topo = vxlanlens.read(str(_lan(tmp_path / "lan.pcap"))).topology
    assert [(c.kind, c.pod) for c in topo.captures] == [("pod", f"pod {B_IP}")]
    plain = topo.as_plain()
    assert plain.pods == [] and [h.mac for h in plain.hosts] == [B_MAC]
    assert [(c.kind, c.pod, c.how) for c in plain.captures] == [("unknown", None, PLAIN_UNPLACED)]
    keys = [getattr(u, "key", "") for u in plain.unknown]
    assert "overlay" in keys and "pod-names" not in keys and "node-addresses" not in keys
    assert "interface-names" in keys  # what is still not known stays
    # the topology it came from is unchanged
    assert topo.pods and topo.hosts == [] and topo.captures[0].kind == "pod"
    d = plain.to_dict()
    assert d["pods"] == [] and [h["label"] for h in d["hosts"]] == [f"host {B_IP}"]
    assert set(d["hosts"][0]) == {
        "label",
        "ips",
        "mac",
        "source",
        "confidence",
        "evidence",
        "field_sources",
    }
    assert topo.to_dict()["hosts"] == []


def test_topology_command_lists_hosts_of_a_lan_capture(tmp_path: Path) -> None:
    path = str(_lan(tmp_path / "lan.pcap"))
    text = _topology(path)
    assert "Hosts (1)" in text and f"host {B_IP}" in text
    assert "Pods (" not in text and f"pod {B_IP}" not in text
    assert PLAIN_UNPLACED in text and "nothing in the input shows one" in text
    assert "pod names" not in text
    d = json.loads(_topology(path, "-f", "json"))
    assert d["pods"] == [] and d["hosts"][0]["mac"] == B_MAC
    assert d["captures"][0]["kind"] == "unknown" and d["captures"][0]["pod"] is None


def test_topology_command_keeps_the_pods_of_an_overlay_capture() -> None:
    caps = _overlay_captures()
    assert vxlanlens.read(caps).shows_overlay() is True
    d = json.loads(_topology(*caps, "-f", "json"))
    assert d["pods"] and d["hosts"] == []
    assert "Pods (" in _topology(*caps)


def test_an_answering_mac_is_a_host_not_a_veth(public_dir: Path) -> None:
    """Zeek's snap-arp: 10.0.0.1 asks for 10.0.0.2 and c2:3c:19:6c:00:01 answers. The inference
    reads the asker as a pod and the answer as its lxc veth (Cilium answers a pod's ARP for its
    gateway); nothing shows an overlay, so both are hosts and the neighbour is the asker's."""
    cap = vxlanlens.read(str(public_dir / "zeek" / "snap-arp.pcapng"))
    assert cap.shows_overlay() is False
    assert [i.kind for i in cap.topology.interfaces] == ["lxc"]  # the inference's reading
    plain = cap.topology.as_plain()
    assert sorted((h.ips[0], h.mac) for h in plain.hosts) == [
        ("10.0.0.1", "c2:3d:19:6c:00:01"),
        ("10.0.0.2", "c2:3c:19:6c:00:01"),
    ]
    assert plain.interfaces == [] and plain.pods == []
    (nb,) = plain.neighbors
    assert nb.namespace == "host 10.0.0.1" and nb.source.note == "ARP exchange"
    # the facts (not the "Not known" lines, which say why no pod is named)
    facts = plain.format_table().split("Not known")[0]
    for word in ("pod", "lxc", "veth", "gateway"):
        assert word not in facts.replace("pod  how", ""), word  # the captures' column header
