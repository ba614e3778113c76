"""Journeys: the same pod packet recognised at several observation points, and capture clocks.

A packet is recognised by a fingerprint of pod-frame fields that do not change along an overlay
path: addresses, protocol, IPv4 identification and fragment offset, ports, TCP flags, sequence
and acknowledgement numbers, ICMP type/code/id/sequence, ND target, ARP opcode and addresses,
payload length, and the quoted header of ICMP errors. MACs, TTL/hop limit and every outer
(underlay) header are left out: they change from hop to hop.

Captures taken on different machines have different clocks. :func:`clock_offsets` estimates each
capture's offset against a reference capture from packets seen in both (median of the time
differences, per direction, so that the transit time cancels out when packets go both ways);
:func:`journeys` orders observations by the corrected time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from ..errors import VxlanlensError
from ..proto import ArpOp, ICMPType, ICMPv6Type, IPProto, TcpFlag
from ._prep import (
    Prepared,
    check_positive,
    check_table,
    compact,
    key_hash_of,
    nullable,
    sorted_unique,
    texts,
)
from .columns import CLOCK_COLUMNS, JOURNEY_COLUMNS

__all__ = ["clock_offsets", "journey_index", "journeys"]

_FP_INTS = (
    "ip_version",
    "ip_proto",
    "ip_id",
    "frag_offset",
    "sport",
    "dport",
    "tcp_flags",
    "tcp_seq",
    "tcp_ack",
    "payload_len",
    "icmp_type",
    "icmp_code",
    "echo_id",
    "echo_seq",
    "arp_op",
    "emb_ip_proto",
    "emb_sport",
    "emb_dport",
    "emb_echo_id",
    "emb_echo_seq",
)
_FP_IPS = (
    "src_ip",
    "dst_ip",
    "nd_target",
    "arp_sender_ip",
    "arp_target_ip",
    "emb_src_ip",
    "emb_dst_ip",
)

# Within one capture, sightings of one fingerprint at different interfaces (``-i any``) closer
# than this are taken as one packet; farther apart, as distinct packets (unusable for clocks).
_SAME_PACKET_NS = 1_000_000_000


def _fingerprints(p: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Rows that can be recognised (an IP or ARP pod frame) and their fingerprints."""
    rows = np.flatnonzero((p.ipc("src_ip") >= 0) | (p.int("arp_op") >= 0))
    # each column made, taken at ``rows`` and hashed in turn: never all of them at once
    cols = [partial(_at, p.int_once, c, rows) for c in _FP_INTS]
    cols += [partial(_at, p.ipc, c, rows) for c in _FP_IPS]
    return rows, key_hash_of(cols, len(rows))


def _at(column: Callable[[str], np.ndarray], name: str, rows: np.ndarray) -> np.ndarray:
    return column(name)[rows]


def _iqr(x: np.ndarray) -> float:
    q1, q3 = np.percentile(x, [25, 75])
    return float(q3 - q1)


def _pair_stats(diff: np.ndarray, dirn: np.ndarray) -> tuple[float, float, float, str]:
    """Offset, spread, one-way delay and method from time differences (ns) and directions."""
    a, b = diff[dirn == 0], diff[dirn == 1]
    if len(a) and len(b):
        ma, mb = float(np.median(a)), float(np.median(b))
        return (ma + mb) / 2, max(_iqr(a), _iqr(b)), abs(ma - mb) / 2, "two-way"
    return float(np.median(diff)), _iqr(diff), float("nan"), "one-way"


def _offsets(
    p: Prepared, rows: np.ndarray, fp: np.ndarray, reference: str | None
) -> tuple[pd.DataFrame, np.ndarray]:
    """The clock-offsets table and the offset in ns per capture code (NaN when unknown)."""
    present = sorted_unique(p.cap[p.cap >= 0])
    names = p.capture_names
    ref = _reference(names, present, int(p.cap[0]) if p.n else -1, reference)
    matched = _matched(p, rows, fp) if len(present) > 1 else None
    return _clock_table(names, present, ref, matched)


def _reference(names: list[str], present: np.ndarray, first: int, reference: str | None) -> int:
    """The reference capture's code: ``reference``'s, or ``first`` (the first row's capture),
    or the first capture present; -1 for an empty table. A ``reference`` not among the
    captures present is an error."""
    if reference is None:
        return first if first >= 0 else (int(present[0]) if len(present) else -1)
    if reference not in names or names.index(reference) not in set(present.tolist()):
        raise VxlanlensError(
            f"clock offsets: expected a reference among the captures "
            f"({', '.join(names[c] for c in present)}), found {reference!r}"
        )
    return names.index(reference)


