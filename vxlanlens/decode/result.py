"""What the decoder hands to the table builder: one batch of decoded columns, NumPy only."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..schema import COLUMNS

__all__ = ["DecodedBatch", "FragmentRows"]

Text = np.ndarray | tuple[np.ndarray, np.ndarray]
"""A text column: an object array, or ``(codes, categories)`` (see :class:`DecodedBatch`)."""


@dataclass(frozen=True)
class FragmentRows:
    """The rows of a batch whose IP header (the outermost one that is a fragment) may be
    reassembled, with where that header and its enclosing tunnel's headers start in each record
    (byte offsets from the record's start; -1 when absent)."""

    rows: np.ndarray
    """``int64`` row indices within the batch."""
    ip_at: np.ndarray
    """The fragmented IPv4 or IPv6 header."""
    hdr_at: np.ndarray
    """Its IPv6 fragment header (-1 for IPv4)."""
    outer_ip_at: np.ndarray
    """The outer IP header of the tunnel that encloses it (-1: it is not in a tunnel)."""
    outer_udp_at: np.ndarray
    """That tunnel's UDP header (-1: none)."""
    options: object
    """The :class:`~vxlanlens.decode.DecodeOptions` the batch was decoded with."""


@dataclass
class DecodedBatch:
    """Decoded fields of ``n`` frames, by schema column kind (see :mod:`vxlanlens.schema`).

    - ``ints[name] = (values, valid)``: integer array and bool mask (kind ``int``);
    - ``bools[name] = (values, valid)``: bool array and bool mask (kind ``bool``);
    - ``macs[name] = (values, valid)``: ``uint64`` 48-bit MACs and bool mask (kind ``mac``);
    - ``ips[name] = (addr, family)``: ``(n, 16) uint8`` and ``uint8`` family 0/4/6 (kind ``ip``);
    - ``texts[name]`` (kind ``text``): either an object array of ``str`` or ``None``, or
      ``(codes, categories)``: an integer array of indices into ``categories`` (-1 = null)
      and an object array of distinct ``str`` (the fast decoder's form: no Python object per
      row). :meth:`text` gives either as an object array.

    A column the decoder did not touch may be absent: it is then null for every row.
    """

    n: int
    ints: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    bools: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    macs: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    ips: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    texts: dict[str, Text] = field(default_factory=dict)
    fragments: FragmentRows | None = None
    """Rows that are IP fragments, for reassembly (``None``: none, or reassembly is off)."""

    def text(self, name: str) -> np.ndarray:
        """Text column ``name`` as an object array of ``str`` / ``None`` (all None if absent)."""
        value = self.texts.get(name)
        if value is None:
            return np.full(self.n, None, dtype=object)
        if not isinstance(value, tuple):
            return value
        codes, categories = value
        codes = np.asarray(codes)
        out = np.full(self.n, None, dtype=object)
        valid = codes >= 0
        out[valid] = np.asarray(categories, dtype=object)[codes[valid]]
        return out

    def check(self) -> None:
        """Raise ``ValueError`` if a column is unknown, of the wrong kind or of the wrong length,
        or if a coded text column has codes outside its categories."""
        kinds = {c.name: c.kind for c in COLUMNS}
        for kind, store in (
            ("int", self.ints),
            ("bool", self.bools),
            ("mac", self.macs),
            ("ip", self.ips),
            ("text", self.texts),
        ):
            for name, value in store.items():
                if kinds.get(name) != kind:
                    raise ValueError(f"column {name!r} is not a {kind} column of the schema")
                if kind == "text" and isinstance(value, tuple):
                    _check_coded(name, *value)
                    arrays: tuple[np.ndarray, ...] = value[:1]  # the codes have one per row
                else:
                    arrays = value if isinstance(value, tuple) else (value,)
                for a in arrays:
                    if a.shape[0] != self.n:
                        raise ValueError(
                            f"column {name!r} has {a.shape[0]} rows, expected {self.n}"
                        )


def _check_coded(name: str, codes: np.ndarray, categories: np.ndarray) -> None:
    if codes.dtype.kind not in "iu":
        raise ValueError(f"text column {name!r}: codes must be integers, not {codes.dtype}")
    if codes.size and (codes.min() < -1 or codes.max() >= len(categories)):
        raise ValueError(
            f"text column {name!r}: a code is outside its {len(categories)} categories"
        )
    if len(set(categories.tolist())) != len(categories):
        raise ValueError(f"text column {name!r}: categories are not distinct")
