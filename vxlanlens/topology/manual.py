"""Loader for the hand-written topology file (YAML), described in ``docs/topology.md``.

Users state there what their dumps lack (node names and addresses, router IPs, pods, MACs,
identities) and may bind dump files to nodes and pods with a ``dumps:`` list. Unknown keys are
errors, so that a typo does not silently drop a fact.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ._util import Ctx, LineMap, int_or_error, interface_kind, ip_or_error, jpath, mac_or_error
from .model import (
    INTERFACE_KINDS,
    Identity,
    Interface,
    Neighbor,
    Node,
    NodeFact,
    Peer,
    Pod,
    Route,
    Topology,
)

__all__ = ["MARKER", "looks_like_manual", "parse_manual"]

MARKER = "vxlanlens-topology"
_TOP = {MARKER, "nodes", "interfaces", "pods", "identities", "routes", "neighbors", "dumps"}
_KEYS = {
    "nodes": {"name", "addresses", "router_ips", "pod_cidrs"},
    "interfaces": {
        "node",
        "namespace",
        "name",
        "kind",
        "mac",
        "ifindex",
        "addresses",
        "peer",
        "mtu",
        "pod",
        "note",
    },
    "pods": {
        "namespace",
        "name",
        "node",
        "ips",
        "mac",
        "host_interface",
        "host_mac",
        "identity",
        "endpoint_id",
        "host_network",
    },
    "identities": {"id", "labels"},
    "routes": {
        "node",
        "namespace",
        "dst",
        "via",
        "dev",
        "mtu",
        "metric",
        "proto",
        "scope",
        "src",
        "pref",
        "table",
        "type",
    },
    "neighbors": {"node", "namespace", "ip", "dev", "lladdr", "router", "state"},
    "dumps": {"path", "node", "pod"},
}


def looks_like_manual(data: Any) -> bool:
    """Whether parsed YAML is a hand-written topology (has the marker key, or only known
    top-level keys and no Kubernetes ``kind``)."""
    if not isinstance(data, dict) or not data:
        return False
    if MARKER in data:
        return True
    keys = set(data)
    return keys <= _TOP and bool(keys & {"nodes", "pods", "interfaces", "identities", "dumps"})


def parse_manual(
    data: dict[str, Any], ctx: Ctx, topo: Topology, lines: LineMap
) -> list[dict[str, Any]]:
    """Add the facts of a hand-written topology; returns its ``dumps:`` bindings (each with
    ``path``, ``node``, ``pod`` and ``line``) for the caller to load."""
    unknown = set(data) - _TOP
    if unknown:
        raise ctx.error(
            f"unknown top-level key(s) {sorted(map(str, unknown))}; expected some of "
            f"{sorted(_TOP)}",
            line=_ln(lines, data),
        )
    dumps: list[dict[str, Any]] = []
    for section in ("nodes", "interfaces", "pods", "identities", "routes", "neighbors", "dumps"):
        items = data.get(section) or []
        if not isinstance(items, list):
            raise ctx.error(
                f"expected a list under {section!r}", line=_ln(lines, data), path=f"$.{section}"
            )
        for k, item in enumerate(items):
            p = jpath("$", section, k)
            ln = _ln(lines, item) if isinstance(item, (dict, list)) else _ln(lines, items)
            if not isinstance(item, dict):
                raise ctx.error(f"expected a mapping in {section!r}", line=ln, path=p)
            bad = set(item) - _KEYS[section]
            if bad:
                raise ctx.error(
                    f"unknown key(s) {sorted(map(str, bad))} in {section!r}; expected some of "
                    f"{sorted(_KEYS[section])}",
                    line=ln,
                    path=p,
                )
            w = {"line": ln, "path": p}
            if section == "dumps":
                if not item.get("path"):
                    raise ctx.error("expected 'path' in a dumps entry", line=ln, path=p)
                dumps.append(
                    {
                        "path": str(item["path"]),
                        "node": _s(item.get("node")),
                        "pod": _s(item.get("pod")),
                        "line": (ln or 1),
                    }
                )
            else:
                _ADD[section](item, ctx, topo, w)
    return dumps


def _ln(lines: LineMap, obj: Any) -> int | None:
    ln = lines.get(id(obj))
    return None if ln is None else ln - 1


def _s(v: Any) -> str | None:
    return None if v in (None, "") else str(v)


def _list(ctx: Ctx, item: dict[str, Any], key: str, w: dict[str, Any]) -> list[Any]:
    v = item.get(key) or []
    if isinstance(v, (str, int)):
        v = [v]
    if not isinstance(v, list):
        raise ctx.error(
            f"expected a list under {key!r}", line=w["line"], path=jpath(w["path"], key)
        )
    return v


def _src(ctx: Ctx, w: dict[str, Any]) -> Any:
    return ctx.src(line=w["line"], path=w["path"])


def _ip(ctx: Ctx, v: Any, w: dict[str, Any], key: str) -> str | None:
    return ip_or_error(ctx, v, line=w["line"], path=jpath(w["path"], key))


def _node(item: dict[str, Any], ctx: Ctx, topo: Topology, w: dict[str, Any]) -> None:
    if not item.get("name"):
        raise ctx.error("expected 'name' in a node", line=w["line"], path=w["path"])
    src = _src(ctx, w)
    n = Node(source=src, confidence="loaded", name=str(item["name"]))
    for v in _list(ctx, item, "addresses", w):
        n.addresses.append(
            NodeFact(
                source=src,
                confidence="loaded",
                value=_ip(ctx, v, w, "addresses") or "",
                role="address",
            )
        )
    for v in _list(ctx, item, "router_ips", w):
        n.router_ips.append(
            NodeFact(
                source=src,
                confidence="loaded",
                value=_ip(ctx, v, w, "router_ips") or "",
                role="router-ip",
            )
        )
    for v in _list(ctx, item, "pod_cidrs", w):
        try:
            net = str(ipaddress.ip_network(str(v), strict=False))
        except ValueError:
            raise ctx.error(
                f"expected a CIDR, found {str(v)[:60]!r}",
                line=w["line"],
                path=jpath(w["path"], "pod_cidrs"),
            ) from None
        n.pod_cidrs.append(NodeFact(source=src, confidence="loaded", value=net, role="pod-cidr"))
    topo.nodes.append(n)


def _interface(item: dict[str, Any], ctx: Ctx, topo: Topology, w: dict[str, Any]) -> None:
    name = _s(item.get("name"))
    mac = mac_or_error(ctx, item.get("mac"), line=w["line"], path=jpath(w["path"], "mac"))
    if not name and not mac:
        raise ctx.error("expected 'name' or 'mac' in an interface", line=w["line"], path=w["path"])
    ns = _s(item.get("namespace")) or "host"
    kind = _s(item.get("kind"))
    if kind is None:
        kind = interface_kind(name, in_pod=ns != "host")[0] if name else "other"
    if kind not in INTERFACE_KINDS:
        raise ctx.error(
            f"expected kind one of {list(INTERFACE_KINDS)}, found {kind!r}",
            line=w["line"],
            path=jpath(w["path"], "kind"),
        )
    addrs = []
    for v in _list(ctx, item, "addresses", w):
        try:
            addrs.append(str(ipaddress.ip_interface(str(v))))
        except ValueError:
            raise ctx.error(
                f"expected an address, found {str(v)[:60]!r}",
                line=w["line"],
                path=jpath(w["path"], "addresses"),
            ) from None
    peer = None
    pv = item.get("peer")
    if isinstance(pv, dict):
        peer = Peer(
            ifindex=int_or_error(
                ctx, pv.get("ifindex"), line=w["line"], path=jpath(w["path"], "peer")
            ),
            name=_s(pv.get("name")),
            netns=_s(pv.get("netns")),
            netnsid=int_or_error(
                ctx, pv.get("netnsid"), line=w["line"], path=jpath(w["path"], "peer")
            ),
        )
    elif pv is not None:
        raise ctx.error(
            "expected a mapping under 'peer' (ifindex, name, netns, netnsid)",
            line=w["line"],
            path=jpath(w["path"], "peer"),
        )
    topo.interfaces.append(
        Interface(
            source=_src(ctx, w),
            confidence="loaded",
            node=_s(item.get("node")),
            namespace=ns,
            name=name,
            kind=kind,
            mac=mac,
            ifindex=int_or_error(
                ctx, item.get("ifindex"), line=w["line"], path=jpath(w["path"], "ifindex")
            ),
            addresses=addrs,
            peer=peer,
            mtu=int_or_error(ctx, item.get("mtu"), line=w["line"], path=w["path"]),
            pod=_s(item.get("pod")),
            note=_s(item.get("note")),
        )
    )


def _pod(item: dict[str, Any], ctx: Ctx, topo: Topology, w: dict[str, Any]) -> None:
    ips = [c for c in (_ip(ctx, v, w, "ips") for v in _list(ctx, item, "ips", w)) if c]
    mac = mac_or_error(ctx, item.get("mac"), line=w["line"], path=jpath(w["path"], "mac"))
    if not item.get("name") and not ips and not mac:
        raise ctx.error("expected 'name', 'ips' or 'mac' in a pod", line=w["line"], path=w["path"])
    topo.pods.append(
        Pod(
            source=_src(ctx, w),
            confidence="loaded",
            namespace=_s(item.get("namespace")),
            name=_s(item.get("name")),
            node=_s(item.get("node")),
            ips=ips,
            mac=mac,
            host_interface=_s(item.get("host_interface")),
            host_mac=mac_or_error(
                ctx, item.get("host_mac"), line=w["line"], path=jpath(w["path"], "host_mac")
            ),
            endpoint_id=int_or_error(ctx, item.get("endpoint_id"), line=w["line"], path=w["path"]),
            identity=int_or_error(ctx, item.get("identity"), line=w["line"], path=w["path"]),
            host_network=bool(item.get("host_network")),
        )
    )


def _identity(item: dict[str, Any], ctx: Ctx, topo: Topology, w: dict[str, Any]) -> None:
    ident = int_or_error(
        ctx, item.get("id"), line=w["line"], path=jpath(w["path"], "id"), what="identity number"
    )
    if ident is None:
        raise ctx.error("expected 'id' in an identity", line=w["line"], path=w["path"])
    topo.identities.append(
        Identity(
            source=_src(ctx, w),
            confidence="loaded",
            id=ident,
            labels=[str(x) for x in _list(ctx, item, "labels", w)],
        )
    )


def _route(item: dict[str, Any], ctx: Ctx, topo: Topology, w: dict[str, Any]) -> None:
    dst = _s(item.get("dst")) or "default"
    if dst != "default":
        try:
            dst = str(ipaddress.ip_network(dst, strict=False))
        except ValueError:
            raise ctx.error(
                f"expected a destination prefix or 'default', found {dst[:60]!r}",
                line=w["line"],
                path=jpath(w["path"], "dst"),
            ) from None
    via = _ip(ctx, item.get("via"), w, "via")
    fam = (
        ipaddress.ip_network(dst).version
        if dst != "default"
        else (ipaddress.ip_address(via).version if via else 4)
    )
    topo.routes.append(
        Route(
            source=_src(ctx, w),
            confidence="loaded",
            node=_s(item.get("node")),
            namespace=_s(item.get("namespace")) or "host",
            family=fam,
            dst=dst,
            via=via,
            dev=_s(item.get("dev")),
            type=_s(item.get("type")),
            proto=_s(item.get("proto")),
            scope=_s(item.get("scope")),
            src=_ip(ctx, item.get("src"), w, "src"),
            metric=int_or_error(ctx, item.get("metric"), line=w["line"], path=w["path"]),
            mtu=int_or_error(ctx, item.get("mtu"), line=w["line"], path=w["path"]),
            pref=_s(item.get("pref")),
            table=_s(item.get("table")),
        )
    )


def _neighbor(item: dict[str, Any], ctx: Ctx, topo: Topology, w: dict[str, Any]) -> None:
    ip = _ip(ctx, item.get("ip"), w, "ip")
    if ip is None:
        raise ctx.error("expected 'ip' in a neighbour", line=w["line"], path=w["path"])
    topo.neighbors.append(
        Neighbor(
            source=_src(ctx, w),
            confidence="loaded",
            node=_s(item.get("node")),
            namespace=_s(item.get("namespace")) or "host",
            ip=ip,
            dev=_s(item.get("dev")),
            lladdr=mac_or_error(
                ctx, item.get("lladdr"), line=w["line"], path=jpath(w["path"], "lladdr")
            ),
            router=bool(item.get("router")),
            state=_s(item.get("state")),
        )
    )


_ADD = {
    "nodes": _node,
    "interfaces": _interface,
    "pods": _pod,
    "identities": _identity,
    "routes": _route,
    "neighbors": _neighbor,
}
