"""The reference scenario: every conclusion of the walkthrough, stated with its evidence.

Golden files in tests/golden/cilium-dual-stack/ hold the full text, Markdown and JSON output;
regenerate them with ``pytest tests/explain --update-golden`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import Explanation

ROOT = Path(__file__).resolve().parents[2]
# Relative to ROOT, as a user types them: the reports quote these paths (and wrap lines around
# them), so the golden files must not depend on where the project was cloned.
REF = Path("captures") / "cilium-dual-stack"
TOPO = REF / "topology"
GOLDEN = ROOT / "tests" / "golden" / "cilium-dual-stack"
CAPTURES = [f"pod-eth0={REF / 'pod-eth0.pcap'}", f"worker-eth0={REF / 'worker-eth0.pcap'}"]
NODE, POD = "cilium-dual-stack-worker", "cilium-dual-stack-worker/cni-7t9p4"
DUMPS = [
    f"{NODE}={TOPO / 'worker-ip-a-l.txt'}",
    f"{POD}={TOPO / 'cni-7t9p4-ip-a-l.txt'}",
    f"{POD}={TOPO / 'cni-7t9p4-ip-r-s.txt'}",
    f"{POD}={TOPO / 'cni-7t9p4-ip-6-r-s.txt'}",
    f"{POD}={TOPO / 'cni-7t9p4-ip-6-n-s.txt'}",
    str(TOPO / "kubectl-get-pods-o-wide.txt"),
]


def _read(topology: list[str] | None) -> tuple[vxlanlens.Capture, Explanation]:
    """Read and explain the reference from the project's root, so the relative paths above
    resolve (the working directory is restored at once)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        cap = vxlanlens.read(CAPTURES, topology=topology)
        return cap, cap.explain()


@pytest.fixture(scope="module")
def with_dumps() -> tuple[vxlanlens.Capture, Explanation]:
    return _read(DUMPS)


@pytest.fixture(scope="module")
def without_dumps() -> tuple[vxlanlens.Capture, Explanation]:
    return _read(None)


def _by_id(exp: Explanation, fid: str) -> list:
    return [f for f in exp.findings if f.id == fid]


def _frames(finding) -> set[str]:
    return {str(e) for e in finding.evidence}


def test_conclusion_1_dual_stack(with_dumps) -> None:
    _, exp = with_dumps
    (f,) = [f for f in _by_id(exp, "dual-stack") if "cni-7t9p4" in f.statement]
    assert "10.244.1.233" in f.statement and "fd00:10:244:1::4749" in f.statement
    assert "one eth0" in f.statement


def test_conclusion_2_ipv4_next_hop_is_cilium_host(with_dumps) -> None:
    _, exp = with_dumps
    (f,) = _by_id(exp, "gateway-is-cilium-host")
    assert "10.244.1.154" in f.statement and "cilium_host" in f.statement
    assert f.details["node"] == NODE
    assert any("cni-7t9p4-ip-r-s.txt" in s for s in _frames(f))
    assert any("worker-ip-a-l.txt" in s for s in _frames(f))


def test_conclusion_3_ipv6_gateway_on_no_interface_answered_by_lxc(with_dumps) -> None:
    _, exp = with_dumps
    (f,) = _by_id(exp, "gateway-answered-by-ebpf")
    s = f.statement
    assert "fd00:10:244:1::22f1" in s and "configured on no interface" in s
    assert "a2:79:14:47:80:b3" in s and "lxc237a31216c0f" in s and "own host-side veth" in s
    assert "169.254.1.1" in s  # the Calico analogy
    assert "router STALE" in s  # the pod's neighbour table
    assert f.details["nd_flags"] == ["RS"]
    assert {"pod-eth0#1", "pod-eth0#2", "pod-eth0#3", "pod-eth0#4"} <= _frames(f)
    assert any("cni-7t9p4-ip-6-n-s.txt" in e for e in _frames(f))


def test_conclusion_4_request_leaves_pod_to_its_lxc(with_dumps) -> None:
    _, exp = with_dumps
    (path,) = [p for p in exp.paths if p.kind == "echo"]
    first = path.hops[0]
    assert first.observed and first.place == "cni-7t9p4 eth0"
    assert [str(e) for e in first.evidence] == ["pod-eth0#5"]
    assert "4e:5b:57:45:63:3b (cni-7t9p4 eth0) → a2:79:14:47:80:b3 (lxc237a31216c0f" in first.note
    assert "fd00:10:244:1::4749 → fd00:10:244:2::9461" in first.note
    assert path.hops[1].place.startswith("lxc237a31216c0f") and not path.hops[1].observed


