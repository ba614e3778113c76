"""What the decoder hands to the table builder: one batch of decoded columns, NumPy only."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..schema import COLUMNS

__all__ = ["DecodedBatch"]


@dataclass
class DecodedBatch:
    """Decoded fields of ``n`` frames, by schema column kind (see :mod:`vxlanlens.schema`).

    - ``ints[name] = (values, valid)``: integer array and bool mask (kind ``int``);
    - ``bools[name] = (values, valid)``: bool array and bool mask (kind ``bool``);
    - ``macs[name] = (values, valid)``: ``uint64`` 48-bit MACs and bool mask (kind ``mac``);
    - ``ips[name] = (addr, family)``: ``(n, 16) uint8`` and ``uint8`` family 0/4/6 (kind ``ip``);
    - ``texts[name] = values``: object array of ``str`` or ``None`` (kind ``text``).

    A column the decoder did not touch may be absent: it is then null for every row.
    """

    n: int
    ints: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    bools: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    macs: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    ips: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    texts: dict[str, np.ndarray] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ``ValueError`` if a column is unknown, of the wrong kind or of the wrong length."""
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
                arrays = value if isinstance(value, tuple) else (value,)
                for a in arrays:
                    if a.shape[0] != self.n:
                        raise ValueError(
                            f"column {name!r} has {a.shape[0]} rows, expected {self.n}"
                        )
