"""`explain` on third-party captures it was not written for: it never crashes, and it does not
claim Cilium semantics where nothing shows Cilium."""

from __future__ import annotations

from pathlib import Path

import pytest
from testpaths import PUBLIC, public_files

import vxlanlens
from vxlanlens.errors import CaptureError
from vxlanlens.explain import CILIUM_FINDINGS
from vxlanlens.overlays import recognise

REJECTED = {"linktype-reserved-field-not-zero.pcap", "pcap-invalid-version-1.pcap",
            "pcapng-invalid-vers-1.pcapng", "shb-option-too-long.pcapng"}  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [p for p in public_files() if p.name not in REJECTED],
    ids=lambda p: str(p.relative_to(PUBLIC)),
)
def test_explains_every_readable_corpus_file(path: Path) -> None:
    exp = vxlanlens.read(str(path)).explain()
    assert exp.counts["frames"] >= 0
    assert set(exp.to_dict()) >= {"schema_version", "paths", "findings"}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected_files_give_capture_errors(public_dir: Path, name: str) -> None:
    (path,) = list(public_dir.rglob(name))
    with pytest.raises(CaptureError, match=name.replace(".", r"\.")):
        vxlanlens.read(str(path)).explain()


def test_plain_vxlan_is_not_called_cilium(public_dir: Path) -> None:
    # two hosts of 192.168.203.0/24 behind two VTEPs: their ARP crosses the tunnel, which
    # Cilium's never carries (its eBPF program answers a pod's ARP on the pod's veth)
    cap = vxlanlens.read(str(public_dir / "tcpdump" / "vxlan.pcap"))
    assert recognise(cap.packets).bridged
    exp = cap.explain()
    assert "ARP or Neighbor Discovery" in exp.topology["overlay"]["ruled_out"]["cilium"]
    assert not [f for f in exp.findings if f.id in CILIUM_FINDINGS]
    assert any("bridged into a tunnel device unchanged" in u for u in exp.unknowns)
    hops = [h for p in exp.paths for h in (*p.hops, *p.reply_hops)]
    assert not [h for h in hops if "eBPF" in h.place or "cilium" in h.place.lower()]
    assert any(h.place.startswith("bridge on node") for h in hops)
    # the ARP exchange cites the frames that carried it across the tunnel
    (arp,) = [p for p in exp.paths if p.kind == "arp"]
    # each host on its own VTEP's node (the answer is not placed on the asker's node)
    asker, answerer = arp.hops[0], arp.reply_hops[0]
    assert asker.node and answerer.node and asker.node != answerer.node
    crossing = [h for h in (*arp.hops, *arp.reply_hops) if h.observed]
    assert [(e.capture, e.frame_no) for h in crossing for e in h.evidence] == [
        ("vxlan", 2),
        ("vxlan", 3),
    ]
