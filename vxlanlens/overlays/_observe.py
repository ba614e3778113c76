"""The facts of an input that overlay recognition looks at, measured once."""

from __future__ import annotations

import copy
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Observations", "expect_packet_facts", "measure_packet_facts", "observe"]

_MAX_EVIDENCE = 3


@dataclass
class Observations:
    """What the packets, exchanges and loaded dumps show, in the terms profiles ask about."""

    device_names: set[str] = field(default_factory=set)
    """Interface names from the dumps (loaded, not inferred)."""
    labelled_identities: int = 0
    """Identities with labels in the dumps (Cilium)."""
    vnis: Counter[tuple[str, int, int]] = field(default_factory=Counter)
    """(tunnel kind, UDP destination port, VNI) -> tunnelled frames."""
    tunnel_frames: int = 0
    geneve_classes: Counter[int] = field(default_factory=Counter)
    """Geneve option class -> frames carrying it."""
    macs: dict[str, str] = field(default_factory=dict)
    """MAC seen as a pod frame's source or destination (or ARP sender) -> first frame."""
    inner_dst_macs: dict[str, str] = field(default_factory=dict)
    """Destination MAC inside a tunnel -> first frame."""
    arp_targets: dict[str, str] = field(default_factory=dict)
    """Address asked for by an ARP request -> first frame."""
    swapped_inner_macs: list[str] = field(default_factory=list)
    """Frames whose inner MAC pair is another tunnelled frame's pair swapped (VTEP to VTEP)."""
    per_sender_inner_macs: list[str] = field(default_factory=list)
    """Frames of two opposite tunnel directions between two nodes whose inner MACs differ
    (each direction carries its own sender's MACs)."""
    routed_inner: list[str] = field(default_factory=list)
    """Tunnelled frames whose inner TTL / hop limit is one below a usual initial value (63,
    127, 254): the sending node routed them into the tunnel device."""
    l2_across: list[str] = field(default_factory=list)
    """ARP and Neighbor Solicitation / Advertisement frames inside a tunnel: hosts of one L2
    segment resolving each other across it."""
    rs_gateway_answers: list[str] = field(default_factory=list)
    """Neighbor Advertisements with flags R and S but not O (how Cilium's eBPF answers)."""
    vni_differs: list[str] = field(default_factory=list)
    """Exchanges whose request and reply travelled with different VNIs."""
    capture_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Capture label -> what its file says of itself: ``application`` (pcapng
    ``shb_userappl``) and ``interfaces`` (``name``, ``linktype``, ``snaplen`` of each)."""


def _ev(rows: pd.DataFrame) -> list[str]:
    head = rows.iloc[:_MAX_EVIDENCE]
    return [f"{c}#{int(f)}" for c, f in zip(head["capture"], head["frame_no"], strict=True)]


def _frames(captures: pd.Series, frames: pd.Series) -> list[str]:
    """``capture#frame`` of the first few rows where both are known."""
    known = (captures.notna() & frames.notna()).to_numpy(dtype=bool)
    caps, nums = captures[known].iloc[:_MAX_EVIDENCE], frames[known].iloc[:_MAX_EVIDENCE]
    return [f"{c}#{int(f)}" for c, f in zip(caps, nums, strict=True)]


_TUNNEL_COLUMNS = ("capture", "frame_no", "tunnel", "outer_dport", "vni", "geneve_options",
                   "src_mac", "dst_mac", "outer_src_ip", "outer_dst_ip", "ttl")  # fmt: skip
"""Columns of tunnelled frames that are looked at."""


