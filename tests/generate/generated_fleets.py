"""A generated fleet read back for the generator tests, and daily maxima."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.generate import FleetSummary, generate_fleet
from floodmark.io.codec import DecodedSeries, decode_time_series


@dataclass(frozen=True)
class Fleet:
    summary: FleetSummary
    frame: pl.DataFrame  # the file as read back
    decoded: list[DecodedSeries]  # one per row, in row order
    days: int
    step: int

    def rows(self) -> list[tuple[dict, DecodedSeries]]:
        meta = self.frame.drop("time_series").to_dicts()
        return list(zip(meta, self.decoded, strict=True))

    def series(self, vector: str, metric: str) -> list[tuple[dict, DecodedSeries]]:
        return [
            (row, dec)
            for row, dec in self.rows()
            if row["vector"] == vector and row["metric"] == metric
        ]


def build_fleet(path: Path, **params) -> Fleet:
    summary = generate_fleet(path, **params)
    frame = pl.read_parquet(path)
    decoded = [decode_time_series(blob) for blob in frame["time_series"]]
    return Fleet(summary, frame, decoded, params["days"], params.get("step", 300))


def daily_max_clean(dec: DecodedSeries) -> np.ndarray:
    """Daily maxima of passed traffic at samples without blocked traffic."""
    clean = dec.blocked == 0
    days = dec.timestamps[clean] // 86_400
    if days.size == 0:
        return np.array([])
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    return np.maximum.reduceat(dec.passed[clean], starts)
