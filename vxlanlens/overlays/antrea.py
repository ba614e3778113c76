"""Antrea with Geneve encapsulation (its default).

Facts (antrea-io/antrea pkg/agent/openflow: ``GlobalVirtualMAC = aa:bb:cc:dd:ee:ff``): the OVS
bridge ``br-int`` with tunnel port ``antrea-tun0`` and gateway ``antrea-gw0``; Geneve on UDP
6081 with VNI 0; frames sent to a pod on another node are addressed to the global virtual MAC
``aa:bb:cc:dd:ee:ff`` inside the tunnel. Not yet confirmed by a kernel-made capture of the
project's lab.
"""

from __future__ import annotations

from ._datapath import Datapath
from ._observe import Observations
from ._profile import Profile, Signal

__all__ = ["ANTREA", "ANTREA_VIRTUAL_MAC"]

ANTREA_VIRTUAL_MAC = "aa:bb:cc:dd:ee:ff"


def _rules(obs: Observations) -> list[Signal]:
    out: list[Signal] = []
    if ANTREA_VIRTUAL_MAC in obs.inner_dst_macs:
        out.append(
            Signal(
                "antrea",
                3.0,
                f"tunnelled frames are addressed to {ANTREA_VIRTUAL_MAC}, Antrea's global virtual MAC",
                (obs.inner_dst_macs[ANTREA_VIRTUAL_MAC],),
            )
        )
    geneve = {k: n for k, n in obs.vnis.items() if k[0] == "geneve"}
    if geneve and {k[2] for k in geneve} == {0} and not obs.geneve_classes:
        out.append(Signal("antrea", 0.5, "Geneve with VNI 0 and no options, as Antrea sends"))
    return out


ANTREA = Profile(
    name="antrea",
    title="Antrea (Geneve)",
    tunnel_devices=("antrea-tun0",),
    host_veth_prefixes=(),
    other_devices=("antrea-gw0", "antrea-egress0"),
    tunnels=(("geneve", 6081),),
    sources=("antrea-io/antrea source: GlobalVirtualMAC, antrea-gw0, antrea-tun0",),
    datapath=Datapath(
        inner_macs="virtual",
        host_veth="OVS port (pod veth)",
        host_veth_names=(),
        tunnel_devices={"geneve": "antrea-tun0", "vxlan": "antrea-tun0"},
        tunnel_names=("antrea-tun0", "genev_sys_*", "vxlan_sys_*"),
        gateway_mac="gateway",
        forwarder="br-int",
        bridge_names=("br-int", "ovs-system"),
        gateway_names=("antrea-gw0",),
        send="OVS flows on br-int route the packet (TTL − 1), address it to the global virtual "
        f"MAC {ANTREA_VIRTUAL_MAC} and output it to the tunnel port with the remote node as "
        "tunnel destination",
        encap="encapsulated in Geneve (VNI 0) by the OVS tunnel port",
        decap="decapsulated by the OVS tunnel port",
        deliver="OVS flows on br-int rewrite the MACs to the gateway's → the pod's and output the "
        "frame to the pod's port",
        local="OVS flows on br-int forward the frame to the destination pod's port",
        gateway_answer="OVS answers ARP for the gateway (antrea-gw0) by flows on br-int",
        arp_unanswered="Antrea answers a pod's ARP by OVS flows on br-int (the gateway is "
        "antrea-gw0), so no answer means the pod's OVS port or its flows are missing",
        unconfirmed=(
            "every hop (OVS cannot run in the project's lab, and the public Antrea captures "
            "hold no tunnelled frame)",
        ),
    ),
    rules=(_rules,),
)
