"""A VXLAN or Geneve device's attributes from ``ip -d link`` (text) or ``ip -j -d link`` (JSON).

Text: the detail line after ``link/ether``, e.g. ``vxlan id 1 local 172.18.0.4 dev eth0 srcport
0 0 dstport 8472 nolearning ttl auto ageing 300 udpcsum ...`` or ``geneve id 0 remote 10.0.0.2
ttl auto dstport 6081 noudpcsum``. JSON: ``linkinfo.info_data`` (``id``, ``local``, ``remote``,
``link``, ``port``, ``learning``, ``udp_csum``; ``local6`` / ``remote6`` / ``group6`` over IPv6). What the dump does not show is left out.
"""

from __future__ import annotations

from typing import Any

from ._util import Ctx, int_or_error, ip_or_error, jpath

__all__ = ["tunnel_json", "tunnel_text"]

_FLAGS = {"learning": ("learning", True), "nolearning": ("learning", False),
          "udpcsum": ("udpcsum", True), "noudpcsum": ("udpcsum", False)}  # fmt: skip


def tunnel_text(words: list[str], ctx: Ctx, line: int) -> dict[str, Any]:
    """Attributes of a ``vxlan ...`` / ``geneve ...`` detail line (``words[0]`` is the kind)."""
    out: dict[str, Any] = {"kind": words[0]}
    k = 1
    while k < len(words):
        w = words[k]
        nxt = words[k + 1] if k + 1 < len(words) else None
        if w in ("id", "dstport") and nxt is not None:
            out[w] = int_or_error(ctx, nxt, line=line, what=f"{words[0]} {w}")
            k += 2
        elif w in ("local", "remote", "group") and nxt is not None:
            out["remote" if w == "group" else w] = ip_or_error(
                ctx, nxt, line=line, what=f"{words[0]} {w} address"
            )
            k += 2
        elif w == "dev" and nxt is not None:
            out["dev"] = nxt
            k += 2
        elif w in _FLAGS:
            key, val = _FLAGS[w]
            out[key] = val
            k += 1
        else:
            k += 1
    return out


def tunnel_json(kind: str, data: Any, ctx: Ctx, path: str) -> dict[str, Any]:
    """Attributes from ``linkinfo.info_data`` of ``ip -j -d link`` (a bad value names its path)."""
    out: dict[str, Any] = {"kind": kind}
    if not isinstance(data, dict):
        return out
    p = jpath(path, "linkinfo", "info_data")
    for src, key in (("id", "id"), ("port", "dstport")):
        if src in data:
            out[key] = int_or_error(ctx, data[src], path=jpath(p, src), what=f"{kind} {src}")
    for src, key in (
        ("local", "local"),
        ("local6", "local"),
        ("remote", "remote"),
        ("remote6", "remote"),
        ("group", "remote"),
        ("group6", "remote"),
    ):
        if data.get(src):
            out[key] = ip_or_error(ctx, data[src], path=jpath(p, src), what=f"{kind} {src}")
    if isinstance(data.get("link"), str):
        out["dev"] = data["link"]
    for src, key in (("learning", "learning"), ("udp_csum", "udpcsum")):
        if isinstance(data.get(src), bool):
            out[key] = data[src]
    return out
