"""Ladder diagrams, tested by structure (lanes, arrows, labels), not pixels."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from testpaths import PUBLIC

import vxlanlens
from vxlanlens.errors import RenderError
from vxlanlens.explain.model import Explanation, Hop, PacketPath
from vxlanlens.proto import HopKind
from vxlanlens.report.plots import COLORS, ladder, save_ladder
from vxlanlens.report.sequence import sequence

from .helpers import lab, reference


def _gid(fig: Figure, gid: str) -> list:
    return [a for a in fig.axes[0].get_children() if a.get_gid() == gid]


def _gids(fig: Figure, prefix: str) -> list:
    return [a for a in fig.axes[0].get_children() if (a.get_gid() or "").startswith(prefix)]


def _texts(fig: Figure) -> list[str]:
    ax = fig.axes[0]
    return [t.get_text() for t in ax.texts] + [ax.get_title(loc="left")]


def test_reference_ladder_lanes_arrows_labels():
    exp = reference().explain()
    seq = sequence(exp)
    fig = ladder(exp)
    lane_lines = [a for a in _gids(fig, "lane-") if not a.get_gid().startswith("lane-title")]
    titles = _gids(fig, "lane-title-")
    assert len(lane_lines) == len(titles) == len(seq.lanes) == 8
    title_text = [t.get_text() for t in titles]
    assert title_text[:4] == [
        "cni-7t9p4\neth0",
        "lxc237a31216c0f",
        "cilium_vxlan",
        "eth0 172.18.0.3",
    ]
    # grouped by node: the node names are drawn once each
    texts = _texts(fig)
    assert texts.count("cilium-dual-stack-worker") == 1
    # one arrow per move, in time order: NS, NA, NS, NA, then the echo there and back
    arrows = _gid(fig, "arrow")
    assert len(arrows) == len(seq.arrows) == 4 + 2 * 7  # 8 lanes: 7 moves each way
    labels = [t.get_text() for t in _gid(fig, "arrow-label")]
    assert labels[:4] == [
        "NS who-has fd00:10:244:1::22f1",
        "NA fd00:10:244:1::22f1 [R,S]",
        "NS who-has fd00:10:244:1::22f1",
        "NA fd00:10:244:1::22f1 [R,S]",
    ]
    assert labels[4] == "echo req id 44 seq 0"
    assert labels.count("VXLAN VNI 40172") == 2
    assert labels[-1] == "echo reply id 44 seq 0"
    # tunnelled moves are drawn thick and orange; the others not
    for a, arrow in zip(seq.arrows, arrows, strict=True):
        patch = arrow.arrow_patch
        assert (patch.get_linewidth() > 2) == a.tunnelled
        if a.tunnelled:
            assert patch.get_edgecolor()[:3] == pytest.approx(
                tuple(int(COLORS["tunnel"][i : i + 2], 16) / 255 for i in (1, 3, 5))
            )
        # dashed exactly when the packet was not seen at both ends
        assert (patch.get_linestyle() in ("-", "solid")) == a.observed
    # observed vs inferred points: pod-eth0#5 and #6 and worker-eth0#1, #2 are seen
    assert len(_gid(fig, "seen")) > 0 and len(_gid(fig, "inferred")) > 0
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert {"request", "reply", "tunnelled (outer header)", "seen in a capture", "inferred"} <= set(
        legend
    )
    assert not _gid(fig, "mark-unanswered")


def test_unanswered_ns_is_marked():
    exp = lab("lab-ns-unanswered").explain()
    fig = ladder(exp, 0)
    assert len(_gids(fig, "lane-title-")) == 1
    assert _gid(fig, "mark-unanswered")
    texts = _texts(fig)
    assert "no answer" in texts
    assert "NS who-has fd00:10:244:1::22f1" in texts
    assert "no answer" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_a_request_the_captures_may_have_missed_the_answer_of_is_no_cross():
    """A ping cut off by the end of the capture (its finding a warning, not a problem) is
    drawn "no answer in the captures" with a question mark, not the cross of a lost request;
    a lost one (lab-ns-unanswered, above) keeps its cross."""
    from testpaths import CAPTURES

    path = CAPTURES / "real-ping-stopped" / "dumpcap-c5.pcapng"
    if not path.is_file():
        pytest.skip(f"{path} not shipped")
    exp = vxlanlens.read(str(path)).explain()
    cut = len(exp.paths) - 1
    (stub,) = [a for a in sequence(exp, cut).arrows if a.dst is None]
    assert stub.unsure and stub.between.endswith("#5")
    fig = ladder(exp, cut)
    assert _gid(fig, "mark-unsure") and not _gid(fig, "mark-unanswered")
    texts = _texts(fig)
    assert "no answer in the captures" in texts and "no answer" not in texts
    # drawn with the others, two lanes leave no room for the summary: the heading says what
    # the packet was and what became of it, uncut
    headings = [t for t in _texts(ladder(exp)) if t.startswith("path ")]
    assert headings == [
        "path 1: echo req id 16564 seq 4, answered",
        "path 2: echo req id 16564 seq 5, answered",
        "path 3: echo req id 16564 seq 6, unanswered",
    ]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "no answer in the captures (capturing stopped, or packets dropped)" in legend
    assert "no answer" not in legend
    ns = lab("lab-ns-unanswered").explain()
    assert not [a for a in sequence(ns, 0).arrows if a.unsure]


def test_unanswered_echo_is_marked_with_last_seen():
    exp = lab("lab-no-such-pod").explain()
    i = next(i for i, p in enumerate(exp.paths) if p.kind == "echo")
    fig = ladder(exp, i)
    assert _gid(fig, "mark-unanswered")
    assert _gid(fig, "mark-last-seen")
    assert "last seen here" in _texts(fig)


def _overlaps(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of lane titles whose boxes overlap once drawn."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for t in _gids(fig, "lane-title-"):
        assert isinstance(t, Text)
        boxes.append((t.get_text(), t.get_bbox_patch().get_window_extent(renderer)))
    return [
        (a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1 :] if ba.overlaps(bb)
    ]


def _local_echoes(pairs: int) -> Explanation:
    """``pairs`` echoes between two pods of one node each (4 lanes per pair), built from the
    typed fields alone."""
    paths = []
    for i in range(pairs):
        node = f"node-{i}"
        a, b = f"ns/pod-a{i}", f"ns/pod-b{i}"
        hops = [
            Hop(f"{a} eth0", HopKind.POD_ETH0, True, node=node, pod=a, device="eth0"),
            Hop(f"lxca{i} on {node}", HopKind.LXC, False, node=node, pod=a, device=f"lxca{i}"),
            Hop(f"eBPF on lxca{i}", HopKind.EBPF, False, node=node),
            Hop(f"lxcb{i} on {node}", HopKind.LXC, False, node=node, pod=b, device=f"lxcb{i}"),
            Hop(f"{b} eth0", HopKind.POD_ETH0, True, node=node, pod=b, device="eth0"),
        ]
        paths.append(
            PacketPath("echo", f"echo {i}", hops=hops, reply_hops=hops[::-1], echo_id=i, echo_seq=1)
        )
    return Explanation(captures=[], topology={}, paths=paths)


@pytest.mark.parametrize(
    ("scenario", "lanes"),
    [("lab-ns-unanswered", 1), ("reference-nd", 2), ("lab-geneve-ipv6-ping", 8), ("many", 12)],
)
def test_readable_from_few_to_many_lanes(scenario, lanes):
    if scenario == "reference-nd":
        exp, index = reference().explain(), 0
    elif scenario == "many":
        exp, index = _local_echoes(3), None
    else:
        exp, index = lab(scenario).explain(), None
    fig = ladder(exp, index)
    assert len(_gids(fig, "lane-title-")) == lanes
    assert _overlaps(fig) == []
    # the figure grows with the lanes, so lanes keep their width
    width_per_lane = fig.get_figwidth() / max(lanes, 1)
    assert width_per_lane >= 1.4
    assert fig.get_figwidth() <= 30
    # labels stay short enough to read: at most 3 lines per lane title
    assert all(t.get_text().count("\n") <= 2 for t in _gids(fig, "lane-title-"))


def test_draws_into_given_axes():
    exp = reference().explain()
    fig = Figure(figsize=(8, 6))
    ax = fig.add_subplot()
    assert ladder(exp, 2, ax=ax) is fig


def test_bad_index_and_suffix(tmp_path):
    exp = reference().explain()
    with pytest.raises(IndexError):
        ladder(exp, 99)
    with pytest.raises(RenderError, match=r"\.png, \.svg or \.pdf"):
        save_ladder(exp, tmp_path / "ladder.gif")


@pytest.mark.parametrize(
    ("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")]
)
def test_save_ladder_by_suffix(tmp_path, suffix, magic):
    out = save_ladder(reference().explain(), tmp_path / f"ladder{suffix}")
    assert out.read_bytes().startswith(magic)


def test_same_input_same_svg(tmp_path):
    exp = reference().explain()
    a = save_ladder(exp, tmp_path / "a.svg").read_bytes()
    b = save_ladder(exp, tmp_path / "b.svg").read_bytes()
    assert a == b


@pytest.mark.parametrize("name", ["lab-calico-port-mismatch", "lab-ipv4-ping"])
def test_legend_inside_the_figure(name: str) -> None:
    """The legend (8 entries when a request went unanswered and was last seen somewhere) is cut
    into rows so that it stays inside the figure's width with a margin (a legend filling the
    width at screen resolution was clipped at both ends in the 150-dpi PNG)."""
    fig = ladder(lab(name).explain())
    fig.canvas.draw()
    legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    assert legends
    box = legends[0].get_window_extent()
    width = fig.get_figwidth() * fig.dpi
    assert box.x0 >= 0.02 * width and box.x1 <= 0.98 * width, (box, width)


def test_long_pod_lane_titles_wrap_at_the_namespace() -> None:
    """A namespaced pod name too long for its lane goes on two lines at the ``/``, not cut in
    the middle of the name (``default/web-6f9c4-xk2l`` / ``q`` before)."""
    hops = [
        Hop("a eth0", HopKind.POD_ETH0, True, node="n1", pod="default/web-6f9c4-xk2lq-abcdef",
            device="eth0"),
        Hop("b eth0", HopKind.POD_ETH0, True, node="n1", pod="short", device="eth0"),
    ]  # fmt: skip
    exp = Explanation(captures=[], topology={}, paths=[PacketPath("echo", "s", hops=hops)])
    fig = ladder(exp, 0)
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert "default/\nweb-6f9c4-xk2lq-abcdef\neth0" in texts
    assert "short\neth0" in texts


@pytest.mark.parametrize("name", ["lab-ipv4-ping", "tcpdump/vxlan.pcap"])
def test_legend_of_every_single_path_ladder_inside_the_figure(name: str) -> None:
    """One path's ladder can be two lanes wide: its legend still fits (the ARP ladder of
    tcpdump's vxlan.pcap, two lanes and 6 legend entries, ran off both edges when the legend's
    width was guessed from the labels' lengths)."""
    if name.startswith("lab-"):
        exp = lab(name).explain()
    else:
        path = PUBLIC / name
        if not path.is_file():
            pytest.skip(f"{path} not available")
        exp = vxlanlens.read(str(path)).explain()
    for index in range(len(exp.paths)):
        fig = ladder(exp, index)
        fig.canvas.draw()
        legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None]
        box = legends[0].get_window_extent()
        width = fig.get_figwidth() * fig.dpi
        assert box.x0 >= 0.02 * width and box.x1 <= 0.98 * width, (index, box, width)


