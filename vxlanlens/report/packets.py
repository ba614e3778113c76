"""One readable line per packet, in the spirit of ``tcpdump -nne``, for terminals and reports."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pandas as pd

__all__ = ["csv_safe", "packet_line", "packet_lines", "printable", "protocol_summary"]

# C0 controls but tab and newline, DEL, C1 controls, bidirectional overrides and isolates,
# zero-width characters, line/paragraph separators, BOM
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """``text`` with every control character (ESC, CR, ...: all of C0 but tab and newline, DEL,
    C1), bidirectional override (U+202E ...) and zero-width character replaced by its visible
    escape (``\\x1b``, ``\\u202e``), so that names from dumps and captures cannot move the
    cursor, recolour or reorder what a terminal shows."""
    return _UNPRINTABLE.sub(_visible, text)


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` for CSV output whose text cells cannot run as spreadsheet formulas: a
    cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``
    (the OWASP rule). Numbers are untouched; ``df`` itself is not changed."""
    out = None
    for col in df.columns:
        series = df[col]
        if not (
            pd.api.types.is_object_dtype(series.dtype)
            or pd.api.types.is_string_dtype(series.dtype)
            or isinstance(series.dtype, pd.CategoricalDtype)
        ):
            continue
        text = series.astype("string")
        risky = text.str.startswith(_FORMULA_START).fillna(False).astype(bool)
        if not risky.any():
            continue
        if out is None:
            out = df.copy()
        fixed = text.where(~risky, "'" + text)
        out[col] = fixed.astype(object).where(series.notna(), None)
    return df if out is None else out


_TCP_FLAGS = (
    (0x02, "S"),
    (0x01, "F"),
    (0x04, "R"),
    (0x08, "P"),
    (0x10, "."),
    (0x20, "U"),
    (0x40, "E"),
    (0x80, "W"),
)
_ICMP4 = {
    0: "echo reply",
    3: "unreachable",
    4: "source quench",
    5: "redirect",
    8: "echo request",
    11: "time exceeded",
    12: "parameter problem",
}
_ICMP6 = {
    1: "unreachable",
    2: "packet too big",
    3: "time exceeded",
    4: "parameter problem",
    128: "echo request",
    129: "echo reply",
    133: "router solicitation",
    134: "router advertisement",
    135: "neighbor solicitation",
    136: "neighbor advertisement",
    137: "redirect",
}
_ETHERTYPES = {0x0800: "IPv4", 0x86DD: "IPv6", 0x0806: "ARP", 0x8035: "RARP", 0x88CC: "LLDP"}


def _v(row: dict[str, Any], key: str) -> Any:
    value = row.get(key)
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def tcp_flags_text(flags: int) -> str:
    """tcpdump-style TCP flags, e.g. ``S.`` for SYN/ACK."""
    return "".join(ch for bit, ch in _TCP_FLAGS if flags & bit) or "none"


def protocol_summary(row: dict) -> str:
    """What the pod frame is, in a few words: ``ICMPv6 neighbor solicitation who-has X``."""
    proto, ver = _v(row, "ip_proto"), _v(row, "ip_version")
    arp_op = _v(row, "arp_op")
    if arp_op is not None:
        tip, sip, smac = (
            _v(row, "arp_target_ip"),
            _v(row, "arp_sender_ip"),
            _v(row, "arp_sender_mac"),
        )
        if arp_op == 1:
            return f"ARP who-has {tip} tell {sip}"
        if arp_op == 2:
            return f"ARP reply {sip} is-at {smac}"
        return f"ARP op {arp_op} {sip} > {tip}"
    itype = _v(row, "icmp_type")
    if itype is not None and proto in (1, 58):
        names = _ICMP6 if proto == 58 else _ICMP4
        name = names.get(int(itype), f"type {itype} code {_v(row, 'icmp_code')}")
        text = ("ICMPv6 " if proto == 58 else "ICMP ") + name
        if _v(row, "echo_id") is not None:
            text += f" id {_v(row, 'echo_id')} seq {_v(row, 'echo_seq')}"
        target = _v(row, "nd_target")
        if target is not None:
            text += (" who-has " if itype == 135 else " tgt ") + str(target)
        flags = _v(row, "nd_flags")
        if flags and itype == 136:
            text += f" [{','.join(flags)}]"
        if _v(row, "nd_lladdr") is not None:
            text += f" lladdr {_v(row, 'nd_lladdr')}"
        if _v(row, "mtu") is not None:
            text += f" mtu {_v(row, 'mtu')}"
        if _v(row, "emb_src_ip") is not None:
            text += f" (for {_v(row, 'emb_src_ip')} > {_v(row, 'emb_dst_ip')} proto {_v(row, 'emb_ip_proto')})"
        return text
    if proto == 6 and _v(row, "sport") is not None:
        return (
            f"TCP {_v(row, 'sport')} > {_v(row, 'dport')} [{tcp_flags_text(int(_v(row, 'tcp_flags') or 0))}]"
            f" seq {_v(row, 'tcp_seq')} len {_v(row, 'payload_len')}"
        )
    if proto == 17 and _v(row, "sport") is not None:
        return f"UDP {_v(row, 'sport')} > {_v(row, 'dport')} len {_v(row, 'payload_len')}"
    if proto is not None:
        return f"IP proto {proto}"
    if ver is not None:
        return f"IPv{ver}"
    et = _v(row, "ethertype")
    if et is not None:
        return _ETHERTYPES.get(int(et), f"ethertype 0x{int(et):04x}")
    return ""


def packet_line(row: dict) -> str:
    """One line for one packets-table row (a dict of column -> value)."""
    parts: list[str] = []
    tunnel = _v(row, "tunnel")
    if tunnel is not None:
        sport, dport = _v(row, "outer_sport"), _v(row, "outer_dport")
        parts.append(
            f"{str(tunnel).upper()} {_v(row, 'outer_src_ip')}:{sport} > {_v(row, 'outer_dst_ip')}:{dport}"
            f" vni {_v(row, 'vni')} |"
        )
    smac, dmac = _v(row, "src_mac"), _v(row, "dst_mac")
    if smac is not None or dmac is not None:
        parts.append(f"{smac or '?'} > {dmac or '?'}")
    if _v(row, "src_ip") is not None and _v(row, "arp_op") is None:
        hl = _v(row, "ttl")
        word = "hlim" if _v(row, "ip_version") == 6 else "ttl"  # tcpdump's words
        parts.append(
            f"{_v(row, 'src_ip')} > {_v(row, 'dst_ip')}"
            + (f" {word} {hl}" if hl is not None else "")
            + ":"
        )
    summary = protocol_summary(row)
    if summary:
        parts.append(summary)
    err = _v(row, "decode_error")
    if err is not None:
        parts.append(f"[decode error at {_v(row, 'decode_layer')}: {err}]")
    return " ".join(parts)


def _time_text(ts: object) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff``, or ``(no time)`` padded to the same width when empty."""
    if ts is None or ts is pd.NaT or not hasattr(ts, "strftime"):
        return f"{'(no time)':<26}"
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")


def packet_lines(packets: pd.DataFrame) -> Iterator[str]:
    """``capture frame time line`` for every row, aligned for a terminal."""
    if packets.empty:
        return
    width = max(len(str(c)) for c in packets["capture"].unique())
    for start in range(0, len(packets), 5000):
        for row in packets.iloc[start : start + 5000].to_dict("records"):
            ts = _time_text(row["ts"])
            yield printable(
                f"{row['capture']!s:<{width}} {row['frame_no']:>6} {ts} {packet_line(row)}"
            )
