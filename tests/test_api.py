"""The public face: a small curated API."""

from __future__ import annotations

import vxlanlens

EXPECTED = {
    "COLUMNS",
    "COLUMN_NAMES",
    "Capture",
    "CaptureError",
    "CaptureSource",
    "DecodeError",
    "DecodeOptions",
    "EngineError",
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
}


def test_all_is_the_curated_list() -> None:
    assert set(vxlanlens.__all__) == EXPECTED
    for name in vxlanlens.__all__:
        assert hasattr(vxlanlens, name), name


def test_errors_share_one_base() -> None:
    for name in vxlanlens.__all__:
        obj = getattr(vxlanlens, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, vxlanlens.VxlanlensError)


def test_error_message_names_file_and_place() -> None:
    err = vxlanlens.CaptureError("bad  block\n length", path="x.pcapng", where="byte 28")
    assert str(err) == "x.pcapng: byte 28: bad block length"
