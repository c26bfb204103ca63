"""Hand-made series for the backtest kernels."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from floodmark.schema import LONG_SCHEMA

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def series(
    passed: list[float],
    blocked: list[float] | None = None,
    *,
    pid: str = "a",
    vector: str = "PT_TCP",
    metric: str = "PPS",
    start: dt.datetime = T0,
    step_s: int = 300,
) -> pl.DataFrame:
    """One series in the long schema, one sample every ``step_s`` seconds from ``start``."""
    blocked = blocked or [0.0] * len(passed)
    return pl.DataFrame(
        {
            "prediction_id": pid,
            "vector": vector,
            "metric": metric,
            "timestamp": [start + dt.timedelta(seconds=i * step_s) for i in range(len(passed))],
            "passed": [float(v) for v in passed],
            "blocked": [float(v) for v in blocked],
        },
        schema=LONG_SCHEMA,
    )


def thresholds(rows: list[tuple[str, str, str, str, str, float | None]]) -> pl.DataFrame:
    """Long thresholds: (prediction_id, vector, metric, method, level, threshold)."""
    return pl.DataFrame(
        rows,
        schema={
            "prediction_id": pl.String,
            "vector": pl.String,
            "metric": pl.String,
            "method": pl.String,
            "level": pl.String,
            "threshold": pl.Float64,
        },
        orient="row",
    )


@pytest.fixture
def make_series():
    return series


@pytest.fixture
def make_thresholds():
    return thresholds


def build_store(path, samples: pl.DataFrame, labels: list[dict] | None = None):
    """Ingest a hand-made long table (and optional per-series labels) into a store."""
    from floodmark.io.read_result import ReadResult, empty_series_meta
    from floodmark.store import ingest

    keys = samples.select("prediction_id", "vector", "metric").unique(maintain_order=True)
    series = keys.with_columns(source=pl.lit("hand-made"))
    if labels:
        series = series.join(
            pl.DataFrame(labels), on=["prediction_id", "vector", "metric"], how="left"
        )
    series = pl.concat([empty_series_meta(), series], how="diagonal_relaxed")
    ingest(path, ReadResult(samples=samples, series=series))
    return path


@pytest.fixture
def make_store():
    return build_store
