"""Captures built apart from the lab (lab/heldout.py, captures/heldout-*): Flannel on another VNI,
a VNI mismatch between differently named devices, a dual-stack MTU. Each test names what the
explanation got wrong before it was checked on these captures."""

from __future__ import annotations

from pathlib import Path

import pytest
from testpaths import CAPTURES

import vxlanlens
from vxlanlens.explain import CILIUM_FINDINGS, Explanation


def _explain(name: str, *, dumps: bool) -> Explanation:
    folder = CAPTURES / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not shipped")
    caps = sorted(str(p) for p in folder.glob("*.pcap"))
    topo = None
    if dumps:
        t = folder / "topology"
        topo = [str(t / "kubectl-get-pods-o-wide.txt")]
        for d in sorted(p for p in t.iterdir() if p.is_dir()):
            node = {"ho-p1a": "ho-n1/ho-p1a", "ho-p2a": "ho-n2/ho-p2a"}.get(d.name, d.name)
            topo.append(f"{node}={d}")
    return vxlanlens.read(caps, topology=topo).explain()


def _words(exp: Explanation) -> str:
    return " ".join(f"{h.place} {h.note}" for p in exp.paths for h in (*p.hops, *p.reply_hops))


def test_flannel_on_vni_7_from_captures_alone_is_flannel_not_cilium() -> None:
    exp = _explain("heldout-flannel-vni7", dumps=False)
    overlay = exp.topology["overlay"]
    assert overlay["name"] == "flannel", overlay
    assert not [f.id for f in exp.findings if f.id in CILIUM_FINDINGS]
    words = _words(exp)
    for cilium_word in ("cilium_vxlan", "eBPF", "lxc veth"):
        assert cilium_word not in words, cilium_word
    assert "flannel.7" in words


def test_dual_stack_route_mtu_names_only_the_family_that_does_not_fit() -> None:
    exp = _explain("heldout-flannel-vni7", dumps=True)
    found = [f for f in exp.findings if f.id == "route-mtu-too-large"]
    assert found
    for f in found:
        assert "IPv6 packets of 1381 to 1400 bytes" in f.statement, f.statement
        assert "IPv4" not in f.statement, f.statement
        assert f.details["should_be"] == 1380 and f.details["overhead"] == 70
        cited = " ".join(str(e) for e in f.evidence)
        assert "ip-6-r.txt" in cited and "/ip-r.txt" not in cited, cited


def test_vni_mismatch_between_differently_named_devices_is_named() -> None:
    exp = _explain("heldout-flannel-vni-mismatch", dumps=True)
    (f,) = [f for f in exp.findings if f.id == "tunnel-config-mismatch"]
    assert f.severity == "problem"
    assert f.details["values"] == {"ho-n1": 7, "ho-n2": 8}
    assert "flannel.7" in f.statement and "flannel.8" in f.statement
    assert "carry VNI 7 where its flannel.8 has 8" in f.statement


def test_packet_too_big_is_compared_with_the_ipv6_limit() -> None:
    exp = _explain("heldout-flannel-mtu", dumps=True)
    (ptb,) = [f for f in exp.findings if f.id == "packet-too-big"]
    assert "path MTU is 1380" in ptb.statement
    assert "at most 1380 bytes" in ptb.statement and "agrees" in ptb.statement
    (big,) = [f for f in exp.findings if f.id == "mtu-exceeded"]
    assert big.details["limit"] == 1380 and big.details["packets"] == 1
    # the 1400-byte IPv4 pings with DF crossed: no finding is about them
    for f in exp.findings:
        assert "IPv4 packets with DF" not in f.statement, f.statement


def test_shipped_heldout_folders_have_their_readme() -> None:
    folders = sorted(Path(CAPTURES).glob("heldout-*"))
    if not folders:
        pytest.skip("no held-out captures shipped")
    for folder in folders:
        text = (folder / "README.md").read_text(encoding="utf-8")
        assert "lab/heldout.py" in text and "What vxlanlens must conclude" in text


@pytest.mark.parametrize("dumps", [False, True])
def test_dual_stack_underlay_nodes_are_two_and_captures_placed(dumps: bool) -> None:
    # Each node tunnels IPv4 over its IPv4 address and IPv6 over its IPv6 one: the four outer
    # addresses were four nodes, and every node eth0 capture "capture point mixed".
    exp = _explain("heldout-flannel-vni7", dumps=dumps)
    assert len(exp.topology["nodes"]) == 2, exp.topology["nodes"]
    points = {p["capture"]: p for p in exp.topology["capture_points"]}
    for cap in ("n1-eth0", "n2-eth0"):
        assert points[cap]["kind"] == "node" and points[cap]["node"], points[cap]
    assert points["n1-eth0"]["node"] != points["n2-eth0"]["node"]


