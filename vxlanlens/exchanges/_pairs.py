"""The machinery of pairing (see :mod:`vxlanlens.exchanges.pairing`): statuses, notes and
answers as codes, the sorted walk that pairs requests with replies by key and time, and the
builder of the exchanges table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..proto import ExchangeStatus
from ._prep import Prepared, nullable, texts
from .columns import EXCHANGE_COLUMNS, KINDS

_STATUS = ExchangeStatus.values()
# Status codes: positions in ``_STATUS`` (the ``status`` categorical's codes).
ANSWERED, UNANSWERED, UNSOLICITED, DUPLICATE, GRATUITOUS, DAD = (
    _STATUS.index(s)
    for s in (
        ExchangeStatus.ANSWERED,
        ExchangeStatus.UNANSWERED,
        ExchangeStatus.UNSOLICITED,
        ExchangeStatus.DUPLICATE,
        ExchangeStatus.GRATUITOUS,
        ExchangeStatus.DAD,
    )
)

_NOTES = (
    "",
    "DAD probe contested: the address is in use",
    "ARP probe (sender IP 0.0.0.0)",
    "ARP probe contested: the address is in use",
    "the error quotes the underlay (outer) headers of a tunnelled frame",
    "the error quotes a packet not seen at this point",
    "reply to a multicast/broadcast echo",
    "NA sent to all-nodes",
)
(
    N_NONE,
    N_DAD_CONTESTED,
    N_ARP_PROBE,
    N_ARP_PROBE_CONTESTED,
    N_OUTER,
    N_NOT_SEEN,
    N_MCAST_ECHO,
    N_NA_ALLNODES,
) = range(len(_NOTES))

_ANSWERS = (
    "is-at",
    "na",
    "echo-reply",
    "syn-ack",
    "rst",
    "packet-too-big",
    "frag-needed",
    "dest-unreachable",
    "time-exceeded",
    "parameter-problem",
)
A = {name: i for i, name in enumerate(_ANSWERS)}


def _take(arr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``arr[rows]`` with ``-1`` where ``rows`` is ``-1``."""
    out = arr[np.maximum(rows, 0)]
    return np.where(rows >= 0, out, -1)


