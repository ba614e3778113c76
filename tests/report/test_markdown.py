"""Markdown report: content a ticket reader needs, Mermaid that parses, the comment size cap."""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path

import pytest

from vxlanlens._version import __version__
from vxlanlens.explain.model import Evidence, Explanation, Finding
from vxlanlens.report.markdown import (
    COMMENT_LIMIT,
    explanation_markdown,
    md_escape,
    mermaid_sequence,
    text_length,
)

from .helpers import (
    HOSTILE,
    LABS,
    hostile,
    lab,
    mermaid_blocks,
    mermaid_errors,
    reference,
    reference_files,
)


def test_reference_markdown_leads_with_summary_and_reproduces():
    cap = reference()
    md = cap.report("md", command="vxlanlens explain pod-eth0.pcap worker-eth0.pcap")
    lines = md.splitlines()
    assert lines[0].startswith("## vxlanlens")
    assert "findings: **0 problems**, **0 warnings**, **9 infos**" in md
    # findings come before the paths, most severe first
    assert md.index("### Findings") < md.index("### Paths")
    assert "<details><summary>Hops and evidence</summary>" in md
    assert "vxlanlens explain pod-eth0.pcap worker-eth0.pcap" in md
    assert f"vxlanlens {__version__}" in md
    for path in reference_files():
        data = Path(path).read_bytes()
        assert hashlib.sha256(data).hexdigest() in md
        assert f"| {len(data)} |" in md


def test_reference_mermaid_participants_are_interfaces():
    exp = reference().explain()
    echo = next(i for i, p in enumerate(exp.paths) if p.kind == "echo")
    src = mermaid_sequence(exp, echo)
    aliases = re.findall(r"participant \w+ as (.+)", src)
    assert aliases[:4] == ["cni-7t9p4 eth0", "lxc237a31216c0f", "cilium_vxlan", "eth0 172.18.0.3"]
    assert "box transparent cilium-dual-stack-worker" in src
    # no participant is a bare address
    assert not [a for a in aliases if re.fullmatch(r"[0-9a-f:.]+", a)]
    assert "echo req id 44 seq 0" in src
    assert "VXLAN VNI 40172" in src
    assert "rect " in src  # tunnelled segment drawn distinctly


@pytest.mark.parametrize("scenario", ["reference", "reference-no-topology", "hostile", *LABS])
def test_mermaid_parses(scenario):
    cap = {
        "reference": lambda: reference(),
        "reference-no-topology": lambda: reference(False),
        "hostile": hostile,
    }.get(scenario, lambda: lab(scenario))()
    md = cap.report("md")
    blocks = mermaid_blocks(md)
    exp = cap.explain()
    assert len(blocks) == sum(1 for p in exp.paths if p.hops)
    for block in blocks:
        assert mermaid_errors(block) == [], block


def test_mermaid_check_catches_errors():
    good = "sequenceDiagram\n    participant L0 as a\n    participant L1 as b\n    L0->>L1: hi"
    assert mermaid_errors(good) == []
    assert mermaid_errors(good.replace("L0->>L1", "L0->>L9"))
    assert mermaid_errors(good + "; more")
    assert mermaid_errors(good.replace("hi", "a <b> c"))
    assert mermaid_errors(good.replace("hi", "50%% done"))
    assert mermaid_errors(good.replace("->>", "=>"))
    assert mermaid_errors("sequenceDiagram\n    box x\n    participant L0 as a")
    assert mermaid_errors(good.replace("hi", "#35; ok")) == []


def test_unanswered_is_marked_in_mermaid():
    exp = lab("lab-ns-unanswered").explain()
    src = mermaid_sequence(exp, 0)
    assert re.search(
        r"Note right of L0: NS who-has fd00#58;|Note right of L0: NS who-has fd00:", src
    )
    assert "no answer" in src
    exp = lab("lab-no-such-pod").explain()
    echo = next(i for i, p in enumerate(exp.paths) if p.kind == "echo")
    src = mermaid_sequence(exp, echo)
    assert "no answer" in src and "last seen here" in src


def test_a_request_cut_off_by_the_capture_end_is_unsure_in_mermaid():
    from testpaths import CAPTURES

    import vxlanlens

    path = CAPTURES / "real-ping-stopped" / "tcpdump-c5.pcap"
    if not path.is_file():
        pytest.skip(f"{path} not shipped")
    exp = vxlanlens.read(str(path)).explain()
    src = mermaid_sequence(exp, len(exp.paths) - 1)
    assert "? no answer in the captures" in src and "✗" not in src


def test_hostile_names_are_text():
    md = hostile().report("md")
    assert HOSTILE not in md
    assert "<script" not in md
    assert md_escape(HOSTILE) in md
    assert md_escape("x|y") == "x\\|y"


def _big(exp: Explanation, paths: int, findings: int) -> Explanation:
    big = copy.deepcopy(exp)
    big.paths = [copy.deepcopy(exp.paths[i % len(exp.paths)]) for i in range(paths)]
    big.findings = [
        Finding(
            "unknown-mac",
            "info",
            f"MAC number {i} belongs to no interface of the dumps given " + "x" * 200,
            [Evidence("pod-eth0", i + 1)],
        )
        for i in range(findings)
    ]
    return big


@pytest.mark.parametrize(("paths", "findings"), [(400, 10), (5, 2000), (400, 2000)])
def test_size_cap_cuts_rows_with_a_note(paths, findings):
    big = _big(reference().explain(), paths, findings)
    md = explanation_markdown(big, {"command": "vxlanlens explain x", "version": "0"})
    assert text_length(md) < COMMENT_LIMIT
    assert "How to reproduce" in md  # the tail survives the cut
    kept_findings = md.count("`unknown-mac`: MAC number")
    m = re.search(r"_(\d+) more finding\(s\) left out", md)
    assert kept_findings + (int(m.group(1)) if m else 0) == findings
    sections = len(re.findall(r"^### Path \d+:", md, flags=re.M))
    rows = len(re.findall(r"^\| \d+ \| (nd|echo|arp|tcp) \|", md, flags=re.M))
    m = re.search(r"_(\d+) more row\(s\) left out", md)
    assert sections + rows + (int(m.group(1)) if m else 0) == paths
    if paths > 100:
        assert m is not None  # 400 paths cannot all fit
    if findings > 1000:
        assert kept_findings < findings


def test_small_report_is_not_cut():
    md = reference().report("md")
    assert "left out" not in md
    assert text_length(md) < 20_000


def test_capture_without_frames_says_why_it_has_no_place() -> None:
    """A capture that holds no frame (the destination pod never got the packet) is listed with
    the reason it has no place, not a bare question mark."""
    from .helpers import lab

    md = lab("lab-calico-port-mismatch").explain().to_markdown()
    (row,) = [r for r in md.splitlines() if r.startswith("| pod-busybox-r5t7n-eth0 |")]
    assert row.endswith("| 0 | no frames to place it by |"), row
