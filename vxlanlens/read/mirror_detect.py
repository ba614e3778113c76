"""VXLAN mirror sessions when captures are read: the ``--mirror-vxlan`` values, and detection.

The rule itself is :func:`vxlanlens.decode.mirror.detect` (NumPy only); this module parses the
option and feeds the rule from a packets table.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..decode import DecodeOptions
from ..decode.mirror import detect

__all__ = ["MIRROR_OFF", "mirror_options", "mirror_sessions", "parse_mirror_vxlan"]

MIRROR_OFF = "none"
"""``--mirror-vxlan none``: no VXLAN mirror detection."""

_OVERLAYS = ("vxlan", "vxlan-gpe", "geneve")


def parse_mirror_vxlan(value: str) -> tuple[int, int] | None:
    """``PORT[:VNI]`` as ``(port, vni)`` (VNI -1: any), ``None`` for ``none``; ``ValueError``
    naming the value otherwise."""
    text = value.strip().lower()
    if text == MIRROR_OFF:
        return None
    port_s, _, vni_s = text.partition(":")
    try:
        port = int(port_s)
        vni = int(vni_s) if vni_s else -1
    except ValueError:
        raise ValueError(f"--mirror-vxlan {value!r}: expected PORT[:VNI] or none") from None
    if not 0 < port < 65536 or not -1 <= vni < 1 << 24:
        raise ValueError(f"--mirror-vxlan {value!r}: port 1..65535, VNI 0..16777215")
    return port, vni


def mirror_options(opts: DecodeOptions, values: Sequence[str]) -> DecodeOptions:
    """``opts`` with the VXLAN mirror sessions of ``values`` (``PORT[:VNI]`` / ``none``)."""
    parsed = [parse_mirror_vxlan(v) for v in values]
    sessions = tuple(p for p in parsed if p is not None)
    if sessions:
        opts = opts.with_mirror_vxlan(sessions)
    if len(sessions) < len(parsed):
        from dataclasses import replace

        opts = replace(opts, mirror_auto=False)
    return opts


def _ints(packets: Any, name: str) -> np.ndarray:
    col = packets[name]
    return np.asarray(col.astype("Int64").fillna(-1).to_numpy(dtype=np.int64))


def mirror_sessions(
    packets: Any, opts: DecodeOptions, specs: Sequence[tuple[str, Any]]
) -> list[str]:
    """``--mirror-vxlan`` values for the VXLAN mirror sessions detected in ``packets`` (a
    packets table read with ``opts``), each with ``none`` appended so that the second read does
    not detect again; empty when detection is off, none is found, or a capture cannot be read
    twice (standard input, an open file)."""
    if not opts.mirror_auto or len(packets) == 0 or "tunnel_depth" not in packets:
        return []
    if any(not isinstance(s, (str, os.PathLike)) or s == "-" for _, s in specs):
        return []
    depth = _ints(packets, "tunnel_depth")
    if not (depth >= 2).any():
        return []
    # overlay headers: the tunnel headers but a GRE / IP-in-IP one (``ip_tunnel``)
    overlays = depth.copy()
    if "ip_tunnel" in packets:
        overlays -= np.asarray(packets["ip_tunnel"].notna().to_numpy(dtype=bool), dtype=np.int64)
    nested = (overlays >= 2) & np.asarray(packets["tunnel"].isin(_OVERLAYS).to_numpy(dtype=bool))
    dport = _ints(packets, "outer_dport")
    vports = np.array(sorted(opts.vxlan_ports), dtype=np.int64)
    outer_vxlan = np.isin(dport, vports)
    if "mirror" in packets:
        outer_vxlan &= np.asarray(packets["mirror"].isna().to_numpy(dtype=bool))
    found = detect(dport, _ints(packets, "outer_vni"), outer_vxlan, nested)
    found = found - opts.mirror_vxlan
    if not found:
        return []
    return [
        *(f"{p}:{v}" for p, v in sorted(found)),
        *(f"{p}:{v}" if v >= 0 else str(p) for p, v in sorted(opts.mirror_vxlan)),
        MIRROR_OFF,
    ]
