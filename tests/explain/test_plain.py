"""Paths of an input that shows no overlay (explain/_plain.py): host to host through the network
the captures saw, with nothing of pods, veths, eBPF or tunnels (which nothing shows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6PacketTooBig, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.utils import wrpcap
from testpaths import CAPTURES

import vxlanlens
from vxlanlens.explain.model import Explanation
from vxlanlens.proto import HopKind
from vxlanlens.report.sequence import sequence

A_MAC, B_MAC = "02:00:00:00:0a:01", "02:00:00:00:0b:02"
A_IP, B_IP, C_IP = "192.168.50.10", "192.168.50.20", "192.168.50.30"

_MODEL_WORDS = ("pod", "veth", "lxc", "eBPF", "tunnel", "Cilium", "gateway", "encapsulated")


def _lan(path: Path, *, answered: bool = True, base: float = 1_700_000_000.0) -> Path:
    """A host's capture on its LAN: it resolves a neighbour by ARP, pings it (answered or not),
    and asks once for an address nobody holds."""
    frames = [
        Ether(src=A_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=A_MAC, psrc=A_IP, pdst=B_IP),
        Ether(src=B_MAC, dst=A_MAC) / ARP(op=2, hwsrc=B_MAC, psrc=B_IP, hwdst=A_MAC, pdst=A_IP),
        Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP, ttl=64) / ICMP(id=7, seq=1),
    ]
    if answered:
        frames.append(
            Ether(src=B_MAC, dst=A_MAC) / IP(src=B_IP, dst=A_IP, ttl=64) / ICMP(type=0, id=7, seq=1)
        )
    frames.append(
        Ether(src=A_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=A_MAC, psrc=A_IP, pdst=C_IP)
    )
    for k, f in enumerate(frames):
        f.time = base + k * 0.001
    # a last frame long after: nothing above is near the capture's end
    tail = Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP) / b"x"
    tail.time = base + 30
    wrpcap(str(path), [*frames, tail])
    return path


def _place_and_notes(exp: Explanation) -> list[str]:
    return [f"{h.place} {h.note}" for p in exp.paths for h in (*p.hops, *p.reply_hops)]


def _path(exp: Explanation, kind: str, target: str):
    (path,) = [p for p in exp.paths if p.kind == kind and p.target == target]
    return path


def test_an_answered_ping_runs_from_host_to_host(tmp_path: Path) -> None:
    exp = vxlanlens.read(str(_lan(tmp_path / "lan.pcap"))).explain()
    echo = _path(exp, "echo", B_IP)
    assert [(h.kind, h.place, h.observed) for h in echo.hops] == [
        (HopKind.HOST, f"host {A_IP}", False),
        (HopKind.NETWORK, "network", True),
        (HopKind.HOST, f"host {B_IP}", False),
    ]
    sent, net, got = echo.hops
    assert sent.mac == A_MAC and sent.ip == A_IP and sent.note == "sent the request"
    assert [str(e) for e in net.evidence] == ["lan#3"]
    assert net.note.startswith(f"seen in lan (#3: {A_MAC} → {B_MAC}, {A_IP} → {B_IP}, TTL 64)")
    assert "where that capture was taken is not known" in net.note
    assert got.note == "the answer shows the request reached it"
    assert [(h.kind, h.place, h.observed) for h in echo.reply_hops] == [
        (HopKind.HOST, f"host {B_IP}", False),
        (HopKind.NETWORK, "network", True),
    ]
    assert echo.reply_hops[0].mac == B_MAC and echo.last_seen is None
    for text in _place_and_notes(exp):
        for word in _MODEL_WORDS:
            assert word not in text, (word, text)
    said = exp.unknowns[0]
    assert "The paths run from host to host" in said
    assert "hops marked `inferred` are drawn on" not in said and "`--cni` states" in said


def test_arp_paths_name_the_hosts_and_the_answer(tmp_path: Path) -> None:
    exp = vxlanlens.read(str(_lan(tmp_path / "lan.pcap"))).explain()
    arp = _path(exp, "arp", B_IP)
    assert [(h.kind, h.place) for h in arp.hops] == [
        (HopKind.HOST, f"host {A_IP}"),
        (HopKind.NETWORK, "network"),
    ]
    assert arp.hops[0].note == f"sent an ARP request for {B_IP}"
    (answer, net) = arp.reply_hops
    assert (answer.kind, answer.place, answer.mac) == (HopKind.HOST, f"host {B_IP}", B_MAC)
    assert answer.note.startswith("ARP reply after 1.000 ms") and B_MAC in answer.note
    assert [str(e) for e in net.evidence] == ["lan#2"]
    # the summary names the MAC that answered, not a role of an overlay's datapath
    assert f"answered by {B_MAC} in" in arp.summary
    nobody = _path(exp, "arp", C_IP)
    assert nobody.reply_hops == [] and [h.kind for h in nobody.hops] == [
        HopKind.HOST,
        HopKind.NETWORK,
    ]


def test_an_unanswered_ping_stops_where_it_was_seen(tmp_path: Path) -> None:
    exp = vxlanlens.read(str(_lan(tmp_path / "lan.pcap", answered=False))).explain()
    echo = _path(exp, "echo", B_IP)
    assert [h.kind for h in echo.hops] == [HopKind.HOST, HopKind.NETWORK]
    assert echo.reply_hops == [] and echo.last_seen == "network"
    assert echo.hops[-1].note.endswith(
        f"not seen after it was captured: the captures do not show whether it reached {B_IP}"
    )
    assert "echo-unanswered" in [f.id for f in echo.findings]


def test_the_ladder_draws_hosts_only(tmp_path: Path) -> None:
    exp = vxlanlens.read(str(_lan(tmp_path / "lan.pcap"))).explain()
    at = exp.paths.index(_path(exp, "echo", B_IP))
    seq = sequence(exp, at)
    assert [(lane.kind, lane.name, lane.group) for lane in seq.lanes] == [
        ("host", A_IP, "hosts"),
        ("host", B_IP, "hosts"),
    ]
    # the request A -> B and the reply B -> A, each seen on the way (not at either end)
    assert [(a.src, a.dst, a.reply, a.tunnelled, a.between) for a in seq.arrows] == [
        (0, 1, False, False, "lan#3"),
        (1, 0, True, False, "lan#4"),
    ]


def test_a_stated_place_or_a_dump_keeps_the_overlay_model(tmp_path: Path) -> None:
    """What the user says (a capture at a node) is not overruled: the path is drawn on the
    datapath model as before; so is every input that shows a tunnel."""
    path = _lan(tmp_path / "lan.pcap")
    exp = vxlanlens.read(str(path), capture_at=["lan=worker-1"]).explain()
    kinds = {h.kind for p in exp.paths for h in (*p.hops, *p.reply_hops)}
    assert HopKind.HOST not in kinds


def test_a_real_loopback_ping_is_drawn_plain() -> None:
    folder = CAPTURES / "real-ping-stopped"
    if not folder.is_dir():
        pytest.skip(f"{folder} not shipped")
    exp = vxlanlens.read(str(folder / "tcpdump-c5.pcap")).explain()
    assert len(exp.paths) == 3
    for p in exp.paths:
        assert {h.kind for h in (*p.hops, *p.reply_hops)} <= {HopKind.HOST, HopKind.NETWORK}
    cut = exp.paths[-1]
    assert cut.last_seen == "network" and [str(e) for e in cut.hops[-1].evidence] == [
        "tcpdump-c5#5"
    ]


@pytest.mark.parametrize(
    "name", ["cilium-dual-stack", "lab-ipv4-ping", "heldout-l2-segment", "lab-calico-crosssubnet"]
)
def test_overlay_captures_are_not_plain(name: str) -> None:
    """Every shipped overlay capture (tunnelled, or native routing between nodes the frames
    show), read without its dumps, keeps its overlay paths."""
    folder = CAPTURES / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not shipped")
    caps = sorted(str(p) for p in folder.glob("*.pcap*"))
    exp = vxlanlens.read(caps).explain()
    kinds = {h.kind for p in exp.paths for h in (*p.hops, *p.reply_hops)}
    assert exp.paths and HopKind.HOST not in kinds, name


def test_a_stated_overlay_on_a_cooked_capture_names_no_missing_mac(public_dir: Path) -> None:
    """``--cni cilium`` keeps the overlay model on a plain capture; a cooked (SLL2) capture has
    no destination MAC, and the veth it would name was called ``veth nan``."""
    exp = vxlanlens.read(str(public_dir / "zeek" / "linux_dlt_sll2.pcap")).explain(cni="cilium")
    hops = [h for p in exp.paths for h in (*p.hops, *p.reply_hops)]
    assert HopKind.LXC in {h.kind for h in hops} and HopKind.HOST not in {h.kind for h in hops}
    for h in hops:
        assert "nan" not in f"{h.place} {h.note}".split(), h


def _lan_findings(path: Path) -> Path:
    """A host that uses both families, is refused on a TCP port by a neighbour on its
    segment, and is told its IPv6 path MTU by a router."""
    big = (
        Ether(src=A_MAC, dst=B_MAC)
        / IPv6(src="fd00:50::10", dst="fd00:99::20")
        / (ICMPv6EchoRequest(id=9, seq=1, data=b"x" * 1400))
    )
    frames = [
        Ether(src=A_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=A_MAC, psrc=A_IP, pdst=B_IP),
        Ether(src=B_MAC, dst=A_MAC) / ARP(op=2, hwsrc=B_MAC, psrc=B_IP, hwdst=A_MAC, pdst=A_IP),
        Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP) / TCP(sport=40000, dport=81, seq=9),
        Ether(src=B_MAC, dst=A_MAC)
        / IP(src=B_IP, dst=A_IP, ttl=64)
        / TCP(sport=81, dport=40000, flags="RA", ack=10),
        big,
        Ether(src=B_MAC, dst=A_MAC)
        / IPv6(src="fd00:50::1", dst="fd00:50::10")
        / ICMPv6PacketTooBig(mtu=1280)
        / bytes(big[IPv6])[:1232],
    ]
    for k, f in enumerate(frames):
        f.time = 1_700_000_000 + k * 0.001
    tail = Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP) / b"x"
    tail.time = 1_700_000_030
    wrpcap(str(path), [*frames, tail])
    return path


def test_findings_of_a_plain_input_speak_of_hosts(tmp_path: Path) -> None:
    exp = vxlanlens.read(str(_lan_findings(tmp_path / "lan.pcap"))).explain()
    by_id = {f.id: f for f in exp.findings}
    assert {"connection-refused", "packet-too-big", "dual-stack"} <= set(by_id)
    for f in exp.findings:
        for word in (*_MODEL_WORDS, "overlay", "underlay", "node", "eth0"):
            assert word not in f.statement, (word, f.statement)
    refused = by_id["connection-refused"].statement
    assert "Its TTL 64 (most likely sent with 64) says it was not routed" in refused
    ptb = by_id["packet-too-big"]
    assert ptb.statement.endswith("the path MTU is 1280.")
    assert ptb.details["overlay_limit"] is None
    dual = by_id["dual-stack"]
    assert dual.statement.startswith(f"The host with MAC {A_MAC} is dual-stack: IPv4 {A_IP} ")
    assert "on one interface" in dual.statement


def test_an_icmp_error_answer_is_drawn_from_the_host_that_sent_it(tmp_path: Path) -> None:
    """A ping a router answers with host unreachable: the error is the request's answer (from
    the router), not "no answer"; the error's own path runs the same way."""
    router_mac, router_ip, far = "02:00:00:00:0c:03", "192.168.50.1", "10.9.9.9"
    req = Ether(src=A_MAC, dst=router_mac) / IP(src=A_IP, dst=far) / ICMP(id=3, seq=1)
    err = (
        Ether(src=router_mac, dst=A_MAC)
        / IP(src=router_ip, dst=A_IP)
        / ICMP(type=3, code=1)
        / bytes(req[IP])[:28]
    )
    tail = Ether(src=A_MAC, dst=B_MAC) / IP(src=A_IP, dst=B_IP) / b"x"
    for k, f in enumerate((req, err, tail)):
        f.time = 1_700_000_000 + (k * 0.001 if k < 2 else 30)
    wrpcap(str(tmp_path / "lan.pcap"), [req, err, tail])
    exp = vxlanlens.read(str(tmp_path / "lan.pcap")).explain()
    echo = _path(exp, "echo", far)
    assert echo.icmp_error is not None and echo.last_seen == "network"
    sender, net = echo.reply_hops
    assert (sender.kind, sender.place, sender.mac) == (
        HopKind.HOST,
        f"host {router_ip}",
        router_mac,
    )
    assert sender.note == f"sent {echo.icmp_error}" and [str(e) for e in net.evidence] == ["lan#2"]
    (error,) = [p for p in exp.paths if p.kind == "icmp-error"]
    assert [h.place for h in error.hops] == [f"host {A_IP}", "network"]
    assert [h.place for h in error.reply_hops] == [f"host {router_ip}", "network"]
    # the ladder: the request reaches the router, the error comes back; no "no answer"
    seq = sequence(exp, exp.paths.index(echo))
    assert [lane.name for lane in seq.lanes] == [A_IP, router_ip]
    assert [(a.src, a.dst, a.reply) for a in seq.arrows] == [(0, 1, False), (1, 0, True)]
    assert not seq.marks
    from vxlanlens.report.plots import ladder

    fig = ladder(exp)
    texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
    assert "path 1: echo req id 3 seq 1, ICMP error" in texts
    assert "path 2: ICMP error" in texts


