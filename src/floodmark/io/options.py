"""What a reader can be asked for, known without loading a reader.

The input formats, the most bytes one vendor series may inflate to and what a
Parquet input holds: the command checks its options and fingerprints its inputs
with these before it imports the readers (Polars, Numba).
"""

from __future__ import annotations

from pathlib import Path

from floodmark.errors import InputFormatError

FORMATS: tuple[str, ...] = ("vendor", "vendor-catalog", "long", "series-csv")
#: The columns a long table must have (Parquet or CSV).
LONG_COLUMNS: tuple[str, ...] = ("prediction_id", "vector", "metric", "timestamp", "passed")

#: The longest sane series is 400 days at 60 s: 576,000 samples a side. Its widest
#: sample, ``{"value":2.2250738585072014e-308,"timeStamp":1704067200.0},``, is 59
#: bytes of JSON; a day's ``"2024-01-01":{"values":[...]},`` adds 28 bytes per 1,440
#: samples. 64 bytes a sample leaves room for some whitespace: both sides then take
#: 2 x 576,000 x 64 = 73,728,000 bytes, the most one series may inflate to by default.
SANE_SERIES_SAMPLES = 400 * 86_400 // 60
MAX_SERIES_BYTES = 2 * SANE_SERIES_SAMPLES * 64


def is_parquet(path: Path) -> bool:
    """Whether ``path`` starts with Parquet's magic bytes."""
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def parquet_format(path: Path) -> str:
    """vendor (a ``time_series`` column) or long (the long columns), from the schema."""
    import pyarrow as pa  # here: only a Parquet input needs it
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError) as exc:
        raise InputFormatError(f"unreadable Parquet file ({exc})", file=path) from None
    if "time_series" in names:
        return "vendor"
    if all(c in names for c in LONG_COLUMNS):
        return "long"
    raise InputFormatError(
        f"Parquet file is neither a vendor export (no time_series column) nor a long "
        f"table (needs {', '.join(LONG_COLUMNS)}); has {', '.join(names)}; "
        f"tried {', '.join(FORMATS)}",
        file=path,
    )