def test_conclusion_5_vxlan_keeps_the_pod_frame(with_dumps) -> None:
    _, exp = with_dumps
    (path,) = [p for p in exp.paths if p.kind == "echo"]
    node_hop = next(h for h in path.hops if h.kind == "underlay" and h.observed)
    assert [str(e) for e in node_hop.evidence] == ["worker-eth0#1"]
    assert "VXLAN VNI 40172, 172.18.0.3:52379 → 172.18.0.4:8472" in node_hop.note
    # the same facts as fields, for renderers and scripts
    assert (node_hop.tunnel, node_hop.vni, node_hop.device) == ("vxlan", 40172, "eth0")
    assert (node_hop.outer_src_ip, node_hop.outer_src_port) == ("172.18.0.3", 52379)
    assert (node_hop.outer_dst_ip, node_hop.outer_dst_port) == ("172.18.0.4", 8472)
    assert [h.device for h in path.hops if h.kind == "ebpf"] == ["cilium_vxlan"]
    req = [f for f in _by_id(exp, "inner-macs") if f.details["src_ip"] == "fd00:10:244:1::4749"]
    assert len(req) == 1
    assert "unchanged" in req[0].statement and "pod-eth0#5" in req[0].statement


def test_conclusion_6_reply_inner_macs_belong_to_the_other_pod(with_dumps) -> None:
    _, exp = with_dumps
    (rep,) = [f for f in _by_id(exp, "inner-macs") if f.details["src_ip"] == "fd00:10:244:2::9461"]
    assert (
        rep.details["src_mac"] == "b6:61:48:ae:63:f5"
        and rep.details["dst_mac"] == "9e:2f:0c:71:d4:a8"
    )
    assert "sending pod's eth0 → its own host-side veth" in rep.statement
    assert "differ from those of the opposite direction" in rep.statement
    assert _frames(rep) == {"worker-eth0#2"}


def test_conclusion_7_hop_limit_63_is_one_routing_hop(with_dumps) -> None:
    _, exp = with_dumps
    (f,) = _by_id(exp, "hop-limit")
    assert f.details == {"ttl": 63, "initial": 64, "hops": 1, "src_ip": "fd00:10:244:2::9461"}
    assert "one routing hop" in f.statement
    assert _frames(f) == {"pod-eth0#6", "worker-eth0#2"}


def test_vni_is_named_an_identity_and_same_vni_explained(with_dumps) -> None:
    _, exp = with_dumps
    vni = _by_id(exp, "vni-identity")
    assert any("VNI 40172 is the security identity of the sender" in f.statement for f in vni)
    assert any("same VNI 40172" in f.statement for f in vni)


def test_no_problem_in_the_reference(with_dumps) -> None:
    _, exp = with_dumps
    assert exp.by_severity()["problem"] == 0 and exp.by_severity()["warning"] == 0


def test_without_dumps_same_paths_inferred_names(without_dumps, with_dumps) -> None:
    _, bare = without_dumps
    _, full = with_dumps
    assert [p.kind for p in bare.paths] == [p.kind for p in full.paths]
    assert [len(p.hops) for p in bare.paths] == [len(p.hops) for p in full.paths]
    (gw,) = _by_id(bare, "gateway-answered-by-ebpf")
    assert "could not be checked" in gw.statement and "a2:79:14:47:80:b3" in gw.statement
    assert "lxc237a31216c0f" not in gw.statement  # no dump names it
    assert _by_id(bare, "hop-limit") and _by_id(bare, "inner-macs")
    assert any("No topology dump was given" in u for u in bare.unknowns)
    assert not _by_id(bare, "gateway-is-cilium-host")  # needs the pod's route and the node's dump


def _normalise(text: str) -> str:
    return text.replace(str(ROOT) + "/", "")


@pytest.mark.parametrize(
    ("name", "fmt", "dumps"),
    [
        ("explain.txt", "text", True),
        ("explain.md", "md", True),
        ("explain.json", "json", True),
        ("explain-no-topology.txt", "text", False),
    ],
)
def test_golden(
    name: str, fmt: str, dumps: bool, with_dumps, without_dumps, update_golden: bool
) -> None:
    cap, exp = with_dumps if dumps else without_dumps
    text = _normalise(cap.report(fmt, explanation=exp, command="vxlanlens explain ..."))
    if fmt == "json":
        json.loads(text)  # valid JSON whatever the golden says
    path = GOLDEN / name
    if update_golden:
        path.write_text(text, encoding="utf-8")
        pytest.skip(f"rewrote {path.name}")
    assert path.exists(), f"missing golden file {path}: run pytest --update-golden"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed: rerun with --update-golden and review"
    )
