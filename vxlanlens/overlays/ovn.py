"""OVN-based CNIs (OVN-Kubernetes, Kube-OVN): recognised and named, explained less deeply.

Facts (ovn-org/ovn ``controller/physical.h``: ``OVN_GENEVE_CLASS 0x0102``, ``OVN_GENEVE_TYPE
0x80``, ``OVN_GENEVE_LEN 4``, documented in ovn-architecture(7)): Geneve on 6081 whose VNI is
the 24-bit logical datapath key and whose option of class 0x0102 carries the logical ingress
(15 bits) and egress (16 bits) ports; OVN tags every tunnelled packet with it. OVN-Kubernetes
creates ``ovn-k8s-mp0`` and OVS the kernel Geneve device ``genev_sys_6081``. The lab's
kernel-made capture (``captures/lab-ovn-geneve-ping``: a kernel bridge and eBPF standing for
OVS and OVN's flows, OVN-Kubernetes' classic topology) confirms the wire: the option in every
frame, the VNI the destination switch's datapath key (so request and reply differ), inner MACs
the destination switch's router port → the pod, TTL 64 → 63 once.

The decoder reads the option's ports into ``ovn_inport`` / ``ovn_outport``; paths say them after
the VNI (:attr:`Datapath.logical_ports`), and the MACs of OVN's logical router ports, which no
kernel interface holds, are named as such (:attr:`Datapath.router_port`, :mod:`._routers`).
"""

from __future__ import annotations

from ..decode.tunnel import OVN_GENEVE_CLASS
from ._datapath import Datapath
from ._observe import Observations
from ._profile import Profile, Signal

__all__ = ["OVN", "OVN_GENEVE_CLASS"]


def _rules(obs: Observations) -> list[Signal]:
    n = obs.geneve_classes.get(OVN_GENEVE_CLASS, 0)
    if not n:
        return []
    geneve = {k: c for k, c in obs.vnis.items() if k[0] == "geneve"}
    vnis = sorted({k[2] for k in geneve if k[2] >= 0})
    shown = ", ".join(map(str, vnis[:6])) + (", ..." if len(vnis) > 6 else "")
    out = [
        Signal(
            "ovn",
            3.0,
            f"{n} Geneve frames carry an option of class 0x0102, OVN's logical-port metadata "
            f"(VNI {shown}: OVN logical datapath keys)",
        )
    ]
    total = sum(geneve.values())
    if total and n >= total:
        out.append(
            Signal(
                "ovn",
                2.0,
                "every Geneve frame carries it, as OVN tags each tunnelled packet with its "
                "logical ingress and egress ports",
            )
        )
    return out


OVN = Profile(
    name="ovn",
    title="OVN (OVN-Kubernetes / Kube-OVN)",
    tunnel_devices=("genev_sys_6081",),
    host_veth_prefixes=(),
    other_devices=("ovn-k8s-mp0",),
    tunnels=(("geneve", 6081),),
    sources=(
        "ovn-org/ovn controller/physical.h: OVN_GENEVE_CLASS 0x0102, type 0x80, length 4 "
        "(ovn-architecture(7): VNI = logical datapath key; option = 15-bit ingress and 16-bit "
        "egress logical ports)",
    ),
    datapath=Datapath(
        host_veth="OVS port (pod veth)",
        host_veth_names=(),
        tunnel_devices={"geneve": "genev_sys_6081"},
        tunnel_names=("genev_sys_*",),
        gateway_mac="gateway",
        inner_macs="router",
        router_port="OVN logical router port",
        logical_ports=True,
        forwarder="br-int",
        bridge_names=("br-int",),
        send="OVN's logical flows on br-int route the packet (the distributed logical router: "
        "TTL − 1) into the destination node's logical switch, which addresses it from its "
        "router port's MAC to the pod's, and output it to the Geneve tunnel with that switch's "
        "datapath key as VNI and the logical ports in OVN's option",
        encap="encapsulated in Geneve by the kernel device OVS uses",
        decap="decapsulated; OVN's flows on br-int pick the logical output port from the option",
        deliver="OVN's flows on br-int deliver the frame to the pod's port (no TTL change: "
        "the routing happened on the sending node)",
        local="OVN's flows on br-int forward the frame to the destination pod's port",
        gateway_answer="OVN's logical flows answer for the logical router port's address "
        "with the router port's MAC (no kernel interface holds it)",
        arp_unanswered="OVN answers a pod's ARP for its router by logical flows on br-int, so no "
        "answer means the pod's logical port or its flows are missing",
        ns_unanswered="OVN answers a pod's Neighbor Solicitation for its router by logical flows "
        "on br-int, so no answer means the pod's logical port or its flows are missing",
        unconfirmed=(
            "the OVS hops (br-int flows, genev_sys_6081): the lab's OVN scenario reproduces "
            "their wire output with a kernel bridge and eBPF, as OVS cannot run there",
            "OVN-Kubernetes' interconnect mode (per-node routers and a transit switch)",
        ),
    ),
    rules=(_rules,),
)
