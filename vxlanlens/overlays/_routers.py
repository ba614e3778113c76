"""Logical router ports seen on the wire: MACs that route pods' packets yet belong to no
interface of a node (OVN's: logical flows on br-int answer and write them).

Only on a datapath whose :attr:`~vxlanlens.overlays.Datapath.router_port` names them. A MAC is
a router port when both hold:

- it takes part in the overlay: it is the inner source MAC of frames tunnelled with OVN's
  logical-port option (``ovn_inport``), or it answered an ARP request / Neighbor Solicitation
  sent to it by such a MAC (an ARP reply or Neighbor Advertisement addressed to a MAC found
  inside those tunnels);
- it routes: it is the source MAC of pod frames whose source address is none of those it
  claims in ARP / neighbour discovery (the ARP sender addresses and NA targets it sent), for an
  address family in which it claims at least one. A pod's MAC sends its own addresses only.

A MAC that claims no address, or whose routed frames were not captured, is not named (the
rule errs on the side of leaving a MAC unknown).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from ._datapath import Datapath

__all__ = ["RouterPort", "router_ports"]

_COLUMNS = ("capture", "frame_no", "src_mac", "dst_mac", "src_ip", "tunnel", "ovn_inport",
            "arp_op", "arp_sender_mac", "arp_sender_ip", "icmp_type", "nd_target")  # fmt: skip
_ARP_REPLY = 2
_NA = 136


@dataclass
class RouterPort:
    """One router port MAC: the addresses it answered for and where it was seen."""

    mac: str
    ips: list[str] = field(default_factory=list)
    """Addresses it claims in ARP / neighbour discovery (the router port's, often the pods'
    gateway), in the order first seen."""
    frames: list[tuple[str, int]] = field(default_factory=list)
    """A few frames showing it: one where it claims an address, one where it routes."""


def _family(ip: str) -> int:
    return 6 if ":" in ip else 4


def _first_frames(rows: pd.DataFrame, key: pd.Series) -> dict[str, tuple[str, int]]:
    """The first ``(capture, frame_no)`` of each ``key`` value among ``rows``."""
    firsts = rows.assign(_k=key.to_numpy()).drop_duplicates("_k")
    return {
        str(k): (str(c), int(f))
        for k, c, f in zip(firsts["_k"], firsts["capture"], firsts["frame_no"], strict=True)
    }


def router_ports(packets: pd.DataFrame, datapath: Datapath) -> dict[str, RouterPort]:
    """MAC -> :class:`RouterPort` for the logical router ports the packets show (see the
    module's rules); empty unless ``datapath.router_port`` names such ports."""
    if not datapath.router_port or any(c not in packets.columns for c in _COLUMNS):
        return {}
    p = packets
    ovn = p[p["tunnel"].notna() & p["ovn_inport"].notna()]
    if ovn.empty:
        return {}
    inside = set(ovn["src_mac"].dropna().astype(str)) | set(ovn["dst_mac"].dropna().astype(str))
    # the addresses each MAC claims: ARP sender addresses (requests and replies), NA targets
    claims: dict[str, set[str]] = defaultdict(set)
    claim_at: dict[str, tuple[str, int]] = {}
    arp = p[p["arp_sender_mac"].notna() & p["arp_sender_ip"].notna()]
    na = p[(p["icmp_type"] == _NA) & p["nd_target"].notna() & p["src_mac"].notna()]
    answered: set[str] = set()
    for rows, mac_col, ip_col, answers in (
        (arp, "arp_sender_mac", "arp_sender_ip", arp["arp_op"] == _ARP_REPLY),
        (na, "src_mac", "nd_target", pd.Series(True, index=na.index)),
    ):
        if rows.empty:
            continue
        macs, ips = rows[mac_col].astype(str), rows[ip_col].astype(str)
        for m, ip in set(zip(macs, ips, strict=True)):
            claims[m].add(ip)
        for m, at in _first_frames(rows, macs).items():
            claim_at.setdefault(m, at)
        to_inside = rows["dst_mac"].astype(str).isin(inside).to_numpy() & answers.to_numpy()
        answered |= set(macs[to_inside])
    candidates = (set(ovn["src_mac"].dropna().astype(str)) | answered) & set(claims)
    if not candidates:
        return {}
    sent = p[p["src_mac"].notna() & p["src_ip"].notna()]
    sent = sent[sent["src_mac"].astype(str).isin(candidates)]
    out: dict[str, RouterPort] = {}
    pairs = sent[["src_mac", "src_ip"]].astype(str)
    routed_at = _first_frames(sent, pairs["src_mac"] + " " + pairs["src_ip"])
    for key, at in routed_at.items():
        mac, ip = key.split(" ", 1)
        own = claims[mac]
        if ip in own or not any(_family(c) == _family(ip) for c in own):
            continue
        if mac not in out:
            ips = sorted(own, key=lambda x: (_family(x), x))
            out[mac] = RouterPort(mac, ips, [claim_at[mac], at] if mac in claim_at else [at])
    return dict(sorted(out.items()))
