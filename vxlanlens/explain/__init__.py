"""Explain: paths in words and findings with evidence, from packets, exchanges and topology."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..topology import Topology
from ..topology.model import PLAIN_NOT_ASKED, PLAIN_UNPLACED
from ._rows import as_text
from .classify import CaptureClass, classify, overlay_class
from .context import Context, dropping_captures, overlay_evident, stopped_captures
from .findings import DETECTORS, FINDING_IDS, most_severe_first
from .model import SCHEMA_VERSION, SEVERITIES, Evidence, Explanation, Finding, Hop, PacketPath
from .paths import build_paths, placed_points

if TYPE_CHECKING:
    from ..overlays import Recognition

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
    "shows_overlay",
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
    timeout_s: float = 3.0,
    share: Callable[..., Any] | None = None,
) -> Explanation:
    """The explanation of annotated packets, their exchanges and journeys under a topology.

    ``loaded`` says whether any topology dump was given (otherwise every fact of ``topology``
    was inferred from the captures, and the explanation says so). ``cni`` states the overlay
    (``cilium``, ``flannel``, ``calico``, ``antrea``, ``ovn``; default: recognised from the
    input, see :mod:`vxlanlens.overlays`). ``timeout_s`` is the answer timeout the exchanges
    were paired with: a request sent less than that before every capture that saw it ended is
    not called unanswered. ``share(first, tasks)`` may run the paths (``first``), the
    detectors and the counts (``tasks``) with another process, giving (``first()``, the tasks' values), as
    :func:`vxlanlens.parallel.shared_work` does; the explanation is the same without it.
    """
    ctx, overlay = _context(
        packets, topology, exchanges, journeys, captures, loaded, cni, timeout_s
    )
    detectors = [partial(d, ctx) for d in DETECTORS]
    if share is not None:  # the paths, the detectors and the counts shared with another process
        (paths, left_out), values = share(
            partial(build_paths, ctx), [*detectors, partial(_counts, ctx)]
        )
        per_detector, counts = values[:-1], values[-1]
    else:
        paths, left_out = build_paths(ctx)
        per_detector = [d() for d in detectors]
        counts = _counts(ctx)
    findings = most_severe_first(per_detector)
    other_overlay = overlay.name not in (None, "cilium")
    # not recognised, but the frames cannot be Cilium's and nothing else says Cilium
    not_cilium = ctx.cilium_ruled_out
    points = placed_points(ctx)
    summary = _topology_summary(ctx, points)
    summary["overlay"] = overlay.to_dict()
    # what the paths call a pod's host-side veth no dump names (renderers say it the same way)
    summary["overlay"]["host_veth"] = ctx.datapath.host_veth
    classes = {overlay_class(pt) for pt in summary["capture_points"]}
    no_overlay = bool(classes) and classes <= _NOT_OVERLAY and overlay.confidence != "stated"
    if other_overlay or no_overlay or not_cilium:
        # Cilium's datapath rules (VNI = identity, eBPF answers, TTL arithmetic) do not hold here
        findings = [f for f in findings if f.id not in CILIUM_FINDINGS]
    _attach(paths, findings)
    # a capture placed by its frames' directions (-i any, ERSPAN III) is no unknown any more
    placed = {f"placement:{c}" for c, pt in points.items() if pt.node and not pt.candidates}
    # an input that shows no overlay has no pod names, node or gateway addresses to ask for
    asked = placed | (PLAIN_NOT_ASKED if ctx.plain else set())
    unknowns = [u for u in dict.fromkeys(topology.unknown) if getattr(u, "key", "") not in asked]
    if not loaded and not ctx.plain:
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
    elif not_cilium and not no_overlay:
        unknowns.insert(
            0,
            f"{overlay.sentence()} Not Cilium: {overlay.ruled_out['cilium']}. Findings that rest "
            f"on Cilium's datapath rules ({', '.join(CILIUM_FINDINGS)}) are not made; paths are "
            "drawn in no CNI's words ("
            + (
                "hosts' frames bridged into a tunnel device unchanged"
                if overlay.bridged
                else "a tunnel device routing VTEP to VTEP"
            )
            + ", named where a dump names it); `--cni` states the overlay.",
        )
    elif not ctx.cilium_likely and overlay.name is None and not no_overlay:
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
    if no_overlay:
        kinds = sorted(classes & {"lan", "mirror", "cloud-tunnel", "node"})
        if overlay.name is not None:
            model = f"{overlay.title}'s datapath"
        elif not_cilium:
            model = "a tunnel overlay in no CNI's words"
        else:
            model = "Cilium's datapath"
        drawn = (
            "The paths run from host to host through the network where the captures saw each "
            "packet: nothing here shows a pod, a veth or a tunnel to draw (`--cni` states the "
            "overlay, `--capture-at` where a capture was taken: paths are then drawn on the "
            "overlay's datapath)."
            if ctx.plain
            else f"The paths' hops marked `inferred` are drawn on {model}, which nothing here "
            "shows: they may not fit this network."
        )
        unknowns.insert(
            0,
            "No capture shows a pod overlay ("
            + ", ".join(_NOT_OVERLAY_TEXT[k] for k in kinds)
            + "): findings describe what was seen, and the findings that rest on Cilium's rules "
            f"({', '.join(CILIUM_FINDINGS)}) are not made. {drawn}",
        )
    return Explanation(
        captures=captures or [],
        topology=summary,
        paths=paths,
        findings=findings,
        unknowns=unknowns,
        counts={**counts, "paths_left_out": left_out},
    )


CILIUM_FINDINGS = (
    "gateway-answered-by-ebpf",
    "gateway-is-cilium-host",
    "vni-identity",
    "inner-macs",
    "hop-limit",
)
"""Findings stated in terms of Cilium's datapath; left out when another overlay is recognised."""

_NOT_OVERLAY = frozenset({"lan", "mirror", "cloud-tunnel", "node", "None"})
"""Capture classes (explain/classify.py) that show no pod overlay."""

_NOT_OVERLAY_TEXT = {
    "lan": "a plain LAN capture: no tunnel packet and no topology dump",
    "mirror": "a mirror session: tunnel packets one way carrying both directions of traffic",
    "cloud-tunnel": "a cloud load balancer's Geneve tunnel",
    "node": "node captures without tunnel traffic",
}

_GLOBAL = frozenset({"dual-stack"})
"""Findings about the whole capture set, not about one path (their frames are examples)."""


def shows_overlay(
    packets: pd.DataFrame,
    topology: Topology,
    exchanges: pd.DataFrame,
    journeys: pd.DataFrame,
    *,
    captures: list[dict[str, Any]] | None = None,
    loaded: bool = False,
    cni: str | None = None,
    timeout_s: float = 3.0,
) -> bool:
    """Whether the input shows an overlay, as :func:`explain` judges it from the same
    arguments: a tunnel packet, a topology dump, an overlay recognised or stated, a sign of
    Cilium, a node the frames show or a capture placed with ``capture_at``. When it does not,
    explain draws host-to-host paths, and the pods an inference took from the frames are the
    hosts of a plain network (docs/explanations.md, "Plain networks")."""
    if overlay_evident(packets, topology, loaded=loaded, stated=cni is not None):
        return True
    ctx, _ = _context(packets, topology, exchanges, journeys, captures, loaded, cni, timeout_s)
    return not ctx.plain


def _context(
    packets: pd.DataFrame,
    topology: Topology,
    exchanges: pd.DataFrame,
    journeys: pd.DataFrame,
    captures: list[dict[str, Any]] | None,
    loaded: bool,
    cni: str | None,
    timeout_s: float,
) -> tuple[Context, Recognition]:
    """What :func:`explain` and :func:`shows_overlay` work from, and the overlay recognised."""
    from ..overlays import one_way_captures, recognise

    overlay = recognise(packets, topology, exchanges, stated=cni, captures=captures)
    ctx = Context(
        packets=packets,
        topology=topology,
        exchanges=exchanges,
        journeys=journeys,
        loaded=loaded,
        overlay=overlay,
        one_way=one_way_captures(captures or []),
        stopped=stopped_captures(captures or []),
        dropped=dropping_captures(captures or []),
        timeout_s=timeout_s,
    )
    return ctx, overlay


def _attach(paths: list[PacketPath], findings: list[Finding]) -> None:
    """Give each path the findings whose evidence frames it shares."""
    for path in paths:
        frames = {e for hop in (*path.hops, *path.reply_hops) for e in hop.evidence}
        if not frames:
            continue
        path.findings = [
            f for f in findings if f.id not in _GLOBAL and frames.intersection(f.evidence)
        ]


def _topology_summary(ctx: Context, points: dict[str, Any]) -> dict[str, Any]:
    topo = ctx.topology
    classes = classify(ctx, points)
    if ctx.plain:
        # no overlay shown: a capture "at a pod" was the overlay model's reading of a host's
        # frames, and so were its pods
        points = {
            c: replace(p, kind="unknown", pod=None, how=PLAIN_UNPLACED) if p.kind == "pod" else p
            for c, p in points.items()
        }
    return {
        "loaded": ctx.loaded,
        "sources": list(topo.sources),
        "nodes": [n.label for n in topo.nodes],
        "pods": [] if ctx.plain else [p.label for p in topo.pods],
        "overlay_shown": not ctx.plain,
        "interfaces": len(topo.interfaces),
        "conflicts": [c.to_dict() for c in topo.conflicts],
        "probable": [{"subject": x.subject, "other": x.other, "why": x.why} for x in topo.probable],
        "capture_points": [
            {
                "capture": p.capture,
                "kind": p.kind,
                "node": p.node,
                "pod": p.pod,
                "frames": p.frames,
                "how": p.how,
                "interface": p.interface,
                "all_interfaces": bool(p.interfaces),
                "class": classes[p.capture].kind if p.capture in classes else None,
                "class_evidence": (classes[p.capture].evidence if p.capture in classes else None),
            }
            | _mirror_key(classes.get(p.capture))
            for p in points.values()
        ],
    }


def _listed(column: pd.Series) -> list[Any]:
    """The column's values as a list (text for a categorical), None for nulls."""
    values = as_text(column) if isinstance(column.dtype, pd.CategoricalDtype) else column
    out = values.tolist()
    for k in np.flatnonzero(column.isna().to_numpy()).tolist():
        out[k] = None
    return out


def _mirror_key(cls: CaptureClass | None) -> dict[str, Any]:
    """``{"mirror": {...}}`` for a capture peeled out of a mirror transport, else ``{}``."""
    return {"mirror": cls.mirror.to_dict()} if cls is not None and cls.mirror else {}


_COUNTED_AT_ONCE = 16384
"""Exchange rows :func:`_counts` reads at a time."""


def _counts(ctx: Context) -> dict[str, int]:
    """Frame and exchange counts. An exchange seen at several capture points (the same request
    in a pod's capture and in the node captures) is counted once: ``exchanges`` and
    ``{kind}_{status}`` count exchanges, ``exchange_rows`` the rows of the exchanges table (one
    per capture that saw it). An exchange seen with different outcomes counts as ``answered``
    when any point saw it answered."""
    p = ctx.packets
    out: dict[str, int] = {
        "frames": len(p),
        "tunnelled_frames": int(p["tunnel"].notna().sum()),
        "decode_errors": int(p["decode_error"].notna().sum()),
        "exchanges": 0,
        "exchange_rows": len(ctx.exchanges),
    }
    if ctx.exchanges.empty:
        return out
    ex = ctx.exchanges
    # one integer per distinct exchange (its kind and its packet's first observation, or its
    # row when it has neither end), its status as one small integer: a dict of a hundred
    # thousand tuples of tuples was most of this step's memory
    width = int(p["frame_no"].max()) + 2 if len(p) else 2
    kinds: dict[str, int] = {}
    captures: dict[str, int] = {}
    statuses: dict[str, int] = {}
    status_of: dict[int, int] = {}
    answered = -1
    elsewhere: dict[tuple[tuple[str, int], int], int] = {}  # frames beyond the table's numbers
    alone = 0  # rows with neither end are each an exchange of their own: negative numbers
    # each packet's first observation stands for it (one per journey); the rows taken a slice
    # at a time (lists of every row's values were much of this step's memory too)
    for lo in range(0, len(ex), _COUNTED_AT_ONCE):
        part = ex.iloc[lo : lo + _COUNTED_AT_ONCE]
        req, rep = (
            ctx.first_observations(_listed(part[f"{end}_capture"]), _listed(part[f"{end}_frame"]))
            for end in ("request", "reply")
        )
        for kind, status, rq, rp in zip(
            part["kind"].astype(str).tolist(),
            part["status"].astype(str).tolist(),
            req,
            rep,
            strict=True,
        ):
            first = rq or rp
            k = kinds.setdefault(kind, len(kinds))
            if k > 0xFF:  # pragma: no cover - five kinds exist
                raise ValueError("more exchange kinds than the counts can tell apart")
            if first and 0 <= first[1] < width:
                c = captures.setdefault(first[0], len(captures))
                key = ((c * width + first[1]) << 8) + k
            elif first:  # (not made by vxlanlens' own tables)
                key = elsewhere.get((first, k), 0)
                if not key:
                    alone += 1
                    key = elsewhere[(first, k)] = (-alone << 8) + k
            else:
                alone += 1
                key = (-alone << 8) + k
            code = statuses.setdefault(status, len(statuses))
            if status == "answered":
                answered = code
            if status_of.get(key) != answered:
                status_of[key] = code
    out["exchanges"] = len(status_of)
    kind_names, status_names = list(kinds), list(statuses)
    for (k, code), n in Counter((key & 0xFF, code) for key, code in status_of.items()).items():
        out[f"{kind_names[k]}_{status_names[code]}"] = n
    return out
