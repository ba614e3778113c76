"""Loaders for Cilium's own dumps: ``cilium(-dbg) endpoint list`` (JSON in the current and the
older shape, and the text table), ``cilium(-dbg) identity list`` (text and JSON), and the
CiliumEndpoint, CiliumNode and CiliumIdentity custom resources (JSON or YAML, single or list).

Endpoint JSON, current shape (Cilium ≥ 1.4)::

    [{"id": 154, "status": {"external-identifiers": {"k8s-namespace": "default",
      "k8s-pod-name": "cni-7t9p4", ...}, "identity": {"id": 40172, "labels": [...]},
      "networking": {"addressing": [{"ipv4": "...", "ipv6": "..."}], "mac": "...",
      "host-mac": "...", "interface-name": "lxc...", "interface-index": 19}, "state": "ready"}}]

Older shape: the same fields at the top level of each endpoint (``networking``, ``identity``)
and the pod as ``"pod-name": "ns/pod"``.
"""

from __future__ import annotations

import re
from typing import Any

from ._util import Ctx, int_or_error, ip_or_error, jpath, mac_or_error, split_pod_ref
from .model import Identity, Interface, Node, NodeFact, Pod, Topology

__all__ = [
    "is_endpoint_item",
    "looks_like_endpoint_list_text",
    "looks_like_identity_list_text",
    "parse_cilium_endpoint",
    "parse_cilium_identity",
    "parse_cilium_node",
    "parse_endpoint_list_json",
    "parse_endpoint_list_text",
    "parse_identity_list_json",
    "parse_identity_list_text",
]

Where = dict[str, Any]


def _src(ctx: Ctx, where: Where, note: str | None = None) -> Any:
    return ctx.src(line=where.get("line"), path=where.get("path"), note=note)


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def is_endpoint_item(item: Any) -> bool:
    """Whether a JSON object looks like one endpoint of ``cilium endpoint list -o json``."""
    if not isinstance(item, dict) or "id" not in item:
        return False
    st = _dict(item.get("status"))
    return bool(
        "networking" in st
        or "external-identifiers" in st
        or ("networking" in item and ("identity" in item or "pod-name" in item))
    )


def parse_endpoint_list_json(data: list[Any], ctx: Ctx, topo: Topology) -> None:
    """Add pods, host-side veths and identities from ``cilium(-dbg) endpoint list -o json``."""
    for k, item in enumerate(data):
        p = jpath("$", k)
        if not is_endpoint_item(item):
            raise ctx.error("expected an endpoint object with 'id' and 'status.networking'", path=p)
        _endpoint(item, ctx, topo, {"path": p}, name=None, namespace=None)


def parse_cilium_endpoint(item: dict[str, Any], ctx: Ctx, topo: Topology, where: Where) -> None:
    """Add the pod described by one CiliumEndpoint resource."""
    meta = _dict(item.get("metadata"))
    _endpoint(item, ctx, topo, where, name=meta.get("name"), namespace=meta.get("namespace"))


def _endpoint(
    item: dict[str, Any], ctx: Ctx, topo: Topology, where: Where, name: Any, namespace: Any
) -> None:
    p = where.get("path", "$")
    st = _dict(item.get("status")) or item
    net = _dict(st.get("networking")) or _dict(item.get("networking"))
    ext = _dict(st.get("external-identifiers")) or _dict(item.get("external-identifiers"))
    ident = _dict(st.get("identity")) or _dict(item.get("identity"))
    src = _src(ctx, where)
    ips: list[str] = []
    addressing = net.get("addressing") or []
    if not isinstance(addressing, list):
        raise ctx.error(
            "expected a list",
            line=where.get("line"),
            path=jpath(p, "status", "networking", "addressing"),
        )
    for j, a in enumerate(addressing):
        if not isinstance(a, dict):
            continue
        for fam in ("ipv4", "ipv6"):
            c = ip_or_error(
                ctx,
                a.get(fam),
                line=where.get("line"),
                path=jpath(p, "networking", "addressing", j, fam),
            )
            if c and c not in ips:
                ips.append(c)
    labels = ident.get("labels") or []
    labels = [str(x) for x in labels] if isinstance(labels, list) else []
    ident_id = int_or_error(
        ctx,
        ident.get("id"),
        line=where.get("line"),
        path=jpath(p, "identity", "id"),
        what="identity number",
    )
    if ident_id is not None:
        topo.identities.append(
            Identity(source=src, confidence="loaded", id=ident_id, labels=labels)
        )
    mac = mac_or_error(
        ctx, net.get("mac"), line=where.get("line"), path=jpath(p, "networking", "mac")
    )
    host_mac = mac_or_error(
        ctx, net.get("host-mac"), line=where.get("line"), path=jpath(p, "networking", "host-mac")
    )
    ifname = net.get("interface-name")
    ifname = str(ifname) if ifname else None
    ifindex = int_or_error(
        ctx,
        net.get("interface-index"),
        line=where.get("line"),
        path=jpath(p, "networking", "interface-index"),
        what="ifindex",
    )
    node_ip = (
        ip_or_error(
            ctx,
            net.get("node"),
            line=where.get("line"),
            path=jpath(p, "networking", "node"),
            what="node address",
        )
        if isinstance(net.get("node"), str)
        else None
    )
    ns = ext.get("k8s-namespace") or namespace
    pname = ext.get("k8s-pod-name") or name
    old = ext.get("pod-name") or item.get("pod-name")
    if (not pname) and isinstance(old, str) and old not in ("", ":"):
        ons, oname = split_pod_ref(old)
        ns, pname = ns or ons, oname
    reserved = [lab for lab in labels if lab.startswith("reserved:")]
    ref = f"{ns}/{pname}" if ns and pname else (str(pname) if pname else None)
    if ifname or host_mac:
        kind = (
            "lxc"
            if (ifname or "lxc").startswith("lxc")
            else ("cilium_host" if ifname == "cilium_host" else "other")
        )
        note = (
            "veth of Cilium's health endpoint"
            if ifname == "lxc_health" or "reserved:health" in reserved
            else None
        )
        iface = Interface(
            source=src,
            confidence="loaded",
            node=ctx.node,
            namespace="host",
            name=ifname,
            kind=kind,
            mac=host_mac,
            ifindex=ifindex,
            pod=ref,
            note=note,
        )
        topo.interfaces.append(iface)
    if reserved and not pname:
        return  # host / health / init endpoints are not pods
    eid = int_or_error(
        ctx,
        item.get("id") if "id" in item else st.get("id"),
        line=where.get("line"),
        path=jpath(p, "id"),
        what="endpoint id",
    )
    topo.pods.append(
        Pod(
            source=src,
            confidence="loaded",
            namespace=str(ns) if ns else None,
            name=str(pname) if pname else None,
            node=ctx.node,
            ips=ips,
            mac=mac,
            host_interface=ifname,
            host_mac=host_mac,
            endpoint_id=eid,
            identity=ident_id,
            node_ip=node_ip,
        )
    )