def _matched(p: Prepared, rows: np.ndarray, fp: np.ndarray) -> pd.DataFrame:
    """Per capture pair and fingerprint seen at both, the time difference (ns) of the closest
    pair of sightings and the packet's direction: columns ``ca``, ``cb`` (capture codes,
    ``ca < cb``), ``diff``, ``dirn``. Rows of one fingerprint only depend on each other, so
    this can run on any grouping of the table that keeps a fingerprint's rows together."""
    src, dst = p.ipc("src_ip")[rows], p.ipc("dst_ip")[rows]
    u = pd.DataFrame(
        {
            "cap": p.cap[rows],
            "fp": fp,
            "pt": p.point[rows],
            "ts": p.ts[rows],
            "dirn": (src < dst).astype(np.int8),
        }
    )
    if not len(u):
        return pd.DataFrame(
            {
                "ca": np.zeros(0, np.int64),
                "cb": np.zeros(0, np.int64),
                "diff": np.zeros(0, np.float64),
                "dirn": np.zeros(0, np.int8),
            }
        )
    # a fingerprint seen twice at one point is repeated traffic: useless for clocks
    again = u.duplicated(["fp", "pt"], keep=False).to_numpy()
    u = u[~np.isin(u["fp"].to_numpy(), u["fp"].to_numpy()[again])]
    # one sighting per point (a `-i any` capture sees a packet at several interfaces, and
    # the datapath may hold it between them, e.g. while the underlay resolves a neighbour)
    g = u.groupby(["cap", "pt", "fp"], sort=False).agg(
        ts=("ts", "min"), hi=("ts", "max"), dirn=("dirn", "first")
    )
    g = g[(g["hi"] - g["ts"]) <= _SAME_PACKET_NS].reset_index()
    g = g[g.groupby("fp")["cap"].transform("nunique") >= 2]
    m = g.merge(g, on="fp", suffixes=("_a", "_b"))
    m = m[m["cap_a"] < m["cap_b"]]
    # between two captures, compare the closest pair of points (least transit in between)
    m = m.assign(_abs=(m["ts_b"] - m["ts_a"]).abs())
    m = m.sort_values("_abs", kind="stable").drop_duplicates(["cap_a", "cap_b", "fp"])
    return pd.DataFrame(
        {
            "ca": m["cap_a"].to_numpy(np.int64),
            "cb": m["cap_b"].to_numpy(np.int64),
            "diff": (m["ts_b"] - m["ts_a"]).to_numpy(np.float64),
            "dirn": m["dirn_a"].to_numpy(np.int8),
        }
    )


