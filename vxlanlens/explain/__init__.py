"""Explain: paths in words and findings with evidence, from packets, exchanges and topology."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from ..topology import Topology
from .context import Context
from .findings import FINDING_IDS, detect
from .model import SCHEMA_VERSION, SEVERITIES, Evidence, Explanation, Finding, Hop, PacketPath
from .paths import build_paths, placed_points

__all__ = [
    "FINDING_IDS",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "Evidence",
    "Explanation",
    "Finding",
    "Hop",
    "PacketPath",
    "explain",
]


def __getattr__(name: str) -> Any:
    """``Path``: the old name of :class:`PacketPath` (deprecated: it shadows ``pathlib.Path``)."""
    if name == "Path":
        from . import model

        return model.Path
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def explain(
    packets: pd.DataFrame,
    topology: Topology,
    exchanges: pd.DataFrame,
    journeys: pd.DataFrame,
    *,
    captures: list[dict[str, Any]] | None = None,
    loaded: bool = False,
    cni: str | None = None,
) -> Explanation:
    """The explanation of annotated packets, their exchanges and journeys under a topology.

    ``loaded`` says whether any topology dump was given (otherwise every fact of ``topology``
    was inferred from the captures, and the explanation says so). ``cni`` states the overlay
    (``cilium``, ``flannel``, ``calico``, ``antrea``, ``ovn``; default: recognised from the
    input, see :mod:`vxlanlens.overlays`).
    """
    from ..overlays import recognise

    overlay = recognise(packets, topology, exchanges, stated=cni)
    ctx = Context(
        packets=packets,
        topology=topology,
        exchanges=exchanges,
        journeys=journeys,
        loaded=loaded,
        overlay=overlay,
    )
    paths, left_out = build_paths(ctx)
    findings = detect(ctx)
    other_overlay = overlay.name not in (None, "cilium")
    if other_overlay:
        # Cilium's datapath rules (VNI = identity, eBPF answers, TTL arithmetic) do not hold here
        findings = [f for f in findings if f.id not in CILIUM_FINDINGS]
    _attach(paths, findings)
    unknowns = list(dict.fromkeys(topology.unknown))
    if not loaded:
        unknowns.insert(
            0,
            "No topology dump was given: interface names, pod names and identities' labels are inferred from the captures or unknown.",
        )
    if other_overlay:
        dp = overlay.profile.datapath
        unconfirmed = (
            " Not confirmed by a kernel-made capture: " + "; ".join(dp.unconfirmed) + "."
            if dp.unconfirmed
            else ""
        )
        unknowns.insert(
            0,
            f"{overlay.sentence()} Findings that rest on Cilium's datapath rules "
            f"({', '.join(CILIUM_FINDINGS)}) are not made; paths are drawn on "
            f"{overlay.title}'s datapath (hops named after its devices where no dump or capture "
            f"names them).{unconfirmed}",
        )
    elif not ctx.cilium_likely and overlay.name is None:
        unknowns.insert(
            0,
            "Nothing in this input shows Cilium (no Cilium interface, identity or eBPF gateway answer): "
            "paths are drawn on Cilium's datapath model and may not fit this network. "
            + overlay.sentence(),
        )
    if left_out:
        unknowns.append(
            f"{left_out} more exchanges were paired but are not given a path each (see `vxlanlens exchanges`)."
        )
    summary = _topology_summary(ctx)
    summary["overlay"] = overlay.to_dict()
    return Explanation(
        captures=captures or [],
        topology=summary,
        paths=paths,
        findings=findings,
        unknowns=unknowns,
        counts=_counts(ctx),
    )


CILIUM_FINDINGS = (
    "gateway-answered-by-ebpf",
    "gateway-is-cilium-host",
    "vni-identity",
    "inner-macs",
    "hop-limit",
)
"""Findings stated in terms of Cilium's datapath; left out when another overlay is recognised."""

_GLOBAL = frozenset({"dual-stack"})
"""Findings about the whole capture set, not about one path (their frames are examples)."""


def _attach(paths: list[PacketPath], findings: list[Finding]) -> None:
    """Give each path the findings whose evidence frames it shares."""
    for path in paths:
        frames = {e for hop in (*path.hops, *path.reply_hops) for e in hop.evidence}
        if not frames:
            continue
        path.findings = [
            f for f in findings if f.id not in _GLOBAL and frames.intersection(f.evidence)
        ]


def _topology_summary(ctx: Context) -> dict[str, Any]:
    topo = ctx.topology
    return {
        "loaded": ctx.loaded,
        "sources": list(topo.sources),
        "nodes": [n.label for n in topo.nodes],
        "pods": [p.label for p in topo.pods],
        "interfaces": len(topo.interfaces),
        "conflicts": [c.to_dict() for c in topo.conflicts],
        "capture_points": [
            {
                "capture": p.capture,
                "kind": p.kind,
                "node": p.node,
                "pod": p.pod,
                "frames": p.frames,
                "how": p.how,
            }
            for p in placed_points(ctx).values()
        ],
    }


def _counts(ctx: Context) -> dict[str, int]:
    p = ctx.packets
    out: dict[str, int] = {
        "frames": len(p),
        "tunnelled_frames": int(p["tunnel"].notna().sum()),
        "decode_errors": int(p["decode_error"].notna().sum()),
        "exchanges": len(ctx.exchanges),
    }
    if not ctx.exchanges.empty:
        kinds = ctx.exchanges["kind"].astype(str).tolist()
        statuses = ctx.exchanges["status"].astype(str).tolist()
        for (kind, status), n in Counter(zip(kinds, statuses, strict=True)).items():
            out[f"{kind}_{status}"] = n
    return out
