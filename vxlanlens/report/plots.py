"""Ladder diagrams of an explanation with matplotlib (Agg backend, no display needed).

Lanes are interfaces grouped by node (pod eth0, lxc veth, tunnel device, node eth0, ...) in the
order the path crosses them; arrows are the packets' moves in time order, labelled with what the
packet is (``NS who-has ...``, ``echo req id 44 seq 0``, ``VXLAN VNI 40172``). Tunnelled moves are
drawn thick and orange, moves not seen at both ends dashed; a filled dot is a place a capture saw
the packet, a hollow one a place it is inferred to have passed; requests nobody answered end in a
red ✗.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path as FsPath

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch
from matplotlib.path import Path as MplPath
from matplotlib.textpath import TextPath

from ..errors import RenderError
from ..explain.model import Explanation, PacketPath
from .sequence import Arrow, Sequence, message_labels, sequence

__all__ = ["COLORS", "ladder", "save_ladder"]

COLORS = {
    "request": "#1f5fbf",
    "reply": "#2a8a3a",
    "tunnel": "#d9730d",
    "unanswered": "#c62828",
    "unsure": "#b8860b",
    "lane": "#6b6b6b",
    "group": "#f1f3f6",
    "seen_lane": "#dbe8fb",
}
"""Colours of the ladder (also used by the HTML report's legend)."""

# How a lane mark is drawn: symbol, its size, the label's size, the label's offset right of the
# lane, colour key, SVG id, font weight.
_MARKS = {
    "unanswered": ("✗", 15, 8, 0.12, "unanswered", "mark-unanswered", "bold"),
    "unsure": ("?", 13, 8, 0.12, "unsure", "mark-unsure", "bold"),
    "last-seen": ("◆", 9, 7.5, 0.1, "tunnel", "mark-last-seen", "normal"),
}

_Q = TextPath((0, 0), "?", prop=FontProperties(weight="bold"))
_Q_BOX = _Q.get_extents()
_QUESTION = MplPath(
    _Q.vertices - [(_Q_BOX.x0 + _Q_BOX.x1) / 2, (_Q_BOX.y0 + _Q_BOX.y1) / 2], _Q.codes
)
"""The legend's marker of a request not answered in the captures (a "?" drawn as a path: no
mathtext, which text from the captures must never reach)."""

_LANE_W = 1.55  # inches per lane
_ROW_H = 0.42  # inches per row
_MAX_W = 30.0


def _wrap(text: str, width: int, lines: int = 3, *, hyphens: bool = False) -> str:
    """Text wrapped to ``width`` characters, at most ``lines`` lines (the last cut with …)."""
    out = textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=hyphens)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: max(1, width - 1)] + "…"
    return "\n".join(out) or text


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _heading(k: int, path: PacketPath, width: int) -> str:
    """A path's heading in ``width`` characters: ``path 3: <its summary>``, or when that does not
    fit, what the packet was and what became of it (``path 3: echo req id 7 seq 1,
    unanswered``), cut only when even that does not fit."""
    full = f"path {k + 1}: {path.summary}"
    if len(full) <= width:
        return full
    if path.kind == "icmp-error":  # the error is the message; its status is the quoted packet's
        quoted = ", the packet it quotes not captured" if path.status == "unsolicited" else ""
        return _short(f"path {k + 1}: ICMP error{quoted}", width)
    status = f", {path.status}" if path.status is not None else ""
    if path.icmp_error is not None:
        status = ", ICMP error"  # answered by one
    return _short(f"path {k + 1}: {message_labels(path)[0]}{status}", width)


def _lane_text(seq: Sequence, i: int, width: int) -> str:
    lane = seq.lanes[i]
    if lane.kind == "pod-eth0" and lane.pod:
        pod = lane.pod
        if len(pod) > width and "/" in pod:
            # namespace and name on their own lines, not a name cut in the middle
            namespace, name = pod.split("/", 1)
            pod_text = _wrap(namespace + "/", width, 1) + "\n" + _wrap(name, width, 1)
        else:
            pod_text = _wrap(pod, width, 2)
        return pod_text + "\n" + _wrap(lane.name, width, 1)
    return _wrap(lane.name, width, 3)


