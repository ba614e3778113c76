"""Regenerate the documentation files that are generated from code (docs/columns.md)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vxlanlens.exchanges.columns import exchanges_markdown  # noqa: E402
from vxlanlens.schema import columns_markdown  # noqa: E402

GENERATED = {
    ROOT / "docs" / "columns.md": columns_markdown,
    ROOT / "docs" / "exchanges.md": exchanges_markdown,
}

if __name__ == "__main__":
    for path, make in GENERATED.items():
        path.write_text(make(), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
