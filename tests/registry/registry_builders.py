"""Small tables for the registry tests."""

from __future__ import annotations

import polars as pl

from floodmark.thresholds.base import THRESHOLD_SCHEMA

Row = tuple[str, str, str, float, float, float, float]


def thresholds(*rows: Row, method: str = "rule-max") -> pl.DataFrame:
    """A thresholds table (``THRESHOLD_SCHEMA``) from ``(id, vector, metric, ss, sc, nw, rl)``."""
    given = pl.DataFrame(
        rows,
        schema=["prediction_id", "vector", "metric", "ss", "sc", "nw", "rl"],
        orient="row",
    ).with_columns(
        method=pl.lit(method),
        basis=pl.format("max x 1.2/1.5/2/3 ({})", "prediction_id"),
    )
    return given.select(
        pl.col(c).cast(t) if c in given.columns else pl.lit(None, t).alias(c)
        for c, t in THRESHOLD_SCHEMA.items()
    )


#: Two objects, three series: what most tests publish.
BASE = thresholds(
    ("a1", "PT_TCP", "PPS", 100.0, 150.0, 200.0, 300.0),
    ("a1", "PT_TOTAL", "BW", 1e6, 1.5e6, 2e6, 3e6),
    ("b2", "PT_UDP", "PPS", 10.0, 15.0, 20.0, 30.0),
)
