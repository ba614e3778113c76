"""Lanes of a node the captures do not name are grouped under words, not a bare ``?``."""

from __future__ import annotations

from vxlanlens.report.sequence import Lane


def test_unknown_node_group_is_said_in_words() -> None:
    lane = Lane(key=("pod-eth0", "?"), name="eth0", kind="pod-eth0", node=None, pod=None,
                observed=True)  # fmt: skip
    assert lane.group == "node not known"
    named = Lane(key=("pod-eth0", "w"), name="eth0", kind="pod-eth0", node="w", pod=None,
                 observed=True)  # fmt: skip
    assert named.group == "w"
