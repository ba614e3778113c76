"""Loading a directory of topology dumps: every file in it, a sub-folder named after a node or
a pod bound to it, files a ``vxlanlens topology YAML`` manifest names loaded with its binding."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import TopologyError, UnknownFormatError
from . import manual
from ._util import yaml_documents
from .blob import FORMATS, absorb, load_blob, read_dump, unknown_format
from .model import Topology

__all__ = ["load_dir", "load_path"]


def _load_file_into(f: Path, topo: Topology, *, node: str | None, pod: str | None) -> None:
    sub = Topology()
    data = read_dump(f)
    try:
        load_blob(data, str(f), sub, node=node, pod=pod, base_dir=f.parent, load_path=load_path)
    except UnknownFormatError as e:
        topo.notes.append(f"{f}: skipped ({e.message[:120]})")
        return
    absorb(topo, sub)


def _probe(group: list[Path]) -> Topology:
    """The facts of ``group``'s dumps loaded unbound (unreadable ones left out)."""
    probe = Topology()
    for f in group:
        try:
            load_blob(read_dump(f), str(f), probe, node=None, pod=None, base_dir=f.parent)
        except (TopologyError, OSError):
            continue
    return probe


def _names(probes: list[Topology]) -> tuple[set[str], set[str]]:
    """(pod names, node names) that the dumps state (kubectl, Pod / Node objects, endpoints)."""
    pods: set[str] = set()
    nodes: set[str] = set()
    for probe in probes:
        nodes.update(n.name for n in probe.nodes if n.name)
        for p in probe.pods:
            if p.name:
                pods.add(p.name)
            if p.node:
                nodes.add(p.node)
    return pods, nodes


_HOST_KINDS = frozenset({"lxc", "cilium_host", "cilium_net", "underlay", "cilium_vxlan"})


def _folder_binding(
    folder: Path, probe: Topology, topo: Topology, pods: set[str], nodes: set[str]
) -> tuple[str | None, str | None]:
    """A sub-folder named after a node or a pod binds its dumps. A name the other dumps state
    (``pods``, ``nodes``: kubectl output, Pod / Node objects) decides; otherwise the folder's
    interface dump does: a pod's namespace binds to the pod, a host's (or endpoints) to the
    node. An interface that some dump shows as a pod's eth0 counts as that only (another dump
    of the same namespace may lack what tells a pod apart, such as ``ip -j`` output)."""
    name = folder.name
    if name in pods and name not in nodes:
        topo.notes.append(
            f"{folder}: dumps bound to pod {name!r} (folder name; a pod the dumps list)"
        )
        return None, name
    if name in nodes and name not in pods:
        topo.notes.append(
            f"{folder}: dumps bound to node {name!r} (folder name; a node the dumps list)"
        )
        return name, None
    pod_macs = {i.mac for i in probe.interfaces if i.kind == "pod-eth0" and i.mac}
    kinds = {
        i.kind
        for i in probe.interfaces
        if i.kind == "pod-eth0" or not (i.mac and i.mac in pod_macs)
    }
    if "pod-eth0" in kinds and not kinds & _HOST_KINDS:
        topo.notes.append(
            f"{folder}: dumps bound to pod {name!r} (folder name; pod namespace dump)"
        )
        return None, name
    if kinds & _HOST_KINDS or any(p.endpoint_id is not None for p in probe.pods):
        topo.notes.append(
            f"{folder}: dumps bound to node {name!r} (folder name; host namespace dump)"
        )
        return name, None
    return None, None


_SKIP_SUFFIXES = {
    ".pcap",
    ".pcapng",
    ".cap",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".html",
    ".py",
    ".ipynb",
}


def load_dir(root: Path, topo: Topology, *, node: str | None, pod: str | None) -> None:
    """Add the facts of every dump under ``root`` to ``topo`` (``node`` / ``pod``: the binding
    of them all, when the user gave one; otherwise sub-folders bind by their names)."""
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    bound: dict[Path, tuple[str | None, str | None]] = {}
    manifests: set[Path] = set()
    for f in files:
        if f.suffix in (".yaml", ".yml"):
            try:
                docs, _ = yaml_documents(read_dump(f).decode("utf-8"), str(f))
            except (
                TopologyError,  # too large, or an alias bomb: refused when the file is loaded
                yaml.YAMLError,
                UnicodeDecodeError,
                OSError,
                RecursionError,
                ValueError,
                TypeError,
            ):
                continue
            for d in docs:
                if manual.looks_like_manual(d) and isinstance(d.get("dumps"), list):
                    manifests.add(f)
                    for e in d["dumps"]:
                        if isinstance(e, dict) and e.get("path"):
                            bound[(f.parent / str(e["path"])).resolve()] = (
                                e.get("node"),
                                e.get("pod"),
                            )
    groups: dict[Path, list[Path]] = {}
    for f in files:
        if f.resolve() in bound and f not in manifests:
            continue  # loaded through its manifest, with its binding
        if f.suffix.lower() in _SKIP_SUFFIXES or f.name.lower().startswith(("readme", "license")):
            topo.notes.append(f"{f}: skipped (not a topology dump)")
            continue
        groups.setdefault(f.parent, []).append(f)
    probes: dict[Path, Topology] = {}
    if node is None and pod is None and any(folder != root for folder in groups):
        probes = {folder: _probe(group) for folder, group in groups.items()}
    pods, nodes = _names(list(probes.values()))
    for folder, group in groups.items():
        gnode, gpod = node, pod
        if folder != root and node is None and pod is None:
            gnode, gpod = _folder_binding(folder, probes[folder], topo, pods, nodes)
        for f in group:
            _load_file_into(f, topo, node=gnode, pod=gpod)
    if topo.is_empty():
        raise UnknownFormatError(
            f"expected at least one topology dump in the directory, found none "
            f"among {len(files)} files (formats tried: {'; '.join(FORMATS)})",
            path=str(root),
        )


def load_path(path: Path, *, node: str | None = None, pod: str | None = None) -> Topology:
    """The facts (unmerged) of the dump file or folder ``path``, bound to ``node`` / ``pod``;
    a :class:`~vxlanlens.errors.TopologyError` when there is nothing at ``path`` or no fact in
    it. Paths named by a manifest in it are loaded the same way."""
    topo = Topology()
    if path.is_dir():
        load_dir(path, topo, node=node, pod=pod)
    elif path.is_file():
        load_blob(
            read_dump(path),
            str(path),
            topo,
            node=node,
            pod=pod,
            base_dir=path.parent,
            load_path=load_path,
        )
    else:
        raise TopologyError(
            "expected a topology dump file or directory, found nothing at this path",
            path=str(path),
        )
    if topo.is_empty():
        raise unknown_format(topo.sources[0] if topo.sources else str(path), "no facts in it")
    return topo
