"""IP reassembly: the fragments of one IP packet (outer or pod frame, IPv4 or IPv6) joined, so
that the packet is decoded once (tunnel, inner frame, transport) and pairs like any other.

The decoder marks, on every row that is an IP fragment, where the *outermost* fragmented IP
header starts (:class:`~vxlanlens.decode.result.FragmentRows`). :class:`FragmentStore` keeps a
copy of those records only (fragments are rare, so this costs nothing on ordinary traffic),
across batches and reading processes, and :meth:`FragmentStore.plan` groups them into packets:

* a packet is identified, as a receiving stack does (RFC 791, RFC 8200), by source,
  destination, protocol (IPv6: the fragment header's next header) and identification, and
  also by where it was seen: capture, interface, ``-i any`` interface index and direction,
  and for a fragment inside a tunnel the tunnel's outer addresses and VNI (copies of one
  packet seen at two points of one capture are reassembled separately);
* fragments arrive in any order; a fragment set is complete when the fragments cover the
  payload from offset 0 to the end the last fragment (MF clear) gives, without a gap;
* the packet is reassembled on the row of the fragment that completed it (the last of its
  fragments in capture order), as Wireshark shows it: a synthetic frame made of the first
  fragment's link and enclosing headers (their length fields adjusted), the IP header without
  fragmentation, and the whole payload, decoded by the fast decoder; the other fragments' rows
  are decoded again up to their IP header only (their first bytes are not a packet of their
  own: decoding them further would count one request twice);
* sets that cannot be reassembled become a ``decode_error`` on every fragment's row, which
  otherwise keeps the fields it decoded: overlapping fragments whose bytes differ, two ends,
  a non-last fragment whose length is not a multiple of 8, a packet over 65,535 bytes, more
  than :data:`MAX_FRAGMENTS` fragments, a fragment cut by the snap length, a set still
  incomplete when the capture ends, or one that waited longer than the kernel would
  (:data:`TIMEOUT_NS`; a later fragment with the same identity starts a new set).

A reassembled packet that is itself a fragment of a packet inside it (a tunnel packet
fragmented on the underlay, carrying a pod packet the pod had fragmented too) is shown with
its inner fragment fields and not reassembled a second time.
"""

from __future__ import annotations

from .carry import CARRY_AGE_NS, MAX_CARRY, join, open_from, take
from .store import MAX_FRAGMENTS, TIMEOUT_NS, Failed, FragmentStore, Plan, Reassembled

__all__ = [
    "CARRY_AGE_NS",
    "MAX_CARRY",
    "MAX_FRAGMENTS",
    "TIMEOUT_NS",
    "Failed",
    "FragmentStore",
    "Plan",
    "Reassembled",
    "join",
    "open_from",
    "take",
]
