"""Which overlay (CNI) a capture set comes from, with the evidence and a confidence.

Each CNI is a small profile module (:mod:`.cilium`, :mod:`.flannel`, :mod:`.calico`,
:mod:`.antrea`, :mod:`.ovn`) that owns its facts (device names, ports, VNIs, MACs, gateway
addresses, Geneve option classes) and its recognition rules. :func:`recognise` measures the
input once (:class:`Observations`) and asks every profile what it sees; generic code reads the
resulting :class:`Recognition` and never names a CNI.

>>> rec = recognise(cap.packets, cap.topology, cap.exchanges)   # doctest: +SKIP
>>> rec.name, rec.confidence, [s.text for s in rec.signals]       # doctest: +SKIP
('calico', 'high', ['ee:ee:ee:ee:ee:ee answers ...', ...])

A user who knows the overlay says so (``--cni calico`` / ``stated="calico"``); the recognition
is then not guessed, but what the captures show is still listed (and a contradiction is said).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ._datapath import ROLES, Datapath
from ._neutral import NEUTRAL, NEUTRAL_BRIDGED, bridged, cilium_ruled_out
from ._observe import Observations, observe
from ._profile import Profile, Signal
from ._routers import RouterPort, router_ports
from .antrea import ANTREA, PACKETCAPTURE_ONE_WAY, written_by_packetcapture
from .calico import CALICO
from .cilium import CILIUM
from .flannel import FLANNEL
from .ovn import OVN

__all__ = [
    "CILIUM_PROFILE",
    "CNI_NAMES",
    "NEUTRAL_PROFILE",
    "PROFILES",
    "ROLES",
    "Datapath",
    "Observations",
    "Profile",
    "Recognition",
    "RouterPort",
    "Signal",
    "one_way_captures",
    "profile",
    "recognise",
    "router_ports",
]

CILIUM_PROFILE = CILIUM
"""The profile paths are drawn with when no overlay is recognised (vxlanlens' first target)."""
NEUTRAL_PROFILE = NEUTRAL
"""The profile of no CNI: paths when no overlay is recognised and the frames rule Cilium out."""

PROFILES: tuple[Profile, ...] = (CILIUM, FLANNEL, CALICO, ANTREA, OVN)
"""Every overlay vxlanlens knows, in the order they are tried."""

CNI_NAMES: tuple[str, ...] = tuple(p.name for p in PROFILES)
"""Values of ``--cni`` besides ``auto``."""

_HIGH, _MEDIUM, _LOW = 5.0, 3.0, 1.5
"""Score thresholds: a dump's device names (3) or a CNI-only MAC (3) give medium confidence;
with more evidence, high; weak signals (a default VNI, a flag pattern) alone give nothing."""


def one_way_captures(captures: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Capture label -> why its file may hold one direction of the traffic only: written by a
    capture tool that records one direction unless told otherwise (Antrea's PacketCapture)."""
    out: dict[str, str] = {}
    for c in captures:
        if c.get("label") is not None and written_by_packetcapture(c):
            out[str(c["label"])] = PACKETCAPTURE_ONE_WAY
    return out


def profile(name: str) -> Profile:
    """The profile called ``name`` (``cilium``, ``flannel``, ``calico``, ``antrea``, ``ovn``)."""
    for p in PROFILES:
        if p.name == name:
            return p
    raise ValueError(f"unknown CNI {name!r}: expected one of {', '.join(CNI_NAMES)}")


@dataclass
class Recognition:
    """What vxlanlens believes the overlay is."""

    name: str | None
    """The profile's name, or None when nothing in the input points at one."""
    confidence: str
    """``high``, ``medium``, ``low``, ``none``, or ``stated`` when the user said it."""
    signals: list[Signal] = field(default_factory=list)
    """What the input shows about the chosen overlay (its evidence)."""
    scores: dict[str, float] = field(default_factory=dict)
    """Every profile's score (sum of its signals' weights)."""
    others: list[Signal] = field(default_factory=list)
    """Signals of other overlays (contradicting or competing evidence)."""
    ruled_out: dict[str, str] = field(default_factory=dict)
    """Overlays the frames cannot be, each with why (only Cilium is ruled out so far: inner
    frames routed VTEP to VTEP, or ARP / Neighbor Discovery inside the tunnel)."""
    bridged: bool = False
    """Whether ARP or Neighbor Discovery crossed the tunnel: one L2 segment stretched over it
    (with nothing recognised, paths are then drawn as bridged, not routed)."""

    @property
    def title(self) -> str:
        """The overlay's display name (``Cilium``), or ``unknown``."""
        return profile(self.name).title if self.name else "unknown"

    @property
    def profile(self) -> Profile:
        """The profile paths are drawn with: the recognised (or stated) one, else Cilium's (the
        first target; the explanation then says the paths may not fit), or no CNI's words when
        the frames rule Cilium out."""
        if self.name:
            return profile(self.name)
        if "cilium" in self.ruled_out:
            return NEUTRAL_BRIDGED if self.bridged else NEUTRAL
        return CILIUM

    def is_(self, name: str) -> bool:
        """Whether the overlay is ``name`` with at least low confidence (or stated)."""
        return self.name == name and self.confidence != "none"

    def sentence(self) -> str:
        """One line for a report: the overlay, the confidence and the strongest evidence."""
        if self.name is None:
            if not self.scores or max(self.scores.values(), default=0) <= 0:
                return "Overlay: not recognised (nothing in the input is specific to a CNI vxlanlens knows)."
            return (
                "Overlay: not recognised with confidence ("
                + "; ".join(s.text for s in self.others[:3])
                + ")."
            )
        head = f"Overlay: {self.title}"
        if self.confidence == "stated":
            head += " (stated by the user)"
        else:
            head += f" ({self.confidence} confidence)"
        if self.signals:
            head += ": " + "; ".join(s.text for s in self.signals[:3])
        if self.confidence == "low":
            # what else the same evidence fits: a low score is a default others share
            also = [profile(n).title for n, v in self.scores.items() if n != self.name and v > 0]
            if also:
                return (
                    f"{head}. The captures also fit {', '.join(also)} (nothing in them is "
                    "specific to one); `--cni` states the overlay."
                )
        return head + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the explanation's ``topology.overlay``)."""
        return {
            "name": self.name,
            "title": self.title,
            "confidence": self.confidence,
            "signals": [s.to_dict() for s in self.signals],
            "others": [s.to_dict() for s in self.others],
            "scores": dict(self.scores),
            "ruled_out": dict(self.ruled_out),
        }


def recognise(
    packets: pd.DataFrame,
    topology: Any = None,
    exchanges: pd.DataFrame | None = None,
    *,
    stated: str | None = None,
    captures: Sequence[Mapping[str, Any]] | None = None,
) -> Recognition:
    """The overlay the input shows (or the one ``stated``), with every profile's evidence;
    ``captures`` (the explanation's ``captures`` entries) adds what the files say of
    themselves (the program that wrote them, their interfaces)."""
    if stated is not None and stated != "auto":
        profile(stated)  # validates the name
    obs = observe(packets, topology, exchanges, captures)
    per: dict[str, list[Signal]] = {p.name: p.recognise(obs) for p in PROFILES}
    scores = {name: round(sum(s.weight for s in sig), 2) for name, sig in per.items()}
    if stated is not None and stated != "auto":
        others = [s for n, sig in per.items() if n != stated for s in sig]
        return Recognition(stated, "stated", per[stated], scores, others)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    others = [s for n, sig in per.items() if n != best for s in sig]
    if top < _LOW or top - second < 1.0:
        others = list({s.text: s for sig in per.values() for s in sig}.values())
        why = cilium_ruled_out(obs)
        ruled = {"cilium": why} if why else {}
        return Recognition(None, "none", [], scores, others, ruled, bridged(obs))
    confidence = "high" if top >= _HIGH else "medium" if top >= _MEDIUM else "low"
    return Recognition(best, confidence, per[best], scores, others)
