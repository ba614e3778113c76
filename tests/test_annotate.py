"""`annotate`: the explanation written into a pcapng, read back by tshark and by vxlanlens."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from testpaths import CAPTURES

import vxlanlens
from vxlanlens.annotate import annotate, decode_as_entries

REF = CAPTURES / "cilium-dual-stack"
LAB = CAPTURES / "lab-ns-unanswered"

# pod-frame and underlay columns that must survive the round trip unchanged
_SAME = [
    "ts_ns",
    "wire_len",
    "cap_len",
    "linktype",
    "src_mac",
    "dst_mac",
    "src_ip",
    "dst_ip",
    "tunnel",
    "vni",
    "outer_src_ip",
    "outer_dst_ip",
    "decode_error",
]


def _ref() -> vxlanlens.Capture:
    return vxlanlens.read(
        [f"pod={REF / 'pod-eth0.pcap'}", f"node={REF / 'worker-eth0.pcap'}"],
        topology=str(REF / "topology"),
    )


def _fields(
    tshark: str, path: Path, *fields: str, display_filter: str | None = None
) -> list[list[str]]:
    cmd = [tshark, "-r", str(path), "-T", "fields", "-E", "separator=\t"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["ts_ns", "wire_len"], kind="stable").reset_index(drop=True)


def test_reference_round_trip(tmp_path: Path, tshark: str) -> None:
    cap = _ref()
    out = tmp_path / "ref.pcapng"
    result = annotate(cap, out)
    assert result.frames == len(cap.packets)

    rows = _fields(tshark, out, "frame.number", "frame.interface_name", "frame.comment")
    assert len(rows) == len(cap.packets)
    names = {r[1] for r in rows}
    # the pod capture is named after its pod, the node capture after its node
    pods = [p.label for p in cap.topology.pods]
    assert any(any(p.split("/")[-1] in n for p in pods) for n in names), names
    assert any("/eth0" in n for n in names), names
    comments = [r[2] for r in rows]
    # every frame of the reference scenario is understood
    assert all(comments), rows
    assert any("answered at #" in c and "by lxc" in c for c in comments), comments
    assert any("VXLAN VNI" in c for c in comments), comments
    assert any("gateway-answered-by-ebpf" in c for c in comments), comments

    # vxlanlens reads it back: same bytes, same decode, original timestamps of the reference
    back = vxlanlens.read(str(out))
    assert len(back.packets) == len(cap.packets)
    a = _sorted(cap.packets)[_SAME]
    b = _sorted(back.packets)[_SAME]
    offsets = result.clock_offsets_s
    if not offsets:
        pd.testing.assert_frame_equal(a, b, check_categorical=False)
    else:  # corrected captures: everything but the timestamps
        pd.testing.assert_frame_equal(
            a.drop(columns="ts_ns"), b.drop(columns="ts_ns"), check_categorical=False
        )
    assert back.packets["comment"].notna().all()


def test_unanswered_requests_found_by_tshark(tmp_path: Path, tshark: str) -> None:
    captures = sorted(str(p) for p in LAB.glob("*.pcap"))
    cap = vxlanlens.read(captures, topology=str(LAB / "topology"))
    out = tmp_path / "lab.pcapng"
    annotate(cap, out)
    hits = _fields(
        tshark,
        out,
        "frame.number",
        "icmpv6.type",
        "frame.comment",
        display_filter='frame.comment contains "unanswered"',
    )
    unanswered = cap.exchanges[cap.exchanges["status"].astype(str) == "unanswered"]
    assert len(unanswered) > 0
    assert len(hits) == len(unanswered)
    # they are the Neighbor Solicitations (ICMPv6 type 135)
    assert {h[1] for h in hits} == {"135"}
    # each names the observation point where nothing answered
    points = set(unanswered["point"].astype(str))
    assert all(any(f"unanswered at {p}" in h[2] for p in points) for h in hits)


def test_clock_offsets_are_corrected_and_said(tmp_path: Path) -> None:
    # the node capture shifted by 2.5 s: annotate corrects it and says so in the section comment
    shifted = tmp_path / "node-late.pcap"
    data = bytearray((REF / "worker-eth0.pcap").read_bytes())
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
        struct.pack_into(
            "<II", data, off, sec + 2, usec + 500000 if usec < 500000 else usec - 500000
        )
        if usec >= 500000:
            struct.pack_into("<I", data, off, sec + 3)
        off += 16 + incl
    shifted.write_bytes(bytes(data))
    cap = vxlanlens.read(
        [f"pod={REF / 'pod-eth0.pcap'}", f"node={shifted}"], topology=str(REF / "topology")
    )
    out = tmp_path / "skew.pcapng"
    result = annotate(cap, out)
    assert set(result.clock_offsets_s) == {"node"}
    assert result.clock_offsets_s["node"] == pytest.approx(2.5, abs=0.01)
    back = vxlanlens.read(str(out))
    # after correction the node's frames fall between the pod's request and reply again
    ts = back.packets["ts_ns"].to_numpy()
    assert (ts[1:] >= ts[:-1]).all()
    span = (ts.max() - ts.min()) / 1e9
    assert span < 1.0
    shb = out.read_bytes()[:4096].decode("utf-8", "replace")
    assert "clock offsets corrected" in shb and "node +2.5" in shb


def test_stdin_is_refused(tmp_path: Path) -> None:
    cap = vxlanlens.read(io.BytesIO((REF / "pod-eth0.pcap").read_bytes()))
    with pytest.raises(vxlanlens.CaptureError, match="needs a file"):
        annotate(cap, tmp_path / "x.pcapng")


def test_decode_as_entries_name_port_8472() -> None:
    text = decode_as_entries(_ref())
    assert "decode_as_entry: udp.port,8472,(none),VXLAN" in text.splitlines()


def test_decode_as_entries_work_in_tshark(tmp_path: Path, tshark: str) -> None:
    conf = tmp_path / "config" / "wireshark"
    conf.mkdir(parents=True)
    (conf / "decode_as_entries").write_text(decode_as_entries(_ref()))
    env = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": "/usr/bin:/bin",
    }
    cmd = [tshark, "-r", str(REF / "worker-eth0.pcap"), "-T", "fields", "-e", "vxlan.vni"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    cap = _ref()
    want = {str(int(v)) for v in cap.packets["vni"].dropna()}
    assert want and want <= set(out.split())
