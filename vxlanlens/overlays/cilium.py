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


_DEFAULT_PORTS = {"vxlan": 8472, "geneve": 6081}
_FIRST_CLUSTER_IDENTITY = 256
"""Cilium's cluster-allocated identities start here (below: reserved ones, 1 host, 2 world...)."""


def _identity_vnis(obs: Observations) -> list[Signal]:
    """A weak signal when the overlay's VNIs look like Cilium identities: on Cilium's default
    ports only, no Geneve option of another overlay, no VNI 0, and some at or above 256."""
    frames = {k: n for k, n in obs.vnis.items() if k[0] in _DEFAULT_PORTS}
    if not frames or obs.geneve_classes:
        return []
    if any(port != _DEFAULT_PORTS[kind] for kind, port, _ in frames):
        return []
    vnis = sorted({v for _, _, v in frames})
    if vnis[0] <= 0 or vnis[-1] < _FIRST_CLUSTER_IDENTITY:
        return []
    ports = ", ".join(sorted({f"{k.upper()} {p}" for k, p, _ in frames}))
    shown = ", ".join(map(str, vnis[:4])) + (", ..." if len(vnis) > 4 else "")
    return [
        Signal(
            "cilium",
            0.5,
            f"the VNIs ({shown}, on {ports}, Cilium's default) are in the range of Cilium's "
            "security identities (cluster-allocated ones start at 256), not another overlay's "
            "fixed VNI",
        )
    ]


def _rules(obs: Observations) -> list[Signal]:
    out: list[Signal] = _identity_vnis(obs)
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
    sources=(
        "Cilium documentation and source (../shared/domain/cilium-datapath.md)",
        "docs.cilium.io network/concepts/routing: native routing (routing-mode: native) hands "
        "packets not for a local endpoint to the kernel's routing; auto-direct-node-routes",
    ),
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
        native="in native-routing mode (routing-mode: native, formerly tunnel: disabled) Cilium "
        "hands a packet for another node's pod to the kernel's routing (TTL or hop limit − 1): "
        "out of the node's NIC to that node (auto-direct-node-routes) or to a router that knows "
        "the pod CIDRs, the pod's packet itself, no tunnel",
        native_deliver="the node delivers it to the destination pod's lxc veth (Cilium's program "
        "on the NIC, or the kernel's route to the endpoint)",
        vni_identity=True,
    ),
    rules=(_rules,),
)
