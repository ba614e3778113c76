"""OVN's logical router ports found on the wire (vxlanlens.overlays.router_ports) and the words a
datapath says after a tunnelled frame's VNI (Datapath.tunnel_note), on hand-made tables."""

from __future__ import annotations

import pandas as pd
import pytest

from vxlanlens.overlays import profile, router_ports
from vxlanlens.schema import COLUMNS

POD_A, POD_B, ROUTER, UNDERLAY_GW = (
    "0a:00:00:00:01:05",
    "0a:00:00:00:02:07",
    "0a:00:00:00:02:01",
    "02:00:00:00:00:fe",
)


def _table(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A packets table of ``rows`` (every schema column; those not given are null)."""
    data = {c.name: [r.get(c.name) for r in rows] for c in COLUMNS}
    df = pd.DataFrame(data)
    for c in COLUMNS:
        if c.kind == "int":
            df[c.name] = df[c.name].astype(c.dtype)
    return df


def _frames() -> list[dict[str, object]]:
    n = iter(range(1, 100))
    return [
        # a tunnelled frame with OVN's option: inner source is the destination's router port
        {"capture": "c", "frame_no": next(n), "tunnel": "geneve", "vni": 5, "ovn_inport": 1,
         "ovn_outport": 3, "src_mac": ROUTER, "dst_mac": POD_B, "src_ip": "10.0.1.5",
         "dst_ip": "10.0.2.7"},
        # the router port answers pod B's ARP for its gateway
        {"capture": "c", "frame_no": next(n), "arp_op": 1, "arp_sender_mac": POD_B,
         "arp_sender_ip": "10.0.2.7", "src_mac": POD_B},
        {"capture": "c", "frame_no": next(n), "arp_op": 2, "arp_sender_mac": ROUTER,
         "arp_sender_ip": "10.0.2.1", "src_mac": ROUTER, "dst_mac": POD_B},
        # pod B answers with its own address only: not a router
        {"capture": "c", "frame_no": next(n), "src_mac": POD_B, "dst_mac": ROUTER,
         "src_ip": "10.0.2.7", "dst_ip": "10.0.1.5"},
        # a node's underlay gateway: claims an address and forwards others', outside the overlay
        {"capture": "c", "frame_no": next(n), "arp_op": 2, "arp_sender_mac": UNDERLAY_GW,
         "arp_sender_ip": "172.18.0.1", "src_mac": UNDERLAY_GW, "dst_mac": "02:00:00:00:00:04"},
        {"capture": "c", "frame_no": next(n), "src_mac": UNDERLAY_GW,
         "dst_mac": "02:00:00:00:00:04", "src_ip": "8.8.8.8", "dst_ip": "172.18.0.4"},
    ]  # fmt: skip


def test_router_port_is_found_with_its_address_and_frames() -> None:
    found = router_ports(_table(_frames()), profile("ovn").datapath)
    assert list(found) == [ROUTER]
    assert found[ROUTER].ips == ["10.0.2.1"]
    assert found[ROUTER].frames == [("c", 3), ("c", 1)]


def test_only_on_a_datapath_with_router_ports() -> None:
    for cni in ("cilium", "flannel", "calico", "antrea"):
        assert router_ports(_table(_frames()), profile(cni).datapath) == {}


def test_no_router_without_ovn_tunnels_or_a_claimed_address() -> None:
    frames = _frames()
    plain = [{**f, "ovn_inport": None, "ovn_outport": None} for f in frames]
    assert router_ports(_table(plain), profile("ovn").datapath) == {}
    # the router port's ARP answer not captured: it claims no address, so it is not named
    unclaimed = [f for f in frames if f.get("arp_sender_mac") != ROUTER]
    assert router_ports(_table(unclaimed), profile("ovn").datapath) == {}


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        ({"vni": 5, "ovn_inport": 1, "ovn_outport": 3},
         " (OVN logical datapath key 5, logical ingress port key 1 → egress port key 3)"),
        ({"vni": 5, "ovn_inport": pd.NA, "ovn_outport": pd.NA}, " (OVN logical datapath key 5)"),
        ({"vni": pd.NA}, ""),
    ],
)  # fmt: skip
def test_tunnel_note(frame: dict[str, object], words: str) -> None:
    assert profile("ovn").datapath.tunnel_note(frame) == words
    assert profile("cilium").datapath.tunnel_note(frame) == ""