def _rows(seq: Sequence) -> tuple[list[tuple[str, int, float]], dict[int, float], float]:
    """Row layout: (what, index, y) items, the y of each arrow, and the total rows used."""
    items: list[tuple[str, int, float]] = []
    arrow_y: dict[int, float] = {}
    y = 0.0
    multi = len(seq.paths) > 1
    current: int | None = None
    marks_after: dict[int, list[int]] = {}
    for m_i, m in enumerate(seq.marks):
        marks_after.setdefault(m.after, []).append(m_i)
    for a_i, a in enumerate(seq.arrows):
        if multi and a.path != current:
            y += 1.0 if current is None else 1.2
            items.append(("heading", a.path, y - 0.1))
            current = a.path
        y += 1.0
        arrow_y[a_i] = y
        items.append(("arrow", a_i, y))
        if a_i in marks_after:
            # below the arrow; beside a stub (dst None) only a mark of another lane fits
            if a.dst is not None or any(seq.marks[m].lane == a.src for m in marks_after[a_i]):
                y += 0.9
            for m_i in marks_after[a_i]:
                items.append(("mark", m_i, y))
    return items, arrow_y, y


def ladder(exp: Explanation, path_index: int | None = None, *, ax: Axes | None = None) -> Figure:
    """A ladder (sequence) diagram of one path (``path_index``) or of all paths (``None``).

    Returns the matplotlib Figure (the one of ``ax`` when given). With no path to draw the figure
    says so instead of being empty. Names are drawn as plain text: a ``$`` in a file, pod or
    interface name is never read as matplotlib mathtext.
    """
    with matplotlib.rc_context({"text.parse_math": False}):
        return _ladder(exp, path_index, ax=ax)


