"""Reading a ``cilium sysdump`` zip (and the ``cilium-bugtool-*.tar.gz`` archives inside it) in
memory, without extracting anything.

Cluster files are recognised by name pattern (``ciliumendpoints-<ts>.yaml``,
``ciliumnodes-*``, ``ciliumidentities-*``, ``k8s-pods-*``, ``k8s-nodes-*``; JSON or YAML), and
each bugtool archive's command outputs by the command in their name (``ip-a.md``,
``ip--6-r.md``, ``cilium-dbg-endpoint-list.md`` or ``cilium-endpoint-list.md``, ...). A bugtool
archive is named after the Cilium agent pod; its node comes from that pod's ``spec.nodeName``
in ``k8s-pods-*``.

Safety: a member whose name is absolute or climbs out with ``..`` is refused, and so is an
archive whose members would decompress to more than :data:`MAX_TOTAL` bytes in all or with a
ratio above :data:`MAX_RATIO` (a decompression bomb). The budget is one for the whole archive:
nested archives (a zip or tar inside the zip) and every tar member (sparse members counted at
their full size) draw on it, and archives nest at most :data:`MAX_DEPTH` deep. A member that
cannot be read (bad CRC, corrupt data) or that a loader cannot read is skipped with a note (a
sysdump holds hundreds of files of many versions); the archive fails only when nothing in it
could be read.
"""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import PurePosixPath

from ..errors import TopologyError, TopologyParseError, UnknownFormatError
from .model import Topology
from .session import bugtool_command, classify_command

__all__ = ["MAX_MEMBER", "MAX_RATIO", "MAX_TOTAL", "is_tar", "load_tar", "load_zip"]

MAX_TOTAL = 512 * 1024 * 1024
"""Most bytes an archive (with its nested archives) may decompress to."""
MAX_MEMBER = 128 * 1024 * 1024
"""Most bytes one member may decompress to."""
MAX_RATIO = 200
"""Highest decompressed/compressed ratio accepted for members above 1 MiB."""
MAX_DEPTH = 4
"""Most archives nested in one another (the sysdump zip counts as 1)."""
_RATIO_FLOOR = 1024 * 1024

_CLUSTER = re.compile(
    r"^(?P<kind>ciliumendpoints|cilium-endpoints|ciliumnodes|cilium-nodes|ciliumidentities|"
    r"cilium-identities|k8s-pods|k8s-nodes)(?:-[\w.\-]*)?\.(?:ya?ml|json)$"
)
_BUGTOOL = re.compile(
    r"^cilium-bugtool-(?P<pod>.+?)-(?:\d{8}-\d{6}|\d{6,})(?:-\w+)?\.tar(?:\.gz)?$"
)


class _Budget:
    """Bytes decompressed so far and archives open, for one outermost archive."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.used = 0
        self.depth = 0

    def enter(self, member: str) -> None:
        """One more archive level (undone by :meth:`leave`); refuses nesting past MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TopologyError(
                f"refusing the archive: archives nested more than {MAX_DEPTH} deep "
                f"at member {member if len(member) <= 120 else '...' + member[-117:]!r}",
                path=self.label,
            )

    def leave(self) -> None:
        """Back out of one archive level."""
        self.depth -= 1

    def take(self, n: int, member: str) -> None:
        self.used += n
        if self.used > MAX_TOTAL:
            raise TopologyError(
                f"refusing the archive: members decompress to more than {MAX_TOTAL >> 20} MiB "
                f"(decompression bomb?) at member {member!r}",
                path=self.label,
            )


def _check_name(name: str, label: str) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in p.parts:
        raise TopologyParseError(
            f"refusing archive member {name[:120]!r}: its path leaves the archive (path traversal)",
            path=label,
        )


def _check_ratio(size: int, compressed: int, member: str, label: str) -> None:
    if size > MAX_MEMBER:
        raise TopologyError(
            f"refusing archive member {member[:120]!r}: {size} bytes uncompressed, more "
            f"than {MAX_MEMBER >> 20} MiB (decompression bomb?)",
            path=label,
        )
    if size > _RATIO_FLOOR and size > MAX_RATIO * max(compressed, 1):
        raise TopologyError(
            f"refusing archive member {member[:120]!r}: compression ratio "
            f"{size // max(compressed, 1)}:1 above {MAX_RATIO}:1 (decompression bomb?)",
            path=label,
        )


