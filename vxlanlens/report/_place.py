"""Where a capture was taken, in words, for every renderer (text, Markdown, HTML)."""

from __future__ import annotations

from typing import Any

__all__ = ["CLASS_TEXT", "place_text"]

CLASS_TEXT = {
    "lan": "plain LAN capture (no tunnel, no overlay shown)",
    "mirror": "mirror session (tunnel packets one way, both directions inside)",
    "cloud-tunnel": "cloud load balancer tunnel (Geneve)",
    "tunnel": "tunnel packets (not between known nodes)",
}
"""How a capture whose class is not an overlay point is described (see explain/classify.py)."""


def place_text(point: dict[str, Any]) -> str:
    """``pod P eth0``, ``every interface of N (-i any)``, ``N/IFACE``, ``underlay of N``, a
    non-overlay class (``plain LAN capture ...``), or ``capture point K`` ("" when unknown)."""
    cls = point.get("class")
    kind = point.get("kind")
    if cls in CLASS_TEXT:
        return CLASS_TEXT[cls]
    if kind == "pod":
        return f"pod {point.get('pod')} eth0"
    if kind == "node" and point.get("all_interfaces"):
        return f"every interface of {point.get('node')} (-i any)"
    if kind == "node" and point.get("interface"):
        return f"{point.get('node')}/{point.get('interface')}"
    if kind == "node":
        return f"underlay of {point.get('node')}"
    return f"capture point {kind}" if point else ""
