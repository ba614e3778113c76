"""`explain` on Calico's VXLAN CrossSubnet mode (captures/lab-calico-crosssubnet): the pair of
nodes in one subnet is routed natively (no tunnel hop, the nodes' eth0 MACs carry the pod's
packet, TTL 64 → 63 → 62), the pair across subnets goes through vxlan.calico; the overlay is
Calico and no finding claims a missing tunnel or traffic outside the overlay."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import Explanation, PacketPath
from vxlanlens.proto import HopKind

FOLDER = Path(__file__).resolve().parents[2] / "captures" / "lab-calico-crosssubnet"
WRONG = ("missing-fdb-entry", "tunnel-config-mismatch", "stale-vtep-mac", "echo-unanswered")
"""Findings that would call the natively routed pair a broken or missing tunnel."""
NATIVE = [
    HopKind.POD_ETH0, HopKind.LXC, HopKind.UNDERLAY, HopKind.NETWORK, HopKind.UNDERLAY,
    HopKind.LXC, HopKind.POD_ETH0,
]  # fmt: skip
"""Hop kinds of a natively routed pair: pod, its veth, node eth0, network, node eth0, ..."""


@cache
def _explain() -> Explanation:
    caps = sorted(str(p) for p in FOLDER.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{FOLDER} not shipped")
    return vxlanlens.read(caps, topology=[str(FOLDER / "topology")]).explain()


def _node(name: str) -> tuple[str, str]:
    """(eth0 MAC, IPv4) of a node, from its own ``ip a`` dump."""
    text = (FOLDER / "topology" / name / "ip-a.txt").read_text()
    block = text.split(": eth0")[1]
    mac = re.search(r"link/ether (\S+)", block)
    ip = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", block)
    assert mac and ip
    return mac.group(1), ip.group(1)


def _pods() -> dict[str, tuple[str, str]]:
    """Pod IP → (pod name, node name), from the kubectl dump."""
    rows = (FOLDER / "topology" / "kubectl-get-pods-o-wide.txt").read_text().splitlines()[1:]
    return {r.split()[5]: (r.split()[0], r.split()[6]) for r in rows}


def _echo(exp: Explanation, node: str) -> PacketPath:
    """The echo path from the first pod to the pod on ``node``."""
    dst = {n: ip for ip, (_p, n) in _pods().items()}[node]
    (p,) = [p for p in exp.paths if p.kind == "echo" and p.dst_ip == dst]
    return p


def test_overlay_is_calico() -> None:
    assert _explain().topology["overlay"]["name"] == "calico"


def test_same_subnet_pair_is_routed_natively_with_node_macs() -> None:
    exp = _explain()
    path = _echo(exp, "calico-worker2")
    assert [h.kind for h in path.hops] == NATIVE
    assert all(h.tunnel is None and h.vni is None for h in path.hops + path.reply_hops)
    mac_a, ip_a = _node("calico-worker")
    mac_b, ip_b = _node("calico-worker2")
    out, _net, into = path.hops[2], path.hops[3], path.hops[4]
    assert (out.node, out.ip, into.node, into.ip) == ("calico-worker", ip_a, "calico-worker2", ip_b)
    assert out.observed and into.observed
    for hop in (out, into):  # each MAC named by its interface: the nodes' eth0 carry the pod IPs
        assert "not encapsulated" in hop.note
        assert f"{mac_a} (eth0 on calico-worker) → {mac_b} (eth0 on calico-worker2)" in hop.note
        assert "TTL 63" in hop.note
    assert "CrossSubnet" in out.note
    assert any(e.capture == "node-worker-eth0" for e in out.evidence)
    assert any(e.capture == "node-worker2-eth0" for e in into.evidence)
    assert path.hops[0].note.endswith("TTL 64") and path.hops[-1].note.endswith("TTL 62")
    # the reply, the other way round
    back = path.reply_hops
    assert [h.kind for h in back].count(HopKind.TUNNEL) == 0
    assert f"{mac_b} (eth0 on calico-worker2) → {mac_a} (eth0 on calico-worker)" in back[2].note


def test_cross_subnet_pair_goes_through_vxlan_calico() -> None:
    path = _echo(_explain(), "calico-worker3")
    tunnels = [h for h in path.hops if h.kind == HopKind.TUNNEL]
    assert [h.place for h in tunnels] == [
        "vxlan.calico on calico-worker", "vxlan.calico on calico-worker3",
    ]  # fmt: skip
    sent = next(h for h in path.hops if h.kind == HopKind.UNDERLAY)
    assert (sent.tunnel, sent.vni, sent.outer_dst_port) == ("vxlan", 4096, 4789)
    assert sent.outer_dst_ip == _node("calico-worker3")[1]
    assert "TTL 63" in sent.note and path.hops[-1].note.endswith("TTL 62")


def test_no_finding_calls_native_routing_a_broken_tunnel() -> None:
    exp = _explain()
    assert [f.id for f in exp.findings if f.id in WRONG] == []
    assert [f.id for f in exp.findings if f.severity.value == "problem"] == []
    for f in exp.findings:
        low = f.statement.lower()
        assert "escap" not in low and "outside the tunnel" not in low, f.statement
        assert "cilium" not in low and "lxc" not in low, f.statement


def test_unknown_router_macs_show_the_addresses_they_claim() -> None:
    """The underlay router between the subnets is in no dump: unknown-mac names each of its MACs
    with the address it claimed in ARP (the nodes' gateway), in words and in details."""
    cap = vxlanlens.read(
        [str(p) for p in sorted(FOLDER.glob("*.pcap"))], topology=[str(FOLDER / "topology")]
    )
    exp = cap.explain()
    finding = next(f for f in exp.findings if f.id == "unknown-mac")
    ex = cap.exchanges
    arp = ex[ex["kind"].astype(str) == "arp"]
    pairs = {
        (str(m), str(ip))
        for mc, ic in (("responder_mac", "responder_ip"), ("requester_mac", "requester_ip"))
        for m, ip in zip(arp[mc], arp[ic], strict=True)
    }
    for mac in finding.details["macs"]:
        said = sorted({ip for m, ip in pairs if m == mac})
        assert said, f"{mac} answered or sent an ARP request"
        assert sorted(finding.details["claimed_ips"][mac]) == said
        assert f"{mac} (claims " in finding.statement


def test_ladder_draws_native_routing_outside_a_tunnel() -> None:
    """The ladder of the natively routed pair has no tunnelled arrow (it drew eth0 → eth0 as a
    tunnel); the pair across subnets still has them."""
    from vxlanlens.report.sequence import sequence

    exp = _explain()
    native = exp.paths.index(_echo(exp, "calico-worker2"))
    arrows = sequence(exp, native).arrows
    assert arrows and not any(a.tunnelled for a in arrows)
    across = exp.paths.index(_echo(exp, "calico-worker3"))
    assert any(a.tunnelled for a in sequence(exp, across).arrows)


@cache
def _frames_only() -> tuple[vxlanlens.Capture, Explanation]:
    caps = sorted(str(p) for p in FOLDER.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{FOLDER} not shipped")
    cap = vxlanlens.read(caps)
    return cap, cap.explain()


def test_frames_only_native_pair_crosses_two_nodes() -> None:
    """Without dumps the natively routed pair was drawn as one node's local delivery: nothing
    placed the pods on nodes without tunnel frames. The pod's packet leaving one routed hop from
    the pod (TTL 63) from a MAC that ARP binds to a node address places it there."""
    cap, exp = _frames_only()
    _mac_a, ip_a = _node("calico-worker")
    mac_b, ip_b = _node("calico-worker2")
    api = next(ip for ip, (_p, n) in _pods().items() if n == "calico-worker2")
    pod = cap.topology.pod_by_ip(api)
    assert pod is not None and pod.node_ip == ip_b
    node = cap.topology.node_by_ip(ip_b)
    assert node is not None
    assert cap.topology.interface_by_mac(mac_b).kind == "underlay"
    path = _echo(exp, "calico-worker2")
    assert [h.kind for h in path.hops] == NATIVE
    out, into = path.hops[2], path.hops[4]
    assert (out.ip, into.ip) == (ip_a, ip_b)
    assert out.observed and into.observed and "not encapsulated" in out.note
    assert all(h.tunnel is None for h in path.hops + path.reply_hops)
    # the -i any capture of the node without tunnel traffic is placed on it by its own ARP
    point = next(p for p in exp.topology["capture_points"] if p["capture"] == "node-worker2-any")
    assert point["node"] == f"node {ip_b}" and "its own address" in point["how"]


def test_frames_only_underlay_router_is_no_pod_and_no_node() -> None:
    """The router between the subnets asks for a node's address and answers the nodes' gateway
    ARP: it is an underlay host, never ``pod <mac> eth0`` or a node's eth0."""
    cap, exp = _frames_only()
    routers = {ip for ip in _router_ips()}
    for ip in routers:
        assert cap.topology.node_by_ip(ip) is None and cap.topology.pod_by_ip(ip) is None
    arp = [p for p in exp.paths if p.kind == "arp"]
    router_hops = [h for p in arp for h in p.hops + p.reply_hops if h.ip in routers]
    assert router_hops
    for h in router_hops:
        assert h.place == f"underlay host {h.ip}" and not h.observed, h
        assert h.kind == HopKind.UNDERLAY and h.node is None and h.pod is None
        assert h.device is None  # its interface's name is not known
    # the ladder groups it apart from the nodes, named by its address
    from vxlanlens.report.sequence import sequence

    for p in arp:
        if not any(h.ip in routers for h in p.hops + p.reply_hops):
            continue
        seq = sequence(exp, exp.paths.index(p))
        lanes = [lane for lane in seq.lanes if lane.name in routers]
        assert lanes and all(lane.group == "underlay, not a node" for lane in lanes)
        assert "node not known" not in [g for g, _ in seq.groups()]


def _router_ips() -> set[str]:
    """The addresses the nodes' default routes go via (their subnets' router), from the dumps."""
    out = set()
    for f in (FOLDER / "topology").glob("calico-worker*/ip-r.txt"):
        for line in f.read_text().splitlines():
            if line.startswith("default via "):
                out.add(line.split()[2])
    return out


def test_frames_only_ladder_names_calico_veths_not_lxc() -> None:
    """An unnamed host-side veth lane takes the overlay's word for it (Calico: cali veth);
    it was "lxc veth", Cilium's, whatever the overlay."""
    from vxlanlens.report.sequence import sequence

    _cap, exp = _frames_only()
    native = exp.paths.index(_echo(exp, "calico-worker2"))
    names = [lane.name for lane in sequence(exp, native).lanes]
    veths = [n for n in names if "veth" in n]
    assert veths and all(n.startswith("cali veth") for n in veths), names
    assert not any("lxc" in n for n in names), names
    text = exp.to_text()
    assert "cali veth ifindex" in text and "lxc" not in text


def test_node_eth0_captures_alone_show_both_directions_routed_natively() -> None:
    """Only the nodes' eth0 captures, no dumps: no pod capture shows the api pod, yet its
    answer leaves its node's NIC one routed hop from it (TTL 63), so the pod is placed on that
    node and both directions cross the network untunnelled (they were drawn through
    vxlan.calico, and the eth0 copy was cited as the pod's own)."""
    caps = sorted(str(p) for p in FOLDER.glob("node-*-eth0.pcap"))
    if not caps:
        pytest.skip(f"{FOLDER} not shipped")
    cap = vxlanlens.read(caps)
    exp = cap.explain()
    mac_a, ip_a = _node("calico-worker")
    _mac_b, ip_b = _node("calico-worker2")
    api = next(ip for ip, (_p, n) in _pods().items() if n == "calico-worker2")
    pod = cap.topology.pod_by_ip(api)
    assert pod is not None and pod.node_ip == ip_b
    path = _echo(exp, "calico-worker2")
    for hops in (path.hops, path.reply_hops):
        assert not any(h.kind == HopKind.TUNNEL or h.tunnel for h in hops), hops
        assert HopKind.NETWORK in [h.kind for h in hops]
    assert not path.hops[0].observed  # the pod's own copy is in no capture
    arrived = next(h for h in path.reply_hops if h.kind == HopKind.UNDERLAY and h.ip == ip_a)
    assert arrived.observed and any(e.capture == "node-worker-eth0" for e in arrived.evidence)
    assert f"{mac_a} (underlay NIC on node {ip_a}" in arrived.note
    # the wire of the two nodes of one subnet: one of the two, which cannot be told
    point = next(p for p in exp.topology["capture_points"] if p["capture"] == "node-worker2-eth0")
    assert point["node"] == f"node {ip_a} or node {ip_b}", point
    assert "which of them cannot be told" in point["how"]


@pytest.mark.parametrize(
    ("cni", "words"),
    [
        ("cilium", "routing-mode: native"),
        ("flannel", "host-gw"),
        ("antrea", "noEncap"),
    ],
)
def test_native_routing_on_other_overlays(cni: str, words: str) -> None:
    """The same wire stated as another overlay: every one of them can route pods' packets
    between nodes without a tunnel (Cilium's native routing, Flannel's host-gw or DirectRouting,
    Antrea's noEncap or hybrid), so the pair crosses untunnelled in that overlay's words. The
    path was drawn through a tunnel device with "encapsulated here", which the eth0 capture
    contradicts."""
    caps = sorted(str(p) for p in FOLDER.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{FOLDER} not shipped")
    exp = vxlanlens.read(caps).explain(cni=cni)
    path = _echo(exp, "calico-worker2")
    for hops in (path.hops, path.reply_hops):
        assert not any(h.kind == HopKind.TUNNEL or h.tunnel for h in hops)
        assert not any("encapsulated here" in h.note for h in hops)
    sent = next(h for h in path.hops if h.kind == HopKind.UNDERLAY)
    assert sent.observed and "not encapsulated" in sent.note and words in sent.note


def test_frames_only_gateway_arp_hops_are_on_the_pods_node() -> None:
    """A pod placed on its node by the frames alone asks for its gateway on that node (the ARP
    path's ladder grouped it under "node not known")."""
    _cap, exp = _frames_only()
    _mac, ip_a = _node("calico-worker")
    web = next(ip for ip, (_p, n) in _pods().items() if n == "calico-worker")
    (arp,) = [p for p in exp.paths if p.kind == "arp" and p.src_ip == web]
    for h in arp.hops + arp.reply_hops:
        assert h.node == f"node {ip_a}", h


def test_one_node_eth0_capture_alone_shows_native_routing_between_two_nodes() -> None:
    """One node's eth0 capture, no dumps, no tunnel frame anywhere: the two hosts that ARP for
    each other route pod addresses to each other one hop from each pod, in both directions, so
    they are nodes with the pods behind them. The echo was drawn through an invented lxc veth,
    eBPF and tunnel device (the nodes' NIC MACs taken for a pod's and its veth's), and the
    node's ARP for its default router, seen away from it, was a problem in Cilium's words."""
    cap_path = FOLDER / "node-worker2-eth0.pcap"
    if not cap_path.is_file():
        pytest.skip(f"{FOLDER} not shipped")
    cap = vxlanlens.read(str(cap_path))
    exp = cap.explain()
    mac_a, ip_a = _node("calico-worker")
    mac_b, ip_b = _node("calico-worker2")
    for mac, ip in ((mac_a, ip_a), (mac_b, ip_b)):
        assert cap.topology.node_by_ip(ip) is not None
        assert cap.topology.interface_by_mac(mac).kind == "underlay"
    pods = _pods()
    client = next(ip for ip, (_p, n) in pods.items() if n == "calico-worker")
    api = next(ip for ip, (_p, n) in pods.items() if n == "calico-worker2")
    assert cap.topology.pod_by_ip(client).node_ip == ip_a
    assert cap.topology.pod_by_ip(api).node_ip == ip_b
    path = _echo(exp, "calico-worker2")
    for hops in (path.hops, path.reply_hops):
        kinds = [h.kind for h in hops]
        assert HopKind.NETWORK in kinds and HopKind.TUNNEL not in kinds
        assert HopKind.EBPF not in kinds
    # no Cilium word in the paths or findings (the notes on what is unknown may name Cilium's
    # rules as not applied)
    said = [f.statement for f in exp.findings] + [
        f"{h.place} {h.note}" for p in exp.paths for h in p.hops + p.reply_hops
    ]
    for word in ("lxc", "eBPF", "Cilium", "tunnel device"):
        assert not [t for t in said if word in t], word
    assert [f.id for f in exp.findings if f.severity == "problem"] == []
    # the ladder draws it the same way: no tunnelled arrow, the veths in no CNI's word
    from vxlanlens.report.sequence import sequence

    seq = sequence(exp, exp.paths.index(path))
    assert seq.arrows and not any(a.tunnelled for a in seq.arrows)
    names = [lane.name for lane in seq.lanes]
    assert "veth" in names and not any("lxc" in n or "tunnel" in n for n in names), names
    # what the capture holds is cited even though which node's it is cannot be told: the
    # ARP between the nodes and the echo both ways are seen on the underlay between the nodes
    arp = next(p for p in exp.paths if p.kind == "arp" and p.reply_hops)
    for hops, frame in ((arp.hops, 1), (arp.reply_hops, 2)):
        (net,) = [h for h in hops if h.kind == HopKind.NETWORK]
        assert net.observed and [(e.capture, e.frame_no) for e in net.evidence] == [
            ("node-worker2-eth0", frame)
        ]
    assert [a.between for a in seq.arrows if a.between] == [
        "node-worker2-eth0#3",
        "node-worker2-eth0#4",
    ]
    # the reply, last seen on that link, is drawn on to the requester's node
    assert seq.arrows[-1].reply and seq.arrows[-1].between == "node-worker2-eth0#4"
    # and its key lists only what is drawn: no "tunnelled" entry
    import matplotlib.pyplot as plt

    from vxlanlens.report.plots import ladder

    fig = ladder(exp, exp.paths.index(path))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
    assert "request" in legend and "reply" in legend
    assert "tunnelled (outer header)" not in legend, legend
