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
