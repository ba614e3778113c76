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


def _changed(value: object) -> object:
    """A different value of the same kind as ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, list):
        return [*value, "x"]
    if isinstance(value, dict):
        return {**value, "x": 1}
    if isinstance(value, int):
        return value + 1
    return "changed"


def test_repeat_key_covers_every_field_but_the_source() -> None:
    # A field left out of the key would make two different facts one, and lose one of them.
    import dataclasses

    from vxlanlens.topology.merge import _KEYS
    from vxlanlens.topology.model import Peer

    base = {
        "pods": Pod(source=_src("a"), confidence="inferred-high", ips=["10.0.0.1"]),
        "interfaces": Interface(source=_src("a"), confidence="inferred-high", tunnel={"id": 1}),
    }
    for kind, fact in base.items():
        key = _KEYS[kind]
        for f in dataclasses.fields(fact):
            if f.name in ("source", "field_sources"):
                continue
            old = getattr(fact, f.name)
            new = Peer(ifindex=3) if f.name == "peer" else _changed(old)
            other = dataclasses.replace(fact)
            object.__setattr__(other, f.name, new)
            if f.name == "netns_key":  # not an init field of every fact
                other.netns_key = "changed"
            assert key(other) != key(fact), f"{kind}: {f.name} is not in the repeat key"
        same = dataclasses.replace(fact, source=_src("b"))
        assert key(same) == key(fact)


def test_a_repeated_fact_is_merged_once() -> None:
    # One claim, then another stated three times (inference states a pod once per capture
    # and conversation): one conflict, not three.
    first = Pod(source=_src("a"), confidence="inferred-high", ips=["10.0.0.1"], identity=5)
    again = [
        Pod(source=_src(f"b{k}"), confidence="inferred-high", ips=["10.0.0.1"], identity=6)
        for k in range(3)
    ]
    out = merge(Topology(pods=[first, *again]))
    assert len(out.pods) == 1
    (c,) = out.conflicts
    assert c.field == "identity"
    # the first statement of the repeated claim is the one kept, with its evidence
    assert c.values[1][1].note == "b0"


def test_two_pods_one_fact_joins_are_merged() -> None:
    # a pod stated by its MAC with one address, then by its other address without a MAC, then
    # by both: the third fact makes the first two one pod (the 300k bench capture listed 5,965
    # pods of its 3,072, each MAC's pod once with and once without its IPv4 address)
    mac = "02:00:00:00:00:01"
    a = Pod(source=_src("a"), confidence="inferred-high", ips=["10.0.0.1"], mac=mac)
    b = Pod(source=_src("b"), confidence="inferred-high", ips=["fd00::1"], identity=9)
    c = Pod(source=_src("c"), confidence="inferred-high", ips=["fd00::1"], mac=mac)
    for order in ([a, b, c], [b, a, c], [a, c, b], [c, b, a]):
        out = merge(Topology(pods=order))
        (p,) = out.pods
        assert sorted(p.ips) == ["10.0.0.1", "fd00::1"] and p.mac == mac and p.identity == 9
        assert not out.conflicts
    # pods on different nodes stay apart even when a later fact names both addresses
    x = Pod(source=_src("x"), confidence="inferred-high", ips=["10.0.0.1"], mac=mac, node="n1")
    y = Pod(source=_src("y"), confidence="inferred-high", ips=["fd00::1"], node="n2")
    z = Pod(source=_src("z"), confidence="inferred-high", ips=["fd00::1"], mac=mac)
    assert len(merge(Topology(pods=[x, y, z])).pods) == 2
