"""Tunnel findings: what VNIs and the inner MACs of tunnelled frames mean."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...proto import Severity
from ...topology.model import RESERVED_IDENTITIES
from .._rows import combination, first_distinct
from ..context import Context
from ..model import Evidence, Finding
from ._registry import FindingSpec, detector
from ._util import (
    MAX_EVIDENCE,
    MAX_INNER_MAC_FINDINGS,
    MAX_VNI_FINDINGS,
    _pair_frames,
    _same_frame_elsewhere,
    _src_evs,
)


@detector(
    FindingSpec("vni-identity", Severity.INFO, "what a VNI means: the sender's security identity")
)
def vni_identity(ctx: Context) -> list[Finding]:
    """What each VNI means: the sender's security identity."""
    p = ctx.packets
    # the tunnelled rows as positions, each column taken where it is read (a copy of six
    # columns of every tunnelled row, then of the shown VNIs' rows, then a group-by's, were
    # this detector's peak memory)
    tun_at = np.flatnonzero(p["vni"].notna().to_numpy())
    if not len(tun_at):
        return []

    def taken(column: str, at: np.ndarray) -> pd.Series:
        return pd.Series(p[column].array.take(at))

    out = []
    vni_of = taken("vni", tun_at)
    counts = vni_of.value_counts()
    shown = set(counts.index[:MAX_VNI_FINDINGS].tolist())
    if len(counts) > MAX_VNI_FINDINGS:
        rest = counts.iloc[MAX_VNI_FINDINGS:]
        first_at = tun_at[vni_of.isin(rest.index).to_numpy()][:MAX_EVIDENCE]
        first = pd.DataFrame({c: taken(c, first_at) for c in ("capture", "frame_no")})
        out.append(
            Finding(
                "vni-identity",
                Severity.INFO,
                f"{len(counts)} different VNIs are in use; the {MAX_VNI_FINDINGS} seen most often are "
                f"named below, and {len(rest)} more carry {int(rest.sum())} frame(s) between them "
                f"(`vxlanlens packets --columns vni,src_ip,dst_ip` lists them all).",
                [
                    Evidence(capture=str(c), frame_no=int(f))
                    for c, f in zip(first["capture"], first["frame_no"], strict=True)
                ],
                {"vnis": len(counts), "not_shown": len(rest)},
            )
        )
    # the shown VNIs' rows, by VNI (ascending), each VNI's in table order (a group-by's groups)
    values = vni_of.to_numpy(dtype=np.int64, na_value=-1)
    del vni_of
    keep = np.zeros(len(values), dtype=bool)
    for v in shown:  # a few VNIs: a comparison each (np.isin may build a table of VNI range)
        keep |= values == v
    at, values = tun_at[keep], values[keep]
    del keep
    order = np.argsort(values, kind="stable")
    at, values = at[order], values[order]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if len(values) else values
    ends = np.r_[starts[1:], len(values)] if len(values) else values
    # identities with labels from the dumps prove the VNI is one (the reserved ones vxlanlens
    # names without any dump, 1-10, prove nothing: VNI 1 or 7 is as often a plain network's)
    dumped = {i.id for i in ctx.topology.identities if i.confidence == "loaded" and i.labels}
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        vni = int(values[lo])
        group = at[lo:hi]
        rows = pd.DataFrame({c: taken(c, group) for c in ("capture", "frame_no", "tunnel")})
        rows["src_ip"], rows["src_mac"] = taken("src_ip", group), taken("src_mac", group)
        ident = ctx.topology.identity(vni)
        senders = sorted(
            {ctx.pod_label(ip=ip) or str(ip) for ip in rows["src_ip"].dropna().astype(str).unique()}
        )
        senders = senders or sorted({str(m) for m in rows["src_mac"].dropna().astype(str)})
        if ident is not None and ident.labels and vni not in RESERVED_IDENTITIES:
            what = f"identity {ident.description}"
        elif vni in RESERVED_IDENTITIES:
            what = f"the reserved identity {vni} ({RESERVED_IDENTITIES[vni]})"
        elif vni >= 256:
            what = f"identity {vni} (a cluster-allocated identity; labels unknown: no identity dump given)"
        else:
            what = f"identity {vni}"
        tunnels = sorted({str(t) for t in rows["tunnel"].dropna()})
        sent_by = f"Seen on {len(rows)} frame(s) sent by {', '.join(senders[:4])}{' and others' if len(senders) > 4 else ''}."
        stated = ctx.overlay is not None and ctx.overlay.confidence == "stated"
        if ctx.cilium_likely or vni in dumped or (stated and not ctx.overlay_is_not_cilium):
            statement = (
                f"{'/'.join(t.upper() for t in tunnels)} VNI {vni} is the security identity of the sender, "
                f"not a network: Cilium writes the source {what} into the VNI. {sent_by}"
            )
        else:
            weak = ctx.overlay is not None and ctx.overlay.name == "cilium"
            proof = (
                f"the overlay looks like Cilium ({ctx.overlay.confidence} confidence) but nothing "
                "in this input proves it"
                if weak and ctx.overlay is not None
                else "nothing in this input shows Cilium"
            )
            statement = (
                f"{'/'.join(t.upper() for t in tunnels)} VNI {vni}: in Cilium the VNI is the sender's security "
                f"identity, not a network; {proof}, so it may also be an ordinary "
                f"VXLAN/Geneve network id (a Cilium identity dump or a capture with different request and "
                f"reply VNIs would tell). {sent_by}"
            )
        evidence = [
            Evidence(capture=str(c), frame_no=int(f))
            for c, f in zip(
                rows["capture"].iloc[:MAX_EVIDENCE],
                rows["frame_no"].iloc[:MAX_EVIDENCE],
                strict=True,
            )
        ]
        if ident is not None and ident.confidence == "loaded" and ident.source.file:
            evidence += _src_evs(ident.source)
        out.append(
            Finding(
                "vni-identity",
                Severity.INFO,
                statement,
                evidence,
                {"vni": vni, "labels": list(ident.labels) if ident else [], "senders": senders},
            )
        )
    ex = ctx.exchanges
    if not ex.empty:
        # only the columns read below, of the rows of each kind (copies of every column of the
        # exchanges with both VNIs, then of each kind, were this detector's peak memory)
        cols = ["vni_request", "vni_reply", "key", "request_capture", "request_frame",
                "reply_capture", "reply_frame"]  # fmt: skip
        req, rep = ex["vni_request"], ex["vni_reply"]
        known = (req.notna() & rep.notna()).to_numpy()
        if known.any():
            equal = (req == rep).to_numpy(dtype=bool, na_value=False)
            same = ex.loc[known & equal, cols]
            diff = ex.loc[known & ~equal, cols]
            if not diff.empty:
                r = diff.iloc[0]
                out.append(
                    Finding(
                        "vni-identity",
                        Severity.INFO,
                        f"Request and reply carry different VNIs ({int(r['vni_request'])} and {int(r['vni_reply'])} "
                        f"for {r['key']}): by design, each side puts its own identity in the VNI, so a VNI "
                        f"never pairs a request with its reply.",
                        _pair_frames(diff),
                        {"vni_request": int(r["vni_request"]), "vni_reply": int(r["vni_reply"])},
                    )
                )
            if not same.empty:
                r = same.iloc[0]
                out.append(
                    Finding(
                        "vni-identity",
                        Severity.INFO,
                        f"Request and reply carry the same VNI {int(r['vni_request'])} ({r['key']}): "
                        + (
                            "the two pods have the same security identity (the same identity labels, e.g. pods of "
                            "one Deployment or DaemonSet). Pods with different labels would send different VNIs."
                            if ctx.cilium_likely
                            else "in Cilium, the two ends have the same identity; in an ordinary overlay, the VNI "
                            "is the network both ends are in."
                        ),
                        _pair_frames(same),
                        {"vni_request": int(r["vni_request"]), "vni_reply": int(r["vni_reply"])},
                    )
                )
    return out


