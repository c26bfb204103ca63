"""floodmark: learn normal traffic and recommend DDoS detection thresholds."""

from floodmark.errors import (
    FloodmarkError,
    InputFormatError,
    InsufficientDataError,
    NotFittedError,
    SchemaError,
    SeriesDefect,
    StoreError,
)
from floodmark.schema import KEY_COLUMNS, LEVELS, LONG_SCHEMA, METRICS, VECTORS

__version__ = "0.1.0"

__all__ = sorted(
    [
        "FloodmarkError",
        "InputFormatError",
        "InsufficientDataError",
        "KEY_COLUMNS",
        "LEVELS",
        "LONG_SCHEMA",
        "METRICS",
        "NotFittedError",
        "SchemaError",
        "SeriesDefect",
        "StoreError",
        "VECTORS",
    ]
)
