"""Loading topology dumps: format sniffing, pasted sessions, directories, bindings.

:func:`load` takes a path, raw bytes or pasted text and returns a merged :class:`Topology`.
:func:`load_many` takes ``PATH``, ``NODE=PATH`` or ``NODE/POD=PATH`` strings (``POD`` may be
``NAMESPACE/NAME``, i.e. ``NODE/NAMESPACE/NAME=PATH``).

A ``str`` argument is taken as text when it holds a newline or starts with ``{``/``[``, else as
a path. A wrong guess never yields an empty model silently: an input no loader recognises
raises :class:`~vxlanlens.errors.UnknownFormatError` listing the formats tried, and a
recognised but malformed one raises :class:`~vxlanlens.errors.TopologyParseError` naming the
file and the line (or JSON path).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import TopologyError
from ._util import Ctx
from .blob import FORMATS, load_blob, load_text, read_dump, unknown_format
from .folder import load_path
from .merge import merge
from .model import Topology

__all__ = ["FORMATS", "load", "load_many", "load_raw", "parse_spec", "read_dump"]


def parse_spec(spec: str) -> tuple[str | None, str | None, str]:
    """Split ``NODE=PATH`` / ``NODE/POD=PATH`` / ``NODE/NS/POD=PATH`` / ``PATH`` into
    ``(node, pod, path)``; a spec whose whole text is an existing path is a plain path."""
    if "=" not in spec or os.path.exists(spec):
        return None, None, spec
    bind, path = spec.split("=", 1)
    if not bind or not path:
        raise TopologyError(f"expected PATH, NODE=PATH or NODE/POD=PATH, found {spec!r}")
    node, _, pod = bind.partition("/")
    return node or None, pod or None, path


def load(
    path_or_text: str | os.PathLike[str] | bytes, *, node: str | None = None, pod: str | None = None
) -> Topology:
    """Load one dump (file, directory, sysdump zip, bytes or pasted text), bound to ``node``
    and, for a pod's own dump, ``pod`` (``"name"`` or ``"ns/name"``); returns the merged model."""
    return merge(load_raw(path_or_text, node=node, pod=pod))


def load_many(specs: list[str] | tuple[str, ...]) -> Topology:
    """Load every ``PATH`` / ``NODE=PATH`` / ``NODE/POD=PATH`` spec and merge them."""
    raws = []
    for spec in specs:
        node, pod, path = parse_spec(str(spec))
        raws.append(load_raw(Path(path), node=node, pod=pod))
    return merge(*raws)


def load_raw(
    path_or_text: str | os.PathLike[str] | bytes, *, node: str | None = None, pod: str | None = None
) -> Topology:
    """Like :func:`load` but without merging/linking (the loaders' facts as they were read)."""
    topo = Topology()
    if isinstance(path_or_text, bytes):
        load_blob(path_or_text, "<bytes>", topo, node=node, pod=pod, base_dir=None)
    elif isinstance(path_or_text, str) and (
        "\n" in path_or_text or path_or_text.lstrip()[:1] in ("{", "[")
    ):
        load_text(path_or_text, Ctx(file="<text>", node=node, pod=pod), topo, base_dir=None)
    else:
        return load_path(Path(path_or_text), node=node, pod=pod)
    if topo.is_empty():
        raise unknown_format(
            topo.sources[0] if topo.sources else str(path_or_text)[:80], "no facts in it"
        )
    return topo
