"""The columnar protocol decoder: record batches in, NumPy columns out (no pandas here)."""

from .options import DecodeOptions
from .result import DecodedBatch
from .stack import decode_batch

__all__ = ["DecodeOptions", "DecodedBatch", "decode_batch"]
