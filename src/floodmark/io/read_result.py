"""What every reader returns: samples, per-series metadata, quarantine, repairs."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from floodmark.schema import KEY_COLUMNS, LABEL_SCHEMA, empty_long, empty_quarantine


def empty_series_meta() -> pl.DataFrame:
    """An empty per-series metadata frame: keys, source and labels."""
    schema = {k: pl.String() for k in KEY_COLUMNS} | {"source": pl.String()} | LABEL_SCHEMA
    return pl.DataFrame(schema=schema)


@dataclass(frozen=True)
class ReadResult:
    """One batch read from an input.

    samples: the long table (``floodmark.schema.LONG_SCHEMA``), passed/blocked
        aligned by timestamp, one row per (series, timestamp).
    series: one row per series read: key columns, ``source`` and any labels
        (``floodmark.schema.LABEL_SCHEMA``; null when the input has none).
    quarantine: one row per rejected series (``QUARANTINE_SCHEMA``).
    repaired_duplicates: samples dropped because a timestamp repeated within one
        side of a series (the last one won).
    """

    samples: pl.DataFrame = field(default_factory=empty_long)
    series: pl.DataFrame = field(default_factory=empty_series_meta)
    quarantine: pl.DataFrame = field(default_factory=empty_quarantine)
    repaired_duplicates: int = 0
