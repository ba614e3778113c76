"""Topology: what vxlanlens knows about nodes, interfaces, pods, routes, neighbours and
identities, loaded from dumps (:func:`load`, :func:`load_many`), inferred from a packets
table (:func:`infer`), merged (:func:`merge`), placing each capture (:func:`place`) and used to annotate packets (:func:`annotate`).

See ``docs/topology.md`` for the formats and :mod:`vxlanlens.topology.model` for the model.
"""

from __future__ import annotations

from .annotate import ANNOTATION_COLUMNS, annotate
from .infer import infer
from .load import FORMATS, load, load_many, parse_spec
from .merge import merge
from .model import (
    CONFIDENCES,
    INTERFACE_KINDS,
    RESERVED_IDENTITIES,
    AddressLookup,
    CapturePoint,
    Conflict,
    Identity,
    Interface,
    Likeness,
    Neighbor,
    Node,
    NodeFact,
    Peer,
    Pod,
    Route,
    Source,
    Topology,
    TopologyIndex,
    Unknown,
)
from .placement import apply_placement, parse_capture_at, place

__all__ = [
    "ANNOTATION_COLUMNS",
    "CONFIDENCES",
    "FORMATS",
    "INTERFACE_KINDS",
    "RESERVED_IDENTITIES",
    "AddressLookup",
    "CapturePoint",
    "Conflict",
    "Identity",
    "Interface",
    "Likeness",
    "Neighbor",
    "Node",
    "NodeFact",
    "Peer",
    "Pod",
    "Route",
    "Source",
    "Topology",
    "TopologyIndex",
    "Unknown",
    "annotate",
    "apply_placement",
    "infer",
    "load",
    "load_many",
    "merge",
    "parse_capture_at",
    "parse_spec",
    "place",
]
