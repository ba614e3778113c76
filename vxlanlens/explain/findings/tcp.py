"""TCP findings: connections refused, connections reset after the handshake, retransmitted
segments. (SYNs with no answer at all are ``tcp-unanswered``, in :mod:`.reachability`.)

Each TCP packet is counted once however many capture points saw it (journeys), and what
repeats is grouped per connection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ...exchanges._prep import compact
from ...proto import ExchangeKind, Severity, initial_ttl
from .._rows import combination, first_of_each
from ..context import Context, na
from ..model import Evidence, Finding
from ._registry import FindingSpec, detector
from ._requests import any_row, flows
from ._util import MAX_EVIDENCE, MAX_PER_KIND, _dedup, _more

TCP_RST = 0x04
TCP_SYN = 0x02


def _point_of(p: pd.DataFrame) -> pd.Series:
    """Observation point of each row: the capture, plus the interface or ifindex when known
    (text made once per distinct capture, interface and ifindex)."""
    return _per_distinct(
        [p["capture"], p["interface"], p["ifindex"]],
        lambda c, i, x: c + (f"/{i}" if i is not None else (f"/if{x}" if x is not None else "")),
        [_text, _objects, _objects],
    )


def _objects(series: pd.Series) -> pd.Series:
    """The column's Python values, ``None`` for nulls (an object column)."""
    return series.astype(object).where(series.notna(), None)


def _text(series: pd.Series) -> pd.Series:
    """``series.astype(str)`` (nulls as ``"nan"``), as an object column; for a categorical,
    its categories are converted rather than every row."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return series.astype(str)
    names = np.array([str(c) for c in series.cat.categories] + ["nan"], dtype=object)
    return pd.Series(names[series.cat.codes.to_numpy()], index=series.index, dtype=object)


def _per_distinct(
    columns: list[pd.Series], text: Any, values: list[Callable[[pd.Series], pd.Series]]
) -> pd.Series:
    """``text(*values)`` of each row's values of ``columns`` (None for nulls), computed once
    per distinct combination, on the values of the combination's first row (an object
    column); ``values`` turn each column's first rows into the values ``text`` reads. The
    combinations are told apart on the columns' codes, not on Python values."""
    combined = combination(columns)  # numbered in order of first appearance: 0, 1, 2, ...
    at = np.flatnonzero(first_of_each(combined)).tolist()  # each number's first row, in order
    firsts = [value(c.iloc[at]).tolist() for c, value in zip(columns, values, strict=True)]
    names = [text(*(_none(v[k]) for v in firsts)) for k in range(len(at))] or [""]
    if len(set(names)) == len(names):  # a categorical of the texts: a byte or two a row
        return pd.Series(pd.Categorical.from_codes(combined, names), index=columns[0].index)
    return pd.Series(np.array(names, dtype=object)[combined], index=columns[0].index, dtype=object)


def _none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and value != value) else value


def _conn_key(src: str, sport: int, dst: str, dport: int) -> tuple[str, int, str, int]:
    """A connection's key, the same for both directions."""
    a, b = (src, sport), (dst, dport)
    return (*a, *b) if a <= b else (*b, *a)  # type: ignore[return-value]


