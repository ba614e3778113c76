"""MTU findings: packets too large for the overlay, Packet Too Big, fragmentation."""

from __future__ import annotations

import pandas as pd

from ...proto import Severity
from ..context import Context, na, vals
from ..model import Evidence, Finding
from ._registry import FindingSpec, detector
from ._util import (
    DEFAULT_UNDERLAY_MTU,
    VXLAN_OVERHEAD,
    _dedup,
    _pair_frames,
)


@detector(
    FindingSpec("mtu-exceeded", Severity.PROBLEM, "packets too large for the overlay"),
    FindingSpec(
        "packet-too-big", Severity.WARNING, "an ICMP Packet Too Big / fragmentation needed"
    ),
)
def mtu(ctx: Context) -> list[Finding]:
    """Inner packets larger than the underlay MTU minus the tunnel overhead; Packet Too Big."""
    out = []
    p = ctx.packets
    ex = ctx.exchanges
    if not ex.empty:
        errs = ex[
            (ex["kind"] == "icmp-error") & ex["answer"].isin(["packet-too-big", "frag-needed"])
        ]
        for _, r in errs.iterrows():
            mtu_v = vals(r["mtu"])
            quoted = (
                f" about {r['request_capture']}#{int(r['request_frame'])}"
                if not na(r["request_frame"])
                else ""
            )
            out.append(
                Finding(
                    "packet-too-big",
                    Severity.WARNING,
                    f"{'ICMPv6 Packet Too Big' if r['answer'] == 'packet-too-big' else 'ICMP fragmentation needed'} from "
                    f"{ctx.ip_text(r['responder_ip'])} to {ctx.ip_text(r['requester_ip'])}{quoted}: the path MTU is {mtu_v}. "
                    f"With a 1500-byte underlay, VXLAN leaves 1450 bytes for the pod's packets over IPv4 (1430 over IPv6).",
                    _pair_frames(pd.DataFrame([r])),
                    {"mtu": mtu_v},
                )
            )
    ip_len = p["ip_len"]
    if ip_len.notna().any():
        overhead = VXLAN_OVERHEAD[4]
        outer = p["outer_ip_version"]
        tunnelled = outer.notna()
        if tunnelled.any() and (outer[tunnelled] == 6).mean() > 0.5:
            overhead = VXLAN_OVERHEAD[6]
        underlay = _underlay_mtu(ctx)
        known = _underlay_known(ctx)
        if not known:
            # frames seen on the underlay prove at least that much MTU
            eth = tunnelled & (p["linktype"] == 1) & p["decode_error"].isna()
            if eth.any():
                underlay = max(underlay, int(p.loc[eth, "wire_len"].max()) - 14)
        limit = underlay - overhead
        big = p[(ip_len > limit).fillna(False)]
        big = big[(big["dont_fragment"].fillna(False)) | (big["ip_version"] == 6)]
        if not big.empty:
            worst = int(big["ip_len"].max())
            keys = big[
                [
                    "src_ip",
                    "dst_ip",
                    "ip_proto",
                    "ip_len",
                    "ip_id",
                    "echo_id",
                    "echo_seq",
                    "tcp_seq",
                ]
            ]
            distinct = len(keys.astype(str).drop_duplicates())
            assumed = (
                "" if known else " (no dump gives it: 1500, or the largest underlay frame seen)"
            )
            out.append(
                Finding(
                    "mtu-exceeded",
                    Severity.PROBLEM,
                    f"{distinct} pod packet(s) of up to {worst} bytes that may not be fragmented exceed {limit} bytes "
                    f"({len(big)} observation(s)), the underlay MTU {underlay}{assumed} minus the {overhead}-byte "
                    f"tunnel overhead: they cannot be encapsulated whole and are dropped or answered with Packet Too Big.",
                    _dedup(
                        [
                            Evidence(capture=str(c), frame_no=int(f))
                            for c, f in zip(big["capture"], big["frame_no"], strict=True)
                        ]
                    ),
                    {
                        "limit": limit,
                        "largest": worst,
                        "underlay_mtu": underlay,
                        "overhead": overhead,
                        "packets": distinct,
                    },
                )
            )
    return out


def _underlay_known(ctx: Context) -> bool:
    return any(i.kind == "underlay" and i.mtu for i in ctx.topology.interfaces)


def _underlay_mtu(ctx: Context) -> int:
    mtus = [i.mtu for i in ctx.topology.interfaces if i.kind == "underlay" and i.mtu]
    return min(mtus) if mtus else DEFAULT_UNDERLAY_MTU
