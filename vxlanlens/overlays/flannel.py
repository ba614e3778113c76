"""Flannel with its VXLAN backend.

Facts (flannel Documentation/backends.md): on Linux the VNI defaults to 1 and the UDP port to
the kernel's default, 8472; the VTEP device is ``flannel.<VNI>`` (``flannel.1``); pods hang on
the Linux bridge ``cni0``, which holds the node's pod-CIDR gateway; inner frames go from VTEP
MAC to VTEP MAC. Not yet confirmed by a kernel-made capture of the project's lab.
"""

from __future__ import annotations

from ._observe import Observations
from ._profile import Profile, Signal
from ._rules import constant_vni, vtep_inner_macs

__all__ = ["FLANNEL"]


def _rules(obs: Observations) -> list[Signal]:
    return [
        *constant_vni(obs, "flannel", "vxlan", 1, 8472, 1.0),
        *vtep_inner_macs(obs, "flannel", 0.5),
    ]


FLANNEL = Profile(
    name="flannel",
    title="Flannel (VXLAN backend)",
    tunnel_devices=("flannel.*", "flannel-v6.*"),
    host_veth_prefixes=(),
    other_devices=("cni0",),
    tunnels=(("vxlan", 8472),),
    sources=("flannel Documentation/backends.md (VXLAN: VNI 1, port 8472 on Linux)",),
    rules=(_rules,),
)