@detector(FindingSpec("inner-macs", Severity.INFO, "what the inner MACs of tunnelled frames are"))
def inner_macs(ctx: Context) -> list[Finding]:
    """What the inner MACs of tunnelled frames are: the sending pod's eth0 and its own lxc veth."""
    p = ctx.packets
    in_tun = p["tunnel"].notna() & p["src_mac"].notna() & p["src_ip"].notna() & p["dst_ip"].notna()
    cols = ["capture", "frame_no", "tunnel", "outer_src_ip", "src_mac", "dst_mac", "src_ip",
            "dst_ip", "echo_id", "echo_seq", "ip_id", "tcp_seq"]  # fmt: skip
    tun_at = np.flatnonzero(in_tun.to_numpy(dtype=bool))  # positions in the table
    if not len(tun_at):
        return []
    out = []
    keys = ["src_mac", "dst_mac", "src_ip", "dst_ip"]
    # each column as numbers standing for its text ("-" where null): equal numbers, equal text
    coded = {k: _text_codes(ctx, k, tun_at) for k in keys}  # of the tunnelled rows only
    numbers = {k: coded[k][0] for k in keys}
    # one integer per conversation; only the first few conversations are reported, so only
    # they are found (numbering them all took a hash table as large as the rows)
    conversation = _conversation_keys(numbers, [len(coded[k][1]) for k in keys])
    firsts = first_distinct(conversation, MAX_INNER_MAC_FINDINGS)
    first_texts = [tuple(coded[k][1][int(numbers[k][at])] for k in keys) for _, at in firsts]
    for (key, _), (smac, dmac, sip, dip) in zip(firsts, first_texts, strict=True):
        rows_at = tun_at[conversation == key]
        first = p.iloc[rows_at[:1]][cols].iloc[0]
        sender = ctx.pod_of(ip=sip, mac=smac)
        src_name, dst_name = ctx.mac_name(smac), ctx.mac_name(dmac)
        node = ctx.node_label(first["outer_src_ip"]) or f"node {first['outer_src_ip']}"
        if not ctx.cilium_likely and not ctx.loaded:
            meaning = (
                "the sender's own MAC → its next hop's MAC (a gateway, or the peer itself on one L2 segment); the frame went into the tunnel "
                "as the sender sent it"
            )
        elif sender is not None and sender.mac == str(smac) and sender.host_mac == str(dmac):
            veth = f" ({sender.host_interface})" if sender.host_interface else ""
            hm = sender.field_sources.get("host_mac")
            loaded = sender.confidence == "loaded" and (hm is None or hm[1] == "loaded")
            how = (
                ""
                if loaded
                else " — by Cilium's datapath rule, inferred from the captures (no dump confirms it)"
            )
            meaning = (
                f"the sending pod's eth0 → its own host-side veth{veth}, both on the sending node "
                f"({sender.node or node}){how}"
            )
        elif src_name and dst_name:
            meaning = f"{src_name} → {dst_name}"
        else:
            meaning = (
                "by Cilium's datapath, the sending pod's eth0 → its host-side lxc veth on the sending "
                f"node ({node}): Cilium redirects the pod's frame into the tunnel without rewriting its "
                "Ethernet header (not confirmed by a dump)"
            )
        same_at_pod = _same_frame_elsewhere(ctx, first)
        same_text = (
            f" The inner frame is the one the pod sent, unchanged ({same_at_pod})."
            if same_at_pod
            else ""
        )
        # the first tunnelled frame of the opposite direction
        back_src, back_dst = coded["src_ip"][2].get(str(dip)), coded["dst_ip"][2].get(str(sip))
        back: np.ndarray | list[int] = (
            np.flatnonzero((numbers["src_ip"] == back_src) & (numbers["dst_ip"] == back_dst))
            if back_src is not None and back_dst is not None
            else []
        )
        if len(back):
            at = int(tun_at[back[0]])
            omac = (str(p["src_mac"].iloc[at]), str(p["dst_mac"].iloc[at]))
            if omac != (str(dmac), str(smac)):
                same_text += (
                    f" These MACs differ from those of the opposite direction ({omac[0]} → {omac[1]}): each "
                    "direction carries its own sender's MACs, which live on different nodes."
                )
        statement = (
            f"Inside the tunnel from {node}, frames {sip} → {dip} carry inner MACs {smac} → {dmac}: "
            f"{meaning}.{same_text}"
        )
        shown = rows_at[:6]
        evidence = [
            Evidence(capture=str(c), frame_no=int(f))
            for c, f in zip(p["capture"].iloc[shown], p["frame_no"].iloc[shown], strict=True)
        ]
        out.append(
            Finding(
                "inner-macs",
                Severity.INFO,
                statement,
                evidence,
                {
                    "src_mac": str(smac),
                    "dst_mac": str(dmac),
                    "src_ip": str(sip),
                    "dst_ip": str(dip),
                },
            )
        )
    return out


