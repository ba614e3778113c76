"""Capture readers: pcap, pcapng, compressed files and stdin, streamed as record batches.

>>> with open_capture("node.pcap.gz") as cap:          # doctest: +SKIP
...     for batch in cap.batches():
...         ...

See :func:`open_capture` and :class:`CaptureReader`.
"""

from .capture import CaptureReader, label_for, open_capture, parse_capture_arg
from .records import InterfaceInfo, RecordBatch

__all__ = [
    "CaptureReader",
    "InterfaceInfo",
    "RecordBatch",
    "label_for",
    "open_capture",
    "parse_capture_arg",
]
