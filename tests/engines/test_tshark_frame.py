"""The tshark field attribution (one mapping shared by the engine and the tshark oracle test),
on hand-written ``tshark -T fields`` rows: no tshark needed."""

from __future__ import annotations

from vxlanlens.engines.tshark_engine import CONDITIONAL, FIELDS, TsharkFrame


def _row(protocols: str, **values: str) -> dict[str, list[str]]:
    """A run_fields row: every field of FIELDS, comma-joined occurrences as tshark prints them."""
    given = {k.replace("__", "."): v for k, v in values.items()}
    row = {f: (given[f].split(",") if given.get(f) else []) for f in FIELDS}
    row["frame.protocols"] = [protocols]
    return row


# an ICMPv6 echo request inside VXLAN: two IPv6 headers are the underlay and the pod frame
_VXLAN_ECHO = "eth:ethertype:ipv6:udp:vxlan:eth:ethertype:ipv6:icmpv6"


def test_occurrences_go_to_their_protocol_instances() -> None:
    fr = TsharkFrame(
        _row(
            _VXLAN_ECHO,
            ipv6__src="fd00::1,fd00:10::1",
            icmpv6__type="128",
            icmpv6__echo__identifier="44",
        )
    )
    assert fr.get("ipv6.src", 2) == "fd00::1"
    assert fr.get("ipv6.src", 7) == "fd00:10::1"
    assert fr.geti("icmpv6.echo.identifier", 8) == 44
    assert fr.first(("ipv6",), 3, 9) == 7 and fr.all(("eth",), 0, 9) == [0, 5]
    assert fr.quoted_start(7) == (9, None)  # one IP header in the pod frame: nothing quoted


def test_conditional_fields_skip_instances_whose_type_lacks_them() -> None:
    # an echo request quoted by a Packet Too Big: only the second icmpv6 header has an id
    assert CONDITIONAL["icmpv6.echo.identifier"][1](128)
    fr = TsharkFrame(
        _row(
            "eth:ethertype:ipv6:icmpv6:ipv6:icmpv6",
            icmpv6__type="2,128",
            icmpv6__echo__identifier="7",
            icmpv6__mtu="1280",
        )
    )
    assert fr.get("icmpv6.echo.identifier", 3) is None
    assert fr.geti("icmpv6.echo.identifier", 5) == 7
    assert fr.geti("icmpv6.mtu", 3) == 1280
    assert fr.quoted_start(2) == (4, 4)  # the second IPv6 header is the quoted packet


def test_strict_notes_what_cannot_be_attributed_and_lenient_drops_it() -> None:
    row = _row(_VXLAN_ECHO, ipv6__src="fd00::1,fd00:10::1,fd00::99", icmpv6__type="128")
    lenient, strict = TsharkFrame(row), TsharkFrame(row, strict=True)
    assert lenient.values["ipv6.src"] == {} and lenient.unmapped == []
    assert strict.values["ipv6.src"] == {}
    assert strict.unmapped == ["ipv6.src: 3 values for 2 ipv6 layers"]


def test_nd_flags_letters() -> None:
    na = TsharkFrame(
        _row(
            "eth:ethertype:ipv6:icmpv6",
            icmpv6__type="136",
            icmpv6__nd__na__flag__r="True",
            icmpv6__nd__na__flag__s="False",
            icmpv6__nd__na__flag__o="1",
        )
    )
    assert na.nd_flags(136, 3) == "RO"
    assert na.nd_flags(135, 3) is None
    ra_without_flags = TsharkFrame(_row("eth:ethertype:ipv6:icmpv6", icmpv6__type="134"))
    assert ra_without_flags.nd_flags(134, 3) is None
