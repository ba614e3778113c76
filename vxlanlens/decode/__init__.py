"""The columnar protocol decoder: record batches in, NumPy columns out (no pandas here)."""

from .options import DecodeOptions
from .result import DecodedBatch

__all__ = ["DecodeOptions", "DecodedBatch"]
