"""The project's Python is ruff clean (lint rules and formatting of pyproject.toml), lab,
benchmark and scripts included: CI enforces what the README promises."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON_TREES = ["vxlanlens", "vxlanlens_entry", "tests", "lab", "bench", "scripts", "notebooks"]


def _ruff() -> list[str]:
    beside = Path(sys.executable).with_name("ruff")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (it is in the test extras)")
    return [found]


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_clean(args: list[str]) -> None:
    trees = [t for t in PYTHON_TREES if (ROOT / t).exists()]
    if args[0] == "format":  # Python files only (ruff would also format code in Markdown)
        trees = [t for t in trees if t != "notebooks"]
    cp = subprocess.run(
        [*_ruff(), *args, *trees], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr[-2000:]
