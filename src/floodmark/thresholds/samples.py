"""Per-series statistics the sample-based methods read from the long table.

Every function takes the long table (``floodmark.schema.LONG_SCHEMA``) of whole series
and returns one row per series keyed by ``prediction_id, vector, metric``. Baseline
("non-blocked") samples are those ``floodmark.domain.is_baseline`` says are not attack
traffic, the same rule as every other layer.
"""

from __future__ import annotations

import polars as pl

from floodmark.domain import epoch_us, is_baseline, utc_day
from floodmark.errors import SchemaError
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA

KEYS = list(KEY_COLUMNS)


def check_samples(samples: pl.DataFrame) -> pl.DataFrame:
    """Return ``samples`` with key columns as strings; raise ``SchemaError`` if columns lack."""
    missing = [c for c in LONG_SCHEMA if c not in samples.columns]
    if missing:
        raise SchemaError(f"samples lack columns {missing} (expected the long table)")
    return samples.with_columns(pl.col(k).cast(pl.String) for k in KEYS)


def non_blocked(samples: pl.DataFrame, blocked_threshold: float) -> pl.DataFrame:
    """The baseline samples (``is_baseline``) with a finite ``passed``."""
    return samples.filter(is_baseline(blocked_threshold) & pl.col("passed").is_finite())


def daily_max_quantile(
    samples: pl.DataFrame,
    *,
    quantile: float = 0.95,
    blocked_threshold: float = 0.0,
    last_days: int | None = None,
) -> pl.DataFrame:
    """The ``quantile`` (linear) of the daily maxima of non-blocked passed traffic.

    Days are UTC calendar days; days without a baseline sample are ignored (never
    zeros). ``last_days`` keeps only each series' latest days with a baseline sample.
    Columns: keys, ``value`` and ``n_days``.
    """
    daily = (
        non_blocked(samples, blocked_threshold)
        .group_by([*KEYS, utc_day(epoch_us()).alias("day")])
        .agg(day_max=pl.col("passed").max())
    )
    if last_days is not None:
        daily = daily.filter(pl.col("day").rank("ordinal", descending=True).over(KEYS) <= last_days)
    return daily.group_by(KEYS).agg(
        value=pl.col("day_max").quantile(quantile, interpolation="linear"),
        n_days=pl.len(),
    )
