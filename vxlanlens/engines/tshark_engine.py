"""The tshark engine: Wireshark's dissectors, their fields mapped to the packets columns.

:func:`decode_batch_tshark` has the fast decoder's contract (``RecordBatch`` + ``DecodeOptions``
in, :class:`~vxlanlens.decode.DecodedBatch` out). The batch's records (from vxlanlens' own
streaming reader) are written to a temporary pcapng file, one interface per link type, with
their captured bytes and wire lengths; ``tshark -r`` dissects that file with ``-d
udp.port==P,vxlan`` for each VXLAN port, ``-d udp.port==P,geneve`` for each Geneve port and
``-d udp.port==P,vxlan_gpe`` for each VXLAN-GPE port, and frames are matched to records by
``frame.number`` (the record's row in the batch, plus one). Framing, timestamps and interfaces
therefore come from vxlanlens' reader; only the protocol dissection is tshark's. tshark's own
default port bindings (4789, 4790, 6081) stay active whatever ``options`` says, and tshark never
guesses a VXLAN header on other ports (``options.guess_tunnels`` is not honoured).

Why ``-T fields`` and not pyshark or ``-T json``/``-T ek``: pyshark builds Python objects
from tshark's PDML (every field of every layer, as XML) and ``-T json`` writes and parses the
whole protocol tree, while ``-T fields -E occurrence=a`` prints only the ~80 fields needed,
one line per frame, so the cost is tshark's own dissection. Measured on a 20,000-frame slice of
``bench/gen_mixed.py`` (2 cores, loaded): 4,600 frames/s, against 91,000 for the fast engine and
1,900 for scapy. (pyshark itself was not timed; it can only be slower than the tshark run it
wraps.) Every occurrence of a field comes comma-joined in dissection order, and
``frame.protocols`` (``eth:ethertype:ip:udp:vxlan:eth:...``) says which protocol instance each occurrence belongs to:

* layers before the first tunnel header (vxlan, geneve) are the underlay: ``outer_*``;
* layers after the last tunnel header are the pod frame: the unprefixed columns;
* an IP header after an ICMP/ICMPv6 error is the quoted packet (``emb_*``); any other second
  IP header (IP-in-IP, GRE) ends the pod frame.

Columns tshark does not give in a comparable form are left null (see :data:`NOT_DECODED`).
tshark missing: :class:`~vxlanlens.errors.EngineError` naming the Debian package.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable
from typing import Any

from ..decode.options import DecodeOptions
from ..decode.result import DecodedBatch
from ..decode.tunnel import OVN_GENEVE_CLASS, OVN_GENEVE_LEN, OVN_GENEVE_TYPE, ovn_ports
from ..errors import EngineError
from ..proto import ICMP_FRAG_NEEDED, PKT_TYPE_TEXT, EtherType, ICMPType, IPProto
from ..read.records import RecordBatch
from ._rows import rows_to_batch
from ._tshark_encap import encap_fields, ip_tunnel, mirror, tunnel_layers
from ._tshark_fields import (
    _ECHO4,
    _EXT,
    _FIELD_NAMES,
    _T6,
    _TAGS,
    CONDITIONAL,
    FIELDS,
    ICMP6_ERRORS,
    ICMP_ERRORS,
    TsharkFrame,
    _flag,
    _int,
)

__all__ = [
    "CONDITIONAL",
    "FIELDS",
    "ICMP6_ERRORS",
    "ICMP_ERRORS",
    "NOT_DECODED",
    "TsharkFrame",
    "decode_batch_tshark",
    "find_tshark",
    "run_fields",
    "write_pcapng",
]

_DEFAULT = DecodeOptions()

NOT_DECODED: frozenset[str] = frozenset({"decode_layer", "decode_error"})
"""Columns the tshark engine leaves null: tshark's expert info has no equivalent layer/text."""


def find_tshark() -> str:
    """Path of the ``tshark`` binary (``$TSHARK`` first, then ``PATH``).

    Raises :class:`EngineError` naming the package to install when it is missing.
    """
    env = os.environ.get("TSHARK")
    path = env if env and os.path.isfile(env) else shutil.which("tshark")
    if path is None:
        raise EngineError(
            "the tshark engine needs the tshark program, which was not found on PATH; "
            "install it with 'apt-get install tshark' (Debian/Ubuntu) or 'dnf install wireshark-cli'"
        )
    return path


