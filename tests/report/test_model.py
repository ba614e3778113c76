"""The explanation model is typed and renderers read its fields; paths say no more than the
captures show (checked on every shipped scenario, not on the reference's values)."""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from testpaths import CAPTURES, ROOT

import vxlanlens
import vxlanlens.explain
from vxlanlens.explain.model import Explanation, Finding, Hop, PacketPath
from vxlanlens.proto import ExchangeStatus, HopKind, Severity
from vxlanlens.report.plots import ladder
from vxlanlens.report.sequence import sequence

from .helpers import REFERENCE, lab, reference, reference_files

REPORT = ROOT / "vxlanlens" / "report"
PROSE = {"place", "note", "summary", "statement"}
"""Fields written for people: no renderer may parse them."""
_PATTERN_CALLS = {"search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split"}
LABS = sorted(p.name for p in CAPTURES.glob("lab-*"))
SCENARIOS = [
    "reference",
    "reference-no-topology",
    *LABS,
    *(f"{name}-no-topology" for name in LABS if "ping" in name),
]


def _explanation(name: str) -> Explanation:
    if name == "reference":
        return reference().explain()
    if name == "reference-no-topology":
        return reference(False).explain()
    if name.endswith("-no-topology"):
        folder = CAPTURES / name.removesuffix("-no-topology")
        return vxlanlens.read([str(p) for p in sorted(folder.glob("*.pcap"))]).explain()
    return lab(name).explain()


