"""Where a capture was taken, in words, for every renderer (text, Markdown, HTML)."""

from __future__ import annotations

from typing import Any

__all__ = ["CLASS_TEXT", "place_text", "where_taken"]

CLASS_TEXT = {
    "lan": "plain LAN capture (no tunnel, no overlay shown)",
    "mirror": "mirror session (tunnel packets one way, both directions inside)",
    "cloud-tunnel": "cloud load balancer tunnel (Geneve)",
    "tunnel": "tunnel packets (not between known nodes)",
}
"""How a capture whose class is not an overlay point is described (see explain/classify.py)."""


def place_text(point: dict[str, Any]) -> str:
    """``pod P eth0``, ``every interface of N (-i any)``, ``N/IFACE``, ``underlay of N``, a
    non-overlay class (``plain LAN capture ...``), or ``capture point K`` ("" when unknown); a
    capture peeled out of a mirror transport is placed on the mirrored port, followed by
    ``, mirrored by ERSPAN II session 7 from S to the collector C``."""
    mirror = point.get("mirror")
    if isinstance(mirror, dict):
        return _mirrored(point, mirror)
    cls = point.get("class")
    kind = point.get("kind")
    if cls in CLASS_TEXT:
        return CLASS_TEXT[cls]
    if kind == "pod":
        pod = str(point.get("pod"))
        return f"{pod} eth0" if pod.startswith("pod ") else f"pod {pod} eth0"  # unnamed: pod <ip>
    if kind == "node" and point.get("all_interfaces"):
        return f"every interface of {point.get('node')} (-i any)"
    if kind == "node" and point.get("interface"):
        return f"{point.get('node')}/{point.get('interface')}"
    if kind == "node":
        return f"underlay of {point.get('node')}"
    return f"capture point {kind}" if point else ""


def _mirrored(point: dict[str, Any], mirror: dict[str, Any]) -> str:
    """The mirrored port's place (as for a capture taken on it) and the mirror in words."""
    port = place_text(
        {k: v for k, v in point.items() if k != "mirror"} | {"class": mirror.get("carries")}
    )
    if not port:
        port = "a mirrored port"
    words = f"mirrored by {mirror.get('label')}"
    src, dst = mirror.get("source_ips") or [], mirror.get("collector_ips") or []
    if src:
        words += f" from {', '.join(map(str, src))}"
    if dst:
        words += f" to the collector {', '.join(map(str, dst))}"
    dirs = mirror.get("directions") or {}
    if dirs:
        words += " (" + ", ".join(f"{n} {d}" for d, n in dirs.items()) + ")"
    return f"{port}, {words}"


def where_taken(point: dict[str, Any], frames: Any) -> str:
    """:func:`place_text`, or why a capture has no place: no frames to place it by, or not
    placed."""
    return place_text(point) or ("no frames to place it by" if not frames else "not placed")


def dropped_text(capture: dict[str, Any]) -> str:
    """``N dropped while capturing`` when a capture's file says its capturing dropped packets
    (pcapng statistics), else ``""``."""
    dropped = capture.get("dropped")
    return f"{dropped} dropped while capturing" if isinstance(dropped, int) and dropped > 0 else ""


def frames_text(capture: dict[str, Any]) -> str:
    """A capture's frame count, with the packets its capturing dropped (:func:`dropped_text`)."""
    frames = str(capture.get("frames", "?"))
    dropped = dropped_text(capture)
    return f"{frames} ({dropped})" if dropped else frames