def test_a_request_answered_by_an_icmp_error_is_not_drawn_unanswered():
    """A pod's ping answered by its gateway's Packet Too Big (heldout-flannel-mtu) ended in a
    cross labelled "no answer": the cross now says the error and who sent it, and so does the
    key."""
    from testpaths import CAPTURES

    from vxlanlens.report.markdown import mermaid_sequence

    folder = CAPTURES / "heldout-flannel-mtu"
    if not folder.is_dir():
        pytest.skip(f"{folder} not shipped")
    exp = vxlanlens.read(
        sorted(str(p) for p in folder.glob("*.pcap")), topology=str(folder / "topology")
    ).explain()
    at = [i for i, p in enumerate(exp.paths) if p.icmp_error and not p.reply_hops]
    assert at
    i = at[0]
    p = exp.paths[i]
    (stub,) = [a for a in sequence(exp, i).arrows if a.dst is None]
    assert stub.outcome == f"{p.icmp_error} from {p.icmp_error_from}"
    fig = ladder(exp, i)
    assert stub.outcome in _texts(fig) and "no answer" not in _texts(fig)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "answered by an ICMP error" in legend and "no answer" not in legend
    src = mermaid_sequence(exp, i)
    assert f"✗ {p.icmp_error} from" in src and "no answer" not in src
