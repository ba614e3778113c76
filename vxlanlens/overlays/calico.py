"""Calico in VXLAN mode.

Facts (Calico documentation; FelixConfiguration defaults ``vxlanVNI`` 4096, ``vxlanPort``
4789): device ``vxlan.calico`` (IPv6 ``vxlan-v6.calico``); host-side veths ``cali*`` all carry
MAC ``ee:ee:ee:ee:ee:ee``; pods route ``default via 169.254.1.1`` and the host answers ARP for it
by proxy ARP on the cali veth; inner frames go from VTEP MAC to VTEP MAC. Not yet confirmed by a
kernel-made capture of the project's lab.
"""

from __future__ import annotations

from ._observe import Observations
from ._profile import Profile, Signal
from ._rules import constant_vni, vtep_inner_macs

__all__ = ["CALICO", "CALICO_GATEWAY", "CALICO_VETH_MAC"]

CALICO_VETH_MAC = "ee:ee:ee:ee:ee:ee"
CALICO_GATEWAY = "169.254.1.1"


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
    ),
    rules=(_rules,),
)
