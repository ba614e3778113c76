"""Plain data handed from the capture readers to the decoder: batches of raw records."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["InterfaceInfo", "RecordBatch"]


@dataclass(frozen=True)
class InterfaceInfo:
    """One capture interface: a pcapng Interface Description Block, or the pcap file header."""

    index: int
    """Position among the file's interfaces (pcapng: IDB order across all sections)."""
    linktype: int
    """LINKTYPE_ value (1 Ethernet, 113 SLL, 276 SLL2, ...)."""
    name: str | None = None
    """``if_name`` option, or ``None``."""
    description: str | None = None
    """``if_description`` option, or ``None``."""
    snaplen: int | None = None
    """Snapshot length (pcapng IDB ``snaplen``, pcap header's), or ``None``."""
    application: str | None = None
    """pcapng: ``shb_userappl`` of the section holding the interface (the program that wrote
    it, e.g. ``dumpcap``, ``gopacket``); ``None`` when absent and for classic pcap."""
    stopped_ns: int | None = None
    """pcapng: when capturing on the interface stopped, UTC nanoseconds: the latest
    ``isb_endtime`` of its Interface Statistics Blocks (dumpcap writes one when it stops);
    ``None`` when no block says it, and for classic pcap."""
    dropped: int | None = None
    """pcapng: packets the interface and the capturing system dropped (``isb_ifdrop`` plus
    ``isb_osdrop`` of its last Interface Statistics Block that has them); ``None`` when
    unknown."""


@dataclass(frozen=True)
class RecordBatch:
    """Up to a few tens of thousands of consecutive records from one capture, column by column.

    Record ``i``'s captured bytes are ``data[offsets[i] : offsets[i] + cap_len[i]]``.
    """

    capture: str
    """Label of the capture (file stem or user-given label)."""
    data: np.ndarray
    """``uint8``: the captured bytes of all records, concatenated (possibly with gaps)."""
    offsets: np.ndarray
    """``int64`` (n,): start of each record in ``data``."""
    cap_len: np.ndarray
    """``int64`` (n,): captured length of each record."""
    wire_len: np.ndarray
    """``int64`` (n,): original length on the wire."""
    ts_ns: np.ndarray
    """``int64`` (n,): timestamp in nanoseconds since the Unix epoch (UTC)."""
    linktype: np.ndarray
    """``int64`` (n,): LINKTYPE_ value of each record."""
    frame_no: np.ndarray
    """``int64`` (n,): 1-based frame number within the capture."""
    interface: np.ndarray
    """``int64`` (n,): index into ``interfaces``, or -1 when unknown."""
    interfaces: tuple[InterfaceInfo, ...] = ()
    """All interfaces of the capture known so far."""
    comments: dict[int, str] = field(default_factory=dict)
    """Row index within this batch -> packet comment, for the few records that have one."""

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def select(self, rows: slice | np.ndarray) -> RecordBatch:
        """The records at ``rows`` (a slice, or increasing row indices), sharing this batch's
        bytes; comments follow their records."""
        comments: dict[int, str] = {}
        if self.comments:
            at = {int(i): k for k, i in enumerate(np.arange(len(self))[rows])}
            comments = {at[i]: t for i, t in self.comments.items() if i in at}
        return replace(
            self,
            offsets=self.offsets[rows],
            cap_len=self.cap_len[rows],
            wire_len=self.wire_len[rows],
            ts_ns=self.ts_ns[rows],
            linktype=self.linktype[rows],
            frame_no=self.frame_no[rows],
            interface=self.interface[rows],
            comments=comments,
        )

    def frame(self, i: int) -> bytes:
        """The captured bytes of record ``i``."""
        start = int(self.offsets[i])
        return self.data[start : start + int(self.cap_len[i])].tobytes()

    @classmethod
    def from_frames(
        cls,
        frames: list[bytes],
        *,
        linktype: int | list[int] = 1,
        capture: str = "test",
        ts_ns: list[int] | None = None,
        wire_len: list[int] | None = None,
    ) -> RecordBatch:
        """A batch built from in-memory frames (tests, generated captures, reassembled packets);
        ``linktype`` is one link type for all, or one per frame."""
        n = len(frames)
        lens = np.array([len(f) for f in frames], dtype=np.int64)
        offsets = np.zeros(n, dtype=np.int64)
        if n:
            offsets[1:] = np.cumsum(lens)[:-1]
        data = np.frombuffer(b"".join(frames), dtype=np.uint8) if n else np.zeros(0, np.uint8)
        return cls(
            capture=capture,
            data=data,
            offsets=offsets,
            cap_len=lens,
            wire_len=np.array(wire_len, dtype=np.int64) if wire_len is not None else lens.copy(),
            ts_ns=np.array(ts_ns if ts_ns is not None else [0] * n, dtype=np.int64),
            linktype=(
                np.full(n, linktype, dtype=np.int64)
                if isinstance(linktype, int)
                else np.array(linktype, dtype=np.int64)
            ),
            frame_no=np.arange(1, n + 1, dtype=np.int64),
            interface=np.full(n, -1, dtype=np.int64),
        )
