"""Per-series statistics the sample-based methods read from the long table.

Every function takes the long table (``floodmark.schema.LONG_SCHEMA``) of whole series
and returns one row per series keyed by ``prediction_id, vector, metric``. Baseline
("non-blocked") samples are those whose ``blocked`` is not above ``blocked_threshold``,
the same rule as the feature engine's daily family.
"""

from __future__ import annotations

import polars as pl

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
    """The baseline samples: ``blocked <= blocked_threshold`` and a finite ``passed``."""
    return samples.filter(
        (pl.col("blocked").fill_null(0.0) <= blocked_threshold) & pl.col("passed").is_finite()
    )


def sampling_steps(samples: pl.DataFrame) -> pl.DataFrame:
    """Median step in seconds between consecutive timestamps of each series (all samples).

    Null for series with fewer than two distinct timestamps.
    """
    # Differences over the whole frame, masked where a new run of one series starts, and
    # grouped by an integer run id, are much faster than per-series string-keyed work.
    # The store keeps each series as one time-ordered run; other input is sorted first.
    frame = samples.select(*KEYS, us=pl.col("timestamp").dt.epoch("us"))
    same = pl.all_horizontal(pl.col(k) == pl.col(k).shift() for k in KEYS).fill_null(False)
    frame = frame.with_columns(same=same)
    starts = frame.filter(~pl.col("same")).select(KEYS)
    in_order = frame.select((pl.col("us").diff() >= 0) | ~pl.col("same")).to_series().all()
    if not (in_order and starts.is_unique().all()):
        frame = frame.sort([*KEYS, "us"]).with_columns(same=same)
        starts = frame.filter(~pl.col("same")).select(KEYS)
    runs = frame.select(
        run=(~pl.col("same")).cum_sum(), d=pl.when(pl.col("same")).then(pl.col("us").diff())
    )
    medians = runs.filter(pl.col("d") > 0).group_by("run").agg(step_s=pl.col("d").median() / 1e6)
    keyed = starts.with_columns(run=pl.int_range(1, pl.len() + 1, dtype=runs["run"].dtype))
    # series with fewer than two distinct timestamps have no step
    return keyed.join(medians, on="run", how="left").drop("run")


def daily_max_quantile(
    samples: pl.DataFrame, *, quantile: float = 0.95, blocked_threshold: float = 0.0
) -> pl.DataFrame:
    """The ``quantile`` (linear) of the daily maxima of non-blocked passed traffic.

    Days are UTC calendar days; days without a baseline sample are ignored (never
    zeros). Columns: keys, ``value`` and ``n_days``.
    """
    daily = (
        non_blocked(samples, blocked_threshold)
        .group_by([*KEYS, pl.col("timestamp").dt.truncate("1d").alias("day")])
        .agg(day_max=pl.col("passed").max())
    )
    return daily.group_by(KEYS).agg(
        value=pl.col("day_max").quantile(quantile, interpolation="linear"),
        n_days=pl.len(),
    )
