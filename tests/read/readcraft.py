"""Re-export of the capture-file builders, which live in ``tests/craft.py`` (the one builder
module); kept for the reader tests that import them by this name."""

from __future__ import annotations

from craft import (
    BE,
    LE,
    PCAP_MAGIC_NS,
    PCAP_MAGIC_US,
    block,
    epb,
    frame,
    idb,
    isb,
    option,
    options,
    pad4,
    pb,
    pcap_header,
    pcap_record,
    shb,
    spb,
)

__all__ = [
    "BE",
    "LE",
    "PCAP_MAGIC_NS",
    "PCAP_MAGIC_US",
    "block",
    "epb",
    "frame",
    "idb",
    "isb",
    "option",
    "options",
    "pad4",
    "pb",
    "pcap_header",
    "pcap_record",
    "shb",
    "spb",
]
