"""``bridge fdb show`` (text and ``bridge -j fdb show`` JSON): forwarding-database entries.

On a VXLAN device (``flannel.1``, ``vxlan.calico``) an entry ``MAC dst IP self permanent`` says
that frames for ``MAC`` (a remote VTEP's) are encapsulated to the node ``IP``; an all-zero MAC
is the default destination. Bridge entries (``master cni0``) and multicast entries are kept too.
Each entry cites its file and line (text) or JSON path.
"""

from __future__ import annotations

import re
from typing import Any

from ._util import Ctx, int_or_error, ip_or_error, jpath, mac_or_error
from .model import FdbEntry, Topology

__all__ = ["is_fdb_item", "looks_like_fdb_text", "parse_fdb_json", "parse_fdb_text"]

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_KEYED = ("dev", "dst", "vlan", "port", "vni", "src_vni", "via", "nhid", "master")
_STATES = ("permanent", "static", "stale", "dynamic")
_WORDS = ("dev", "dst", "self", "master", "permanent", "static", "vlan")


def looks_like_fdb_text(text: str) -> bool:
    """Whether ``text`` starts like ``bridge fdb show``: ``MAC [dev X] [dst IP] ... [self]``
    (the lines after it are checked by the parser, which names a bad one)."""
    first = next((ln.split() for ln in text.splitlines() if ln.strip()), [])
    return len(first) > 1 and bool(_MAC.match(first[0])) and any(x in _WORDS for x in first[1:])


def is_fdb_item(item: dict[str, Any]) -> bool:
    """Whether a JSON object is a ``bridge -j fdb show`` entry: ``mac`` with ``ifname``,
    ``dst``, ``flags`` or ``master`` (``bridge -j fdb show dev X`` leaves ``ifname`` out), and
    no interface or neighbour fields (``ifindex``, ``addr_info``, ``lladdr``)."""
    keys = set(item)
    return (
        "mac" in keys
        and bool(keys & {"ifname", "dst", "flags", "master"})
        and not (keys & {"ifindex", "addr_info", "lladdr"})
    )


def parse_fdb_text(text: str, ctx: Ctx, topo: Topology) -> None:
    """Add the entries of ``bridge fdb show`` text."""
    n = 0
    for i, line in enumerate(text.splitlines()):
        words = line.split()
        if not words:
            continue
        if not _MAC.match(words[0]):
            raise ctx.error(f"expected a MAC address first, found {words[0][:40]!r}", line=i)
        kv: dict[str, str] = {}
        flags: list[str] = []
        state = None
        k = 1
        while k < len(words):
            w = words[k]
            if w in _KEYED and k + 1 < len(words):
                kv[w] = words[k + 1]
                k += 2
                continue
            if w in _STATES:
                state = w
            else:
                flags.append(w)
            k += 1
        topo.fdb.append(
            FdbEntry(
                source=ctx.src(line=i),
                confidence="loaded",
                node=ctx.node,
                dev=kv.get("dev"),
                mac=mac_or_error(ctx, words[0], line=i) or "",
                dst=ip_or_error(ctx, kv["dst"], line=i, what="dst address")
                if "dst" in kv
                else None,
                vni=int_or_error(ctx, kv.get("vni"), line=i, what="vni"),
                port=int_or_error(ctx, kv.get("port"), line=i, what="port"),
                vlan=int_or_error(ctx, kv.get("vlan"), line=i, what="vlan"),
                master=kv.get("master"),
                flags=flags,
                state=state,
            )
        )
        n += 1
    if n == 0:
        raise ctx.error("expected at least one FDB entry", line=0)


def parse_fdb_json(data: list[Any], ctx: Ctx, topo: Topology) -> None:
    """Add the entries of ``bridge -j fdb show`` output."""
    for k, item in enumerate(data):
        p = jpath("$", k)
        if not isinstance(item, dict) or "mac" not in item:
            raise ctx.error("expected an FDB object with 'mac'", path=p)
        flags = item.get("flags") or []
        if not isinstance(flags, list):
            raise ctx.error("expected a list of flags", path=jpath(p, "flags"))
        state = item.get("state")
        topo.fdb.append(
            FdbEntry(
                source=ctx.src(path=p),
                confidence="loaded",
                node=ctx.node,
                dev=str(item["ifname"]) if item.get("ifname") else None,
                mac=mac_or_error(ctx, item["mac"], path=jpath(p, "mac")) or "",
                dst=ip_or_error(ctx, item["dst"], path=jpath(p, "dst"), what="dst address")
                if item.get("dst")
                else None,
                vni=int_or_error(ctx, item.get("vni"), path=jpath(p, "vni"), what="vni"),
                port=int_or_error(ctx, item.get("port"), path=jpath(p, "port"), what="port"),
                vlan=int_or_error(ctx, item.get("vlan"), path=jpath(p, "vlan"), what="vlan"),
                master=str(item["master"]) if item.get("master") else None,
                flags=[str(f) for f in flags],
                state=str(state) if state else None,
            )
        )
