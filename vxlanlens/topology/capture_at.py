"""Capture placement at the edges: what the user states (:func:`parse_capture_at`, the
``--capture-at LABEL=NODE[:IFACE]`` form) and how the decided places enter the topology
(:func:`apply_placement`); :mod:`.placement` decides them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import TopologyError
from ..proto import UnknownTopic
from .model import CapturePoint, Interface, Topology, Unknown

__all__ = ["apply_placement", "parse_capture_at"]


def parse_capture_at(specs: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    """``{label: "NODE[:IFACE]"}`` from a mapping or from ``LABEL=NODE[:IFACE]`` strings (the
    CLI form); raises :class:`~vxlanlens.errors.TopologyError` on a malformed item."""
    if specs is None:
        return {}
    if isinstance(specs, Mapping):
        items = [(str(k), str(v)) for k, v in specs.items()]
    else:
        items = []
        for s in specs:
            label, sep, where = str(s).partition("=")
            if not sep:
                raise TopologyError(f"capture placement {s!r}: expected LABEL=NODE[:IFACE]")
            items.append((label, where))
    out: dict[str, str] = {}
    for label, where in items:
        if not label.strip() or not where.strip() or where.startswith(":"):
            raise TopologyError(
                f"capture placement {label}={where}: expected LABEL=NODE[:IFACE] with a node"
            )
        out[label.strip()] = where.strip()
    return out


def apply_placement(topology: Topology, points: list[CapturePoint]) -> None:
    """Make ``points`` the topology's ``captures`` (a capture whose node cannot be told is also
    listed under ``unknown``, topic ``placement``), and give the interfaces inferred from an
    ``-i any`` capture (SLL2 indexes) the node that capture was placed on; one that the node's
    dumps list with the same index (and no other MAC) is that interface and is dropped, its
    evidence kept in the dump's interface ``field_sources``."""
    topology.captures = list(points)
    topology.unknown = [
        u for u in topology.unknown if not getattr(u, "key", "").startswith("placement:")
    ]
    for p in points:
        if p.kind in ("node", "unknown") and p.node is None:
            topology.unknown.append(
                Unknown(
                    UnknownTopic.PLACEMENT,
                    f"where {p.capture} was taken: {p.how or 'no evidence'}; say it with "
                    f"capture_at={{{p.capture!r}: 'NODE[:IFACE]'}}",
                    f"placement:{p.capture}",
                )
            )
    # only named nodes: an interface's ``node`` is a name (an unnamed node has only a label)
    placed = {
        p.capture: p
        for p in points
        if p.interface == "any" and p.node and topology.node(p.node) is not None
    }
    if not placed:
        return
    keep: list[Interface] = []
    for i in topology.interfaces:
        if i.confidence == "loaded" or i.node is not None or i.ifindex is None:
            keep.append(i)
            continue
        caps = {c for c, _ in i.source.frames}
        where = [placed[c] for c in caps if c in placed]
        if len(where) != 1 or not (i.source.note or "").startswith("SLL2 interface index"):
            keep.append(i)
            continue
        node = where[0].node
        same = next(
            (
                d
                for d in topology.interfaces_of_node(node or "")
                if d.confidence == "loaded"
                and d.ifindex == i.ifindex
                and (i.mac is None or d.mac in (None, i.mac))
            ),
            None,
        )
        if same is not None:
            same.field_sources.setdefault("ifindex", (i.source, i.confidence))
            continue
        i.node = node
        keep.append(i)
    topology.interfaces = keep
    topology.invalidate()
