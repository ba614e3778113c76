"""Where a capture was taken, in words (vxlanlens/report/_place.py)."""

from __future__ import annotations

from vxlanlens.report._place import place_text


def test_an_unnamed_pod_is_not_called_pod_twice() -> None:
    """An inferred pod's label is ``pod <ip>``: its capture is ``pod 10.244.1.5 eth0`` (was
    ``pod pod 10.244.1.5 eth0`` in the HTML and Markdown reports); a named one keeps the word."""
    assert place_text({"kind": "pod", "pod": "pod 10.244.1.5"}) == "pod 10.244.1.5 eth0"
    assert place_text({"kind": "pod", "pod": "default/web-1"}) == "pod default/web-1 eth0"
