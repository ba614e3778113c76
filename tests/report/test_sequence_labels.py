"""A handshake's reply is labelled by what it was: a refused connection's reply says RST."""

from __future__ import annotations

from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain.model import PacketPath
from vxlanlens.report.sequence import message_labels, sequence

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("answer", "reply"),
    [("syn-ack", "SYN-ACK"), ("rst", "RST (refused)"), (None, "SYN-ACK or RST")],
)
def test_tcp_reply_label_says_what_answered(answer: str | None, reply: str) -> None:
    path = PacketPath(kind="tcp", summary="", dst_port=8080, answer=answer)
    assert message_labels(path) == ("TCP SYN to :8080", reply)


def test_refused_connections_ladder_says_rst() -> None:
    folder = ROOT / "captures" / "lab-tcp-refused"
    cap = vxlanlens.read(sorted(str(p) for p in folder.glob("*.pcap")))
    exp = cap.explain()
    tcp = [k for k, p in enumerate(exp.paths) if p.kind == "tcp"]
    assert tcp and all(exp.paths[k].answer == "rst" for k in tcp)
    assert all("refused" in exp.paths[k].summary for k in tcp)
    labels = {a.label for a in sequence(exp, tcp).arrows}
    assert "RST (refused)" in labels and "SYN-ACK or RST" not in labels
