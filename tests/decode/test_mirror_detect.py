"""VXLAN mirror sessions when captures are read: ``--mirror-vxlan`` and detection, and that
the cluster's own overlay (and every shipped capture) is never taken for a mirror."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from craft import write_pcap
from craft_encap import cilium_vxlan, pod_tcp, vxlan_mirror
from scapy.all import raw
from testpaths import CAPTURES

import vxlanlens
from vxlanlens.decode.mirror import AUTO_MIN_FRAMES
from vxlanlens.options import ReadOptions
from vxlanlens.read.mirror_detect import parse_mirror_vxlan

MIRROR = [c for c in vxlanlens.schema.COLUMN_NAMES if c.startswith("mirror")]
RECORD = [c.name for c in vxlanlens.schema.COLUMNS if c.kind == "record"]


def _pcap(tmp_path: Path, name: str, pkts: list) -> Path:
    return write_pcap(tmp_path / name, [(i * 1000, raw(p)) for i, p in enumerate(pkts)])


def _same_non_mirror(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = [c for c in a.columns if c not in MIRROR and c not in RECORD]
    pd.testing.assert_frame_equal(
        a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), check_categorical=False
    )


def test_a_vxlan_session_carrying_an_overlay_is_detected_and_peeled(tmp_path: Path) -> None:
    mirrored = [cilium_vxlan(vni=6899 + i) for i in range(3)] + [pod_tcp()]
    own = cilium_vxlan()
    cap = _pcap(tmp_path, "m.pcap", [vxlan_mirror(m, vni=77) for m in mirrored] + [own])
    got = vxlanlens.read(cap, workers=1).packets
    assert list(got["mirror"].iloc[:4]) == ["vxlan"] * 4 and pd.isna(got["mirror"].iloc[4])
    assert list(got["mirror_session"].iloc[:4]) == [77] * 4
    assert got["mirror_src_ip"].iloc[0] == "192.0.2.1"
    direct = vxlanlens.read(_pcap(tmp_path, "d.pcap", [*mirrored, own]), workers=1).packets
    _same_non_mirror(got, direct)
    off = vxlanlens.read(cap, workers=1, mirror_vxlan=["none"]).packets
    assert off["mirror"].isna().all() and (off["tunnel_depth"].iloc[:3] == 2).all()
    named = vxlanlens.read(cap, workers=1, mirror_vxlan=["4789:77", "none"]).packets
    pd.testing.assert_frame_equal(named, got)


def test_too_few_nested_frames_and_the_clusters_overlay_are_not_mirrors(tmp_path: Path) -> None:
    few = [vxlan_mirror(cilium_vxlan(), vni=5)] * (AUTO_MIN_FRAMES - 1)
    own = [cilium_vxlan(vni=v) for v in (1, 2, 3)] + [vxlan_mirror(pod_tcp(), vni=9)] * 3
    got = vxlanlens.read(_pcap(tmp_path, "n.pcap", few + own), workers=1).packets
    assert got["mirror"].isna().all()
    assert list(got["tunnel"].astype(object)) == ["vxlan"] * len(got)


def test_shipped_captures_have_no_mirror_and_detection_changes_nothing() -> None:
    # every shipped capture but the lab's mirror scenarios, which are mirrored on purpose
    files = sorted(
        str(p) for p in CAPTURES.glob("*/*.pcap*") if not p.parent.name.startswith("lab-mirror-")
    )
    assert files
    labels = [f"{Path(f).parent.name}-{Path(f).stem}={f}" for f in files]
    auto = vxlanlens.read(labels, workers=1).packets
    assert auto[MIRROR].isna().all().all()
    off = vxlanlens.read(labels, workers=1, mirror_vxlan=["none"]).packets
    pd.testing.assert_frame_equal(auto, off)


def test_the_option_is_parsed_and_kept_in_the_reproducing_command() -> None:
    assert parse_mirror_vxlan("4789:77") == (4789, 77)
    assert parse_mirror_vxlan("4789") == (4789, -1)
    assert parse_mirror_vxlan("NONE") is None
    for bad in ("x", "0", "4789:-5", "4789:16777216", "70000"):
        with pytest.raises(ValueError, match="mirror-vxlan"):
            parse_mirror_vxlan(bad)
    opts = ReadOptions(mirror_vxlan=("4789:77", "none"))
    assert opts.to_args() == ["--mirror-vxlan", "4789:77", "--mirror-vxlan", "none"]
    dec = opts.decode_options()
    assert dec.mirror_vxlan == frozenset({(4789, 77)}) and not dec.mirror_auto
    with pytest.raises(ValueError):
        ReadOptions(mirror_vxlan=("bad",))


def test_the_cli_rejects_a_bad_value_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from vxlanlens.cli import cli as main

    cap = _pcap(tmp_path, "c.pcap", [cilium_vxlan()])
    res = CliRunner().invoke(main, ["packets", str(cap), "--mirror-vxlan", "nope"])
    assert res.exit_code == 2 and "mirror-vxlan" in res.output and "Traceback" not in res.output
    ok = CliRunner().invoke(main, ["packets", str(cap), "--mirror-vxlan", "4789:1"])
    assert ok.exit_code == 0, ok.output


def test_geneve_ip_gre_capture_decodes_to_the_innermost_tcp(public_dir: Path) -> None:
    cap = public_dir / "suricata-verify" / "bug-6402-01" / "input.pcap"
    if not cap.exists():
        pytest.skip(f"{cap} not found")
    got = vxlanlens.read(cap, workers=1).packets
    assert (got["ip_tunnel"] == "gre").all() and (got["tunnel_depth"] == 2).all()
    assert (got["tunnel"] == "geneve").all()
    assert got["decode_layer"].isna().all()
    assert (got["ip_proto"] == 6).all() and got["tcp_flags"].notna().all()


def test_the_lab_vxlan_mirror_session_is_detected_by_read_and_by_streams() -> None:
    """The kernel-made VXLAN mirror (4789, VNI 7001) is peeled whole, read or streamed."""
    path = str(CAPTURES / "lab-mirror-vxlan" / "collector-eth0.pcap")
    whole = vxlanlens.read([path], workers=1).packets
    assert set(whole["mirror"].dropna().astype(str)) == {"vxlan"}
    assert set(whole["mirror_session"].dropna().astype(int)) == {7001}
    assert set(whole["vni"].dropna().astype(int)).isdisjoint({7001})
    from vxlanlens.stream import iter_batches

    streamed = pd.concat(list(iter_batches(path, batch_frames=2)), ignore_index=True)
    assert streamed["mirror"].astype(object).tolist() == whole["mirror"].astype(object).tolist()
    assert streamed["vni"].tolist() == whole["vni"].tolist()
