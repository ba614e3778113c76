"""What kind of capture each one is, from its own frames: a pod's interface, a node's underlay
carrying a pod overlay, a mirror session, a cloud load balancer's tunnel, another tunnel, or a
plain LAN with no tunnel at all. Explain says it per capture, so that a reader of a ticket knows
what the findings rest on (and an overlay story is never told about a LAN capture).

The kinds and the evidence each rests on:

``pod``
    placed on a pod's own interface (see :mod:`vxlanlens.topology.placement`).
``node-underlay``
    tunnel packets between node addresses, carrying the overlay's pod frames.
``mirror``
    tunnel packets that all flow one way (one outer source to one outer destination, nothing
    back) while the frames inside travel both ways (a conversation seen in both directions): a
    traffic mirror (VXLAN or Geneve port mirroring, a cloud's packet mirroring) copying both
    directions to a collector.
``cloud-tunnel``
    Geneve packets carrying the options of a cloud gateway load balancer
    (:data:`CLOUD_OPTION_CLASSES`).
``tunnel``
    tunnel packets that are none of the above.
``node``
    placed on a node, with no tunnel packet.
``lan``
    no tunnel packet and no pod or node recognised: a plain LAN capture.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .context import Context

__all__ = ["CLOUD_OPTION_CLASSES", "CaptureClass", "classify"]

CLOUD_OPTION_CLASSES: dict[int, str] = {
    0x0108: "AWS Gateway Load Balancer",
    0x0167: "Tencent Cloud Gateway Load Balancer",
}
"""Geneve option classes of cloud gateway load balancers, which send a copy of the traffic to
appliances with three options (endpoint id, attachment id, flow cookie). 0x0167 is the class in
Tencent Cloud's GWLB documentation and in the corpus capture ``tx-gwlb-for-demo``; 0x0108 is the
class AWS's GWLB documentation gives (not confirmed by a capture here)."""

MIN_ONE_WAY = 4
"""Tunnel packets needed before "all one way" says something about a capture."""


@dataclass(frozen=True)
class CaptureClass:
    """The kind of one capture, with the evidence in words."""

    capture: str
    kind: str
    evidence: str

    def to_dict(self) -> dict[str, str]:
        """``{"kind": ..., "evidence": ...}``."""
        return {"kind": self.kind, "evidence": self.evidence}


def classify(ctx: Context, points: dict) -> dict[str, CaptureClass]:
    """The class of every capture of ``ctx`` (``points``: the placed capture points)."""
    p = ctx.packets
    out: dict[str, CaptureClass] = {}
    if p.empty:
        return out
    captures = p["capture"].astype(str)
    overlay = bool(ctx.loaded) or bool(p["tunnel"].notna().any())
    for capture, rows in p.groupby(captures, sort=False, observed=True):
        out[str(capture)] = _one(ctx, str(capture), rows, points.get(str(capture)), overlay)
    return out


def _one(
    ctx: Context, capture: str, rows: pd.DataFrame, point: object, overlay: bool
) -> CaptureClass:
    kind = getattr(point, "kind", None)
    tunnelled = rows[rows["tunnel"].notna()]
    if kind == "pod" and overlay:
        return CaptureClass(capture, "pod", "placed on a pod's interface")
    if tunnelled.empty:
        if kind == "node":
            return CaptureClass(capture, "node", "placed on a node; no tunnel packet")
        return CaptureClass(
            capture,
            "lan",
            f"{len(rows)} frames, none tunnelled, and no topology dump: nothing shows a pod "
            "overlay",
        )
    cloud = _cloud(tunnelled)
    if cloud:
        return CaptureClass(
            capture,
            "cloud-tunnel",
            f"Geneve options of class 0x{cloud[0]:04x} ({cloud[1]}) on "
            f"{cloud[2]} of {len(tunnelled)} tunnel packets",
        )
    mirror = _one_way(tunnelled)
    if mirror:
        return CaptureClass(capture, "mirror", mirror)
    nodes = set(ctx.underlay_ips)
    between = 0
    if nodes:
        src, dst = tunnelled["outer_src_ip"], tunnelled["outer_dst_ip"]
        between = int((src.isin(nodes) & dst.isin(nodes)).sum())
    if between:
        named = (
            "" if ctx.loaded else " (tunnel endpoints taken for nodes: no topology dump names them)"
        )
        return CaptureClass(
            capture,
            "node-underlay",
            f"{between} of {len(tunnelled)} tunnel packets between node addresses{named}",
        )
    return CaptureClass(capture, "tunnel", f"{len(tunnelled)} tunnel packets")


def _cloud(tunnelled: pd.DataFrame) -> tuple[int, str, int] | None:
    """The cloud option class most tunnel packets carry, its name and how many carry it."""
    counts = tunnelled["geneve_options"].dropna().astype(object).value_counts()
    if counts.empty:
        return None
    for cls, name in CLOUD_OPTION_CLASSES.items():
        n = int(sum(c for text, c in counts.items() if f"0x{cls:04x}/" in str(text)))
        if n:
            return cls, name, n
    return None


def _one_way(tunnelled: pd.DataFrame) -> str | None:
    """Evidence that the tunnel packets are a mirror session: all one way, while the frames
    inside travel both ways; ``None`` when they are not."""
    if len(tunnelled) < MIN_ONE_WAY:
        return None
    outer = tunnelled[["outer_src_ip", "outer_dst_ip"]].drop_duplicates().astype(object)
    pairs = set(zip(outer["outer_src_ip"], outer["outer_dst_ip"], strict=True))
    if any((b, a) in pairs for a, b in pairs):
        return None
    inner = tunnelled[["src_ip", "dst_ip"]].dropna().drop_duplicates().astype(object)
    talk = set(zip(inner["src_ip"], inner["dst_ip"], strict=True))
    both = sorted((a, b) for a, b in talk if (b, a) in talk and a < b)
    if not both:
        return None
    a, b = both[0]
    sources = sorted({s for s, _ in pairs})
    return (
        f"all {len(tunnelled)} tunnel packets flow one way (from {', '.join(sources[:3])}, "
        f"nothing back), yet the frames inside travel both ways ({a} and {b} talk to each "
        f"other{f', and {len(both) - 1} more pairs' if len(both) > 1 else ''})"
    )
