"""Generated documentation is current, and the README's commands are the ones CI and users run."""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generated() -> dict[Path, object]:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GENERATED


@pytest.mark.parametrize("path", sorted(_generated()), ids=lambda p: p.name)
def test_generated_doc_is_current(path: Path) -> None:
    want, have = _generated()[path](), path.read_text(encoding="utf-8")
    diff = "\n".join(
        difflib.unified_diff(
            have.splitlines(), want.splitlines(), "on disk", "generated", lineterm="", n=1
        )
    )
    assert have == want, f"{path.name} is stale: run python scripts/gen_docs.py\n{diff[:3000]}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```sh\nbash scripts/test.sh\n```" in readme
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_main_command_uses_shipped_files() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```sh\nbash scripts/quickstart.sh\n```" in readme
    script = (ROOT / "scripts" / "quickstart.sh").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if x.startswith(".venv/bin/vxlanlens explain "))
    words = [w for w in line.split() if w.startswith("captures/")]
    assert words, line
    for word in words:
        assert (ROOT / word).exists(), word
        # the script runs the command the README shows
        assert Path(word).name in script, word
