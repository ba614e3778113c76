"""Paths shared by the tests: the project, the shipped captures and the third-party corpus.

Import from here (``from testpaths import PUBLIC``), not from ``conftest``: several folders
have a conftest.py and only one of them can be the module called ``conftest``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PUBLIC = SHARED / "captures" / "public"
CAPTURES = ROOT / "captures"
DATA = Path(__file__).resolve().parent / "data"


def public_files(*patterns: str) -> list[Path]:
    """Corpus files matching glob patterns (empty when the corpus is absent)."""
    if not PUBLIC.is_dir():
        return []
    out: list[Path] = []
    for pat in patterns or ("**/*.pcap", "**/*.pcapng", "**/*.cap"):
        out.extend(sorted(PUBLIC.glob(pat)))
    return sorted(set(out))
