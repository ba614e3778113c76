"""Decoding engines: three independent ways to turn record batches into the packets table.

``fast``   vxlanlens' own columnar decoder (:func:`vxlanlens.decode.decode_batch`), the default;
``scapy``  scapy's dissectors, one packet object per frame (slow, deep; :mod:`.scapy_engine`);
``tshark`` Wireshark's dissectors through ``tshark -T fields`` (:mod:`.tshark_engine`).

Every engine has the same contract, ``decoder(batch, options) -> DecodedBatch``: records come
from the project's own streaming reader (so framing, timestamps and interfaces are identical),
only the protocol dissection differs, and :class:`vxlanlens.table.TableBuilder` is shared, so
the three tables have the same columns and dtypes by construction. ``docs/conformance.md``
(``python scripts/conformance.py``) says where they agree and why they differ where they do.
"""

from __future__ import annotations

from ..decode import decode_batch
from ..errors import EngineError
from ..table import Decoder

__all__ = ["ENGINES", "Decoder", "decoder_for"]

ENGINES: tuple[str, ...] = ("fast", "scapy", "tshark")
"""Names accepted by :func:`decoder_for`, the default first."""


def decoder_for(engine: str) -> Decoder:
    """The batch decoder of ``engine`` (``"fast"``, ``"scapy"`` or ``"tshark"``).

    Raises :class:`~vxlanlens.errors.EngineError` for an unknown name (listing the known ones)
    and, for ``"tshark"``, when the ``tshark`` binary cannot be found (naming the package).
    """
    name = str(engine).strip().lower()
    if name == "fast":
        return decode_batch
    if name == "scapy":
        from .scapy_engine import decode_batch_scapy

        return decode_batch_scapy
    if name == "tshark":
        from .tshark_engine import decode_batch_tshark, find_tshark

        find_tshark()  # fail now, not at the first batch
        return decode_batch_tshark
    raise EngineError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