# --- endpoint list, text --------------------------------------------------------------------------
_EP_HDR = re.compile(r"^ENDPOINT\s+POLICY.*IDENTITY\s+LABELS.*IPv6\s+IPv4\s+STATUS")


def looks_like_endpoint_list_text(text: str) -> bool:
    """Whether the first non-blank line is the header of ``cilium endpoint list``."""
    for line in text.splitlines():
        if line.strip():
            return bool(_EP_HDR.match(line.strip()))
    return False


def parse_endpoint_list_text(text: str, ctx: Ctx, topo: Topology) -> None:
    """Add endpoints (IPs, identity, labels) from the text table of ``cilium endpoint list``;
    it names no pods and no MACs, so the pods stay unnamed until merged with other dumps."""
    lines = text.splitlines()
    hi = next(i for i, s in enumerate(lines) if s.strip())
    hdr = lines[hi]
    cols = {}
    for key in ("IDENTITY", "LABELS", "IPv6", "IPv4", "STATUS"):
        cols[key] = hdr.index(key)
    cur: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = []
    for i in range(hi + 1, len(lines)):
        line = lines[i]
        if not line.strip() or line.strip().startswith("ENFORCEMENT"):
            continue
        m = re.match(r"^(\d+)\s", line)
        if m:
            ident = line[cols["IDENTITY"] : cols["LABELS"]].strip()
            label = line[cols["LABELS"] : cols["IPv6"]].strip()
            v6 = line[cols["IPv6"] : cols["IPv4"]].strip()
            v4 = line[cols["IPv4"] : cols["STATUS"]].strip()
            if ident and not ident.isdigit():
                raise ctx.error(
                    f"expected an identity number in the IDENTITY column, found {ident[:30]!r}",
                    line=i,
                )
            cur = {
                "line": i,
                "id": int(m.group(1)),
                "identity": int(ident) if ident else None,
                "labels": [label] if label else [],
                "ips": [
                    x for x in (ip_or_error(ctx, v4, line=i), ip_or_error(ctx, v6, line=i)) if x
                ],
            }
            rows.append(cur)
        elif line[:1].isspace() and cur is not None:
            label = line.strip()
            if " " in label:
                raise ctx.error(
                    f"expected one label per continuation line, found {label[:60]!r}", line=i
                )
            cur["labels"].append(label)
        else:
            raise ctx.error(
                f"expected an endpoint row starting with its id, found {line.strip()[:60]!r}",
                line=i,
            )
    if not rows:
        raise ctx.error("expected at least one endpoint row", line=hi)
    for r in rows:
        src = ctx.src(line=r["line"])
        if r["identity"] is not None:
            topo.identities.append(
                Identity(source=src, confidence="loaded", id=r["identity"], labels=r["labels"])
            )
        if any(lab.startswith("reserved:") for lab in r["labels"]):
            continue
        ns = next(
            (
                lab.split("=", 1)[1]
                for lab in r["labels"]
                if lab.startswith("k8s:io.kubernetes.pod.namespace=")
            ),
            None,
        )
        topo.pods.append(
            Pod(
                source=src,
                confidence="loaded",
                namespace=ns,
                node=ctx.node,
                ips=r["ips"],
                endpoint_id=r["id"],
                identity=r["identity"],
            )
        )


