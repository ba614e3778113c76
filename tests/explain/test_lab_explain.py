"""`explain` on the lab's captures, made by the Linux kernel (captures/lab-*/): what each
scenario README's "What a correct analysis must say" requires, as findings and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import Explanation

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def run(name: str, with_topology: bool = True) -> Explanation:
    folder = CAPTURES / f"lab-{name}"
    if not folder.is_dir():
        pytest.skip(f"{folder} not shipped")
    caps = sorted(str(p) for p in folder.glob("*.pcap"))
    topo = [str(folder / "topology")] if with_topology else None
    return vxlanlens.read(caps, topology=topo).explain()


def by(exp: Explanation, fid: str) -> list:
    return [f for f in exp.findings if f.id == fid]


def problems(exp: Explanation) -> list[str]:
    return sorted(f.id for f in exp.findings if f.severity != "info")


def test_ipv6_ping() -> None:
    exp = run("ipv6-ping")
    assert problems(exp) == []
    gws = {f.details["pod"]: f for f in by(exp, "gateway-answered-by-ebpf")}
    assert set(gws) == {"default/cni-7t9p4", "default/cni-8qgcs"}
    assert gws["default/cni-7t9p4"].details["answered_by"] == ["a2:79:14:47:80:b3"]
    assert "lxc237a31216c0f" in gws["default/cni-7t9p4"].statement
    assert "configured on no interface" in gws["default/cni-8qgcs"].statement
    assert any("different VNIs (30155 and 48217" in f.statement for f in by(exp, "vni-identity"))
    assert any("k8s:lab.vxlanlens.io/side=client" in f.statement for f in by(exp, "vni-identity"))
    (hop,) = by(exp, "hop-limit")
    assert hop.details["hops"] == 1
    echo = [p for p in exp.paths if p.kind == "echo"]
    assert len(echo) == 1
    seen = [h for h in echo[0].hops if h.observed]
    # pod eth0, the sending node's -i any (on the lxc, then on cilium_vxlan), both eth0s, the
    # receiving node's -i any after decapsulation (on cilium_vxlan, then on the lxc), the other
    # pod's eth0: each hop seen only where a capture saw the packet
    assert [h.kind for h in seen] == [
        "pod-eth0",
        "lxc",
        "ebpf",
        "underlay",
        "underlay",
        "tunnel",
        "lxc",
        "pod-eth0",
    ]


def test_ipv6_ping_without_topology_still_has_no_problem() -> None:
    exp = run("ipv6-ping", with_topology=False)
    assert problems(exp) == []
    assert len(by(exp, "gateway-answered-by-ebpf")) == 2
    assert any("No topology dump" in u for u in exp.unknowns)


def test_ipv4_ping_gateway_is_cilium_host_answered_by_lxc() -> None:
    exp = run("ipv4-ping")
    assert problems(exp) == []
    mine = [f for f in by(exp, "gateway-is-cilium-host") if f.details["gateway"] == "10.244.1.154"]
    assert len(mine) == 1
    assert (
        "answered by a2:79:14:47:80:b3" in mine[0].statement and "cilium_host" in mine[0].statement
    )


def test_no_such_pod_echo_lost_at_the_receiving_node() -> None:
    exp = run("no-such-pod")
    assert problems(exp) == ["echo-unanswered", "echo-unanswered"]
    targets = sorted(f.details["target"] for f in by(exp, "echo-unanswered"))
    assert targets == ["10.244.2.99", "fd00:10:244:2::dead"]
    for f in by(exp, "echo-unanswered"):
        assert "last seen at node-worker2-any#" in f.statement
        assert "cilium-dual-stack-worker2/cilium_vxlan" in f.statement
        assert "no pod of the dumps has" in f.statement


def test_ns_unanswered_names_the_missing_responder() -> None:
    exp = run("ns-unanswered")
    assert problems(exp) == ["ns-unanswered"]
    (f,) = by(exp, "ns-unanswered")
    assert "fd00:10:244:1::22f1" in f.statement and "3 tries" in f.statement
    assert "router IP" in f.statement


def test_tcp_connect_handshakes_and_refusals() -> None:
    exp = run("tcp-connect")
    assert problems(exp) == []
    tcp = [p for p in exp.paths if p.kind == "tcp"]
    assert len(tcp) == 4 and all("answered" in p.summary for p in tcp)


def test_mtu_at_the_limit_is_no_problem() -> None:
    exp = run("mtu-df")
    assert problems(exp) == []  # 1450-byte packets fill a 1500-byte underlay exactly


def test_geneve_same_identity() -> None:
    exp = run("geneve-ipv6-ping")
    assert problems(exp) == []
    vni = by(exp, "vni-identity")
    assert any(f.statement.startswith("GENEVE VNI 27040") for f in vni)
    assert any("same VNI 27040" in f.statement for f in vni)


def test_ipv6_underlay() -> None:
    exp = run("ipv6-underlay")
    assert problems(exp) == []
    echo = [p for p in exp.paths if p.kind == "echo"]
    assert any("fc00:f853:ccd:e793::4" in h.place for p in echo for h in p.hops)


def test_node_any_capture_alone() -> None:
    path = CAPTURES / "lab-ipv6-ping" / "node-worker-any.pcap"
    if not path.exists():
        pytest.skip("lab captures not shipped")
    exp = vxlanlens.read(str(path)).explain()
    assert problems(exp) == []
    (hop,) = by(exp, "hop-limit")
    assert hop.details["hops"] == 1 and hop.details["ttl"] == 63
    assert len(by(exp, "gateway-answered-by-ebpf")) == 1
    assert any("different VNIs (30155 and 48217" in f.statement for f in by(exp, "vni-identity"))
