"""Real captures stopped while a ping went on (captures/real-ping-stopped): the last request,
a capture's last frame, is no problem; a pcapng says when capturing stopped."""

from __future__ import annotations

import pandas as pd
import pytest
from testpaths import CAPTURES

import vxlanlens

FOLDER = CAPTURES / "real-ping-stopped"


@pytest.mark.parametrize("name", ["dumpcap-c5.pcapng", "tcpdump-c5.pcap"])
def test_a_ping_cut_off_by_the_end_of_the_capture_is_no_problem(name: str) -> None:
    cap = vxlanlens.read([str(FOLDER / name)])
    exp = cap.explain()
    assert [f.id for f in exp.findings if f.severity == "problem"] == []
    (f,) = [f for f in exp.findings if f.id == "echo-unanswered"]
    assert f.severity == "warning"
    assert "was not answered in the captures" in f.statement
    assert "Earlier requests of this flow were answered (2," in f.statement
    assert f.details["near_capture_end"] == 1 and [str(e) for e in f.evidence][-1].endswith("#5")
    (entry,) = exp.to_dict()["captures"]
    last = cap.packets["ts"].max()
    if name.endswith(".pcapng"):
        assert "before every capture that saw it stopped (pcapng statistics)" in f.statement
        stopped = pd.Timestamp(entry["stopped"])
        assert last < stopped < last + pd.Timedelta(seconds=1)  # read in microseconds
        assert entry["dropped"] == 0
        assert entry["application"].startswith("Dumpcap (Wireshark)")
    else:
        assert "a capture file does not record when capturing stopped" in f.statement
        assert entry["stopped"] is None and entry["dropped"] is None
