"""Loaders for iproute2 output: ``ip addr`` / ``ip link`` (text, ``-d``, ``-s``, and ``-j``
JSON), ``ip route`` / ``ip -6 route`` and ``ip neigh`` / ``ip -6 neigh`` (text and JSON).

A dump taken inside a pod's namespace (only ``lo`` and an ``eth0@ifN`` veth, no Cilium
devices) is recognised as such even when it was not bound to a pod, and yields a pod with its
eth0 MAC and addresses; a dump with Cilium devices is a node's root namespace.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from typing import Any

from ._util import (
    Ctx,
    int_or_error,
    interface_kind,
    is_link_local,
    jpath,
    mac_or_error,
    split_pod_ref,
)
from .iproute_routes import (
    looks_like_ip_neigh,
    looks_like_ip_route,
    parse_ip_neigh_json,
    parse_ip_neigh_text,
    parse_ip_route_json,
    parse_ip_route_text,
)
from .model import Interface, Node, NodeFact, Peer, Pod, Topology, canonical_ip
from .tunnel_attrs import tunnel_json, tunnel_text

__all__ = [
    "looks_like_ip_addr",
    "looks_like_ip_neigh",
    "looks_like_ip_route",
    "parse_ip_addr_json",
    "parse_ip_addr_text",
    "parse_ip_neigh_json",
    "parse_ip_neigh_text",
    "parse_ip_route_json",
    "parse_ip_route_text",
]

_HDR = re.compile(r"^(\d+):\s+(\S+?):\s+<([^>]*)>(.*)$")
_MTU = re.compile(r"\bmtu\s+(\d+)")
_NETNS = re.compile(r"\blink-netns\s+(\S+)")
_NETNSID = re.compile(r"\blink-netnsid\s+(\d+)")
_DETAIL_KINDS = {
    "veth",
    "vxlan",
    "geneve",
    "bridge",
    "dummy",
    "macvlan",
    "ipvlan",
    "vlan",
    "bond",
    "wireguard",
    "tun",
    "ipip",
    "sit",
    "gre",
    "ip6tnl",
}


def looks_like_ip_addr(text: str) -> bool:
    """Whether the first non-blank line is an ``ip addr``/``ip link`` interface header."""
    for line in text.splitlines():
        if line.strip():
            return bool(_HDR.match(line.strip()))
    return False


# --- ip addr / ip link text ---------------------------------------------------------------------
def parse_ip_addr_text(text: str, ctx: Ctx, topo: Topology) -> None:
    """Add the interfaces of an ``ip addr`` / ``ip link`` text dump (any of ``-d``/``-s``)."""
    raw: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        if not line[0].isspace():
            m = _HDR.match(line.strip())
            if not m:
                raise ctx.error(
                    "expected an interface header like '2: eth0: <FLAGS> mtu ...' or an "
                    f"indented detail line, found {line.strip()[:60]!r}",
                    line=i,
                )
            ifindex = int_or_error(ctx, m.group(1), line=i, what="interface index")
            name, _, peer = m.group(2).partition("@")
            if not name:
                raise ctx.error(f"empty interface name in {line.strip()[:60]!r}", line=i)
            mtu = _MTU.search(m.group(4))
            cur = {
                "line": i,
                "ifindex": ifindex,
                "name": name,
                "peer": peer or None,
                "mtu": int(mtu.group(1)) if mtu else None,
                "mac": None,
                "addrs": [],
                "netns": None,
                "netnsid": None,
                "info_kind": None,
                "detail_seen": False,
            }
            raw.append(cur)
            continue
        if cur is None:
            raise ctx.error(f"expected an interface header before {line.strip()[:60]!r}", line=i)
        words = line.split()
        w0 = words[0]
        if w0.startswith("link/"):
            ltype = w0[5:]
            if ltype in ("ether", "loopback") and len(words) > 1:
                cur["mac"] = mac_or_error(ctx, words[1], line=i)
            nn = _NETNS.search(line)
            if nn:
                cur["netns"] = nn.group(1)
            nid = _NETNSID.search(line)
            if nid:
                cur["netnsid"] = int(nid.group(1))
        elif w0 in ("inet", "inet6"):
            if len(words) < 2:
                raise ctx.error(f"expected an address after {w0!r}", line=i)
            try:
                iface = ipaddress.ip_interface(words[1])
            except ValueError:
                raise ctx.error(
                    f"expected an address/prefix after {w0!r}, found {words[1][:60]!r}", line=i
                ) from None
            if (iface.version == 6) != (w0 == "inet6"):
                raise ctx.error(
                    f"{w0} line carries an IPv{iface.version} address {words[1]!r}", line=i
                )
            cur["addrs"].append((str(iface), i))
        elif not cur["detail_seen"] and w0 in _DETAIL_KINDS and cur["mac"] is not None:
            cur["info_kind"] = w0
            cur["detail_seen"] = True
            if w0 in ("vxlan", "geneve"):
                cur["tunnel"] = tunnel_text(words, ctx, i)
        # everything else (valid_lft, altname, RX:/TX: counters, -d details) is ignored
    if not raw:
        raise ctx.error(
            "expected at least one interface header like '1: lo: <LOOPBACK,UP> ...'", line=0
        )
    _add_interfaces(raw, ctx, topo)


# --- ip -j addr / ip -j link --------------------------------------------------------------------
def parse_ip_addr_json(data: list[Any], ctx: Ctx, topo: Topology) -> None:
    """Add the interfaces of ``ip -j [-d] addr`` / ``ip -j link`` output (a JSON list)."""
    raw: list[dict[str, Any]] = []
    for k, item in enumerate(data):
        p = jpath("$", k)
        if not isinstance(item, dict):
            raise ctx.error(f"expected an interface object, found {type(item).__name__}", path=p)
        if "ifname" not in item:
            if item == {}:
                continue  # ip -j prints {} for some filtered entries
            raise ctx.error("expected an interface object with 'ifname'", path=p)
        name = str(item["ifname"])
        ifindex = int_or_error(ctx, item.get("ifindex"), path=jpath(p, "ifindex"), what="ifindex")
        peer_idx = int_or_error(
            ctx, item.get("link_index"), path=jpath(p, "link_index"), what="ifindex"
        )
        link = item.get("link")
        peer: str | None = None
        if peer_idx is not None:
            peer = f"if{peer_idx}"
        elif isinstance(link, str) and link:
            peer = link
        mac = None
        if item.get("link_type") in ("ether", "loopback", None):
            mac = mac_or_error(ctx, item.get("address"), path=jpath(p, "address"))
        addrs = []
        ai = item.get("addr_info", [])
        if not isinstance(ai, list):
            raise ctx.error("expected a list", path=jpath(p, "addr_info"))
        for j, a in enumerate(ai):
            ap = jpath(p, "addr_info", j)
            if not isinstance(a, dict) or "local" not in a:
                if isinstance(a, dict) and not a:
                    continue
                raise ctx.error("expected an address object with 'local'", path=ap)
            plen = int_or_error(
                ctx, a.get("prefixlen"), path=jpath(ap, "prefixlen"), what="prefix length"
            )
            try:
                iface = ipaddress.ip_interface(
                    f"{a['local']}/{plen if plen is not None else ''}".rstrip("/")
                )
            except ValueError:
                raise ctx.error(
                    f"expected an address, found {str(a['local'])[:60]!r}", path=jpath(ap, "local")
                ) from None
            addrs.append((str(iface), ap))
        linkinfo = item.get("linkinfo")
        info_kind = linkinfo.get("info_kind") if isinstance(linkinfo, dict) else None
        tunnel = None
        if info_kind in ("vxlan", "geneve") and isinstance(linkinfo, dict):
            tunnel = tunnel_json(str(info_kind), linkinfo.get("info_data"), ctx, p)
        netnsid = item.get("link_netnsid")
        raw.append(
            {
                "path": p,
                "ifindex": ifindex,
                "name": name,
                "peer": peer,
                "mtu": item.get("mtu") if isinstance(item.get("mtu"), int) else None,
                "mac": mac,
                "addrs": addrs,
                "netns": None,
                "netnsid": netnsid if isinstance(netnsid, int) else None,
                "info_kind": info_kind if isinstance(info_kind, str) else None,
                "tunnel": tunnel,
            }
        )
    if not raw:
        raise ctx.error("expected at least one interface in the ip -j output", path="$")
    _add_interfaces(raw, ctx, topo)


# --- shared: interfaces → model --------------------------------------------------------------------
def _is_pod_netns(raw: list[dict[str, Any]]) -> bool:
    names = [r["name"] for r in raw if r["name"] != "lo"]
    if any(n.startswith(("lxc", "cilium_")) for n in names):
        return False
    if names != ["eth0"]:
        return False
    eth0 = next(r for r in raw if r["name"] == "eth0")
    peer = eth0["peer"] or ""
    if not (peer.startswith("if") and peer[2:].isdigit()):
        return False
    v4 = [a for a, _ in eth0["addrs"] if ipaddress.ip_interface(a).version == 4]
    # Cilium gives pods /32 IPv4 addresses; a node's eth0 carries a subnet (kind: /16)
    return all(a.endswith("/32") for a in v4)


def _decide_netns(raw: list[dict[str, Any]], ctx: Ctx) -> None:
    if ctx.netns is not None:
        return
    if ctx.pod is not None or _is_pod_netns(raw):
        ctx.netns = "pod"
        ctx.netns_key = f"pod@{ctx.file}:{ctx.line_offset}"
        ns, name = split_pod_ref(ctx.pod)
        if name is None and ctx.host_hint:
            name = ctx.host_hint
        ctx.namespace_label = f"{ns}/{name}" if ns and name else name
    else:
        ctx.netns = "host"
        ctx.netns_key = f"host@{ctx.file}:{ctx.line_offset}"


def _where(ctx: Ctx, r: dict[str, Any]) -> dict[str, Any]:
    return {"line": r["line"]} if "line" in r else {"path": r["path"]}


def _add_interfaces(raw: list[dict[str, Any]], ctx: Ctx, topo: Topology) -> None:
    _decide_netns(raw, ctx)
    in_pod = ctx.netns == "pod"
    namespace = (ctx.namespace_label or "pod") if in_pod else "host"
    for r in raw:
        kind, note = interface_kind(r["name"], in_pod=in_pod)
        if kind == "other" and r.get("info_kind") in ("vxlan", "geneve") and not in_pod:
            note = f"{r['info_kind']} device"
        peer = None
        pstr = r["peer"]
        if pstr or r["netns"] or r["netnsid"] is not None:
            pidx = int(pstr[2:]) if pstr and pstr.startswith("if") and pstr[2:].isdigit() else None
            pname = pstr if pstr and pidx is None and pstr != "NONE" else None
            peer = Peer(ifindex=pidx, name=pname, netns=r["netns"], netnsid=r["netnsid"])
        iface = Interface(
            source=ctx.src(**_where(ctx, r)),
            confidence="loaded",
            node=ctx.node,
            namespace=namespace,
            name=r["name"],
            kind=kind,
            mac=r["mac"],
            ifindex=r["ifindex"],
            addresses=[a for a, _ in r["addrs"]],
            peer=peer,
            mtu=r["mtu"],
            note=note,
            tunnel=r.get("tunnel"),
        )
        iface.netns_key = ctx.netns_key
        topo.interfaces.append(iface)
        if in_pod and kind == "pod-eth0":
            ns, name = split_pod_ref(ctx.pod)
            pod = Pod(
                source=ctx.src(**_where(ctx, r)),
                confidence="loaded",
                namespace=ns,
                name=name,
                node=ctx.node,
                ips=_global_ips(r["addrs"]),
                mac=r["mac"],
            )
            if name is None and ctx.host_hint:
                pod.name = ctx.host_hint
                pod.field_sources["name"] = (
                    ctx.src(
                        **_where(ctx, r), note="pod name taken from the shell prompt's host name"
                    ),
                    "inferred-low",
                )
            pod.netns_key = ctx.netns_key
            topo.pods.append(pod)
        if not in_pod and ctx.node is not None:
            _node_facts(iface, r, ctx, topo)


def _global_ips(addrs: list[tuple[str, Any]]) -> list[str]:
    out = []
    for a, _ in addrs:
        c = canonical_ip(a)
        if c and not is_link_local(c) and not ipaddress.ip_address(c).is_loopback:
            out.append(c)
    return sorted(out, key=lambda x: ipaddress.ip_address(x).version)


def _node_facts(iface: Interface, r: dict[str, Any], ctx: Ctx, topo: Topology) -> None:
    """Underlay addresses and IPv4 router IPs of a bound node from its interfaces."""
    if ctx.node is None:
        return
    node = _get_node(topo, ctx.node, iface.source)
    for a, where in r["addrs"]:
        c = canonical_ip(a)
        if c is None or is_link_local(c):
            continue
        src = ctx.src(**({"line": where} if isinstance(where, int) else {"path": where}))
        if iface.kind == "underlay":
            node.addresses.append(
                NodeFact(source=src, confidence="loaded", value=c, role="address")
            )
        elif iface.kind == "cilium_host" and ipaddress.ip_address(c).version == 4:
            node.router_ips.append(
                NodeFact(
                    source=replace(src, note="IPv4 address of cilium_host"),
                    confidence="loaded",
                    value=c,
                    role="router-ip",
                )
            )


def _get_node(topo: Topology, name: str, source: Any) -> Node:
    n = topo.node(name)
    if n is None:
        n = Node(source=source, confidence="loaded", name=name)
        topo.nodes.append(n)
    return n
