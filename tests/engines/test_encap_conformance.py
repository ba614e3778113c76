"""The three engines agree on every mirror transport and other encapsulation (crafted frames),
except for the differences listed in ``vxlanlens.engines.conformance.ALLOWED``."""

from __future__ import annotations

import shutil

from craft import encap_frames
from scapy.all import raw

from vxlanlens.decode import DecodeOptions
from vxlanlens.engines.conformance import allowed, compare_tables, engine_tables
from vxlanlens.read.records import RecordBatch

FRAMES = encap_frames()
OPTIONS = DecodeOptions().with_mirror_vxlan(((4789, 77),))


def test_engines_agree_on_every_encapsulation() -> None:
    engines = ["fast", "scapy"] + (["tshark"] if shutil.which("tshark") else [])
    batch = RecordBatch.from_frames([raw(p) for _, p in FRAMES])
    tables = engine_tables([batch], engines, OPTIONS)
    fast = tables["fast"]
    assert fast["mirror"].notna().sum() >= 16  # the comparison covers peeled mirrors
    assert set(fast["tunnel"].dropna()) >= {"vxlan", "gre", "ip-in-ip", "vxlan-gpe"}
    new = [d.line() for d in compare_tables("generated/encap", tables) if allowed(d) is None]
    assert not new, "\n".join(new[:40])