def test_an_unanswered_solicitation_of_a_pod_without_dumps_is_plain() -> None:
    """lab-ns-unanswered read without its dumps: nothing was tunnelled and nothing names
    Cilium, so the solicitation runs from the host that asked to where it was seen."""
    folder = CAPTURES / "lab-ns-unanswered"
    if not folder.is_dir():
        pytest.skip(f"{folder} not shipped")
    exp = vxlanlens.read(sorted(str(p) for p in folder.glob("*.pcap"))).explain()
    (nd,) = [p for p in exp.paths if p.kind == "nd"]
    assert [h.kind for h in nd.hops] == [HopKind.HOST, HopKind.NETWORK] and nd.reply_hops == []
    assert nd.hops[0].note == f"sent a Neighbor Solicitation for {nd.target}"
    assert {e.capture for e in nd.hops[1].evidence} == {"pod-cni-7t9p4-eth0", "node-worker-any"}
    assert [f.severity for f in exp.findings if f.id == "ns-unanswered"] == ["problem"]


def test_a_pcapng_interface_name_is_said() -> None:
    """dumpcap names the interface it captured on (pcapng): the sighting says it, and only the
    host is unknown."""
    path = CAPTURES / "real-ping-stopped" / "dumpcap-c5.pcapng"
    if not path.is_file():
        pytest.skip(f"{path} not shipped")
    exp = vxlanlens.read(str(path)).explain()
    net = exp.paths[0].hops[1]
    assert net.note.startswith("seen in dumpcap-c5 (#1, interface lo: ")
    assert net.note.endswith("the host it was taken on is not known")
    tcpdump = vxlanlens.read(str(path.with_name("tcpdump-c5.pcap"))).explain()
    assert tcpdump.paths[0].hops[1].note.endswith("where that capture was taken is not known")