def write_pcapng(batch: RecordBatch, path: str) -> None:
    """Write ``batch``'s records to ``path`` as pcapng (one interface per link type).

    Captured bytes and wire lengths are kept; timestamps are the records' (microseconds).
    """
    linktypes = sorted({int(x) for x in batch.linktype})
    ifid = {lt: i for i, lt in enumerate(linktypes)}
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))
        for lt in linktypes:
            fh.write(struct.pack("<IIHHII", 1, 20, lt & 0xFFFF, 0, 0, 20))
        data = batch.data
        for i in range(len(batch)):
            start, cap = int(batch.offsets[i]), int(batch.cap_len[i])
            pkt = data[start : start + cap].tobytes()
            pad = (-cap) % 4
            total = 32 + cap + pad
            us = max(int(batch.ts_ns[i]), 0) // 1000
            fh.write(
                struct.pack(
                    "<IIIIIII",
                    6,
                    total,
                    ifid[int(batch.linktype[i])],
                    (us >> 32) & 0xFFFFFFFF,
                    us & 0xFFFFFFFF,
                    cap,
                    max(int(batch.wire_len[i]), cap),
                )
            )
            fh.write(pkt + b"\0" * pad + struct.pack("<I", total))


def run_fields(
    tshark: str, path: str, fields: Iterable[str], args: Iterable[str] = ()
) -> list[dict[str, list[str]]]:
    """Run ``tshark -T fields -E occurrence=a`` on ``path``: one dict per frame, each field's
    occurrences as a list (in dissection order). ``args`` go before ``-T`` (``-d``, ``-o``).

    Raises :class:`EngineError` when tshark cannot run, fails, or prints a malformed line.
    """
    names = tuple(fields)
    cmd = [tshark, "-n", "-r", path, *args]
    cmd += ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in names:
        cmd += ["-e", f]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise EngineError(f"cannot run {tshark}: {exc}") from exc
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.split())[-300:]
        raise EngineError(f"tshark failed (exit {proc.returncode}) on {path}: {tail}")
    rows = []
    for line in proc.stdout.splitlines():
        cells = line.split("\t")
        if len(cells) != len(names):
            raise EngineError(
                f"tshark printed {len(cells)} fields, expected {len(names)}: {line[:120]!r}"
            )
        rows.append({f: (c.split(",") if c else []) for f, c in zip(names, cells, strict=True)})
    return rows


def _run(tshark: str, path: str, options: DecodeOptions) -> list[dict[str, list[str]]]:
    # no reassembly: every frame is dissected on its own, as the other engines do
    args = ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]
    for ports, name in (
        (options.vxlan_ports, "vxlan"),
        (options.geneve_ports, "geneve"),
        (options.gpe_ports, "vxlan_gpe"),
    ):
        for p in sorted(ports):
            args += ["-d", f"udp.port=={int(p)},{name}"]
    return run_fields(tshark, path, _FIELD_NAMES, args)


