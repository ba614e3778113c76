"""The console entry point: Ctrl-C while the package is still being imported gives one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_INTERRUPT_IMPORT = """
import sys

class Interrupt:
    # Ctrl-C arriving while pandas is being imported (deterministic stand-in for SIGINT)
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupt())
sys.argv = ["vxlanlens", "--version"]
import vxlanlens_entry
vxlanlens_entry.main()
"""


def _run(module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _INTERRUPT_IMPORT.format(module=module)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_ctrl_c_during_imports_exits_130_with_one_line() -> None:
    for module in ("pandas", "vxlanlens.capture"):
        done = _run(module)
        assert done.returncode == 130, done.stderr
        assert done.stderr == "vxlanlens: aborted\n"
        assert done.stdout == ""


def test_entry_point_runs_the_cli() -> None:
    done = _run("no-such-module-is-imported")
    assert done.returncode == 0, done.stderr
    assert "vxlanlens" in done.stdout


def test_console_script_is_the_guarded_entry_point() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'vxlanlens = "vxlanlens_entry:main"' in text
