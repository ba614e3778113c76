"""The datapath paths are drawn with when no overlay is recognised and the frames rule Cilium
out (the product's default model otherwise): every hop in no CNI's words.

Chosen only on evidence against Cilium (:func:`cilium_ruled_out`): inner frames routed into the
tunnel (inner TTL one below its initial value) without per-sender inner MACs, whether or not the
replies carry the requests' inner MACs swapped (VTEP MAC to VTEP MAC). Cilium's tunnel keeps
the pod's own frame inside (the pod's MAC to its lxc veth's, hop limit untouched until
delivery): no capture of Cilium's the lab made shows a routed inner frame.

An ARP or Neighbor Discovery exchange carried inside the tunnel (without per-sender inner MACs)
rules Cilium out too, for another datapath: hosts of one L2 segment stretched over the tunnel
(a VXLAN LAN extension, Weave, an OVN logical switch spanning nodes), whose frames are bridged
into the tunnel as they were sent. Cilium's eBPF program answers a pod's ARP and NS on the pod's
own veth (bpf_lxc.c ``tail_handle_arp``, lib/icmp6.h), so neither ever enters its tunnel.
Such captures are drawn with :data:`NEUTRAL_BRIDGED`.
"""

from __future__ import annotations

from ._datapath import Datapath
from ._observe import Observations
from ._profile import Profile

__all__ = ["NEUTRAL", "NEUTRAL_BRIDGED", "bridged", "cilium_ruled_out"]


def bridged(obs: Observations) -> bool:
    """Whether ARP or Neighbor Discovery crossed the tunnel, with no per-sender inner MACs
    (Cilium's pod frames) against it: one L2 segment stretched over the tunnel."""
    return bool(obs.l2_across) and not obs.per_sender_inner_macs


def cilium_ruled_out(obs: Observations) -> str | None:
    """Why the frames cannot be Cilium's tunnel (None when nothing says so)."""
    if bridged(obs):
        return (
            f"ARP or Neighbor Discovery carried inside the tunnel ({obs.l2_across[0]}): hosts of "
            "one L2 segment stretched over it; Cilium answers a pod's ARP and NS on the pod's "
            "own veth, so neither enters its tunnel"
        )
    if not obs.routed_inner or obs.per_sender_inner_macs:
        return None
    if obs.swapped_inner_macs:
        return (
            "inner frames routed into the tunnel and sent VTEP MAC to VTEP MAC "
            f"({obs.routed_inner[0]}, {obs.swapped_inner_macs[0]}); Cilium's tunnel carries the "
            "pod's own frame"
        )
    return (
        "inner frames routed into the tunnel (inner TTL one below its initial value, "
        f"{obs.routed_inner[0]}); Cilium's tunnel carries the pod's own frame, its TTL lowered "
        "only at delivery"
    )


NEUTRAL = Profile(
    name="none",
    title="no recognised overlay",
    tunnel_devices=(),
    host_veth_prefixes=(),
    other_devices=(),
    tunnels=(),
    sources=(),
    datapath=Datapath(
        inner_macs="vtep",
        host_veth="veth",
        host_veth_names=(),
        tunnel_devices={"vxlan": "VXLAN device", "geneve": "Geneve device"},
        tunnel_names=(),
        forwarder=None,
        send="the node routes the packet (TTL or hop limit − 1) into its tunnel device, which "
        "sends it from its VTEP MAC to the remote VTEP's MAC: encapsulated",
        decap="decapsulated; the node routes the packet (TTL or hop limit − 1 again) to the "
        "destination pod",
        local="the node delivers the packet to the destination pod without a tunnel",
        native="the node routes the packet (TTL or hop limit − 1) out of its NIC, to the other "
        "node or to a router that knows the pod addresses: the pod's packet itself, no tunnel "
        "(native routing)",
        native_deliver="the node routes it on to the destination pod's veth",
        arp_unanswered="no host on the requester's link answered for that address (it is not "
        "configured there, or the host holding it is down)",
    ),
)
"""The neutral profile (not one of :data:`~vxlanlens.overlays.PROFILES`: never recognised)."""


NEUTRAL_BRIDGED = Profile(
    name="none",
    title="no recognised overlay (an L2 segment stretched over the tunnel)",
    tunnel_devices=(),
    host_veth_prefixes=(),
    other_devices=(),
    tunnels=(),
    sources=(),
    datapath=Datapath(
        inner_macs="pod",
        host_veth="veth",
        host_veth_names=(),
        tunnel_devices={"vxlan": "VXLAN device", "geneve": "Geneve device"},
        tunnel_names=(),
        forwarder="bridge",
        gateway_mac="gateway",
        send="the bridge forwards the frame as it was sent (no routing: MACs and TTL unchanged) "
        "to the tunnel device, behind which it learned or was told the destination MAC",
        encap="the tunnel device encapsulates the host's frame unchanged",
        decap="decapsulated: the host's frame as it was sent, handed to the bridge",
        deliver="the bridge forwards the frame to the destination host's port",
        local="the bridge forwards the frame to the destination host's port, without a tunnel",
        arp_unanswered="no host of the stretched L2 segment answered for that address (it is "
        "not configured there or the host is down), or the request was not flooded across the "
        "tunnel to it (the VTEPs' flood list or FDB)",
        ns_unanswered="no host of the stretched L2 segment answered for that address, or the "
        "solicitation was not flooded across the tunnel to it (the VTEPs' flood list or FDB)",
    ),
)
"""The neutral profile of an L2 segment stretched over the tunnel (hosts' frames bridged into
it unchanged); chosen, like :data:`NEUTRAL`, only on evidence against Cilium."""
