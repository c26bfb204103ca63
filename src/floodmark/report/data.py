"""Selection for plots and reports: pick rows, pair thresholds with labels, find runs.

Nothing here renders. The few derived values (per-day markers, attack runs) are
what a figure needs to place marks; every statistic a user acts on comes from
``floodmark.features``, ``floodmark.thresholds`` or ``floodmark.backtest``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import polars as pl

from floodmark.domain import day_start, epoch_us, is_attack, is_baseline, run_ids, utc_day
from floodmark.errors import FloodmarkError
from floodmark.schema import IP_LABELS, KEY_COLUMNS, LEVELS, series_name

#: One row of a table as a plain mapping (``None`` when the table has no such row).
Row = Mapping[str, object]


def as_row(row: Row | pl.DataFrame | None) -> dict[str, object] | None:
    """Accept a mapping or a one-row frame; return a plain dict (or None)."""
    if row is None:
        return None
    if isinstance(row, pl.DataFrame):
        if row.height == 0:
            return None
        if row.height > 1:
            raise FloodmarkError(f"expected one row, got {row.height}")
        return row.row(0, named=True)
    return dict(row)


def finite(value: object) -> float | None:
    """``value`` as a float when it is a finite number, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def select_series(
    frame: pl.DataFrame | None,
    prediction_id: str,
    vector: str,
    metric: str,
    *,
    method: str | None = None,
) -> pl.DataFrame:
    """Rows of ``frame`` for one series (and one method when given); empty if none."""
    if frame is None:
        return pl.DataFrame()
    missing = [c for c in KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise FloodmarkError(f"table lacks key columns {missing}")
    cond = (
        (pl.col("prediction_id") == prediction_id)
        & (pl.col("vector") == vector)
        & (pl.col("metric") == metric)
    )
    if method is not None and "method" in frame.columns:
        cond = cond & (pl.col("method") == method)
    return frame.filter(cond)


def require_series(catalog: pl.DataFrame, prediction_id: str, vector: str, metric: str) -> dict:
    """The catalog row of one series; a FloodmarkError naming what is unknown otherwise."""
    name = series_name(prediction_id, vector, metric)
    of_object = catalog.filter(pl.col("prediction_id") == prediction_id)
    if of_object.height == 0:
        raise FloodmarkError(f"unknown object {prediction_id!r}: not in the store", series=name)
    of_vector = of_object.filter(pl.col("vector") == vector)
    if of_vector.height == 0:
        have = ", ".join(sorted(of_object["vector"].unique().to_list()))
        raise FloodmarkError(
            f"object {prediction_id!r} has no vector {vector!r} (it has: {have})", series=name
        )
    of_metric = of_vector.filter(pl.col("metric") == metric)
    if of_metric.height == 0:
        have = ", ".join(sorted(of_vector["metric"].unique().to_list()))
        raise FloodmarkError(
            f"object {prediction_id!r} vector {vector!r} has no metric {metric!r} (it has: {have})",
            series=name,
        )
    return of_metric.row(0, named=True)


def one_series(samples: pl.DataFrame) -> pl.DataFrame:
    """``samples`` sorted by time, checked to hold at most one series."""
    present = [c for c in KEY_COLUMNS if c in samples.columns]
    if present and samples.height and samples.select(present).n_unique() > 1:
        raise FloodmarkError("a per-series figure needs the samples of exactly one series")
    return samples.sort("timestamp")


def daily_aggregates(samples: pl.DataFrame, *, blocked_threshold: float = 0.0) -> pl.DataFrame:
    """Per UTC day, max and 90th percentile (linear) of baseline ``passed``.

    These place the notebook's daily markers; the features that summarise them
    (``daily_max_q90`` …) come from ``floodmark.features`` and use the same
    baseline (``floodmark.domain.is_baseline``) and days (``utc_day``). Days without
    a baseline sample are absent, never zero. Columns: ``day, daily_max, daily_q90``.
    """
    calm = samples.filter(is_baseline(blocked_threshold)).sort("timestamp")
    return (
        calm.group_by(utc_day(epoch_us()).alias("day"), maintain_order=True)
        .agg(
            pl.col("passed").max().cast(pl.Float64).alias("daily_max"),
            pl.col("passed").quantile(0.9, interpolation="linear").alias("daily_q90"),
        )
        .with_columns(day_start(pl.col("day")).alias("day"))
    )


def attack_periods(samples: pl.DataFrame, *, blocked_threshold: float = 0.0) -> pl.DataFrame:
    """Runs of consecutive attack samples (``floodmark.domain.is_attack``):
    ``start, end, n_samples``."""
    ordered = samples.sort("timestamp").with_columns(attack=is_attack(blocked_threshold))
    runs = ordered.with_columns(run=run_ids("attack"))
    return (
        runs.filter(pl.col("attack"))
        .group_by("run", maintain_order=True)
        .agg(
            start=pl.col("timestamp").min(),
            end=pl.col("timestamp").max(),
            n_samples=pl.len(),
        )
        .drop("run")
    )


def label_columns(frame: pl.DataFrame) -> list[str]:
    """The expert label columns ``ip_ss … ip_rl`` present in ``frame``."""
    return [c for c in IP_LABELS if c in frame.columns]


def has_labels(catalog: pl.DataFrame) -> bool:
    """True when at least one series has at least one expert label."""
    cols = label_columns(catalog)
    return (
        bool(cols)
        and catalog.select(pl.any_horizontal(pl.col(cols).is_not_null())).to_series().any()
    )


def expert_pairs(thresholds: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """Recommended next to expert thresholds, one row per series × method × level.

    Columns: keys, ``method, level, recommended, expert``. Only pairs where both
    are present are kept (a missing label is not a disagreement).
    """
    labels = label_columns(catalog)
    schema = {k: pl.String for k in KEY_COLUMNS} | {
        "method": pl.String,
        "level": pl.String,
        "recommended": pl.Float64,
        "expert": pl.Float64,
    }
    if not labels or thresholds.height == 0:
        return pl.DataFrame(schema=schema)
    joined = thresholds.join(
        catalog.select([*KEY_COLUMNS, *labels]).unique(subset=list(KEY_COLUMNS)),
        on=list(KEY_COLUMNS),
        how="inner",
    )
    if "method" not in joined.columns:
        joined = joined.with_columns(method=pl.lit("?"))
    parts = [
        joined.select(
            *KEY_COLUMNS,
            pl.col("method").cast(pl.String),
            level=pl.lit(level),
            recommended=pl.col(level).cast(pl.Float64),
            expert=pl.col(f"ip_{level}").cast(pl.Float64),
        )
        for level in LEVELS
        if level in joined.columns and f"ip_{level}" in labels
    ]
    if not parts:
        return pl.DataFrame(schema=schema)
    return (
        pl.concat(parts)
        .drop_nulls(["recommended", "expert"])
        .filter(pl.col("recommended").is_finite() & pl.col("expert").is_finite())
    )


def worst_fitting(pairs: pl.DataFrame, n: int) -> pl.DataFrame:
    """The ``n`` series × method farthest from the experts, by max |ln(rec / expert)|.

    Only strictly positive pairs can be ranked on a log scale. One row per series
    and method: keys, ``method, level`` (the worst level), ``recommended, expert,
    log_ratio``.
    """
    ranked = pairs.filter((pl.col("recommended") > 0) & (pl.col("expert") > 0)).with_columns(
        log_ratio=(pl.col("recommended") / pl.col("expert")).log()
    )
    if ranked.height == 0 or n <= 0:
        return ranked.head(0)
    return (
        ranked.sort(pl.col("log_ratio").abs(), descending=True)
        .unique(subset=[*KEY_COLUMNS, "method"], keep="first", maintain_order=True)
        .head(n)
    )
