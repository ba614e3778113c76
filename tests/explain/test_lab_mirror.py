"""The kernel-made mirror scenarios (``captures/lab-mirror-*``): the collector's capture alone,
as a user of a switch's ERSPAN session or of cloud traffic mirroring has it.

``collector.txt`` / ``collector.json`` in each ``tests/golden/lab-mirror-*/`` folder are the
explanation of ``collector-eth0.pcap`` with the scenario's topology (regenerate with
``pytest tests/explain/test_lab_mirror.py --update-golden``). What the collector capture must
say once the decoder peels mirror transports (the ``mirror*`` columns) is checked against the
node's own capture of the same frames; with a decoder that does not peel them yet, that check is
skipped (and says so) while the goldens record what this tree's decoder gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vxlanlens

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SCENARIOS = sorted(p.name for p in (ROOT / "captures").glob("lab-mirror-*") if p.is_dir())

# What each scenario's collector sees (the lab's invented switch and collector; lab/lab_mirror.py)
EXPECTED = {
    "lab-mirror-erspan": ("erspan-2", "ERSPAN II session 7", False),
    "lab-mirror-erspan3": ("erspan-3", "ERSPAN III session 9", True),
    "lab-mirror-vxlan": ("vxlan", "VXLAN VNI 7001", False),
}
SWITCH, COLLECTOR = "172.18.0.250", "172.18.0.99"


def _read(name: str, pcap: str) -> vxlanlens.Capture:
    folder = Path("captures") / name
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        cap = vxlanlens.read(str(folder / pcap), topology=[str(folder / "topology")])
        cap.explain()  # computed here, where the relative paths resolve
        return cap


def test_every_mirror_scenario_is_known() -> None:
    assert SCENARIOS and set(SCENARIOS) == set(EXPECTED)


@pytest.mark.parametrize("name", SCENARIOS)
def test_collector_golden(name: str, update_golden: bool) -> None:
    folder = Path("captures") / name
    cap = _read(name, "collector-eth0.pcap")
    command = f"vxlanlens explain {folder}/collector-eth0.pcap --topology {folder}/topology"
    outputs = {
        "collector.txt": cap.report("text"),
        "collector.json": cap.report("json", command=command),
    }
    outputs = {k: v.replace(str(ROOT) + "/", "") for k, v in outputs.items()}
    json.loads(outputs["collector.json"])
    gold = GOLDEN / name
    if update_golden:
        gold.mkdir(parents=True, exist_ok=True)
        for file, text in outputs.items():
            (gold / file).write_text(text, encoding="utf-8")
        pytest.skip(f"rewrote {name}/collector.*")
    for file, text in outputs.items():
        assert text == (gold / file).read_text(encoding="utf-8"), (
            f"{name}/{file} changed: rerun with --update-golden and review the diff"
        )


@pytest.mark.parametrize("name", SCENARIOS)
def test_collector_capture_is_the_mirrored_port(name: str) -> None:
    cap = _read(name, "collector-eth0.pcap")
    if "mirror" not in cap.packets.columns:
        pytest.skip("this tree's decoder does not peel mirror transports (no mirror column)")
    direct = _read(name, "node-worker-eth0.pcap")
    transport, label, directed = EXPECTED[name]
    exp, dexp = cap.explain(), direct.explain()
    (point,) = exp.topology["capture_points"]
    (dpoint,) = dexp.topology["capture_points"]
    assert point["class"] == "mirror"
    assert point["class_evidence"].startswith(
        f"mirrored by {label} from {SWITCH} to the collector {COLLECTOR}"
    )
    m = point["mirror"]
    assert m["transport"] == transport and m["carries"] == dpoint["class"] == "node-underlay"
    assert m["frames"] == len(cap.packets) == len(direct.packets)
    assert bool(m["directions"]) == directed
    # the peeled frames are the node's: same counts, exchanges, paths and findings
    assert exp.counts == dexp.counts
    assert [(p.kind, p.status) for p in exp.paths] == [(p.kind, p.status) for p in dexp.paths]
    assert sorted(f.id for f in exp.findings) == sorted(f.id for f in dexp.findings)
    assert exp.topology["overlay"]["name"] == "cilium"
    assert "7001" not in json.dumps([f.to_dict() for f in exp.findings])
