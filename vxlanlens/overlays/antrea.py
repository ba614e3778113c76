"""Antrea with Geneve encapsulation (its default).

Facts (antrea-io/antrea ``pkg/agent/openflow/pipeline.go``: ``GlobalVirtualMAC =
aa:bb:cc:dd:ee:ff``; ``l3FwdFlowToRemoteViaTun`` sets the source MAC to the local gateway's, the
destination MAC to the global virtual MAC and the tunnel destination, then decrements the TTL):
the OVS bridge ``br-int`` with tunnel port ``antrea-tun0`` and gateway ``antrea-gw0`` (the pod
CIDR's .1); Geneve on UDP 6081 with VNI 0. The lab's ``captures/lab-antrea-geneve-ping`` (kernel
bridge and eBPF standing for OVS, which cannot run in the lab) confirms the wire: Geneve VNI 0 on
6081, inner antrea-gw0 MAC → aa:bb:cc:dd:ee:ff, TTL 64 → 63 → 62; the devices are stand-ins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._datapath import Datapath
from ._observe import Observations
from ._profile import Profile, Signal

__all__ = ["ANTREA", "ANTREA_VIRTUAL_MAC", "PACKETCAPTURE_ONE_WAY", "written_by_packetcapture"]

ANTREA_VIRTUAL_MAC = "aa:bb:cc:dd:ee:ff"

PACKETCAPTURE_ONE_WAY = (
    "written as Antrea's PacketCapture writes its files, which hold only the packets its spec "
    "selects: one direction unless `direction: Both` (the default is SourceToDestination), "
    "and possibly only some TCP flags or ICMP messages"
)
"""Why a file of Antrea's PacketCapture may lack the answers (antrea-io/antrea
``docs/packetcapture-guide.md``: "Available options for direction: `SourceToDestination`
(default), `DestinationToSource` or `Both`", TCP flag and ICMP message matchers;
``pkg/agent/packetcapture/capture/bpf.go`` compiles the filter for the chosen direction)."""


def written_by_packetcapture(capture: Mapping[str, Any]) -> bool:
    """Whether a capture file was written the way antrea-agent's PacketCapture controller
    writes its pcapng files (antrea-io/antrea ``pkg/agent/packetcapture/
    packetcapture_controller.go``: gopacket's ``pcapgo`` writer with its default section
    header, whose application is ``gopacket``, and its default interface ``intf0`` with the
    controller's snap length 65536 and Ethernet frames). Another program using gopacket the same
    way would match: it is a hint, not proof."""
    ifaces = list(capture.get("interfaces") or ())
    return (
        capture.get("application") == "gopacket"
        and len(ifaces) == 1
        and ifaces[0].get("name") == "intf0"
        and ifaces[0].get("snaplen") == 65536
        and ifaces[0].get("linktype") == 1
    )


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
    written = sorted(c for c, f in obs.capture_files.items() if written_by_packetcapture(f))
    if written:
        out.append(
            Signal(
                "antrea",
                2.0,
                f"{', '.join(written[:3])} {'was' if len(written) == 1 else 'were'} written as "
                "Antrea's PacketCapture writes its files (pcapng from gopacket, one Ethernet "
                "interface `intf0` with snap length 65536)",
                tuple(f"{c}#1" for c in written[:3]),
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
    sources=(
        "antrea-io/antrea docs/noencap-hybrid-modes.md: noEncap and hybrid traffic modes",
        "antrea-io/antrea pkg/agent/openflow/pipeline.go: GlobalVirtualMAC, "
        "l3FwdFlowToRemoteViaTun (source MAC := local gateway's, destination := virtual MAC)",
    ),
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
        native="in noEncap mode (or hybrid, between nodes of one subnet) OVS flows send the "
        "packet to antrea-gw0 and the node's kernel routes it (TTL or hop limit − 1) out of its "
        "NIC to the other node: the pod's packet itself, no tunnel",
        native_deliver="the node routes it to antrea-gw0 and OVS flows on br-int deliver it to "
        "the destination pod's port",
        gateway_answer="antrea-gw0, the OVS internal port holding the pod CIDR's .1, answers "
        "in the node's kernel (OVS forwards the ARP to it)",
        arp_unanswered="a pod's gateway is antrea-gw0's address, answered by the node's kernel "
        "once OVS forwards the ARP to it, so no answer means antrea-gw0 lacks the address or is "
        "down, or the pod's OVS port or its flows are missing",
        ns_unanswered="a pod's IPv6 gateway is antrea-gw0's address, answered by the node's "
        "kernel once OVS forwards the solicitation to it, so no answer means antrea-gw0 lacks "
        "the address or is down, or the pod's OVS port or its flows are missing",
        virtual_mac=ANTREA_VIRTUAL_MAC,
        virtual_mac_name="Antrea's global virtual MAC",
        unconfirmed=(
            "the OVS hops (br-int flows, antrea-tun0): the lab's Antrea scenario reproduces "
            "their wire output with a kernel bridge and eBPF, as OVS cannot run there",
        ),
    ),
    rules=(_rules,),
)
