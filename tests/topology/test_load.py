"""Loaders: every format, pasted sessions, bindings, directories and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vxlanlens.errors import TopologyError, TopologyParseError, UnknownFormatError
from vxlanlens.topology import load, load_many, parse_spec

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "captures" / "cilium-dual-stack" / "topology"
NODE = "cilium-dual-stack-worker"


def walkthrough_specs() -> list[str]:
    return [
        f"{NODE}={DATA / 'walkthrough-node-worker.txt'}",
        f"{NODE}/cni-7t9p4={DATA / 'walkthrough-pod-cni-7t9p4.txt'}",
    ]


def test_walkthrough_dumps_give_the_issue_facts() -> None:
    t = load_many(walkthrough_specs())
    pod = t.pod("cni-7t9p4")
    assert pod is not None
    assert pod.mac == "4e:5b:57:45:63:3b"
    assert pod.ips == ["10.244.1.233", "fd00:10:244:1::4749"]
    assert pod.node == NODE
    assert pod.host_interface == "lxc237a31216c0f"
    lxc = t.interface_by_mac("a2:79:14:47:80:b3")
    assert lxc is not None
    assert (lxc.name, lxc.ifindex, lxc.node, lxc.kind, lxc.pod) == (
        "lxc237a31216c0f",
        19,
        NODE,
        "lxc",
        "cni-7t9p4",
    )
    host = next(i for i in t.interfaces if i.name == "cilium_host")
    assert "10.244.1.154/32" in host.addresses
    assert "10.244.1.154" in t.router_ips(NODE)
    assert "fd00:10:244:1::22f1" in t.router_ips(NODE)
    nb = next(n for n in t.neighbors if n.ip == "fd00:10:244:1::22f1")
    assert (nb.lladdr, nb.router, nb.state, nb.namespace, nb.node) == (
        "a2:79:14:47:80:b3",
        True,
        "STALE",
        "cni-7t9p4",
        NODE,
    )
    # the IPv6 gateway is configured on no interface, and we say how many were checked
    look = t.interfaces_with_address("fd00:10:244:1::22f1")
    assert not look and look.checked == 9
    assert t.interfaces_with_address("10.244.1.154").matches[0].name == "cilium_host"
    # every fact says where it comes from
    assert str(pod.source).endswith("walkthrough-pod-cni-7t9p4.txt:8")
    assert str(nb.source).endswith("walkthrough-pod-cni-7t9p4.txt:25")
    assert not t.conflicts


def test_walkthrough_unbound_pairs_veth_and_names_pod_from_prompt() -> None:
    t = load_many(
        [str(DATA / "walkthrough-node-worker.txt"), str(DATA / "walkthrough-pod-cni-7t9p4.txt")]
    )
    pod = t.pod("cni-7t9p4")
    assert (
        pod is not None
        and pod.host_interface == "lxc237a31216c0f"
        and pod.host_mac == "a2:79:14:47:80:b3"
    )
    assert pod.field_sources["name"][1] == "inferred-low"
    assert pod.node is None


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="shipped walkthrough dumps not present")
def test_shipped_walkthrough_dumps() -> None:
    specs = [f"{NODE}={SHIPPED / 'worker-ip-a-l.txt'}"] + [
        f"{NODE}/cni-7t9p4={p}" for p in sorted(SHIPPED.glob("cni-7t9p4-*.txt"))
    ]
    t = load_many(specs)
    pod = t.pod("cni-7t9p4")
    assert pod is not None and pod.mac == "4e:5b:57:45:63:3b"
    assert set(pod.ips) == {"10.244.1.233", "fd00:10:244:1::4749"}
    assert (pod.host_interface, pod.host_mac, pod.node) == (
        "lxc237a31216c0f",
        "a2:79:14:47:80:b3",
        NODE,
    )
    assert t.interface_by_mac("a2:79:14:47:80:b3").ifindex == 19
    assert "10.244.1.154" in t.router_ips(NODE)
    assert any(n.ip == "fd00:10:244:1::22f1" and n.router for n in t.neighbors)
    # the folder as a whole also loads (the README is skipped with a note)
    whole = load(SHIPPED)
    assert whole.pod("cni-7t9p4").host_interface == "lxc237a31216c0f"


@pytest.mark.skipif(
    not (ROOT / "captures" / "lab-ipv4-ping" / "topology").is_dir(), reason="lab dumps absent"
)
def test_folder_per_node_and_pod_binds_by_folder_name() -> None:
    t = load(ROOT / "captures" / "lab-ipv4-ping" / "topology")
    assert {p.ref for p in t.pods} == {"default/cni-7t9p4", "default/cni-8qgcs"}
    assert all(p.node and p.host_interface and p.host_mac for p in t.pods)
    assert not t.conflicts


def test_pasted_session_split_at_prompts() -> None:
    text = (DATA / "walkthrough-pod-cni-7t9p4.txt").read_text()
    noisy = (
        "Here is what I see:\n\n"
        + text
        + "$ ping6 -c 1 fd00:10:244:2::9461\n64 bytes from x: seq=0\n"
    )
    t = load(noisy, node=NODE, pod="default/cni-7t9p4")
    assert len(t.routes) == 6 and len(t.neighbors) == 1
    assert t.pod("cni-7t9p4").namespace == "default"
    assert any("ping6" in n for n in t.notes)


@pytest.mark.parametrize(
    ("name", "check"),
    [
        (
            "ip-j-d-addr-node.json",
            lambda t: (
                t.interface_by_mac("02:42:ac:12:00:03").kind == "underlay"
                and t.node("N").addresses[0].value == "172.18.0.3"
                and t.router_ips("N") == ["10.244.1.154"]
                and next(i for i in t.interfaces if i.name == "lxc237a31216c0f").peer.ifindex == 18
            ),
        ),
        (
            "ip-d-link-node.txt",
            lambda t: [i.kind for i in t.interfaces] == ["cilium_vxlan", "underlay"],
        ),
        (
            "ip-r-node.txt",
            lambda t: (
                len(t.routes) == 6
                and t.routes[3].mtu == 1450
                and t.routes[5].type == "blackhole"
                and t.routes[1].src == "10.244.1.154"
            ),
        ),
        (
            "ip-n-node.txt",
            lambda t: (
                [n.state for n in t.neighbors] == ["REACHABLE", "STALE", "FAILED", "DELAY"]
                and t.neighbors[3].router
                and t.neighbors[2].lladdr is None
            ),
        ),
        (
            "cilium-dbg-endpoint-list.json",
            lambda t: (
                t.pod("default/cni-7t9p4").host_mac == "a2:79:14:47:80:b3"
                and t.pod("default/cni-7t9p4").identity == 40172
                and len(t.pods) == 1
                and next(i for i in t.interfaces if i.name == "lxc_health").note is not None
            ),
        ),
        (
            "cilium-endpoint-list-old.json",
            lambda t: t.pod("kube-system/coredns-64897985d-x2x7q").mac == "66:0a:3c:e1:17:02",
        ),
        (
            "cilium-endpoint-list.txt",
            lambda t: (
                t.pod_by_ip("10.244.1.233").identity == 40172
                and len(t.identity(40172).labels) == 3
                and len(t.pods) == 1
            ),
        ),
        (
            "cilium-identity-list.txt",
            lambda t: (
                len(t.identity(40172).labels) == 4
                and t.identity(6).labels == ["reserved:remote-node"]
            ),
        ),
        ("cilium-identity-list.json", lambda t: t.identity(40172).labels[0] == "k8s:app=cni"),
        (
            "kubectl-get-pods-A-wide.txt",
            lambda t: (
                t.pod("cni-8qgcs").node == "cilium-dual-stack-worker2"
                and t.pod("kube-system/cilium-5xk2p").host_network
                and t.pod_by_ip("172.18.0.3") is None
                and t.node("cilium-dual-stack-worker").addresses[0].confidence == "inferred-high"
                and t.pod("coredns-64897985d-x2x7q").ips == []
            ),
        ),
        (
            "k8s-pods.json",
            lambda t: (
                t.pod("cni-8qgcs").ips == ["10.244.2.245", "fd00:10:244:2::9461"]
                and t.pod("cilium-9kq4z").host_network
                and [f.value for f in t.node("cilium-dual-stack-worker2").addresses]
                == ["172.18.0.4", "fc00:f853:ccd:e793::4"]
            ),
        ),
        (
            "pod.yaml",
            lambda t: t.pod("cni-7t9p4").node == NODE and t.pod("cni-7t9p4").source.line == 1,
        ),
        (
            "ciliumendpoints.yaml",
            lambda t: (
                t.pod("cni-7t9p4").node_ip == "172.18.0.3" and t.pod("cni-7t9p4").source.line == 3
            ),
        ),
        (
            "ciliumnodes.json",
            lambda t: (
                t.router_ips("cilium-dual-stack-worker2") == ["10.244.2.71"]
                and t.node_by_pod_cidr("fd00:10:244:2::9461").name == "cilium-dual-stack-worker2"
            ),
        ),
        (
            "ciliumidentities.yaml",
            lambda t: (
                t.identity(40172).labels
                == ["k8s:app=cni", "k8s:io.kubernetes.pod.namespace=default"]
            ),
        ),
        (
            "k8s-nodes.yaml",
            lambda t: (
                [f.value for f in t.node(NODE).pod_cidrs] == ["10.244.1.0/24", "fd00:10:244:1::/64"]
            ),
        ),
        ("ip-j-link-pod.json", lambda t: t.pod_by_mac("4e:5b:57:45:63:3b") is not None),
        (
            "ip-j-r-pod.json",
            lambda t: t.routes[0].mtu == 1450 and t.routes[0].via == "10.244.1.154",
        ),
        ("ip-j-6-n-pod.json", lambda t: t.neighbors[0].router and t.neighbors[0].state == "STALE"),
    ],
)
def test_every_format(name: str, check) -> None:  # type: ignore[no-untyped-def]
    t = load(DATA / name, node="N" if "node" in name else None)
    assert check(t), t.format_table()


def test_handwritten_topology_with_bound_dumps() -> None:
    t = load(DATA / "topology.yaml")
    a, b = t.pod("cni-7t9p4"), t.pod("cni-8qgcs")
    assert a.node == NODE and a.namespace == "default" and a.host_interface == "lxc237a31216c0f"
    assert b.host_mac == "9e:2f:0c:71:d4:a8" and b.source.line == 9
    assert t.node_by_ip("172.18.0.4").name == "cilium-dual-stack-worker2"


def test_endpoint_list_and_ip_dump_merge_on_the_same_node() -> None:
    t = load_many(
        [
            f"{NODE}={DATA / 'cilium-dbg-endpoint-list.json'}",
            f"{NODE}={DATA / 'walkthrough-node-worker.txt'}",
        ]
    )
    lxc = [i for i in t.interfaces if i.name == "lxc237a31216c0f"]
    assert len(lxc) == 1 and lxc[0].ifindex == 19 and lxc[0].pod == "default/cni-7t9p4"
    assert not t.conflicts


def test_conflicting_loaded_facts_are_kept_with_both_sources(tmp_path: Path) -> None:
    eps = json.loads((DATA / "cilium-dbg-endpoint-list.json").read_text())
    eps[0]["status"]["networking"]["mac"] = "4e:5b:57:45:63:ff"
    (tmp_path / "eps.json").write_text(json.dumps(eps))
    t = load_many(
        [f"{NODE}={tmp_path / 'eps.json'}", f"{NODE}={DATA / 'cilium-dbg-endpoint-list.json'}"]
    )
    c = next(c for c in t.conflicts if c.field == "mac")
    assert {v for v, _, _ in c.values} == {"4e:5b:57:45:63:ff", "4e:5b:57:45:63:3b"}
    assert {str(s).split("/")[-1].split(" ")[0] for _, s, _ in c.values} == {
        "eps.json",
        "cilium-dbg-endpoint-list.json",
    }
    assert "mac" in json.dumps(t.to_dict()["conflicts"])


def test_parse_spec() -> None:
    assert parse_spec("a.txt") == (None, None, "a.txt")
    assert parse_spec("n1=a.txt") == ("n1", None, "a.txt")
    assert parse_spec("n1/p=a.txt") == ("n1", "p", "a.txt")
    assert parse_spec("n1/ns/p=a.txt") == ("n1", "ns/p", "a.txt")
    with pytest.raises(TopologyError):
        parse_spec("=a.txt")


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (
            "1: lo: <LOOPBACK,UP> mtu 65536\n    link/ether zz:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff\n",
            2,
            "MAC",
        ),
        ("1: lo: <LOOPBACK,UP> mtu 65536\n    inet 10.0.0.999/8 scope host lo\n", 2, "address"),
        ("1: lo: <LOOPBACK,UP> mtu 65536\ngarbage here\n", 2, "interface header"),
        ("$ ip r\ndefault via 10.0.0.1 dev eth0\nnot-a-prefix dev eth0\n", 3, "destination"),
        ("$ ip -6 n\nfd00::1 dev eth0 lladdr 11:22 router STALE\n", 2, "link-layer"),
        ('[{"ifname": "eth0", "address": "nope"}]', None, "$[0].address"),
        (
            '{"kind": "List", "items": [\n  {"kind": "Pod", "metadata": {"name": "x"}, "status": {"podIP": "1.2.3"}}\n]}',
            None,
            "podIP",
        ),
        ('{\n  "a": \n}', 3, "JSON"),
        ("ID         LABELS\n1          reserved:host\nnope nope nope\n", 3, "LABEL"),
        ("vxlanlens-topology: 1\npods:\n  - name: x\n    mac: 1:2\n", 3, "MAC"),
        ("vxlanlens-topology: 1\nnodez: []\n", 1, "unknown top-level"),
    ],
)
def test_malformed_dumps_name_file_and_line(
    tmp_path: Path, text: str, line: int | None, what: str
) -> None:
    f = tmp_path / "dump.txt"
    f.write_text(text)
    with pytest.raises(TopologyParseError) as ei:
        load(f)
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(str(f)) and what in msg
    if line is not None:
        assert f"line {line}:" in msg


@pytest.mark.parametrize(
    "text", ["hello world\n", "just: a mapping\n", "[]\n", "- 1\n- 2\n", "\n\n"]
)
def test_unknown_formats_list_what_was_tried(tmp_path: Path, text: str) -> None:
    f = tmp_path / "x.txt"
    f.write_text(text)
    with pytest.raises(UnknownFormatError) as ei:
        load(f)
    assert "formats tried" in str(ei.value) and "ip addr" in str(ei.value)


def test_capture_file_is_not_a_dump(tmp_path: Path) -> None:
    f = tmp_path / "x.pcap"
    f.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(20))
    with pytest.raises(UnknownFormatError, match="packet capture"):
        load(f)


def test_missing_path() -> None:
    with pytest.raises(TopologyError, match="nothing at this path"):
        load(DATA / "no-such-file.txt")


def test_directory_of_dumps_skips_unknown_files_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing useful\n")
    (tmp_path / "ids.txt").write_text((DATA / "cilium-identity-list.txt").read_text())
    t = load(tmp_path)
    assert t.identity(40172) is not None
    assert any("notes.txt" in n for n in t.notes)
    (tmp_path / "ids.txt").unlink()
    with pytest.raises(UnknownFormatError):
        load(tmp_path)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True)
)


def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """9**8 nodes from 300 bytes: refused after a bounded number of nodes, naming the file."""
    f = tmp_path / "bomb.yaml"
    f.write_text(BOMB)
    with pytest.raises(TopologyError, match="alias bomb") as ei:
        load(f)
    assert str(f) in str(ei.value) and "\n" not in str(ei.value)


def test_yaml_with_a_few_aliases_still_loads() -> None:
    from vxlanlens.topology._util import yaml_documents

    docs, _ = yaml_documents("base: &b {x: 1}\nitems: [*b, *b, *b]\n")
    assert docs == [{"base": {"x": 1}, "items": [{"x": 1}] * 3}]


def test_dump_size_is_checked_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    load_mod = importlib.import_module("vxlanlens.topology.blob")  # reads the dump files

    big = tmp_path / "huge.txt"
    with big.open("wb") as fh:  # sparse: 2 GiB that take no disk space
        fh.truncate(2 << 30)
    reads: list[int] = []
    real_open = open

    def counting_open(*args, **kwargs):  # type: ignore[no-untyped-def]
        fh = real_open(*args, **kwargs)
        real_read = fh.read

        def read(n: int = -1) -> bytes:
            data = real_read(n)
            reads.append(len(data))
            return data

        fh.read = read
        return fh

    monkeypatch.setattr(load_mod, "open", counting_open, raising=False)
    assert hasattr(load_mod, "read_dump")
    with pytest.raises(TopologyError, match="refusing the file: expected a text dump") as ei:
        load(big)
    assert str(big) in str(ei.value)
    assert sum(reads) <= 512  # only the head that tells text from an archive


def _copy_tree(src: Path, dst: Path, *, skip: tuple[str, ...] = ()) -> Path:
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*skip) if skip else None)
    return dst


@pytest.mark.parametrize("with_kubectl", [True, False])
def test_pod_folders_are_pods_when_pods_come_only_from_kubectl(
    tmp_path: Path, with_kubectl: bool
) -> None:
    # a folder per node and per pod, the pods named only in kubectl output (no endpoint list):
    # the pod folders' dumps belong to the pods, never to a node named after a pod (the lab's
    # vxlanlens-topology.yaml, which states the bindings, is left out)
    src = ROOT / "captures" / "lab-flannel-ping" / "topology"
    skip = ("vxlanlens-topology.yaml",) + (() if with_kubectl else ("kubectl-*",))
    root = _copy_tree(src, tmp_path / "topo", skip=skip)
    pod_dirs = sorted(  # a pod's namespace: lo and eth0 only
        d.name for d in root.iterdir() if d.is_dir()
        and re.findall(r"(?m)^\d+: (\w+)", (d / "ip-a.txt").read_text()) == ["lo", "eth0"]
    )  # fmt: skip
    assert len(pod_dirs) >= 2
    topo = load(root)
    node_names = {n.name for n in topo.nodes} | {i.node for i in topo.interfaces if i.node}
    assert not node_names & set(pod_dirs)
    for name in pod_dirs:
        eth0 = [i for i in topo.interfaces if i.kind == "pod-eth0" and i.pod == name]
        assert len(eth0) == 1, (name, eth0)
        assert any(f"bound to pod {name!r}" in n for n in topo.notes)