def _ladder(exp: Explanation, path_index: int | None, *, ax: Axes | None) -> Figure:
    seq = sequence(exp, path_index)
    n = max(1, len(seq.lanes))
    items, _arrow_y, total = _rows(seq)
    width = min(_MAX_W, max(5.8, _LANE_W * n + 1.8))
    title = len(seq.paths) == 1
    axes_h = (total + 3.1) * _ROW_H
    top = 0.55 if title else 0.1
    bottom = 0.75 if width < 9 else 0.5
    height = axes_h + top + bottom
    if ax is None:
        fig = Figure(figsize=(width, height), dpi=100)
        fig.set_layout_engine("none")  # whatever the rcParams say: the axes are placed by hand
        FigureCanvasAgg(fig)  # draws without any display or pyplot state
        ax = fig.add_axes((0.02, bottom / height, 0.96, axes_h / height))
    else:
        fig = ax.figure  # type: ignore[assignment]
    ax.set_axis_off()
    right = max(n - 1, 1) + 0.75
    ax.set_xlim(-0.75, right)
    ax.set_ylim(total + 0.9, -2.2)

    if not seq.lanes:
        ax.text(0.5, 0.5, "no path to draw", ha="center", va="center", transform=ax.transAxes)
        return fig

    chars = max(10, int(_LANE_W * 72 / (7.5 * 0.6)) - 2)
    # node groups: a shaded band behind their lanes, the node's name on top
    for node, idx in seq.groups():
        x0, x1 = idx[0] - 0.45, idx[-1] + 0.45
        ax.add_patch(
            FancyBboxPatch(
                (x0, -2.05),
                x1 - x0,
                total + 2.7,
                boxstyle="round,pad=0.0,rounding_size=0.08",
                facecolor=COLORS["group"],
                edgecolor="#c9ced6",
                linewidth=0.8,
                zorder=0,
            )
        )
        ax.text(
            (x0 + x1) / 2,
            -1.85,
            _wrap(node, int(chars * len(idx)), 2, hyphens=True),
            ha="center",
            va="top",
            fontsize=8.5,
            fontweight="bold",
            color="#333333",
            zorder=3,
        )
    # lanes: a head box (blue when a capture saw packets there) and a vertical line
    for i, lane in enumerate(seq.lanes):
        ax.plot(
            [i, i],
            [-0.35, total + 0.6],
            color=COLORS["lane"],
            linewidth=1.0,
            linestyle="-" if lane.observed else (0, (2, 2)),
            zorder=1,
            gid=f"lane-{i}",
        )
        ax.text(
            i,
            -0.55,
            _lane_text(seq, i, chars),
            ha="center",
            va="bottom",
            fontsize=7.5,
            zorder=4,
            bbox={
                "boxstyle": "round,pad=0.3",
                "facecolor": COLORS["seen_lane"] if lane.observed else "white",
                "edgecolor": COLORS["lane"],
                "linestyle": "-" if lane.observed else "--",
                "linewidth": 0.8,
            },
            gid=f"lane-title-{i}",
        )

    for what, k, y in items:
        if what == "heading":
            p = exp.paths[k]
            ax.plot(
                [-0.7, right - 0.05], [y - 0.45, y - 0.45], color="#b0b5bd", linewidth=0.6, zorder=1
            )
            ax.text(
                -0.7,
                y - 0.4,
                _heading(k, p, int(chars * n * 1.05)),
                ha="left",
                va="top",
                fontsize=7,
                style="italic",
                color="#444444",
                zorder=4,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            )
        elif what == "arrow":
            _draw_arrow(ax, seq.arrows[k], y, n)
        else:
            m = seq.marks[k]
            symbol, size, label_size, offset, color, gid, weight = _MARKS[
                m.kind if m.kind in _MARKS else "last-seen"
            ]
            ax.text(
                m.lane,
                y,
                symbol,
                ha="center",
                va="center",
                fontsize=size,
                color=COLORS[color],
                fontweight=weight,
                zorder=6,
                gid=gid,
            )
            ax.text(
                m.lane + offset,
                y + 0.05,
                m.text,
                ha="left",
                va="center",
                fontsize=label_size,
                color=COLORS[color],
                fontweight=weight,
                zorder=6,
            )

    if title:
        p = exp.paths[seq.paths[0]]
        ax.set_title(
            _wrap(f"path {seq.paths[0] + 1}: {p.summary}", int(width * 13), 2),
            fontsize=9,
            loc="left",
        )
    _legend(fig, ax, seq)
    return fig


