"""The one error tree of vxlanlens.

Every exception that vxlanlens raises on purpose derives from :class:`VxlanlensError`.
Messages are one line and say what was expected, what was found, and where
(file, frame number or byte offset, line of a dump)::

    VxlanlensError
    ├── CaptureError            a capture file cannot be read (format, header, block, I/O)
    │   └── TruncatedCaptureError   the file ends inside a header or block
    ├── DecodeError             a frame cannot be decoded (strict decoding only; the packets
    │   │                       table marks such rows with ``decode_error`` instead)
    │   └── TruncatedFrameError     a header runs past the captured bytes
    ├── TopologyError           a topology dump cannot be used
    │   ├── UnknownFormatError      no loader recognises the dump (lists the formats tried)
    │   └── TopologyParseError      a loader recognised the dump but a line/field is malformed
    ├── SchemaError             a table does not match the documented schema
    ├── EngineError             an optional decoding engine (scapy, tshark) is missing or failed
    └── RenderError             a report or diagram cannot be produced

Library code never prints and never swallows these; the CLI turns them into one line on
stderr and exit status 1.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CaptureError",
    "DecodeError",
    "EngineError",
    "RenderError",
    "SchemaError",
    "TopologyError",
    "TopologyParseError",
    "TruncatedCaptureError",
    "TruncatedFrameError",
    "UnknownFormatError",
    "VxlanlensError",
]


class VxlanlensError(Exception):
    """Base class: a one-line message, optionally bound to a file and a place in it.

    ``path`` is the file (or ``"-"`` for stdin), ``where`` a human place such as
    ``"byte 1234"``, ``"frame 7"`` or ``"line 12"``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        where: str | None = None,
    ) -> None:
        self.message = " ".join(str(message).split())
        self.path = None if path is None else str(path)
        self.where = where
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [p for p in (self.path, self.where) if p]
        return ": ".join([*parts, self.message])


class CaptureError(VxlanlensError):
    """A capture file cannot be read: unknown format, bad header, corrupt block, I/O error."""


class TruncatedCaptureError(CaptureError):
    """The capture file ends in the middle of a file header, block or record header."""


class DecodeError(VxlanlensError):
    """A frame cannot be decoded (raised by strict helpers; tables use ``decode_error``)."""


class TruncatedFrameError(DecodeError):
    """A protocol header runs past the bytes that were captured."""


class TopologyError(VxlanlensError):
    """A topology dump cannot be used."""


class UnknownFormatError(TopologyError):
    """No topology loader recognises the input; the message lists the formats tried."""


class TopologyParseError(TopologyError):
    """A loader recognised the dump but part of it is malformed."""


class SchemaError(VxlanlensError):
    """A table does not match the documented schema."""


class EngineError(VxlanlensError):
    """An optional decoding engine (scapy, tshark) is missing or failed."""


class RenderError(VxlanlensError):
    """A report or diagram cannot be produced."""
