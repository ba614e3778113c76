"""Where a mirror capture without directions is placed (captures/lab-mirror-*; issue 13 item 4b):
an ERSPAN II or VXLAN mirror of a switch port between two nodes sees each direction between the
two node captures' times, so no comparison can tell which node's port it mirrors; it is said to
sit between them (both candidates kept), never placed on a side by one comparison. ERSPAN III
gives each frame's direction and is placed on the mirrored node."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import Explanation

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
WORKER, WORKER2 = "cilium-dual-stack-worker", "cilium-dual-stack-worker2"


@cache
def _explain(name: str) -> Explanation:
    folder = CAPTURES / name
    caps = sorted(str(p) for p in folder.glob("*.pcap"))
    if not caps:
        pytest.skip(f"{folder} not shipped")
    return vxlanlens.read(caps, topology=[str(folder / "topology")]).explain()


def _point(exp: Explanation, capture: str) -> dict:
    (pt,) = [p for p in exp.topology["capture_points"] if p["capture"] == capture]
    return pt


@pytest.mark.parametrize("name", ["lab-mirror-erspan", "lab-mirror-vxlan"])
def test_undirected_mirror_between_two_node_captures_is_not_given_a_side(name: str) -> None:
    exp = _explain(name)
    pt = _point(exp, "collector-eth0")
    assert pt["node"] == f"{WORKER2} or {WORKER}"
    assert "sits between the nodes on the wire" in pt["how"]
    assert any(u.startswith("where collector-eth0 was taken") for u in exp.unknowns)
    # the node captures are still told apart (each comparison agrees)
    assert _point(exp, "node-worker-eth0")["node"] == WORKER
    assert _point(exp, "node-worker2-eth0")["node"] == WORKER2


def test_erspan3_directions_place_the_mirror_and_leave_no_unknown() -> None:
    exp = _explain("lab-mirror-erspan3")
    assert _point(exp, "collector-eth0")["node"] == WORKER
    assert not [u for u in exp.unknowns if u.startswith("where collector-eth0")]