def is_tar(data: bytes) -> bool:
    """Whether ``data`` is an uncompressed (ustar/gnu) tar archive."""
    return len(data) > 262 and data[257:262] == b"ustar"


def _gunzip(data: bytes, label: str, budget: _Budget) -> bytes:
    d = zlib.decompressobj(wbits=31)
    out = bytearray()
    pos = 0
    try:
        while pos < len(data):
            chunk = data[pos : pos + 65536]
            pos += len(chunk)
            buf = chunk
            while buf:
                piece = d.decompress(buf, 1 << 20)
                out += piece
                budget.take(len(piece), label)
                _check_ratio(len(out), pos, label, budget.label)
                buf = d.unconsumed_tail
            if d.eof:
                break
        out += d.flush()
    except zlib.error as e:
        raise TopologyParseError(
            f"expected gzip data, found a corrupt stream ({e})", path=label
        ) from None
    if not d.eof:
        raise TopologyParseError("expected a complete gzip stream, found it truncated", path=label)
    return bytes(out)


BlobLoader = Callable[..., None]
"""Loads one member's bytes into a topology: :func:`vxlanlens.topology.blob.load_blob`'s
signature (``data, label, topo, *, node, pod, base_dir, hint=None, family=None, budget=None``).
The loader is passed in, so that this module does not import the one that imports it."""


def load_zip(
    data: bytes,
    label: str,
    topo: Topology,
    *,
    load_blob: BlobLoader,
    budget: _Budget | None = None,
) -> None:
    """Load a sysdump zip from memory, each member through ``load_blob`` (``budget``: the one
    of the archive it is nested in)."""
    budget = budget or _Budget(label)
    budget.enter(label)
    try:
        _load_zip(data, label, topo, budget, load_blob)
    finally:
        budget.leave()


def _load_zip(
    data: bytes, label: str, topo: Topology, budget: _Budget, load_blob: BlobLoader
) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise TopologyParseError(
            f"expected a zip archive, found a corrupt one ({e})", path=label
        ) from None
    declared = 0
    for info in infos:
        _check_name(info.filename, label)
        _check_ratio(info.file_size, info.compress_size, info.filename, label)
        declared += info.file_size
    if budget.used + declared > MAX_TOTAL:
        raise TopologyError(
            f"refusing the archive: members declare {declared} bytes uncompressed, more "
            f"than {MAX_TOTAL >> 20} MiB (decompression bomb?)",
            path=label,
        )
    cluster, bugtools = [], []
    for info in infos:
        if info.is_dir():
            continue
        base = info.filename.rsplit("/", 1)[-1]
        if _CLUSTER.match(base):
            cluster.append(info)
        elif _BUGTOOL.match(base):
            bugtools.append(info)
    before = len(topo.notes)
    for info in cluster:
        _guarded(
            lambda i=info: load_blob(
                _read_member(zf, i, label, budget),
                f"{label}!{i.filename}",
                topo,
                node=None,
                pod=None,
                base_dir=None,
                budget=budget,
            ),
            f"{label}!{info.filename}",
            topo,
        )
    agent_nodes = {p.name: p.node for p in topo.pods if p.name and p.node}
    for info in bugtools:
        base = info.filename.rsplit("/", 1)[-1]
        agent = _BUGTOOL.match(base).group("pod")  # type: ignore[union-attr]
        node = agent_nodes.get(agent)
        if node is None:
            topo.notes.append(
                f"{label}!{info.filename}: node of agent pod {agent!r} unknown "
                "(no k8s-pods file naming it); its facts are not bound to a node"
            )
        _guarded(
            lambda i=info, n=node: load_tar(
                _read_member(zf, i, label, budget),
                f"{label}!{i.filename}",
                topo,
                node=n,
                load_blob=load_blob,
                budget=budget,
            ),
            f"{label}!{info.filename}",
            topo,
        )
    if topo.is_empty():
        skipped = len(topo.notes) - before
        raise UnknownFormatError(
            f"expected cluster files (ciliumendpoints-*, ciliumnodes-*, k8s-pods-*, ...) or "
            f"cilium-bugtool-*.tar.gz in the sysdump, found none usable among {len(infos)} members"
            + (f" ({skipped} skipped, see notes)" if skipped else ""),
            path=label,
        )


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, budget: _Budget) -> bytes:
    try:
        with zf.open(info) as fh:
            blob = fh.read(min(info.file_size, MAX_MEMBER) + 1)
    except (
        zipfile.BadZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
        RuntimeError,
        zlib.error,
    ) as e:
        raise TopologyParseError(
            f"expected a readable zip member, found an error ({e})", path=f"{label}!{info.filename}"
        ) from None
    if len(blob) > info.file_size:
        raise TopologyError(
            f"refusing archive member {info.filename!r}: it decompresses to more than its "
            f"declared {info.file_size} bytes",
            path=label,
        )
    budget.take(len(blob), info.filename)
    return blob