@detector(
    FindingSpec(
        "connection-refused",
        Severity.INFO,
        "TCP SYNs answered by RST: the network delivered them, the destination refused",
    )
)
def connection_refused(ctx: Context) -> list[Finding]:
    """SYNs answered by RST or RST/ACK: one finding per flow (requester, destination, port),
    naming who answered and how the answer came back."""
    out: list[Finding] = []
    ex = ctx.exchanges
    refused = []
    if not any_row(ctx, answer="rst"):
        return out  # no SYN was answered by a reset
    for flow in flows(ctx):
        if flow.kind != ExchangeKind.TCP:
            continue
        xs = [
            x
            for x in flow.exchanges
            if x.answered and str(ex["answer"].iloc[x.answer_row]) == "rst"  # type: ignore[call-overload]
        ]
        if xs:
            refused.append((flow, xs))
    for flow, xs in refused[:MAX_PER_KIND]:
        first = ex.iloc[xs[0].answer_row]  # type: ignore[call-overload]
        who = ctx.pod_label(ip=first["requester_ip"], mac=first["requester_mac"]) or str(
            first["requester_ip"]
        )
        responder = ctx.ip_text(first["responder_ip"])
        reply = (str(first["reply_capture"]), int(first["reply_frame"]))
        path = _came_back(ctx, reply)
        sports = sorted({int(x.seq) for x in xs if x.seq is not None})
        n = len(xs)
        evidence = [Evidence(capture=x.frame[0], frame_no=x.frame[1]) for x in xs[:4]]
        evidence.append(Evidence(capture=reply[0], frame_no=reply[1]))
        if path["tunnelled_at"]:
            c, f = path["tunnelled_at"]
            evidence.append(Evidence(capture=c, frame_no=f))
        statement = (
            f"{'A connection' if n == 1 else f'{n} connections'} from {who} to "
            f"{flow.target} port {flow.extra} {'was' if n == 1 else 'were'} refused: the SYN was "
            f"answered by RST/ACK from {responder} (at {reply[0]}#{reply[1]}). "
            + (f"{path['text']} " if path["text"] else "")
            + f"Nothing listens on port {flow.extra} at {responder} (or a firewall there answers "
            "with RST)."
        )
        out.append(
            Finding(
                "connection-refused",
                Severity.INFO,
                statement,
                _dedup(evidence),
                {
                    "requester": who,
                    "target": flow.target,
                    "dport": flow.extra,
                    "sports": sports[:100],
                    "attempts": n,
                    "answered_by": str(first["responder_ip"]),
                    "through_tunnel": bool(path["tunnelled_at"]),
                },
            )
        )
    if len(refused) > MAX_PER_KIND:
        out.append(
            _more(
                "connection-refused",
                Severity.INFO,
                len(refused) - MAX_PER_KIND,
                "refused connections",
            )
        )
    return out


def _came_back(ctx: Context, reply: tuple[str, int]) -> dict[str, Any]:
    """How an answer travelled: the tunnel it was seen in (the first observation inside one)."""
    for c, f in ctx.journey_frames(*reply):
        row = ctx.row(c, f)
        if row is not None and not na(row["tunnel"]):
            src, dst = ctx.ip_text(row["outer_src_ip"]), ctx.ip_text(row["outer_dst_ip"])
            return {
                "tunnelled_at": (c, f),
                "text": f"The RST came back through the tunnel ({str(row['tunnel']).upper()} from "
                f"{src} to {dst}, at {c}#{f}), so the overlay path works both ways.",
            }
    row = ctx.row(*reply)
    ttl = None if row is None or "ttl" not in row or na(row["ttl"]) else int(row["ttl"])
    if ctx.plain:  # no overlay shown: no tunnel to miss, no node to answer for a pod
        said = _ttl_says(row, ttl, plain=True)
        return {"tunnelled_at": None, "text": f"{said[:1].upper()}{said[1:]}." if said else ""}
    said = _ttl_says(row, ttl, plain=False)
    if not said:
        text = (
            "The RST was not seen inside a tunnel in these captures (answered locally, or no "
            "capture on the underlay)."
        )
    else:
        text = (
            "The RST was not seen inside a tunnel in these captures (no capture holds it on the "
            f"underlay); {said}."
        )
    return {"tunnelled_at": None, "text": text}


