"""Sysdump zips and bugtool archives, built here in memory; traversal and bombs are refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from vxlanlens.errors import TopologyError, TopologyParseError, UnknownFormatError
from vxlanlens.topology import load

DATA = Path(__file__).resolve().parent / "data"
NODE = "cilium-dual-stack-worker"

AGENT_PODS = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: cilium-5xk2p, namespace: kube-system}
  spec: {nodeName: cilium-dual-stack-worker, hostNetwork: true}
  status: {hostIP: 172.18.0.3, podIP: 172.18.0.3}
"""


def bugtool(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"cilium-bugtool-20240101-120000/cmd/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sysdump(extra: dict[str, bytes] | None = None) -> bytes:
    node_dump = (DATA / "walkthrough-node-worker.txt").read_text().split("\n", 1)[1]
    members = {
        "cilium-sysdump-20240101-120000/k8s-pods-20240101-120000.yaml": AGENT_PODS.encode(),
        "cilium-sysdump-20240101-120000/ciliumnodes-20240101-120000.json": (
            DATA / "ciliumnodes.json"
        ).read_bytes(),
        "cilium-sysdump-20240101-120000/ciliumidentities-20240101-120000.yaml": (
            DATA / "ciliumidentities.yaml"
        ).read_bytes(),
        "cilium-sysdump-20240101-120000/cilium-configmap-20240101-120000.yaml": b"data: {tunnel: vxlan}\n",
        "cilium-sysdump-20240101-120000/cilium-bugtool-cilium-5xk2p-20240101-120000.tar.gz": bugtool(
            {
                "ip-a.md": node_dump,
                "ip--6-r.md": "fd00:10:244:1::/64 via fd00:10:244:1::22f1 dev cilium_host proto kernel metric 1024 pref medium\n",
                "cilium-dbg-endpoint-list--o-json.md": (
                    DATA / "cilium-dbg-endpoint-list.json"
                ).read_text(),
                "cilium-dbg-status.md": "KVStore: Ok Disabled\n",
                "ip--d--s-l.md": "this is not what ip prints\n",
            }
        ),
        **(extra or {}),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_sysdump_zip_read_in_memory(tmp_path: Path) -> None:
    z = tmp_path / "cilium-sysdump.zip"
    z.write_bytes(sysdump())
    t = load(z)
    pod = t.pod("default/cni-7t9p4")
    assert pod.node == NODE and pod.host_interface == "lxc237a31216c0f" and pod.identity == 40172
    lxc = t.interface_by_mac("a2:79:14:47:80:b3")
    assert lxc.node == NODE and lxc.ifindex == 19
    assert "!" in str(lxc.source) and "ip-a.md" in str(lxc.source)
    assert t.identity(40172).labels
    assert any(r.dst == "fd00:10:244:1::/64" and r.node == NODE for r in t.routes)
    assert any("ip--d--s-l.md" in n and "skipped" in n for n in t.notes)
    assert not list(tmp_path.glob("cilium-sysdump-*"))  # nothing extracted


def test_sysdump_also_as_bytes() -> None:
    assert load(sysdump()).pod("cni-7t9p4") is not None


def test_path_traversal_member_is_refused() -> None:
    with pytest.raises(TopologyParseError, match="path traversal") as ei:
        load(sysdump({"../../etc/cron.d/evil": b"x"}))
    assert "\n" not in str(ei.value)


def test_path_traversal_inside_bugtool_is_refused() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("../ip-a.md")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(TopologyParseError, match="path traversal"):
        load(sysdump({"d/cilium-bugtool-cilium-abcde-20240101-120000.tar.gz": buf.getvalue()}))


def test_decompression_bomb_is_refused() -> None:
    with pytest.raises(TopologyError, match="decompression bomb") as ei:
        load(sysdump({"d/k8s-pods-20240101-000000.yaml": bytes(40 * 1024 * 1024)}))
    assert "\n" not in str(ei.value)


def test_gzip_bomb_in_bugtool_is_refused() -> None:
    import gzip

    bomb = gzip.compress(bytes(40 * 1024 * 1024))
    with pytest.raises(TopologyError, match="decompression bomb"):
        load(bomb)


def test_zip_with_nothing_usable() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(UnknownFormatError, match="found none usable"):
        load(buf.getvalue())


def test_corrupt_zip() -> None:
    with pytest.raises(TopologyParseError, match="zip"):
        load(b"PK\x03\x04" + bytes(40))


# --- as `cilium sysdump` writes the cluster files: lists whose items carry no kind -------------

KINDLESS_PODS = """apiVersion: v1
items:
- metadata: {name: cilium-5xk2p, namespace: kube-system}
  spec: {nodeName: cilium-dual-stack-worker, hostNetwork: true, containers: [{name: agent}]}
  status: {hostIP: 172.18.0.3, podIP: 172.18.0.3}
- metadata: {name: cni-7t9p4, namespace: default}
  spec: {nodeName: cilium-dual-stack-worker, containers: [{name: c}]}
  status: {podIP: 10.244.1.233, podIPs: [{ip: 10.244.1.233}, {ip: "fd00:10:244:1::4749"}]}
kind: List
metadata: {resourceVersion: ""}
"""

KINDLESS_NODES = """{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
 {"metadata": {"name": "cilium-dual-stack-worker"},
  "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]},
  "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.3"},
                           {"type": "Hostname", "address": "cilium-dual-stack-worker"}]}}]}
"""


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_sysdump_lists_without_item_kinds_keep_their_pods_and_nodes(tmp_path: Path) -> None:
    z = tmp_path / "cilium-sysdump-20240101-120000.zip"
    z.write_bytes(
        _zip(
            {
                "cilium-sysdump-20240101-120000/k8s-pods-20240101-120000.yaml": KINDLESS_PODS.encode(),
                "cilium-sysdump-20240101-120000/k8s-nodes-20240101-120000.json": KINDLESS_NODES.encode(),
            }
        )
    )
    t = load(z)
    pod = t.pod("default/cni-7t9p4")
    assert pod is not None and pod.node == NODE
    assert "10.244.1.233" in pod.ips and "fd00:10:244:1::4749" in pod.ips
    assert t.pod("kube-system/cilium-5xk2p") is not None
    assert any(n.name == NODE for n in t.nodes)
    assert not any("kind 'None'" in n for n in t.notes)


def test_kindless_list_item_kind_from_list_kind_then_shape() -> None:
    from vxlanlens.topology.blob import item_kind

    assert item_kind({}, "PodList", "x.json") == "Pod"
    assert item_kind({}, "List", "sd!sd/k8s-nodes-1.yaml") == "Node"
    assert item_kind({"spec": {"containers": []}}, "List", "pods.yaml") == "Pod"
    assert item_kind({"status": {"nodeInfo": {}}}, None, "n.yaml") == "Node"
    assert item_kind({"foo": 1}, "List", "x.yaml") is None


def test_one_unreadable_member_is_skipped_with_a_note() -> None:
    good = _zip(
        {
            "sd/k8s-pods-1.yaml": KINDLESS_PODS.encode(),
            "sd/ciliumnodes-1.json": (DATA / "ciliumnodes.json").read_bytes(),
        }
    )
    # corrupt the first member's data (its CRC no longer matches)
    at = good.index(b"sd/k8s-pods-1.yaml") + len("sd/k8s-pods-1.yaml") + 5
    bad = good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1 :]
    t = load(bad)
    assert any(n.name == NODE for n in t.nodes)  # from ciliumnodes-1.json
    assert any("k8s-pods-1.yaml" in n and "skipped" in n for n in t.notes)


def test_nested_archives_share_one_budget_and_depth_is_limited() -> None:
    inner = _zip({"k8s-pods-1.yaml": KINDLESS_PODS.encode()})
    for k in range(6):
        inner = _zip({f"k8s-pods-{k + 2}.json": inner})
    with pytest.raises(TopologyError, match="nested more than") as ei:
        load(inner)
    assert "\n" not in str(ei.value)


def test_tar_members_count_against_the_archive_budget_before_reading() -> None:
    from vxlanlens.topology import sysdump as sd
    from vxlanlens.topology.blob import load_blob

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for k in range(3):
            info = tarfile.TarInfo(f"cilium-bugtool-20240101-120000/c{k}/ip-a.md")
            info.size = 1000
            tf.addfile(info, io.BytesIO(b"1: lo\n".ljust(1000, b" ")))
    budget = sd._Budget("b.tar.gz")
    budget.used = sd.MAX_TOTAL - 2500  # room for two members, not three
    with pytest.raises(TopologyError, match=r"decompression bomb.*c2/ip-a\.md"):
        sd.load_tar(
            buf.getvalue(), "b.tar", sd.Topology(), node=None, load_blob=load_blob, budget=budget
        )


def test_sysdump_does_not_import_the_loaders() -> None:
    # the loaders pass their member loader in: no import circle load/blob <-> sysdump
    import ast

    import vxlanlens.topology.sysdump as sd

    tree = ast.parse(Path(sd.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert not imported & {"load", "blob", "folder"}, imported