def _guarded(fn, where: str, topo: Topology) -> None:  # type: ignore[no-untyped-def]
    try:
        fn()
    except (TopologyParseError, UnknownFormatError) as e:
        if "refusing" in e.message:
            raise
        topo.notes.append(f"{where}: skipped ({e.message if e.path == where else e})")


def load_tar(
    data: bytes,
    label: str,
    topo: Topology,
    *,
    node: str | None,
    load_blob: BlobLoader,
    budget: _Budget | None = None,
) -> None:
    """Load a cilium-bugtool archive (tar or tar.gz) from memory, bound to ``node``, each
    member through ``load_blob`` (``budget``: the one of the archive it is nested in)."""
    budget = budget or _Budget(label)
    budget.enter(label)
    try:
        _load_tar(data, label, topo, node, budget, load_blob)
    finally:
        budget.leave()


def _load_tar(
    data: bytes,
    label: str,
    topo: Topology,
    node: str | None,
    budget: _Budget,
    load_blob: BlobLoader,
) -> None:
    raw = _gunzip(data, label, budget) if data[:2] == b"\x1f\x8b" else data
    if not is_tar(raw):
        load_blob(raw, label, topo, node=node, pod=None, base_dir=None, budget=budget)
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
            members = tf.getmembers()
            wanted = []
            for m in members:
                _check_name(m.name, label)
                if not m.isfile():
                    continue
                fmt, fam = classify_command(bugtool_command(m.name))
                if fmt is None or fmt == "kubectl":
                    continue
                if m.size > MAX_MEMBER:
                    raise TopologyError(
                        f"refusing archive member {m.name!r}: more than {MAX_MEMBER >> 20} MiB",
                        path=label,
                    )
                # a sparse member's holes read as zeros: its full size counts
                budget.take(m.size, m.name)
                wanted.append((m, fmt, fam))
            files = []
            for m, fmt, fam in wanted:
                fh = tf.extractfile(m)
                if fh is not None:
                    files.append((m.name, fmt, fam, fh.read(MAX_MEMBER + 1)))
    except (tarfile.TarError, OSError, ValueError, EOFError) as e:
        raise TopologyParseError(
            f"expected a tar archive, found a corrupt one ({e})", path=label
        ) from None
    loaded = 0
    for name, fmt, fam, blob in files:
        where = f"{label}!{name}"
        n0 = len(topo.notes)
        _guarded(
            lambda b=blob, w=where, f=fmt, fa=fam: load_blob(
                b, w, topo, node=node, pod=None, base_dir=None, hint=f, family=fa, budget=budget
            ),
            where,
            topo,
        )
        loaded += len(topo.notes) == n0
    if loaded == 0 and topo.is_empty():
        raise UnknownFormatError(
            f"expected command outputs (ip-a.md, cilium-dbg-endpoint-list.md, ...) in "
            f"the bugtool archive, found none usable among {len(members)} members",
            path=label,
        )
