"""Loaders for Kubernetes dumps: ``kubectl get pods -o wide`` (text), Pod and Node objects from
``kubectl get pods|nodes -o json|yaml`` (a List or a single object).

A pod with ``hostNetwork: true`` shares its node's address: it becomes a node address fact, not
a pod address (``kubectl get pods -o wide`` does not say which pods use the host network; an IP
shared by several pods of one node is taken to be the node's, with confidence inferred-high).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ._util import Ctx, ip_or_error, jpath
from .model import Node, NodeFact, Pod, Source, Topology

__all__ = ["looks_like_pods_wide", "parse_k8s_node", "parse_k8s_pod", "parse_pods_wide"]

Where = dict[str, Any]

_WIDE = re.compile(r"^(NAMESPACE\s+)?NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\b")


def looks_like_pods_wide(text: str) -> bool:
    """Whether the first non-blank line is the header of ``kubectl get pods -o wide``."""
    for line in text.splitlines():
        if line.strip():
            return bool(_WIDE.match(line))
    return False


def _node(topo: Topology, name: str, source: Source) -> Node:
    n = topo.node(name)
    if n is None:
        n = Node(source=source, confidence="loaded", name=name)
        topo.nodes.append(n)
    return n


def parse_pods_wide(text: str, ctx: Ctx, topo: Topology) -> None:
    """Add pods (namespace when ``-A``, name, node, IP) from ``kubectl get pods -o wide``."""
    lines = text.splitlines()
    hi = next(i for i, s in enumerate(lines) if s.strip())
    hdr = lines[hi]
    starts = [(m.start(), m.group(0)) for m in re.finditer(r"\S+(?: \S+)*", hdr)]
    names = [n for _, n in starts]
    pos = {n: s for s, n in starts}
    if "IP" not in pos or "NODE" not in pos:
        raise ctx.error("expected IP and NODE columns in the kubectl header", line=hi)
    order = [s for s, _ in starts] + [10**9]

    def cell(line: str, col: str) -> str:
        k = names.index(col)
        return line[order[k] : order[k + 1]].strip()

    rows = []
    for i in range(hi + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        if len(line) <= pos["NODE"] or line[:1].isspace():
            raise ctx.error(
                "expected a pod row aligned with the header (NAME ... IP NODE ...), found "
                f"{line.strip()[:60]!r}",
                line=i,
            )
        name = cell(line, "NAME")
        if " " in name:
            raise ctx.error(f"expected a pod name in the NAME column, found {name[:60]!r}", line=i)
        ip_txt = cell(line, "IP")
        ip = None if ip_txt in ("<none>", "") else ip_or_error(ctx, ip_txt, line=i, what="pod IP")
        node_txt = cell(line, "NODE")
        node = None if node_txt in ("<none>", "") else node_txt
        if node is not None and " " in node:
            raise ctx.error(f"expected a node name in the NODE column, found {node[:60]!r}", line=i)
        ns = cell(line, "NAMESPACE") if "NAMESPACE" in pos else None
        rows.append((i, ns, name, ip, node))
    if not rows:
        raise ctx.error("expected at least one pod row after the header", line=hi)
    shared: dict[tuple[str, str], int] = {}
    for _, _, _, ip, node in rows:
        if ip and node:
            shared[(node, ip)] = shared.get((node, ip), 0) + 1
    for i, ns, name, ip, node in rows:
        src = ctx.src(line=i)
        host_net = bool(ip and node and shared[(node, ip)] > 1)
        topo.pods.append(
            Pod(
                source=src,
                confidence="loaded",
                namespace=ns,
                name=name,
                node=node,
                ips=[ip] if ip else [],
                host_network=host_net,
            )
        )
        if node:
            n = _node(topo, node, src)
            if host_net and ip is not None and ip not in [f.value for f in n.addresses]:
                n.addresses.append(
                    NodeFact(
                        source=ctx.src(
                            line=i, note="IP shared by several pods of this node: host network"
                        ),
                        confidence="inferred-high",
                        value=ip,
                        role="address",
                    )
                )


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def parse_k8s_pod(item: dict[str, Any], ctx: Ctx, topo: Topology, where: Where) -> None:
    """Add one Pod object (``metadata``, ``spec.nodeName``, ``status.podIPs``/``hostIP``)."""
    p = where.get("path", "$")
    line = where.get("line")
    meta, spec, status = _d(item.get("metadata")), _d(item.get("spec")), _d(item.get("status"))
    name = meta.get("name")
    if not name:
        raise ctx.error("expected metadata.name on a Pod", line=line, path=p)
    src = ctx.src(line=line, path=p)
    ips: list[str] = []
    pod_ips = status.get("podIPs") or []
    for j, e in enumerate(pod_ips if isinstance(pod_ips, list) else []):
        c = ip_or_error(ctx, _d(e).get("ip"), line=line, path=jpath(p, "status", "podIPs", j, "ip"))
        if c and c not in ips:
            ips.append(c)
    c = ip_or_error(ctx, status.get("podIP"), line=line, path=jpath(p, "status", "podIP"))
    if c and c not in ips:
        ips.insert(0, c)
    ips.sort(key=lambda x: ipaddress.ip_address(x).version)
    host_net = bool(spec.get("hostNetwork"))
    node = spec.get("nodeName")
    node = str(node) if node else None
    topo.pods.append(
        Pod(
            source=src,
            confidence="loaded",
            namespace=meta.get("namespace"),
            name=str(name),
            node=node,
            ips=ips,
            host_network=host_net,
        )
    )
    if node:
        n = _node(topo, node, src)
        host_ips = [_d(e).get("ip") for e in (status.get("hostIPs") or []) if isinstance(e, dict)]
        host_ips = host_ips or [status.get("hostIP")]
        for j, h in enumerate(host_ips):
            hc = ip_or_error(ctx, h, line=line, path=jpath(p, "status", "hostIPs", j, "ip"))
            if hc and hc not in [f.value for f in n.addresses]:
                n.addresses.append(
                    NodeFact(
                        source=ctx.src(line=line, path=p, note="status.hostIP(s)"),
                        confidence="loaded",
                        value=hc,
                        role="address",
                    )
                )


def parse_k8s_node(item: dict[str, Any], ctx: Ctx, topo: Topology, where: Where) -> None:
    """Add one Node object (``status.addresses`` InternalIP/ExternalIP, ``spec.podCIDRs``)."""
    p = where.get("path", "$")
    line = where.get("line")
    meta, spec, status = _d(item.get("metadata")), _d(item.get("spec")), _d(item.get("status"))
    name = meta.get("name")
    if not name:
        raise ctx.error("expected metadata.name on a Node", line=line, path=p)
    src = ctx.src(line=line, path=p)
    n = Node(source=src, confidence="loaded", name=str(name))
    addrs = status.get("addresses") or []
    for j, a in enumerate(addrs if isinstance(addrs, list) else []):
        a = _d(a)
        if a.get("type") in ("InternalIP", "ExternalIP"):
            c = ip_or_error(
                ctx, a.get("address"), line=line, path=jpath(p, "status", "addresses", j, "address")
            )
            if c:
                n.addresses.append(
                    NodeFact(
                        source=ctx.src(line=line, path=p, note=str(a.get("type"))),
                        confidence="loaded",
                        value=c,
                        role="address",
                    )
                )
    cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    for j, cidr in enumerate(cidrs if isinstance(cidrs, list) else []):
        try:
            net = str(ipaddress.ip_network(str(cidr), strict=False))
        except ValueError:
            raise ctx.error(
                f"expected a CIDR, found {str(cidr)[:60]!r}",
                line=line,
                path=jpath(p, "spec", "podCIDRs", j),
            ) from None
        n.pod_cidrs.append(
            NodeFact(
                source=ctx.src(line=line, path=p, note="spec.podCIDRs"),
                confidence="loaded",
                value=net,
                role="pod-cidr",
            )
        )
    topo.nodes.append(n)
