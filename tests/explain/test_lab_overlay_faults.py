"""`explain` on the lab's Calico and IPv6 overlay faults (captures/lab-calico-port-mismatch,
lab-calico-ipv6-port-mismatch, lab-calico-missing-fdb, lab-flannel-ipv6-missing-fdb,
lab-calico-ipv6-no-link-local; issue 13):
each planted fault is named with its finding id and evidence, the overlay is recognised, and no
claim of another overlay's datapath is made. Each test skips until its scenario ships."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import Explanation, Finding
from vxlanlens.proto import HopKind

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
CILIUM_WORDS = ("cilium", "lxc", "ebpf", "identity")
"""Words of Cilium's datapath a finding about another overlay must not use."""


@cache
def _explain(name: str, dumps: bool = True) -> Explanation:
    folder = CAPTURES / name
    caps = sorted(str(p) for p in folder.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{folder} not shipped")
    topology = [str(folder / "topology")] if dumps else None
    return vxlanlens.read(caps, topology=topology).explain()


def _by(exp: Explanation, fid: str) -> list[Finding]:
    return [f for f in exp.findings if f.id == fid]


def _severe(exp: Explanation) -> list[str]:
    return sorted(f.id for f in exp.findings if f.severity.value != "info")


def _no_foreign_words(exp: Explanation, *words: str) -> None:
    for f in exp.findings:
        low = f.statement.lower()
        for w in words:
            assert w not in low, (f.id, w, f.statement)


def _echo(exp: Explanation):
    (p,) = [p for p in exp.paths if p.kind == "echo"]
    return p


def test_calico_port_mismatch_names_both_ports_and_the_refusal() -> None:
    exp = _explain("lab-calico-port-mismatch")
    assert exp.topology["overlay"]["name"] == "calico"
    assert _severe(exp) == ["destination-unreachable", "tunnel-config-mismatch"]
    (f,) = _by(exp, "tunnel-config-mismatch")
    assert f.details["device"] == "vxlan.calico" and f.details["attribute"] == "dstport"
    assert f.details["values"] == {"calico-worker": 4789, "calico-worker2": 4790}
    assert f.details["frames"] == 1 and "not decapsulated" in f.statement
    assert any(e.source and "ip-d-link.txt" in e.source for e in f.evidence)
    (u,) = _by(exp, "destination-unreachable")
    assert u.details["tunnel_refused"] and u.details["error_from"] == "172.18.0.3"
    p = _echo(exp)
    assert p.unanswered and p.hops[-1].kind == HopKind.UNDERLAY
    assert p.hops[-1].node == "calico-worker2"
    _no_foreign_words(exp, *CILIUM_WORDS, "flannel")


def test_calico_missing_fdb_stops_at_vxlan_calico() -> None:
    exp = _explain("lab-calico-missing-fdb")
    assert exp.topology["overlay"]["name"] == "calico"
    assert _severe(exp) == ["echo-unanswered", "missing-fdb-entry"]
    (f,) = _by(exp, "missing-fdb-entry")
    assert (f.details["node"], f.details["device"]) == ("calico-worker", "vxlan.calico")
    assert f.details["packets"] == 1 and f.details["destinations"] == ["10.244.115.6"]
    # the neighbour entry that gives worker2's VTEP MAC, which no FDB entry maps, is cited
    assert f.details["vtep_macs"] == ["66:c2:08:b3:7a:15"]
    assert any(e.source and "ip-j-n.json" in e.source for e in f.evidence)
    p = _echo(exp)
    assert p.unanswered and p.hops[-1].kind == HopKind.TUNNEL
    assert p.hops[-1].device == "vxlan.calico" and p.hops[-1].observed
    assert exp.counts["tunnelled_frames"] == 0
    _no_foreign_words(exp, *CILIUM_WORDS, "flannel")


def test_flannel_ipv6_missing_fdb_stops_at_flannel_v6() -> None:
    exp = _explain("lab-flannel-ipv6-missing-fdb")
    assert exp.topology["overlay"]["name"] == "flannel"
    assert _severe(exp) == ["echo-unanswered", "missing-fdb-entry"]
    (f,) = _by(exp, "missing-fdb-entry")
    assert (f.details["node"], f.details["device"]) == ("flannel-worker", "flannel-v6.1")
    assert f.details["destinations"] == ["fd00:10:244:2::7"]
    assert f.details["vtep_macs"] == ["56:b8:0e:7a:34:d0"]
    p = _echo(exp)
    assert p.hops[-1].device == "flannel-v6.1" and p.hops[-1].observed
    # the pod's gateway was answered by cni0 (the bridge), the kernel's own address
    nd = [q for q in exp.paths if q.kind == "nd"]
    assert nd and not nd[0].unanswered
    _no_foreign_words(exp, *CILIUM_WORDS, "calico")


def test_calico_ipv6_router_unanswered_is_the_cali_veths_link_local() -> None:
    exp = _explain("lab-calico-ipv6-no-link-local")
    assert exp.topology["overlay"]["name"] == "calico"
    assert _severe(exp) == ["ns-unanswered"]
    (f,) = _by(exp, "ns-unanswered")
    assert f.details["target"] == "fe80::ecee:eeff:feee:eeee"
    assert f.details["tries"] == 3
    assert "cali veth" in f.statement and "disable_ipv6" in f.statement
    # the router is the veth's own address: not a proxy-NDP claim, and no Cilium one
    assert "proxy NDP plays no part" in f.statement
    _no_foreign_words(exp, *CILIUM_WORDS, "flannel")
    assert not [p for p in exp.paths if p.kind == "echo"]  # the ping never left the pod


def test_calico_ipv6_port_mismatch_names_both_ports_and_the_icmpv6_refusal() -> None:
    """The port mismatch over an IPv6 underlay: the receiving node refuses the VXLAN datagram
    with ICMPv6 port unreachable; both findings come out as over IPv4, with the IPv6 VTEP."""
    exp = _explain("lab-calico-ipv6-port-mismatch")
    assert exp.topology["overlay"]["name"] == "calico"
    assert _severe(exp) == ["destination-unreachable", "tunnel-config-mismatch"]
    (f,) = _by(exp, "tunnel-config-mismatch")
    assert f.details["device"] == "vxlan-v6.calico" and f.details["attribute"] == "dstport"
    assert f.details["values"] == {"calico-worker": 4789, "calico-worker2": 4790}
    assert "not decapsulated" in f.statement
    (d,) = _by(exp, "destination-unreachable")
    assert "ICMPv6" in d.statement and "port unreachable" in d.statement
    _no_foreign_words(exp, *CILIUM_WORDS, "flannel")
    # frames only: the refusal is still named, and the path stops at the receiving node
    bare = _explain("lab-calico-ipv6-port-mismatch", dumps=False)
    assert "destination-unreachable" in _severe(bare)


@pytest.mark.parametrize(
    "name",
    [
        "lab-calico-port-mismatch",
        "lab-calico-ipv6-port-mismatch",
        "lab-calico-missing-fdb",
        "lab-flannel-ipv6-missing-fdb",
    ],
)
def test_one_way_vtep_frames_give_no_pod_mac_conflicts(name: str) -> None:
    # inner MACs are VTEP MACs on these overlays, even where no reply shows the pair swapped:
    # inference takes none of them for a pod's (no conflict with the dumps' pod MACs)
    folder = CAPTURES / name
    caps = sorted(str(p) for p in folder.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{folder} not shipped")
    topo = vxlanlens.read(caps, topology=[str(folder / "topology")]).topology
    assert [c for c in topo.conflicts if c.field in ("mac", "host_mac")] == []


@pytest.mark.parametrize("name", ["lab-calico-ping", "lab-calico-port-mismatch"])
def test_calico_vni_is_no_identity(name: str) -> None:
    # VNI 4096 names Calico's network: no pod gets it as an identity, nothing asks for labels
    exp = _explain(name)
    assert not [u for u in exp.unknowns if u.startswith("identity")]
    folder = CAPTURES / name
    topo = vxlanlens.read(sorted(str(p) for p in folder.glob("*.pcap"))).topology
    assert topo.identities == [] and all(p.identity is None for p in topo.pods)


def test_stale_vtep_mac_is_said_once_with_the_unknown_macs_evidence() -> None:
    # the stale MAC is on no interface of the dumps: stale-vtep-mac says so, and unknown-mac
    # (which would say only that) is not made for a MAC the sender's FDB maps to a node
    exp = _explain("lab-flannel-stale-vtep-mac")
    assert not _by(exp, "unknown-mac")
    (f,) = _by(exp, "stale-vtep-mac")
    assert f.details["mac_on_no_interface"] and "no interface of the dumps" in f.statement
    frames = {str(e) for e in f.evidence}
    assert {"node-worker-any#10", "node-worker-eth0#3"} <= frames  # where the MAC is seen
    # without dumps there is no FDB to explain it, and no unknown-mac either (dumps needed)
    assert not _by(_explain("lab-flannel-stale-vtep-mac", dumps=False), "unknown-mac")


def test_calico_vni_mismatch_is_a_silent_drop_with_both_vnis() -> None:
    exp = _explain("lab-calico-vni-mismatch")
    assert exp.topology["overlay"]["name"] == "calico"
    assert _severe(exp) == ["echo-unanswered", "tunnel-config-mismatch"]
    (f,) = _by(exp, "tunnel-config-mismatch")
    assert f.details["attribute"] == "id" and f.details["frames"] == 1
    assert f.details["values"] == {"calico-worker": 4096, "calico-worker2": 4097}
    # the port is open: no ICMP error, so no claim that the node refused the packet
    assert "refused" not in f.statement and not _by(exp, "destination-unreachable")
    p = _echo(exp)
    assert p.unanswered and p.hops[-1].kind == HopKind.UNDERLAY
    assert p.hops[-1].node == "calico-worker2"
    _no_foreign_words(exp, *CILIUM_WORDS, "flannel")


@pytest.mark.parametrize(("name", "cni"), [("lab-ipv4-ping", "flannel"), ("lab-ipv4-ping", "calico"),
                                           ("lab-geneve-ipv6-ping", "flannel")])  # fmt: skip
def test_stated_vtep_overlay_on_delivered_frames_claims_no_stale_mac(name: str, cni: str) -> None:
    """Cilium frames (the pod's own MACs inside the tunnel) read with a VTEP overlay stated:
    their inner MACs are no VTEP's, but the captures show them delivered (answered, seen at
    the destination pod), so no stale VTEP MAC and no drop is claimed; the fault scenario
    still gives it."""
    folder = CAPTURES / name
    cap = vxlanlens.read(sorted(str(p) for p in folder.glob("*.pcap")))
    exp = cap.explain(cni=cni)
    assert not _by(exp, "stale-vtep-mac"), [f.statement for f in exp.findings]
    assert _by(_explain("lab-flannel-stale-vtep-mac", dumps=False), "stale-vtep-mac")
