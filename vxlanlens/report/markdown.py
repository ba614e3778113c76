"""Markdown for bug tickets: summary, findings by severity, one section per path with a Mermaid
sequence diagram, evidence in ``<details>`` blocks, and how to reproduce. Stays under the size a
GitHub or Jira comment accepts."""

from __future__ import annotations

import itertools
import re
from typing import Any

from ..explain.model import SEVERITIES, Explanation, Hop, Path

__all__ = ["MAX_CHARS", "explanation_markdown", "mermaid_sequence"]

MAX_CHARS = 65_000
"""A GitHub comment takes 65,536 characters; the report stays below that."""
_ICON = {"problem": "🔴", "warning": "🟠", "info": "🔵"}


def _md(text: object) -> str:
    """Text safe inside Markdown: no HTML, no table breaks."""
    s = str(text)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("|", "\\|").replace("\n", " ")


def _mermaid_text(text: object) -> str:
    """Text safe in a Mermaid label: entity codes for the characters Mermaid parses."""
    s = str(text).replace("\n", " ")
    for ch, code in (
        ("#", "#35;"),
        (";", "#59;"),
        (":", "#58;"),
        ("<", "#lt;"),
        (">", "#gt;"),
        ("%", "#37;"),
    ):
        s = s.replace(ch, code)
    return s


def _participants(path: Path) -> list[Hop]:
    seen: dict[str, Hop] = {}
    for h in (*path.hops, *path.reply_hops):
        if h.kind == "network":
            continue
        seen.setdefault(h.place, h)
    return list(seen.values())


def mermaid_sequence(path: Path) -> str:
    """A Mermaid ``sequenceDiagram`` of a path: participants are interfaces, arrows hops."""
    parts = _participants(path)
    ids = {h.place: f"p{i}" for i, h in enumerate(parts)}
    lines = ["sequenceDiagram"]
    for h in parts:
        lines.append(f"    participant {ids[h.place]} as {_mermaid_text(h.place)}")

    def arrows(hops: list[Hop], what: str) -> None:
        chain = [h for h in hops if h.kind != "network"]
        for a, b in itertools.pairwise(chain):
            arrow = "->>" if b.observed or a.observed else "-->>"
            label = what + (" (seen)" if b.observed else "")
            if b.kind == "underlay" and a.kind == "underlay":
                label = f"{what} across the underlay"
            lines.append(f"    {ids[a.place]}{arrow}{ids[b.place]}: {_mermaid_text(label)}")

    kind = {"nd": "NS", "arp": "ARP who-has", "echo": "echo request", "tcp": "SYN"}.get(
        path.kind, path.kind
    )
    answer = {"nd": "NA", "arp": "ARP reply", "echo": "echo reply", "tcp": "SYN/ACK or RST"}.get(
        path.kind, "reply"
    )
    arrows(path.hops, kind)
    if path.reply_hops:
        arrows(path.reply_hops, answer)
    elif path.hops and "unanswered" in path.summary:
        lines.append(f"    Note over {ids[path.hops[0].place]}: {_mermaid_text('no answer')}")
    return "\n".join(lines)


def _hop_table(hops: list[Hop]) -> list[str]:
    rows = ["| # | seen? | where | what | evidence |", "|---|---|---|---|---|"]
    for i, h in enumerate(hops, 1):
        seen = "seen" if h.observed else "inferred"
        ev = ", ".join(str(e) for e in h.evidence[:4])
        rows.append(f"| {i} | {seen} | {_md(h.place)} | {_md(h.note)} | {_md(ev)} |")
    return rows


def _path_section(n: int, path: Path) -> list[str]:
    out = [f"### Path {n}: {_md(path.summary)}", ""]
    if path.hops:
        out += ["```mermaid", mermaid_sequence(path), "```", ""]
        out += ["<details><summary>Hops and evidence</summary>", "", "**Request**", ""]
        out += _hop_table(path.hops)
        if path.reply_hops:
            out += ["", "**Reply**", ""]
            out += _hop_table(path.reply_hops)
        out += ["", "</details>", ""]
    if path.findings:
        out.append(
            "Findings: " + ", ".join(f"`{f}`" for f in sorted({f.id for f in path.findings}))
        )
        out.append("")
    return out


