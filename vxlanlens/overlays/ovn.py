"""OVN-based CNIs (OVN-Kubernetes, Kube-OVN): recognised and named, explained less deeply.

Facts (ovn-org/ovn ``OVN_GENEVE_CLASS 0x0102``, type 0x80, documented in ovn-architecture(7)):
Geneve on 6081 whose option of class 0x0102 carries the logical ingress and egress ports;
OVN-Kubernetes creates ``ovn-k8s-mp0`` and the kernel Geneve device ``genev_sys_6081``.
"""

from __future__ import annotations

from ._datapath import Datapath
from ._observe import Observations
from ._profile import Profile, Signal

__all__ = ["OVN", "OVN_GENEVE_CLASS"]

OVN_GENEVE_CLASS = 0x0102


def _rules(obs: Observations) -> list[Signal]:
    n = obs.geneve_classes.get(OVN_GENEVE_CLASS, 0)
    if not n:
        return []
    return [
        Signal(
            "ovn",
            3.0,
            f"{n} Geneve frames carry an option of class 0x0102, OVN's logical-port metadata",
        )
    ]


OVN = Profile(
    name="ovn",
    title="OVN (OVN-Kubernetes / Kube-OVN)",
    tunnel_devices=("genev_sys_6081",),
    host_veth_prefixes=(),
    other_devices=("ovn-k8s-mp0",),
    tunnels=(("geneve", 6081),),
    sources=("ovn-org/ovn: OVN_GENEVE_CLASS 0x0102 (ovn-architecture(7))",),
    datapath=Datapath(
        host_veth="OVS port (pod veth)",
        host_veth_names=(),
        tunnel_devices={"geneve": "genev_sys_6081"},
        tunnel_names=("genev_sys_*",),
        gateway_mac="gateway",
        forwarder="br-int",
        bridge_names=("br-int",),
        send="OVN's logical flows on br-int route the packet and output it to the Geneve "
        "tunnel, the logical ports carried in a Geneve option",
        encap="encapsulated in Geneve by the kernel device OVS uses",
        decap="decapsulated; OVN's flows on br-int pick the logical output port from the option",
        deliver="OVN's flows on br-int deliver the frame to the pod's port",
        local="OVN's flows on br-int forward the frame to the destination pod's port",
        arp_unanswered="OVN answers a pod's ARP for its router by logical flows on br-int, so no "
        "answer means the pod's logical port or its flows are missing",
        ns_unanswered="OVN answers a pod's Neighbor Solicitation for its router by logical flows "
        "on br-int, so no answer means the pod's logical port or its flows are missing",
        unconfirmed=("every hop",),
    ),
    rules=(_rules,),
)