def _draw_arrow(ax: Axes, a: Arrow, y: float, n: int) -> None:
    color = COLORS["tunnel"] if a.tunnelled else COLORS["reply"] if a.reply else COLORS["request"]
    style = "-" if a.observed else (0, (4, 3))
    lw = 2.4 if a.tunnelled else 1.4
    x0 = float(a.src)
    if a.dst is None:
        # went out and nothing came back: a stub ending in a red cross
        x1 = x0 + 0.7 if a.src < n - 1 or n == 1 else x0 - 0.7
        ax.annotate(
            "",
            xy=(x1, y),
            xytext=(x0, y),
            arrowprops={"arrowstyle": "-", "color": color, "linewidth": lw, "linestyle": style},
            zorder=5,
        )
        # a request whose answer the captures may have missed (capturing stopped, packets
        # dropped) is no proven loss: a question mark, not a cross
        symbol, size, _, _, key, gid, _ = _MARKS["unsure" if a.unsure else "unanswered"]
        ax.text(
            x1,
            y,
            symbol,
            ha="center",
            va="center",
            fontsize=size,
            color=COLORS[key],
            fontweight="bold",
            zorder=6,
            gid=gid,
        )
        ax.text(
            x1,
            y + 0.42,
            a.outcome,
            ha="center",
            va="center",
            fontsize=8,
            color=COLORS[key],
            fontweight="bold",
            zorder=6,
        )
        ax.text(
            (x0 + x1) / 2,
            y - 0.22,
            a.label,
            ha="center",
            va="bottom",
            fontsize=7.5,
            color=color,
            zorder=6,
            gid="arrow-label",
        )
        _dot(ax, x0, y, a.src_seen, color)
        _between(ax, a, (x0 + x1) / 2, y, color)
        return
    x1 = float(a.dst)
    ax.annotate(
        "",
        xy=(x1, y),
        xytext=(x0, y),
        arrowprops={
            "arrowstyle": "-|>,head_length=0.5,head_width=0.25",
            "color": color,
            "linewidth": lw,
            "linestyle": style,
            "shrinkA": 3,
            "shrinkB": 3,
        },
        zorder=5,
        gid="arrow",
    )
    ax.text(
        (x0 + x1) / 2,
        y - 0.12,
        a.label,
        ha="center",
        va="bottom",
        fontsize=7.5,
        color=color,
        fontweight="bold" if a.tunnelled else "normal",
        zorder=6,
        gid="arrow-label",
        bbox={
            "boxstyle": "square,pad=0.05",
            "facecolor": "white",
            "edgecolor": "none",
            "alpha": 0.75,
        },
    )
    _dot(ax, x0, y, a.src_seen, color)
    _dot(ax, x1, y, a.dst_seen, color)
    _between(ax, a, (x0 + x1) / 2, y, color)
    if a.dst_seen and a.evidence:
        ax.text(
            x1 + (0.06 if x1 >= x0 else -0.06),
            y + 0.12,
            a.evidence,
            ha="left" if x1 >= x0 else "right",
            va="top",
            fontsize=6,
            color="#555555",
            zorder=6,
        )


def _between(ax: Axes, a: Arrow, mid: float, y: float, color: str) -> None:
    """Where the packet was seen on the way (a capture that is neither end's for sure)."""
    if not a.between:
        return
    ax.plot(
        [mid],
        [y],
        marker="D",
        markersize=4.5,
        color=color,
        linestyle="none",
        zorder=7,
        gid="seen-between",
    )
    ax.text(mid, y + 0.12, a.between, ha="center", va="top", fontsize=6, color="#555555")


def _dot(ax: Axes, x: float, y: float, seen: bool, color: str) -> None:
    ax.plot(
        [x],
        [y],
        marker="o",
        markersize=5.5,
        markerfacecolor=color if seen else "white",
        markeredgecolor=color,
        markeredgewidth=1.2,
        linestyle="none",
        zorder=7,
        gid="seen" if seen else "inferred",
    )