def _clock_table(
    names: list[str], present: np.ndarray, ref: int, matched: pd.DataFrame | None
) -> tuple[pd.DataFrame, np.ndarray]:
    """The clock-offsets table and the offset in ns per capture code, from the rows of
    :func:`_matched` (of the whole table, or concatenated from groups of it)."""
    stats: dict[tuple[int, int], tuple[float, float, float, str, int]] = {}
    if matched is not None and len(matched):
        diff = matched["diff"].to_numpy(np.float64)
        dirn = matched["dirn"].to_numpy(np.int8)
        ca, cb = matched["ca"].to_numpy(np.int64), matched["cb"].to_numpy(np.int64)
        order = np.lexsort((cb, ca))
        diff, dirn, ca, cb = diff[order], dirn[order], ca[order], cb[order]
        bounds = np.flatnonzero(np.r_[True, (ca[1:] != ca[:-1]) | (cb[1:] != cb[:-1]), True])
        for s, e in itertools.pairwise(bounds if len(diff) else []):
            off, spread, delay, method = _pair_stats(diff[s:e], dirn[s:e])
            stats[(int(ca[s]), int(cb[s]))] = (off, spread, delay, method, e - s)
    # Prim's tree from the reference: follow the links with the most matched packets
    offset = np.full(len(names), np.nan)
    info: dict[int, tuple[float, float, float, str, int, int]] = {}
    if ref >= 0:
        offset[ref] = 0.0
        info[ref] = (0.0, 0.0, float("nan"), "reference", 0, ref)
        done = {ref}
        while True:
            best = None
            for (a, b), st in stats.items():
                for frm, to, sign in ((a, b, 1.0), (b, a, -1.0)):
                    if frm in done and to not in done and (best is None or st[4] > best[3][4]):
                        best = (frm, to, sign, st)
            if best is None:
                break
            frm, to, sign, (off, spread, delay, method, nm) = best
            offset[to] = offset[frm] + sign * off
            info[to] = (offset[to], spread, delay, method, nm, frm)
            done.add(to)
    recs = []
    for c in present:
        c = int(c)
        off, spread, delay, method, nm, via = info.get(
            c, (float("nan"), float("nan"), float("nan"), "none", 0, -1)
        )
        recs.append((c, off / 1e9, spread / 1e9, delay / 1e9, nm, via, method))
    table = pd.DataFrame(
        {
            "capture": pd.Categorical.from_codes([r[0] for r in recs], categories=names),
            "reference": pd.Categorical.from_codes([ref] * len(recs), categories=names),
            "offset_s": pd.array([r[1] for r in recs], dtype="Float64"),
            "spread_s": pd.array([r[2] for r in recs], dtype="Float64"),
            "one_way_delay_s": pd.array([r[3] for r in recs], dtype="Float64"),
            "n_matched": pd.array([r[4] for r in recs], dtype="Int64"),
            "via": pd.Categorical.from_codes([r[5] for r in recs], categories=names),
            "method": pd.Categorical(
                [r[6] for r in recs], categories=["reference", "two-way", "one-way", "none"]
            ),
        }
    )
    for col in ("offset_s", "spread_s", "one_way_delay_s"):
        table[col] = table[col].mask(table[col].isna(), pd.NA)
    return table[[c for c, _, _ in CLOCK_COLUMNS]], offset


def clock_offsets(packets: pd.DataFrame, *, reference: str | None = None) -> pd.DataFrame:
    """Per capture, the estimated offset of its clock against a reference capture.

    The reference is ``reference`` (a capture label) or the capture of the table's first row.
    Offsets come from packets seen in both captures (median time difference; with packets in
    both directions, the mean of the two directions' medians, so the transit time cancels out);
    a capture that shares no packet with the reference is linked through another capture, or
    gets a null offset. Columns: :data:`CLOCK_COLUMNS`.
    """
    check_table(packets, "clock_offsets")
    p = Prepared(packets)
    rows, fp = _fingerprints(p)
    table, _ = _offsets(p, rows, fp, reference)
    return table


def journeys(
    packets: pd.DataFrame,
    *,
    max_skew_s: float = 5.0,
    min_observations: int = 1,
    reference: str | None = None,
) -> pd.DataFrame:
    """One row per (journey, observation): the same pod packet at each point where it was seen.

    Observations of one fingerprint are ordered by clock-corrected time (see
    :func:`clock_offsets`); a new journey starts when the gap to the previous sighting exceeds
    ``max_skew_s`` seconds or when the packet shows up again at a point it has already passed
    (a retransmission). Journeys with fewer than ``min_observations`` observations are left out.
    Columns: :data:`JOURNEY_COLUMNS`.
    """
    check_table(packets, "journeys")
    skew = check_positive(max_skew_s, "max_skew_s", "journeys")
    p = Prepared(packets)
    rows, fp = _fingerprints(p)
    _, offset = _offsets(p, rows, fp, reference)
    df, _ = _journey_table(p, rows, fp, offset, skew, min_observations)
    return df


def journey_index(packets: pd.DataFrame, *, max_skew_s: float = 5.0) -> pd.DataFrame:
    """The rows of :func:`journeys` (same defaults, same order) with only the columns that
    say which frames are one packet and each capture's clock offset: ``journey``, ``obs``,
    ``capture``, ``frame_no``, ``clock_offset_s``. Cheaper than :func:`journeys` on large
    tables (no text key, no per-observation columns): what ``explain`` needs. ``journey``,
    ``obs`` and ``frame_no`` are never null here: plain ``int32`` (``int64`` past 2**31)."""
    check_table(packets, "journeys")
    skew = check_positive(max_skew_s, "max_skew_s", "journeys")
    p = Prepared(packets)
    rows, fp = _fingerprints(p)
    _, offset = _offsets(p, rows, fp, None)
    p.release()  # the fingerprints' code columns: the slim table reads none of them
    df, _ = _journey_table(p, rows, fp, offset, skew, 1, slim=True)
    return df


