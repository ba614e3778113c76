"""Findings: stable ids, a severity, one plain statement each, and the evidence behind it.

One module per family (gateway, identity, hops, addressing, reachability, tcp, mtu, routing,
clocks, vtep). Every detector is declared with the ids and severities it emits (see
:mod:`._registry`); :data:`FINDING_IDS`, :data:`SPECS` and :func:`finding_id_schema` are derived
from those declarations, and ``docs/explanations.md`` documents every id (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ...proto import Severity
from ..context import Context
from ..model import Finding
from ._registry import Detector, FindingSpec, UndeclaredFinding, detector
from .addressing import dual_stack, duplicate_address, unknown_mac
from .clocks import clock_offset
from .fragmentation import outer_fragmentation
from .gateway import gateway_answered_by_ebpf, gateway_is_cilium_host
from .hops import hop_limit
from .identity import inner_macs, ovn_logical_ports, vni_identity
from .mtu import mtu, route_mtu_too_large
from .reachability import answered_by_error, unanswered
from .routing import asymmetric_path
from .tcp import connection_refused, tcp_resets_and_retransmissions
from .vtep import missing_fdb_entry, outer_udp_checksum, stale_vtep_mac, tunnel_config_mismatch

__all__ = [
    "DETECTORS",
    "FINDING_IDS",
    "SPECS",
    "Detector",
    "FindingSpec",
    "UndeclaredFinding",
    "detect",
    "detector",
    "finding_id_schema",
    "most_severe_first",
]

DETECTORS: tuple[Detector, ...] = (
    unanswered,
    answered_by_error,
    stale_vtep_mac,
    missing_fdb_entry,
    outer_udp_checksum,
    tunnel_config_mismatch,
    tcp_resets_and_retransmissions,
    connection_refused,
    mtu,
    outer_fragmentation,
    route_mtu_too_large,
    asymmetric_path,
    duplicate_address,
    gateway_answered_by_ebpf,
    gateway_is_cilium_host,
    vni_identity,
    inner_macs,
    ovn_logical_ports,
    hop_limit,
    dual_stack,
    unknown_mac,
    clock_offset,
)
"""Every detector, in the order their findings are listed within a severity."""

SPECS: dict[str, FindingSpec] = {s.id: s for d in DETECTORS for s in d.specs}
"""Every finding id vxlanlens can emit, with its declared severities."""

FINDING_IDS: tuple[str, ...] = tuple(SPECS)
"""Every finding id vxlanlens can emit (documented in docs/explanations.md)."""


def finding_id_schema() -> dict[str, Any]:
    """The JSON Schema of a finding's ``id``: an enum of every declared id."""
    return {
        "enum": sorted(FINDING_IDS),
        "description": "Stable id, documented in docs/explanations.md.",
    }


def detect(
    ctx: Context, detectors: Iterable[Callable[[Context], list[Finding]]] = DETECTORS
) -> list[Finding]:
    """All findings, most severe first (stable within a severity)."""
    return most_severe_first([d(ctx) for d in detectors])


def most_severe_first(per_detector: Iterable[list[Finding]]) -> list[Finding]:
    """The findings of each detector (in the order they ran), most severe first (stable within
    a severity): what :func:`detect` gives."""
    found = [f for fs in per_detector for f in fs]
    order = {s.value: k for k, s in enumerate(Severity)}
    return sorted(found, key=lambda f: order[str(f.severity)])