def _ttl_says(row: Any, ttl: int | None, *, plain: bool) -> str:
    """``its TTL 63 (most likely sent with 64) says it was routed once on its way``: where an
    RST came from by its TTL, in an overlay's words (the requester's node) or, ``plain``, a
    plain network's (its segment); "" when it has no TTL."""
    if ttl is None or not 0 < ttl <= 255:
        return ""
    initial = initial_ttl(ttl)
    hops = initial - ttl
    field = "hop limit" if row is not None and row.get("ip_version") == 6 else "TTL"
    if hops == 0:
        what = (
            "not routed: it came from the requester's own segment (the target itself when it "
            "is there, else a firewall or proxy on the segment)"
            if plain
            else "not routed: sent by the requester's own node or a host on its segment (a "
            "firewall or proxy there answers so)"
        )
    elif hops == 1:
        what = "routed once on its way"
    else:
        beyond = "" if plain else ": it came from beyond the requester's node"
        what = f"routed {hops} times on its way{beyond}"
    return f"its {field} {ttl} (most likely sent with {initial}) says it was {what}"


def _tcp(ctx: Context) -> pd.DataFrame:
    """TCP packets with their observation point (the packet each row saw, shared by every
    observation of it, is :func:`_packets` of the rows that need it). ``capture``, ``src_ip``,
    ``dst_ip`` and ``point`` hold text (``"nan"`` for null), as categoricals where they can."""
    p = ctx.packets
    cols = ["capture", "frame_no", "src_ip", "dst_ip", "sport", "dport", "tcp_flags", "tcp_seq",
            "payload_len"]  # fmt: skip
    rows = compact(
        np.flatnonzero(
            (p["tcp_flags"].notna() & p["src_ip"].notna() & p["sport"].notna()).to_numpy()
        )
    )
    if not len(rows):
        return p.iloc[:0][cols]

    def at(column: str) -> pd.Series:
        # only the columns read, each taken alone and without an index of its own (a copy of
        # every column of the TCP rows was a third of the table; an index per column taken,
        # eight bytes a row each, was most of the rest)
        return pd.Series(p[column].array.take(rows), name=column)

    # numbered by position (every use is by position or by mask), frame numbers narrowed
    out = pd.DataFrame({c: p[c].array.take(rows) for c in cols}, copy=False)
    if out["frame_no"].dtype.kind == "i":
        out["frame_no"] = compact(out["frame_no"].to_numpy())
    for c in ("capture", "src_ip", "dst_ip"):
        out[c] = _text_categorical(out[c])
    point = _point_of(pd.DataFrame({c: at(c) for c in ("capture", "interface", "ifindex")}))
    out["point"] = point.array  # by position (``at`` columns have no index of the table's)
    # copies of one packet in several tunnels (a mirror session sending it in several VNIs) are
    # copies, not retransmissions: a sender's retransmission keeps its tunnel and VNI
    # (only compared: one integer per distinct VNI and outer addresses, nulls alike)
    carrier = combination(at(c) for c in ("vni", "outer_src_ip", "outer_dst_ip"))
    out["carrier"] = compact(carrier)
    return out


