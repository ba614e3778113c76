"""The tshark engine's mirror transports and other encapsulations: where a mirrored frame
starts in ``frame.protocols`` (ERSPAN, GRE, VXLAN mirrors), which layers are GRE or IP-in-IP
tunnels, and the MPLS / PPPoE / NSH fields; see :mod:`.tshark_engine`."""

from __future__ import annotations

from typing import Any

from ..decode.options import DecodeOptions
from ..proto import EtherType, MirrorKind
from ._tshark_fields import _TUNNELS, TsharkFrame, _flag, _int

__all__ = ["encap_fields", "ip_tunnel", "mirror", "tunnel_layers"]

_IPS = ("ip", "ipv6")


def mirror(fr: TsharkFrame, v: dict[str, Any], options: DecodeOptions) -> int:
    """Peel an outermost mirror transport into ``v``'s ``mirror*`` columns; gives the index in
    ``fr.protos`` where the mirrored frame starts (0: no mirror)."""
    p, n = fr.protos, len(fr.protos)
    gre = fr.first(("gre",), 0, n)
    tun = fr.first(("vxlan", "geneve", "vxlan_gpe"), 0, n)
    if gre is not None and (tun is None or gre < tun) and gre + 1 < n:
        key = fr.geti("gre.key", gre)
        if p[gre + 1] == "erspan":
            e = gre + 1
            version = fr.geti("erspan.version", e)
            kind = {None: MirrorKind.ERSPAN_1, 1: MirrorKind.ERSPAN_2, 2: MirrorKind.ERSPAN_3}
            if version not in kind:
                return 0
            _addresses(fr, v, gre, kind[version])
            if version is None:
                v["mirror_session"] = key
                return e + 1
            v["mirror_session"] = fr.geti("erspan.spanid", e)
            vlan = fr.geti("erspan.vlan", e)
            v["mirror_vlan"] = vlan or None
            if version == 1:
                v["mirror_port"] = fr.geti("erspan.index", e)
            else:
                v["mirror_timestamp"] = fr.geti("erspan.timestamp", e)
                v["mirror_hw_id"] = fr.geti("erspan.hw", e)
                d = fr.get("erspan.direction", e)
                v["mirror_direction"] = None if d is None else ("egress" if _flag(d) else "ingress")
                for f in ("erspan.pid3.port_index", "erspan.pid5.port_index"):
                    if fr.row[f]:
                        v["mirror_port"] = _int(fr.row[f][0])
            return e + 1
        if p[gre + 1] == "eth" and fr.geti("gre.proto", gre) == EtherType.TEB:
            _addresses(fr, v, gre, MirrorKind.GRE)
            v["mirror_session"] = key
            return gre + 1
    if tun is not None and p[tun] == "vxlan" and options.mirror_vxlan:
        udp = fr.all(("udp",), 0, tun)
        dport = fr.geti("udp.dstport", udp[-1]) if udp else None
        vni = fr.geti("vxlan.vni", tun)
        if any(dport == pt and (vn < 0 or vn == vni) for pt, vn in options.mirror_vxlan):
            _addresses(fr, v, tun, MirrorKind.VXLAN)
            v["mirror_session"] = vni
            return tun + 1
    return 0


def _addresses(fr: TsharkFrame, v: dict[str, Any], at: int, kind: MirrorKind) -> None:
    v["mirror"] = kind.text
    ips = fr.all(_IPS, 0, at)
    if ips:
        ip = ips[-1]
        v["mirror_src_ip"] = fr.get(f"{fr.protos[ip]}.src", ip)
        v["mirror_dst_ip"] = fr.get(f"{fr.protos[ip]}.dst", ip)


def tunnel_layers(fr: TsharkFrame, lo: int) -> list[int]:
    """Indexes in ``fr.protos[lo:]`` of tunnel headers: VXLAN, VXLAN-GPE, Geneve, GRE, and for
    IP-in-IP the inner IP header (an IP layer right after another)."""
    p = fr.protos
    out = []
    for i in range(lo, len(p)):
        if p[i] in _TUNNELS or (p[i] in _IPS and i > lo and p[i - 1] in _IPS):
            out.append(i)
    return out


def ip_tunnel(fr: TsharkFrame, v: dict[str, Any], tunnels: list[int]) -> None:
    """``ip_tunnel``, ``gre_key`` and ``gre_proto`` of the innermost GRE / IP-in-IP tunnel
    among the ``tunnels`` layers (see :func:`tunnel_layers`)."""
    p = fr.protos
    inner = [i for i in tunnels if p[i] in ("gre", *_IPS)]
    if not inner:
        return
    last = inner[-1]
    if p[last] == "gre":
        v["ip_tunnel"] = "gre"
        v["gre_proto"] = fr.geti("gre.proto", last)
        v["gre_key"] = fr.geti("gre.key", last)
    else:
        v["ip_tunnel"] = "ip-in-ip"


def encap_fields(fr: TsharkFrame, v: dict[str, Any], lo: int, hi: int) -> None:
    """MPLS, PPPoE and NSH columns of the layers in ``fr.protos[lo:hi]``."""
    p = fr.protos
    if fr.first(("mpls",), lo, hi) is not None and fr.row["mpls.label"]:
        labels = fr.row["mpls.label"]
        v["mpls_label"] = _int(labels[0])
        v["mpls_depth"] = len(labels)
    if fr.first(("pppoes", "pppoed"), lo, hi) is not None:
        code, sess = fr.row["pppoe.code"], fr.row["pppoe.session_id"]
        v["pppoe_code"] = _int(code[0]) if code else None
        v["pppoe_session"] = _int(sess[0]) if sess else None
        ppp = fr.first(("ppp",), lo, hi)
        v["ppp_proto"] = fr.geti("ppp.protocol", ppp)
    nsh = fr.all(("nsh",), lo, hi)
    if nsh:
        v["nsh_spi"] = fr.geti("nsh.spi", nsh[-1])
        v["nsh_si"] = fr.geti("nsh.si", nsh[-1])
    del p