def _pick(a_req: np.ndarray, req: np.ndarray, a_rep: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """From the request row where there is one, else from the reply row."""
    return np.where(req >= 0, _take(a_req, req), _take(a_rep, rep))


class _Pairs:
    """Result of one pairing run, in packet-row space (``-1`` = none)."""

    def __init__(self) -> None:
        self.req = np.zeros(0, np.int64)
        self.rep = np.zeros(0, np.int64)
        self.status = np.zeros(0, np.int64)
        self.dup_of = np.zeros(0, np.int64)
        self.retrans = np.zeros(0, np.int64)
        self.rep_valid_rows = np.zeros(0, np.int64)
        self.last_req_of_reply = np.zeros(0, np.int64)


def _pair(
    rq_rows: np.ndarray,
    rq_key: np.ndarray,
    rp_rows: np.ndarray,
    rp_key: np.ndarray,
    ts: np.ndarray,
    frame: np.ndarray,
    timeout_ns: int,
) -> _Pairs:
    """Pair request rows with reply rows of equal key (see the module docstring)."""
    nq = len(rq_rows)
    rows = np.concatenate([rq_rows, rp_rows]).astype(np.int64)
    key = np.concatenate([rq_key, rp_key]).astype(np.uint64)
    role = np.concatenate([np.zeros(nq, np.int8), np.ones(len(rp_rows), np.int8)])
    t = ts[rows]
    order = np.lexsort((frame[rows], role, t, key))
    rows, key, role, t = rows[order], key[order], role[order], t[order]
    n = len(rows)
    pos = np.arange(n, dtype=np.int64)
    out = _Pairs()
    if n == 0:
        return out
    newgrp = np.empty(n, bool)
    newgrp[0] = True
    newgrp[1:] = key[1:] != key[:-1]
    gstart = np.maximum.accumulate(np.where(newgrp, pos, 0))
    isreq = role == 0
    lastreq = np.maximum.accumulate(np.where(isreq, pos, -1))
    prevreq = np.empty(n, np.int64)
    prevreq[0] = -1
    prevreq[1:] = lastreq[:-1]
    # requests: continue the chain of the previous request of the key when within the timeout
    near_prev = (prevreq >= gstart) & (t - t[np.maximum(prevreq, 0)] <= timeout_ns)
    start = isreq & ~near_prev
    head = np.maximum.accumulate(np.where(start, pos, -1))
    # replies: answer the latest request of the key before them, when within the timeout
    isrep = ~isreq
    valid = isrep & (lastreq >= gstart) & (t - t[np.maximum(lastreq, 0)] <= timeout_ns)
    vr = pos[valid]
    vhead = head[lastreq[vr]]
    first = np.empty(len(vr), bool)
    if len(vr):
        first[0] = True
        first[1:] = vhead[1:] != vhead[:-1]
    answer_of_head = np.full(n, -1, np.int64)
    answer_of_head[vhead[first]] = vr[first]
    copies = np.bincount(head[isreq], minlength=n)

    heads = pos[start]
    dreq = pos[isreq & ~start]
    drep = vr[~first]
    unsol = pos[isrep & ~valid]

    def rowsof(p: np.ndarray) -> np.ndarray:
        return np.where(p >= 0, rows[np.maximum(p, 0)], -1)

    ans = answer_of_head[heads]
    parts_req = [rows[heads], rows[dreq], rowsof(lastreq[drep]), np.full(len(unsol), -1)]
    parts_rep = [rowsof(ans), np.full(len(dreq), -1), rows[drep], rows[unsol]]
    parts_status = [
        np.where(ans >= 0, ANSWERED, UNANSWERED),
        np.full(len(dreq), DUPLICATE),
        np.full(len(drep), DUPLICATE),
        np.full(len(unsol), UNSOLICITED),
    ]
    parts_dup = [
        np.full(len(heads), -1),
        rows[head[dreq]],
        rowsof(answer_of_head[vhead[~first]]),
        np.full(len(unsol), -1),
    ]
    parts_retrans = [
        copies[heads] - 1,
        np.zeros(len(dreq), np.int64),
        np.zeros(len(drep), np.int64),
        np.zeros(len(unsol), np.int64),
    ]
    out.req = np.concatenate(parts_req).astype(np.int64)
    out.rep = np.concatenate(parts_rep).astype(np.int64)
    out.status = np.concatenate(parts_status).astype(np.int64)
    out.dup_of = np.concatenate(parts_dup).astype(np.int64)
    out.retrans = np.concatenate(parts_retrans).astype(np.int64)
    out.rep_valid_rows = rows[vr]
    # for every reply position, the request it was matched with (for icmp-error)
    last = np.full(n, -1, np.int64)
    last[vr] = rows[lastreq[vr]]
    back = np.empty(n, np.int64)
    back[order] = np.arange(n)
    out.last_req_of_reply = last[back[nq:]]
    return out


def _drop_expanded_unsolicited(p: _Pairs, expanded: bool) -> np.ndarray:
    """Row mask: keep one unsolicited row per reply, none when a copy of it was matched."""
    keep = np.ones(len(p.status), bool)
    if not expanded:
        return keep
    uns = p.status == UNSOLICITED
    matched = np.isin(p.rep, p.rep_valid_rows)
    keep &= ~(uns & matched)
    # several unmatched copies of one reply: keep the first
    idx = np.flatnonzero(uns & keep)
    _, first = np.unique(p.rep[idx], return_index=True)
    drop = np.setdiff1d(idx, idx[first])
    keep[drop] = False
    return keep


class _Builder:
    """Collects the rows of every kind, then makes the DataFrame."""

    NAMES = (
        "kind",
        "req",
        "rep",
        "status",
        "dup_of",
        "retrans",
        "note",
        "answer",
        "requester_mac",
        "requester_ip",
        "responder_mac",
        "responder_ip",
        "target",
        "ip_version",
        "echo_id",
        "echo_seq",
        "sport",
        "dport",
        "icmp_type",
        "icmp_code",
        "mtu",
        "nd_flags",
        "nd_lladdr",
    )

    def __init__(self, prep: Prepared) -> None:
        self.p = prep
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, **cols: np.ndarray | int) -> None:
        n = len(cols["req"])  # type: ignore[arg-type]
        full = {}
        for name in self.NAMES:
            v = cols.get(name, -1)
            full[name] = np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy()
        self.parts.append(full)

    def frame(self) -> pd.DataFrame:
        p = self.p
        if self.parts:
            c = {k: np.concatenate([part[k] for part in self.parts]) for k in self.NAMES}
        else:
            c = {k: np.zeros(0, np.int64) for k in self.NAMES}
        req, rep = c["req"], c["rep"]
        first = np.where(req >= 0, req, rep)
        order = np.lexsort(
            (c["kind"], _take(p.frame, first), _take(p.point, first), _take(p.ts, first))
        )
        c = {k: v[order] for k, v in c.items()}
        req, rep, first = c["req"], c["rep"], first[order]
        df = pd.DataFrame(index=pd.RangeIndex(len(req)))
        df["kind"] = pd.Categorical.from_codes(c["kind"], categories=list(KINDS))
        df["status"] = pd.Categorical.from_codes(c["status"], categories=list(_STATUS))
        df["key"] = ""
        df["point"] = pd.Categorical.from_codes(_take(p.point, first), categories=p.point_names)
        df["ts"] = pd.to_datetime(_take(p.ts, first), unit="ns", utc=True)
        caps = p.capture_names
        df["request_capture"] = pd.Categorical.from_codes(_take(p.cap, req), categories=caps)
        df["request_frame"] = nullable(_take(p.frame, req), "Int64")
        df["reply_capture"] = pd.Categorical.from_codes(_take(p.cap, rep), categories=caps)
        df["reply_frame"] = nullable(_take(p.frame, rep), "Int64")
        both = (req >= 0) & (rep >= 0)
        lat = (_take(p.ts, rep) - _take(p.ts, req)) / 1e9
        df["latency_s"] = pd.array(np.where(both, lat, np.nan), dtype="Float64")
        for name in ("requester_mac", "responder_mac", "nd_lladdr"):
            df[name] = p.mac.categorical(c[name])
        for name in ("requester_ip", "responder_ip", "target"):
            df[name] = p.ip.categorical(c[name])
        df["answer"] = pd.Categorical.from_codes(c["answer"], categories=list(_ANSWERS))
        df["ip_version"] = nullable(c["ip_version"], "UInt8")
        tun = p.tunnelled
        df["tunnelled"] = pd.array((_take(tun, req) == 1) | (_take(tun, rep) == 1), dtype="boolean")
        vni = p.int("vni")
        df["vni_request"] = nullable(_take(vni, req), "UInt32")
        df["vni_reply"] = nullable(_take(vni, rep), "UInt32")
        df["retransmissions"] = nullable(np.maximum(c["retrans"], 0), "UInt32")
        df["duplicate_of"] = nullable(_take(p.frame, c["dup_of"]), "Int64")
        for name, dt in (
            ("echo_id", "UInt16"),
            ("echo_seq", "UInt16"),
            ("sport", "UInt16"),
            ("dport", "UInt16"),
        ):
            df[name] = nullable(c[name], dt)
        flags = p.nd_flag_names
        df["nd_flags"] = pd.Categorical.from_codes(c["nd_flags"], categories=flags)
        df["nd_lladdr"] = df.pop("nd_lladdr")
        df["icmp_type"] = nullable(c["icmp_type"], "UInt8")
        df["icmp_code"] = nullable(c["icmp_code"], "UInt8")
        df["mtu"] = nullable(c["mtu"], "UInt32")
        notes = np.asarray(_NOTES, dtype=object)[np.maximum(c["note"], 0)]
        df["note"] = pd.array(np.where(c["note"] > 0, notes, None), dtype="str")
        df["key"] = _keys(df, c)
        df = df[[name for name, _, _ in EXCHANGE_COLUMNS]]
        for name, dtype, _ in EXCHANGE_COLUMNS:
            if dtype != "category" and str(df[name].dtype) != dtype:
                df[name] = df[name].astype(dtype)
        return df


