"""Recognition rules shared by several profiles (each profile decides their weight)."""

from __future__ import annotations

from ._observe import Observations
from ._profile import Signal

__all__ = ["constant_vni", "vtep_inner_macs"]


def constant_vni(
    obs: Observations, profile: str, kind: str, vni: int, port: int, weight: float
) -> list[Signal]:
    """A signal when every ``kind`` frame carries ``vni`` (more when on the default ``port``)."""
    frames = {k: n for k, n in obs.vnis.items() if k[0] == kind}
    if not frames:
        return []
    vnis = {k[2] for k in frames}
    if vnis != {vni}:
        return []
    ports = {k[1] for k in frames}
    n = sum(frames.values())
    text = f"all {n} {kind.upper()} frames carry VNI {vni}"
    if ports == {port}:
        return [Signal(profile, weight + 0.5, f"{text} on UDP {port}, its defaults")]
    return [
        Signal(
            profile, weight, f"{text} (its default), on UDP {', '.join(map(str, sorted(ports)))}"
        )
    ]


def vtep_inner_macs(obs: Observations, profile: str, weight: float) -> list[Signal]:
    """A signal when the frames were routed into a VTEP: inner TTLs one below an initial
    value, and the reverse direction's inner MACs the same pair swapped (VTEP to VTEP). Either
    alone is common elsewhere (plain L2 VXLAN swaps MACs too), so both are needed."""
    if not obs.swapped_inner_macs or obs.per_sender_inner_macs or not obs.routed_inner:
        return []
    return [
        Signal(
            profile,
            weight,
            "frames were routed into the tunnel (inner TTL one below its initial value) and the "
            "replies carry the requests' inner MACs swapped: VTEP MAC to VTEP MAC",
            tuple(obs.routed_inner[:1] + obs.swapped_inner_macs[:2]),
        )
    ]


def vtep_on_port(
    obs: Observations, profile: str, port: int, weight: float, why: str
) -> list[Signal]:
    """A signal when every VXLAN frame is on ``port`` and the frames were routed into a VTEP
    (as :func:`vtep_inner_macs` sees it): ``why`` says what that port tells."""
    frames = {k: n for k, n in obs.vnis.items() if k[0] == "vxlan"}
    if not frames or {k[1] for k in frames} != {port} or not vtep_inner_macs(obs, profile, 0):
        return []
    return [
        Signal(
            profile,
            weight,
            f"the VTEP-to-VTEP frames are on UDP {port}, {why}",
            tuple(obs.routed_inner[:1]),
        )
    ]
