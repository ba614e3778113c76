"""`explain` on third-party captures it was not written for: it never crashes, and it does not
claim Cilium semantics where nothing shows Cilium."""

from __future__ import annotations

from pathlib import Path

import pytest
from testpaths import PUBLIC, public_files

import vxlanlens
from vxlanlens.errors import CaptureError

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
    exp = vxlanlens.read(str(public_dir / "tcpdump" / "vxlan.pcap")).explain()
    vni = [f for f in exp.findings if f.id == "vni-identity"]
    assert vni and not any("is the security identity of the sender" in f.statement for f in vni)
    assert any("nothing in this input shows Cilium" in f.statement for f in vni)
    assert any(u.startswith("Nothing in this input shows Cilium") for u in exp.unknowns)
    assert not [
        f for f in exp.findings if f.id in ("gateway-is-cilium-host", "gateway-answered-by-ebpf")
    ]
