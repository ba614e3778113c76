"""A busy capture (thousands of pods, identities and exchanges) gives a bounded explanation:
long lists are counted, not repeated. (Speed is measured in bench/, not asserted here.)"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import vxlanlens

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_busy_capture_is_summarised(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import gen_mixed
    finally:
        sys.path.remove(str(BENCH))
    path = tmp_path / "busy.pcap"
    gen_mixed.write_pcap(path, 5000, 7)
    cap = vxlanlens.read(str(path))
    exp = cap.explain()
    per_id = Counter(f.id for f in exp.findings)
    assert per_id, "a busy overlay capture has something to say"
    assert max(per_id.values()) <= 25  # each list capped, with one finding counting the rest
    assert len(cap.topology.pods) > 100  # it really was busy
    assert len(exp.paths) <= 200
    assert any(
        f.details.get("not_shown") or f.details.get("more") or f.details.get("pods")
        for f in exp.findings
    )
    assert len(cap.report("md", explanation=exp)) < 65_536
    # one capture of tunnel packets between many pairs of nodes was taken on neither end of a
    # packet: its underlay hops said "taken on one of the two nodes" (and that the receiving
    # node's eth0 capture "may be" it)
    notes = [h.note for p in exp.paths for h in (*p.hops, *p.reply_hops) if h.note]
    assert any("between several pairs of nodes" in n for n in notes)
    assert not any("one of the two nodes" in n or "may be this node's" in n for n in notes)
