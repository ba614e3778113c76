"""The explanation's counts (vxlanlens.explain._counts): an exchange seen at several points is
counted once, answered when any point saw it answered; checked against the plain reading of
that rule on shipped scenarios with several capture points."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import vxlanlens
from vxlanlens.explain import _counts
from vxlanlens.explain.context import Context

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def _rule(ctx: Context) -> dict[str, int]:
    """The rule written plainly: a dict keyed by (kind, first observation)."""
    ex = ctx.exchanges
    status_of: dict[Any, str] = {}
    for row in ex.itertuples(index=False):
        first = None
        for end in ("request", "reply"):
            c, f = getattr(row, f"{end}_capture"), getattr(row, f"{end}_frame")
            if first is None and isinstance(c, str) and f == f and f is not None:
                first = ctx.journey_frames(c, int(f))[0]
        key = (str(row.kind), first) if first else (str(row.kind), ("", len(status_of)))
        if status_of.get(key) != "answered":
            status_of[key] = str(row.status)
    out = {"exchanges": len(status_of)}
    for (kind, status), n in Counter((k, s) for (k, _), s in status_of.items()).items():
        out[f"{kind}_{status}"] = n
    return out


@pytest.mark.parametrize(
    "scenario", ["cilium-dual-stack", "lab-any-3node", "lab-clock-skew", "lab-tcp-refused"]
)
def test_counts_follow_the_rule(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from vxlanlens import explain as explain_mod

    files = sorted(str(p) for p in (CAPTURES / scenario).glob("*.pcap*"))
    if not files:
        pytest.skip("shipped scenario missing")
    cap = vxlanlens.read(files)
    ctx = Context(
        packets=cap.annotated,
        topology=cap.topology,
        exchanges=cap.exchanges,
        journeys=cap._journey_index,
        loaded=False,
    )
    want = _rule(ctx)
    got = _counts(ctx)
    per_kind = {k: v for k, v in got.items() if k not in _TOTALS}
    assert {"exchanges": got["exchanges"], **per_kind} == want
    assert list(per_kind) == list(want)[1:]  # the same order of kinds and statuses
    # read a few rows at a time: the same counts
    monkeypatch.setattr(explain_mod, "_COUNTED_AT_ONCE", 3)
    assert _counts(ctx) == got
    if scenario == "cilium-dual-stack":  # the pod's and the node's captures see the same ones
        assert got["exchanges"] < got["exchange_rows"]


_TOTALS = {"frames", "tunnelled_frames", "decode_errors", "exchanges", "exchange_rows"}
