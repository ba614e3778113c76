"""vxlanlens: explain Kubernetes overlay (Cilium VXLAN/Geneve) packet captures.

Typical use::

    import vxlanlens
    cap = vxlanlens.read(["pod.pcap", "node.pcap"])
    cap.packets          # pandas DataFrame, one row per frame (docs/columns.md)
    cap.explain()        # paths and findings with evidence (docs/explanations.md)

``read``'s keywords are the fields of :class:`ReadOptions`, the settings the CLI's reading
options give (docs/api.md).
"""

from ._version import __version__
from .annotate import annotate
from .capture import Capture, CaptureSource, read
from .decode import DecodeOptions
from .errors import (
    CaptureError,
    DecodeError,
    EngineError,
    RenderError,
    SchemaError,
    TopologyError,
    TopologyParseError,
    TruncatedCaptureError,
    TruncatedFrameError,
    UnknownFormatError,
    VxlanlensError,
)
from .options import ReadOptions
from .schema import COLUMN_NAMES, COLUMNS
from .stream import iter_batches
from .watch import watch

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "Capture",
    "CaptureError",
    "CaptureSource",
    "DecodeError",
    "DecodeOptions",
    "EngineError",
    "ReadOptions",
    "RenderError",
    "SchemaError",
    "TopologyError",
    "TopologyParseError",
    "TruncatedCaptureError",
    "TruncatedFrameError",
    "UnknownFormatError",
    "VxlanlensError",
    "__version__",
    "annotate",
    "iter_batches",
    "read",
    "watch",
]
