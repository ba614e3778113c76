"""Loaders for ``ip route`` / ``ip -6 route`` and ``ip neigh`` / ``ip -6 neigh`` output, text
and JSON (:mod:`.iproute` re-exports them beside the ``ip addr`` loaders)."""

from __future__ import annotations

import ipaddress
from typing import Any

from ._util import (
    Ctx,
    int_or_error,
    ip_or_error,
    jpath,
    mac_or_error,
)
from .model import Neighbor, Route, Topology, canonical_ip

__all__ = [
    "looks_like_ip_neigh",
    "looks_like_ip_route",
    "parse_ip_neigh_json",
    "parse_ip_neigh_text",
    "parse_ip_route_json",
    "parse_ip_route_text",
]

# --- ip route -----------------------------------------------------------------------------------
_ROUTE_TYPES = {
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "throw",
    "unreachable",
    "prohibit",
    "blackhole",
    "nat",
    "anycast",
}
_ROUTE_KEYS = {
    "via",
    "dev",
    "proto",
    "scope",
    "src",
    "metric",
    "mtu",
    "pref",
    "table",
    "advmss",
    "initcwnd",
    "initrwnd",
    "expires",
    "onlink",
    "linkdown",
    "dead",
    "pervasive",
    "offload",
    "nexthop",
    "weight",
    "realms",
    "hoplimit",
    "rtt",
    "rttvar",
    "window",
    "cwnd",
    "ssthresh",
    "features",
    "quickack",
    "congctl",
    "fastopen_no_cookie",
    "tos",
    "from",
    "nhid",
    "lock",
    "error",
    "rt_offload",
    "rt_trap",
    "trap",
    "notify",
}


def _route_dst_ok(tok: str) -> bool:
    if tok == "default":
        return True
    try:
        ipaddress.ip_network(tok, strict=False)
        return True
    except ValueError:
        return False


def looks_like_ip_route(text: str) -> bool:
    """Whether every non-blank line looks like an ``ip route`` line (and there is one)."""
    seen = False
    for line in text.splitlines():
        s = line.split()
        if not s:
            continue
        if line[0].isspace() and s[0] == "nexthop":
            continue
        tok = s[1] if s[0] in _ROUTE_TYPES and len(s) > 1 else s[0]
        if not _route_dst_ok(tok):
            return False
        if len(s) > 1 and not any(w in ("via", "dev", "proto", "scope", "metric") for w in s):
            return False
        seen = True
    return seen


def parse_ip_route_text(text: str, ctx: Ctx, topo: Topology, family: int | None = None) -> None:
    """Add the routes of ``ip route`` / ``ip -6 route`` text."""
    n = 0
    for i, line in enumerate(text.splitlines()):
        words = line.split()
        if not words:
            continue
        if line[0].isspace() and words[0] == "nexthop":
            continue  # multipath members: the route line itself was recorded
        rtype = None
        if words[0] in _ROUTE_TYPES:
            rtype, words = words[0], words[1:]
            if not words:
                raise ctx.error(f"expected a destination after route type {rtype!r}", line=i)
        dst_tok = words[0]
        if not _route_dst_ok(dst_tok):
            raise ctx.error(
                f"expected a route destination (prefix, address or 'default'), "
                f"found {dst_tok[:60]!r}",
                line=i,
            )
        kv: dict[str, str] = {}
        k = 1
        while k < len(words):
            w = words[k]
            if (
                w in ("mtu", "via")
                and k + 2 < len(words)
                and words[k + 1] in ("lock", "inet", "inet6")
            ):
                kv.setdefault(w, words[k + 2])
                k += 3
                continue
            if w in (
                "onlink",
                "linkdown",
                "dead",
                "pervasive",
                "offload",
                "trap",
                "rt_offload",
                "rt_trap",
                "notify",
            ):
                k += 1
                continue
            if k + 1 < len(words):
                kv.setdefault(w, words[k + 1])
            k += 2
        via = ip_or_error(ctx, kv["via"], line=i, what="gateway address") if "via" in kv else None
        src_ip = ip_or_error(ctx, kv["src"], line=i, what="source address") if "src" in kv else None
        dst = (
            "default" if dst_tok == "default" else str(ipaddress.ip_network(dst_tok, strict=False))
        )
        fam = family
        if dst != "default":
            fam = ipaddress.ip_network(dst).version
        elif via:
            fam = ipaddress.ip_address(via).version
        r = Route(
            source=ctx.src(line=i),
            confidence="loaded",
            node=ctx.node,
            namespace=_ns_label(ctx),
            family=fam or 4,
            dst=dst,
            via=via,
            dev=kv.get("dev"),
            type=rtype,
            proto=kv.get("proto"),
            scope=kv.get("scope"),
            src=src_ip,
            metric=int_or_error(ctx, kv.get("metric"), line=i, what="metric"),
            mtu=int_or_error(ctx, kv.get("mtu"), line=i, what="MTU"),
            pref=kv.get("pref"),
            table=kv.get("table"),
            text=" ".join(line.split()),
        )
        r.netns_key = ctx.netns_key
        topo.routes.append(r)
        n += 1
    if n == 0:
        raise ctx.error("expected at least one route line", line=0)