def _legend(fig: Figure, ax: Axes, seq: Sequence) -> None:
    """The key of what this ladder draws (an entry only for what is drawn)."""
    arrows = seq.arrows
    entries: list[tuple[bool, Line2D]] = [
        (
            any(not a.reply and not a.tunnelled for a in arrows),
            Line2D([], [], color=COLORS["request"], linewidth=1.4, label="request"),
        ),
        (
            any(a.reply and not a.tunnelled for a in arrows),
            Line2D([], [], color=COLORS["reply"], linewidth=1.4, label="reply"),
        ),
        (
            any(a.tunnelled for a in arrows),
            Line2D([], [], color=COLORS["tunnel"], linewidth=2.4, label="tunnelled (outer header)"),
        ),
        (
            any(not a.observed for a in arrows),
            Line2D(
                [],
                [],
                color="#555555",
                linewidth=1.4,
                linestyle=(0, (4, 3)),
                label="not seen at both ends",
            ),
        ),
        (
            any(a.src_seen or (a.dst is not None and a.dst_seen) for a in arrows),
            Line2D(
                [],
                [],
                marker="o",
                color="#555555",
                markerfacecolor="#555555",
                linestyle="none",
                label="seen in a capture",
            ),
        ),
        (
            any(a.between for a in arrows),
            Line2D(
                [],
                [],
                marker="D",
                markersize=4.5,
                color="#555555",
                linestyle="none",
                label=(
                    "seen between them (where is not known)"
                    if seq.lanes and all(lane.kind == "host" for lane in seq.lanes)
                    else "seen on the underlay between them"
                ),
            ),
        ),
        (
            any(not a.src_seen or (a.dst is not None and not a.dst_seen) for a in arrows),
            Line2D(
                [],
                [],
                marker="o",
                color="#555555",
                markerfacecolor="white",
                linestyle="none",
                label="inferred",
            ),
        ),
    ]
    handles = [h for drawn, h in entries if drawn]
    # what the crosses say: no answer, or an ICMP error that answered instead of the reply
    crossed = {m.text for m in seq.marks if m.kind == "unanswered"} | {
        a.outcome for a in seq.arrows if a.dst is None and not a.unsure
    }
    if crossed:
        words = [
            *(["no answer"] if "no answer" in crossed else []),
            *(["answered by an ICMP error"] if crossed - {"no answer"} else []),
        ]
        handles.append(
            Line2D(
                [],
                [],
                marker="x",
                color=COLORS["unanswered"],
                markeredgewidth=2,
                linestyle="none",
                label=", or ".join(words),
            )
        )
    if any(m.kind == "unsure" for m in seq.marks) or any(
        a.dst is None and a.unsure for a in seq.arrows
    ):
        handles.append(
            Line2D(
                [],
                [],
                marker=_QUESTION,
                color=COLORS["unsure"],
                linestyle="none",
                markersize=11,
                markeredgewidth=0,
                label="no answer in the captures (capturing stopped, or packets dropped)",
            )
        )
    if any(m.kind == "last-seen" for m in seq.marks):
        handles.append(
            Line2D(
                [],
                [],
                marker="D",
                color=COLORS["tunnel"],
                linestyle="none",
                markersize=5,
                label="last seen",
            )
        )
    if not handles:
        return
    # as many columns as fit the figure: each try measured as drawn (matplotlib fills the
    # columns top to bottom, each as wide as its widest item)
    get_renderer = getattr(fig.canvas, "get_renderer", None)  # none on a bare Figure's canvas
    renderer = get_renderer() if get_renderer is not None else None
    room = 0.96 * fig.get_figwidth() * fig.dpi  # a margin of 2 % each side
    for ncol in range(len(handles), 0, -1):
        legend = ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.01),
            ncol=ncol,
            fontsize=7.5,
            frameon=False,
            handlelength=2.6,
        )
        if ncol == 1 or renderer is None or legend.get_window_extent(renderer).width <= room:
            return
        legend.remove()


def save_ladder(
    exp: Explanation, path: str | os.PathLike[str], path_index: int | None = None
) -> FsPath:
    """Write the ladder of ``exp`` to ``path`` as PNG, SVG or PDF (chosen by the suffix); returns
    the path written."""
    out = FsPath(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise RenderError(
            f"ladder output {str(out)!r}: expected a .png, .svg or .pdf file name, got suffix {out.suffix!r}"
        )
    fig = ladder(exp, path_index)
    try:
        with matplotlib.rc_context({"svg.hashsalt": "vxlanlens"}):
            fig.savefig(out, format=fmt, dpi=150 if fmt == "png" else 100, metadata=_metadata(fmt))
    except OSError as exc:
        raise RenderError(
            f"ladder output {str(out)!r}: cannot write: {exc.strerror or exc}"
        ) from exc
    return out


def _metadata(fmt: str) -> dict[str, str | None]:
    """No creation date (so the same input gives the same file) and a plain creator."""
    if fmt == "png":
        return {"Software": "vxlanlens"}
    if fmt == "svg":
        return {"Date": None, "Creator": "vxlanlens"}
    return {"CreationDate": None, "Creator": "vxlanlens", "Producer": "vxlanlens"}
