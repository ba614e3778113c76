"""The columnar protocol decoder: record batches in, NumPy columns out (no pandas here).

:func:`decode_batch` turns a :class:`~vxlanlens.read.RecordBatch` into a :class:`DecodedBatch`
holding every protocol column of :mod:`vxlanlens.schema` (all kinds but ``record``, plus
``ifindex`` and ``pkt_type`` from Linux SLL/SLL2 headers). It works column by column: each
layer stage reads one header field for all the rows that reached that layer with one NumPy
gather, so no Python object is made per packet. When ``_fast.c`` was built at install
(``stack.COMPILED``), the records that take the common paths (Ethernet, Linux SLL and SLL2, IPv4
without options and not fragmented, IPv6 without extension headers, TCP, UDP, ARP, ICMP and
ICMPv6 other than errors, Neighbor Solicitation and Advertisement, one VXLAN tunnel or Geneve
tunnel without options) are decoded by one compiled loop instead, to the same columns; the
stages decode the others.

Layers, in order: link (Ethernet with 802.1Q/802.1ad/QinQ and 802.3 LLC/SNAP, Linux SLL and
SLL2, raw IP, BSD and OpenBSD loopback), IPv4 and IPv6 (extension headers), ARP, UDP, TCP,
ICMP and ICMPv6 (echo, errors with the quoted packet, Packet Too Big, RS/RA/NS/NA/Redirect and
their options), and the UDP tunnels VXLAN, VXLAN-GPE and Geneve, nested up to
``DecodeOptions.max_tunnel_depth``.

A frame that cannot be decoded keeps what was decoded before the problem; ``decode_layer``
names the layer (``link``, ``ethernet``, ``vlan``, ``llc``, ``sll``, ``sll2``, ``loopback``,
``raw-ip``, ``ipv4``, ``ipv6``, ``ipv6-ext``, ``arp``, ``udp``, ``tcp``, ``icmp``, ``icmpv6``,
``vxlan``, ``vxlan-gpe``, ``geneve``) and ``decode_error`` says what was expected, what was
found and at which byte offset of the frame.

``geneve_options`` items are ``0xCLASS/0xTYPE[C]/LEN`` joined by ``;`` (see
:func:`~vxlanlens.decode.stack.geneve_option_text`), e.g. ``0x0132/0x01/8;0x0000/0x80C/4``.
"""

from .options import DecodeOptions
from .result import DecodedBatch
from .stack import decode_batch

__all__ = ["DecodeOptions", "DecodedBatch", "decode_batch"]