def _map(fr: TsharkFrame, options: DecodeOptions) -> dict[str, Any]:
    """The packets-table values tshark gives for one frame."""
    p = fr.protos
    n = len(p)
    v: dict[str, Any] = {}
    lo = mirror(fr, v, options)
    tunnels = tunnel_layers(fr, lo)
    v["tunnel_depth"] = len(tunnels)
    pod_lo = lo
    if tunnels:
        first, last = tunnels[0], tunnels[-1]
        overlays = [i for i in tunnels if p[i] not in ("gre", "ip", "ipv6")]
        if overlays:
            _tunnel(fr, v, overlays[0], overlays[-1], options)
        ip_tunnel(fr, v, tunnels)
        eth = fr.first(("eth",), lo, first)
        v["outer_src_mac"], v["outer_dst_mac"] = fr.get("eth.src", eth), fr.get("eth.dst", eth)
        if eth is None and lo == 0:
            v["outer_src_mac"] = fr.get("sll.src.eth", fr.first(("sll",), 0, first))
        vlan = fr.first(_TAGS, lo, first)
        v["outer_vlan"] = None if vlan is None else fr.geti(f"{p[vlan]}.id", vlan)
        ip = fr.first(("ip", "ipv6"), lo, first)
        if ip is not None:
            v6 = p[ip] == "ipv6"
            v["outer_ip_version"] = 6 if v6 else 4
            v["outer_src_ip"] = fr.get(f"{p[ip]}.src", ip)
            v["outer_dst_ip"] = fr.get(f"{p[ip]}.dst", ip)
            v["outer_ttl"] = fr.geti("ipv6.hlim" if v6 else "ip.ttl", ip)
            if not v6:
                off = fr.geti("ip.frag_offset", ip)  # tshark 4.0: in 8-byte units
                v["outer_frag_offset"] = None if off is None else off * 8
                mf, df = fr.get("ip.flags.mf", ip), fr.get("ip.flags.df", ip)
                v["outer_more_fragments"] = None if mf is None else _flag(mf)
                v["outer_dont_fragment"] = None if df is None else _flag(df)
            else:
                frag = fr.first(("ipv6.fraghdr",), ip, first)
                if frag is not None:
                    off = fr.geti("ipv6.fraghdr.offset", frag)
                    v["outer_frag_offset"] = None if off is None else off * 8
                    more = fr.get("ipv6.fraghdr.more", frag)
                    v["outer_more_fragments"] = None if more is None else _flag(more)
        udp = fr.first(("udp",), lo, first)
        v["outer_sport"] = fr.geti("udp.srcport", udp)
        v["outer_dport"] = fr.geti("udp.dstport", udp)
        v["outer_udp_len"] = fr.geti("udp.length", udp)
        v["outer_udp_checksum"] = fr.geti("udp.checksum", udp)
        pod_lo = last if p[last] in ("ip", "ipv6") else last + 1
    sll = fr.first(("sll",), 0, n) if lo == 0 else None
    if sll is not None:
        pt = fr.geti("sll.pkttype", sll)
        if pt is not None:
            v["pkt_type"] = PKT_TYPE_TEXT.get(pt, str(pt))
        v["ifindex"] = fr.geti("sll.ifindex", sll)
    # the pod frame: from pod_lo to the end, split at a quoted (emb) or second IP header
    ip = fr.first(("ip", "ipv6"), pod_lo, n)
    pod_hi, emb_lo = (n, None) if ip is None else fr.quoted_start(ip)
    _link(fr, v, pod_lo, pod_hi, ip)
    encap_fields(fr, v, pod_lo, pod_hi)
    if ip is not None:
        _ip(fr, v, ip, pod_hi)
    _transport(fr, v, pod_lo, pod_hi, ip)
    arp = fr.first(("arp",), pod_lo, pod_hi)
    if arp is not None:
        v["arp_op"] = fr.geti("arp.opcode", arp)
        v["arp_sender_mac"] = fr.get("arp.src.hw_mac", arp)
        v["arp_sender_ip"] = fr.get("arp.src.proto_ipv4", arp)
        v["arp_target_mac"] = fr.get("arp.dst.hw_mac", arp)
        v["arp_target_ip"] = fr.get("arp.dst.proto_ipv4", arp)
    if emb_lo is not None:
        _emb(fr, v, emb_lo, n)
    return {k: x for k, x in v.items() if x is not None}


