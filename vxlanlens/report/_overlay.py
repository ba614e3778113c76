"""The overlay an explanation recognised, in one line for the head of every report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["overlay_line"]


def overlay_line(topology: Mapping[str, Any]) -> str | None:
    """``Overlay: Calico (VXLAN mode) (high confidence)`` (or ``(stated)``), or None when no
    overlay was recognised."""
    overlay = topology.get("overlay")
    if not isinstance(overlay, Mapping) or not overlay.get("name"):
        return None
    conf = overlay.get("confidence")
    how = "stated" if conf == "stated" else f"{conf} confidence"
    return f"Overlay: {overlay.get('title')} ({how})"
