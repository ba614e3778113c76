"""The public face: a small curated API."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

import vxlanlens

EXPECTED = {
    "COLUMNS",
    "COLUMN_NAMES",
    "Capture",
    "CaptureError",
    "CaptureSource",
    "DecodeError",
    "DecodeOptions",
    "EngineError",
    "ReadOptions",
    "RenderError",
    "SchemaError",
    "TopologyError",
    "TopologyParseError",
    "TruncatedCaptureError",
    "TruncatedFrameError",
    "UnknownFormatError",
    "VxlanlensError",
    "__version__",
    "annotate",
    "iter_batches",
    "read",
    "watch",
}


def test_all_is_the_curated_list() -> None:
    assert set(vxlanlens.__all__) == EXPECTED
    for name in vxlanlens.__all__:
        assert hasattr(vxlanlens, name), name


def test_errors_share_one_base() -> None:
    for name in vxlanlens.__all__:
        obj = getattr(vxlanlens, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, vxlanlens.VxlanlensError)


def test_error_message_names_file_and_place() -> None:
    err = vxlanlens.CaptureError("bad  block\n length", path="x.pcapng", where="byte 28")
    assert str(err) == "x.pcapng: byte 28: bad block length"


REF = Path(__file__).resolve().parent.parent / "captures" / "cilium-dual-stack"
POD = str(REF / "pod-eth0.pcap")
NODE = str(REF / "worker-eth0.pcap")


def test_read_options_give_the_reproducing_arguments() -> None:
    opts = vxlanlens.ReadOptions(
        topology=("a b/topo",),
        vxlan_ports=(9000,),
        geneve_ports=[7000],  # type: ignore[arg-type]
        guess_tunnels=False,
        engine="scapy",
        workers=2,
        timeout_s=1.5,
        capture_at=("pod=n1:eth0",),
        scheduler="local:2",
    )
    assert opts.geneve_ports == (7000,)
    args = opts.to_args()
    assert args == [
        "--topology", "a b/topo", "--vxlan-port", "9000", "--geneve-port", "7000",
        "--no-guess", "--engine", "scapy", "--timeout", "1.5", "--capture-at", "pod=n1:eth0",
    ]  # fmt: skip
    line = opts.command_line("explain", ["x.pcap"], ["--format", "md"])
    assert line.startswith("vxlanlens explain x.pcap --topology 'a b/topo' ")
    assert line.endswith("--format md")
    assert vxlanlens.ReadOptions().to_args() == []
    one = vxlanlens.ReadOptions(topology="dumps/", vxlan_ports=9000, capture_at={"a": "n1"})  # type: ignore[arg-type]
    assert one.topology == ("dumps/",) and one.vxlan_ports == (9000,)
    assert one.capture_at == ("a=n1",)
    decode = opts.decode_options()
    assert 9000 in decode.vxlan_ports and 7000 in decode.geneve_ports and not decode.guess_tunnels


@pytest.mark.parametrize(
    "bad",
    [{"vxlan_ports": (0,)}, {"engine": "nope"}, {"workers": 0}, {"timeout_s": -1.0}],
)
def test_read_options_refuse_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        vxlanlens.ReadOptions(**bad)


def test_read_options_are_frozen() -> None:
    opts = vxlanlens.ReadOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.timeout_s = 1.0  # type: ignore[misc]
    assert opts.with_(timeout_s=1.0).timeout_s == 1.0 and opts.timeout_s == 3.0


def test_read_options_read_is_read_with_the_same_keywords() -> None:
    opts = vxlanlens.ReadOptions(timeout_s=0.5, capture_at=("pod-eth0=worker:eth0",))
    a = opts.read([POD, NODE])
    b = vxlanlens.read([POD, NODE], **opts.read_kwargs())
    assert a.timeout_s == b.timeout_s == 0.5
    assert dict(a.capture_at) == dict(b.capture_at) == {"pod-eth0": "worker:eth0"}
    assert a.packets.equals(b.packets)


def test_capture_is_immutable_with_explicit_copies() -> None:
    cap = vxlanlens.read([POD, NODE])
    with pytest.raises(dataclasses.FrozenInstanceError):
        cap.timeout_s = 1.0  # type: ignore[misc]
    exp = cap.explain()
    assert cap.explain() is exp  # computed once
    slower = cap.with_options(timeout_s=0.25)
    assert slower is not cap and slower.timeout_s == 0.25 and cap.timeout_s == 3.0
    assert slower.packets is cap.packets
    assert slower.explain() is not exp
    placed = cap.with_options(capture_at=["pod-eth0=worker:eth0"])
    assert dict(placed.capture_at) == {"pod-eth0": "worker:eth0"} and not cap.capture_at
    with pytest.raises(vxlanlens.TopologyError, match="no capture has that label"):
        cap.with_options(capture_at={"nope": "worker"})
    assert cap.loaded_topology is None
    dumped = cap.with_topology(str(REF / "topology"))
    assert dumped.loaded_topology is not None and cap.loaded_topology is None
    assert len(dumped.topology.pods) >= len(cap.topology.pods)
    assert dumped.with_topology(None).loaded_topology is None
    assert isinstance(cap.sources, tuple) and isinstance(cap.warnings, tuple)


def test_read_options_keyword_is_deprecated_but_works() -> None:
    plain = vxlanlens.read(NODE, geneve_ports=[9999])
    with pytest.warns(DeprecationWarning, match="geneve_ports"):
        old = vxlanlens.read(NODE, options=vxlanlens.DecodeOptions().with_ports(geneve=(9999,)))
    assert old.options == plain.options
    assert old.packets.equals(plain.packets)


def test_stdin_twice_is_named() -> None:
    with pytest.raises(vxlanlens.CaptureError, match=r"standard input \(-\) is given 2 times"):
        vxlanlens.read(["-", "b=-"])
