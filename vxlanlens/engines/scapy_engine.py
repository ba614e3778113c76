"""The scapy engine: each record dissected by scapy, its layers mapped to the packets columns.

:func:`decode_batch_scapy` has the fast decoder's contract (``RecordBatch`` + ``DecodeOptions``
in, :class:`~vxlanlens.decode.DecodedBatch` out). Records come from vxlanlens' own streaming
reader, so only the protocol dissection differs. It is slow (one scapy object per layer, about
2,000 frames per second on 2 cores) and meant for cross-checking.

How scapy is driven, without touching its global state:

* the first layer is chosen by link type (Ether, ``CookedLinux`` / ``CookedLinuxV2`` for SLL /
  SLL2, ``IP`` / ``IPv6`` by version nibble for raw IP, BSD / OpenBSD loopback);
* every dissection runs with ``stop_dissection_after=UDP``, so scapy's own port bindings
  (VXLAN on 4789/4790/8472/..., Geneve on 6081) never apply; at each UDP header the engine picks
  the tunnel from ``options`` (ports, then the header itself, with the same rules as
  :func:`vxlanlens.decode.tunnel.classify`, including the guarded VXLAN guess) and dissects the
  UDP payload with ``scapy.layers.vxlan.VXLAN`` (VXLAN and VXLAN-GPE) or
  ``scapy.contrib.geneve.GENEVE``, then the inner frame with the class the tunnel names. No
  ``bind_layers`` call is made, so nothing leaks between calls or into the user's scapy.

Column semantics are those of :mod:`vxlanlens.schema` (outer = outermost underlay, unprefixed =
the innermost frame, ``emb_*`` = the packet quoted by an ICMP/ICMPv6 error).

What counts as a decoding error (``decode_layer`` uses the fast decoder's layer names):

* a protocol named by the layer below (Ethertype, IP protocol, tunnel port) that scapy could not
  dissect (scapy returns ``Raw``, or nothing) or whose header, as its own length fields give it
  (IPv4 IHL, TCP data offset, Geneve option length), runs past the captured bytes or past the
  length the enclosing header declares;
* inconsistent length or version fields that scapy dissects silently: IPv4 version != 4,
  IHL < 5, total length < header or > the bytes left on the wire; IPv6 version != 6 or payload
  length > the bytes left; UDP length < 8 or > the IP payload; TCP data offset < 5; ARP that
  is not Ethernet/IPv4; Geneve version != 0 or an option longer than the option space; an ND
  option of length 0; a quoted packet whose version does not match its ICMP family; tunnels
  nested deeper than ``options.max_tunnel_depth``.

``decode_error`` is this engine's own one-line text (layer, what, offset); only
``decode_layer`` is meant to be compared with the other engines.
"""

from __future__ import annotations

from ..decode.options import DecodeOptions
from ..decode.result import DecodedBatch
from ..errors import EngineError
from ..read.records import RecordBatch
from ._rows import rows_to_batch

try:  # scapy is a dependency, but keep the failure an EngineError if it is broken
    from ._scapy_frame import DEFAULT as _DEFAULT
    from ._scapy_frame import Frame as _Frame

    _SCAPY_ERROR: Exception | None = None
except Exception as exc:  # pragma: no cover - depends on the environment
    _SCAPY_ERROR = exc
    _DEFAULT = DecodeOptions()

__all__ = ["decode_batch_scapy"]


def decode_batch_scapy(batch: RecordBatch, options: DecodeOptions = _DEFAULT) -> DecodedBatch:
    """Decode every record of ``batch`` with scapy into the packets table's protocol columns.

    Gives one row per record and never raises for bad bytes (see the module docstring for
    what sets ``decode_layer``); raises :class:`EngineError` only when scapy cannot be imported.
    """
    if _SCAPY_ERROR is not None:
        raise EngineError(
            f"the scapy engine needs scapy (pip install scapy); importing it failed: {_SCAPY_ERROR}"
        )
    rows = []
    data = batch.data
    for i in range(len(batch)):
        start = int(batch.offsets[i])
        buf = data[start : start + int(batch.cap_len[i])].tobytes()
        fr = _Frame(buf, int(batch.wire_len[i]), options)
        try:
            rows.append(fr.run(int(batch.linktype[i])))
        except Exception as exc:  # a scapy bug on odd bytes must not lose the frame
            v = fr.v
            v["decode_layer"] = v.get("decode_layer") or "scapy"
            v["decode_error"] = f"scapy raised {type(exc).__name__}: {exc}"[:200]
            rows.append(v)
    return rows_to_batch(rows)
