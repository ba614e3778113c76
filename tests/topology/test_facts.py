"""Canonical addresses: the C library's fast path gives exactly what ``ipaddress`` gives."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from vxlanlens.topology.facts import canonical_ip


def _reference(text: str) -> str | None:
    s = text.strip().split("/")[0].split("%")[0]
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        return None


_words = st.lists(
    st.one_of(st.just(0), st.just(1), st.just(0xFFFF), st.integers(0, 0xFFFF)),
    min_size=8,
    max_size=8,
)


@settings(max_examples=2000, deadline=None)
@given(words=_words, upper=st.booleans())
def test_ipv6_text_as_ipaddress_writes_it(words: list[int], upper: bool) -> None:
    addr = ipaddress.IPv6Address(b"".join(w.to_bytes(2, "big") for w in words))
    for text in (str(addr), addr.exploded, str(addr).upper() if upper else str(addr)):
        assert canonical_ip(text) == _reference(text) == str(addr)


@settings(max_examples=1000, deadline=None)
@given(n=st.integers(0, 2**32 - 1))
def test_ipv4_text_as_ipaddress_writes_it(n: int) -> None:
    addr = ipaddress.IPv4Address(n)
    assert canonical_ip(str(addr)) == str(addr)
    mapped = f"::ffff:{addr}"  # IPv4-mapped: ipaddress writes the tail in hex (Python < 3.13)
    assert canonical_ip(mapped) == _reference(mapped)


@settings(max_examples=2000, deadline=None)
@given(text=st.text(alphabet="0123456789abcdefABCDEF:./% x\x00", max_size=45))
def test_any_text_as_ipaddress_reads_it(text: str) -> None:
    assert canonical_ip(text) == _reference(text)


def _global_reference(text: str) -> bool:
    try:
        a = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (
        a.is_link_local
        or a.is_multicast
        or a.is_unspecified
        or a.is_loopback
        or (a.version == 4 and str(a) == "255.255.255.255")
    )


_special = st.sampled_from(
    ["0.0.0.0", "255.255.255.255", "127.0.0.1", "169.254.1.1", "224.0.0.1", "239.9.9.9",
     "::", "::1", "fe80::1", "febf::1", "fec0::1", "ff02::1", "::ffff:127.0.0.1", "::1.2.3.4",
     "10.0.0.1", "fd00::1", "2001:db8::1"]
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(
    text=st.one_of(
        _special,
        st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
        _words.map(lambda w: str(ipaddress.IPv6Address(b"".join(x.to_bytes(2, "big") for x in w)))),
        st.text(alphabet="0123456789abcdef:.", max_size=20),
    )
)
def test_unicast_global_as_ipaddress_says(text: str) -> None:
    from vxlanlens.topology._infer_rows import _is_unicast_global

    assert _is_unicast_global(text) == _global_reference(text)