def _tunnel(
    fr: TsharkFrame, v: dict[str, Any], first: int, last: int, options: DecodeOptions
) -> None:
    p = fr.protos
    name = p[last]
    udp = fr.first(("udp",), max(fr.all(("udp",), 0, last) or [0]), last)
    ports = {fr.geti("udp.srcport", udp), fr.geti("udp.dstport", udp)}
    if name == "vxlan_gpe" or (name == "vxlan" and ports & set(options.gpe_ports)):
        v["tunnel"] = "vxlan-gpe"
    else:
        v["tunnel"] = name
    field = "geneve.vni" if name == "geneve" else "vxlan.vni"
    v["vni"] = fr.geti(field, last)
    ofield = "geneve.vni" if p[first] == "geneve" else "vxlan.vni"
    v["outer_vni"] = fr.geti(ofield, first)
    if name == "vxlan" and v["tunnel"] == "vxlan":
        flags = fr.geti("vxlan.flags", last)
        if flags is not None:
            v["vxlan_flags"] = flags >> 8
        v["vxlan_gbp"] = fr.geti("vxlan.gbp", last)
        v["tunnel_proto"] = int(EtherType.TEB)
    elif name == "geneve":
        v["tunnel_proto"] = fr.geti("geneve.proto_type", last)
        crit = fr.get("geneve.flags.critical", last)
        v["geneve_critical"] = None if crit is None else _flag(crit)
        if len(fr.all(("geneve",), 0, len(p))) == 1:
            cls, typ, ln = (fr.row[f"geneve.option.{k}"] for k in ("class", "type", "length"))
            # tshark 4.0 names the header's total option length geneve.option.length too
            if len(ln) == len(cls) + 1:
                ln = ln[1:]
            if not cls:
                v["geneve_options"] = ""
            elif len(cls) == len(typ) == len(ln):
                v["geneve_options"] = ";".join(
                    f"0x{_int(c):04x}/0x{_int(t):02x}{'C' if _int(t) & 0x80 else ''}/{_int(x)}"
                    for c, t, x in zip(cls, typ, ln, strict=True)
                )
            ovn = _ovn_option(fr.row["geneve.option"])
            if ovn is not None:
                v["ovn_inport"], v["ovn_outport"] = ovn_ports(ovn)


def _ovn_option(options: list[str]) -> int | None:
    """The data of the first OVN logical-port option among tshark's ``geneve.option`` values
    (each option's bytes in hex, its 4-byte header included; tshark has no field for OVN's)."""
    for text in options:
        b = bytes.fromhex(text.replace(":", ""))
        if len(b) == OVN_GENEVE_LEN + 4 and (int.from_bytes(b[:2], "big"), b[2]) == (
            OVN_GENEVE_CLASS,
            OVN_GENEVE_TYPE,
        ):
            return int.from_bytes(b[4:], "big")
    return None


def _link(fr: TsharkFrame, v: dict[str, Any], lo: int, hi: int, ip: int | None) -> None:
    stop = ip if ip is not None else hi
    eth = fr.first(("eth",), lo, stop)
    if eth is not None:
        v["src_mac"], v["dst_mac"] = fr.get("eth.src", eth), fr.get("eth.dst", eth)
    elif lo == 0:
        sll = fr.first(("sll",), 0, stop)
        v["src_mac"] = fr.get("sll.src.eth", sll)
    vlans = fr.all(_TAGS, lo, stop)
    p = fr.protos
    if vlans:
        v["vlan"] = fr.geti(f"{p[vlans[0]]}.id", vlans[0])
        if len(vlans) > 1:
            v["vlan2"] = fr.geti(f"{p[vlans[1]]}.id", vlans[1])
        if p[vlans[-1]] == "vlan":  # tshark 4.0 has no ieee8021ad.etype field
            v["ethertype"] = fr.geti("vlan.etype", vlans[-1])
    else:
        llc = fr.first(("llc",), lo, stop)
        sll = fr.first(("sll",), 0, stop) if lo == 0 else None
        if llc is not None:
            v["ethertype"] = fr.geti("llc.type", llc)
        elif eth is not None:
            v["ethertype"] = fr.geti("eth.type", eth)
        elif sll is not None:
            v["ethertype"] = fr.geti("sll.etype", sll)


