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
    (expressions such as cumulative sums evaluated inside a grouped aggregation
    run group by group and were 3x slower); zero runs come from run ids.
    """
    sid, t = pl.col("sid"), pl.col("t")
    same_series = sid == sid.shift(1)
    zero = pl.col("total") == 0
    per_series = (
        samples.select(
            "sid",
            "t",
            pl.when(same_series).then(t - t.shift(1)).alias("_step"),
            zero.alias("_zero"),
        )
        .group_by("sid", maintain_order=True)
        .agg(
            pl.len().cast(pl.Float64).alias("_n"),
            pl.col("_step").median().alias("_step"),
            (t.last() - t.first()).cast(pl.Float64).alias("_span"),
            pl.col("_zero").mean().alias("percent_of_zeros"),
        )
    )
    # Runs of equal (series, is zero): the longest zero run of each series.
    runs = (
        samples.select("sid", zero.alias("_zero"), pl.struct("sid", zero).rle_id().alias("_run"))
        .group_by("_run", maintain_order=True)
        .agg(pl.col("sid").first(), pl.col("_zero").first(), pl.len().alias("_length"))
    )
    longest = runs.filter("_zero").group_by("sid").agg(pl.col("_length").max().alias("_longest"))
    per_series = per_series.join(longest, on="sid", how="left", maintain_order="left")
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
        pl.when(pl.col("_longest").is_not_null())
        .then(pl.col("_longest").cast(pl.Float64) / n)
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
    joined = features.join(
        totals, on=["prediction_id", "metric"], how="left", maintain_order="left"
    )
    base = joined["_object_median"]
    ratio = divide_exactly(joined["total_val_median"], base)
    share = pl.when(base.is_null() | (base == 0)).then(_NAN).otherwise(ratio)
    return joined.with_columns(share.alias(SHARE_COLUMN)).drop("_object_median")