def parse_ip_route_json(data: list[Any], ctx: Ctx, topo: Topology) -> None:
    """Add the routes of ``ip -j route`` output."""
    for k, item in enumerate(data):
        p = jpath("$", k)
        if not isinstance(item, dict) or "dst" not in item:
            raise ctx.error("expected a route object with 'dst'", path=p)
        dst_tok = str(item["dst"])
        if not _route_dst_ok(dst_tok):
            raise ctx.error(
                f"expected a route destination, found {dst_tok[:60]!r}", path=jpath(p, "dst")
            )
        dst = (
            "default" if dst_tok == "default" else str(ipaddress.ip_network(dst_tok, strict=False))
        )
        via = ip_or_error(
            ctx, item.get("gateway"), path=jpath(p, "gateway"), what="gateway address"
        )
        mtu = None
        metrics = item.get("metrics")
        if isinstance(metrics, list):
            for mm in metrics:
                if isinstance(mm, dict) and "mtu" in mm:
                    mtu = int_or_error(ctx, mm["mtu"], path=jpath(p, "metrics"), what="MTU")
        fam = (
            ipaddress.ip_network(dst).version
            if dst != "default"
            else (ipaddress.ip_address(via).version if via else 4)
        )
        r = Route(
            source=ctx.src(path=p),
            confidence="loaded",
            node=ctx.node,
            namespace=_ns_label(ctx),
            family=fam,
            dst=dst,
            via=via,
            dev=_str(item.get("dev")),
            type=_str(item.get("type")),
            proto=_str(item.get("protocol")),
            scope=_str(item.get("scope")),
            src=ip_or_error(
                ctx, item.get("prefsrc"), path=jpath(p, "prefsrc"), what="source address"
            ),
            metric=int_or_error(ctx, item.get("metric"), path=jpath(p, "metric"), what="metric"),
            mtu=mtu,
            pref=_str(item.get("pref")),
            table=_str(item.get("table")),
        )
        r.netns_key = ctx.netns_key
        topo.routes.append(r)


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _ns_label(ctx: Ctx) -> str | None:
    if ctx.netns == "pod":
        return ctx.namespace_label or "pod"
    if ctx.netns == "host":
        return "host"
    if ctx.pod is not None:
        return ctx.pod
    return None


# --- ip neigh -----------------------------------------------------------------------------------
_NEIGH_STATES = {
    "PERMANENT",
    "NOARP",
    "REACHABLE",
    "STALE",
    "NONE",
    "INCOMPLETE",
    "DELAY",
    "PROBE",
    "FAILED",
}


def looks_like_ip_neigh(text: str) -> bool:
    """Whether every non-blank line looks like an ``ip neigh`` entry (and there is one)."""
    seen = False
    for line in text.splitlines():
        s = line.split()
        if not s:
            continue
        if canonical_ip(s[0]) is None or "/" in s[0]:
            return False
        if not (set(s) & (_NEIGH_STATES | {"lladdr"})):
            return False
        seen = True
    return seen


def parse_ip_neigh_text(text: str, ctx: Ctx, topo: Topology) -> None:
    """Add the entries of ``ip neigh`` / ``ip -6 neigh`` text."""
    n = 0
    for i, line in enumerate(text.splitlines()):
        words = line.split()
        if not words:
            continue
        ip = (
            ip_or_error(
                ctx, words[0] if "/" not in words[0] else "", line=i, what="neighbour address"
            )
            if words[0]
            else None
        )
        if ip is None:
            raise ctx.error(f"expected a neighbour address, found {words[0][:60]!r}", line=i)
        kv: dict[str, str] = {}
        flags: list[str] = []
        k = 1
        while k < len(words):
            w = words[k]
            if w in ("dev", "lladdr", "proxy", "nud", "vrf") and k + 1 < len(words):
                kv[w] = words[k + 1]
                k += 2
            else:
                flags.append(w)
                k += 1
        states = [f for f in flags if f in _NEIGH_STATES]
        if not states and "lladdr" not in kv:
            raise ctx.error(
                f"expected 'lladdr MAC' or a state (REACHABLE, STALE, ...) in "
                f"{' '.join(words)[:60]!r}",
                line=i,
            )
        nb = Neighbor(
            source=ctx.src(line=i),
            confidence="loaded",
            node=ctx.node,
            namespace=_ns_label(ctx),
            ip=ip,
            dev=kv.get("dev"),
            lladdr=mac_or_error(ctx, kv.get("lladdr"), line=i, what="link-layer address"),
            router="router" in flags,
            state=",".join(states) or None,
        )
        nb.netns_key = ctx.netns_key
        topo.neighbors.append(nb)
        n += 1
    if n == 0:
        raise ctx.error("expected at least one neighbour entry", line=0)


def parse_ip_neigh_json(data: list[Any], ctx: Ctx, topo: Topology) -> None:
    """Add the entries of ``ip -j neigh`` output."""
    for k, item in enumerate(data):
        p = jpath("$", k)
        if not isinstance(item, dict) or "dst" not in item:
            raise ctx.error("expected a neighbour object with 'dst'", path=p)
        ip = ip_or_error(ctx, item["dst"], path=jpath(p, "dst"), what="neighbour address")
        state = item.get("state")
        if isinstance(state, list):
            state = ",".join(str(s) for s in state)
        nb = Neighbor(
            source=ctx.src(path=p),
            confidence="loaded",
            node=ctx.node,
            namespace=_ns_label(ctx),
            ip=ip or "",
            dev=_str(item.get("dev")),
            lladdr=mac_or_error(
                ctx, item.get("lladdr"), path=jpath(p, "lladdr"), what="link-layer address"
            ),
            router="router" in item,
            state=_str(state),
        )
        nb.netns_key = ctx.netns_key
        topo.neighbors.append(nb)
