"""Flannel with its VXLAN backend.

Facts (flannel Documentation/backends.md): on Linux the VNI defaults to 1 and the UDP port to
the kernel's default, 8472; the VTEP device is ``flannel.<VNI>`` (``flannel.1``); pods hang on
the Linux bridge ``cni0``, which holds the node's pod-CIDR gateway; inner frames go from VTEP
MAC to VTEP MAC. flanneld programs, per remote node, a permanent neighbour entry (remote
subnet's .0 → remote VTEP MAC), an FDB entry (VTEP MAC → remote node IP) and an onlink route
(``pkg/backend/vxlan/vxlan_network.go``), so no ARP for a VTEP crosses the wire. The lab's
kernel-made capture (``captures/lab-flannel-ping``, plain kernel devices built as flannel builds
them) confirms the wire facts: VNI 1 on 8472, inner MACs VTEP to VTEP, TTL 64 → 63 in the tunnel
→ 62 at the pod; ``captures/lab-flannel-ipv6-ping`` the IPv6 ones (``flannel-v6.1`` over the
nodes' IPv6 addresses, cni0 answering the pod's NS with flags R,S,O, hop limit 64 → 63 → 62);
not confirmed against a cluster running flanneld itself.
"""

from __future__ import annotations

from ._datapath import Datapath
from ._observe import Observations
from ._profile import Profile, Signal
from ._rules import constant_vni, vtep_inner_macs, vtep_on_port

__all__ = ["FLANNEL"]


def _rules(obs: Observations) -> list[Signal]:
    vni = constant_vni(obs, "flannel", "vxlan", 1, 8472, 1.0)
    out = vni + vtep_inner_macs(obs, "flannel", 0.5)
    if not vni:
        # Flannel's VNI is configurable (flannel.<VNI>): with another VNI, its port (8472 on
        # Linux) still tells it from Calico (4789 by default) and from Cilium (also 8472, but
        # tunnelling the pods' own frames, never VTEP to VTEP)
        out += vtep_on_port(
            obs,
            "flannel",
            8472,
            1.0,
            "Flannel's default on Linux (Calico's is 4789; Cilium, also on 8472, keeps the "
            "pods' own frames inside)",
        )
    return out


FLANNEL = Profile(
    name="flannel",
    title="Flannel (VXLAN backend)",
    tunnel_devices=("flannel.*", "flannel-v6.*"),
    host_veth_prefixes=(),
    other_devices=("cni0",),
    tunnels=(("vxlan", 8472),),
    sources=(
        "flannel Documentation/backends.md (VXLAN: VNI 1, port 8472 on Linux)",
        "flannel pkg/backend/vxlan/vxlan.go and vxlan_network.go (flannel.<VNI>, permanent "
        "neighbour + FDB entries, onlink routes)",
        "flannel Documentation/backends.md: host-gw (routes to subnets via remote machine IPs), "
        "VXLAN DirectRouting (direct routes between hosts of one subnet)",
    ),
    datapath=Datapath(
        inner_macs="vtep",
        host_veth="veth on cni0",
        host_veth_names=("veth*",),
        tunnel_devices={"vxlan": "flannel.{vni}"},
        tunnel_devices6={"vxlan": "flannel-v6.{vni}"},
        tunnel_names=("flannel.*", "flannel-v6.*"),
        gateway_mac="bridge",
        forwarder="cni0",
        bridge_names=("cni0",),
        send="cni0 holds the pod's gateway: the node routes the packet (TTL or hop limit − 1) by "
        "the remote "
        "pod subnet's onlink route to the VTEP",
        encap="the VTEP sends the frame from its own MAC to the remote VTEP's MAC (flanneld's "
        "permanent neighbour entry) and its FDB entry gives the remote node's address: "
        "encapsulated in VXLAN",
        decap="decapsulated; the node routes the packet (TTL or hop limit − 1 again) to cni0, "
        "where the "
        "destination pod's subnet is",
        deliver="the bridge delivers the frame from cni0's MAC to the pod's, through its veth",
        local="cni0 bridges the frame to the destination pod's veth (same subnet, no routing)",
        native="the node routes the packet (TTL or hop limit − 1) by the other node's subnet "
        "route via that node's own address on its NIC (the host-gw backend, or the VXLAN "
        "backend's DirectRouting between nodes of one subnet): the pod's packet itself, no tunnel",
        native_deliver="the node routes it (TTL or hop limit − 1 again) to cni0, which delivers "
        "it to the destination pod's veth",
        gateway_answer="the kernel answers for cni0's address (the pod's gateway)",
        arp_unanswered="a pod's gateway is cni0's own address, answered by the node's kernel, so "
        "no answer means cni0 lacks the address or is down, or the pod's veth is not on cni0",
        ns_unanswered="a pod's IPv6 gateway is cni0's own address (the subnet's ::1), answered by "
        "the node's kernel, so no answer means cni0 lacks the address or is down, or the pod's "
        "veth is not on cni0",
        unconfirmed=(
            "the host-gw backend and DirectRouting (routes via the other node's address, no "
            "tunnel)",
            "the CNI bridge plugin's veth names (veth<random>) and the gateway on cni0 are "
            "assumed from its defaults, not read in its source",
        ),
    ),
    rules=(_rules,),
)
