"""Loading one topology dump from bytes or text: format sniffing, pasted shell sessions,
Kubernetes objects, and (through :mod:`.sysdump`) sysdump zips and bugtool archives.

:func:`load_blob` takes bytes, :func:`load_text` text; both add the facts they find to a
:class:`Topology`. An input no loader recognises raises
:class:`~vxlanlens.errors.UnknownFormatError` listing the formats tried (:data:`FORMATS`); a
recognised but malformed one raises :class:`~vxlanlens.errors.TopologyParseError` naming the
file and the line (or JSON path).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..errors import TopologyError, UnknownFormatError
from . import cilium, fdb, iproute, kube, manual, sysdump
from ._util import Ctx, LineMap, yaml_documents
from .model import Topology
from .session import classify_command, split_session

__all__ = [
    "FORMATS",
    "MAX_ARCHIVE",
    "MAX_TEXT",
    "absorb",
    "item_kind",
    "load_blob",
    "load_text",
    "read_dump",
    "unknown_format",
]

FORMATS = (
    "ip addr / ip link text (pasted, with prompts)",
    "ip -j addr / ip -j link JSON",
    "ip route / ip -6 route (text, JSON)",
    "ip neigh / ip -6 neigh (text, JSON)",
    "bridge fdb show (text, JSON)",
    "cilium(-dbg) endpoint list (JSON old and new shape, text)",
    "cilium(-dbg) identity list (text, JSON)",
    "kubectl get pods -o wide",
    "Pod / Node / CiliumEndpoint / CiliumNode / CiliumIdentity objects or lists (JSON, YAML)",
    "vxlanlens topology YAML",
    "cilium sysdump zip",
    "cilium-bugtool tar(.gz)",
    "a directory of these",
)

_CAPTURE_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
)
MAX_TEXT = 64 * 1024 * 1024
"""Largest text dump accepted (checked before the file is read)."""
MAX_ARCHIVE = 1024 * 1024 * 1024
"""Largest sysdump zip / bugtool tar(.gz) file accepted (checked before the file is read)."""


def _is_archive(head: bytes) -> bool:
    return (
        head[:4] in (b"PK\x03\x04", b"PK\x05\x06")
        or head[:2] == b"\x1f\x8b"
        or sysdump.is_tar(head)
    )


def read_dump(path: Path) -> bytes:
    """The bytes of the dump file ``path``; a file larger than its kind allows (:data:`MAX_TEXT`
    for text, :data:`MAX_ARCHIVE` for archives) is refused before it is read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
            archive = _is_archive(head)
            limit = MAX_ARCHIVE if archive else MAX_TEXT
            size = os.fstat(fh.fileno()).st_size
            parts = [head]
            got = len(head)
            # in pieces (one read of ``limit`` bytes would allocate them all), and bounded
            # even when the size is unknown (a pipe)
            while size <= limit and got <= limit:
                piece = fh.read(min(1 << 20, limit + 1 - got))
                if not piece:
                    break
                parts.append(piece)
                got += len(piece)
            head = b"".join(parts)
    except OSError as e:
        raise TopologyError(f"cannot read the dump: {e.strerror or e}", path=str(path)) from None
    size = max(size, len(head))
    if size > limit:
        what = "an archive" if archive else "a text dump"
        raise TopologyError(
            f"refusing the file: expected {what} of at most {limit >> 20} MiB, found {size} bytes",
            path=str(path),
        )
    return head


def unknown_format(label: str, found: str) -> UnknownFormatError:
    """The error for an input that is no topology dump: what was found, and the formats tried."""
    return UnknownFormatError(
        f"found {found}, expected a topology dump (formats tried: {'; '.join(FORMATS)})", path=label
    )


