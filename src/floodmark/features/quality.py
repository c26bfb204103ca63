"""Quality of a series: gaps, zeros, dead periods, span, share of the object's total.

- ``missing_tmstmp_percentage``: ``100 * (expected - n) / expected`` with
  ``expected = (last - first) / step + 1`` and ``step`` the median of the series'
  own consecutive timestamp differences (NaN with fewer than two samples).
- ``percent_of_zeros``: fraction (0-1) of samples whose total is 0.
- ``percent_of_largest_dead``: longest run of consecutive zero-total samples as
  a fraction (0-1) of the samples; NaN when no sample is zero.
- ``total_time``: days spanned, counting the last sample's own step:
  ``(last - first + step) / 86400`` s, so 30 days at 300 s give exactly 30.0.
- ``total_val_median_share``: this series' ``total_val_median`` over the one of
  the same object's ``PT_TOTAL`` series of the same metric; NaN when that series
  is absent or its median is 0. It needs other series, so it is computed by
  :func:`add_median_share` over the per-series results, never per chunk.
"""

from __future__ import annotations

import polars as pl

from floodmark.features.prepare import DAY_US, divide_exactly

QUALITY_COLUMNS: tuple[str, ...] = (
    "missing_tmstmp_percentage",
    "percent_of_zeros",
    "percent_of_largest_dead",
    "total_time",
)
SHARE_COLUMN = "total_val_median_share"
#: The vector whose median total is the denominator of the share.
TOTAL_VECTOR = "PT_TOTAL"

_NAN = pl.lit(float("nan"))


def quality_stats(samples: pl.DataFrame) -> pl.DataFrame:
    """``sid`` and the ``QUALITY_COLUMNS``, one row per series (prepared samples).

    Row-wise work first, then plain per-group reductions on the sorted ``sid``
    (run lengths computed inside a grouped aggregation were 3x slower).
    """
    sid, t = pl.col("sid"), pl.col("t")
    same_series = (sid == sid.shift(1)).fill_null(False)
    zero = pl.col("total") == 0
    pos = pl.int_range(pl.len(), dtype=pl.Int64)
    # Length of the run of zeros ending at each sample: its position minus the
    # position of the last non-zero sample of the same series (or the one
    # before the series' first sample).
    last_break = (
        pl.when(~zero).then(pos).when(~same_series).then(pos - 1).otherwise(None).forward_fill()
    )
    rows = samples.select(
        "sid",
        "t",
        pl.when(same_series).then(t - t.shift(1)).alias("_step"),
        zero.alias("_zero"),
        (pos - last_break).alias("_run"),
    )
    per_series = rows.group_by("sid", maintain_order=True).agg(
        pl.len().cast(pl.Float64).alias("_n"),
        pl.col("_step").median().alias("_step"),
        (t.last() - t.first()).cast(pl.Float64).alias("_span"),
        pl.col("_zero").mean().alias("percent_of_zeros"),
        pl.col("_zero").any().alias("_any_zero"),
        pl.col("_run").max().cast(pl.Float64).alias("_longest"),
    )
    per_series = per_series.with_columns(
        divide_exactly(per_series["_span"] + per_series["_step"], DAY_US).alias("_days")
    )
    step, span, n = pl.col("_step"), pl.col("_span"), pl.col("_n")
    has_step = step.is_not_null() & (step > 0)
    expected = span / step + 1.0
    return per_series.select(
        "sid",
        pl.when(has_step)
        .then(100.0 * (expected - n) / expected)
        .otherwise(_NAN)
        .alias("missing_tmstmp_percentage"),
        "percent_of_zeros",
        pl.when("_any_zero")
        .then(pl.col("_longest") / n)
        .otherwise(_NAN)
        .alias("percent_of_largest_dead"),
        pl.when(has_step).then(pl.col("_days")).otherwise(_NAN).alias("total_time"),
    )


def add_median_share(features: pl.DataFrame) -> pl.DataFrame:
    """Add ``total_val_median_share`` from the ``total_val_median`` of every series.

    ``features`` holds one row per series (keys and ``total_val_median``) for
    whole objects; a cheap join, so chunks computed apart are finished together.
    """
    totals = features.filter(pl.col("vector") == TOTAL_VECTOR).select(
        "prediction_id",
        "metric",
        pl.col("total_val_median").alias("_object_median"),
    )
    share = (
        pl.when(pl.col("_object_median").is_null() | (pl.col("_object_median") == 0))
        .then(_NAN)
        .otherwise(pl.col("total_val_median") / pl.col("_object_median"))
    )
    return (
        features.join(totals, on=["prediction_id", "metric"], how="left", maintain_order="left")
        .with_columns(share.alias(SHARE_COLUMN))
        .drop("_object_median")
    )
