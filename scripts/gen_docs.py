"""Regenerate the documentation files that are generated from code (docs/columns.md,
docs/exchanges.md, docs/cli.md)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import click  # noqa: E402

from vxlanlens.cli import cli  # noqa: E402
from vxlanlens.exchanges.columns import exchanges_markdown  # noqa: E402
from vxlanlens.schema import columns_markdown  # noqa: E402


def cli_markdown() -> str:
    """docs/cli.md: the --help text of every command."""
    out = [
        "# Command-line reference",
        "",
        "Generated from the commands' `--help` by `python scripts/gen_docs.py`; do not edit by hand",
        "(a test fails when this file is stale).",
        "",
    ]
    settings = {**cli.context_settings, "terminal_width": 100, "max_content_width": 100}
    ctx = click.Context(cli, info_name="vxlanlens", **settings)
    out += ["## vxlanlens", "", "```", cli.get_help(ctx), "```", ""]
    for name in sorted(cli.commands):
        cmd = cli.commands[name]
        sub = click.Context(
            cmd,
            info_name=name,
            parent=ctx,
            terminal_width=100,
            max_content_width=100,
        )
        out += [f"## vxlanlens {name}", "", "```", cmd.get_help(sub), "```", ""]
    return "\n".join(out)


GENERATED = {
    ROOT / "docs" / "columns.md": columns_markdown,
    ROOT / "docs" / "exchanges.md": exchanges_markdown,
    ROOT / "docs" / "cli.md": cli_markdown,
}

if __name__ == "__main__":
    for path, make in GENERATED.items():
        path.write_text(make(), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
