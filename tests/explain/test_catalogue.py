"""docs/explanations.md documents every finding id under its declared severity, with an
example, and detectors emit only declared ids and severities (the registry is the source)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import FINDING_IDS, Finding
from vxlanlens.explain.findings import (
    DETECTORS,
    SPECS,
    FindingSpec,
    UndeclaredFinding,
    detector,
    finding_id_schema,
)
from vxlanlens.proto import Severity

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "explanations.md").read_text(encoding="utf-8")


def _sections() -> dict[str, tuple[str, str]]:
    """id -> (severity heading it is under, its entry's text)."""
    out: dict[str, tuple[str, str]] = {}
    severity = ""
    parts = re.split(r"^(## [a-z]+|### `[a-z0-9-]+`)\s*$", DOC, flags=re.M)
    for head, body in zip(parts[1::2], parts[2::2], strict=True):
        if head.startswith("## "):
            severity = head[3:]
        else:
            out[head[5:-1]] = (severity, body)
    return out


def test_every_finding_id_is_documented() -> None:
    assert set(_sections()) == set(FINDING_IDS)


def test_ids_are_documented_under_their_severity_with_an_example() -> None:
    for fid, (severity, body) in _sections().items():
        spec = SPECS[fid]
        assert severity == spec.severity.value, f"{fid} is declared {spec.severity.value}"
        assert "**Trigger**" in body, fid
        assert "**Example**" in body, f"{fid} has no example"


def test_registry_is_the_source_of_ids() -> None:
    assert tuple(s.id for d in DETECTORS for s in d.specs) == FINDING_IDS
    assert len(set(FINDING_IDS)) == len(FINDING_IDS)
    assert finding_id_schema()["enum"] == sorted(FINDING_IDS)
    for spec in SPECS.values():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", spec.id)
        assert all(isinstance(s, Severity) for s in spec.severities)


def test_undeclared_ids_and_severities_are_refused() -> None:
    @detector(FindingSpec("x-test", Severity.INFO, "test"))
    def emits(ctx: object) -> list[Finding]:
        return [Finding("x-test", "problem", "wrong severity")]

    with pytest.raises(UndeclaredFinding):
        emits(None)  # type: ignore[arg-type]


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