def _ip(fr: TsharkFrame, v: dict[str, Any], ip: int, hi: int) -> None:
    p = fr.protos
    if p[ip] == "ip":
        v["ip_version"] = 4
        v["src_ip"], v["dst_ip"] = fr.get("ip.src", ip), fr.get("ip.dst", ip)
        v["ttl"] = fr.geti("ip.ttl", ip)
        v["ip_proto"] = fr.geti("ip.proto", ip)
        if ip + 1 < hi and p[ip + 1] == "ah":  # AH skipped: the protocol it protects
            v["ip_proto"] = fr.geti("ah.next_header", ip + 1)
        tl = fr.geti("ip.len", ip)
        v["ip_len"] = tl if tl else None
        v["ip_id"] = fr.geti("ip.id", ip)
        off = fr.geti("ip.frag_offset", ip)  # tshark 4.0: in 8-byte units
        v["frag_offset"] = None if off is None else off * 8
        mf, df = fr.get("ip.flags.mf", ip), fr.get("ip.flags.df", ip)
        v["more_fragments"] = None if mf is None else _flag(mf)
        v["dont_fragment"] = None if df is None else _flag(df)
        return
    v["ip_version"] = 6
    v["src_ip"], v["dst_ip"] = fr.get("ipv6.src", ip), fr.get("ipv6.dst", ip)
    v["ttl"] = fr.geti("ipv6.hlim", ip)
    plen = fr.geti("ipv6.plen", ip)
    v["ip_len"] = 40 + plen if plen else None
    nh = fr.geti("ipv6.nxt", ip)
    names = []
    k = ip + 1
    while k < hi and p[k] in (*_EXT, "ah"):
        if p[k] == "ah":  # its payload is in clear: skipped, the walk goes on
            names.append("ah")
            nh = fr.geti("ah.next_header", k)
            k += 1
            continue
        names.append(_EXT[p[k]])
        nh = fr.geti(f"{p[k]}.nxt", k)
        if p[k] == "ipv6.fraghdr":
            v["ip_id"] = fr.geti("ipv6.fraghdr.ident", k)
            off = fr.geti("ipv6.fraghdr.offset", k)
            v["frag_offset"] = None if off is None else off * 8
            more = fr.get("ipv6.fraghdr.more", k)
            v["more_fragments"] = None if more is None else _flag(more)
        k += 1
    if k < hi and p[k] == "esp":
        names.append(p[k])
        nh = int(IPProto.ESP)
    if names:
        v["ip6_ext"] = ",".join(names)
    v["ip_proto"] = nh


def _ip_payload(fr: TsharkFrame, ip: int, upto: int) -> int | None:
    """Bytes after the IP header (and IPv6 extension headers up to ``upto``), or None."""
    p = fr.protos
    if p[ip] == "ip":
        tl, hl = fr.geti("ip.len", ip), fr.geti("ip.hdr_len", ip)
        return None if not tl or hl is None else tl - hl
    plen = fr.geti("ipv6.plen", ip)
    if not plen:
        return None
    for k in range(ip + 1, upto):
        if p[k] == "ipv6.fraghdr":
            plen -= 8
        elif p[k] in _EXT:
            ln = fr.geti(f"{p[k]}.len_oct", k)
            if ln is None:
                return None
            plen -= ln
    return plen


def _transport(fr: TsharkFrame, v: dict[str, Any], lo: int, hi: int, ip: int | None) -> None:
    p = fr.protos
    l4 = fr.first(("tcp", "udp"), lo, hi)
    if l4 is not None:
        v["sport"] = fr.geti(f"{p[l4]}.srcport", l4)
        v["dport"] = fr.geti(f"{p[l4]}.dstport", l4)
        if p[l4] == "tcp":
            v["tcp_seq"] = fr.geti("tcp.seq_raw", l4)
            v["tcp_ack"] = fr.geti("tcp.ack_raw", l4)
            flags = fr.geti("tcp.flags", l4)
            v["tcp_flags"] = None if flags is None else flags & 0x1FF
            v["payload_len"] = fr.geti("tcp.len", l4)
        else:
            ulen = fr.geti("udp.length", l4)
            v["payload_len"] = ulen - 8 if ulen else None
    ic = fr.first(("icmp", "icmpv6"), lo, hi)
    if ic is None:
        return
    if ip is not None:
        pl = _ip_payload(fr, ip, ic)
        v["payload_len"] = None if pl is None else pl - 8
    if p[ic] == "icmp":
        t = v["icmp_type"] = fr.geti("icmp.type", ic)
        c = v["icmp_code"] = fr.geti("icmp.code", ic)
        if t in _ECHO4:
            v["echo_id"] = fr.geti("icmp.ident", ic)
            v["echo_seq"] = fr.geti("icmp.seq", ic)
        if t == ICMPType.DEST_UNREACH and c == ICMP_FRAG_NEEDED:
            v["mtu"] = fr.geti("icmp.mtu", ic)
        return
    t = v["icmp_type"] = fr.geti("icmpv6.type", ic)
    v["icmp_code"] = fr.geti("icmpv6.code", ic)
    v["echo_id"] = fr.geti("icmpv6.echo.identifier", ic)
    v["echo_seq"] = fr.geti("icmpv6.echo.sequence_number", ic)
    v["mtu"] = fr.geti("icmpv6.mtu", ic)
    if t == _T6.ROUTER_ADVERTISEMENT and fr.row["icmpv6.opt.mtu"]:
        v["mtu"] = _int(fr.row["icmpv6.opt.mtu"][-1])
    for f in ("ns", "na", "rd"):
        v["nd_target"] = v.get("nd_target") or fr.get(f"icmpv6.nd.{f}.target_address", ic)
    nd_flags = fr.nd_flags(t, ic)
    if nd_flags is not None:
        v["nd_flags"] = nd_flags
    if t is not None and _T6.ROUTER_SOLICITATION <= t <= _T6.REDIRECT:
        lla = fr.row["icmpv6.opt.linkaddr"]
        v["nd_lladdr"] = lla[-1] if lla else None