def _conversation_keys(numbers: dict[str, np.ndarray], sizes: list[int]) -> np.ndarray:
    """One integer per row, equal for equal rows of ``numbers`` (columns of codes ``0 <= code
    < size``): the codes in mixed radix when they fit, else the rows numbered in order of
    first appearance (:func:`~vxlanlens.explain._rows.combination`)."""
    if int(np.prod([max(n, 1) for n in sizes], dtype=object)) >= 2**62:
        return combination(pd.Series(column) for column in numbers.values())
    n = len(next(iter(numbers.values()))) if numbers else 0
    key = np.zeros(n, dtype=np.int64)
    for column, size in zip(numbers.values(), sizes, strict=True):
        key *= max(size, 1)
        key += column
    return key


def _text_codes(
    ctx: Context, column: str, rows: np.ndarray
) -> tuple[np.ndarray, list[str], dict[str, int]]:
    """A number for each of ``rows`` (positions) of the packets' ``column`` standing for its
    text (``"-"`` where null): two rows have the same number when their text is the same. Also
    the text of each number and the number of each text."""
    s = ctx.packets[column]
    if isinstance(s.dtype, pd.CategoricalDtype):
        # per category its text, the last slot (code -1) the null's; one number per text
        names = [*s.cat.categories.astype(str).tolist(), "-"]
        of_name, texts = pd.factorize(pd.Index(names, dtype=object))
        codes = of_name.astype(np.int32)[s.cat.codes.to_numpy()[rows]]  # four bytes a row
    else:
        codes, texts = pd.factorize(ctx.text(column).where(s.notna(), "-"))
        codes = codes[rows]
    text_list = [str(t) for t in texts]
    return codes, text_list, {t: k for k, t in enumerate(text_list)}


