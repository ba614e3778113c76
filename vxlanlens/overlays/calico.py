"""Calico in VXLAN mode.

Facts (Calico documentation; FelixConfiguration defaults ``vxlanVNI`` 4096, ``vxlanPort``
4789): device ``vxlan.calico`` (IPv6 ``vxlan-v6.calico``); host-side veths ``cali*`` all carry
MAC ``ee:ee:ee:ee:ee:ee``; pods route ``default via 169.254.1.1`` and the host answers ARP for it
by proxy ARP on the cali veth; inner frames go from VTEP MAC to VTEP MAC. The lab's kernel-made
capture (``captures/lab-calico-ping``, plain kernel devices built as Calico's CNI plugin and
Felix build them) confirms: VNI 4096 on 4789, ARP for 169.254.1.1 answered with
ee:ee:ee:ee:ee:ee by proxy ARP, inner MACs VTEP to VTEP, TTL 64 → 63 → 62; not confirmed against
a cluster running Felix itself. ``captures/lab-calico-ipv6-ping`` confirms IPv6:
``vxlan-v6.calico`` over the nodes' IPv6 addresses, the pod's NS for the cali veth's link-local
address fe80::ecee:eeff:feee:eeee answered with ee:ee:ee:ee:ee:ee (flags R,S,O), hop limit
64 → 63 → 62. ``captures/lab-calico-crosssubnet`` confirms CrossSubnet mode (IPPool
``vxlanMode: CrossSubnet``; Felix's ``vxlan_mgr.go`` routes a same-subnet node's block via the
node's IP on the VTEP's parent interface, the others via ``vxlan.calico``): between nodes of one
subnet the pod's packet crosses the underlay unencapsulated, from node eth0 MAC to node eth0 MAC,
TTL 64 → 63 → 62 (``Datapath.native``).
"""

from __future__ import annotations

from ._datapath import Datapath
from ._observe import Observations
from ._profile import Profile, Signal
from ._rules import constant_vni, vtep_inner_macs

__all__ = ["CALICO", "CALICO_GATEWAY", "CALICO_VETH_LL", "CALICO_VETH_MAC"]

CALICO_VETH_MAC = "ee:ee:ee:ee:ee:ee"
CALICO_GATEWAY = "169.254.1.1"
CALICO_VETH_LL = "fe80::ecee:eeff:feee:eeee"
"""The IPv6 link-local address of every cali veth (EUI-64 of its MAC): a Calico pod's IPv6
router (``dataplane_linux.go`` routes the pod via the host veth's link-local address)."""


def _rules(obs: Observations) -> list[Signal]:
    out: list[Signal] = []
    if CALICO_VETH_MAC in obs.macs:
        out.append(
            Signal(
                "calico",
                3.0,
                f"pods talk to {CALICO_VETH_MAC}, the MAC of every Calico host-side veth",
                (obs.macs[CALICO_VETH_MAC],),
            )
        )
    if CALICO_GATEWAY in obs.arp_targets:
        out.append(
            Signal(
                "calico",
                2.0,
                f"a pod resolves {CALICO_GATEWAY}, Calico's link-local pod gateway",
                (obs.arp_targets[CALICO_GATEWAY],),
            )
        )
    out += constant_vni(obs, "calico", "vxlan", 4096, 4789, 1.5)
    out += vtep_inner_macs(obs, "calico", 0.5)
    return out


CALICO = Profile(
    name="calico",
    title="Calico (VXLAN mode)",
    tunnel_devices=("vxlan.calico", "vxlan-v6.calico"),
    host_veth_prefixes=("cali",),
    other_devices=(),
    tunnels=(("vxlan", 4789),),
    sources=(
        "Calico documentation: FelixConfiguration vxlanVNI 4096 / vxlanPort 4789; "
        "169.254.1.1 and ee:ee:ee:ee:ee:ee in its networking FAQ",
        "projectcalico/calico cni-plugin/pkg/dataplane/linux/dataplane_linux.go (proxy_arp on "
        "the host veth, /32 routes per pod)",
        "Calico documentation, Overlay networking and IPPool vxlanMode/ipipMode CrossSubnet; "
        "projectcalico/calico felix/dataplane/linux/vxlan_mgr.go (same-subnet no-encap routes "
        "via the node IP)",
    ),
    datapath=Datapath(
        inner_macs="vtep",
        host_veth="cali veth",
        host_veth_names=("cali*",),
        tunnel_devices={"vxlan": "vxlan.calico"},
        tunnel_devices6={"vxlan": "vxlan-v6.calico"},
        tunnel_names=("vxlan.calico", "vxlan-v6.calico"),
        forwarder=None,
        send="the node routes the packet (TTL or hop limit − 1) by the remote block's route "
        "onlink to its VTEP (vxlan.calico, vxlan-v6.calico for IPv6), which sends it from its "
        "VTEP MAC to the remote VTEP's MAC (static neighbour and FDB entries): encapsulated in "
        "VXLAN",
        decap="decapsulated; the node routes the packet (TTL or hop limit − 1 again) by the "
        "pod's host route (/32, /128) to its cali veth, from ee:ee:ee:ee:ee:ee to the pod's MAC",
        native="the node routes the packet (TTL or hop limit − 1) by the remote block's route "
        "via the other node's own address on its underlay interface, as Calico does between "
        "nodes of one subnet in CrossSubnet mode (vxlanMode or ipipMode CrossSubnet): the pod's "
        "packet itself, from this node's MAC to the other node's, no tunnel",
        local="the node routes the packet (TTL or hop limit − 1) by the pod's host route to its "
        "cali veth",
        gateway_answer="the node answers on the cali veth with "
        f"{CALICO_VETH_MAC} (IPv4: proxy ARP for 169.254.1.1; IPv6: the veth's own link-local "
        "address, the pod's router)",
        arp_unanswered="Calico's node answers a pod's ARP for its gateway 169.254.1.1 by proxy "
        "ARP on the pod's cali veth, so no answer means proxy ARP is off there "
        "(net.ipv4.conf.<cali veth>.proxy_arp) or the veth is down",
        ns_unanswered="a Calico pod's IPv6 router is the link-local address of its cali veth "
        f"({CALICO_VETH_LL}, from {CALICO_VETH_MAC}), which the node answers as its own address "
        "(proxy NDP plays no part), so no answer means the cali veth has no IPv6 link-local "
        "address (IPv6 disabled on it: net.ipv6.conf.<cali veth>.disable_ipv6) or is down",
        shared_host_mac=CALICO_VETH_MAC,
        unconfirmed=(
            "Felix's per-VTEP neighbour and FDB entries are assumed from its VXLAN manager, not "
            "read line by line",
        ),
    ),
    rules=(_rules,),
)
