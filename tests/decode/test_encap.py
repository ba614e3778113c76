"""Mirror transports (ERSPAN I/II/III, GRE, VXLAN mirrors) and other encapsulations (GRE and
IP-in-IP tunnels, MPLS, PPPoE, NSH, AH): what the decoder gives, and that it never raises."""

from __future__ import annotations

import pytest
from craft import decode, row
from craft_encap import (
    MIRROR_DST4,
    MIRROR_DST6,
    MIRROR_SRC4,
    MIRROR_SRC6,
    cilium_vxlan,
    encap_frames,
    erspan,
    gre_mirror,
    pod_tcp,
    vxlan_mirror,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import ICMP, IP, TCP, UDP, Ether, IPv6, raw
from scapy.contrib.mpls import MPLS
from scapy.contrib.nsh import NSH
from scapy.layers.ipsec import AH
from scapy.layers.l2 import GRE
from scapy.layers.ppp import PPP, PPPoE, PPPoED
from scapy.layers.vxlan import VXLAN

from vxlanlens.decode import DecodeOptions
from vxlanlens.engines import decoder_for
from vxlanlens.read.records import RecordBatch

MIRROR_COLUMNS = {
    "mirror",
    "mirror_src_ip",
    "mirror_dst_ip",
    "mirror_session",
    "mirror_direction",
    "mirror_port",
    "mirror_vlan",
    "mirror_timestamp",
    "mirror_hw_id",
}


def _without_mirror(r: dict) -> dict:
    return {k: v for k, v in r.items() if k not in MIRROR_COLUMNS}


def _one(pkt) -> dict:
    return row(decode([raw(pkt)]))


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("kind", [1, 2, 3])
@pytest.mark.parametrize("mirrored", ["pod", "cilium"])
def test_erspan_gives_the_frame_as_captured_on_the_mirrored_port(
    kind: int, ipv6: bool, mirrored: str
) -> None:
    frame = pod_tcp() if mirrored == "pod" else cilium_vxlan()
    fields = {} if kind == 1 else {"session_id": 300 + kind, "vlan": 20 + kind}
    got = _one(erspan(kind, frame, ipv6=ipv6, **fields))
    assert got["mirror"] == f"erspan-{kind}"
    assert got["mirror_src_ip"] == (MIRROR_SRC6 if ipv6 else MIRROR_SRC4)
    assert got["mirror_dst_ip"] == (MIRROR_DST6 if ipv6 else MIRROR_DST4)
    assert _without_mirror(got) == _one(frame)
    if kind == 1:
        assert "mirror_session" not in got and "mirror_vlan" not in got
    else:
        assert got["mirror_session"] == 300 + kind
        assert got["mirror_vlan"] == 20 + kind
    if mirrored == "cilium":  # the mirrored overlay is decoded as the overlay
        assert got["tunnel"] == "vxlan" and got["vni"] == 6899
        assert got["outer_src_ip"] == "172.18.0.3" and got["src_ip"] == "10.244.1.233"


def test_erspan2_index_and_erspan3_direction_port_hw_id_timestamp() -> None:
    ii = _one(erspan(2, pod_tcp(), session_id=5, index=0xABCDE))
    assert ii["mirror_port"] == 0xABCDE and "mirror_direction" not in ii
    for d, text in ((0, "ingress"), (1, "egress")):
        iii = _one(
            erspan(3, pod_tcp(), session_id=6, d=d, hw=0x2A, timestamp=123456, platform=(3, 77))
        )
        assert iii["mirror_direction"] == text
        assert iii["mirror_hw_id"] == 0x2A and iii["mirror_timestamp"] == 123456
        assert iii["mirror_port"] == 77
        assert _without_mirror(iii) == _one(pod_tcp())
    no_sub = _one(erspan(3, pod_tcp(), session_id=6))
    assert "mirror_port" not in no_sub and no_sub["src_ip"] == "10.244.1.233"
    other_platform = _one(erspan(3, pod_tcp(), platform=(1, 77)))  # no port in platform 1
    assert "mirror_port" not in other_platform and other_platform["dport"] == 8080


def test_plain_gre_carrying_ethernet_is_a_mirror_and_its_key_the_session() -> None:
    got = _one(gre_mirror(cilium_vxlan(), key=1234))
    assert got["mirror"] == "gre" and got["mirror_session"] == 1234
    assert _without_mirror(got) == _one(cilium_vxlan())
    assert "mirror_session" not in _one(gre_mirror(pod_tcp(), ipv6=True))


def test_gre_carrying_ip_is_a_tunnel_decoded_through() -> None:
    inner = IP(src="10.2.0.1", dst="10.2.0.2") / TCP(sport=5, dport=6, flags="S")
    got = _one(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / GRE(key_present=1, key=7) / inner)
    assert got["ip_tunnel"] == "gre" and got["tunnel_depth"] == 1 and got["gre_key"] == 7
    assert "tunnel" not in got and "outer_udp_len" not in got  # not an overlay
    assert got["outer_src_ip"] == "1.1.1.1" and got["src_ip"] == "10.2.0.1"
    assert got["gre_proto"] == 0x0800 and got["dport"] == 6 and "mirror" not in got
    six = _one(Ether() / IPv6() / GRE(proto=0x86DD) / IPv6(src="fd00::1") / UDP(dport=53))
    assert six["ip_tunnel"] == "gre" and six["src_ip"] == "fd00::1" and six["dport"] == 53


def test_geneve_ip_gre_ip_tcp_decodes_to_the_innermost_tcp() -> None:
    from scapy.contrib.geneve import GENEVE

    pkt = (
        Ether()
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / UDP(sport=1, dport=6081)
        / GENEVE(proto=0x0800)
        / IP(src="10.1.0.1", dst="10.1.0.2")
        / GRE()
        / IP(src="10.2.0.1", dst="10.2.0.2")
        / TCP(sport=39198, dport=1234)
    )
    got = _one(pkt)
    assert got["ip_tunnel"] == "gre" and got["tunnel_depth"] == 2
    assert got["tunnel"] == "geneve" and got["tunnel_proto"] == 0x0800  # the overlay is kept
    assert got["outer_src_ip"] == "10.0.0.1" and got["src_ip"] == "10.2.0.1"
    assert got["dport"] == 1234 and "decode_layer" not in got


def test_ethernet_in_gre_inside_a_tunnel_is_a_tunnel_not_a_mirror() -> None:
    inner = Ether() / IP(src="10.9.0.1") / ICMP()
    pkt = cilium_vxlan(Ether() / IP(src="10.1.0.1") / GRE(proto=0x6558) / inner)
    got = _one(pkt)
    assert "mirror" not in got and got["ip_tunnel"] == "gre" and got["tunnel_depth"] == 2
    assert got["tunnel"] == "vxlan" and got["vni"] == 6899
    assert got["src_ip"] == "10.9.0.1"


def test_vxlan_mirror_option_peels_only_its_session() -> None:
    opts = DecodeOptions().with_mirror_vxlan(((4789, 77),))
    frames = [raw(vxlan_mirror(cilium_vxlan(), 77)), raw(vxlan_mirror(cilium_vxlan(), 78))]
    db = decode(frames, options=opts)
    hit, miss = row(db, 0), row(db, 1)
    assert hit["mirror"] == "vxlan" and hit["mirror_session"] == 77
    assert _without_mirror(hit) == _one(cilium_vxlan())
    assert "mirror" not in miss and miss["tunnel_depth"] == 2 and miss["outer_vni"] == 78
    anyvni = decode(frames, options=DecodeOptions().with_mirror_vxlan(((4789, -1),)))
    assert row(anyvni, 1)["mirror_session"] == 78
    own = decode([raw(cilium_vxlan())], options=opts)  # the overlay itself is never peeled
    assert "mirror" not in row(own)


def test_mpls_stack_then_ip() -> None:
    pkt = Ether() / MPLS(label=100, s=0) / MPLS(label=200, s=1) / IP(src="1.1.1.1") / UDP()
    got = _one(pkt)
    assert got["mpls_label"] == 100 and got["mpls_depth"] == 2 and got["src_ip"] == "1.1.1.1"
    got6 = _one(Ether(type=0x8848) / MPLS(label=5, s=1) / IPv6(src="fd00::5") / UDP())
    assert got6["mpls_label"] == 5 and got6["src_ip"] == "fd00::5"
    pw = row(decode([raw(Ether() / MPLS(label=9, s=1)) + b"\x00\x00\x00\x00" + raw(pod_tcp())]))
    assert pw["decode_layer"] == "mpls" and "not IPv4 or IPv6" in pw["decode_error"]


def test_pppoe_session_and_discovery() -> None:
    got = _one(Ether() / PPPoE(sessionid=5) / PPP(proto=0x21) / IP(src="3.3.3.3") / ICMP())
    assert got["pppoe_session"] == 5 and got["ppp_proto"] == 0x21 and got["icmp_type"] == 8
    got6 = _one(Ether() / PPPoE(sessionid=6) / PPP(proto=0x57) / IPv6(src="fd00::6") / UDP())
    assert got6["src_ip"] == "fd00::6"
    lcp = _one(Ether() / PPPoE(sessionid=7) / PPP(proto=0xC021) / b"\x01\x01\x00\x04")
    assert lcp["ppp_proto"] == 0xC021 and "decode_layer" not in lcp and "ip_version" not in lcp
    disc = _one(Ether(type=0x8863) / PPPoED(code=9))
    assert disc["pppoe_code"] == 9 and disc["ethertype"] == 0x8863


def test_6in4_and_4in6_are_ip_in_ip_tunnels() -> None:
    got = _one(Ether() / IP(src="5.5.5.5") / IPv6(src="fd00::1") / UDP(dport=9))
    assert got["ip_tunnel"] == "ip-in-ip" and got["outer_src_ip"] == "5.5.5.5"
    assert got["src_ip"] == "fd00::1" and got["dport"] == 9 and "tunnel" not in got
    got = _one(Ether() / IPv6(src="fd00::2") / IP(src="6.6.6.6") / TCP(dport=10))
    assert got["ip_tunnel"] == "ip-in-ip" and got["src_ip"] == "6.6.6.6" and got["dport"] == 10


def test_nsh_after_vxlan_gpe() -> None:
    inner = Ether() / IP(src="7.7.7.7") / UDP(dport=11)
    pkt = (
        Ether()
        / IP()
        / UDP(sport=1, dport=4790)
        / VXLAN(flags=0x0C, NextProtocol=4, vni=3)
        / NSH(spi=0x123, si=254, nextproto=3)
        / inner
    )
    got = _one(pkt)
    assert got["tunnel"] == "vxlan-gpe" and got["nsh_spi"] == 0x123 and got["nsh_si"] == 254
    assert got["src_ip"] == "7.7.7.7" and got["dport"] == 11


def test_ah_is_skipped_in_ipv4_and_ipv6() -> None:
    icv = b"\x00" * 12
    got = _one(Ether() / IP(src="8.8.8.8") / AH(nh=6, payloadlen=4, icv=icv) / TCP(dport=12))
    assert got["ip_proto"] == 6 and got["dport"] == 12
    got6 = _one(Ether() / IPv6() / AH(nh=17, payloadlen=4, icv=icv) / UDP(dport=13))
    assert got6["ip_proto"] == 17 and got6["ip6_ext"] == "ah" and got6["dport"] == 13


CUT_CASES = {
    "erspan1": (erspan(1, pod_tcp()), 34, 38),
    "erspan2": (erspan(2, pod_tcp(), session_id=1), 34, 50),
    "erspan3": (erspan(3, pod_tcp(), platform=(3, 1)), 54, 78),
    "gre-key": (gre_mirror(pod_tcp(), key=5), 34, 42),
    "mpls": (Ether() / MPLS(s=0) / MPLS(s=1) / IP() / UDP(), 14, 23),
    "pppoe": (Ether() / PPPoE() / PPP(proto=0x21) / IP() / UDP(), 14, 22),
    "6in4": (Ether() / IP() / IPv6() / UDP(), 34, 35),
    "ah": (Ether() / IP() / AH(nh=6, payloadlen=4, icv=b"\0" * 12) / TCP(), 34, 58),
}


@pytest.mark.parametrize("name", sorted(CUT_CASES))
def test_a_cut_inside_a_new_header_is_a_decode_error_never_an_exception(name: str) -> None:
    pkt, lo, hi = CUT_CASES[name]
    data = raw(pkt)
    frames = [data[:k] for k in range(lo, hi)]
    db = decode(frames, wire_len=[len(data)] * len(frames))
    for k in range(len(frames)):
        r = row(db, k)
        assert r.get("decode_layer") is not None, (name, lo + k, r)
        assert "captured" in r["decode_error"]


_ENCAP = [raw(p) for _, p in encap_frames()]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, len(_ENCAP) - 1),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 200),
)
def test_mutated_encapsulations_never_raise(
    which: int, edits: list[tuple[int, int]], cut: int
) -> None:
    buf = bytearray(_ENCAP[which])
    for at, value in edits:
        buf[at % len(buf)] = value
    frames = [bytes(buf), bytes(buf[: len(buf) - cut % len(buf)])]
    opts = DecodeOptions().with_mirror_vxlan(((4789, -1),))
    db = decode(frames, wire_len=[len(buf), len(buf)], options=opts)
    assert db.n == 2
    scapy = decoder_for("scapy")(RecordBatch.from_frames(frames, wire_len=[len(buf)] * 2), opts)
    assert scapy.n == 2
