"""Re-export of the large-pcap builders, which live in ``tests/craft.py`` (the one builder
module); kept for the tests that import them by this name."""

from __future__ import annotations

from craft import record_starts, shipped_frames, write_big_pcap

__all__ = ["record_starts", "shipped_frames", "write_big_pcap"]
