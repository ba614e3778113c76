"""Requests answered by an ICMP error instead of their reply: the path says so (summary, the hop
where the error came from, the error's own hops as the answer), the ``icmp-error`` path has
hops, and the ladder draws the error as the answer, outside the tunnel.

On the kernel-made port-mismatch captures the receiving node refuses the tunnel packet with ICMP
port unreachable: before, the echo's path said only "unanswered ... it may have gone on
uncaptured, or been dropped", and the ICMP error's path had no hop at all ("no path to draw")."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import vxlanlens
from vxlanlens.explain import Explanation
from vxlanlens.explain._icmp import error_words
from vxlanlens.proto import HopKind
from vxlanlens.report.sequence import sequence

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
REFUSED = ["lab-flannel-port-mismatch", "lab-calico-port-mismatch"]


@cache
def _read(name: str, dumps: bool) -> vxlanlens.Capture:
    folder = CAPTURES / name
    topology = [str(folder / "topology")] if dumps else None
    return vxlanlens.read([str(p) for p in sorted(folder.glob("*.pcap"))], topology=topology)


@cache
def _explain(name: str, dumps: bool = True) -> Explanation:
    return _read(name, dumps).explain()


def _error_row(name: str, dumps: bool = True):
    ex = _read(name, dumps).exchanges
    errors = ex[ex["kind"].astype(str) == "icmp-error"]
    assert len(errors), "the capture holds an ICMP error"
    return errors.iloc[0]


@pytest.mark.parametrize("dumps", [True, False], ids=["dumps", "frames-only"])
@pytest.mark.parametrize("name", REFUSED)
def test_refused_echo_path_ends_with_the_error(name: str, dumps: bool) -> None:
    exp = _explain(name, dumps)
    err = _error_row(name, dumps)
    sender, victim = str(err["responder_ip"]), str(err["requester_ip"])
    echo = next(p for p in exp.paths if p.kind == "echo" and p.icmp_error)
    assert echo.icmp_error is not None
    assert echo.icmp_error.startswith("ICMP destination unreachable (port unreachable")
    assert echo.icmp_error_from == sender
    assert echo.icmp_error in echo.summary and "its tunnel packet" in echo.summary
    # the request stops where the error came from, and says why instead of guessing
    last = echo.hops[-1]
    assert last.ip == sender and last.observed
    assert "went no further" in last.note and "no capture further along its way" not in last.note
    # the error is the answer: from the refusing node's eth0 back to the sender's, both seen
    rep = echo.reply_hops
    assert [h.kind for h in rep] == [HopKind.UNDERLAY, HopKind.NETWORK, HopKind.UNDERLAY]
    assert (rep[0].ip, rep[-1].ip) == (sender, victim)
    assert rep[0].observed and rep[-1].observed and rep[0].evidence and rep[-1].evidence
    assert all(h.tunnel is None for h in rep)
    # the JSON carries the typed facts
    doc = echo.to_dict()
    assert doc["icmp_error_from"] == sender and doc["reply_hops"]


@pytest.mark.parametrize("name", REFUSED)
def test_icmp_error_path_has_hops(name: str) -> None:
    exp = _explain(name)
    err = _error_row(name)
    path = next(p for p in exp.paths if p.kind == "icmp-error")
    assert [h.ip for h in path.hops if h.kind == HopKind.UNDERLAY] == [
        str(err["requester_ip"]),
        str(err["target"]),
    ]
    assert path.hops[0].tunnel is not None  # the quoted packet is the tunnel packet
    assert [h.ip for h in path.reply_hops if h.kind == HopKind.UNDERLAY] == [
        str(err["responder_ip"]),
        str(err["requester_ip"]),
    ]
    assert path.icmp_error is None  # the path of the error itself, not a request it answered
    assert f"sent by {err['responder_ip']}" in path.summary
    assert "in answer to the packet it quotes" in path.summary


@pytest.mark.parametrize("name", REFUSED)
def test_ladder_draws_the_error_as_the_answer(name: str) -> None:
    exp = _explain(name)
    i = next(k for k, p in enumerate(exp.paths) if p.kind == "echo" and p.icmp_error)
    seq = sequence(exp, i)
    replies = [a for a in seq.arrows if a.reply]
    assert replies, "the error is drawn"
    assert all(a.label == exp.paths[i].icmp_error and not a.tunnelled for a in replies)
    assert not [m for m in seq.marks if m.kind in ("unanswered", "last-seen")]
    j = next(k for k, p in enumerate(exp.paths) if p.kind == "icmp-error")
    seq = sequence(exp, j)
    assert [a.tunnelled for a in seq.arrows] == [True, False]  # the tunnel packet, the error


def test_a_nodes_error_to_itself_gets_no_hops() -> None:
    """A node's own ICMP fragmentation-needed for its tunnel packet crossed no network."""
    exp = _explain("lab-mtu-outer-df")
    errors = [p for p in exp.paths if p.kind == "icmp-error"]
    assert errors and all(not p.hops and not p.reply_hops for p in errors)
    assert all("the packet it quotes is in no capture" in p.summary for p in errors)
    assert all(p.icmp_error is None for p in exp.paths)


def test_answered_echo_paths_are_unchanged() -> None:
    exp = _explain("lab-flannel-ping")
    assert all(p.icmp_error is None for p in exp.paths)


@pytest.mark.parametrize(
    ("answer", "version", "code", "words", "refusal"),
    [
        ("dest-unreachable", 4, 3, "ICMP destination unreachable (port unreachable, code 3)", True),
        ("dest-unreachable", 4, 1, "ICMP destination unreachable (host unreachable, code 1)", False),
        ("dest-unreachable", 6, 4, "ICMPv6 destination unreachable (port unreachable, code 4)", True),
        ("dest-unreachable", 6, 3, "ICMPv6 destination unreachable (address unreachable, code 3)", False),
        ("dest-unreachable", 4, 77, "ICMP destination unreachable (code 77)", False),
        ("time-exceeded", 4, 0, "time exceeded", False),
        (None, None, None, "ICMP error", False),
    ],
)  # fmt: skip
def test_error_words(answer, version, code, words: str, refusal: bool) -> None:
    assert error_words(answer, version, code) == (words, refusal)
