"""Unanswered requests seen only at a capture point that could not show an answer, and
exchanges counted once however many captures saw them."""

from __future__ import annotations

import re
from pathlib import Path

from testpaths import CAPTURES

import vxlanlens


def test_one_way_tunnel_capture_does_not_claim_losses(public_dir: Path) -> None:
    """A cloud Geneve capture carries one tunnel direction only: SYNs from hosts nothing is
    ever addressed to are not losses; echo requests from a host the capture does see traffic
    for stay problems."""
    exp = vxlanlens.read(str(public_dir / "tx-gwlb-for-demo" / "geneve.pcap")).explain()
    syns = [f for f in exp.findings if f.id == "tcp-unanswered"]
    assert syns and all(f.severity == "info" for f in syns)
    assert all(f.details["one_way_captures"] == ["geneve"] for f in syns)
    assert all("do not show a loss" in f.statement for f in syns)
    echoes = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert echoes and all(f.severity == "problem" for f in echoes)
    assert all("one_way_captures" not in f.details for f in echoes)


def test_antrea_packetcapture_file_does_not_claim_losses(public_dir: Path, tmp_path: Path) -> None:
    """Antrea's PacketCapture records one direction by default: its file of echo requests with
    no reply shows no loss (info, "not answered in the captures", the tool named). The same
    frames in a file of another writer stay a problem."""
    src = public_dir / "antrea" / "pr7000" / "capture.pcapng"
    exp = vxlanlens.read(str(src)).explain()
    (f,) = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert f.severity == "info" and f.details["one_way_captures"] == ["capture"]
    assert "not answered in the captures" in f.statement and "never" not in f.statement
    assert "PacketCapture" in f.statement and "do not show a loss" in f.statement
    assert exp.captures[0]["application"] == "gopacket"
    assert exp.captures[0]["interfaces"] == [{"name": "intf0", "linktype": 1, "snaplen": 65536}]
    assert exp.topology["overlay"]["name"] == "antrea"
    from scapy.utils import rdpcap, wrpcap

    copy = tmp_path / "capture.pcap"
    wrpcap(str(copy), rdpcap(str(src)))
    again = vxlanlens.read(str(copy)).explain()
    (g,) = [g for g in again.findings if g.id == "echo-unanswered"]
    assert g.severity == "problem" and "one_way_captures" not in g.details
    assert again.topology["overlay"]["name"] is None


def test_a_lost_echo_in_an_overlay_stays_a_problem() -> None:
    d = CAPTURES / "lab-no-such-pod"
    exp = vxlanlens.read(
        sorted(str(p) for p in d.glob("*.pcap")), topology=str(d / "topology")
    ).explain()
    lost = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert len(lost) == 2 and all(f.severity == "problem" for f in lost)


def test_exchanges_counted_once_across_captures() -> None:
    d = CAPTURES / "lab-mtu-outer-frag"
    cap = vxlanlens.read(sorted(str(p) for p in d.glob("*.pcap")), topology=str(d / "topology"))
    exp = cap.explain()
    # 3 IPv4 and 3 IPv6 pings, each seen at several of the 6 captures
    assert exp.counts["echo_answered"] == 6
    assert exp.counts["exchange_rows"] == len(cap.exchanges) > exp.counts["exchanges"]


def test_a_node_wire_that_shows_both_directions_is_no_one_way_capture() -> None:
    """Only the two nodes' eth0 captures of the VNI-mismatch scenario: the echo request went one
    way inside VXLAN and nothing came back, but the same captures hold the nodes' ARP in both
    directions, so they could have shown an answer: the echo stays a problem (it was downgraded
    to info as if the captures were a one-way mirror feed)."""
    d = CAPTURES / "lab-calico-vni-mismatch"
    exp = vxlanlens.read(sorted(str(p) for p in d.glob("node-*-eth0.pcap"))).explain()
    (lost,) = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert lost.severity == "problem" and "one_way_captures" not in lost.details
    assert "never answered" in lost.statement


def test_a_nodes_arp_seen_only_away_from_it_is_no_loss() -> None:
    """A node's ARP for its router, seen only as a broadcast received on another node's `-i any`
    capture: the unicast answer could not show there, so it is info, not "never answered"
    with a pod's gateway reason (it was a problem blaming Calico's proxy ARP)."""
    d = CAPTURES / "lab-calico-crosssubnet"
    exp = vxlanlens.read(str(d / "node-worker2-any.pcap")).explain()
    (f,) = [f for f in exp.findings if f.id == "arp-unanswered"]
    assert f.severity == "info", f.statement
    assert "proxy ARP" not in f.statement and "is no pod" in f.statement
    assert "do not show a loss" in f.statement
    # with the requester's own -i any capture, which shows the answer, there is nothing to say
    both = vxlanlens.read([str(d / "node-worker2-any.pcap"), str(d / "node-worker-any.pcap")])
    assert not [f for f in both.explain().findings if f.id == "arp-unanswered"]


def test_a_nodes_arp_where_the_asker_may_be_captured_is_a_warning() -> None:
    """The same broadcast also on an Ethernet capture of the link between the asker and another
    node (which of the two it was taken on cannot be told): not a loss nor no loss, a warning
    that says no capture is known to be on the asker's link."""
    d = CAPTURES / "lab-calico-crosssubnet"
    exp = vxlanlens.read([str(d / "node-worker2-eth0.pcap"), str(d / "node-worker2-any.pcap")])
    (f,) = [f for f in exp.explain().findings if f.id == "arp-unanswered"]
    assert f.severity == "warning" and "not answered in the captures" in f.statement
    # the other node, which answers ARP and routes pods' packets, is no pod
    text = (d / "topology" / "calico-worker2" / "ip-a.txt").read_text()
    found = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", text.split(": eth0")[1])
    assert found is not None
    assert exp.topology.pod_by_ip(found.group(1)) is None
    assert exp.topology.node_by_ip(found.group(1)) is not None
