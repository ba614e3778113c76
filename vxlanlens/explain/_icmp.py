"""ICMP errors in paths: their names in words, and the hops of an error sent between nodes.

A request answered by an ICMP error instead of its reply (a tunnel packet refused by the
receiving node with *port unreachable*, a packet too big for a router) gets the error as its
``reply_hops``; an ``icmp-error`` exchange gets the hops of the packet it quotes and of the error.
Only errors sent outside the tunnel between underlay addresses are drawn here: an error from a
pod or a router inside the overlay travels the overlay and is left to the pod-to-pod paths.
"""

from __future__ import annotations

from ._hops import on_node
from ._underlay import End, outer_fields, underlay_leg
from .context import Context, Point, Row, na, vals
from .model import Hop

__all__ = ["ICMP4_UNREACH", "ICMP6_UNREACH", "REFUSALS", "error_words", "underlay_hops"]

ICMP4_UNREACH = {0: "network unreachable", 1: "host unreachable", 2: "protocol unreachable",
                 3: "port unreachable", 9: "network administratively prohibited",
                 10: "host administratively prohibited", 13: "communication administratively prohibited"}  # fmt: skip
ICMP6_UNREACH = {0: "no route to destination", 1: "communication administratively prohibited",
                 2: "beyond scope of source address", 3: "address unreachable", 4: "port unreachable",
                 5: "source address failed ingress/egress policy", 6: "reject route to destination"}  # fmt: skip
REFUSALS = {(4, 3), (4, 9), (4, 10), (4, 13), (6, 1), (6, 4), (6, 5)}
"""(IP version, code) of destination-unreachable errors that refuse rather than fail to deliver."""


def error_words(answer: object, version: object, code: object) -> tuple[str, bool]:
    """What an ICMP error says in words (``ICMP destination unreachable (port unreachable,
    code 3)``) from the exchanges table's ``answer``, ``ip_version`` and ``icmp_code``, and
    whether it refuses (a closed port, a prohibition) rather than fails to deliver."""
    text = "ICMP error" if na(answer) else str(answer)
    v, raw = vals(version), vals(code)
    if text == "dest-unreachable" and raw is not None:
        c = int(raw)  # type: ignore[call-overload]
        names = ICMP6_UNREACH if v == 6 else ICMP4_UNREACH
        icmp = "ICMPv6" if v == 6 else "ICMP"
        name = names.get(c)
        said = f"{name}, code {c}" if name else f"code {c}"
        return f"{icmp} destination unreachable ({said})", (6 if v == 6 else 4, c) in REFUSALS
    return text.replace("-", " "), False


def underlay_hops(
    ctx: Context,
    points: dict[str, Point],
    obs: list[tuple[Point, Row]],
    src_ip: str,
    dst_ip: str,
    *,
    sent: str,
    received: str,
) -> list[Hop]:
    """Hops of a packet sent from underlay address ``src_ip`` to ``dst_ip`` (the sender's eth0,
    the network between, the receiver's eth0), each seen where a capture taken there holds one
    of ``obs``; ``sent`` and ``received`` are the notes of the two ends. A tunnelled frame counts
    by its outer header."""

    def ends(row: Row) -> tuple[str, str]:
        if not na(row["tunnel"]):
            return str(row["outer_src_ip"]), str(row["outer_dst_ip"])
        return str(row["src_ip"]), str(row["dst_ip"])

    mine = [(p, r) for p, r in obs if ends(r) == (src_ip, dst_ip)]
    snode, dnode = ctx.node_label(src_ip), ctx.node_label(dst_ip)
    at_src = [r for p, r in mine if on_node(p, src_ip, snode)]
    at_dst = [r for p, r in mine if on_node(p, dst_ip, dnode)]
    cited = {id(r) for r in (*at_src, *at_dst)}
    between = [r for p, r in mine if p.kind in ("node", "mixed") and id(r) not in cited]
    first = mine[0][1] if mine else None
    tunnelled = first is not None and not na(first["tunnel"])

    def end(ip: str, node: str | None, rows: list[Row], note: str) -> End:
        return End(
            node or f"node {ip}",
            ip,
            rows,
            note if rows else f"{note} (inferred: no capture taken there holds it)",
        )

    leg = underlay_leg(
        end(src_ip, snode, at_src, sent),
        end(dst_ip, dnode, at_dst, received),
        between,
        outer=outer_fields(first if tunnelled else None),
    )
    # these hops are not cut by :func:`finish` (the caller keeps what it needs): each note is
    # its draft's own
    for d in leg:
        d.hop.note = d.base
    return [d.hop for d in leg]