def _first(keys: pd.Series, rows: pd.DataFrame, into: dict[str, str]) -> None:
    """``capture#frame`` of the first row of every distinct non-null value of ``keys`` (a
    column of ``rows``), added to ``into`` in order of first appearance unless there."""
    if keys.empty:
        return
    # codes in order of first appearance (coded once per category for a categorical column)
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    valid = np.flatnonzero(codes >= 0)
    if not len(valid):
        return
    # codes appear in increasing order: a value's first row is where its code exceeds every
    # code before it (no sort)
    c = codes[valid]
    first = np.ones(len(c), dtype=bool)
    first[1:] = c[1:] > np.maximum.accumulate(c)[:-1]
    at = valid[first]
    caps = rows["capture"].iloc[at].tolist()
    frames = rows["frame_no"].iloc[at].tolist()
    for k, c, f in zip(list(uniques), caps, frames, strict=True):
        into.setdefault(str(k), f"{c}#{int(f)}")


def observe(
    packets: pd.DataFrame,
    topology: Any = None,
    exchanges: pd.DataFrame | None = None,
    captures: Sequence[Mapping[str, Any]] | None = None,
) -> Observations:
    """Measure ``packets`` (and the loaded facts of ``topology``, the pairs of ``exchanges``,
    what the files of ``captures`` say of themselves: the explanation's ``captures`` entries)."""
    obs = Observations()
    for c in captures or ():
        if c.get("label") is not None:
            obs.capture_files[str(c["label"])] = {
                "application": c.get("application"),
                "interfaces": list(c.get("interfaces") or ()),
            }
    if topology is not None:
        for i in getattr(topology, "interfaces", []):
            if getattr(i, "confidence", None) == "loaded" and i.name:
                obs.device_names.add(str(i.name))
        obs.labelled_identities = sum(
            1
            for i in getattr(topology, "identities", [])
            if getattr(i, "confidence", None) == "loaded" and i.labels
        )
    p = packets
    if p is None or p.empty:
        return obs
    _copy_packet_facts(_packet_facts(p), obs)
    if exchanges is not None and not exchanges.empty:
        ex = exchanges
        if "nd_flags" in ex:
            rs = ex[(ex["kind"].astype(str) == "nd") & (ex["nd_flags"].astype(str) == "RS")]
            obs.rs_gateway_answers = _frames(rs["reply_capture"], rs["reply_frame"])
        if {"vni_request", "vni_reply"} <= set(ex.columns):
            both = ex[ex["vni_request"].notna() & ex["vni_reply"].notna()]
            diff = both[both["vni_request"] != both["vni_reply"]]
            obs.vni_differs = _frames(diff["request_capture"], diff["request_frame"])
    return obs


_PACKET_COLUMNS = (*_TUNNEL_COLUMNS, "arp_op", "arp_target_ip", "arp_sender_mac", "icmp_type")
"""Every column of the packets table that :func:`observe` reads."""

_PACKET_FIELDS = ("vnis", "tunnel_frames", "geneve_classes", "macs", "inner_dst_macs",
                  "arp_targets", "swapped_inner_macs", "per_sender_inner_macs", "routed_inner",
                  "l2_across")  # fmt: skip
"""The fields of :class:`Observations` measured on the packets alone."""

_LAST: list[tuple[weakref.ref[pd.DataFrame], tuple[str, ...], Observations]] = []
"""The packets last measured (weakly held), the columns read, what they showed: the topology
inference and the explanation both recognise the overlay, on the packets table and on its
annotated copy (the same columns): measured once."""


_EXPECTED: list[tuple[weakref.ref[pd.DataFrame], Callable[[], Observations | None]]] = []
"""A table whose packet facts are being measured elsewhere, and how to get them."""


def expect_packet_facts(
    packets: pd.DataFrame, get: Callable[[], Observations | None] | None
) -> None:
    """The next measuring of this very ``packets`` table takes ``get()`` (what
    :func:`measure_packet_facts` gives for it, made elsewhere: a forked process), once; it
    measures itself when ``get()`` gives None. ``get=None`` forgets what was expected."""
    _EXPECTED[:] = [(weakref.ref(packets), get)] if get is not None else []


def measure_packet_facts(packets: pd.DataFrame) -> Observations:
    """What :func:`observe` measures on a packets table alone (an empty table shows nothing)."""
    return _measure_packets(packets) if len(packets) else Observations()


