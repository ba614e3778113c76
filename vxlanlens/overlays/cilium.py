"""Cilium in tunnel mode (VXLAN on 8472, or Geneve on 6081).

Facts (see ``../shared/domain/cilium-datapath.md`` and docs/overlays/cilium.md): devices
``cilium_host``, ``cilium_net``, ``cilium_vxlan`` / ``cilium_geneve``; host-side veths ``lxc*``;
the VNI is the sender's security identity (so request and reply differ unless both pods share
one); the pod's frame crosses the tunnel unchanged (inner MACs = the sending pod's eth0 and its
lxc veth); the pod's gateway is answered by eBPF on the lxc veth (NA flags R,S without O).
"""

from __future__ import annotations

from ._datapath import Datapath
from ._observe import Observations
from ._profile import Profile, Signal

__all__ = ["CILIUM"]


def _rules(obs: Observations) -> list[Signal]:
    out: list[Signal] = []
    if obs.labelled_identities:
        out.append(
            Signal("cilium", 2.0, f"the dumps list {obs.labelled_identities} Cilium identities")
        )
    if obs.rs_gateway_answers:
        out.append(
            Signal(
                "cilium",
                1.0,
                "a pod's gateway was answered with flags R and S but not O, as Cilium's eBPF answers",
                tuple(obs.rs_gateway_answers),
            )
        )
    if obs.vni_differs:
        out.append(
            Signal(
                "cilium",
                1.0,
                "requests and replies travel with different VNIs (per-sender security identities)",
                tuple(obs.vni_differs),
            )
        )
    if obs.per_sender_inner_macs and not obs.swapped_inner_macs:
        out.append(
            Signal(
                "cilium",
                1.0,
                "each tunnel direction carries its own sender's inner MACs (the pod frame unchanged)",
                tuple(obs.per_sender_inner_macs),
            )
        )
    return out


CILIUM = Profile(
    name="cilium",
    title="Cilium",
    tunnel_devices=("cilium_vxlan", "cilium_geneve"),
    host_veth_prefixes=("lxc",),
    other_devices=("cilium_host", "cilium_net"),
    tunnels=(("vxlan", 8472), ("geneve", 6081)),
    sources=("Cilium documentation and source (../shared/domain/cilium-datapath.md)",),
    datapath=Datapath(
        host_veth="lxc veth",
        host_veth_names=("lxc*",),
        tunnel_devices={"vxlan": "cilium_vxlan", "geneve": "cilium_geneve"},
        tunnel_names=("cilium_vxlan", "cilium_geneve"),
        forwarder="eBPF",
        gateway_names=("cilium_host", "cilium_net"),
        send="Cilium's program looks up the destination's node and redirects the frame to the "
        "tunnel device, Ethernet header unchanged",
        decap="Cilium delivers to the destination pod's lxc veth, rewriting the MACs to lxc → "
        "pod and decrementing the hop limit once",
        local="Cilium delivers locally: redirect to the destination pod's lxc veth, no tunnel",
        vni_identity=True,
    ),
    rules=(_rules,),
)
