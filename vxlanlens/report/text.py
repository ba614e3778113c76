"""Terminal text of an explanation: a short summary first, then findings, then one block per path."""

from __future__ import annotations

import textwrap

from ..explain.model import SEVERITIES, Explanation, Finding, Hop, PacketPath
from ._place import place_text
from .packets import printable

__all__ = ["explanation_text"]

_MAX_CONFLICTS_SHOWN = 3
"""Topology conflicts named in the summary line; the rest are counted."""

WIDTH = 100
_MARK = {"problem": "PROBLEM", "warning": "WARNING", "info": "info"}


def _wrap(text: str, indent: str, first: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=indent + first,
        subsequent_indent=indent + " " * len(first),
        break_on_hyphens=False,
        break_long_words=False,
    ) or [indent + first]


def _evidence(f: Finding, limit: int = 8) -> str:
    shown = [str(e) for e in f.evidence[:limit]]
    more = f" (+{len(f.evidence) - limit} more)" if len(f.evidence) > limit else ""
    return ", ".join(shown) + more


def _hop_lines(hops: list[Hop], indent: str) -> list[str]:
    lines = []
    for i, h in enumerate(hops, 1):
        mark = "seen    " if h.observed else "inferred"
        ev = f"  [{', '.join(str(e) for e in h.evidence[:3])}]" if h.evidence else ""
        lines.append(f"{indent}{i:>2}. {mark}  {h.place}{ev}")
        if h.note:
            lines += _wrap(h.note, indent + " " * 16)
    return lines


def _path_lines(n: int, path: PacketPath) -> list[str]:
    lines = [f"Path {n}: {path.summary}"]
    if path.hops:
        lines.append("  request:")
        lines += _hop_lines(path.hops, "    ")
    if path.reply_hops:
        lines.append("  reply:")
        lines += _hop_lines(path.reply_hops, "    ")
    if path.findings:
        lines.append("  findings: " + ", ".join(sorted({f.id for f in path.findings})))
    return lines


def _labels(topo: dict, key: str) -> str:
    """The node or pod labels of the summary, each one that is probably another named one
    followed by ``(probably NAME)`` (the evidence is in ``topology.probable`` of the JSON)."""
    probable = {p["subject"]: p["other"] for p in topo.get("probable", [])}
    names = [f"{n} (probably {probable[n]})" if n in probable else n for n in topo.get(key, [])]
    return ", ".join(names) or "-"


def explanation_text(exp: Explanation) -> str:
    """The explanation as plain text for a terminal (about 100 columns wide); control and
    bidirectional-override characters from dumps and captures are shown as escapes."""
    out: list[str] = []
    c = exp.counts
    out.append(
        f"vxlanlens explain: {len(exp.captures)} capture(s), {c.get('frames', 0)} frames ({c.get('tunnelled_frames', 0)} tunnelled)"
    )
    points = {p["capture"]: p for p in exp.topology.get("capture_points", [])}
    width = min(40, max([16, *(len(str(c["label"])) for c in exp.captures)]))
    for cap in exp.captures:
        p = points.get(cap["label"], {})
        where = place_text(p)
        if p.get("kind") == "pod" and where.startswith("pod "):
            where = "at " + where[len("pod ") :]
        elif p.get("kind") == "node" and where.startswith("underlay of "):
            where = "on the " + where
        out.append(
            f"  {cap['label']:<{width}} {cap['frames']:>7} frames  {cap.get('path', '')}  {where}".rstrip()
        )
    topo = exp.topology
    if topo.get("loaded"):
        out.append(
            f"Topology: {len(topo.get('sources', []))} dump(s); nodes: {_labels(topo, 'nodes')}; pods: {_labels(topo, 'pods')}"
        )
    else:
        out.append(
            f"Topology: inferred from the captures only; nodes: {_labels(topo, 'nodes')}; pods: {_labels(topo, 'pods')}"
        )
    ex_parts = []
    for key, n in sorted(c.items()):
        if "_" in key and key.split("_", 1)[0] in ("nd", "arp", "echo", "tcp", "icmp-error"):
            ex_parts.append(f"{key.replace('_', ' ')}: {n}")
    out.append(
        f"Exchanges: {c.get('exchanges', 0)}" + (f" ({'; '.join(ex_parts)})" if ex_parts else "")
    )
    sev = exp.by_severity()
    out.append(
        "Findings: " + ", ".join(f"{sev[s]} {s}{'s' if sev[s] != 1 else ''}" for s in SEVERITIES)
    )
    if c.get("decode_errors"):
        out.append(
            f"Decode errors: {c['decode_errors']} frame(s) could not be fully decoded (see `vxlanlens packets`)"
        )
    overlay = topo.get("overlay")
    if isinstance(overlay, dict) and overlay.get("name"):
        conf = overlay.get("confidence")
        how = "stated" if conf == "stated" else f"{conf} confidence"
        out.append(f"Overlay: {overlay.get('title')} ({how})")
    conflicts = topo.get("conflicts", [])
    if conflicts:
        shown = ", ".join(
            f"{c.get('subject')} {c.get('field')}" for c in conflicts[:_MAX_CONFLICTS_SHOWN]
        )
        more = len(conflicts) - _MAX_CONFLICTS_SHOWN
        out.append(
            f"Topology conflicts: {len(conflicts)} ({shown}"
            + (f", and {more} more" if more > 0 else "")
            + "; `vxlanlens topology` shows both values and sources)"
        )

    if exp.findings:
        out += ["", "Findings"]
        for f in exp.findings:
            out += _wrap(f.statement, "  ", f"[{_MARK[f.severity]}] {f.id}: ")
            if f.evidence:
                out += _wrap(_evidence(f), "      ", "evidence: ")
    if exp.paths:
        for n, path in enumerate(exp.paths, 1):
            out.append("")
            out += _path_lines(n, path)
    if exp.unknowns:
        out += ["", "Not known from this input"]
        for u in exp.unknowns:
            out += _wrap(u, "  ", "- ")
    return printable("\n".join(out) + "\n")
