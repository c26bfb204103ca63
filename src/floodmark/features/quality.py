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

import numpy as np
import polars as pl

from floodmark.domain import DAY_US
from floodmark.features.prepare import divide_exactly, series_starts

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

    Numpy over whole columns (the series lie one after another), with one run
    over each column per quantity; the grouped Polars passes this replaces took
    about 50 % longer.
    """
    sid = samples["sid"].to_numpy()
    t = samples["t"].to_numpy()
    starts = series_starts(sid)
    ends = np.append(starts[1:], sid.size)[: starts.size] - 1  # last row of each series
    sizes = ends - starts + 1
    n = sizes.astype(np.float64)
    zero = (samples["passed"] + samples["blocked"]).to_numpy() == 0  # the total is zero
    per_series = pl.DataFrame(
        {
            "sid": samples["sid"].gather(starts),
            "_n": n,
            "_step": pl.Series(_median_steps(t, starts, sizes, sid), nan_to_null=True),
            "_span": (t[ends] - t[starts]).astype(np.float64),
            "percent_of_zeros": _per_series_sum(zero, starts) / n,
            "_longest": _longest_runs(zero, starts, sid),
        }
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
        pl.when(pl.col("_longest") > 0)
        .then(pl.col("_longest") / n)
        .otherwise(_NAN)
        .alias("percent_of_largest_dead"),
        pl.when(has_step).then(pl.col("_days")).otherwise(_NAN).alias("total_time"),
    )


def _median_steps(t: np.ndarray, starts: np.ndarray, n: np.ndarray, sid: np.ndarray) -> np.ndarray:
    """Median step between consecutive samples of each series (NaN with one sample).

    A series mostly steps by its smallest step: when more than half of its steps
    are that one, it is the median, found by counting. Only the other series
    (irregular sampling) go through a grouped median.
    """
    steps = np.empty_like(t)
    np.subtract(t[1:], t[:-1], out=steps[1:])
    steps[starts] = np.iinfo(np.int64).max  # a series' first sample has no step
    if t.size == 0:
        return np.zeros(0)
    smallest = np.minimum.reduceat(steps, starts)
    count = np.add.reduceat(steps == np.repeat(smallest, n), starts)
    median = smallest.astype(np.float64)
    median[n == 1] = np.nan
    unsettled = (n > 1) & (count <= (n - 1) // 2)
    if unsettled.any():
        rows = np.repeat(unsettled, n)
        rows[starts] = False
        grouped = pl.DataFrame({"sid": sid[rows], "step": steps[rows]})
        median[unsettled] = (
            grouped.group_by("sid", maintain_order=True).agg(pl.col("step").median())["step"]
        ).to_numpy()
    return median


def _per_series_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return np.zeros(0)
    return np.add.reduceat(values, starts, dtype=np.float64)


def _longest_runs(flags: np.ndarray, starts: np.ndarray, sid: np.ndarray) -> np.ndarray:
    """Length of the longest run of True in each series (0 where there is none)."""
    first = np.zeros(flags.size, dtype=bool)
    first[starts] = True
    # A run starts at a flagged row whose predecessor is unflagged or in another series,
    # and ends where the next row is unflagged or starts another series.
    run_start = flags & (first | ~np.roll(flags, 1))
    run_end = flags & (np.roll(first, -1) | ~np.roll(flags, -1))
    begin, stop = np.flatnonzero(run_start), np.flatnonzero(run_end)
    longest = np.zeros(starts.size)
    if begin.size:
        # Runs come in series order: the longest of each series with runs.
        owner = sid[begin]
        groups = series_starts(owner)
        longest[owner[groups]] = np.maximum.reduceat(stop - begin + 1, groups)
    return longest


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
