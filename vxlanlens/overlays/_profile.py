"""What an overlay profile is: its facts and its recognition rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._datapath import Datapath

if TYPE_CHECKING:
    from ._observe import Observations

__all__ = ["Profile", "Signal"]


@dataclass(frozen=True)
class Signal:
    """One thing in the input that points at an overlay."""

    profile: str
    weight: float
    """How specific it is: 3 = only this overlay does it, 1 = a default others may share."""
    text: str
    evidence: tuple[str, ...] = ()
    """``capture#frame`` or ``file:line`` references."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "profile": self.profile,
            "weight": self.weight,
            "text": self.text,
            "evidence": list(self.evidence),
        }


Rule = Callable[["Observations"], "list[Signal]"]


@dataclass(frozen=True)
class Profile:
    """One CNI: its names and defaults (with sources), and the rules that recognise it."""

    name: str
    title: str
    tunnel_devices: tuple[str, ...]
    """Names (or name prefixes ending in ``*``) of its tunnel / VTEP devices."""
    host_veth_prefixes: tuple[str, ...]
    """Name prefixes of the host side of pods' veths."""
    other_devices: tuple[str, ...]
    """Other device names (or prefixes ending in ``*``) only this CNI creates."""
    tunnels: tuple[tuple[str, int], ...]
    """Default (tunnel kind, UDP port) pairs."""
    sources: tuple[str, ...]
    """Where the facts come from."""
    datapath: Datapath
    """How a pod's packet crosses this overlay, by role (what paths name each hop)."""
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def owns_device(self, name: str) -> bool:
        """Whether an interface called ``name`` is one this CNI creates."""
        for pattern in (*self.tunnel_devices, *self.other_devices):
            if pattern.endswith("*") and name.startswith(pattern[:-1]):
                return True
            if name == pattern:
                return True
        return any(name.startswith(p) for p in self.host_veth_prefixes)

    def recognise(self, obs: Observations) -> list[Signal]:
        """Everything in ``obs`` that points at this CNI."""
        out: list[Signal] = []
        devices = sorted(
            {
                n
                for n in obs.device_names
                if any(
                    (p.endswith("*") and n.startswith(p[:-1])) or n == p
                    for p in (*self.tunnel_devices, *self.other_devices)
                )
            }
        )
        if devices:
            out.append(Signal(self.name, 3.0, f"the dumps show {', '.join(devices[:4])}", ()))
        for rule in self.rules:
            out.extend(rule(obs))
        return out
