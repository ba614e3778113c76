"""One self-contained HTML file for a bug ticket or a browser: the same content as the Markdown
report, a ladder diagram per path (SVG embedded as a ``data:`` URI) and sortable tables.

Nothing is loaded from anywhere: the CSS and the small table-sorting script are inline and
allowed by their SHA-256 in a Content-Security-Policy that forbids every other load. Every
string that came from a capture or a dump (pod names, labels, interface names, comments, file
names) goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..explain._rows import text_is
from ..explain.model import SEVERITIES, Explanation, Finding, Hop
from ._overlay import overlay_line
from ._place import frames_text, where_taken
from .markdown import mermaid_sequence, paths_left_out_text

__all__ = ["CSP", "explanation_html", "explanation_html_fragment"]

_CSS = """
.vxl{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2330;max-width:1400px;margin:0 auto;padding:12px 20px}
.vxl h1{font-size:22px;margin:8px 0 4px}
.vxl h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d7dbe2;padding-bottom:4px}
.vxl h3{font-size:15px;margin:22px 0 6px}
.vxl .summary{margin:4px 0 12px}
.vxl .badge{display:inline-block;border-radius:10px;padding:1px 9px;margin-right:6px;font-size:12px;font-weight:600;color:#fff}
.vxl .sev-problem{background:#c62828}.vxl .sev-warning{background:#d9730d}.vxl .sev-info{background:#1f5fbf}
.vxl .callout{border-left:4px solid #c62828;background:#fdecea;padding:8px 12px;margin:10px 0}
.vxl .callout.sev-warning-box{border-color:#d9730d;background:#fff4e5}
.vxl .note{border-left:4px solid #8a94a6;background:#f3f5f8;padding:6px 12px;margin:10px 0}
.vxl table{border-collapse:collapse;margin:6px 0 12px;width:100%;font-size:13px}
.vxl th,.vxl td{border:1px solid #d7dbe2;padding:3px 7px;text-align:left;vertical-align:top}
.vxl th{background:#eef1f5;white-space:nowrap}
.vxl table.sortable th{cursor:pointer;user-select:none}
.vxl table.sortable th::after{content:" \\2195";color:#9aa3b2;font-size:11px}
.vxl table.sortable th.asc::after{content:" \\2191";color:#1d2330}
.vxl table.sortable th.desc::after{content:" \\2193";color:#1d2330}
.vxl tr:nth-child(even) td{background:#fafbfc}
.vxl code,.vxl .mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
.vxl .ev{color:#5a6475;font-size:12px}
.vxl .seen{color:#2a8a3a;font-weight:600}.vxl .inferred{color:#8a94a6;font-style:italic}
.vxl img.ladder{max-width:100%;height:auto;border:1px solid #e3e6eb;border-radius:4px;background:#fff}
.vxl details{margin:6px 0 10px}.vxl summary{cursor:pointer;color:#1f5fbf}
.vxl pre{background:#f3f5f8;padding:8px 10px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.vxl .muted{color:#6b7383}
"""

_JS = """
(function(){
  function key(cell){
    var t=(cell.getAttribute('data-sort')||cell.textContent||'').trim();
    var n=Number(t);
    return (t!==''&&!isNaN(n))?[0,n,t]:[1,0,t.toLowerCase()];
  }
  function cmp(a,b){
    if(a[0]!==b[0]){return a[0]-b[0];}
    if(a[0]===0){return a[1]-b[1];}
    return a[2]<b[2]?-1:(a[2]>b[2]?1:0);
  }
  var tables=document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables,function(table){
    var heads=table.querySelectorAll('thead th');
    Array.prototype.forEach.call(heads,function(th,col){
      th.addEventListener('click',function(){
        var body=table.tBodies[0];
        var rows=Array.prototype.slice.call(body.rows);
        var asc=!th.classList.contains('asc');
        Array.prototype.forEach.call(heads,function(h){h.classList.remove('asc','desc');});
        th.classList.add(asc?'asc':'desc');
        rows.sort(function(r1,r2){
          var c=cmp(key(r1.cells[col]),key(r2.cells[col]));
          return asc?c:-c;
        });
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  document.documentElement.setAttribute('data-sortable', String(tables.length));
})();
"""


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


CSP = (
    "default-src 'none'; img-src data:; "
    f"style-src '{_sha(_CSS)}'; script-src '{_sha(_JS)}'; "
    "base-uri 'none'; form-action 'none'"
)
"""The report's Content-Security-Policy: images only from ``data:``, only its own CSS and
script (by hash), no other load of any kind."""

_MAX_LADDERS = 40
_MAX_EVIDENCE_ROWS = 5000


def _e(value: object) -> str:
    """Escaped text (``None`` shows as an empty cell)."""
    return "" if value is None else html.escape(str(value), quote=True)


Cell = str | tuple[str, object]
"""Already-escaped HTML, or (HTML, sort key) when the text does not sort right by itself."""


def _cell(c: Cell) -> str:
    if isinstance(c, tuple):
        return f'<td data-sort="{_e(c[1])}">{c[0]}</td>'
    return f"<td>{c}</td>"


def _table(
    head: list[str], rows: Sequence[Sequence[Cell]], *, sortable: bool = True, cls: str = ""
) -> str:
    """A table; ``head`` and ``rows`` are already-escaped HTML."""
    classes = " ".join(c for c in ("sortable" if sortable else "", cls) if c)
    out = [f'<table class="{classes}">' if classes else "<table>", "<thead><tr>"]
    out += [f"<th>{h}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(_cell(c) for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _ladder_img(exp: Explanation, index: int | None) -> str:
    import matplotlib

    from .plots import ladder

    fig = ladder(exp, index)
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "vxlanlens"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "vxlanlens"})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    what = "all paths" if index is None else f"path {index + 1}"
    return (
        f'<img class="ladder" alt="ladder diagram of {what}" '
        f'src="data:image/svg+xml;base64,{data}">'
    )


def _evidence_text(f: Finding, limit: int = 10) -> str:
    ev = ", ".join(_e(e) for e in f.evidence[:limit])
    if len(f.evidence) > limit:
        ev += f' <span class="muted">(+{len(f.evidence) - limit} more)</span>'
    return f'<span class="ev mono">{ev}</span>'


def _hops_table(hops: list[Hop]) -> str:
    rows = []
    for i, h in enumerate(hops, 1):
        seen = (
            '<span class="seen">seen</span>'
            if h.observed
            else '<span class="inferred">inferred</span>'
        )
        tunnel = f"{h.tunnel} VNI {h.vni}" if h.tunnel and h.vni is not None else (h.tunnel or "")
        outer = (
            f"{h.outer_src_ip}:{h.outer_src_port} → {h.outer_dst_ip}:{h.outer_dst_port}"
            if h.outer_src_ip and h.outer_dst_ip
            else ""
        )
        rows.append(
            [
                str(i),
                seen,
                _e(h.place),
                _e(h.kind),
                f'<span class="mono">{_e(h.device or "")}</span>',
                _e(" ".join(x for x in (tunnel, outer) if x)),
                _e(h.note),
                '<span class="ev mono">' + ", ".join(_e(e) for e in h.evidence[:6]) + "</span>",
            ]
        )
    return _table(["#", "seen?", "where", "kind", "interface", "tunnel", "what", "evidence"], rows)


def _body(
    exp: Explanation,
    packets: pd.DataFrame | None,
    meta: dict[str, Any],
    *,
    max_ladders: int,
) -> str:
    c = exp.counts
    sev = exp.by_severity()
    out = ['<div class="vxl">', "<h1>vxlanlens: what the captures show</h1>"]
    out.append(
        '<p class="summary">'
        f"{len(exp.captures)} capture(s), {_e(c.get('frames', 0))} frames "
        f"({_e(c.get('tunnelled_frames', 0))} tunnelled), {_e(c.get('exchanges', 0))} exchanges, "
        f"{len(exp.paths)} path(s){_e(paths_left_out_text(c))}. Findings: "
        + "".join(
            f'<span class="badge sev-{s}">{sev[s]} {s}{"s" if sev[s] != 1 else ""}</span>'
            for s in SEVERITIES
        )
        + "</p>"
    )
    overlay = overlay_line(exp.topology)
    if overlay is not None:
        out.append(f"<p>{_e(overlay)}.</p>")
    worst = next((f for s in SEVERITIES[:2] for f in exp.findings if f.severity == s), None)
    if worst is not None:
        box = "callout" + (" sev-warning-box" if worst.severity == "warning" else "")
        out.append(
            f'<div class="{box}"><span class="badge sev-{worst.severity}">{worst.severity}</span>'
            f"<code>{_e(worst.id)}</code>: {_e(worst.statement)}</div>"
        )
    if not exp.topology.get("loaded"):
        out.append(
            '<div class="note">No topology dump was given: names below are inferred from the '
            "captures.</div>"
        )

    # captures
    points = {p.get("capture"): p for p in exp.topology.get("capture_points", [])}
    rows: list[list[Cell]] = []
    for cap in exp.captures:
        p = points.get(cap.get("label"), {})
        where = where_taken(p, cap.get("frames"))
        rows.append(
            [
                f'<span class="mono">{_e(cap.get("label"))}</span>',
                _e(frames_text(cap)),
                _e(cap.get("format")),
                _e(cap.get("size")),
                _e(where),
                _e(p.get("how")),
            ]
        )
    out += [
        "<h2>Captures</h2>",
        _table(["capture", "frames", "format", "bytes", "taken at", "how we know"], rows),
    ]

    # findings
    if exp.findings:
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        rows = [
            [
                (
                    f'<span class="badge sev-{_e(f.severity)}">{_e(f.severity)}</span>',
                    rank.get(f.severity, 9),
                ),
                f"<code>{_e(f.id)}</code>",
                _e(f.statement),
                _evidence_text(f),
            ]
            for f in sorted(exp.findings, key=lambda f: rank.get(f.severity, 9))
        ]
        out += ["<h2>Findings</h2>", _table(["severity", "id", "statement", "evidence"], rows)]

    # paths
    if exp.paths:
        out.append("<h2>Paths</h2>")
        for i, path in enumerate(exp.paths):
            out.append(f'<h3 id="path-{i + 1}">Path {i + 1}: {_e(path.summary)}</h3>')
            if path.hops and i < max_ladders:
                out.append(_ladder_img(exp, i))
            elif path.hops:
                out.append(
                    f'<p class="muted">(no diagram: only the first {max_ladders} paths are drawn; '
                    "use <code>vxlanlens diagram</code>)</p>"
                )
            if path.findings:
                out.append(
                    "<p>Findings: "
                    + ", ".join(
                        f"<code>{_e(fid)}</code>" for fid in sorted({f.id for f in path.findings})
                    )
                    + "</p>"
                )
            if path.hops:
                out.append("<details><summary>Hops and evidence</summary>")
                out.append("<h4>Request</h4>" + _hops_table(path.hops))
                if path.reply_hops:
                    out.append("<h4>Reply</h4>" + _hops_table(path.reply_hops))
                out.append(
                    "<details><summary>Mermaid source (for a Markdown ticket)</summary><pre>"
                    + _e(mermaid_sequence(exp, i))
                    + "</pre></details>"
                )
                out.append("</details>")

    if packets is not None:
        out += _evidence_frames(exp, packets)

    if exp.unknowns:
        out.append("<h2>Not known from this input</h2><ul>")
        out += [f"<li>{_e(u)}</li>" for u in exp.unknowns]
        out.append("</ul>")
    out += _reproduce(meta)
    out.append("</div>")
    return "\n".join(out)


def _evidence_frames(exp: Explanation, packets: pd.DataFrame) -> list[str]:
    """The frames cited as evidence, one line each (capture, frame, time, what)."""
    from .packets import packet_line

    cited: dict[tuple[str, int], list[str]] = {}
    for f in exp.findings:
        for ev in f.evidence:
            if ev.capture is not None and ev.frame_no is not None:
                cited.setdefault((ev.capture, int(ev.frame_no)), [])
                if f.id not in cited[(ev.capture, int(ev.frame_no))]:
                    cited[(ev.capture, int(ev.frame_no))].append(f.id)
    for p in exp.paths:
        for h in (*p.hops, *p.reply_hops):
            for ev in h.evidence:
                if ev.capture is not None and ev.frame_no is not None:
                    cited.setdefault((ev.capture, int(ev.frame_no)), [])
    if not cited or packets.empty:
        return []
    # the rows of the cited frames, found per capture on the table's columns (not a tuple
    # per row of the table)
    frames_of: dict[str, list[int]] = {}
    for capture, frame in cited:
        frames_of.setdefault(capture, []).append(frame)
    frame_no = packets["frame_no"].astype("int64")
    mask = np.zeros(len(packets), dtype=bool)
    for capture, frames in frames_of.items():
        mask |= text_is(packets["capture"], capture) & frame_no.isin(frames).to_numpy()
    rows_df = packets[mask]
    if "ts_ns" in rows_df.columns:
        rows_df = rows_df.sort_values("ts_ns", kind="stable")
    left = max(0, len(rows_df) - _MAX_EVIDENCE_ROWS)
    rows = []
    for row in rows_df.head(_MAX_EVIDENCE_ROWS).to_dict("records"):
        k = (str(row["capture"]), int(row["frame_no"]))
        ts = row.get("ts")
        ts_text = ts.strftime("%H:%M:%S.%f") if hasattr(ts, "strftime") else ""
        rows.append(
            [
                f'<span class="mono">{_e(row["capture"])}</span>',
                _e(row["frame_no"]),
                f'<span class="mono">{_e(ts_text)}</span>',
                f'<span class="mono">{_e(packet_line(row))}</span>',
                ", ".join(f"<code>{_e(i)}</code>" for i in cited.get(k, [])),
            ]
        )
    out = [
        "<h2>Evidence frames</h2>",
        f"<details open><summary>{len(rows)} frame(s) cited by the findings and paths</summary>",
        _table(["capture", "frame", "time", "packet", "cited by"], rows),
    ]
    if left:
        out.append(f'<p class="muted">{left} more row(s) left out.</p>')
    out.append("</details>")
    return out


def _reproduce(meta: dict[str, Any]) -> list[str]:
    if not meta:
        return []
    out = ["<h2>How to reproduce</h2>"]
    if meta.get("command"):
        out.append(f'<pre class="mono">{_e(meta["command"])}</pre>')
    if meta.get("version"):
        out.append(f"<p>vxlanlens {_e(meta['version'])}</p>")
    files = meta.get("files") or []
    if files:
        rows = [
            [
                f'<span class="mono">{_e(f.get("name"))}</span>',
                _e(f.get("size") if f.get("size") is not None else "?"),
                f'<span class="mono">{_e(f.get("sha256") or "-")}</span>',
            ]
            for f in files
        ]
        out.append(_table(["file", "bytes", "SHA-256"], rows))
    return out


def explanation_html(
    exp: Explanation,
    *,
    packets: pd.DataFrame | None = None,
    meta: dict[str, Any] | None = None,
    max_ladders: int = _MAX_LADDERS,
) -> str:
    """A complete, self-contained HTML document of the explanation.

    ``packets`` (the packets table) adds a table of the frames cited as evidence; ``meta`` may
    hold ``command``, ``version`` and ``files`` (``name``, ``size``, ``sha256``) like the
    Markdown report. At most ``max_ladders`` paths get a diagram.
    """
    title = "vxlanlens report"
    if exp.captures:
        title += ": " + ", ".join(str(c.get("label")) for c in exp.captures[:4])
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">',
            '<meta name="referrer" content="no-referrer">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head><body>",
            _body(exp, packets, meta or {}, max_ladders=max_ladders),
            f"<script>{_JS}</script>",
            "</body></html>",
            "",
        ]
    )


def explanation_html_fragment(exp: Explanation, *, max_ladders: int = 3) -> str:
    """The report as an HTML fragment for a notebook cell: its CSS scoped to the fragment, no
    script, and diagrams for the first ``max_ladders`` paths only (keeps notebooks light)."""
    return f"<style>{_CSS}</style>\n" + _body(exp, None, {}, max_ladders=max_ladders)
