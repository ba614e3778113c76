"""Captures peeled out of a mirror transport (ERSPAN, GRE, a mirroring VXLAN): classified as
``mirror`` with the transport in words, placed on the mirrored port, and explained as a direct
capture of that port would be.

The decoder fills the ``mirror*`` columns (docs/columns.md). These tests make the peeled table
themselves: the kernel-made capture of node worker's eth0 from ``lab-mirror-erspan`` is what
the collector's capture is once peeled (the lab checks it byte for byte), so adding the columns
to it gives what the decoder hands explain, whatever decoder this tree holds.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from testpaths import CAPTURES, ROOT

import vxlanlens
from vxlanlens.explain.classify import _peel_hint, overlay_class
from vxlanlens.report._place import place_text

LAB = CAPTURES / "lab-mirror-erspan"
SCHEMA = json.loads((ROOT / "docs" / "explain.schema.json").read_text(encoding="utf-8"))
SWITCH, COLLECTOR = "172.18.0.250", "172.18.0.99"


def _direct(topology: bool = True) -> vxlanlens.Capture:
    topo = str(LAB / "topology") if topology else None
    return vxlanlens.read(str(LAB / "node-worker-eth0.pcap"), topology=topo)


def _mirrored(
    cap: vxlanlens.Capture,
    transport: str,
    session: int,
    directions: list[str | None] | None = None,
    every: int = 1,
) -> vxlanlens.Capture:
    """``cap`` as the decoder gives the same frames peeled out of a mirror (every ``every``-th
    frame; the others not mirrored)."""
    p = cap.packets.copy()
    n = len(p)
    on = [i % every == 0 for i in range(n)]
    ip_dtype = "category"  # as the outer_*_ip columns

    def col(value: object, dtype: object) -> pd.Series:
        return pd.Series([value if o else None for o in on], index=p.index).astype(dtype)

    p["mirror"] = col(transport, "category")
    p["mirror_src_ip"] = col(SWITCH, ip_dtype)
    p["mirror_dst_ip"] = col(COLLECTOR, ip_dtype)
    p["mirror_session"] = pd.array([session if o else None for o in on], dtype="UInt32")
    dirs = directions if directions is not None else [None] * n
    p["mirror_direction"] = pd.Series(
        [d if o else None for d, o in zip(dirs, on, strict=True)], index=p.index
    ).astype("category")
    p["mirror_port"] = pd.array([8 if o else None for o in on], dtype="UInt32")
    p["mirror_vlan"] = pd.array([None] * n, dtype="UInt16")
    return dataclasses.replace(cap, packets=p)


def _point(exp: vxlanlens.Explanation) -> dict:
    (point,) = exp.topology["capture_points"]
    return point


def test_peeled_erspan_capture_is_a_mirror_of_the_node_port() -> None:
    direct = _direct()
    mirrored = _mirrored(direct, "erspan-2", 7)
    d, m = direct.explain(), mirrored.explain()
    dp, mp = _point(d), _point(m)
    assert mp["class"] == "mirror"
    ev = mp["class_evidence"]
    assert ev.startswith(
        f"mirrored by ERSPAN II session 7 from {SWITCH} to the collector {COLLECTOR}"
    )
    assert f"{len(direct.packets)} of {len(direct.packets)} frames" in ev
    assert dp["class_evidence"] in ev and "(node-underlay)" in ev
    mirror = mp["mirror"]
    assert mirror["transport"] == "erspan-2" and mirror["sessions"] == [7]
    assert mirror["source_ips"] == [SWITCH] and mirror["collector_ips"] == [COLLECTOR]
    assert mirror["ports"] == [8] and mirror["vlans"] == [] and mirror["directions"] == {}
    assert mirror["carries"] == dp["class"] == "node-underlay"
    # the capture point is the mirrored port, placed as a direct capture of it is
    for key in ("kind", "node", "pod", "interface", "how"):
        assert mp[key] == dp[key]
    # paths and findings as on the direct capture
    assert [p.to_dict() for p in m.paths] == [p.to_dict() for p in d.paths]
    assert sorted(f.id for f in m.findings) == sorted(f.id for f in d.findings)
    assert m.unknowns == d.unknowns
    assert "mirror" not in dp


def test_mirror_said_in_text_markdown_html_and_json() -> None:
    cap = _mirrored(_direct(), "erspan-2", 7)
    words = f"mirrored by ERSPAN II session 7 from {SWITCH} to the collector {COLLECTOR}"
    text = cap.report("text")
    line = next(ln for ln in text.splitlines() if "node-worker-eth0 " in ln)
    assert "cilium-dual-stack-worker" in line and words in line
    assert words in cap.report("md")
    assert words in cap.report("html")
    doc = json.loads(cap.report("json"))
    errors = [
        f"{list(e.path)}: {e.message}"
        for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc)
    ]
    assert errors == []
    assert doc["topology"]["capture_points"][0]["mirror"]["label"] == "ERSPAN II session 7"


def test_erspan3_directions_counted() -> None:
    direct = _direct()
    n = len(direct.packets)
    dirs = ["ingress" if i % 2 == 0 else "egress" for i in range(n)]
    mp = _point(_mirrored(direct, "erspan-3", 9, dirs).explain())
    ing, eg = dirs.count("ingress"), dirs.count("egress")
    assert mp["mirror"]["directions"] == {"egress": eg, "ingress": ing}
    assert f"direction at the mirrored port: {eg} egress, {ing} ingress" in mp["class_evidence"]
    assert f"({eg} egress, {ing} ingress)" in place_text(mp)


def test_mirroring_vxlan_vni_is_no_identity() -> None:
    """Cloud traffic mirroring wraps the Cilium VXLAN frames in VXLAN 4789 VNI 7001: once
    peeled, the overlay is recognised from the inner VXLAN, and 7001 is never an identity."""
    direct = _direct()
    cap = _mirrored(direct, "vxlan", 7001)
    exp, d = cap.explain(), direct.explain()
    assert _point(exp)["mirror"]["label"] == "VXLAN VNI 7001"
    assert exp.topology["overlay"]["name"] == d.topology["overlay"]["name"] == "cilium"
    out = json.dumps([f.to_dict() for f in exp.findings] + [p.to_dict() for p in exp.paths])
    assert "7001" not in out
    assert {f.id for f in exp.findings} == {f.id for f in d.findings}


def test_partly_mirrored_capture_counts_its_mirrored_frames() -> None:
    direct = _direct(topology=False)
    cap = _mirrored(direct, "gre", 3, every=2)
    mp = _point(cap.explain())
    k = (len(direct.packets) + 1) // 2
    assert mp["class"] == "mirror" and mp["mirror"]["frames"] == k
    assert mp["class_evidence"].startswith(f"mirrored by GRE key 3 from {SWITCH}")
    assert f"{k} of {len(direct.packets)} frames" in mp["class_evidence"]


def test_mirror_of_a_plain_lan_shows_no_overlay(public_dir: Path) -> None:
    """A mirror that carries no tunnel packet is still no pod overlay: the Cilium-rule
    findings stay out and "Not known" says so, as for the LAN capture itself."""
    lan = vxlanlens.read(str(public_dir / "zeek" / "arp-who-has.pcap"))
    cap = _mirrored(lan, "erspan-2", 7)
    exp = cap.explain()
    mp = _point(exp)
    assert mp["class"] == "mirror" and mp["mirror"]["carries"] == "lan"
    assert exp.unknowns[0].startswith("No capture shows a pod overlay")
    assert place_text(mp).startswith("plain LAN capture")


def test_older_tables_without_mirror_columns_are_unchanged() -> None:
    direct = _direct()
    point = _point(direct.explain())
    assert point["class"] == "node-underlay" and "mirror" not in point
    assert overlay_class(point) == "node-underlay"
    # a newer table whose frames were not mirrored: the columns are there, all null
    p = direct.packets.assign(mirror=pd.Series([None] * len(direct.packets), dtype="category"))
    unmirrored = _point(dataclasses.replace(direct, packets=p).explain())
    assert unmirrored == point


@pytest.mark.parametrize(
    ("point", "words"),
    [
        (
            {"kind": "node", "node": "n1", "interface": "eth0", "class": "mirror",
             "mirror": {"label": "VXLAN VNI 7001", "source_ips": ["10.0.0.5"],
                        "collector_ips": ["10.0.0.9"], "directions": {}, "carries": "node-underlay"}},
            "n1/eth0, mirrored by VXLAN VNI 7001 from 10.0.0.5 to the collector 10.0.0.9",
        ),
        (
            {"kind": "pod", "pod": "p1", "class": "mirror",
             "mirror": {"label": "ERSPAN III session 2", "source_ips": [], "collector_ips": [],
                        "directions": {"ingress": 1}, "carries": "pod"}},
            "pod p1 eth0, mirrored by ERSPAN III session 2 (1 ingress)",
        ),
        (
            {"kind": None, "class": "mirror", "class_evidence": "x"},
            "mirror session (tunnel packets one way, both directions inside)",
        ),
    ],
)  # fmt: skip
def test_place_text_of_mirrors(point: dict, words: str) -> None:
    assert place_text(point) == words
    assert overlay_class(point) == (point.get("mirror") or {}).get("carries", "mirror")


@pytest.mark.parametrize(
    ("first", "node"),
    [("ingress", "cilium-dual-stack-worker"), ("egress", "cilium-dual-stack-worker2")],
)
def test_erspan3_direction_places_the_capture(tmp_path: Path, first: str, node: str) -> None:
    """On a link between two nodes the frames alone do not tell which end was mirrored; the
    ERSPAN III direction does: ingress at the mirrored port = sent by the node behind it."""
    pcap = tmp_path / "collector-eth0.pcap"
    pcap.write_bytes((LAB / "node-worker-eth0.pcap").read_bytes())
    cap = vxlanlens.read(str(pcap), topology=str(LAB / "topology"))
    assert "or" in _point(cap.explain())["node"]  # undecided without a direction
    other = "egress" if first == "ingress" else "ingress"
    dirs = [first if i % 2 == 0 else other for i in range(len(cap.packets))]
    mp = _point(_mirrored(cap, "erspan-3", 9, dirs).explain())
    assert mp["node"] == node and mp["kind"] == "node"
    assert "mirrored frames" in mp["how"]


def test_vxlan_mirror_collector_is_peeled_or_says_how() -> None:
    """The collector of cloud-style VXLAN mirroring (lab-mirror-vxlan): peeled by the decoder
    (automatic detection: the session's frames are themselves overlay-tunnelled), or, by a
    decoder that does not peel, classified a mirror with the option that would peel it."""
    d = CAPTURES / "lab-mirror-vxlan"
    cap = vxlanlens.read(str(d / "collector-eth0.pcap"), topology=str(d / "topology"))
    point = _point(cap.explain())
    assert point["class"] == "mirror"
    if "mirror" in cap.packets.columns and cap.packets["mirror"].notna().any():
        assert point["mirror"]["label"] == "VXLAN VNI 7001"
        assert "--mirror-vxlan" not in point["class_evidence"]
    else:
        assert point["class_evidence"].endswith(
            "; read with --mirror-vxlan 4789:7001 to peel the session and explain the mirrored "
            "frames"
        )


def test_no_peel_hint_for_mixed_sessions() -> None:
    rows = pd.DataFrame(
        {
            "tunnel": ["vxlan", "vxlan", "geneve"],
            "outer_dport": [4789, 4789, 6081],
            "vni": [5, 5, 5],
        }
    )
    assert _peel_hint(rows) == ""
    assert (
        _peel_hint(rows.iloc[:2])
        == "; read with --mirror-vxlan 4789:5 to peel the session and explain the mirrored frames"
    )
    assert _peel_hint(rows.iloc[:2].assign(vni=[5, 6])) == ""
