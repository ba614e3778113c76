"""Rendering: terminal text, Markdown, HTML, JSON and plots (nothing here decodes).

The small functions below give library objects their Jupyter faces. Nothing is registered at
import time: :class:`~vxlanlens.explain.Explanation` imports its renderers when it is shown (so
a notebook face never depends on what was imported first), and ``Capture._repr_html_`` calls
:func:`capture_repr_html`.
"""

from __future__ import annotations

import html
from typing import Any

from ..explain.model import Explanation

__all__ = ["capture_repr_html", "explanation_repr_html", "explanation_repr_markdown"]


def explanation_repr_html(exp: Explanation) -> str:
    """The explanation as an HTML fragment for a notebook (scoped CSS, no script, first few
    ladders)."""
    from .html import explanation_html_fragment

    return explanation_html_fragment(exp)


def explanation_repr_markdown(exp: Explanation) -> str:
    """The explanation as the Markdown of a ticket (without the reproduce block)."""
    from .markdown import explanation_markdown

    return explanation_markdown(exp)


def capture_repr_html(cap: Any) -> str:
    """A small table for a :class:`~vxlanlens.Capture`: its files, frames and warnings."""
    rows = "".join(
        f"<tr><td>{html.escape(str(s.label))}</td><td>{html.escape(str(s.path))}</td>"
        f"<td>{html.escape(str(s.format))}</td><td>{s.frames}</td>"
        f"<td>{'' if s.size is None else s.size}</td></tr>"
        for s in cap.sources
    )
    warn = "".join(f"<li>{html.escape(str(w))}</li>" for w in cap.warnings)
    return (
        f"<div><b>Capture</b>: {len(cap.packets)} frames from {len(cap.sources)} file(s)"
        "<table><thead><tr><th>label</th><th>path</th><th>format</th><th>frames</th>"
        f"<th>bytes</th></tr></thead><tbody>{rows}</tbody></table>"
        + (f"<ul>{warn}</ul>" if warn else "")
        + "</div>"
    )