def _prose_parsing(source: str) -> list[str]:
    """Calls of regular-expression functions or methods that take a prose field (``x.note``,
    ``x.place``, ``x.summary``, ``x.statement``) anywhere in their arguments."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in _PATTERN_CALLS:
            continue
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            attrs = {a.attr for a in ast.walk(arg) if isinstance(a, ast.Attribute)}
            if attrs & PROSE:
                out.append(f"line {node.lineno}: {ast.unparse(node)}")
    return out


def test_the_check_finds_prose_parsing() -> None:
    assert _prose_parsing("import re\nm = re.search(r'VNI (\\d+)', hop.note)")
    assert _prose_parsing("m = _VNI.search(h.note)")
    assert _prose_parsing("k = re.match('x', path.summary.split(':')[0])")
    assert not _prose_parsing("m = re.sub('a', 'b', text)")


@pytest.mark.parametrize(
    "module", sorted(p.name for p in REPORT.glob("*.py") if p.name != "packets.py")
)
def test_renderers_parse_no_prose(module: str) -> None:
    source = (REPORT / module).read_text(encoding="utf-8")
    assert _prose_parsing(source) == []
    if module in ("sequence.py", "plots.py", "text.py", "html.py", "__init__.py"):
        # nothing there may even hold a regular expression
        imports = [
            n
            for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Import | ast.ImportFrom) and any(a.name == "re" for a in n.names)
        ]
        assert imports == [], f"{module} imports re"


def test_geneve_ladder_has_geneve_lanes_only() -> None:
    exp = lab("lab-geneve-ipv6-ping").explain()
    names = [lane.name for lane in sequence(exp).lanes]
    assert "cilium_geneve" in names
    assert not any("vxlan" in n for n in names)
    texts = [t.get_text() for t in ladder(exp).axes[0].texts]
    assert "cilium_geneve" in texts and "cilium_vxlan" not in texts
    echo = [p for p in exp.paths if p.kind == "echo"]
    assert echo and all(p.tunnel == "geneve" for p in echo)
    for p in echo:
        for h in (*p.hops, *p.reply_hops):
            assert h.tunnel in (None, "geneve")
            assert "vxlan" not in h.place
    labels = [a.label for a in sequence(exp).arrows if a.tunnelled]
    assert any(label.startswith("Geneve VNI ") for label in labels)


def test_vxlan_ladder_names_vxlan() -> None:
    exp = lab("lab-ipv6-ping").explain()
    names = [lane.name for lane in sequence(exp).lanes]
    assert "cilium_vxlan" in names and "cilium_geneve" not in names


def test_unanswered_echo_stops_where_last_seen() -> None:
    exp = lab("lab-no-such-pod").explain()
    echo = [p for p in exp.paths if p.kind == "echo"]
    assert len(echo) == 2
    for p in echo:
        assert p.status == ExchangeStatus.UNANSWERED and p.unanswered
        assert p.hops[-1].observed and p.last_seen == p.hops[-1].place
        assert f"not seen after {p.last_seen}" in p.hops[-1].note
        assert f"no pod of the dumps has {p.dst_ip}" in p.hops[-1].note
        # nothing is said about the destination pod: no capture shows the packet reached it
        assert not any(h.kind == HopKind.POD_ETH0 and h.ip == p.dst_ip for h in p.hops)
        assert not any("delivers to the destination pod" in h.note for h in p.hops)
        # the ladder ends there: a stub with no answer, and the last place seen marked
        seq = sequence(exp, exp.paths.index(p))
        assert seq.arrows[-1].dst is None
        assert [m.kind for m in seq.marks] == ["last-seen"]


def test_answered_echo_is_bounded_by_its_answer() -> None:
    exp = reference().explain()
    (p,) = [p for p in exp.paths if p.kind == "echo"]
    assert p.status == ExchangeStatus.ANSWERED and p.last_seen is None
    assert (p.echo_id, p.echo_seq, p.tunnel, p.vni) == (44, 0, "vxlan", 40172)
    # the request reached the pod that answered: hops up to it are inferred, not cut
    assert p.hops[-1].kind == HopKind.POD_ETH0 and p.hops[-1].ip == p.dst_ip
    assert not p.hops[-1].observed


def _points(exp: Explanation) -> dict[str, dict]:
    return {cp["capture"]: cp for cp in exp.topology["capture_points"]}


_AT = {
    HopKind.POD_ETH0: {"pod", "unknown"},
    HopKind.LXC: {"node"},
    HopKind.EBPF: {"node"},
    HopKind.TUNNEL: {"node"},
    HopKind.UNDERLAY: {"node"},
    HopKind.GATEWAY: {"node"},
    HopKind.BRIDGE: {"node"},
    HopKind.NETWORK: {"node", "mixed"},
}
"""Where a capture that sees a packet at a hop of each kind can be taken."""


@pytest.mark.parametrize("name", SCENARIOS)
def test_paths_say_no_more_than_the_captures(name: str) -> None:
    exp = _explanation(name)
    points = _points(exp)
    assert exp.paths
    for p in exp.paths:
        tunnelled = any(
            h.observed and h.kind == HopKind.UNDERLAY and h.tunnel for h in p.hops
        ) or any(h.observed and h.kind == HopKind.NETWORK for h in p.hops)
        for h in (*p.hops, *p.reply_hops):
            # seen exactly where frames are cited, and only frames of captures taken there
            assert h.observed == bool(h.evidence), (p.summary, h.place)
            for e in h.evidence:
                cp = points[e.capture]
                assert cp["kind"] in _AT[h.kind], (p.summary, h.place, str(e), cp["kind"])
                if h.kind == HopKind.POD_ETH0 and cp["kind"] == "pod":
                    assert cp["pod"] == h.pod, (p.summary, h.place, str(e))
                if h.kind != HopKind.NETWORK and cp["kind"] == "node" and h.node:
                    assert h.node in cp["node"], (p.summary, h.place, str(e))
            # never "no capture" at a node a capture was taken on
            if "no capture on the receiving node's eth0" in h.note:
                assert not any(cp["node"] == h.node for cp in points.values()), h.place
            # a packet seen in a tunnel crossed nodes
            if tunnelled:
                assert "delivers locally" not in h.note
        if p.unanswered and any(h.observed for h in p.hops):
            assert p.hops[-1].observed, p.summary  # nothing guessed after the last sighting


def test_a_broadcast_arp_is_cited_only_on_the_responders_node() -> None:
    # lab-any-3node: worker3's -i any capture also sees worker's ARP broadcast for worker2
    exp = lab("lab-any-3node").explain()
    points = _points(exp)
    arps = [p for p in exp.paths if p.kind == "arp" and p.reply_hops]
    assert arps
    for p in arps:
        responder = p.reply_hops[0]
        for h in (*p.hops[1:], responder):
            for e in h.evidence:
                if points[e.capture]["kind"] == "node" and h.node:
                    assert points[e.capture]["node"] == h.node, (p.summary, str(e))


def test_calico_destination_copy_is_not_cited_at_the_sender() -> None:
    # the two pods' captures both see ee:ee:ee:ee:ee:ee: each stays at its own pod
    exp = lab("lab-calico-ping").explain()
    points = _points(exp)
    (p,) = [p for p in exp.paths if p.kind == "echo"]
    first, last = p.hops[0], p.hops[-1]
    assert first.observed and last.observed
    assert {points[e.capture]["pod"] for e in first.evidence} == {first.pod}
    assert {points[e.capture]["pod"] for e in last.evidence} == {last.pod}
    assert first.pod != last.pod


def test_flannel_pod_folders_without_a_manifest_are_pods(tmp_path: Path) -> None:
    import shutil

    topo = tmp_path / "topology"
    shutil.copytree(CAPTURES / "lab-flannel-ping" / "topology", topo)
    (topo / "vxlanlens-topology.yaml").unlink()
    from vxlanlens.topology import load

    t = load(topo)
    assert sorted(n.label for n in t.nodes) == ["flannel-worker", "flannel-worker2"]


def test_tunnel_seen_wins_over_dumps_that_put_both_pods_on_one_node(tmp_path: Path) -> None:
    same = tmp_path / "same-node.yaml"
    same.write_text(
        "vxlanlens-topology: 1\n"
        "pods:\n"
        "  - namespace: default\n"
        "    name: cni-8qgcs\n"
        "    node: cilium-dual-stack-worker\n"
        '    ips: ["fd00:10:244:2::9461"]\n',
        encoding="utf-8",
    )
    cap = vxlanlens.read(reference_files(), topology=[str(REFERENCE / "topology"), str(same)])
    (p,) = [p for p in cap.explain().paths if p.kind == "echo"]
    assert not any("delivers locally" in h.note for h in (*p.hops, *p.reply_hops))
    assert any(h.kind == HopKind.UNDERLAY and h.observed and h.tunnel == "vxlan" for h in p.hops)


def test_model_types_and_conversions() -> None:
    f = Finding("x-y", "warning", "s")
    assert f.severity is Severity.WARNING and f.to_dict()["severity"] == "warning"
    assert json.loads(json.dumps(f.to_dict()))["severity"] == "warning"
    with pytest.raises(ValueError, match="severity"):
        Finding("x", "fatal", "s")
    h = Hop("here", "underlay", False, tunnel="GENEVE", vni=5)
    assert h.kind is HopKind.UNDERLAY and h.tunnel == "geneve"
    with pytest.raises(ValueError, match="tunnel"):
        Hop("here", "underlay", False, tunnel="gre")
    with pytest.raises(ValueError):
        Hop("here", "node-eth0", False)
    p = PacketPath("echo", "s", status="unanswered")
    assert p.unanswered and p.to_dict()["status"] == "unanswered"


def test_path_is_a_deprecated_alias() -> None:
    assert "Path" not in vxlanlens.explain.__all__
    assert "PacketPath" in vxlanlens.explain.__all__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from vxlanlens.explain import Path as Old
    assert Old is PacketPath
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_renders_itself_like_the_reports() -> None:
    cap = reference()
    exp = cap.explain()
    assert exp.to_json() == cap.report("json", explanation=exp)
    assert exp.to_text() == cap.report("text", explanation=exp)
    assert exp.to_markdown().startswith("## vxlanlens: what the captures show")
    assert exp.to_html().startswith("<!DOCTYPE html>")
    assert exp._repr_markdown_() == exp.to_markdown()
    assert '<div class="vxl">' in exp._repr_html_()


def test_notebook_faces_need_no_prior_import() -> None:
    """The faces do not depend on the report package having been imported first."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from vxlanlens.explain.model import Explanation, PacketPath\n"
        "e = Explanation(captures=[], topology={}, paths=[PacketPath('echo', 's')])\n"
        "assert 'vxlanlens' in e._repr_html_()\n"
        "assert e._repr_markdown_().startswith('## vxlanlens')\n"
        "import vxlanlens.explain.model as m\n"
        "assert not hasattr(m, 'RENDERERS')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _crafted(c: Any, folder: Path) -> Explanation:
    """The explanation of a crafted cluster's captures, with a topology file of its nodes and
    pods (names, addresses, MACs), as a user would write it."""
    from craft import write_pcaps

    files = write_pcaps(c, folder)
    topo = folder / "topology.yaml"
    topo.write_text(
        "vxlanlens-topology: 1\nnodes:\n"
        + "".join(f"  - name: {n.name}\n    addresses: [{n.ip}]\n" for n in c.nodes.values())
        + "pods:\n"
        + "".join(
            f"  - name: {name}\n    node: {p.node}\n    ips: [{p.ip4}, '{p.ip6}']\n"
            f"    mac: {p.mac}\n    host_mac: {p.lxc_mac}\n"
            for name, p in c.pods.items()
        ),
        encoding="utf-8",
    )
    caps = [f"{k}={v}" for k, v in sorted(files.items())]
    return vxlanlens.read(caps, topology=[str(topo)]).explain()