@pytest.mark.parametrize("dumps", [False, True])
def test_same_node_pods_on_one_bridge_are_not_drawn_through_the_tunnel(dumps: bool) -> None:
    # ho-p1a pings ho-p1b on the same cni0: the ARP is answered by ho-p1b itself and the echo
    # goes pod MAC to pod MAC with TTL 64. The answer was taken for ho-p1a's host veth (a
    # topology conflict) and the echo drawn through flannel.7, the underlay and back.
    from vxlanlens.proto import HopKind

    exp = _explain("heldout-flannel-vni7", dumps=dumps)
    (path,) = [p for p in exp.paths if p.kind == "echo" and p.dst_ip == "10.42.3.33"]
    kinds = {h.kind for h in (*path.hops, *path.reply_hops)}
    assert HopKind.TUNNEL not in kinds and HopKind.NETWORK not in kinds, kinds
    assert any("bridges the frame" in h.note for h in path.hops)
    (arp,) = [p for p in exp.paths if p.kind == "arp" and p.dst_ip == "10.42.3.33"]
    assert arp.reply_hops[0].place == "pod 10.42.3.33 eth0"
    assert not [c for c in exp.topology["conflicts"] if "host_mac" in str(c)]


def test_ipv6_pod_traffic_names_the_ipv6_tunnel_device() -> None:
    # flannel.7 carries IPv4 (local 10.99.0.21), flannel-v6.7 IPv6 (local fd99:0:0:7::21):
    # the IPv6 paths named flannel.7, while their inner MACs were flannel-v6.7's
    from vxlanlens.proto import HopKind

    exp = _explain("heldout-flannel-vni7", dumps=True)
    for path in exp.paths:
        if path.kind != "echo" or path.dst_ip not in ("fd42:0:0:9::29", "10.42.9.41"):
            continue
        devices = {h.place.split(" on ")[0] for h in path.hops if h.kind == HopKind.TUNNEL}
        want = "flannel-v6.7" if ":" in str(path.dst_ip) else "flannel.7"
        assert devices == {want}, (path.dst_ip, devices)


def test_a_pod_is_placed_on_the_node_whose_gateway_answered_its_arp() -> None:
    # captures alone: the pod's ARP for its gateway, answered by cni0 of node 10.99.0.21, was
    # drawn under "node not known" while its echo path placed it on that node
    exp = _explain("heldout-flannel-vni7", dumps=False)
    arps = [
        p
        for p in exp.paths
        if p.kind == "arp"
        and p.src_ip == "10.42.3.17"
        and any(h.kind == "bridge" for h in p.reply_hops)
    ]
    assert arps
    for arp in arps:
        gateway = [h for h in arp.reply_hops if h.kind == "bridge"]
        assert gateway[0].node
        pod_hops = [h for h in (*arp.hops, *arp.reply_hops) if h.kind == "pod-eth0"]
        assert pod_hops and {h.node for h in pod_hops} == {gateway[0].node}


@pytest.mark.parametrize("dumps", [False, True])
def test_one_l2_segment_over_vxlan_is_drawn_bridged(dumps: bool) -> None:
    # ARP and NS flooded across the tunnel, answered by the peer pod itself: not Cilium, no
    # gateway, no host veth, the crossing frames cited, each pod on its own node
    exp = _explain("heldout-l2-segment", dumps=dumps)
    assert "ARP or Neighbor Discovery" in exp.topology["overlay"]["ruled_out"]["cilium"]
    assert not [f for f in exp.findings if str(f.severity) != "info"]
    assert not [f.id for f in exp.findings if f.id in CILIUM_FINDINGS]
    words = _words(exp)
    for wrong in ("cilium", "eBPF", "lxc", "routes the packet", "gateway"):
        assert wrong not in words, wrong
    assert ("vxlan100 on" in words) == dumps
    for p in exp.paths:
        if p.kind not in ("arp", "nd"):
            continue
        asker, answerer = p.hops[0], p.reply_hops[0]
        assert asker.node and answerer.node and asker.node != answerer.node
        crossing = [h for h in (*p.hops, *p.reply_hops) if h.kind == "network" and h.observed]
        assert len(crossing) == 2, p.summary
    # the receiving pod's capture is not the sender's: a reply seen at ho-p1a was sent elsewhere
    for p in exp.paths:
        if p.kind == "echo" and p.reply_hops:
            assert not p.reply_hops[0].observed, p.summary
    assert not exp.topology.get("conflicts")