def _packet_facts(p: pd.DataFrame) -> Observations:
    """The facts of :data:`_PACKET_FIELDS` of a non-empty packets table: those expected for
    it (:func:`expect_packet_facts`), or those of the last table measured when this one is
    another table whose columns read are equal to its."""
    used = tuple(c for c in _PACKET_COLUMNS if c in p.columns)
    if _EXPECTED and _EXPECTED[0][0]() is p:
        get = _EXPECTED.pop()[1]
        made = get()
        if made is not None:
            _LAST[:] = [(weakref.ref(p), used, made)]
            return made
    if _LAST:
        ref, cols, facts = _LAST[0]
        prev = ref()
        if (
            prev is not None
            and prev is not p  # the same table again may have been changed in place
            and cols == used
            and len(prev) == len(p)
            and prev.index.equals(p.index)
            and all(_same_array(prev[c], p[c]) or prev[c].equals(p[c]) for c in used)
        ):
            return facts
    facts = _measure_packets(p)
    _LAST[:] = [(weakref.ref(p), used, facts)]
    return facts


def _same_array(a: pd.Series, b: pd.Series) -> bool:
    """Whether two columns are views of the very same memory (a shallow copy's column, as the
    annotated table's are the packets table's): equal without comparing a value."""
    x, y = a.array, b.array
    if type(x) is not type(y) or len(x) != len(y) or x.dtype != y.dtype:
        return False
    return all(
        u is not None
        and v is not None
        and u.__array_interface__ == v.__array_interface__  # same address, shape and strides
        for u, v in zip(_buffers(x), _buffers(y), strict=True)
    )


def _buffers(values: Any) -> list[np.ndarray | None]:
    """The NumPy arrays that hold a column's values (codes; data and null mask; the values)."""
    if isinstance(values, pd.Categorical):
        return [values.codes]
    if isinstance(values, pd.api.extensions.ExtensionArray):
        data, mask = getattr(values, "_data", None), getattr(values, "_mask", None)
        if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):
            return [data, mask]
        if isinstance(values, pd.arrays.NumpyExtensionArray):
            return [values.to_numpy()]
        return [None]  # another layout (Arrow): compared value by value
    return [np.asarray(values)]


def _copy_packet_facts(facts: Observations, obs: Observations) -> None:
    """Copy the packet facts into ``obs`` (containers copied: the kept ones never change)."""
    for name in _PACKET_FIELDS:
        value = getattr(facts, name)
        setattr(obs, name, copy.copy(value))


def _measure_packets(p: pd.DataFrame) -> Observations:
    """Measure the packet facts of a non-empty packets table."""
    obs = Observations()
    tun_mask = p["tunnel"].notna()
    tun = p.loc[tun_mask, [c for c in _TUNNEL_COLUMNS if c in p.columns]]
    obs.tunnel_frames = len(tun)
    if len(tun):
        counted = (
            pd.DataFrame(
                {
                    "t": tun["tunnel"].astype(object),
                    "p": tun["outer_dport"].astype("Int64").fillna(-1),
                    "v": tun["vni"].astype("Int64").fillna(-1),
                }
            )
            .value_counts(sort=False)
            .items()
        )
        obs.vnis = Counter({(str(t), int(p), int(v)): int(n) for (t, p, v), n in counted})
        if "geneve_options" in tun:
            for text, n in tun["geneve_options"].dropna().astype(str).value_counts().items():
                for item in str(text).split(";"):
                    head = item.split("/")[0]
                    if head.startswith("0x"):
                        try:
                            obs.geneve_classes[int(head, 16)] += int(n)
                        except ValueError:
                            continue
        _first(tun["dst_mac"], tun, obs.inner_dst_macs)
        _inner_mac_patterns(tun, obs)
        if "ttl" in tun:
            routed = tun[tun["ttl"].isin([63, 127, 254]).fillna(False).to_numpy(dtype=bool)]
            obs.routed_inner = _ev(routed)
        if "arp_op" in p and "icmp_type" in p:
            nd = p["arp_op"].notna() | p["icmp_type"].isin([135, 136]).fillna(False)
            obs.l2_across = _ev(p.loc[tun_mask & nd, ["capture", "frame_no"]])
    plain = p.loc[~tun_mask, ["capture", "frame_no", "src_mac", "dst_mac"]]
    _first(plain["src_mac"], plain, obs.macs)
    _first(plain["dst_mac"], plain, obs.macs)
    if "arp_op" in p:
        arp = p[p["arp_op"] == 1]
        _first(arp["arp_target_ip"], arp, obs.arp_targets)
        replies = p[p["arp_op"] == 2]
        _first(replies["arp_sender_mac"], replies, obs.macs)
    return obs


