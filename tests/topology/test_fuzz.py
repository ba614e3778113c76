"""Property tests: random input to every parser raises only vxlanlens errors."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vxlanlens.errors import VxlanlensError
from vxlanlens.topology import cilium, iproute, kube, load
from vxlanlens.topology._util import Ctx
from vxlanlens.topology.model import Topology

DATA = Path(__file__).resolve().parent / "data"
SAMPLES = sorted(p for p in DATA.iterdir() if p.is_file() and p.name != "topology.yaml")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_ours(fn, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except VxlanlensError as e:
        assert "\n" not in str(e)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _only_ours(load, data)


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    _only_ours(load, text + "\n")


@FUZZ
@given(st.sampled_from(SAMPLES), st.data())
def test_mutated_samples(path: Path, data: st.DataObject) -> None:
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "dup"]))
        i = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[i : i + data.draw(st.integers(1, 40))]
        elif raw:
            raw[i:i] = raw[i : i + data.draw(st.integers(1, 40))]
    _only_ours(load, bytes(raw))


_line = st.text(alphabet="0123456789abcdef:./@<> -_lxcethinet6rodvaSTALEmu\t", max_size=80)


@FUZZ
@given(st.lists(_line, max_size=8))
def test_text_parsers_directly(lines: list[str]) -> None:
    text = "\n".join(lines)
    for fn in (
        iproute.parse_ip_addr_text,
        iproute.parse_ip_neigh_text,
        iproute.parse_ip_route_text,
        cilium.parse_identity_list_text,
        kube.parse_pods_wide,
        cilium.parse_endpoint_list_text,
    ):
        hdr = {
            kube.parse_pods_wide: "NAME   READY   STATUS   RESTARTS   AGE   IP   NODE\n",
            cilium.parse_identity_list_text: "ID   LABELS\n",
            cilium.parse_endpoint_list_text: (DATA / "cilium-endpoint-list.txt")
            .read_text()
            .splitlines()[0]
            + "\n",
        }
        _only_ours(fn, hdr.get(fn, "") + text, Ctx(file="f"), Topology())


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.text(max_size=12)
    | st.sampled_from(["10.0.0.1", "fd00::1", "aa:bb:cc:dd:ee:ff", "default", "eth0"]),
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "ifname",
                    "ifindex",
                    "address",
                    "addr_info",
                    "local",
                    "prefixlen",
                    "dst",
                    "gateway",
                    "lladdr",
                    "state",
                    "id",
                    "status",
                    "networking",
                    "addressing",
                    "ipv4",
                    "mac",
                    "kind",
                    "items",
                    "metadata",
                    "name",
                    "spec",
                    "labels",
                    "identity",
                    "podIPs",
                    "ip",
                ]
            ),
            c,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@FUZZ
@given(_json)
def test_structured_shapes(obj: object) -> None:
    _only_ours(load, json.dumps(obj) + "\n")