def _emb(fr: TsharkFrame, v: dict[str, Any], lo: int, n: int) -> None:
    p = fr.protos
    v6 = p[lo] == "ipv6"
    v["emb_ip_version"] = 6 if v6 else 4
    v["emb_src_ip"] = fr.get(f"{p[lo]}.src", lo)
    v["emb_dst_ip"] = fr.get(f"{p[lo]}.dst", lo)
    if v6:
        plen = fr.geti("ipv6.plen", lo)
        v["emb_ip_len"] = None if plen is None else 40 + plen
        nh = fr.geti("ipv6.nxt", lo)
        k = lo + 1
        while k < n and p[k] in _EXT:
            nh = fr.geti(f"{p[k]}.nxt", k)
            k += 1
        v["emb_ip_proto"] = nh
    else:
        v["emb_ip_len"] = fr.geti("ip.len", lo)
        v["emb_ip_proto"] = fr.geti("ip.proto", lo)
    l4 = fr.first(("tcp", "udp"), lo, n)
    if l4 is not None:
        v["emb_sport"] = fr.geti(f"{p[l4]}.srcport", l4)
        v["emb_dport"] = fr.geti(f"{p[l4]}.dstport", l4)
    eic = fr.first(("icmp", "icmpv6"), lo, n)
    if eic is not None:
        if p[eic] == "icmp":
            if fr.geti("icmp.type", eic) in (ICMPType.ECHO_REPLY, ICMPType.ECHO_REQUEST):
                v["emb_echo_id"] = fr.geti("icmp.ident", eic)
                v["emb_echo_seq"] = fr.geti("icmp.seq", eic)
        else:
            v["emb_echo_id"] = fr.geti("icmpv6.echo.identifier", eic)
            v["emb_echo_seq"] = fr.geti("icmpv6.echo.sequence_number", eic)


def decode_batch_tshark(batch: RecordBatch, options: DecodeOptions = _DEFAULT) -> DecodedBatch:
    """Decode every record of ``batch`` with tshark into the packets table's protocol columns.

    One tshark run per batch (on a temporary pcapng of the batch's records). Raises
    :class:`EngineError` when tshark is missing, fails, or prints a frame count that does not
    match the batch.
    """
    n = len(batch)
    if n == 0:
        return DecodedBatch(n=0)
    tshark = find_tshark()
    fd, path = tempfile.mkstemp(prefix="vxlanlens-", suffix=".pcapng")
    os.close(fd)
    try:
        write_pcapng(batch, path)
        lines = _run(tshark, path, options)
    finally:
        os.unlink(path)
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    seen = 0
    for row in lines:
        fr = TsharkFrame(row)
        no = _int(fr.row["frame.number"][0]) if fr.row["frame.number"] else 0
        if not 1 <= no <= n:
            raise EngineError(f"tshark reported frame {no}; the batch has {n} records")
        rows[no - 1] = _map(fr, options)
        seen += 1
    if seen != n:
        raise EngineError(f"tshark dissected {seen} frames; the batch has {n} records")
    return rows_to_batch(rows)
