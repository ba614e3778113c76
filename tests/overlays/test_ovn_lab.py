"""The OVN-shaped lab capture (captures/lab-ovn-geneve-ping; issue 13): Geneve with OVN's option
class 0x0102 in every frame is recognised as OVN from the wire alone, the VNIs are named as
logical datapaths (never as identities), and no Cilium rule is applied."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import Explanation
from vxlanlens.overlays import profile
from vxlanlens.proto import HopKind

FOLDER = Path(__file__).resolve().parents[2] / "captures" / "lab-ovn-geneve-ping"
CILIUM_WORDS = ("cilium", "lxc", "ebpf", "identity")


@cache
def _explain(dumps: bool) -> Explanation:
    caps = sorted(str(p) for p in FOLDER.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{FOLDER} not shipped")
    return vxlanlens.read(caps, topology=[str(FOLDER / "topology")] if dumps else None).explain()


@pytest.mark.parametrize("dumps", [False, True])
def test_recognised_as_ovn_from_the_wire(dumps: bool) -> None:
    ov = _explain(dumps).topology["overlay"]
    assert (ov["name"], ov["confidence"]) == ("ovn", "high")
    texts = [s["text"] for s in ov["signals"]]
    assert any("0x0102" in t and "4, 5" in t and "logical datapath" in t for t in texts)
    assert any(t.startswith("every Geneve frame carries it") for t in texts)
    # Cilium's look-alikes (VNIs differ by direction, per-sender inner MACs) stay "others"
    assert ov["scores"]["ovn"] - ov["scores"]["cilium"] >= 3


def test_no_cilium_rule_on_an_ovn_capture() -> None:
    exp = _explain(True)
    assert not [f for f in exp.findings if f.severity.value != "info"]
    ids = {f.id for f in exp.findings}
    assert not ids & {"vni-identity", "inner-macs", "hop-limit", "gateway-answered-by-ebpf"}
    for p in exp.paths:
        for h in (*p.hops, *p.reply_hops):
            low = f"{h.place} {h.note}".lower()
            assert not any(w in low for w in CILIUM_WORDS), (h.place, h.note)
    assert not [u for u in exp.unknowns if u.startswith("identity")]


def test_echo_path_routed_once_inner_macs_router_port_to_pod() -> None:
    exp = _explain(True)
    (p,) = [p for p in exp.paths if p.kind == "echo"]
    assert not p.unanswered
    kinds = [h.kind for h in p.hops]
    assert kinds.count(HopKind.UNDERLAY) == 2 and HopKind.BRIDGE in kinds
    # the request leaves the pod with TTL 64 and arrives with 63: one routing hop, on the sender
    assert "TTL 64" in p.hops[0].note and "TTL 63" in p.hops[-1].note
    underlay = next(h for h in p.hops if h.kind == HopKind.UNDERLAY)
    assert "GENEVE VNI 5" in underlay.note and "TTL 63" in underlay.note
    dp = profile("ovn").datapath
    assert dp.inner_macs == "router" and not dp.vni_identity


def test_inferred_pods_take_no_router_port_mac() -> None:
    # inner source MACs are router ports, not the sending pods: inference names no pod by them
    caps = sorted(str(p) for p in FOLDER.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{FOLDER} not shipped")
    cap = vxlanlens.read(caps)
    pk = cap.packets
    routers = set(pk.loc[pk["arp_op"] == 2, "arp_sender_mac"].dropna().astype(str))
    assert len(routers) == 2  # each node's router port answered its pod's ARP for the gateway
    topo = cap.topology
    assert not routers & {p.mac for p in topo.pods if p.mac}
    assert all(p.identity is None for p in topo.pods) and topo.identities == []


def test_packets_carry_the_logical_port_keys() -> None:
    caps = sorted(str(p) for p in FOLDER.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{FOLDER} not shipped")
    pk = vxlanlens.read(caps).packets
    tun = pk[pk["tunnel"] == "geneve"]
    assert len(tun) == 8 and str(pk["ovn_inport"].dtype) == "UInt16"
    # the lab's flows (lab/bpf/bpf_ovn.c): from the router port (key 1) to the pod's (key 3)
    assert set(zip(tun["ovn_inport"], tun["ovn_outport"], strict=True)) == {(1, 3)}
    assert pk.loc[pk["tunnel"].isna(), ["ovn_inport", "ovn_outport"]].isna().all().all()


@pytest.mark.parametrize("dumps", [False, True])
def test_paths_and_findings_name_the_datapath_and_port_keys(dumps: bool) -> None:
    exp = _explain(dumps)
    (p,) = [p for p in exp.paths if p.kind == "echo"]
    for hops, vni in ((p.hops, 5), (p.reply_hops, 4)):
        sent = next(h for h in hops if h.kind == HopKind.UNDERLAY)
        assert (
            f"VNI {vni} (OVN logical datapath key {vni}, logical ingress port key 1 → egress "
            "port key 3)" in sent.note
        )
    keys = [f for f in exp.findings if f.id == "ovn-logical-ports" and "vni" in f.details]
    assert sorted(
        (f.details["vni"], f.details["ovn_inport"], f.details["ovn_outport"]) for f in keys
    ) == [
        (4, 1, 3),
        (5, 1, 3),
    ]
    assert all("ovn-sbctl find Port_Binding tunnel_key=3" in f.statement for f in keys)


@pytest.mark.parametrize("dumps", [False, True])
def test_router_port_macs_are_named_and_not_unknown(dumps: bool) -> None:
    exp = _explain(dumps)
    assert "unknown-mac" not in {f.id for f in exp.findings}
    (rp,) = [f for f in exp.findings if f.id == "ovn-logical-ports" and "router_ports" in f.details]
    assert rp.details["router_ports"] == {
        "0a:58:0a:f4:01:01": ["10.244.1.1"],
        "0a:58:0a:f4:02:01": ["10.244.2.1"],
    }
    dp = profile("ovn").datapath
    for p in (p for p in exp.paths if p.kind == "arp"):
        answer = p.reply_hops[0]
        assert answer.place.startswith(f"{dp.router_port} 10.244."), answer.place
        assert dp.gateway_answer in answer.note
