"""Merging keeps its meaning where it was made faster: a conflict names the object as it was
before the merge, values already held are not conflicts, an unchanged pod is found again."""

from __future__ import annotations

from vxlanlens.topology.merge import merge
from vxlanlens.topology.model import Interface, Pod, Source, Topology


def _src(note: str) -> Source:
    return Source(frames=(("c", 1),), note=note)


def test_conflict_names_the_pod_as_it_was_before_the_merge() -> None:
    inferred = Pod(
        source=_src("a"), confidence="inferred-high", ips=["10.0.0.1"], host_mac="aa:aa:aa:aa:aa:01"
    )
    named = Pod(
        source=_src("b"),
        confidence="inferred-high",
        namespace="ns",
        name="web",
        ips=["10.0.0.1"],
        host_mac="aa:aa:aa:aa:aa:02",
    )
    out = merge(Topology(pods=[inferred, named]))
    assert [p.ref for p in out.pods] == ["ns/web"]
    (c,) = out.conflicts
    assert (c.subject, c.field) == ("pod 10.0.0.1", "host_mac")
    assert [v for v, _, _ in c.values] == ["aa:aa:aa:aa:aa:01", "aa:aa:aa:aa:aa:02"]


def test_same_values_are_no_conflict_and_lists_grow() -> None:
    a = Pod(source=_src("a"), confidence="inferred-high", ips=["10.0.0.1"], mac="02:00:00:00:00:01")
    b = Pod(
        source=_src("b"),
        confidence="inferred-high",
        ips=["10.0.0.1", "fd00::1"],
        mac="02:00:00:00:00:01",
        identity=7,
    )
    c = Pod(source=_src("c"), confidence="inferred-high", ips=["fd00::1"], identity=8)
    out = merge(Topology(pods=[a, b, c]))
    (p,) = out.pods
    assert p.ips == ["10.0.0.1", "fd00::1"] and p.identity == 7
    assert p.field_sources["identity"][0].note == "b"
    # the third fact found the pod by the address the second one added
    assert [(x.subject, x.field) for x in out.conflicts] == [("pod 10.0.0.1", "identity")]


def test_interface_conflict_names_the_interface_before_the_merge() -> None:
    a = Interface(source=_src("a"), confidence="inferred-high", mac="02:00:00:00:00:09", mtu=1500)
    b = Interface(
        source=_src("b"),
        confidence="inferred-high",
        node="n1",
        name="eth0",
        mac="02:00:00:00:00:09",
        mtu=9000,
    )
    out = merge(Topology(interfaces=[a, b]))
    (i,) = out.interfaces
    assert (i.name, i.node, i.mtu) == ("eth0", "n1", 1500)
    (c,) = out.conflicts
    assert c.subject == "interface other 02:00:00:00:00:09 on ?"
    assert c.field == "mtu"


def test_source_text_is_kept_and_equal_sources_stay_equal() -> None:
    s = _src("x")
    assert str(s) == "frames c#1 (x)" == str(s)
    assert s == _src("x") and hash(s) == hash(_src("x"))
