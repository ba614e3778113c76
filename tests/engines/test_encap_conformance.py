"""The three engines agree on every mirror transport and other encapsulation (crafted frames),
except for the known differences below (each with its reason)."""

from __future__ import annotations

import shutil

from craft_encap import encap_frames
from scapy.all import raw

from vxlanlens.decode import DecodeOptions
from vxlanlens.engines.conformance import allowed, compare_tables, engine_tables
from vxlanlens.read.records import RecordBatch

FRAMES = encap_frames()
OPTIONS = DecodeOptions().with_mirror_vxlan(((4789, 77),))
KNOWN = {
    "gpe-nsh": "VXLAN-GPE carrying NSH (next protocol 4): tshark 4.0 hands the UDP payload to "
    "NSH directly (frame.protocols udp:nsh, no vxlan_gpe layer), so it shows no tunnel; fast "
    "and scapy decode the GPE header, then NSH",
}


def test_engines_agree_on_every_encapsulation() -> None:
    engines = ["fast", "scapy"] + (["tshark"] if shutil.which("tshark") else [])
    batch = RecordBatch.from_frames([raw(p) for _, p in FRAMES])
    tables = engine_tables([batch], engines, OPTIONS)
    fast = tables["fast"]
    assert fast["mirror"].notna().sum() >= 16  # the comparison covers peeled mirrors
    assert set(fast["tunnel"].dropna()) >= {"vxlan", "geneve", "vxlan-gpe"}
    assert set(fast["ip_tunnel"].dropna()) == {"gre", "ip-in-ip"}
    names = [name for name, _ in FRAMES]
    new = [
        d.line()
        for d in compare_tables("generated/encap", tables)
        if allowed(d) is None and not ("tshark" in d.pair and names[d.frame - 1] in KNOWN)
    ]
    assert not new, "\n".join(new[:40])
