"""Golden explanations of every kernel-made lab scenario (``captures/lab-*``).

One folder per scenario under tests/golden/<scenario>/ holds ``explain.txt`` (what a user reads)
and ``explain.json`` (what scripts read), made from the scenario's captures and its topology
folder, read with paths relative to the project's root (as a user types them, so the goldens do
not depend on where the project was cloned). Regenerate with
``pytest tests/explain/test_lab_golden.py --update-golden`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vxlanlens

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SCENARIOS = sorted(p.name for p in (ROOT / "captures").glob("lab-*") if p.is_dir())
FORMATS = (("explain.txt", "text"), ("explain.json", "json"))


def _outputs(name: str) -> dict[str, str]:
    """The scenario's explanation in each golden format."""
    folder = Path("captures") / name
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        captures = [str(p) for p in sorted(folder.glob("*.pcap"))]
        cap = vxlanlens.read(captures, topology=[str(folder / "topology")])
        exp = cap.explain()
        command = f"vxlanlens explain {folder}/*.pcap --topology {folder}/topology"
        return {
            f: _normalise(cap.report(fmt, explanation=exp, command=command)) for f, fmt in FORMATS
        }


def _normalise(text: str) -> str:
    """Paths the loader resolved (dumps bound by a manifest) made relative to the root."""
    return text.replace(str(ROOT) + "/", "")


def test_every_lab_scenario_has_a_golden_folder() -> None:
    assert SCENARIOS
    missing = [n for n in SCENARIOS if not (GOLDEN / n / "explain.txt").exists()]
    assert missing == [], "run pytest tests/explain/test_lab_golden.py --update-golden"


@pytest.mark.parametrize("name", SCENARIOS)
def test_lab_golden(name: str, update_golden: bool) -> None:
    outputs = _outputs(name)
    json.loads(outputs["explain.json"])  # valid JSON whatever the golden says
    folder = GOLDEN / name
    if update_golden:
        folder.mkdir(parents=True, exist_ok=True)
        for file, text in outputs.items():
            (folder / file).write_text(text, encoding="utf-8")
        pytest.skip(f"rewrote {folder.name}/")
    for file, text in outputs.items():
        path = folder / file
        assert path.exists(), f"missing golden file {path}: run pytest --update-golden"
        assert text == path.read_text(encoding="utf-8"), (
            f"{name}/{file} changed: rerun with --update-golden and review the diff"
        )