_MULTICAST_KEYS = 32768
"""OVN logical egress port keys from here up are multicast groups (ovn-architecture(7))."""


@detector(
    FindingSpec(
        "ovn-logical-ports",
        Severity.INFO,
        "what OVN's tunnel metadata names: logical datapath and port keys, router port MACs",
    )
)
def ovn_logical_ports(ctx: Context) -> list[Finding]:
    """What OVN's Geneve metadata says (the VNI: a logical datapath key; OVN's option: the
    logical ingress and egress port keys), one finding per key triple, and which MACs are OVN's
    logical router ports (no interface of a node holds them)."""
    p = ctx.packets
    if "ovn_inport" not in p.columns:
        return []
    cols = ["capture", "frame_no", "tunnel", "vni", "ovn_inport", "ovn_outport", "src_ip", "dst_ip"]
    rows = p.loc[p["tunnel"].notna() & p["ovn_inport"].notna() & p["vni"].notna(), cols]
    out = []
    keys = ["vni", "ovn_inport", "ovn_outport"]
    groups = rows.groupby(keys, sort=False, observed=True)
    sizes = groups.size().sort_values(ascending=False, kind="stable")
    for vni, inport, outport in sizes.index[:MAX_VNI_FINDINGS].tolist():
        vni, inport, outport = int(vni), int(inport), int(outport)
        g = groups.get_group((vni, inport, outport))
        flows = list(
            dict.fromkeys(
                f"{ctx.ip_text(s)} → {ctx.ip_text(d)}"
                for s, d in zip(g["src_ip"], g["dst_ip"], strict=True)
                if not (pd.isna(s) or pd.isna(d))
            )
        )
        seen = (
            f" ({', '.join(flows[:3])}{' and others' if len(flows) > 3 else ''})" if flows else ""
        )
        notes = []
        if inport == 0:
            notes.append("ingress key 0 is reserved for OVN's internal use")
        if outport >= _MULTICAST_KEYS:
            notes.append(
                f"egress key {outport} is a multicast group (Multicast_Group tunnel_key): the "
                "packet goes to each of its ports"
            )
        statement = (
            f"{'/'.join(sorted({str(t).upper() for t in g['tunnel']}))} VNI {vni} with OVN's "
            f"logical-port option: the packet crossed the tunnel in logical datapath {vni}, "
            f"which it entered through logical port key {inport} and leaves through logical "
            f"port key {outport}{'; ' + '; '.join(notes) if notes else ''}. Seen on {len(g)} "
            f"frame(s){seen}. The keys are OVN Southbound tunnel keys (Datapath_Binding and "
            f"Port_Binding tunnel_key), numbers rather than names: `ovn-sbctl find "
            f"Datapath_Binding tunnel_key={vni}` names the datapath and `ovn-sbctl find "
            f"Port_Binding tunnel_key={outport}` lists the ports with that key (one per datapath)."
        )
        evidence = [
            Evidence(capture=str(c), frame_no=int(f))
            for c, f in zip(g["capture"], g["frame_no"], strict=True)
        ][:MAX_EVIDENCE]
        out.append(
            Finding(
                "ovn-logical-ports",
                Severity.INFO,
                statement,
                evidence,
                {"vni": vni, "ovn_inport": inport, "ovn_outport": outport, "frames": len(g)},
            )
        )
    routers = ctx.router_ports
    if routers:
        shown = list(routers.values())[:6]
        named = ", ".join(f"{r.mac} ({', '.join(r.ips)})" if r.ips else r.mac for r in shown)
        more = f" and {len(routers) - len(shown)} more" if len(routers) > len(shown) else ""
        out.append(
            Finding(
                "ovn-logical-ports",
                Severity.INFO,
                f"{named}{more}: {ctx.datapath.router_port}s. Each answered the pods' ARP or "
                "Neighbor Solicitation for the address shown and is the source MAC of frames "
                "it routed from other hosts' addresses to pods; OVN's logical flows answer "
                "with these MACs and write them into the frames they route, so no interface "
                "of a node holds them and no node dump names them (`ovn-nbctl show` lists each "
                "logical router port with its MAC and networks).",
                _dedup_frames([f for r in shown for f in r.frames])[:MAX_EVIDENCE],
                {"router_ports": {r.mac: list(r.ips) for r in routers.values()}},
            )
        )
    return out


def _dedup_frames(frames: list[tuple[str, int]]) -> list[Evidence]:
    return [Evidence(capture=c, frame_no=f) for c, f in dict.fromkeys(frames)]