def _journey_table(
    p: Prepared,
    rows: np.ndarray,
    fp: np.ndarray,
    offset: np.ndarray,
    skew: float,
    min_observations: int,
    slim: bool = False,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The journeys table of sightings ``rows`` with fingerprints ``fp``, given the clock
    offsets (ns per capture code), and the fingerprint of each of its rows. Journeys of one
    fingerprint only depend on each other: on a grouping of the table that keeps a
    fingerprint's rows together, the groups' tables renumbered by (first corrected time, first
    point, fingerprint, journey) give the whole table's. ``slim``: only the columns of
    :func:`journey_index` (the same rows in the same order)."""
    off_ns = np.where(np.isnan(offset), 0, np.round(offset)).astype(np.int64)
    cap = p.cap[rows]
    corr = p.ts[rows]
    corr -= np.where(cap >= 0, off_ns[np.maximum(cap, 0)], 0)
    del cap
    point = p.point[rows]
    order = np.lexsort((p.frame[rows], point, corr, fp))
    rows, fp, corr, point = rows[order], fp[order], corr[order], point[order]
    del order
    n = len(rows)
    # positions and counts below n in the narrowest type that holds them (each int64 array
    # of a row per sighting was 8 MB a million frames; a dozen were alive at once)
    idx = np.int32 if n < 2**31 else np.int64
    jstart = _journey_starts(fp, corr, point, round(skew * 1e9))
    jid = np.cumsum(jstart, dtype=idx)
    jid -= 1
    starts = np.flatnonzero(jstart).astype(idx)
    del jstart
    size = np.diff(np.r_[starts, idx(n)])
    obs = np.arange(n, dtype=idx) - starts[jid] if n else np.zeros(0, idx)
    # renumber journeys by first-observation time
    jorder = np.lexsort((point[starts], corr[starts])).astype(idx) if n else np.zeros(0, idx)
    new_id = np.empty(len(starts), idx)
    new_id[jorder] = np.arange(len(starts), dtype=idx)
    jnum = new_id[jid] if n else np.zeros(0, idx)
    # the kept rows by journey number, then observation: each journey's rows are one run of
    # the sorted arrays, so the runs are laid end to end in journey-number order (no sort)
    kept_j = jorder[size[jorder] >= max(1, int(min_observations))]
    lens = size[kept_j].astype(np.int64)
    sel = np.repeat(starts[kept_j] - (np.cumsum(lens) - lens), lens)
    sel += np.arange(len(sel), dtype=sel.dtype)
    del lens
    r = rows[sel]
    # ``sel`` is sorted by journey number: dense numbers count the changes (no sort needed)
    js = jnum[sel]
    jnum_dense = np.cumsum(np.r_[False, js[1:] != js[:-1]]) if len(js) else js
    del js
    caps = p.capture_names
    cap_off = offset[np.maximum(p.cap[r], 0)] / 1e9
    if slim:
        del rows, corr, point, jid, jnum, new_id
        return pd.DataFrame(
            {
                "journey": compact(jnum_dense.reshape(-1)),
                "obs": compact(obs[sel] + 1),
                "capture": pd.Categorical.from_codes(p.cap[r], categories=caps),
                "frame_no": compact(p.frame[r]),
                "clock_offset_s": pd.array(cap_off, dtype="Float64"),  # NaN: null
            }
        ), fp[sel]
    n_obs = size[jid] if n else np.zeros(0, idx)
    first_corr = corr[starts[jid]] if n else np.zeros(0, np.int64)
    prev = np.r_[0, corr[:-1]] if n else np.zeros(0, np.int64)
    hop = np.where(obs > 0, (corr - prev) / 1e9, np.nan)
    last_pos = starts + size - 1
    last_point = point[last_pos][jid] if n else np.zeros(0, np.int64)
    # one description per journey (its observations share the fingerprint)
    keys_of_journey = np.empty(len(starts), dtype=object)
    kept = np.flatnonzero(size >= max(1, int(min_observations)))
    keys_of_journey[kept] = _packet_keys(p, rows[starts[kept]])
    df = pd.DataFrame(
        {
            "journey": pd.array(jnum_dense.reshape(-1), dtype="Int64"),
            "obs": pd.array(obs[sel] + 1, dtype="Int64"),
            "n_obs": pd.array(n_obs[sel], dtype="Int64"),
            "point": pd.Categorical.from_codes(point[sel], categories=p.point_names),
            "capture": pd.Categorical.from_codes(p.cap[r], categories=caps),
            "frame_no": pd.array(p.frame[r], dtype="Int64"),
            "ts": pd.to_datetime(p.ts[r], unit="ns", utc=True),
            "clock_offset_s": pd.array(cap_off, dtype="Float64"),  # NaN: null
            "ts_corrected": pd.to_datetime(corr[sel], unit="ns", utc=True),
            "since_first_s": pd.array((corr[sel] - first_corr[sel]) / 1e9, dtype="Float64"),
            "hop_latency_s": pd.array(hop[sel], dtype="Float64"),  # NaN: null
            "is_last": pd.array(obs[sel] == n_obs[sel] - 1, dtype="boolean"),
            "last_point": pd.Categorical.from_codes(last_point[sel], categories=p.point_names),
            "key": pd.array(keys_of_journey[jid[sel]], dtype="str"),
            "src_ip": p.ip.categorical(
                np.where(p.ipc("src_ip")[r] >= 0, p.ipc("src_ip")[r], p.ipc("arp_sender_ip")[r])
            ),
            "dst_ip": p.ip.categorical(
                np.where(p.ipc("dst_ip")[r] >= 0, p.ipc("dst_ip")[r], p.ipc("arp_target_ip")[r])
            ),
            "ip_proto": nullable(p.int("ip_proto")[r], "UInt8"),
            "ttl": nullable(p.int("ttl")[r], "UInt8"),
            "src_mac": p.mac.categorical(p.macc("src_mac")[r]),
            "dst_mac": p.mac.categorical(p.macc("dst_mac")[r]),
            "tunnelled": pd.array(p.tunnelled[r] == 1, dtype="boolean"),
            "vni": nullable(p.int("vni")[r], "UInt32"),
            "outer_src_ip": p.ip.categorical(p.ipc("outer_src_ip")[r]),
            "outer_dst_ip": p.ip.categorical(p.ipc("outer_dst_ip")[r]),
        }
    )
    return df[[c for c, _, _ in JOURNEY_COLUMNS]], fp[sel]


def _journey_starts(
    fp: np.ndarray, corr: np.ndarray, point: np.ndarray, skew_ns: int
) -> np.ndarray:
    """Boolean array over sorted sightings: True where a new journey begins."""
    n = len(fp)
    start = np.ones(n, bool)
    if n == 0:
        return start
    start[1:] = (fp[1:] != fp[:-1]) | ((corr[1:] - corr[:-1]) > skew_ns)
    cl = np.cumsum(start) - 1
    cstarts = np.flatnonzero(start)
    csize = np.diff(np.r_[cstarts, n])
    # distinct points per cluster: distinct (cluster, point) pairs, as one integer each
    width = int(point.max()) + 1 if n else 1
    pairs = sorted_unique(cl * width + point)
    distinct = np.bincount(pairs // width, minlength=len(cstarts))
    single = distinct == 1
    start |= single[cl]  # one point only: each sighting is its own packet
    mixed = np.flatnonzero((csize > distinct) & ~single)
    for c in mixed:  # a point seen twice in a cluster: split where a point repeats
        s, e = cstarts[c], cstarts[c] + csize[c]
        seen: set[int] = set()
        for i in range(s, e):
            pt = int(point[i])
            if pt in seen:
                start[i] = True
                seen = set()
            seen.add(pt)
    return start


_TCP_FLAGS: tuple[tuple[int, str], ...] = (
    (TcpFlag.FIN, "F"),
    (TcpFlag.SYN, "S"),
    (TcpFlag.RST, "R"),
    (TcpFlag.PSH, "P"),
    (TcpFlag.ACK, "A"),
    (TcpFlag.URG, "U"),
)
_T4, _T6 = ICMPType, ICMPv6Type
_ICMP_NAMES: dict[tuple[int, int], str] = {
    (4, _T4.ECHO_REPLY): "echo-reply",
    (4, _T4.ECHO_REQUEST): "echo-request",
    (4, _T4.DEST_UNREACH): "dest-unreachable",
    (4, _T4.TIME_EXCEEDED): "time-exceeded",
    (6, _T6.DEST_UNREACH): "dest-unreachable",
    (6, _T6.PACKET_TOO_BIG): "packet-too-big",
    (6, _T6.TIME_EXCEEDED): "time-exceeded",
    (6, _T6.ECHO_REQUEST): "echo-request",
    (6, _T6.ECHO_REPLY): "echo-reply",
    (6, _T6.ROUTER_SOLICITATION): "router-solicitation",
    (6, _T6.ROUTER_ADVERTISEMENT): "router-advertisement",
    (6, _T6.NEIGHBOR_SOLICITATION): "neighbor-solicitation",
    (6, _T6.NEIGHBOR_ADVERTISEMENT): "neighbor-advertisement",
}
_ARP_OPS: dict[int, str] = {ArpOp.REQUEST: "who-has", ArpOp.REPLY: "is-at"}


def _ip_text(p: Prepared, codes: np.ndarray) -> np.ndarray:
    vals = np.asarray([*list(p.ip.values), "?"], dtype=object)
    return vals[np.where(codes >= 0, codes, len(vals) - 1)]


def _numbers(values: np.ndarray) -> list[object]:
    """Each integer as itself, ``?`` where negative (null), for :func:`_joined`."""
    v = np.asarray(values, dtype=np.int64).tolist()
    if v and min(v) < 0:
        return [x if x >= 0 else "?" for x in v]
    return v  # type: ignore[no-any-return]


def _joined(template: str, *columns: np.ndarray | list[object]) -> np.ndarray:
    """Object array of ``template`` filled row by row from ``columns``."""
    fmt = template.format
    cols = [c if isinstance(c, list) else c.tolist() for c in columns]
    rows = [fmt(*row) for row in zip(*cols, strict=True)]
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out


def _packet_keys(p: Prepared, r: np.ndarray) -> np.ndarray:
    """A short readable description of each pod packet (object array)."""
    n = len(r)
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    ver, proto = p.int("ip_version")[r], p.int("ip_proto")[r]
    src, dst = _ip_text(p, p.ipc("src_ip")[r]), _ip_text(p, p.ipc("dst_ip")[r])
    head = src + " > " + dst + " "
    arp = p.int("arp_op")[r] >= 0
    if arp.any():
        op = p.int("arp_op")[r][arp]
        out[arp] = (
            "arp "
            + texts(op, lambda v: _ARP_OPS.get(v, f"op {v}"))
            + " "
            + _ip_text(p, p.ipc("arp_target_ip")[r][arp])
            + " tell "
            + _ip_text(p, p.ipc("arp_sender_ip")[r][arp])
        )
    icmp = ~arp & ((proto == IPProto.ICMP) | (proto == IPProto.ICMPV6))
    if icmp.any():
        t, c = p.int("icmp_type")[r][icmp], p.int("icmp_code")[r][icmp]
        v = ver[icmp]
        name = texts(
            v * 1000 + t, lambda x: _ICMP_NAMES.get((x // 1000, x % 1000), f"type {x % 1000}")
        )
        text = head[icmp] + np.where(v == 6, "icmpv6 ", "icmp ") + name
        eid, seq = p.int("echo_id")[r][icmp], p.int("echo_seq")[r][icmp]
        e = eid >= 0
        text[e] = text[e] + " id " + texts(eid[e], str) + " seq " + texts(seq[e], str)
        tg = p.ipc("nd_target")[r][icmp]
        nd = tg >= 0
        text[nd] = text[nd] + " target " + _ip_text(p, tg[nd])
        other = ~e & ~nd & (c > 0)
        text[other] = text[other] + " code " + texts(c[other], str)
        out[icmp] = text
    tcp = ~arp & (proto == IPProto.TCP)
    if tcp.any():
        fl = p.int("tcp_flags")[r][tcp]
        letters = texts(
            fl, lambda f: "".join(ch for bit, ch in _TCP_FLAGS if f >= 0 and f & bit) or "."
        )
        # one formatting pass per row (cheaper than adding object arrays ten times)
        out[tcp] = _joined(
            "{}tcp {} > {} [{}] seq {} len {}",
            head[tcp],
            _numbers(p.int("sport")[r][tcp]),
            _numbers(p.int("dport")[r][tcp]),
            letters,
            _numbers(p.int("tcp_seq")[r][tcp]),
            _numbers(p.int("payload_len")[r][tcp]),
        )
    udp = ~arp & (proto == IPProto.UDP)
    if udp.any():
        out[udp] = _joined(
            "{}udp {} > {} len {}",
            head[udp],
            _numbers(p.int("sport")[r][udp]),
            _numbers(p.int("dport")[r][udp]),
            _numbers(p.int("payload_len")[r][udp]),
        )
    rest = ~(arp | icmp | tcp | udp)
    if rest.any():
        out[rest] = head[rest] + "proto " + texts(proto[rest], str)
    return out
