"""Helpers for decoder tests: annotated hex, decoding frames, reading rows back as Python values."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import numpy as np

from vxlanlens.decode import DecodedBatch, DecodeOptions, decode_batch
from vxlanlens.read.records import RecordBatch
from vxlanlens.schema import COLUMNS

_COMMENT = re.compile(r"#[^\n]*")


def hx(text: str) -> bytes:
    """Bytes from annotated hex: ``#`` starts a comment, whitespace is ignored."""
    return bytes.fromhex("".join(_COMMENT.sub("", text).split()))


def decode(
    frames: list[bytes],
    linktype: int | list[int] = 1,
    *,
    wire_len: list[int] | None = None,
    options: DecodeOptions | None = None,
) -> DecodedBatch:
    """Decode in-memory frames (one link type for all, or one per frame)."""
    batch = RecordBatch.from_frames(frames, wire_len=wire_len)
    if not isinstance(linktype, int):
        batch = _with_linktypes(batch, linktype)
    elif linktype != 1:
        batch = _with_linktypes(batch, [linktype] * len(frames))
    db = decode_batch(batch, options or DecodeOptions())
    db.check()
    return db


def _with_linktypes(batch: RecordBatch, linktypes: list[int]) -> RecordBatch:
    from dataclasses import replace

    return replace(batch, linktype=np.array(linktypes, dtype=np.int64))


def _mac_text(v: int) -> str:
    return ":".join(f"{(int(v) >> s) & 0xFF:02x}" for s in range(40, -8, -8))


def value(db: DecodedBatch, name: str, i: int) -> Any:
    """Row ``i`` of column ``name`` as a Python value (None when null or absent)."""
    if name in db.ints:
        v, m = db.ints[name]
        return int(v[i]) if m[i] else None
    if name in db.bools:
        v, m = db.bools[name]
        return bool(v[i]) if m[i] else None
    if name in db.macs:
        v, m = db.macs[name]
        return _mac_text(v[i]) if m[i] else None
    if name in db.ips:
        a, fam = db.ips[name]
        if fam[i] == 4:
            return str(ipaddress.IPv4Address(bytes(a[i, :4])))
        if fam[i] == 6:
            return str(ipaddress.IPv6Address(bytes(a[i])))
        return None
    if name in db.texts:
        text = db.texts[name]
        if isinstance(text, tuple):  # (codes, categories): see DecodedBatch
            code = int(text[0][i])
            return None if code < 0 else text[1][code]
        return text[i]
    return None


def row(db: DecodedBatch, i: int = 0) -> dict[str, Any]:
    """All decoder-filled columns of row ``i`` that are not null."""
    out = {}
    for c in COLUMNS:
        if c.kind == "record":
            continue
        v = value(db, c.name, i)
        if v is not None:
            out[c.name] = v
    return out


def rows(db: DecodedBatch) -> list[dict[str, Any]]:
    """``row`` for every row."""
    return [row(db, i) for i in range(db.n)]
