"""stale-vtep-mac and outer-udp-checksum on the kernel-made lab scenarios, and what must not
fire them (healthy overlays, Cilium, checksum offload at the sender)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain.findings.vtep import partial_checksum

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def _explain(name: str, *, dumps: bool = True, cni: str | None = None):
    d = CAPTURES / name
    topo = [str(d / "topology")] if dumps else None
    cap = vxlanlens.read(sorted(str(p) for p in d.glob("*.pcap")), topology=topo)
    return cap, cap.explain(cni)


def _ids(exp) -> list[str]:
    return [f.id for f in exp.findings]


def test_stale_vtep_mac_names_the_old_mac_and_the_fdb_line() -> None:
    _, exp = _explain("lab-flannel-stale-vtep-mac")
    (f,) = [f for f in exp.findings if f.id == "stale-vtep-mac"]
    assert f.details["inner_dst_mac"] not in f.details["vtep_macs"]
    assert f.details["node"] == "flannel-worker2"
    sources = [str(e) for e in f.evidence if e.source]
    assert any("bridge-fdb-show" in s and s.endswith(":1") for s in sources)
    assert any(e.capture and e.capture.startswith("node-worker2") for e in f.evidence)


def test_stale_vtep_mac_without_dumps_from_the_otherhost_frame() -> None:
    _, exp = _explain("lab-flannel-stale-vtep-mac", dumps=False, cni="flannel")
    (f,) = [f for f in exp.findings if f.id == "stale-vtep-mac"]
    assert "otherhost" in f.statement


@pytest.mark.parametrize(
    "name", ["lab-flannel-ping", "lab-calico-ping", "lab-flannel-missing-fdb", "lab-ipv4-ping"]
)
def test_healthy_or_other_faults_do_not_fire(name: str) -> None:
    _, exp = _explain(name)
    assert "stale-vtep-mac" not in _ids(exp)
    assert "outer-udp-checksum" not in _ids(exp)


def test_outer_udp_checksum_damaged_between_nodes() -> None:
    _, exp = _explain("lab-flannel-outer-udp-checksum")
    (f,) = [f for f in exp.findings if f.id == "outer-udp-checksum"]
    assert (f.details["outer_src_ip"], f.details["outer_dst_ip"]) == ("172.18.0.4", "172.18.0.3")
    assert len(f.details["checksums"]) == 2
    assert "(sending node)" in f.statement and "(receiving node)" in f.statement


def test_offload_checksums_are_the_pseudo_header_sum() -> None:
    """The healthy Flannel capture holds offload checksums at both ends: each one is the
    pseudo-header sum, so none is counted."""
    cap, _ = _explain("lab-flannel-ping")
    tun = cap.packets[cap.packets["tunnel"].notna()]
    assert len(tun)
    for s, d, n, c in tun[
        ["outer_src_ip", "outer_dst_ip", "outer_udp_len", "outer_udp_checksum"]
    ].itertuples(index=False):
        assert partial_checksum(s, d, int(n)) == int(c)


def test_partial_checksum_arithmetic() -> None:
    # 0xac12 + 0x0004 + 0xac12 + 0x0003 + 17 + 114 = 0x158ae -> folded 0x58af
    assert partial_checksum("172.18.0.4", "172.18.0.3", 114) == 0x58AF
    assert partial_checksum("fd00::1", "fd00::2", 8) == 0xFA1D  # 0x1fa1c folded
    assert partial_checksum("nope", "fd00::2", 8) is None


def test_missing_fdb_entry_cites_the_neighbour_entry() -> None:
    _, exp = _explain("lab-flannel-missing-fdb")
    (f,) = [f for f in exp.findings if f.id == "missing-fdb-entry"]
    assert (f.details["node"], f.details["device"]) == ("flannel-worker", "flannel.1")
    assert f.details["vtep_macs"]  # the neighbour entry's MAC, which no FDB entry maps
    assert any(e.source and "ip-j-n.json" in e.source for e in f.evidence)


@pytest.mark.parametrize("name", ["lab-flannel-ping", "lab-flannel-port-mismatch", "lab-ipv4-ping"])
def test_missing_fdb_entry_not_where_frames_were_encapsulated(name: str) -> None:
    _, exp = _explain(name)
    assert "missing-fdb-entry" not in _ids(exp)


def test_antrea_lab_is_antrea_with_the_virtual_mac_named() -> None:
    _, exp = _explain("lab-antrea-geneve-ping")
    overlay = exp.topology["overlay"]
    assert (overlay["name"], overlay["confidence"]) == ("antrea", "high")
    assert _ids(exp) == []  # no unknown-mac for the global virtual MAC, no Cilium rule
    text = exp.to_dict()
    assert "Antrea's global virtual MAC" in str(text["paths"])


def test_tunnel_config_mismatch_names_both_ports_and_the_packets_sent_with_the_wrong_one() -> None:
    _, exp = _explain("lab-flannel-port-mismatch")
    (f,) = [f for f in exp.findings if f.id == "tunnel-config-mismatch"]
    assert str(f.severity) == "problem"
    assert f.details["attribute"] == "dstport"
    assert f.details["values"] == {"flannel-worker": 8472, "flannel-worker2": 4789}
    assert f.details["frames"] == 1  # one packet, however many captures saw it
    sources = [str(e) for e in f.evidence if e.source]
    assert sum("ip-d-link" in s for s in sources) == 2
    assert any(e.capture and e.capture.startswith("node-worker2") for e in f.evidence)


def test_tunnel_config_mismatch_without_packets_is_a_warning(tmp_path: Path) -> None:
    """The dumps alone disagree: a warning (nothing captured was sent with the wrong port)."""
    import shutil

    src = CAPTURES / "lab-flannel-port-mismatch"
    shutil.copytree(src / "topology", tmp_path / "topology")
    cap = vxlanlens.read(
        [str(src / "pod-busybox-k4x2p-eth0.pcap")], topology=[str(tmp_path / "topology")]
    )
    (f,) = [f for f in cap.explain().findings if f.id == "tunnel-config-mismatch"]
    assert str(f.severity) == "warning" and f.details["frames"] == 0


@pytest.mark.parametrize("name", ["lab-flannel-ping", "lab-calico-ping", "cilium-dual-stack"])
def test_no_tunnel_config_mismatch_when_the_nodes_agree(name: str) -> None:
    _, exp = _explain(name)
    assert "tunnel-config-mismatch" not in _ids(exp)


def test_seen_twice_keeps_the_journeys_of_two_or_more_rows() -> None:
    import numpy as np
    import pandas as pd

    from vxlanlens.explain.findings.vtep import _seen_twice

    rng = np.random.default_rng(3)
    for ids in (rng.integers(0, 50, 200), rng.integers(0, 50, 200) * 10**9):  # dense, sparse
        j = pd.DataFrame({"journey": ids, "frame_no": np.arange(len(ids))})
        want = j[j.groupby("journey")["journey"].transform("size") > 1]
        pd.testing.assert_frame_equal(_seen_twice(j), want)
    assert _seen_twice(j.iloc[:0]).empty
