"""Per-frame dictionaries of column values -> :class:`DecodedBatch` (shared by the slow engines)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import numpy as np

from ..decode.result import DecodedBatch
from ..schema import COLUMNS

__all__ = ["PROTOCOL_COLUMNS", "mac_int", "rows_to_batch"]

PROTOCOL_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind != "record")
"""Every column a decoder fills (all but the record columns)."""


def mac_int(text: str | bytes | int) -> int:
    """A MAC address (``aa:bb:..`` text, 6 bytes or an int) as a 48-bit integer."""
    if isinstance(text, int):
        return text & 0xFFFFFFFFFFFF
    if isinstance(text, bytes):
        return int.from_bytes(text[:6], "big")
    return int(str(text).replace(":", "").replace("-", "")[:12], 16)


def _ip_bytes(value: Any) -> tuple[int, bytes]:
    addr = ipaddress.ip_address(value)
    return addr.version, addr.packed


def _masked(
    rows: list[dict[str, Any]], name: str, dtype: type, convert: Callable[[Any], Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Column ``name`` of ``rows`` as (values converted to ``dtype``, valid mask)."""
    vals: np.ndarray = np.zeros(len(rows), dtype=dtype)
    ok = np.zeros(len(rows), dtype=bool)
    for i, r in enumerate(rows):
        v = r.get(name)
        if v is not None:
            vals[i] = convert(v)
            ok[i] = True
    return vals, ok


def rows_to_batch(rows: list[dict[str, Any]]) -> DecodedBatch:
    """Columns of ``rows`` (one dict per frame: column name -> value, absent = null).

    Values: ``int`` for int columns, ``bool`` for bool ones, MAC text or int, IP text or
    packed bytes, ``str`` for text columns.
    """
    n = len(rows)
    out = DecodedBatch(n=n)
    present: set[str] = set()
    for r in rows:
        present.update(r)
    for col in COLUMNS:
        name = col.name
        if col.kind == "record" or name not in present:
            continue
        if col.kind == "int":
            out.ints[name] = _masked(rows, name, col.numpy_dtype, int)
        elif col.kind == "bool":
            out.bools[name] = _masked(rows, name, np.bool_, bool)
        elif col.kind == "mac":
            out.macs[name] = _masked(rows, name, np.uint64, mac_int)
        elif col.kind == "ip":
            addr = np.zeros((n, 16), dtype=np.uint8)
            fam = np.zeros(n, dtype=np.uint8)
            for i, r in enumerate(rows):
                v = r.get(name)
                if v is not None:
                    version, packed = _ip_bytes(v)
                    addr[i, : len(packed)] = np.frombuffer(packed, dtype=np.uint8)
                    fam[i] = version
            out.ips[name] = (addr, fam)
        else:
            texts = np.full(n, None, dtype=object)
            for i, r in enumerate(rows):
                v = r.get(name)
                if v is not None:
                    texts[i] = str(v)
            out.texts[name] = texts
    return out
