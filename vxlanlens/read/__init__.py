"""Capture readers: pcap, pcapng, compressed files and stdin, streamed as record batches."""

from .records import InterfaceInfo, RecordBatch

__all__ = ["InterfaceInfo", "RecordBatch"]
