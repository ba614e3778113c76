"""Routing findings: replies that come back another way than the request went."""

from __future__ import annotations

from ...proto import Severity
from ..context import Context
from ..model import Finding
from ._registry import FindingSpec, detector
from ._util import (
    MAX_PER_KIND,
    _more,
    _pair_frames,
)


@detector(
    FindingSpec(
        "asymmetric-path",
        Severity.WARNING,
        "a reply that came back from another node than the request went to",
    )
)
def asymmetric_path(ctx: Context) -> list[Finding]:
    """A reply that came back from another node than the one the request was tunnelled to."""
    out: list[Finding] = []
    ex = ctx.exchanges
    if ex.empty:
        return out
    both = ex[
        ex["reply_frame"].notna() & ex["request_frame"].notna() & ex["tunnelled"].fillna(False)
    ]
    if both.empty:
        return out
    to = ctx.values_at(both["request_capture"], both["request_frame"], "outer_dst_ip")
    back = ctx.values_at(both["reply_capture"], both["reply_frame"], "outer_src_ip")
    # a mirror session carries both directions from one source to one destination: the reply
    # travelling the request's own outer direction is a copy, not a path
    frm = ctx.values_at(both["request_capture"], both["request_frame"], "outer_src_ip")
    back_to = ctx.values_at(both["reply_capture"], both["reply_frame"], "outer_dst_ip")
    odd = [
        k
        for k in range(len(both))
        if to[k] is not None
        and back[k] is not None
        and str(to[k]) != str(back[k])
        and (str(frm[k]), str(to[k])) != (str(back[k]), str(back_to[k]))
    ]
    # one finding per (node the request went to, node the reply came from); an exchange seen
    # at several capture points counts once
    pairs: dict[tuple[str, str], dict[tuple[str, int], int]] = {}
    for k in odd:
        r = both.iloc[k]
        seen = ctx.journey_frames(r["request_capture"], r["request_frame"])
        key = seen[0] if seen else (str(r["request_capture"]), int(r["request_frame"]))
        pairs.setdefault((str(to[k]), str(back[k])), {}).setdefault(key, k)
    for (dst, src), exchanges in list(pairs.items())[:MAX_PER_KIND]:
        at = list(exchanges.values())
        rows = both.iloc[at]
        keys = list(dict.fromkeys(str(x) for x in rows["key"]))
        n = len(exchanges)
        example = keys[0] + (f" and {n - 1} more" if n > 1 else "")
        out.append(
            Finding(
                "asymmetric-path",
                Severity.WARNING,
                f"{n} exchange(s) ({example}): the request was tunnelled to {ctx.ip_text(dst)} but "
                f"the reply came back from {ctx.ip_text(src)}: the two directions take different "
                f"paths (stale routes or pod CIDR on another node?).",
                _pair_frames(rows),
                {"request_to": dst, "reply_from": src, "exchanges": n, "keys": keys[:20]},
            )
        )
    if len(pairs) > MAX_PER_KIND:
        out.append(
            _more(
                "asymmetric-path",
                Severity.WARNING,
                len(pairs) - MAX_PER_KIND,
                "node pairs with an asymmetry",
            )
        )
    return out