def test_an_interface_named_for_standard_input_is_not_said(public_dir: Path) -> None:
    """mergecap writes ``-`` (standard input) as the interface name of Zeek's snap-arp: that
    names no interface, so the sighting does not say ``interface -``."""
    exp = vxlanlens.read(str(public_dir / "zeek" / "snap-arp.pcapng")).explain()
    notes = [h.note for p in exp.paths for h in (*p.hops, *p.reply_hops) if h.observed]
    assert notes and all(n.startswith("seen in snap-arp (#") for n in notes)
    assert not any("interface" in n for n in notes), notes
    assert all(n.endswith("where that capture was taken is not known") for n in notes)


def test_not_known_asks_for_no_pod_names_or_node_addresses(tmp_path: Path) -> None:
    """Nothing shows a pod, a node or a pods' gateway: "Not known" asks for none of them (it
    did: "pod names: no pod or endpoint dump given", "node addresses: no tunnelled frame")."""
    cap = vxlanlens.read(str(_lan(tmp_path / "lan.pcap")))
    keys = {getattr(u, "key", "") for u in cap.topology.unknown}
    assert {"pod-names", "node-addresses"} <= keys  # what the topology alone says
    text = "\n".join(cap.explain().unknowns)
    for words in ("pod names", "node addresses", "gateway addresses", "No topology dump"):
        assert words not in text, words
    assert "interface names" in text and "No capture shows a pod overlay" in text
    stated = "\n".join(cap.explain(cni="cilium").unknowns)
    assert "pod names" in stated  # the overlay's model asks for them again