def load_blob(
    data: bytes,
    label: str,
    topo: Topology,
    *,
    node: str | None,
    pod: str | None,
    base_dir: Path | None,
    hint: str | None = None,
    family: int | None = None,
    budget: Any = None,
    load_path: Callable[..., Topology] | None = None,
) -> None:
    """Load bytes: a sysdump zip, a bugtool tar(.gz), or text. ``budget`` is the decompression
    budget of the archive that ``data`` came from (nested archives share it); ``load_path``
    loads the dumps a manifest names (relative to ``base_dir``), see :class:`Ctx`."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        sysdump.load_zip(data, label, topo, load_blob=load_blob, budget=budget)
        return
    if data[:2] == b"\x1f\x8b" or sysdump.is_tar(data):
        sysdump.load_tar(data, label, topo, node=node, load_blob=load_blob, budget=budget)
        return
    if data[:4] in _CAPTURE_MAGICS:
        raise unknown_format(label, "a packet capture (pcap/pcapng); pass captures separately")
    if len(data) > MAX_TEXT:
        raise TopologyError(
            f"expected a text dump under {MAX_TEXT >> 20} MiB, found {len(data)} bytes", path=label
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise unknown_format(label, f"binary data (not UTF-8 text at byte {e.start})") from None
    if "\x00" in text:
        raise unknown_format(label, f"binary data (NUL byte at character {text.index(chr(0))})")
    load_text(
        text,
        Ctx(file=label, node=node, pod=pod, load_path=load_path),
        topo,
        base_dir=base_dir,
        hint=hint,
        family=family,
    )


def absorb(topo: Topology, sub: Topology) -> None:
    """Add every fact, note and source of ``sub`` to ``topo`` (no merging)."""
    for name in (
        "nodes",
        "interfaces",
        "pods",
        "routes",
        "neighbors",
        "identities",
        "fdb",
        "captures",
        "conflicts",
        "unknown",
        "notes",
        "sources",
    ):
        getattr(topo, name).extend(getattr(sub, name))


def _strip_fences(text: str) -> str:
    lines = text.split("\n")
    return "\n".join("" if ln.strip().startswith("```") else ln for ln in lines)


def load_text(
    text: str,
    ctx: Ctx,
    topo: Topology,
    *,
    base_dir: Path | None,
    hint: str | None = None,
    family: int | None = None,
) -> None:
    """Load a text dump: a pasted session (split at prompts) or one format, sniffed."""
    text = _strip_fences(text.replace("\r\n", "\n").replace("\r", "\n"))
    if ctx.file not in topo.sources:
        topo.sources.append(ctx.file)
    if not text.strip():
        raise unknown_format(ctx.file, "an empty file")
    if hint is None:
        pieces = split_session(text)
        if pieces is not None:
            _load_session(pieces, ctx, topo, base_dir)
            return
    _load_piece(text, ctx, topo, base_dir=base_dir, hint=hint, family=family)


def _load_session(pieces: list[Any], ctx: Ctx, topo: Topology, base_dir: Path | None) -> None:
    before = _count(topo)
    for pc in pieces:
        if not pc.text.strip():
            continue
        sub = ctx.at(pc.first_line)
        if pc.host:
            sub.host_hint = pc.host
        where = f"{ctx.file}:{(pc.prompt_line or 0) + 1}"
        if pc.command is None:
            try:
                _load_piece(pc.text, sub, topo, base_dir=base_dir)
            except UnknownFormatError:
                topo.notes.append(
                    f"{ctx.file}:1: text before the first prompt is not a dump; ignored"
                )
            ctx.adopt(sub)
            continue
        fmt, fam = classify_command(pc.command)
        if not pc.command:
            topo.notes.append(f"{where}: output after an empty prompt ignored")
        elif fmt is None:
            try:
                _load_piece(pc.text, sub, topo, base_dir=base_dir)
            except UnknownFormatError:
                topo.notes.append(f"{where}: output of `{pc.command[:60]}` is not a dump; ignored")
        else:
            _load_piece(pc.text, sub, topo, base_dir=base_dir, hint=fmt, family=fam)
        ctx.adopt(sub)
    if _count(topo) == before:
        raise unknown_format(ctx.file, "a shell session with no dump output in it")


def _count(topo: Topology) -> int:
    return (
        len(topo.nodes)
        + len(topo.interfaces)
        + len(topo.pods)
        + len(topo.routes)
        + len(topo.neighbors)
        + len(topo.identities)
        + len(topo.fdb)
    )


def _load_piece(
    text: str,
    ctx: Ctx,
    topo: Topology,
    *,
    base_dir: Path | None,
    hint: str | None = None,
    family: int | None = None,
) -> None:
    s = text.lstrip()
    lead = len(text) - len(s)
    lead_lines = text[:lead].count("\n")
    if s[:1] in ("{", "["):
        try:
            data = json.loads(s)
        except (json.JSONDecodeError, RecursionError) as e:
            if s[:1] == "{" or hint is not None or not _maybe_yaml(s):
                line = getattr(e, "lineno", 1) - 1 + lead_lines
                raise ctx.error(
                    f"expected valid JSON, found {getattr(e, 'msg', 'nesting too deep')}", line=line
                ) from None
        else:
            _dispatch(data, ctx, topo, None, base_dir, lead_lines)
            return
    if hint == "bridge-fdb" or (hint is None and fdb.looks_like_fdb_text(text)):
        fdb.parse_fdb_text(text, ctx, topo)
        return
    if hint == "ip-addr" or (hint is None and iproute.looks_like_ip_addr(text)):
        iproute.parse_ip_addr_text(text, ctx, topo)
        return
    if hint == "ip-neigh" or (hint is None and iproute.looks_like_ip_neigh(text)):
        iproute.parse_ip_neigh_text(text, ctx, topo)
        return
    if hint == "ip-route" or (hint is None and iproute.looks_like_ip_route(text)):
        iproute.parse_ip_route_text(text, ctx, topo, family=family)
        return
    if cilium.looks_like_endpoint_list_text(text):
        cilium.parse_endpoint_list_text(text, ctx, topo)
        return
    if cilium.looks_like_identity_list_text(text):
        cilium.parse_identity_list_text(text, ctx, topo)
        return
    if kube.looks_like_pods_wide(text):
        kube.parse_pods_wide(text, ctx, topo)
        return
    if hint in ("endpoints", "identities"):
        raise ctx.error(
            f"expected {hint} as JSON or as cilium's text table, found {s.splitlines()[0][:60]!r}",
            line=lead_lines,
        )
    try:
        docs, lines = yaml_documents(text, ctx.file)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as e:
        mark = getattr(e, "problem_mark", None)
        if hint == "kubectl" or _looks_structured_yaml(text):
            raise ctx.error(
                f"expected valid YAML, found {getattr(e, 'problem', None) or 'a syntax error'}",
                line=mark.line if mark is not None else None,
            ) from None
        raise unknown_format(ctx.file, f"{_first(text)!r}") from None
    docs = [d for d in docs if d is not None]
    if docs and all(isinstance(d, (dict, list)) for d in docs):
        for d in docs:
            _dispatch(d, ctx, topo, lines, base_dir, 0)
        return
    raise unknown_format(ctx.file, f"{_first(text)!r}")


def _first(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:60]
    return ""


def _maybe_yaml(s: str) -> bool:
    return s.startswith("[") and "\n" not in s.strip()


def _looks_structured_yaml(text: str) -> bool:
    head = text.lstrip()[:400]
    return head.startswith(("apiVersion:", "kind:", "items:", manual.MARKER + ":", "---"))


_KIND = {
    "Pod": kube.parse_k8s_pod,
    "Node": kube.parse_k8s_node,
    "CiliumEndpoint": cilium.parse_cilium_endpoint,
    "CiliumNode": cilium.parse_cilium_node,
    "CiliumIdentity": cilium.parse_cilium_identity,
}


def _dispatch(
    data: Any,
    ctx: Ctx,
    topo: Topology,
    lines: LineMap | None,
    base_dir: Path | None,
    lead_lines: int,
) -> None:
    def where(obj: Any, path: str) -> dict[str, Any]:
        w: dict[str, Any] = {"path": path}
        if lines is not None and id(obj) in lines:
            w["line"] = lines[id(obj)] - 1
        return w

    if isinstance(data, list):
        items = [x for x in data if x != {}]
        if not items:
            raise unknown_format(ctx.file, "an empty JSON/YAML list (no facts)")
        first = items[0]
        if not isinstance(first, dict):
            raise unknown_format(ctx.file, f"a list of {type(first).__name__}")
        if fdb.is_fdb_item(first):
            fdb.parse_fdb_json(data, ctx, topo)
        elif "ifname" in first:
            iproute.parse_ip_addr_json(data, ctx, topo)
        elif cilium.is_endpoint_item(first):
            cilium.parse_endpoint_list_json(data, ctx, topo)
        elif (
            "dst" in first
            and any(k in first for k in ("lladdr", "state", "router"))
            and not any(k in first for k in ("gateway", "protocol", "scope", "flags", "prefsrc"))
        ):
            iproute.parse_ip_neigh_json(data, ctx, topo)
        elif "dst" in first:
            iproute.parse_ip_route_json(data, ctx, topo)
        elif "id" in first and "labels" in first:
            cilium.parse_identity_list_json(data, ctx, topo)
        elif "kind" in first:
            for k, item in enumerate(data):
                _object(item, ctx, topo, where(item, f"$[{k}]"))
        else:
            raise unknown_format(
                ctx.file, f"a list of objects with keys {sorted(map(str, first))[:8]}"
            )
        return
    if not isinstance(data, dict):
        raise unknown_format(ctx.file, f"a {type(data).__name__}")
    if manual.looks_like_manual(data):
        dumps = manual.parse_manual(data, ctx, topo, lines or LineMap())
        for d in dumps:
            if base_dir is None or ctx.load_path is None:
                topo.notes.append(
                    f"{ctx.file}:{d['line']}: dumps entry {d['path']!r} ignored "
                    "(the topology file is not on disk)"
                )
                continue
            target = (base_dir / d["path"]).resolve()
            absorb(topo, ctx.load_path(target, node=d["node"], pod=d["pod"]))
        return
    if isinstance(data.get("items"), list):
        for k, item in enumerate(data["items"]):
            w = where(item, f"$.items[{k}]")
            if isinstance(item, dict) and "kind" not in item:
                kind = item_kind(item, data.get("kind"), ctx.file)
                if kind is not None:
                    item = {**item, "kind": kind}
            _object(item, ctx, topo, w)
        if not data["items"]:
            raise unknown_format(ctx.file, f"an empty {data.get('kind', 'list')} (no items)")
        return
    if "kind" in data:
        _object(data, ctx, topo, where(data, "$"))
        return
    raise unknown_format(ctx.file, f"an object with keys {sorted(map(str, data))[:8]}")


_FILE_KINDS = (
    ("k8s-pods", "Pod"),
    ("k8s-nodes", "Node"),
    ("ciliumendpoints", "CiliumEndpoint"),
    ("cilium-endpoints", "CiliumEndpoint"),
    ("ciliumnodes", "CiliumNode"),
    ("cilium-nodes", "CiliumNode"),
    ("ciliumidentities", "CiliumIdentity"),
    ("cilium-identities", "CiliumIdentity"),
)


def item_kind(item: dict[str, Any], list_kind: object, file: str) -> str | None:
    """The kind of a list item that carries none (the API server strips ``kind`` and
    ``apiVersion`` from list items, and ``cilium sysdump`` writes such lists): from the list's
    kind (``PodList`` -> ``Pod``), else the sysdump file name (``k8s-pods-<ts>.yaml``), else
    the object's shape; None when none of them says."""
    if isinstance(list_kind, str) and list_kind.endswith("List") and list_kind[:-4] in _KIND:
        return list_kind[:-4]
    base = file.replace("\\", "/").rsplit("!", 1)[-1].rsplit("/", 1)[-1].lower()
    for prefix, kind in _FILE_KINDS:
        if base.startswith(prefix):
            return kind
    spec: dict[str, Any] = item["spec"] if isinstance(item.get("spec"), dict) else {}
    status: dict[str, Any] = item["status"] if isinstance(item.get("status"), dict) else {}
    if "containers" in spec or "podIP" in status or "podIPs" in status:
        return "Pod"
    if "nodeInfo" in status or "podCIDR" in spec or "podCIDRs" in spec:
        return "Node"
    if "security-labels" in item:
        return "CiliumIdentity"
    if "networking" in status and "identity" in status:
        return "CiliumEndpoint"
    if "ipam" in spec and "addresses" in spec:
        return "CiliumNode"
    return None


def _object(item: Any, ctx: Ctx, topo: Topology, w: dict[str, Any]) -> None:
    if not isinstance(item, dict):
        raise ctx.error(
            f"expected a Kubernetes object, found {type(item).__name__}",
            line=w.get("line"),
            path=w["path"],
        )
    kind = item.get("kind")
    fn = _KIND.get(str(kind))
    if fn is None:
        raise unknown_format(ctx.file, f"objects of kind {str(kind)[:40]!r} (at {w['path']})")
    fn(item, ctx, topo, w)
