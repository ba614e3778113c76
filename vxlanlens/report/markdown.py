"""Markdown for bug tickets: summary, findings by severity, one section per path with a Mermaid
sequence diagram (participants are interfaces), evidence in ``<details>`` blocks, and how to
reproduce (command line, vxlanlens version, capture files with sizes and SHA-256).

The report stays under the size a GitHub comment accepts (65,536 characters, counted as UTF-16
code units as GitHub does): when it would not, whole path sections become one-line rows of a
table and rows are left out with a note saying how many.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..explain.model import SEVERITIES, Explanation, Finding, Hop
from ._overlay import overlay_line
from ._place import frames_text, where_taken
from .packets import printable
from .sequence import Sequence, sequence

__all__ = [
    "COMMENT_LIMIT",
    "MAX_CHARS",
    "explanation_markdown",
    "md_escape",
    "mermaid_sequence",
    "mermaid_text",
    "text_length",
]

COMMENT_LIMIT = 65_536
"""What a GitHub comment accepts, in characters."""
MAX_CHARS = 65_000
"""The report's budget: below :data:`COMMENT_LIMIT` with room for a reader's own words."""
_ICON = {"problem": "🔴", "warning": "🟠", "info": "🔵"}
_EVIDENCE_SHOWN = 10


def text_length(text: str) -> int:
    """Length as GitHub counts it (UTF-16 code units: an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def md_escape(text: object) -> str:
    """Text safe inside Markdown prose and table cells: no HTML, no table breaks, no accidental
    code spans, links, autolinks (``https://``, ``www.``), @mentions, #references or emphasis,
    and control or bidirectional-override characters shown as escapes (``\\u202e``)."""
    s = printable(str(text).replace("\r", " ").replace("\n", " "))
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = re.sub(r"([\\`*\[\]|~])", r"\\\1", s)
    s = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", s)
    return _no_autolink(s)


def _no_autolink(s: str) -> str:
    """Break what GitHub would turn into links or notifications: ``://`` and ``www.`` (entity
    for the ``:`` / ``.``), ``@name`` and ``#123`` (a zero-width joiner after the sign)."""
    s = re.sub(r"(?<!\w)@(?=[A-Za-z0-9])", "@\u2060", s)
    s = re.sub(r"(?<![\w&])#(?=[0-9])", "#\u2060", s)
    s = s.replace("://", "&#58;//")
    return re.sub(r"(?i)\bwww\.", lambda m: m.group(0)[:3] + "&#46;", s)


def mermaid_text(text: object) -> str:
    """Text safe in a Mermaid label or participant alias: the characters Mermaid's lexer or a
    Markdown code fence would act on become Mermaid entity codes (``#35;`` ...); control and
    bidirectional-override characters are shown as escapes."""
    s = printable(str(text).replace("\r", " ").replace("\n", " "))
    out = []
    for ch in s:
        if ch in "#;<>%`&":
            out.append(f"#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out).strip() or "?"


def mermaid_sequence(exp: Explanation, path_index: int) -> str:
    """A Mermaid ``sequenceDiagram`` of one path: participants are the interfaces it crosses
    (boxed by node), solid arrows where the packet was seen at both ends, dotted where not,
    tunnelled moves inside a shaded ``rect``, and notes for requests nobody answered."""
    seq = sequence(exp, path_index)
    return _mermaid(seq)


def _mermaid(seq: Sequence) -> str:
    ids = [f"L{i}" for i in range(len(seq.lanes))]
    lines = ["sequenceDiagram"]
    for node, idx in seq.groups():
        lines.append(f"    box transparent {mermaid_text(node)}")
        for i in idx:
            lines.append(f"    participant {ids[i]} as {mermaid_text(seq.lanes[i].title)}")
        lines.append("    end")
    marks: dict[int, list[int]] = {}
    for m_i, m in enumerate(seq.marks):
        marks.setdefault(m.after, []).append(m_i)
    in_rect = False
    for a_i, a in enumerate(seq.arrows):
        if a.tunnelled and not in_rect:
            lines.append("    rect rgba(217, 115, 13, 0.15)")
            in_rect = True
        elif not a.tunnelled and in_rect:
            lines.append("    end")
            in_rect = False
        if a.dst is None:
            lines.append(
                f"    Note right of {ids[a.src]}: "
                + mermaid_text(f"{a.label} {'?' if a.unsure else '✗'} {a.outcome}")
            )
        else:
            arrow = "->>" if a.observed else "-->>"
            lines.append(f"    {ids[a.src]}{arrow}{ids[a.dst]}: {mermaid_text(a.label)}")
        for m_i in marks.get(a_i, []):
            if in_rect:
                lines.append("    end")
                in_rect = False
            m = seq.marks[m_i]
            text = {"unanswered": f"✗ {m.text}", "unsure": f"? {m.text}"}.get(m.kind, m.text)
            lines.append(f"    Note over {ids[m.lane]}: {mermaid_text(text)}")
    if in_rect:
        lines.append("    end")
    return "\n".join(lines)


def _fence(text: str, lang: str = "") -> list[str]:
    """A code fence longer than any run of backticks in ``text``."""
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, run + 1)
    return [f"{fence}{lang}", text, fence]


def _hop_rows(hops: list[Hop]) -> list[str]:
    rows = []
    for i, h in enumerate(hops, 1):
        seen = "seen" if h.observed else "inferred"
        ev = ", ".join(str(e) for e in h.evidence[:4])
        rows.append(
            f"| {i} | {seen} | {md_escape(h.place)} | {md_escape(h.note)} | {md_escape(ev)} |"
        )
    return rows


_HOP_HEAD = ["| # | seen? | where | what | evidence |", "|---|---|---|---|---|"]


def _path_section(exp: Explanation, n: int) -> list[str]:
    path = exp.paths[n]
    out = [f"### Path {n + 1}: {md_escape(path.summary)}", ""]
    if path.hops:
        out += [*_fence(mermaid_sequence(exp, n), "mermaid"), ""]
        out += ["<details><summary>Hops and evidence</summary>", "", "**Request**", ""]
        out += _HOP_HEAD + _hop_rows(path.hops)
        if path.reply_hops:
            out += ["", "**Reply**", ""]
            out += _HOP_HEAD + _hop_rows(path.reply_hops)
        out += ["", "</details>", ""]
    if path.findings:
        ids = sorted({f.id for f in path.findings})
        out += ["Findings: " + ", ".join(f"`{i}`" for i in ids), ""]
    return out


def _finding_lines(f: Finding) -> list[str]:
    out = [f"- {_ICON[f.severity]} **{f.severity}** `{f.id}`: {md_escape(f.statement)}"]
    if f.evidence:
        ev = ", ".join(str(e) for e in f.evidence[:_EVIDENCE_SHOWN])
        more = (
            f" (+{len(f.evidence) - _EVIDENCE_SHOWN} more)"
            if len(f.evidence) > _EVIDENCE_SHOWN
            else ""
        )
        out.append(f"  <sub>evidence: {md_escape(ev)}{more}</sub>")
    return out


def _capture_rows(exp: Explanation) -> list[str]:
    points = {p.get("capture"): p for p in exp.topology.get("capture_points", [])}
    rows = []
    for cap in exp.captures:
        p = points.get(cap.get("label"), {})
        where = where_taken(p, cap.get("frames"))
        rows.append(f"| {md_escape(cap.get('label'))} | {frames_text(cap)} | {md_escape(where)} |")
    return rows


def _fit(rows: list[str], budget: int, note: Callable[[int], str]) -> tuple[list[str], int]:
    """As many ``rows`` as fit in ``budget`` characters (with room for the note); the rows kept
    and how many were left out."""
    used = 0
    kept: list[str] = []
    for i, row in enumerate(rows):
        cost = text_length(row) + 1
        room = budget - (text_length(note(len(rows) - i)) + 2 if i < len(rows) - 1 else 0)
        if used + cost > room:
            return kept, len(rows) - i
        kept.append(row)
        used += cost
    return kept, 0


def _left_note(what: str, hint: str) -> Callable[[int], str]:
    def note(k: int) -> str:
        return f"_{k} more {what} left out to stay under {COMMENT_LIMIT:,} characters; {hint}._"

    return note


def explanation_markdown(
    exp: Explanation, meta: dict[str, Any] | None = None, *, max_chars: int = MAX_CHARS
) -> str:
    """The explanation as Markdown for a ticket, at most ``max_chars`` characters.

    ``meta`` may hold ``command`` (the command line), ``version`` and ``files`` (dicts with
    ``name``, ``size``, ``sha256``) so a reader can reproduce the report.
    """
    c = exp.counts
    sev = exp.by_severity()
    head = ["## vxlanlens: what the captures show", ""]
    head.append(
        f"{len(exp.captures)} capture(s), {c.get('frames', 0)} frames "
        f"({c.get('tunnelled_frames', 0)} tunnelled), {c.get('exchanges', 0)} exchanges, "
        f"{len(exp.paths)} path(s){paths_left_out_text(c)}; findings: "
        + ", ".join(f"**{sev[s]} {s}{'s' if sev[s] != 1 else ''}**" for s in SEVERITIES)
        + "."
    )
    head.append("")
    overlay = overlay_line(exp.topology)
    if overlay is not None:
        head += [md_escape(overlay) + ".", ""]
    worst = next((f for s in SEVERITIES[:2] for f in exp.findings if f.severity == s), None)
    if worst is not None:
        head += [f"> {_ICON[worst.severity]} `{worst.id}`: {md_escape(worst.statement)}", ""]
    if not exp.topology.get("loaded"):
        head += ["> No topology dump was given: names below are inferred from the captures.", ""]
    head += ["| capture | frames | taken at |", "|---|---|---|", *_capture_rows(exp), ""]

    tail: list[str] = []
    if exp.unknowns:
        tail += ["### Not known from this input", ""]
        tail += [f"- {md_escape(u)}" for u in exp.unknowns] + [""]
    tail += _reproduce(meta or {})

    budget = max_chars - text_length("\n".join(head + tail)) - 400
    body: list[str] = []
    if exp.findings:
        rows: list[str] = []
        for s in SEVERITIES:
            for f in exp.findings:
                if f.severity == s:
                    rows.append("\n".join(_finding_lines(f)))
        note = _left_note("finding(s)", "run `vxlanlens explain --format json` for all of them")
        kept, left = _fit(rows, budget // 2 if exp.paths else budget, note)
        body += ["### Findings", "", *kept]
        if left:
            body += ["", note(left)]
        body.append("")
    budget -= text_length("\n".join(body))

    if exp.paths:
        body += ["### Paths", ""]
        budget -= 20
        sections: list[str] = []
        n = 0
        for n in range(len(exp.paths)):
            sec = "\n".join(_path_section(exp, n))
            if text_length(sec) + 1 > budget:
                break
            sections.append(sec)
            budget -= text_length(sec) + 1
        else:
            n = len(exp.paths)
        body += sections
        if n < len(exp.paths):
            rows = [
                f"| {i + 1} | {md_escape(p.kind)} | {md_escape(p.summary)} |"
                for i, p in enumerate(exp.paths[n:], start=n)
            ]
            note = _left_note("row(s)", "run `vxlanlens explain` for all paths")
            table = [
                "",
                f"{len(rows)} more path(s), in short:",
                "",
                "| # | kind | summary |",
                "|---|---|---|",
            ]
            kept, left = _fit(rows, budget - text_length("\n".join(table)) - 10, note)
            body += table + kept
            if left:
                body += ["", note(left)]
            body.append("")
    text = "\n".join(head + body + tail)
    text = re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"
    return text


def _reproduce(meta: dict[str, Any]) -> list[str]:
    if not meta:
        return []
    out = ["<details><summary>How to reproduce</summary>", ""]
    if meta.get("command"):
        out += [*_fence(str(meta["command"]), "sh"), ""]
    if meta.get("version"):
        out += [f"vxlanlens {md_escape(meta['version'])}", ""]
    files = meta.get("files") or []
    if files:
        out += ["| file | bytes | SHA-256 |", "|---|---|---|"]
        for f in files:
            size = f.get("size")
            out.append(
                f"| {md_escape(f.get('name'))} | {size if size is not None else '?'} | "
                f"{md_escape(f.get('sha256') or '-')} |"
            )
        out.append("")
    out += ["</details>", ""]
    return out


def paths_left_out_text(counts: dict[str, int]) -> str:
    """`` (for the first N exchanges; M more have none)`` when the explanation built paths for
    the first exchanges only (``counts.paths_left_out``), else nothing."""
    left = counts.get("paths_left_out", 0)
    return f" (one per exchange for the first ones; {left} more have none)" if left else ""
