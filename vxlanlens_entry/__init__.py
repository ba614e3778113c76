"""The ``vxlanlens`` console command's entry point, outside the ``vxlanlens`` package.

Importing ``vxlanlens`` loads pandas, NumPy and matplotlib (about a second). A Ctrl-C in that
second used to print a KeyboardInterrupt traceback from inside an import. The import happens
here instead, under a guard: Ctrl-C at any time gives one line and exit status 130, as a
Ctrl-C later in the run does (``vxlanlens.cli.main``).
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Import the command line interface and run it; one line and exit 130 on Ctrl-C."""
    try:
        from vxlanlens.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("vxlanlens: aborted\n")
        raise SystemExit(130) from None
    run()
