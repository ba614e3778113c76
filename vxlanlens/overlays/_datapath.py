"""How a pod's packet crosses an overlay, by role: what each hop of a path is called and does.

A path is built from roles, not from a CNI's names: the pod's interface, the host side of its
veth, what forwards the frame on the node (an eBPF program, a Linux or OVS bridge, or the node's
own routing), the tunnel device (VTEP), the node's underlay interface. Each profile gives a
:class:`Datapath` that names these roles and says what happens at each; the path code asks it
and never names a CNI itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ROLES", "Datapath"]

ROLES = (
    "pod-interface",
    "host-veth",
    "bridge",
    "tunnel",
    "gateway",
    "underlay",
)
"""Roles of a node's interfaces that :meth:`Datapath.role` tells apart."""


def _int(value: object) -> int | None:
    """``value`` as an int; ``None`` for a missing or null value (None, NaN, pandas' NA)."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any((p.endswith("*") and name.startswith(p[:-1])) or name == p for p in patterns if p)


@dataclass(frozen=True)
class Datapath:
    """One overlay's datapath, by role (every text is a sentence fragment for a path's hop)."""

    host_veth: str
    """What the host side of a pod's veth is called when no dump names it (``lxc veth``)."""
    host_veth_names: tuple[str, ...]
    """Name patterns of host-side veths (``lxc*``; ``*`` ends a prefix)."""
    tunnel_devices: dict[str, str]
    """Tunnel protocol → the device's usual name when no dump names the node's own
    (``{vni}`` stands for the VNI seen)."""
    tunnel_names: tuple[str, ...]
    """Name patterns of tunnel devices (VTEPs)."""
    forwarder: str | None
    """What forwards the frame between the host veth and the tunnel device: ``eBPF`` (a program
    on the veth hands it to the tunnel device: one hop), a bridge's name (``cni0``, ``br-int``:
    a hop of its own), or ``None`` (the node's routing, said on the tunnel hop)."""
    bridge_names: tuple[str, ...] = ()
    """Name patterns of bridges the pod's frames cross."""
    gateway_names: tuple[str, ...] = ()
    """Name patterns of devices holding the pods' gateway address (``cilium_host``)."""
    send: str = ""
    """What the forwarder (or, without one, the node) does with a frame for another node."""
    encap: str = ""
    """What the sending node's tunnel device does (when it is a hop of its own)."""
    decap: str = ""
    """What happens on the receiving node once the tunnel device decapsulated the frame."""
    deliver: str = ""
    """What the receiving node's forwarder does (when it is a hop of its own)."""
    local: str = ""
    """How a frame for a pod on the same node is delivered."""
    native: str = ""
    """What the sending node does with a packet for a pod on another node that it routes without
    any tunnel (Calico's CrossSubnet mode, Cilium's native routing, Flannel's host-gw, Antrea's
    noEncap); empty when the overlay tunnels every packet between nodes (the path then always
    crosses a tunnel device)."""
    native_deliver: str = ""
    """What the receiving node does with such a packet (empty: :attr:`local`)."""
    gateway_answer: str = ""
    """Who answers a pod's ARP / NS for its gateway, said after the answer (may be empty)."""
    arp_unanswered: str = ""
    """Why an ARP request of a pod may go unanswered on this datapath (what to check)."""
    ns_unanswered: str = ""
    """Why a pod's Neighbor Solicitation for its IPv6 router (gateway) may go unanswered on this
    datapath (what to check)."""
    inner_macs: str = "pod"
    """Which MACs the inner frame of a tunnelled packet carries: ``pod`` (the pods' or their
    veths': Cilium), ``vtep`` (routed into the VTEP: from the sending VTEP's MAC to the
    receiving VTEP's, as the sender's neighbour and FDB entries say: Flannel, Calico),
    ``virtual`` (a fixed virtual MAC: Antrea) or ``router`` (routed on the sending node: from
    the destination subnet's router port MAC to the destination pod's MAC: OVN)."""
    gateway_mac: str = "host-veth"
    """Whose MAC answers a pod's ARP / NS for its gateway: ``host-veth`` (the pod's own
    host-side veth: Cilium's eBPF program, Calico's proxy ARP), ``bridge`` (the bridge holding
    the gateway address, on every port: Flannel's cni0) or ``gateway`` (a gateway device shared
    by the node's pods: Antrea's antrea-gw0, OVN's router port)."""
    virtual_mac: str | None = None
    """A MAC no interface has, which the overlay writes into frames (Antrea's global virtual
    MAC, the inner destination of every inter-node frame)."""
    virtual_mac_name: str = ""
    """How that MAC is named in paths and findings."""
    router_port: str = ""
    """How a logical router port is named: a MAC that answers the pods' ARP / NS for their
    gateway and routes their packets, which no interface of a node holds (OVN's logical flows
    answer with it and write it into the frames they route), so no node dump can name it;
    empty on datapaths whose gateway MAC is an interface's. See :mod:`._routers`."""
    logical_ports: bool = False
    """Whether tunnelled frames carry a logical datapath key in the VNI and logical ingress /
    egress port keys in a Geneve option (OVN: ``ovn_inport`` / ``ovn_outport``)."""
    shared_host_mac: str | None = None
    """A MAC every host-side veth carries (Calico's), so it names no single pod."""
    tunnel_devices6: dict[str, str] = field(default_factory=dict)
    """Tunnel protocol → the usual name of the device that carries the pods' IPv6 traffic over
    the nodes' IPv6 addresses, where the overlay has one of its own (Flannel's
    ``flannel-v6.{vni}``, Calico's ``vxlan-v6.calico``)."""
    vni_identity: bool = False
    """Whether the VNI carries the sender's security identity (Cilium) rather than naming the
    network (every other overlay: one VNI for all, or a logical datapath)."""
    unconfirmed: tuple[str, ...] = field(default_factory=tuple)
    """Facts of this datapath no kernel-made capture of the project confirmed."""

    @property
    def forwarder_device(self) -> str | None:
        """The forwarder's interface name: None for an eBPF program, for the node's routing and
        for a bridge the overlay gives no name (the word ``bridge``)."""
        return None if self.forwarder in (None, "eBPF", "bridge") else self.forwarder

    @property
    def merged(self) -> bool:
        """Whether the forwarder hands the frame straight to the tunnel device (one hop)."""
        return self.forwarder == "eBPF"

    def role(self, name: str | None, kind: str | None = None) -> str | None:
        """The role of a node's interface called ``name`` (of topology kind ``kind``):
        ``host-veth``, ``bridge``, ``tunnel``, ``gateway``, ``underlay`` or ``None``."""
        if kind in ("cilium_vxlan", "cilium_geneve"):
            return "tunnel"
        if kind == "underlay":
            return "underlay"
        if name:
            if _matches(name, self.tunnel_names):
                return "tunnel"
            if _matches(name, self.bridge_names):
                return "bridge"
            if _matches(name, self.gateway_names):
                return "gateway"
            if _matches(name, self.host_veth_names):
                return "host-veth"
        if kind == "lxc":
            return "host-veth"
        if kind in ("cilium_host", "cilium_net"):
            return "gateway"
        return None

    def tunnel_note(self, frame: Mapping[str, Any]) -> str:
        """Words said after a tunnelled frame's VNI on this datapath (``frame``: its row of the
        packets table): what the VNI and OVN's logical ports are; ``""`` when the datapath
        carries none."""
        if not self.logical_ports:
            return ""
        vni, inport, outport = (_int(frame.get(c)) for c in ("vni", "ovn_inport", "ovn_outport"))
        if vni is None:
            return ""
        ports = (
            f", logical ingress port key {inport} → egress port key {outport}"
            if inport is not None and outport is not None
            else ""
        )
        return f" (OVN logical datapath key {vni}{ports})"

    def ns_reason(self, router: bool) -> str:
        """Why a Neighbor Solicitation went unanswered, on this datapath: for the pod's router
        (``router``) what answers it and what to check, else that nothing on the link has it."""
        if router and self.ns_unanswered:
            return self.ns_unanswered
        return (
            "no interface on the requester's link answered for that address (it is not "
            "configured there, or the interface holding it is down)"
        )

    def tunnel_protocol(self, name: str) -> str | None:
        """The protocol (``vxlan`` / ``geneve``) of a tunnel device called ``name``, when its
        usual name says it."""
        for devices in (self.tunnel_devices, self.tunnel_devices6):
            for protocol, device in devices.items():
                if _matches(name, (device.replace("{vni}", "*"),)):
                    return protocol
        return None

    def tunnel_device(
        self, protocol: str | None, vni: int | None = None, *, ipv6: bool = False
    ) -> str | None:
        """The usual tunnel device for ``protocol`` (``flannel.{vni}`` filled with ``vni``);
        ``ipv6``: over an IPv6 underlay (the overlay's IPv6 device when it has one)."""
        devices = (
            self.tunnel_devices6
            if ipv6 and protocol in self.tunnel_devices6
            else self.tunnel_devices
        )
        if protocol is None or protocol not in devices:
            return None
        return devices[protocol].replace("{vni}", str(vni) if vni is not None else "<VNI>")
