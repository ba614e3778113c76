"""The text of a large explanation: bounded summary labels and paths grouped by flow."""

from __future__ import annotations

import json

from vxlanlens.explain.model import Explanation, PacketPath
from vxlanlens.proto import ExchangeStatus
from vxlanlens.report.text import explanation_text


def _path(n: int, src: str, dst: str, echo_id: int, status: ExchangeStatus) -> PacketPath:
    return PacketPath(
        kind="echo",
        summary=f"echo {src} > {dst} id {echo_id} seq {n}",
        src_ip=src,
        dst_ip=dst,
        target=dst,
        echo_id=echo_id,
        echo_seq=n,
        status=status,
    )


def _explanation(flows: int, per_flow: int, pods: int = 3) -> Explanation:
    paths = [
        _path(k, f"10.0.{f}.1", f"10.1.{f}.2", f, ExchangeStatus.ANSWERED if k % 2 else ExchangeStatus.UNANSWERED)
        for k in range(per_flow)
        for f in range(flows)
    ]  # fmt: skip
    topology = {
        "loaded": False,
        "nodes": [f"node 172.18.0.{k}" for k in range(pods)],
        "pods": [f"pod 10.0.{k}.1" for k in range(pods)],
    }
    return Explanation(captures=[], topology=topology, paths=paths)


def test_few_paths_are_all_shown_one_by_one() -> None:
    text = explanation_text(_explanation(flows=4, per_flow=2))
    assert text.count("\nPath ") == 8
    assert "same flow" not in text
    assert "pod 10.0.2.1" in text and "more;" not in text


def test_many_paths_grouped_by_flow_and_bounded() -> None:
    exp = _explanation(flows=30, per_flow=3)
    text = explanation_text(exp, max_paths=5)
    assert "Paths: 90 in 30 flows" in text
    assert text.count("\nPath ") == 5  # the first path of the first five flows
    # paths were listed flow after flow within each seq: flow 0's are paths 1, 31, 61
    assert "same flow: 3 paths (2 unanswered, 1 answered), paths 1, 31, 61" in text
    assert "25 more flows (75 paths) not shown." in text
    # the JSON keeps every path
    assert len(json.loads(json.dumps(exp.to_dict(), default=str))["paths"]) == 90


def test_exchanges_left_without_a_path_are_told_not_claimed_in_json() -> None:
    # the explanation builds paths for the first exchanges only: the text said "-f json lists
    # every path" while the JSON held 200 of 38,886 exchanges
    exp = _explanation(flows=30, per_flow=1)
    exp.counts["paths_left_out"] = 1234
    text = explanation_text(exp, max_paths=5)
    assert "for the first 30 exchanges (1234 more have no path of their own" in text
    assert "-f json lists these paths" in text and "every path" not in text
    exp.counts["paths_left_out"] = 0
    assert "-f json lists every path" in explanation_text(exp, max_paths=5)


def test_default_bound_and_summary_labels() -> None:
    exp = _explanation(flows=25, per_flow=1, pods=50)
    text = explanation_text(exp)
    assert text.count("\nPath ") == 20
    assert "5 more flows (5 paths) not shown." in text
    summary = text.splitlines()[1]
    assert summary.count("pod 10.0.") == 20 and "and 30 more" in summary


def test_topology_conflicts_summarised_per_fact_and_field() -> None:
    exp = _explanation(flows=1, per_flow=1)
    repeated = [{"subject": "pod 10.0.0.1", "field": "identity"}] * 4
    others = [{"subject": f"pod 10.0.{k}.9", "field": "host_mac"} for k in range(5)]
    exp.topology["conflicts"] = repeated + others
    line = next(ln for ln in explanation_text(exp).splitlines() if "Topology conflicts" in ln)
    # each fact named once, however many conflicts it has; the fields counted
    assert line.startswith(
        "Topology conflicts: 9 on 6 facts (pod 10.0.0.1 identity, pod 10.0.0.9 host_mac,"
    )
    assert line.count("pod 10.0.0.1 identity") == 1
    assert "and 3 more" in line and "by field: host_mac 5, identity 4" in line
    exp.topology["conflicts"] = others[:2]
    line = next(ln for ln in explanation_text(exp).splitlines() if "Topology conflicts" in ln)
    assert line == (
        "Topology conflicts: 2 (pod 10.0.0.9 host_mac, pod 10.0.1.9 host_mac; "
        "`vxlanlens topology` shows both values and sources)"
    )


def test_repeated_requests_are_not_called_duplicates_in_the_summary() -> None:
    # "arp duplicate: 2" beside an arp-unanswered finding of one request tried 3 times read as
    # a duplicate address; the JSON keeps the exchanges table's status names
    exp = _explanation(flows=1, per_flow=1)
    exp.counts.update({"exchanges": 3, "arp_duplicate": 2, "arp_unanswered": 1})
    line = next(ln for ln in explanation_text(exp).splitlines() if ln.startswith("Exchanges:"))
    assert line == "Exchanges: 3 (arp repeats: 2; arp unanswered: 1)"
    assert exp.to_dict()["counts"]["arp_duplicate"] == 2


def test_markdown_and_html_headers_say_when_paths_were_left_out() -> None:
    exp = _explanation(flows=3, per_flow=1)
    assert "more have none" not in exp.to_markdown()
    exp.counts["paths_left_out"] = 77
    assert "3 path(s) (one per exchange for the first ones; 77 more have none)" in exp.to_markdown()
    assert "77 more have none" in exp.to_html()
