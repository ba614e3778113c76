"""Terminal text of an explanation: a short summary first, then findings, then one block per path."""

from __future__ import annotations

import textwrap
from collections import Counter
from typing import Any

from ..explain._rows import number_ranges
from ..explain.model import SEVERITIES, Explanation, Finding, Hop, PacketPath
from ._overlay import overlay_line
from ._place import dropped_text, place_text
from .packets import printable

__all__ = ["explanation_text"]

_MAX_CONFLICTS_SHOWN = 3
"""Topology conflicts named in the summary line; the rest are counted."""

MAX_PATHS = 20
"""Paths shown in full by default; beyond it the paths are grouped by flow (``--max-paths``)."""

_MAX_LABELS = 20
"""Node and pod labels named in the summary line; the rest are counted (JSON lists all)."""

WIDTH = 100
_MARK = {"problem": "PROBLEM", "warning": "WARNING", "info": "info"}


def _conflicts_line(conflicts: list[dict[str, Any]]) -> str:
    """One line for the topology's conflicts: how many, on how many facts, per field when
    several fields disagree, and the first few facts by name."""
    facts = list(dict.fromkeys(f"{c.get('subject')} {c.get('field')}" for c in conflicts))
    shown = ", ".join(facts[:_MAX_CONFLICTS_SHOWN])
    more = len(facts) - _MAX_CONFLICTS_SHOWN
    fields = Counter(str(c.get("field")) for c in conflicts)
    on = f" on {len(facts)} facts" if len(facts) != len(conflicts) else ""
    per = (
        "; by field: " + ", ".join(f"{f} {n}" for f, n in fields.most_common())
        if len(fields) > 1
        else ""
    )
    return (
        f"Topology conflicts: {len(conflicts)}{on} ({shown}"
        + (f", and {more} more" if more > 0 else "")
        + f"{per}; `vxlanlens topology` shows both values and sources)"
    )


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
    labels = topo.get(key, [])
    names = [f"{n} (probably {probable[n]})" if n in probable else n for n in labels[:_MAX_LABELS]]
    more = len(labels) - _MAX_LABELS
    return ", ".join(names) + (f" and {more} more" if more > 0 else "") or "-"


def _flow_key(path: PacketPath) -> tuple[object, ...]:
    """What makes paths one flow: one requester asking one target the same kind of question
    (one echo id, one TCP destination port)."""
    return (path.kind, path.src_ip, path.dst_ip or path.target, path.echo_id, path.dst_port)


def _grouped_paths(paths: list[PacketPath], max_paths: int, left_out: int = 0) -> list[str]:
    """Paths grouped by flow, with counts: the first path of each of the first ``max_paths``
    flows in full, then how many flows and paths are not shown (``left_out``: exchanges the
    explanation gave no path of their own)."""
    flows: dict[tuple[object, ...], list[int]] = {}
    for n, path in enumerate(paths, 1):
        flows.setdefault(_flow_key(path), []).append(n)
    shown = list(flows.values())[:max_paths]
    built = (
        f", for the first {len(paths)} exchanges ({left_out} more have no path of their own: "
        "`vxlanlens exchanges` lists them)"
        if left_out
        else ""
    )
    out = [
        "",
        f"Paths: {len(paths)} in {len(flows)} flows{built} (a flow: one requester asking one "
        f"target the same kind of question); the first path of {len(shown)} of them is shown "
        f"(--max-paths N shows more; -f json lists {'these' if left_out else 'every'} path"
        f"{'s' if left_out else ''})",
    ]
    for numbers in shown:
        path = paths[numbers[0] - 1]
        out.append("")
        out += _path_lines(numbers[0], path)
        if len(numbers) > 1:
            statuses: dict[str, int] = {}
            for k in numbers:
                st = str(paths[k - 1].status or "?")
                statuses[st] = statuses.get(st, 0) + 1
            counted = ", ".join(f"{v} {k}" for k, v in statuses.items())
            out.append(f"  same flow: {len(numbers)} paths ({counted}), paths {_ranges(numbers)}")
    hidden = list(flows.values())[max_paths:]
    if hidden:
        out += [
            "",
            f"{len(hidden)} more flows ({sum(len(x) for x in hidden)} paths) not shown.",
        ]
    return out


def _ranges(numbers: list[int]) -> str:
    """``1-3, 7, 9-10`` for sorted numbers (at most 8 ranges, then ``...``)."""
    parts = number_ranges(numbers)
    return ", ".join(parts[:8]) + (", ..." if len(parts) > 8 else "")


def explanation_text(exp: Explanation, *, max_paths: int = MAX_PATHS) -> str:
    """The explanation as plain text for a terminal (about 100 columns wide); control and
    bidirectional-override characters from dumps and captures are shown as escapes.

    Up to ``max_paths`` paths are shown one by one; beyond that they are grouped by flow
    (the first path of each of the first ``max_paths`` flows, with the flow's counts), and
    the summary names at most 20 nodes and pods (the JSON has everything)."""
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
            named = not str(p.get("pod", "")).startswith("pod ")  # unnamed: "pod <ip>"
            where = "at " + (where[len("pod ") :] if named else where)
        elif p.get("kind") == "node" and where.startswith("underlay of "):
            where = "on the " + where
        dropped = dropped_text(cap)
        if dropped:
            where += f"; {dropped} (pcapng statistics)"
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
        kind, _, status = key.partition("_")
        if status and kind in ("nd", "arp", "echo", "tcp", "icmp-error"):
            # a duplicate is a request or answer sent again, not a duplicate address
            ex_parts.append(f"{kind} {'repeats' if status == 'duplicate' else status}: {n}")
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
    line = overlay_line(topo)
    if line is not None:
        out.append(line)
    conflicts = topo.get("conflicts", [])
    if conflicts:
        out.append(_conflicts_line(conflicts))

    if exp.findings:
        out += ["", "Findings"]
        for f in exp.findings:
            out += _wrap(f.statement, "  ", f"[{_MARK[f.severity]}] {f.id}: ")
            if f.evidence:
                out += _wrap(_evidence(f), "      ", "evidence: ")
    if len(exp.paths) > max_paths:
        out += _grouped_paths(exp.paths, max(1, max_paths), c.get("paths_left_out", 0))
    elif exp.paths:
        for n, path in enumerate(exp.paths, 1):
            out.append("")
            out += _path_lines(n, path)
    if exp.unknowns:
        out += ["", "Not known from this input"]
        for u in exp.unknowns:
            out += _wrap(u, "  ", "- ")
    return printable("\n".join(out) + "\n")