@pytest.mark.parametrize(
    ("lost", "last_kind", "last_node", "further"),
    [
        ("sender", HopKind.POD_ETH0, "node-a", {"node-a", "node-b", "server"}),
        ("underlay", HopKind.UNDERLAY, "node-a", {"node-b", "server"}),
        ("remote", HopKind.UNDERLAY, "node-b", {"server"}),
    ],
)
def test_crafted_losses_end_where_last_seen(
    tmp_path: Path, lost: str, last_kind: HopKind, last_node: str, further: set[str]
) -> None:
    """Captures made for this test (tests/craft.py, values unlike the shipped scenarios'): an
    echo lost at each stage ends at its last sighting, naming the captures further along that
    did not see it."""
    from craft import reference_like_cluster

    c = reference_like_cluster()
    c.echo("client", "server")  # a good one: every capture point was running
    c.echo("client", "server", seq=7, lost=lost)
    exp = _crafted(c, tmp_path)
    lost_path = next(p for p in exp.paths if p.kind == "echo" and p.echo_seq == 7)
    good = next(p for p in exp.paths if p.kind == "echo" and p.echo_seq == 0)
    assert lost_path.unanswered and good.status == ExchangeStatus.ANSWERED
    last = lost_path.hops[-1]
    assert last.observed and last.kind == last_kind and last.node == last_node
    assert lost_path.last_seen == last.place
    named = last.note.split("although ", 1)[1].split(" captured further", 1)[0]
    assert set(named.split(", ")) == further
    # the answered one goes all the way, seen at both pods and both nodes
    assert good.hops[-1].observed and good.reply_hops[-1].observed
    assert sum(h.observed and h.kind == HopKind.UNDERLAY for h in good.hops) == 2


