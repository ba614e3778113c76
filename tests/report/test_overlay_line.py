"""The overlay line at the head of every report (vxlanlens/report/_overlay.py)."""

from __future__ import annotations

from vxlanlens.report._overlay import overlay_line


def test_overlay_line_says_the_overlay_and_how_sure() -> None:
    calico = {"name": "calico", "title": "Calico (VXLAN mode)", "confidence": "high"}
    assert overlay_line({"overlay": calico}) == "Overlay: Calico (VXLAN mode) (high confidence)"
    stated = {**calico, "confidence": "stated"}
    assert overlay_line({"overlay": stated}) == "Overlay: Calico (VXLAN mode) (stated)"
    assert overlay_line({"overlay": {"name": None, "confidence": "none"}}) is None
    assert overlay_line({}) is None
