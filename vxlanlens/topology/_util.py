"""Shared helpers of the topology loaders: parse context, interface kinds, YAML with lines."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import yaml

from ..errors import TopologyError, TopologyParseError
from .model import Source, Topology, canonical_ip, canonical_mac

__all__ = [
    "Ctx",
    "interface_kind",
    "is_link_local",
    "jpath",
    "split_pod_ref",
    "yaml_documents",
]


@dataclass
class Ctx:
    """Where a dump comes from and what it is bound to, shared by the pieces of one dump."""

    file: str
    node: str | None = None
    pod: str | None = None
    """``"ns/name"`` or ``"name"`` when the dump was bound to a pod."""
    line_offset: int = 0
    """Added to the piece's 0-based line numbers to give the file's 1-based line."""
    host_hint: str | None = None
    """Host name seen in a shell prompt (a pod's host name is its name by default)."""
    netns: str | None = None
    """``"host"`` or ``"pod"`` once an ``ip addr`` piece decided it (shared by the pieces)."""
    netns_key: str | None = None
    """Private key tying a pod's namespace objects together until the pod is named."""
    namespace_label: str | None = None
    load_path: Callable[..., Topology] | None = None
    """Loads a dump file or folder that a manifest names (``load_path(path, node=, pod=)``);
    passed in by the path loaders (:func:`vxlanlens.topology.folder.load_path`), ``None`` for
    bytes and text, whose manifests' paths are not followed."""

    def at(self, line_offset: int) -> Ctx:
        """A copy for a piece that starts ``line_offset`` lines into the file (shares nothing
        mutable, so pieces must write back ``netns`` through :meth:`adopt`)."""
        return replace(self, line_offset=line_offset)

    def adopt(self, other: Ctx) -> None:
        """Take the namespace decision made while parsing a piece."""
        self.netns, self.netns_key, self.namespace_label = (
            other.netns,
            other.netns_key,
            other.namespace_label,
        )

    def src(
        self, line: int | None = None, path: str | None = None, note: str | None = None
    ) -> Source:
        """A source for 0-based ``line`` of the piece, or JSON ``path``."""
        return Source(
            file=self.file,
            line=None if line is None else line + 1 + self.line_offset,
            path=path,
            note=note,
        )

    def error(
        self, message: str, line: int | None = None, path: str | None = None
    ) -> TopologyParseError:
        """A parse error naming the file and the line (1-based) or JSON path."""
        if line is not None:
            where = f"line {line + 1 + self.line_offset}"
        elif path is not None:
            where = path
        else:
            where = None
        return TopologyParseError(message, path=self.file, where=where)


def split_pod_ref(ref: str | None) -> tuple[str | None, str | None]:
    """``"ns/name"`` → ``(ns, name)``; ``"name"`` → ``(None, name)``."""
    if not ref:
        return None, None
    if "/" in ref:
        ns, name = ref.split("/", 1)
        return ns or None, name or None
    return None, ref


_UNDERLAY = re.compile(r"^(eth\d+|ens\w*|enp\w*|eno\w*|enx\w*|em\d+\w*|bond\d+|eth\d+\.\d+)$")


def interface_kind(name: str, *, in_pod: bool) -> tuple[str, str | None]:
    """The kind of an interface from its name (and whether it is in a pod's namespace), plus a
    note when the name alone is a hint rather than a rule."""
    if name == "lo":
        return "lo", None
    if in_pod:
        if name == "eth0":
            return "pod-eth0", None
        return "other", None
    if name.startswith("lxc"):
        if name == "lxc_health":
            return "lxc", "veth of Cilium's health endpoint"
        return "lxc", None
    if name in ("cilium_host", "cilium_net", "cilium_vxlan", "cilium_geneve"):
        return name, None
    if _UNDERLAY.match(name):
        return "underlay", None
    return "other", None


def is_link_local(ip: str) -> bool:
    """Whether ``ip`` (canonical, no prefix) is link-local (fe80::/10 or 169.254/16)."""
    try:
        return ipaddress.ip_address(ip).is_link_local
    except ValueError:
        return False


def jpath(base: str, *keys: Any) -> str:
    """A JSON path string: ``jpath("$", 3, "status")`` → ``$[3].status``."""
    out = base
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else f".{k}"
    return out


def mac_or_error(
    ctx: Ctx, value: Any, *, line: int | None = None, path: str | None = None, what: str = "MAC"
) -> str | None:
    """Canonical MAC of ``value`` (``None`` for empty), or a parse error naming the place."""
    if value in (None, ""):
        return None
    m = canonical_mac(str(value))
    if m is None:
        raise ctx.error(
            f"expected a {what} like aa:bb:cc:dd:ee:ff, found {str(value)[:60]!r}",
            line=line,
            path=path,
        )
    return m


def ip_or_error(
    ctx: Ctx,
    value: Any,
    *,
    line: int | None = None,
    path: str | None = None,
    what: str = "IP address",
) -> str | None:
    """Canonical IP of ``value`` (prefix allowed, dropped; ``None`` for empty), or a parse error."""
    if value in (None, ""):
        return None
    c = canonical_ip(str(value))
    if c is None:
        raise ctx.error(f"expected an {what}, found {str(value)[:60]!r}", line=line, path=path)
    return c


def int_or_error(
    ctx: Ctx, value: Any, *, line: int | None = None, path: str | None = None, what: str = "integer"
) -> int | None:
    """``value`` as a non-negative int (``None`` for empty), or a parse error."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ctx.error(f"expected an {what}, found {value!r}", line=line, path=path)
    try:
        n = int(str(value), 10) if not isinstance(value, int) else value
    except ValueError:
        raise ctx.error(
            f"expected an {what}, found {str(value)[:60]!r}", line=line, path=path
        ) from None
    if n < 0 or n > 2**32:
        raise ctx.error(f"expected an {what} in 0..2^32, found {n}", line=line, path=path)
    return n


class LineMap(dict):
    """``id(container) → 1-based line`` for the mappings/lists of a YAML document."""


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (several times faster), else the Python one."""

MAX_YAML_NODES_PER_CHAR = 2
"""A YAML text may expand to at most this many nodes per character (plus :data:`_YAML_SLACK`).

Without aliases a node takes at least one character and a separator, so only aliases (``*a``
repeating a list that itself repeats aliases: a "billion laughs" bomb) can exceed it."""
_YAML_SLACK = 10_000


def yaml_documents(text: str, label: str | None = None) -> tuple[list[Any], LineMap]:
    """All YAML documents of ``text`` as plain Python data, plus the line of every mapping and
    list (by ``id``); raises ``yaml.YAMLError`` on bad YAML, and :class:`TopologyError` (naming
    ``label``) when aliases expand to more nodes than the text could hold (an alias bomb)."""
    lines = LineMap()
    loader = _SafeLoader(text)
    docs: list[Any] = []
    budget = [MAX_YAML_NODES_PER_CHAR * len(text) + _YAML_SLACK]
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                docs.append(_convert(loader, node, lines, 0, budget, label))
    finally:
        loader.dispose()
    return docs, lines


def _convert(
    loader: Any, node: yaml.Node, lines: LineMap, depth: int, budget: list[int], label: str | None
) -> Any:
    if depth > 200:
        raise yaml.YAMLError("YAML nested deeper than 200 levels")
    budget[0] -= 1
    if budget[0] < 0:
        raise TopologyError(
            f"refusing the YAML: its aliases expand to more than "
            f"{MAX_YAML_NODES_PER_CHAR} nodes per character of text (an alias bomb?), "
            f"at line {node.start_mark.line + 1}",
            path=label,
        )
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for k, v in node.value:
            key = _convert(loader, k, lines, depth + 1, budget, label)
            try:
                hash(key)
            except TypeError:
                key = str(key)
            out[key] = _convert(loader, v, lines, depth + 1, budget, label)
        lines[id(out)] = node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = [_convert(loader, v, lines, depth + 1, budget, label) for v in node.value]
        lines[id(seq)] = node.start_mark.line + 1
        return seq
    return loader.construct_object(node, deep=True)


def new_topology() -> Topology:
    """An empty model."""
    return Topology()
