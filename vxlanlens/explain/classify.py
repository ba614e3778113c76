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
    frames the decoder peeled out of a mirror transport (the ``mirror`` column: ERSPAN I/II/III,
    GRE or a mirroring VXLAN): the capture is the mirrored port's traffic as the collector got
    it, and the evidence names the transport, session, source and collector (and what the
    mirrored frames themselves show: :attr:`MirrorInfo.carries`); or, when nothing was peeled,
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

import numpy as np
import pandas as pd

from ._rows import distinct_rows
from .context import Context

__all__ = [
    "CLOUD_OPTION_CLASSES",
    "MIRROR_TRANSPORTS",
    "CaptureClass",
    "MirrorInfo",
    "classify",
    "overlay_class",
]

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


MIRROR_TRANSPORTS: dict[str, tuple[str, str]] = {
    "erspan-1": ("ERSPAN I", "session"),
    "erspan-2": ("ERSPAN II", "session"),
    "erspan-3": ("ERSPAN III", "session"),
    "gre": ("GRE", "key"),
    "vxlan": ("VXLAN", "VNI"),
}
"""Each value of the ``mirror`` column: the transport's name in words and what its
``mirror_session`` is called (an ERSPAN session id, a GRE key, a VXLAN VNI)."""


@dataclass(frozen=True)
class MirrorInfo:
    """What the mirror transport of one capture says (from the decoder's ``mirror_*`` columns)."""

    transport: str
    sessions: tuple[int, ...]
    source_ips: tuple[str, ...]
    collector_ips: tuple[str, ...]
    frames: int
    total: int
    directions: dict[str, int]
    ports: tuple[int, ...]
    vlans: tuple[int, ...]
    carries: str

    @property
    def label(self) -> str:
        """``ERSPAN II session 7``, ``VXLAN VNI 7001``, ``GRE key 3, 4`` (transport and sessions)."""
        title, word = MIRROR_TRANSPORTS.get(self.transport, (self.transport, "session"))
        if not self.sessions:
            return title
        return f"{title} {word} {', '.join(str(s) for s in self.sessions)}"

    def to_dict(self) -> dict[str, object]:
        """The JSON ``capture_points[].mirror`` object (docs/explain.schema.json)."""
        return {
            "transport": self.transport,
            "label": self.label,
            "sessions": list(self.sessions),
            "source_ips": list(self.source_ips),
            "collector_ips": list(self.collector_ips),
            "frames": self.frames,
            "directions": dict(self.directions),
            "ports": list(self.ports),
            "vlans": list(self.vlans),
            "carries": self.carries,
        }


@dataclass(frozen=True)
class CaptureClass:
    """The kind of one capture, with the evidence in words (and the mirror, when peeled)."""

    capture: str
    kind: str
    evidence: str
    mirror: MirrorInfo | None = None

    def to_dict(self) -> dict[str, object]:
        """``{"kind": ..., "evidence": ..., "mirror": {...} or None}``."""
        return {
            "kind": self.kind,
            "evidence": self.evidence,
            "mirror": self.mirror.to_dict() if self.mirror else None,
        }


def overlay_class(point: dict) -> str:
    """The class that tells whether a capture point shows a pod overlay: for a peeled mirror,
    the class of the mirrored frames (``mirror.carries``), else the point's own class."""
    mirror = point.get("mirror")
    if isinstance(mirror, dict) and mirror.get("carries"):
        return str(mirror["carries"])
    return str(point.get("class"))


def classify(ctx: Context, points: dict) -> dict[str, CaptureClass]:
    """The class of every capture of ``ctx`` (``points``: the placed capture points)."""
    p = ctx.packets
    out: dict[str, CaptureClass] = {}
    if p.empty:
        return out
    overlay = bool(ctx.loaded) or bool(p["tunnel"].notna().any())
    # each capture's rows with the columns read here only (not a copy of the whole table)
    read = p[[c for c in _READ if c in p.columns]]
    # each capture's rows in table order, captures in order of first appearance (what a
    # groupby gives, without a copy of the rows when one capture holds them all)
    codes, names = ctx.capture_codes  # each row's capture as a code into the labels' text
    ends = np.cumsum(np.bincount(codes[codes >= 0], minlength=len(names)))
    skip = int((codes < 0).sum())  # null captures sort first; no group of theirs
    present = pd.unique(codes[codes >= 0]).tolist()  # in order of first appearance
    # the rows in capture order, unless one capture holds them all
    order = np.argsort(codes, kind="stable") if len(present) > 1 or skip else None
    for k in present:
        capture = names[k]
        lo, hi = skip + (int(ends[k - 1]) if k else 0), skip + int(ends[k])
        rows = read if order is None else read.iloc[order[lo:hi]]
        out[str(capture)] = _one(ctx, str(capture), rows, points.get(str(capture)), overlay)
    return out


_READ = ("tunnel", "outer_src_ip", "outer_dst_ip", "src_ip", "dst_ip", "outer_vni", "vni",
         "outer_dport", "geneve_options", "mirror", "mirror_direction", "mirror_session",
         "mirror_src_ip", "mirror_dst_ip", "mirror_port", "mirror_vlan")  # fmt: skip
"""The columns of the packets table a capture's class is read from."""

