"""Routing findings: replies that come back another way than the request went."""

from __future__ import annotations

import pandas as pd

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
    out = []
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
    for k in odd[:MAX_PER_KIND]:
        r = both.iloc[k]
        out.append(
            Finding(
                "asymmetric-path",
                Severity.WARNING,
                f"{r['key']}: the request was tunnelled to {ctx.ip_text(to[k])} but the reply came "
                f"back from {ctx.ip_text(back[k])}: the two directions take different paths "
                f"(stale routes or pod CIDR on another node?).",
                _pair_frames(pd.DataFrame([r])),
                {"request_to": str(to[k]), "reply_from": str(back[k])},
            )
        )
    if len(odd) > MAX_PER_KIND:
        out.append(
            _more(
                "asymmetric-path",
                Severity.WARNING,
                len(odd) - MAX_PER_KIND,
                "exchanges with the same asymmetry",
            )
        )
    return out