def _text(cat: pd.Series) -> np.ndarray:
    """Object array of a categorical's text, ``?`` where null."""
    arr = cat.array
    cats = np.asarray(arr.categories.astype(object), dtype=object)
    codes = np.asarray(arr.codes)
    out = np.empty(len(codes), dtype=object)
    out[:] = "?"
    ok = codes >= 0
    out[ok] = cats[codes[ok]]
    return out


def _keys(df: pd.DataFrame, c: dict[str, np.ndarray]) -> pd.api.extensions.ExtensionArray:
    """The readable ``key`` of every row."""
    n = len(df)
    out = np.empty(n, dtype=object)
    kind = c["kind"]
    rq_ip, tgt = _text(df["requester_ip"]), _text(df["target"])
    for k, name in enumerate(KINDS):
        m = kind == k
        if not m.any():
            continue
        a, t = rq_ip[m], tgt[m]
        if name == "arp":
            out[m] = "who-has " + t + " tell " + a
        elif name == "nd":
            out[m] = "who-has " + t + " from " + a
        elif name == "echo":
            out[m] = (
                a + " > " + t + " id " + texts(c["echo_id"][m]) + " seq " + texts(c["echo_seq"][m])
            )
        elif name == "tcp":
            out[m] = _hostport(a, c["sport"][m]) + " > " + _hostport(t, c["dport"][m]) + " syn"
        else:
            what = np.asarray(_ANSWERS, dtype=object)[np.maximum(c["answer"][m], 0)]
            text = what + " about " + a + " > " + t
            ports = c["dport"][m] >= 0
            text[ports] = text[ports] + " port " + texts(c["dport"][m][ports])
            mtu = c["mtu"][m] >= 0
            text[mtu] = text[mtu] + " mtu " + texts(c["mtu"][m][mtu])
            out[m] = text
    return pd.array(out, dtype="str")


def _hostport(ip: np.ndarray, port: np.ndarray) -> np.ndarray:
    v6 = np.fromiter((":" in x for x in ip), dtype=bool, count=len(ip))
    host = ip.copy()
    host[v6] = "[" + ip[v6] + "]"
    return host + ":" + texts(port)


# ---------------------------------------------------------------------------------------------
