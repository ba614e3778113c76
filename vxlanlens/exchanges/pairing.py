"""Request/reply pairing: the exchanges table.

Every kind of exchange follows the same plan, linear in the number of packets up to sorting:

1. pick the request rows and the reply rows of the packets table;
2. give each a key (``uint64`` hash of integer codes) built so that a request and the reply that
   answers it have the same key *only if* the reply is addressed back to the requester (echo: the
   addresses swapped; NA: the solicitor's address or all-nodes; ARP: the requester's MAC; TCP:
   the ports swapped and the acknowledgement number = the SYN's sequence number + 1). The
   observation point (capture, or one interface of it) is always part of the key; the VNI never is;
3. sort requests and replies together by (key, time) once and walk the sorted arrays with NumPy:
   a request within the timeout of the previous request of its key is a retransmission
   (``duplicate``); a reply answers the latest request of its key before it, when that request is
   within the timeout; the first such reply answers the chain of copies, later ones are
   ``duplicate`` replies; a reply without a request is ``unsolicited``.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from ..errors import VxlanlensError
from ..proto import (
    ICMP_FRAG_NEEDED,
    ArpOp,
    ICMPType,
    ICMPv6Type,
    IPProto,
    TcpFlag,
)
from ._pairs import (  # the machinery shared by every kind
    ANSWERED,
    DAD,
    GRATUITOUS,
    N_ARP_PROBE,
    N_ARP_PROBE_CONTESTED,
    N_DAD_CONTESTED,
    N_MCAST_ECHO,
    N_NA_ALLNODES,
    N_NONE,
    N_NOT_SEEN,
    N_OUTER,
    UNANSWERED,
    UNSOLICITED,
    A,
    _Builder,
    _drop_expanded_unsolicited,
    _pair,
    _pick,
    _take,
)
from ._prep import Prepared, check_positive, check_table, key_hash
from .columns import KINDS

__all__ = ["exchanges"]


def _arp(p: Prepared, b: _Builder, timeout_ns: int) -> None:
    op = p.int("arp_op")
    spa, tpa = p.ipc("arp_sender_ip"), p.ipc("arp_target_ip")
    sha, tha = p.macc("arp_sender_mac"), p.macc("arp_target_mac")
    zero = p.ip.code_of("0.0.0.0")
    grat = ((op == ArpOp.REQUEST) | (op == ArpOp.REPLY)) & (spa >= 0) & (spa == tpa) & (spa != zero)
    rq = np.flatnonzero((op == ArpOp.REQUEST) & ~grat & (tpa >= 0) & (sha >= 0))
    rp = np.flatnonzero((op == ArpOp.REPLY) & ~grat & (spa >= 0) & (tha >= 0))
    res = _pair(
        rq,
        key_hash([p.point[rq], tpa[rq], sha[rq]]),
        rp,
        key_hash([p.point[rp], spa[rp], tha[rp]]),
        p.ts,
        p.frame,
        timeout_ns,
    )
    probe = _take(spa, res.req) == zero
    status, note = res.status.copy(), np.zeros(len(res.status), np.int64)
    note[probe] = N_ARP_PROBE
    status[probe & (status == UNANSWERED)] = DAD
    note[probe & (status == ANSWERED)] = N_ARP_PROBE_CONTESTED
    g = np.flatnonzero(grat)
    none = np.full(len(g), -1)
    common = {"kind": KINDS.index("arp"), "ip_version": 4}
    b.add(
        req=res.req,
        rep=res.rep,
        status=status,
        dup_of=res.dup_of,
        retrans=res.retrans,
        note=note,
        answer=np.where(res.rep >= 0, A["is-at"], -1),
        requester_mac=_pick(sha, res.req, tha, res.rep),
        requester_ip=_pick(spa, res.req, tpa, res.rep),
        responder_mac=_take(sha, res.rep),
        responder_ip=_take(spa, res.rep),
        target=_pick(tpa, res.req, spa, res.rep),
        **common,
    )
    # gratuitous ARP: one row each, the announcement is the "request"
    b.add(
        req=g,
        rep=none,
        status=np.full(len(g), GRATUITOUS),
        requester_mac=sha[g],
        requester_ip=spa[g],
        target=tpa[g],
        **common,
    )


def _nd(p: Prepared, b: _Builder, timeout_ns: int) -> None:
    typ, ver = p.int("icmp_type"), p.int("ip_version")
    src, dst, tgt = p.ipc("src_ip"), p.ipc("dst_ip"), p.ipc("nd_target")
    unspec, allnodes = p.ip.code_of("::"), p.ip.code_of("ff02::1")
    solicited = p.nd_has_s[np.maximum(p.flagc, 0)] & (p.flagc >= 0)
    rq = np.flatnonzero(
        (ver == 6) & (typ == ICMPv6Type.NEIGHBOR_SOLICITATION) & (tgt >= 0) & (src >= 0)
    )
    na = (ver == 6) & (typ == ICMPv6Type.NEIGHBOR_ADVERTISEMENT) & (tgt >= 0)
    # NAs addressed to one solicitor: they answer only when solicited (S flag)
    uni = np.flatnonzero(na & (dst != allnodes))
    uni_ok = solicited[uni].astype(np.int64)
    # NAs to all-nodes answer every solicitor of that target at that point (with S), and DAD
    # probes (a defence, S clear); each becomes one copy per solicitor, plus a literal copy
    mc = np.flatnonzero(na & (dst == allnodes))
    rq_frame = pd.DataFrame({"pt": p.point[rq], "tgt": tgt[rq], "who": src[rq]}).drop_duplicates()
    mc_frame = pd.DataFrame({"row": mc, "pt": p.point[mc], "tgt": tgt[mc], "s": solicited[mc]})
    exp = mc_frame.merge(rq_frame, on=["pt", "tgt"], how="inner")
    exp = exp[exp["s"] | (exp["who"] == unspec)]
    rp = np.concatenate([uni, exp["row"].to_numpy(np.int64), mc])
    rp_who = np.concatenate([dst[uni], exp["who"].to_numpy(np.int64), dst[mc]])
    rp_ok = np.concatenate([uni_ok, np.ones(len(exp), np.int64), np.zeros(len(mc), np.int64)])
    res = _pair(
        rq,
        key_hash([p.point[rq], tgt[rq], src[rq], np.ones(len(rq), np.int64)]),
        rp,
        key_hash([p.point[rp], tgt[rp], rp_who, rp_ok]),
        p.ts,
        p.frame,
        timeout_ns,
    )
    keep = _drop_expanded_unsolicited(res, expanded=len(mc) > 0)
    req, rep = res.req[keep], res.rep[keep]
    status = res.status[keep]
    note = np.zeros(len(req), np.int64)
    dad = _take(src, req) == unspec
    status[dad & (status == UNANSWERED)] = DAD
    note[dad & (status == ANSWERED)] = N_DAD_CONTESTED
    note[(note == 0) & (_take(dst, rep) == allnodes)] = N_NA_ALLNODES
    na_mac = np.where(p.macc("src_mac") >= 0, p.macc("src_mac"), p.macc("nd_lladdr"))
    b.add(
        kind=KINDS.index("nd"),
        req=req,
        rep=rep,
        status=status,
        dup_of=res.dup_of[keep],
        retrans=res.retrans[keep],
        note=note,
        answer=np.where(rep >= 0, A["na"], -1),
        requester_mac=_pick(p.macc("src_mac"), req, p.macc("dst_mac"), rep),
        requester_ip=_pick(src, req, dst, rep),
        responder_mac=_take(na_mac, rep),
        responder_ip=_take(src, rep),
        target=_pick(tgt, req, tgt, rep),
        ip_version=6,
        nd_flags=_take(p.flagc, rep),
        nd_lladdr=_take(p.macc("nd_lladdr"), rep),
    )


def _is_multicast(p: Prepared) -> np.ndarray:
    """Per IP code: multicast or broadcast (IPv4 224/4 and 255.255.255.255, IPv6 ff00::/8)."""
    vals = p.ip.values
    out = np.zeros(len(vals) + 1, bool)  # last slot: code -1
    for i, v in enumerate(vals):
        s = str(v)
        if ":" in s:
            out[i] = s[:2].lower() == "ff"
        else:
            first = s.split(".", 1)[0]
            out[i] = (first.isdigit() and 224 <= int(first) <= 239) or s == "255.255.255.255"
    return out


def _ip_parties(p: Prepared, req: np.ndarray, rep: np.ndarray) -> dict[str, np.ndarray]:
    """Who asked and who answered an IP request/reply pair (echo, TCP handshake): the
    request's source, or for a reply without a request the address it was sent to; the
    reply's source; the request's destination; the IP version."""
    src, dst, ver = p.ipc("src_ip"), p.ipc("dst_ip"), p.int("ip_version")
    smac = p.macc("src_mac")
    return {
        "requester_mac": _pick(smac, req, p.macc("dst_mac"), rep),
        "requester_ip": _pick(src, req, dst, rep),
        "responder_mac": _take(smac, rep),
        "responder_ip": _take(src, rep),
        "target": _pick(dst, req, src, rep),
        "ip_version": _pick(ver, req, ver, rep),
    }


def _echo(p: Prepared, b: _Builder, timeout_ns: int) -> None:
    typ, ver = p.int("icmp_type"), p.int("ip_version")
    src, dst = p.ipc("src_ip"), p.ipc("dst_ip")
    eid, seq = p.int("echo_id"), p.int("echo_seq")
    ok = (src >= 0) & (dst >= 0) & (eid >= 0) & (seq >= 0)
    t4, t6 = ICMPType, ICMPv6Type
    is_rq = ok & (((ver == 4) & (typ == t4.ECHO_REQUEST)) | ((ver == 6) & (typ == t6.ECHO_REQUEST)))
    is_rp = ok & (((ver == 4) & (typ == t4.ECHO_REPLY)) | ((ver == 6) & (typ == t6.ECHO_REPLY)))
    rq, rp = np.flatnonzero(is_rq), np.flatnonzero(is_rp)
    mcast = _is_multicast(p)
    # replies to a multicast/broadcast request come from anyone: add one copy of each reply
    # keyed on the multicast address the requester used with that id/seq
    mrq = rq[mcast[dst[rq]]]
    exp = pd.DataFrame(
        {"pt": p.point[mrq], "who": src[mrq], "grp": dst[mrq], "id": eid[mrq], "sq": seq[mrq]}
    ).drop_duplicates()
    rpf = pd.DataFrame({"row": rp, "pt": p.point[rp], "who": dst[rp], "id": eid[rp], "sq": seq[rp]})
    exp = rpf.merge(exp, on=["pt", "who", "id", "sq"], how="inner") if len(exp) else exp.iloc[:0]
    erows = exp["row"].to_numpy(np.int64) if len(exp) else np.zeros(0, np.int64)
    egrp = exp["grp"].to_numpy(np.int64) if len(exp) else np.zeros(0, np.int64)
    rp_all = np.concatenate([rp, erows])
    peer = np.concatenate([src[rp], egrp])
    res = _pair(
        rq,
        key_hash([p.point[rq], ver[rq], src[rq], dst[rq], eid[rq], seq[rq]]),
        rp_all,
        key_hash([p.point[rp_all], ver[rp_all], dst[rp_all], peer, eid[rp_all], seq[rp_all]]),
        p.ts,
        p.frame,
        timeout_ns,
    )
    keep = _drop_expanded_unsolicited(res, expanded=len(erows) > 0)
    req, rep = res.req[keep], res.rep[keep]
    note = np.where(mcast[_take(dst, req)] & (rep >= 0), N_MCAST_ECHO, 0)
    b.add(
        kind=KINDS.index("echo"),
        req=req,
        rep=rep,
        status=res.status[keep],
        dup_of=res.dup_of[keep],
        retrans=res.retrans[keep],
        note=note,
        answer=np.where(rep >= 0, A["echo-reply"], -1),
        **_ip_parties(p, req, rep),
        echo_id=_pick(eid, req, eid, rep),
        echo_seq=_pick(seq, req, seq, rep),
    )


def _tcp(p: Prepared, b: _Builder, timeout_ns: int) -> None:
    proto, fl = p.int("ip_proto"), p.int("tcp_flags")
    src, dst = p.ipc("src_ip"), p.ipc("dst_ip")
    sp, dp = p.int("sport"), p.int("dport")
    sq, ak = p.int("tcp_seq"), p.int("tcp_ack")
    ok = (proto == IPProto.TCP) & (fl >= 0) & (src >= 0) & (dst >= 0) & (sp >= 0) & (dp >= 0)
    f = TcpFlag
    handshake = int(f.SYN | f.RST | f.ACK)
    syn = ok & ((fl & handshake) == f.SYN) & (sq >= 0)
    synack = ok & ((fl & handshake) == f.SYN | f.ACK) & (ak >= 0)
    rst = ok & ((fl & (f.RST | f.ACK)) == f.RST | f.ACK) & (ak >= 0)
    rq = np.flatnonzero(syn)
    rp = np.flatnonzero(synack | rst)
    res = _pair(
        rq,
        key_hash([p.point[rq], src[rq], dst[rq], sp[rq], dp[rq], (sq[rq] + 1) & 0xFFFFFFFF]),
        rp,
        key_hash([p.point[rp], dst[rp], src[rp], dp[rp], sp[rp], ak[rp]]),
        p.ts,
        p.frame,
        timeout_ns,
    )
    # a RST that answers no SYN belongs to an established connection: not a handshake reply
    keep = ~((res.status == UNSOLICITED) & rst[np.maximum(res.rep, 0)])
    req, rep = res.req[keep], res.rep[keep]
    b.add(
        kind=KINDS.index("tcp"),
        req=req,
        rep=rep,
        status=res.status[keep],
        dup_of=res.dup_of[keep],
        retrans=res.retrans[keep],
        answer=np.where(rep >= 0, np.where(rst[np.maximum(rep, 0)], A["rst"], A["syn-ack"]), -1),
        **_ip_parties(p, req, rep),
        sport=_pick(sp, req, dp, rep),
        dport=_pick(dp, req, sp, rep),
    )


def _icmp_error(p: Prepared, b: _Builder, timeout_ns: int) -> None:
    typ, code, ver = p.int("icmp_type"), p.int("icmp_code"), p.int("ip_version")
    t4, t6 = ICMPType, ICMPv6Type
    v4err = (ver == 4) & np.isin(typ, (t4.DEST_UNREACH, t4.TIME_EXCEEDED, t4.PARAM_PROBLEM))
    v6err = (ver == 6) & np.isin(typ, t6.errors())
    esrc, edst = p.ipc("emb_src_ip"), p.ipc("emb_dst_ip")
    err = np.flatnonzero((v4err | v6err) & (esrc >= 0) & (edst >= 0))
    answer = np.full(p.n, -1, np.int64)
    unreach = v4err & (typ == t4.DEST_UNREACH)
    answer[unreach & (code == ICMP_FRAG_NEEDED)] = A["frag-needed"]
    answer[unreach & (code != ICMP_FRAG_NEEDED)] = A["dest-unreachable"]
    answer[v4err & (typ == t4.TIME_EXCEEDED)] = A["time-exceeded"]
    answer[v4err & (typ == t4.PARAM_PROBLEM)] = A["parameter-problem"]
    answer[v6err & (typ == t6.DEST_UNREACH)] = A["dest-unreachable"]
    answer[v6err & (typ == t6.PACKET_TOO_BIG)] = A["packet-too-big"]
    answer[v6err & (typ == t6.TIME_EXCEEDED)] = A["time-exceeded"]
    answer[v6err & (typ == t6.PARAM_PROBLEM)] = A["parameter-problem"]
    if len(err) == 0:
        return
    # candidates: every other packet's pod frame, and the underlay headers of tunnelled frames,
    # first narrowed to the addresses that some error quotes (cheap integer tests)
    src, dst = p.ipc("src_ip"), p.ipc("dst_ip")
    quoted_src, quoted_dst = np.unique(esrc[err]), np.unique(edst[err])
    not_err = ~(v4err | v6err)
    inner = np.flatnonzero(not_err & np.isin(src, quoted_src) & np.isin(dst, quoted_dst))
    osrc, odst = p.ipc("outer_src_ip"), p.ipc("outer_dst_ip")
    outer = np.flatnonzero(
        (p.tunnelled == 1) & np.isin(osrc, quoted_src) & np.isin(odst, quoted_dst)
    )
    cand = np.concatenate([inner, outer])
    c_ver = np.concatenate([ver[inner], p.int("outer_ip_version")[outer]])
    c_src = np.concatenate([src[inner], osrc[outer]])
    c_dst = np.concatenate([dst[inner], odst[outer]])
    c_proto = np.concatenate([p.int("ip_proto")[inner], np.full(len(outer), int(IPProto.UDP))])
    c_sp = np.concatenate([p.int("sport")[inner], p.int("outer_sport")[outer]])
    c_dp = np.concatenate([p.int("dport")[inner], p.int("outer_dport")[outer]])
    c_id = np.concatenate([p.int("echo_id")[inner], np.full(len(outer), -1)])
    c_sq = np.concatenate([p.int("echo_seq")[inner], np.full(len(outer), -1)])
    ekey = [
        p.point[err],
        p.int("emb_ip_version")[err],
        esrc[err],
        edst[err],
        p.int("emb_ip_proto")[err],
        p.int("emb_sport")[err],
        p.int("emb_dport")[err],
        p.int("emb_echo_id")[err],
        p.int("emb_echo_seq")[err],
    ]
    ckey = [p.point[cand], c_ver, c_src, c_dst, c_proto, c_sp, c_dp, c_id, c_sq]
    # the candidate arrays hold packet rows; mark the outer ones by a row offset of p.n
    cand_tag = np.concatenate([inner, outer + p.n])
    ts2 = np.concatenate([p.ts, p.ts])
    fr2 = np.concatenate([p.frame, p.frame])
    res = _pair(cand_tag, key_hash(ckey), err, key_hash(ekey), ts2, fr2, timeout_ns)
    matched = res.last_req_of_reply  # tagged row or -1, per error
    is_outer = matched >= p.n
    req = np.where(matched >= 0, matched % p.n, -1)
    status = np.where(req >= 0, ANSWERED, UNSOLICITED)
    note = np.where(req < 0, N_NOT_SEEN, np.where(is_outer, N_OUTER, N_NONE))
    b.add(
        kind=KINDS.index("icmp-error"),
        req=req,
        rep=err,
        status=status,
        note=note,
        answer=answer[err],
        requester_mac=np.where(
            is_outer,
            _take(p.macc("outer_src_mac"), req),
            _pick(p.macc("src_mac"), req, p.macc("dst_mac"), err),
        ),
        requester_ip=esrc[err],
        responder_mac=p.macc("src_mac")[err],
        responder_ip=src[err],
        target=edst[err],
        ip_version=ver[err],
        echo_id=p.int("emb_echo_id")[err],
        echo_seq=p.int("emb_echo_seq")[err],
        sport=p.int("emb_sport")[err],
        dport=p.int("emb_dport")[err],
        icmp_type=typ[err],
        icmp_code=code[err],
        mtu=p.int("mtu")[err],
    )


_KIND_FUNCS = {"arp": _arp, "nd": _nd, "echo": _echo, "tcp": _tcp, "icmp-error": _icmp_error}


def exchanges(
    packets: pd.DataFrame,
    *,
    timeout_s: float = 3.0,
    kinds: Collection[str] | None = None,
) -> pd.DataFrame:
    """The exchanges table of a packets table: one row per request/reply exchange.

    ``kinds`` limits the result to some of ``arp``, ``nd``, ``echo``, ``tcp``, ``icmp-error``
    (all by default). A reply counts only when it comes after its request, at the same
    observation point, within ``timeout_s`` seconds, and addressed back to the requester.
    Columns: :data:`EXCHANGE_COLUMNS` (documented in ``docs/exchanges.md``); rows are in order
    of their first frame's time.
    """
    check_table(packets, "exchanges")
    timeout = check_positive(timeout_s, "timeout_s", "exchanges")
    if kinds is None:
        chosen = list(KINDS)
    else:
        if isinstance(kinds, str):
            kinds = [kinds]
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise VxlanlensError(
                f"exchanges: expected kinds among {', '.join(KINDS)}, found {', '.join(map(repr, unknown))}"
            )
        chosen = [k for k in KINDS if k in set(kinds)]
    prep = Prepared(packets)
    builder = _Builder(prep)
    timeout_ns = round(timeout * 1e9)
    for kind in chosen:
        _KIND_FUNCS[kind](prep, builder, timeout_ns)
        # each kind's code columns go once it is paired (the next kind makes what it reads
        # again, a few ms a column): they are 8 bytes a row each, and they piled up to the
        # largest part of the stage's peak
        prep.release()
    return builder.frame()