def explanation_markdown(exp: Explanation, meta: dict[str, Any] | None = None) -> str:
    """The explanation as Markdown for a ticket; ``meta`` may hold ``command``, ``version`` and
    ``files`` (name, size, sha256) to say how to reproduce it."""
    meta = meta or {}
    c = exp.counts
    sev = exp.by_severity()
    out = ["## vxlanlens: what the captures show", ""]
    out.append(
        f"{len(exp.captures)} capture(s), {c.get('frames', 0)} frames ({c.get('tunnelled_frames', 0)} tunnelled), "
        f"{c.get('exchanges', 0)} exchanges; findings: "
        + ", ".join(f"**{sev[s]} {s}{'s' if sev[s] != 1 else ''}**" for s in SEVERITIES)
        + "."
    )
    out.append("")
    topo = exp.topology
    if not topo.get("loaded"):
        out += ["> No topology dump was given: names below are inferred from the captures.", ""]
    points = {p["capture"]: p for p in topo.get("capture_points", [])}
    out += ["| capture | frames | taken at |", "|---|---|---|"]
    for cap in exp.captures:
        p = points.get(cap["label"], {})
        where = {"pod": f"pod {p.get('pod')} eth0", "node": f"underlay of {p.get('node')}"}.get(
            p.get("kind", ""), p.get("kind", "?")
        )
        out.append(f"| `{_md(cap['label'])}` | {cap['frames']} | {_md(where)} |")
    out.append("")
    if exp.findings:
        out += ["### Findings", ""]
        for s in SEVERITIES:
            for f in (f for f in exp.findings if f.severity == s):
                ev = ", ".join(str(e) for e in f.evidence[:10])
                more = f" (+{len(f.evidence) - 10})" if len(f.evidence) > 10 else ""
                out.append(f"- {_ICON[s]} **{s}** `{f.id}`: {_md(f.statement)}")
                if ev:
                    out.append(f"  <sub>evidence: {_md(ev)}{more}</sub>")
        out.append("")
    body_limit = MAX_CHARS - 4000
    sections: list[str] = []
    left = 0
    for n, path in enumerate(exp.paths, 1):
        sec = "\n".join(_path_section(n, path))
        if len("\n".join(out)) + sum(len(s) for s in sections) + len(sec) > body_limit:
            left = len(exp.paths) - n + 1
            break
        sections.append(sec)
    if sections:
        out += ["### Paths", "", *sections]
    if left:
        out += [
            f"_{left} more path(s) left out to stay under {MAX_CHARS} characters; run `vxlanlens explain` for all of them._",
            "",
        ]
    if exp.unknowns:
        out += ["### Not known from this input", ""] + [f"- {_md(u)}" for u in exp.unknowns] + [""]
    out += _reproduce(meta)
    text = "\n".join(out).rstrip() + "\n"
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 200] + "\n\n_(report cut to stay under the comment size limit)_\n"
    return re.sub(r"\n{3,}", "\n\n", text)


def _reproduce(meta: dict[str, Any]) -> list[str]:
    if not meta:
        return []
    out = ["<details><summary>How to reproduce</summary>", ""]
    if meta.get("command"):
        out += ["```sh", str(meta["command"]), "```", ""]
    if meta.get("version"):
        out.append(f"vxlanlens {_md(meta['version'])}")
        out.append("")
    files = meta.get("files") or []
    if files:
        out += ["| file | bytes | SHA-256 |", "|---|---|---|"]
        for f in files:
            out.append(
                f"| `{_md(f.get('name'))}` | {f.get('size') or '?'} | `{f.get('sha256') or '-'}` |"
            )
        out.append("")
    out += ["</details>", ""]
    return out
