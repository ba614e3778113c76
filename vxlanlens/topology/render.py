"""The topology model as plain text for a terminal (``vxlanlens topology``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import host_label

if TYPE_CHECKING:
    from .facts import Peer, Route
    from .model import Topology

__all__ = ["format_table"]


def format_table(self: Topology) -> str:
    """Plain-text rendering for a terminal: one section per kind of fact, every fact with
    its source and confidence."""
    out: list[str] = []

    def section(
        title: str, header: list[str], rows: list[list[str]], count: int | None = None
    ) -> None:
        if not rows:
            return
        widths = [max(len(header[k]), *(len(r[k]) for r in rows)) for k in range(len(header))]
        widths[-1] = 0  # last column (source) is not padded
        out.append(f"{title} ({len(rows) if count is None else count})")
        out.append(
            "  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)).rstrip()
        )
        for r in rows:
            out.append(
                "  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip()
            )
        out.append("")

    def src(f: Any) -> str:  # any fact: its source, confidence and field sources
        s = f"{f.source} [{f.confidence}]"
        fs = getattr(f, "field_sources", {})
        if fs:
            s += "; " + "; ".join(f"{k} from {v} [{c}]" for k, (v, c) in sorted(fs.items()))
        return s

    def d(v: Any) -> str:
        return "-" if v in (None, "", []) else str(v)

    node_rows = []
    for n in self.nodes:
        node_rows.append([n.label, "node", "", src(n)])
        for f in (*n.addresses, *n.router_ips, *n.pod_cidrs):
            node_rows.append(["", f.role, f.value, f"{f.source} [{f.confidence}]"])
    section("Nodes", ["node", "fact", "value", "source"], node_rows, len(self.nodes))
    section(
        "Interfaces",
        ["node", "namespace", "ifindex", "name", "kind", "mac", "addresses", "peer", "source"],
        [
            [
                d(i.node),
                d(i.namespace),
                d(i.ifindex),
                i.label,
                i.kind,
                d(i.mac),
                d(",".join(i.addresses)),
                d(_peer_text(i.peer)),
                src(i),
            ]
            for i in self.interfaces
        ],
    )
    section(
        "Pods",
        ["pod", "node", "ips", "mac", "host interface", "identity", "source"],
        [
            [
                p.label,
                d(p.node),
                d(",".join(p.ips)),
                d(p.mac),
                d(" ".join(x for x in (p.host_interface, p.host_mac) if x)),
                d(p.identity),
                src(p),
            ]
            for p in self.pods
        ],
    )
    section(
        "Hosts",
        ["host", "ips", "mac", "source"],
        [[host_label(h), d(",".join(h.ips)), d(h.mac), src(h)] for h in self.hosts],
    )
    section(
        "Routes",
        ["node", "namespace", "route", "source"],
        [[d(r.node), d(r.namespace), _route_text(r), src(r)] for r in self.routes],
    )
    section(
        "Neighbours",
        ["node", "namespace", "ip", "dev", "lladdr", "flags", "source"],
        [
            [
                d(n.node),
                d(n.namespace),
                n.ip,
                d(n.dev),
                d(n.lladdr),
                d(" ".join(x for x in ("router" if n.router else "", n.state or "") if x)),
                src(n),
            ]
            for n in self.neighbors
        ],
    )
    section(
        "Forwarding database",
        ["node", "dev", "mac", "dst", "flags", "source"],
        [
            [
                d(f.node),
                d(f.dev or f.master),
                f.mac,
                d(f.dst),
                d(" ".join(x for x in (*f.flags, f.state or "") if x)),
                src(f),
            ]
            for f in self.fdb
        ],
    )
    section(
        "Identities",
        ["id", "labels", "source"],
        [[str(i.id), d(", ".join(i.labels)), src(i)] for i in self.identities],
    )
    section(
        "Captures",
        ["capture", "kind", "node", "interface", "pod", "how", "source"],
        [
            [
                c.capture,
                d(c.kind),
                d(c.node or (f"node {c.node_ip}" if c.node_ip else None)),
                d(c.interface),
                d(c.pod),
                d(c.how),
                src(c),
            ]
            for c in self.captures
        ],
    )
    if self.probable:
        out.append(f"Probably the same ({len(self.probable)})")
        out += [f"  {x}" for x in self.probable]
        out.append("")
    if self.conflicts:
        out.append(f"Conflicts ({len(self.conflicts)})")
        for c in self.conflicts:
            out.append(f"  {c}")
        out.append("")
    if self.unknown:
        out.append("Not known")
        out += [f"  {u}" for u in self.unknown]
        out.append("")
    if self.notes:
        out.append("Notes")
        out += [f"  {u}" for u in self.notes]
        out.append("")
    if not out:
        return "(empty topology)\n"
    return "\n".join(out).rstrip("\n") + "\n"


def _peer_text(p: Peer | None) -> str:
    if p is None:
        return ""
    parts = []
    if p.name:
        parts.append(p.name)
    if p.ifindex is not None:
        parts.append(f"if{p.ifindex}")
    if p.netns:
        parts.append(f"netns {p.netns}")
    elif p.netnsid is not None:
        parts.append(f"netnsid {p.netnsid}")
    return " ".join(parts)


def _route_text(r: Route) -> str:
    if r.text:
        return r.text
    parts = [x for x in (r.type, r.dst) if x]
    for k, v in (
        ("via", r.via),
        ("dev", r.dev),
        ("proto", r.proto),
        ("scope", r.scope),
        ("src", r.src),
        ("metric", r.metric),
        ("mtu", r.mtu),
        ("pref", r.pref),
    ):
        if v is not None:
            parts += [k, str(v)]
    return " ".join(parts)
