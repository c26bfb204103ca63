"""The daily family and super peaks, from the passed traffic of non-blocked samples.

A sample is kept when it is baseline traffic (``floodmark.domain.is_baseline``:
``blocked <= blocked_threshold``; the notebook dropped ``blocked > 0``). Kept
samples are binned into UTC calendar days (``floodmark.domain.utc_day``); per day the
max, mean, median and 90th percentile (linear) of ``passed``; across days the
0.9 and 0.7 quantiles (linear) of each, and the four largest daily maxima.
A day without kept samples has null stats and is skipped by the quantiles
across days (pandas makes NaN rows for such days, also skipped: the same
result); fewer than four days leave the missing ``daily_max_k`` NaN, and a
series with no kept sample has every daily value NaN.

Super peaks are kept samples whose passed value is above
``super_peak_factor * daily_max_q90``. With ``exclude_super_peaks`` the daily
family is computed again without them; the peaks themselves stay those found
against the first pass.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from floodmark.domain import is_baseline, run_ids, utc_day

_DAY_STATS = ("max", "mean", "median", "q90")
_ACROSS = {"q90": 0.9, "q70": 0.7}

DAILY_COLUMNS: tuple[str, ...] = (
    *(f"daily_{stat}_{name}" for name in _ACROSS for stat in _DAY_STATS),
    *(f"daily_max_{k}" for k in range(1, 5)),
)


def kept_samples(samples: pl.DataFrame, blocked_threshold: float) -> pl.DataFrame:
    """``sid, t, passed`` with ``passed`` null where the sample is blocked (attack traffic).

    Masked rather than filtered: every aggregation below skips nulls, and the
    mask writes one column where a filter would copy three.
    """
    keep = is_baseline(blocked_threshold, finite=True)  # prepare rejected null and NaN
    return samples.select("sid", "t", pl.when(keep).then(pl.col("passed")).alias("passed"))


def daily_features(kept: pl.DataFrame) -> pl.DataFrame:
    """``sid`` and every ``DAILY_COLUMNS`` value, one row per series of ``kept``."""
    return _across_days(_per_day(kept))


def _per_day(kept: pl.DataFrame) -> pl.DataFrame:
    """One row per (series, UTC day) in row order: ``sid``, ``_rows`` and the day's stats.

    ``kept`` is ordered by (sid, t), so each (series, day) is one contiguous run;
    numbering the runs gives a sorted key Polars groups by slicing.
    """
    passed = pl.col("passed")
    day = utc_day(pl.col("t")).alias("day")
    return (
        kept.with_columns(run_ids("sid", day).set_sorted().alias("_run"))
        .group_by("_run", maintain_order=True)
        .agg(
            pl.col("sid").first(),
            pl.len().alias("_rows"),
            passed.max().alias("max"),
            passed.mean().alias("mean"),
            passed.median().alias("median"),
            passed.quantile(0.9, interpolation="linear").alias("q90"),
        )
    )


def _across_days(per_day: pl.DataFrame) -> pl.DataFrame:
    # A day whose samples are all blocked has null stats: quantiles skip it.
    across = [
        pl.col(stat).quantile(q, interpolation="linear").alias(f"daily_{stat}_{name}")
        for name, q in _ACROSS.items()
        for stat in _DAY_STATS
    ]
    top = pl.col("max").drop_nulls().top_k(4).sort(descending=True).alias("_top")
    per_series = per_day.group_by("sid", maintain_order=True).agg(*across, top)
    return per_series.select(
        "sid",
        *(f"daily_{stat}_{name}" for name in _ACROSS for stat in _DAY_STATS),
        *(
            pl.col("_top").list.get(k - 1, null_on_oob=True).alias(f"daily_max_{k}")
            for k in range(1, 5)
        ),
    )


def _peak_rows(kept: pl.DataFrame, per_day: pl.DataFrame, limits: np.ndarray) -> np.ndarray:
    """Rows of ``kept`` whose passed value is above its series' limit (``limits[sid]``).

    Only a day whose maximum is above the limit can hold one, so only those
    days' rows are compared (usually a few of thousands).
    """
    rows = per_day["_rows"].to_numpy().astype(np.int64)
    day_limit = limits[per_day["sid"].to_numpy()]
    candidate = per_day["max"].to_numpy() > day_limit  # a null max or limit is NaN: False
    lengths = rows[candidate]
    firsts = (np.cumsum(rows) - rows)[candidate]
    # The rows of the candidate days, one range after another.
    shift = firsts - (np.cumsum(lengths) - lengths)
    index = np.arange(lengths.sum(), dtype=np.int64) + np.repeat(shift, lengths)
    above = kept["passed"].gather(index).to_numpy() > np.repeat(day_limit[candidate], lengths)
    return index[above]


def daily_and_peaks(
    samples: pl.DataFrame,
    sids: pl.DataFrame,
    *,
    blocked_threshold: float,
    super_peak_factor: float,
    exclude_super_peaks: bool,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The daily family and ``n_super_peaks`` for every ``sid`` in ``sids``, and the peaks.

    ``sids`` has one row per series, ``sid`` = 0..k-1 in order. Series without
    kept samples get null daily values (NaN once finished).
    """
    kept = kept_samples(samples, blocked_threshold)
    per_day = _per_day(kept)
    daily = _every_series(sids, _across_days(per_day))
    limits = (super_peak_factor * daily["daily_max_q90"]).to_numpy()  # by sid
    peak_rows = _peak_rows(kept, per_day, limits)
    peaks = kept.gather(peak_rows).select("sid", "t", pl.col("passed").alias("value"))
    if exclude_super_peaks and peak_rows.size:
        is_peak = np.zeros(kept.height, dtype=bool)
        is_peak[peak_rows] = True
        without = kept.with_columns(kept["passed"].set(pl.Series(is_peak), None))
        daily = _every_series(sids, daily_features(without))
    counts = np.bincount(peaks["sid"].to_numpy(), minlength=daily.height)
    return daily.with_columns(pl.Series("n_super_peaks", counts, dtype=pl.Int64)), peaks


def _every_series(sids: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """``daily`` with one row per ``sid`` of ``sids``, in order (null where absent)."""
    return sids.select("sid").join(daily, on="sid", how="left", maintain_order="left")