def _inner_mac_patterns(tun: pd.DataFrame, obs: Observations) -> None:
    """Swapped inner MAC pairs (VTEP to VTEP) against per-sender inner MACs (pod frames kept)."""
    t = tun[tun["src_mac"].notna() & tun["dst_mac"].notna() & tun["outer_src_ip"].notna()]
    if t.empty:
        return
    # one row per distinct (MACs, outer addresses): the first in capture order
    t = t.drop_duplicates(subset=["src_mac", "dst_mac", "outer_src_ip", "outer_dst_ip"])
    n = len(t)
    src, dst, outer_src, outer_dst = (
        t[c].astype(object).to_numpy()
        for c in ("src_mac", "dst_mac", "outer_src_ip", "outer_dst_ip")
    )
    # MACs and outer addresses as integers (one numbering for both ends, so a pair swapped is
    # its ends' numbers swapped); a MAC pair and a direction are one number each
    mac_codes, macs = pd.factorize(np.concatenate([src, dst]), use_na_sentinel=False)
    end_codes, ends = pd.factorize(np.concatenate([outer_src, outer_dst]), use_na_sentinel=False)
    m, e = len(macs), len(ends)
    s, d = mac_codes[:n].astype(np.int64), mac_codes[n:].astype(np.int64)
    a, b = end_codes[:n].astype(np.int64), end_codes[n:].astype(np.int64)
    pair, direction = s * m + d, a * e + b
    # each MAC pair's first row, the pairs in order of first appearance
    pairs, first_row = np.unique(pair, return_index=True)
    by_appearance = np.argsort(first_row, kind="stable")
    caps, frames = t["capture"].astype(object).to_numpy(), t["frame_no"].to_numpy()

    def where(row: int) -> str:
        return f"{caps[row]}#{int(frames[row])}"

    def first_of(pair_code: int) -> int:
        return int(first_row[np.searchsorted(pairs, pair_code)])

    ordered = pairs[by_appearance]
    swapped = np.isin((ordered % m) * m + ordered // m, pairs) & (ordered // m != ordered % m)
    for k in np.flatnonzero(swapped)[:_MAX_EVIDENCE].tolist():
        obs.swapped_inner_macs.append(where(int(first_row[by_appearance[k]])))
    # per direction (in order of first appearance): its first MAC pair, and whether one of its
    # pairs travels swapped the other way
    dirs, dir_first, dir_of_row = np.unique(direction, return_index=True, return_inverse=True)
    back_swapped = pd.MultiIndex.from_arrays([b * e + a, d * m + s]).isin(
        pd.MultiIndex.from_arrays([direction, pair])
    )
    has_swap = np.zeros(len(dirs), dtype=bool)
    has_swap[np.reshape(dir_of_row, -1)[back_swapped]] = True
    at = {int(x): k for k, x in enumerate(dirs.tolist())}
    for k in np.argsort(dir_first, kind="stable").tolist():
        code = int(dirs[k])
        ea, eb = divmod(code, e)
        back = at.get(eb * e + ea)
        if back is None or ends[ea] >= ends[eb] or has_swap[k]:
            continue
        for row in (int(dir_first[k]), int(dir_first[back])):
            if len(obs.per_sender_inner_macs) < _MAX_EVIDENCE:
                obs.per_sender_inner_macs.append(where(first_of(int(pair[row]))))