def test_same_node_echo_is_delivered_locally(tmp_path: Path) -> None:
    """Two pods of one node: no tunnel, no underlay hop, the eBPF program redirects locally."""
    from craft import reference_like_cluster
    from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
    from scapy.layers.l2 import Ether

    c = reference_like_cluster()
    c.pod(
        "peer", "node-a", "5a:00:00:00:00:03", "ca:fe:00:00:00:03", "10.10.1.9", "fd00:aa:1::9", 7
    )
    a, b = c.pods["client"], c.pods["peer"]
    c.at(
        "client",
        Ether(src=a.mac, dst=a.lxc_mac) / IPv6(src=a.ip6, dst=b.ip6) / ICMPv6EchoRequest(id=9),
    )
    c.at(
        "peer",
        Ether(src=b.lxc_mac, dst=b.mac)
        / IPv6(src=a.ip6, dst=b.ip6, hlim=63)
        / ICMPv6EchoRequest(id=9),
    )
    c.at(
        "peer", Ether(src=b.mac, dst=b.lxc_mac) / IPv6(src=b.ip6, dst=a.ip6) / ICMPv6EchoReply(id=9)
    )
    c.at(
        "client",
        Ether(src=a.lxc_mac, dst=a.mac)
        / IPv6(src=b.ip6, dst=a.ip6, hlim=63)
        / ICMPv6EchoReply(id=9),
    )
    exp = _crafted(c, tmp_path)
    (p,) = [p for p in exp.paths if p.kind == "echo"]
    assert p.status == ExchangeStatus.ANSWERED and p.tunnel is None
    assert [h.kind for h in p.hops] == [
        HopKind.POD_ETH0,
        HopKind.LXC,
        HopKind.EBPF,
        HopKind.LXC,
        HopKind.POD_ETH0,
    ]
    assert "delivers locally" in p.hops[2].note and p.hops[2].device is None
    assert [h.pod for h in (p.hops[0], p.hops[-1])] == ["client", "peer"]
    assert p.hops[0].observed and p.hops[-1].observed
    # no tunnel lane: the ladder has the two pods' eth0 and lxc veths only
    assert sorted(lane.kind for lane in sequence(exp, exp.paths.index(p)).lanes) == [
        "lxc",
        "lxc",
        "pod-eth0",
        "pod-eth0",
    ]


def test_a_node_resolving_a_node_is_no_pod_and_no_tunnel() -> None:
    cap = lab("lab-tcp-connect")
    exp = cap.explain()
    arp = [
        (i, p)
        for i, p in enumerate(exp.paths)
        if p.kind == "arp" and p.src_ip and cap.topology.node_by_ip(p.src_ip) is not None
    ]
    assert arp
    for i, p in arp:
        assert [h.kind for h in (*p.hops, *p.reply_hops)] == [HopKind.UNDERLAY] * 4
        assert all(h.pod is None for h in (*p.hops, *p.reply_hops))
        seq = sequence(exp, i)
        assert {lane.kind for lane in seq.lanes} == {"underlay"}
        assert seq.arrows and not any(a.tunnelled for a in seq.arrows)