# --- identity list ---------------------------------------------------------------------------------
_ID_HDR = re.compile(r"^ID\s+LABELS\s*$")


def looks_like_identity_list_text(text: str) -> bool:
    """Whether the first non-blank line is the ``ID  LABELS`` header of ``cilium identity list``."""
    for line in text.splitlines():
        if line.strip():
            return bool(_ID_HDR.match(line.strip()))
    return False


def parse_identity_list_text(text: str, ctx: Ctx, topo: Topology) -> None:
    """Add identities from the text of ``cilium(-dbg) identity list``."""
    lines = text.splitlines()
    hi = next(i for i, s in enumerate(lines) if s.strip())
    cur: Identity | None = None
    n = 0
    for i in range(hi + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        m = re.match(r"^(\d+)\s+(\S+)\s*$", line)
        if m:
            ident = int_or_error(ctx, m.group(1), line=i, what="identity number")
            cur = Identity(
                source=ctx.src(line=i), confidence="loaded", id=ident or 0, labels=[m.group(2)]
            )
            topo.identities.append(cur)
            n += 1
        elif line[:1].isspace() and cur is not None and len(line.split()) == 1:
            cur.labels.append(line.strip())
        else:
            raise ctx.error(
                f"expected 'ID LABEL' or an indented label, found {line.strip()[:60]!r}", line=i
            )
    if n == 0:
        raise ctx.error("expected at least one identity row after the ID LABELS header", line=hi)


def parse_identity_list_json(data: list[Any], ctx: Ctx, topo: Topology) -> None:
    """Add identities from ``cilium(-dbg) identity list -o json``."""
    for k, item in enumerate(data):
        p = jpath("$", k)
        if not isinstance(item, dict) or "id" not in item:
            raise ctx.error("expected an identity object with 'id' and 'labels'", path=p)
        labels = item.get("labels") or []
        if not isinstance(labels, list):
            raise ctx.error("expected a list of labels", path=jpath(p, "labels"))
        ident = int_or_error(ctx, item["id"], path=jpath(p, "id"), what="identity number")
        topo.identities.append(
            Identity(
                source=ctx.src(path=p),
                confidence="loaded",
                id=ident or 0,
                labels=[str(x) for x in labels],
            )
        )


def parse_cilium_identity(item: dict[str, Any], ctx: Ctx, topo: Topology, where: Where) -> None:
    """Add one CiliumIdentity resource (its name is the number, ``security-labels`` the labels)."""
    meta = _dict(item.get("metadata"))
    ident = int_or_error(
        ctx,
        meta.get("name"),
        line=where.get("line"),
        path=jpath(where.get("path", "$"), "metadata", "name"),
        what="identity number",
    )
    labels = _dict(item.get("security-labels"))
    topo.identities.append(
        Identity(
            source=_src(ctx, where),
            confidence="loaded",
            id=ident or 0,
            labels=[f"{k}={v}" if v not in (None, "") else str(k) for k, v in labels.items()],
        )
    )


def parse_cilium_node(item: dict[str, Any], ctx: Ctx, topo: Topology, where: Where) -> None:
    """Add one CiliumNode resource: underlay addresses, router IP (CiliumInternalIP), pod CIDRs."""
    p = where.get("path", "$")
    meta = _dict(item.get("metadata"))
    spec = _dict(item.get("spec"))
    name = meta.get("name")
    if not name:
        raise ctx.error("expected metadata.name on a CiliumNode", line=where.get("line"), path=p)
    src = _src(ctx, where)
    node = Node(source=src, confidence="loaded", name=str(name))
    addrs = spec.get("addresses") or []
    for j, a in enumerate(addrs if isinstance(addrs, list) else []):
        if not isinstance(a, dict):
            continue
        c = ip_or_error(
            ctx, a.get("ip"), line=where.get("line"), path=jpath(p, "spec", "addresses", j, "ip")
        )
        if c is None:
            continue
        typ = str(a.get("type", ""))
        if typ == "CiliumInternalIP":
            node.router_ips.append(
                NodeFact(
                    source=_src(ctx, where, "CiliumInternalIP"),
                    confidence="loaded",
                    value=c,
                    role="router-ip",
                )
            )
        elif typ in ("InternalIP", "ExternalIP"):
            node.addresses.append(
                NodeFact(source=_src(ctx, where, typ), confidence="loaded", value=c, role="address")
            )
    ipam = _dict(spec.get("ipam"))
    cidrs = ipam.get("podCIDRs") or []
    for j, cidr in enumerate(cidrs if isinstance(cidrs, list) else []):
        node.pod_cidrs.append(
            NodeFact(
                source=_src(ctx, where, "spec.ipam.podCIDRs"),
                confidence="loaded",
                value=_network(ctx, cidr, where, jpath(p, "spec", "ipam", "podCIDRs", j)),
                role="pod-cidr",
            )
        )
    topo.nodes.append(node)


def _network(ctx: Ctx, value: Any, where: Where, path: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise ctx.error(
            f"expected a CIDR, found {str(value)[:60]!r}", line=where.get("line"), path=path
        ) from None
