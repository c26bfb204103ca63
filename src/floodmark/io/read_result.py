"""What every reader returns: samples, per-series metadata, quarantine, repairs."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from floodmark.io.series_blocks import SeriesBlocks
from floodmark.schema import KEY_COLUMNS, LABEL_SCHEMA, empty_long, empty_quarantine


def empty_series_meta() -> pl.DataFrame:
    """An empty per-series metadata frame: keys, source and labels."""
    schema = {k: pl.String() for k in KEY_COLUMNS} | {"source": pl.String()} | LABEL_SCHEMA
    return pl.DataFrame(schema=schema)


@dataclass(frozen=True, init=False, eq=False)
class ReadResult:
    """One batch read from an input.

    samples: the long table (``floodmark.schema.LONG_SCHEMA``), passed/blocked
        aligned by timestamp, one row per (series, timestamp). A reader may give
        ``blocks`` instead (whole series without a key per sample, see
        ``series_blocks``, built by ``checked_blocks``): ``samples`` is then built
        from them when asked for, and a store ingests the blocks as they are.
    series: one row per series read: key columns, ``source`` and any labels
        (``floodmark.schema.LABEL_SCHEMA``; null when the input has none).
    quarantine: one row per rejected series (``QUARANTINE_SCHEMA``).
    repaired_duplicates: samples dropped because a timestamp repeated within one
        side of a series (the last one won).
    """

    series: pl.DataFrame
    quarantine: pl.DataFrame
    repaired_duplicates: int
    blocks: tuple[SeriesBlocks, ...]
    _samples: pl.DataFrame | None

    def __init__(
        self,
        samples: pl.DataFrame | None = None,
        series: pl.DataFrame | None = None,
        quarantine: pl.DataFrame | None = None,
        repaired_duplicates: int = 0,
        *,
        blocks: tuple[SeriesBlocks, ...] = (),
    ) -> None:
        if samples is not None and blocks:
            raise ValueError("a ReadResult holds samples or blocks, not both")
        init = object.__setattr__  # frozen: set once, here
        init(self, "series", empty_series_meta() if series is None else series)
        init(self, "quarantine", empty_quarantine() if quarantine is None else quarantine)
        init(self, "repaired_duplicates", repaired_duplicates)
        init(self, "blocks", tuple(blocks))
        init(self, "_samples", samples if samples is not None or blocks else empty_long())

    @property
    def samples(self) -> pl.DataFrame:
        """The long table (built from ``blocks`` on first use when the reader gave those)."""
        if self._samples is None:
            frames = [b.frame() for b in self.blocks]
            object.__setattr__(self, "_samples", pl.concat(frames) if frames else empty_long())
        return self._samples
