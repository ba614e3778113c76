"""docs/explanations.md documents every finding id, and detectors emit only documented ids."""

from __future__ import annotations

import re
from pathlib import Path

import vxlanlens
from vxlanlens.explain import FINDING_IDS

ROOT = Path(__file__).resolve().parents[2]


def test_every_finding_id_is_documented() -> None:
    doc = (ROOT / "docs" / "explanations.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `([a-z0-9-]+)`", doc, flags=re.M))
    assert documented == set(FINDING_IDS)


def test_emitted_ids_are_known() -> None:
    seen: set[str] = set()
    for folder in sorted((ROOT / "captures").glob("*/")):
        caps = sorted(str(p) for p in folder.glob("*.pcap"))
        if not caps:
            continue
        topo = folder / "topology"
        exp = vxlanlens.read(caps, topology=[str(topo)] if topo.is_dir() else None).explain()
        seen |= {f.id for f in exp.findings}
    assert seen <= set(FINDING_IDS)
    assert {"gateway-answered-by-ebpf", "vni-identity", "hop-limit", "echo-unanswered"} <= seen