def _text_categorical(series: pd.Series) -> pd.Series:
    """:func:`_text` of ``series`` as a categorical of those texts (one or two bytes a row,
    where the object column is eight); the object column when two values print alike."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        names = [str(c) for c in series.cat.categories] + ["nan"]
        if len(set(names)) == len(names):
            codes = series.cat.codes.to_numpy()
            return pd.Series(
                pd.Categorical.from_codes(np.where(codes < 0, len(names) - 1, codes), names),
                index=series.index,
            )
    return _text(series)


def _packets(ctx: Context, rows: pd.DataFrame) -> list[tuple[str, int] | None]:
    """The packet each row saw, as its first journey observation (one per packet however many
    points saw it)."""
    return ctx.first_observations(
        rows["capture"].tolist(), rows["frame_no"].to_numpy(dtype=np.int64).tolist()
    )


@detector(
    FindingSpec(
        "tcp-reset",
        Severity.WARNING,
        "a TCP connection reset after its handshake (RST not answering a SYN)",
    ),
    FindingSpec(
        "tcp-retransmissions",
        Severity.WARNING,
        "TCP data segments sent again at one capture point: lost or unacknowledged",
    ),
)
def tcp_resets_and_retransmissions(ctx: Context) -> list[Finding]:
    """Resets in the middle of connections (one finding per connection, who sent them), and
    retransmitted data segments (one finding per connection, counted once per packet however
    many points saw it)."""
    tcp = _tcp(ctx)
    if tcp.empty:
        return []
    out: list[Finding] = []
    out += _resets(ctx, tcp)
    out += _retransmissions(ctx, tcp)
    return out


def _resets(ctx: Context, tcp: pd.DataFrame) -> list[Finding]:
    ex = ctx.exchanges
    answers: set[tuple[str, int]] = set()
    if not ex.empty:
        rst = ex[(ex["kind"] == ExchangeKind.TCP) & ex["reply_frame"].notna()]
        for c, f in zip(rst["reply_capture"].tolist(), rst["reply_frame"].tolist(), strict=True):
            answers.update(ctx.journey_frames(c, f))
    flags = tcp["tcp_flags"].astype(int).to_numpy()
    is_rst = (flags & TCP_RST) != 0
    mid = tcp[is_rst]
    mid = mid[
        [
            (c, int(f)) not in answers
            for c, f in zip(mid["capture"].tolist(), mid["frame_no"].tolist(), strict=True)
        ]
    ]
    if mid.empty:
        return []
    conns: dict[tuple, list[int]] = {}
    for k, (s, sp, d, dp) in enumerate(
        zip(mid["src_ip"], mid["sport"], mid["dst_ip"], mid["dport"], strict=True)
    ):
        conns.setdefault(_conn_key(s, int(sp), d, int(dp)), []).append(k)
    # data seen per connection (distinct packets), to say what the reset interrupted
    data = tcp[tcp["payload_len"].fillna(0).astype(int) > 0]
    # only the data of the connections reported is counted: rows between their addresses
    ends = {ip for key in list(conns)[:MAX_PER_KIND] for ip in (key[0], key[2])}
    data = data[data["src_ip"].isin(ends) & data["dst_ip"].isin(ends)]
    data_per: dict[tuple, set] = {}
    for s, sp, d, dp, pkt in zip(
        data["src_ip"],
        data["sport"],
        data["dst_ip"],
        data["dport"],
        _packets(ctx, data),
        strict=True,
    ):
        data_per.setdefault(_conn_key(s, int(sp), d, int(dp)), set()).add(pkt)
    out: list[Finding] = []
    for key, at in list(conns.items())[:MAX_PER_KIND]:
        rows = mid.iloc[at]
        packets = list(dict.fromkeys(_packets(ctx, rows)))
        senders = sorted(
            {f"{s}:{int(p)}" for s, p in zip(rows["src_ip"], rows["sport"], strict=True)}
        )
        names = [ctx.pod_label(ip=s.rsplit(":", 1)[0]) or s for s in senders]
        n_data = len(data_per.get(key, ()))
        first, last = rows.iloc[0], rows.iloc[-1]
        statement = (
            f"The TCP connection [{key[0]}]:{key[1]} ↔ [{key[2]}]:{key[3]} was reset by "
            f"{', '.join(names)}: {len(packets)} RST segment(s) that answer no SYN "
            f"(first at {first['capture']}#{int(first['frame_no'])}"
            + (f", last at {last['capture']}#{int(last['frame_no'])}" if len(packets) > 1 else "")
            + f"), after {n_data} data segment(s). The packets arrived, so the path works; "
            "the endpoint (or a middlebox) aborted the connection."
        )
        evidence = [
            Evidence(capture=str(c), frame_no=int(f))
            for c, f in zip(rows["capture"], rows["frame_no"], strict=True)
        ]
        out.append(
            Finding(
                "tcp-reset",
                Severity.WARNING,
                statement,
                _dedup(evidence),
                {
                    "connection": list(key),
                    "resets": len(packets),
                    "reset_by": senders,
                    "data_segments": n_data,
                },
            )
        )
    if len(conns) > MAX_PER_KIND:
        out.append(
            _more("tcp-reset", Severity.WARNING, len(conns) - MAX_PER_KIND, "connections reset")
        )
    return out


def _retransmissions(ctx: Context, tcp: pd.DataFrame) -> list[Finding]:
    is_data = (tcp["payload_len"].fillna(0).astype(int) > 0).to_numpy() & (
        (tcp["tcp_flags"].astype(int).to_numpy() & (TCP_RST | TCP_SYN)) == 0
    )
    data_at = np.flatnonzero(is_data)
    if not len(data_at):
        return []
    keys = ["point", "carrier", "src_ip", "dst_ip", "sport", "dport", "tcp_seq", "payload_len"]
    # a data segment seen before at its point (the same keys): one number per combination of
    # the keys' values, made a column at a time, not a copy of the data rows
    again = ~first_of_each(combination(pd.Series(tcp[k].array.take(data_at)) for k in keys))
    dup = tcp.iloc[data_at[again]]
    if dup.empty:
        return []
    out: list[Finding] = []
    # per connection: the retransmitted copies seen at each point; the point that saw most
    by_conn: dict[tuple, dict[str, list[int]]] = {}
    for k, (pt, s, sp, d, dp) in enumerate(
        zip(dup["point"], dup["src_ip"], dup["sport"], dup["dst_ip"], dup["dport"], strict=True)
    ):
        by_conn.setdefault(_conn_key(s, int(sp), d, int(dp)), {}).setdefault(pt, []).append(k)
    # data segments per (point, connection) of the connections reported (rows between their
    # addresses only)
    ends = {ip for key in list(by_conn)[:MAX_PER_KIND] for ip in (key[0], key[2])}
    near = tcp[is_data & tcp["src_ip"].isin(ends).to_numpy() & tcp["dst_ip"].isin(ends).to_numpy()]
    segments = Counter(
        (pt, _conn_key(s, int(sp), d, int(dp)))
        for pt, s, sp, d, dp in zip(
            near["point"], near["src_ip"], near["sport"], near["dst_ip"], near["dport"], strict=True
        )
    )
    for key, points in list(by_conn.items())[:MAX_PER_KIND]:
        point, at = max(points.items(), key=lambda it: len(it[1]))
        rows = dup.iloc[at]
        n = len(at)
        seqs = rows["tcp_seq"].astype(np.int64)
        total = segments[(point, key)]
        senders = sorted({str(s) for s in rows["src_ip"]})
        statement = (
            f"{n} TCP data segment(s) of [{key[0]}]:{key[1]} ↔ [{key[2]}]:{key[3]} were sent again "
            f"(seen twice at {point}, {n} of {total} data segments there; sequence numbers "
            f"{int(seqs.min())}-{int(seqs.max())}), sent by {', '.join(ctx.pod_label(ip=s) or s for s in senders)}: "
            "the first copies, or their acknowledgements, were lost or delayed."
        )
        evidence = [
            Evidence(capture=str(c), frame_no=int(f))
            for c, f in zip(rows["capture"], rows["frame_no"], strict=True)
        ][:MAX_EVIDENCE]
        out.append(
            Finding(
                "tcp-retransmissions",
                Severity.WARNING,
                statement,
                evidence,
                {
                    "connection": list(key),
                    "retransmissions": n,
                    "data_segments": total,
                    "point": point,
                    "points": {k: len(v) for k, v in points.items()},
                },
            )
        )
    if len(by_conn) > MAX_PER_KIND:
        out.append(
            _more(
                "tcp-retransmissions",
                Severity.WARNING,
                len(by_conn) - MAX_PER_KIND,
                "connections with retransmissions",
            )
        )
    return out