_TUNNELLED = ("outer_src_ip", "outer_dst_ip", "src_ip", "dst_ip", "geneve_options")
"""The columns of its tunnel packets a capture's class is mostly read from."""


def _one(
    ctx: Context, capture: str, rows: pd.DataFrame, point: object, overlay: bool
) -> CaptureClass:
    """A capture's class; a peeled mirror's says the mirror, then what its frames show."""
    carried = _direct(ctx, capture, rows, point, overlay)
    info = _mirror(rows, carried.kind)
    if info is None:
        return carried
    return CaptureClass(capture, "mirror", _mirror_evidence(info, carried), info)


def _direct(
    ctx: Context, capture: str, rows: pd.DataFrame, point: object, overlay: bool
) -> CaptureClass:
    """The class of a capture's frames as if captured on the port itself."""
    kind = getattr(point, "kind", None)
    # the tunnel packets' columns read below (the others, and the mirror ones, from ``rows``)
    at = np.flatnonzero(rows["tunnel"].notna().to_numpy())
    tunnelled = rows[[c for c in _TUNNELLED if c in rows.columns]].iloc[at]
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
        return CaptureClass(capture, "mirror", mirror + _peel_hint(rows.iloc[at]))
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
    inside travel both ways (without :func:`_peel_hint`); ``None`` when they are not."""
    if len(tunnelled) < MIN_ONE_WAY:
        return None
    outer = distinct_rows(tunnelled, ["outer_src_ip", "outer_dst_ip"]).astype(object)
    pairs = set(zip(outer["outer_src_ip"], outer["outer_dst_ip"], strict=True))
    if any((b, a) in pairs for a, b in pairs):
        return None
    inner = distinct_rows(tunnelled, ["src_ip", "dst_ip"], dropna=True).astype(object)
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


def _peel_hint(tunnelled: pd.DataFrame) -> str:
    """``; read with --mirror-vxlan PORT:VNI to ...`` when every tunnel packet is VXLAN on one
    port with one VNI (a mirroring VXLAN session the decoder was not told about), else ""."""
    vni = "outer_vni" if "outer_vni" in tunnelled.columns else "vni"  # the outermost tunnel's
    if not {"tunnel", "outer_dport", vni} <= set(tunnelled.columns):
        return ""
    if set(tunnelled["tunnel"].astype(str)) != {"vxlan"}:
        return ""
    ports, vnis = _values(tunnelled, "outer_dport"), _values(tunnelled, vni)
    if len(ports) != 1 or len(vnis) != 1:
        return ""
    return (
        f"; read with --mirror-vxlan {ports[0]}:{vnis[0]} to peel the session and explain the "
        "mirrored frames"
    )


def _values(rows: pd.DataFrame, column: str) -> list[object]:
    """The distinct non-null values of ``column`` in first-seen order ([] when absent)."""
    if column not in rows.columns:
        return []
    return list(dict.fromkeys(rows[column].dropna().astype(object)))


def _mirror(rows: pd.DataFrame, carries: str) -> MirrorInfo | None:
    """What the ``mirror_*`` columns of one capture's rows say, or ``None`` when no frame of it
    was peeled out of a mirror transport (or the table predates those columns)."""
    if "mirror" not in rows.columns:
        return None
    peeled = rows[rows["mirror"].notna()]
    if peeled.empty:
        return None
    transports = [str(t) for t in _values(peeled, "mirror")]
    directions: dict[str, int] = {}
    if "mirror_direction" in peeled.columns:
        for d, n in peeled["mirror_direction"].dropna().astype(str).value_counts().items():
            directions[str(d)] = int(n)
    return MirrorInfo(
        transport=transports[0],
        sessions=tuple(int(str(v)) for v in _values(peeled, "mirror_session")),
        source_ips=tuple(str(v) for v in _values(peeled, "mirror_src_ip")),
        collector_ips=tuple(str(v) for v in _values(peeled, "mirror_dst_ip")),
        frames=len(peeled),
        total=len(rows),
        directions=dict(sorted(directions.items())),
        ports=tuple(int(str(v)) for v in _values(peeled, "mirror_port")),
        vlans=tuple(int(str(v)) for v in _values(peeled, "mirror_vlan")),
        carries=carries,
    )


def _ips(ips: tuple[str, ...]) -> str:
    return ", ".join(ips[:3]) + (f" and {len(ips) - 3} more" if len(ips) > 3 else "")


def _mirror_evidence(info: MirrorInfo, carried: CaptureClass) -> str:
    """``mirrored by ERSPAN II session 7 from S to the collector C (...); the mirrored frames:
    ...``."""
    head = f"mirrored by {info.label}"
    if info.source_ips:
        head += f" from {_ips(info.source_ips)}"
    if info.collector_ips:
        head += f" to the collector {_ips(info.collector_ips)}"
    said = [f"{info.frames} of {info.total} frames"]
    if info.directions:
        said.append(
            "direction at the mirrored port: "
            + ", ".join(f"{n} {d}" for d, n in info.directions.items())
        )
    if info.ports:
        said.append(f"original port index {', '.join(str(p) for p in info.ports)}")
    if info.vlans:
        said.append(f"VLAN {', '.join(str(v) for v in info.vlans)}")
    return f"{head} ({'; '.join(said)}); the mirrored frames: {carried.evidence} ({carried.kind})"
