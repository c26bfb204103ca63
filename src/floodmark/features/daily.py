"""The daily family and super peaks, from the passed traffic of non-blocked samples.

A sample is kept when ``blocked <= blocked_threshold`` (the notebook dropped
``blocked > 0``). Kept samples are binned into UTC calendar days; per day the
max, mean, median and 90th percentile (linear) of ``passed``; across days the
0.9 and 0.7 quantiles (linear) of each, and the four largest daily maxima.
Days without kept samples do not exist here (pandas makes NaN rows for them and
its quantile skips NaN: the same result); fewer than four days leave the missing
``daily_max_k`` NaN, and a series with no kept sample has every daily value NaN.

Super peaks are kept samples whose passed value is above
``super_peak_factor * daily_max_q90``. With ``exclude_super_peaks`` the daily
family is computed again without them; the peaks themselves stay those found
against the first pass.
"""

from __future__ import annotations

import polars as pl

from floodmark.features.prepare import DAY_US

_DAY_STATS = ("max", "mean", "median", "q90")
_ACROSS = {"q90": 0.9, "q70": 0.7}

DAILY_COLUMNS: tuple[str, ...] = (
    *(f"daily_{stat}_{name}" for name in _ACROSS for stat in _DAY_STATS),
    *(f"daily_max_{k}" for k in range(1, 5)),
)


def kept_samples(samples: pl.DataFrame, blocked_threshold: float) -> pl.DataFrame:
    """``sid, t, passed`` of the samples that are not blocked (baseline traffic)."""
    keep = samples["blocked"] <= blocked_threshold
    samples = samples.select("sid", "t", "passed")
    # Most chunks have few blocked samples; a filter would copy all the others.
    return samples if keep.all() else samples.filter(keep)


def daily_features(kept: pl.DataFrame) -> pl.DataFrame:
    """``sid`` and every ``DAILY_COLUMNS`` value, for the series that have kept samples.

    ``kept`` is ordered by (sid, t), so each (series, day) is one contiguous run;
    numbering the runs gives a sorted key Polars groups by slicing.
    """
    passed = pl.col("passed")
    day = (pl.col("t") // DAY_US).alias("day")
    per_day = (
        kept.with_columns(pl.struct("sid", day).rle_id().set_sorted().alias("_run"))
        .group_by("_run", maintain_order=True)
        .agg(
            pl.col("sid").first(),
            passed.max().alias("max"),
            passed.mean().alias("mean"),
            passed.median().alias("median"),
            passed.quantile(0.9, interpolation="linear").alias("q90"),
        )
    )
    across = [
        pl.col(stat).quantile(q, interpolation="linear").alias(f"daily_{stat}_{name}")
        for name, q in _ACROSS.items()
        for stat in _DAY_STATS
    ]
    top = pl.col("max").top_k(4).sort(descending=True).alias("_top")
    per_series = per_day.group_by("sid", maintain_order=True).agg(*across, top)
    return per_series.select(
        "sid",
        *(f"daily_{stat}_{name}" for name in _ACROSS for stat in _DAY_STATS),
        *(
            pl.col("_top").list.get(k - 1, null_on_oob=True).alias(f"daily_max_{k}")
            for k in range(1, 5)
        ),
    )


def peak_mask(kept: pl.DataFrame, daily: pl.DataFrame, sids: pl.DataFrame, factor: float):
    """Boolean Series over ``kept``: the sample is above ``factor * daily_max_q90``."""
    limits = sids.select("sid").join(
        daily.select("sid", (factor * pl.col("daily_max_q90")).alias("_limit")),
        on="sid",
        how="left",
        maintain_order="left",
    )["_limit"]
    # sids holds every sid 0..k-1 in order, so its row sid is series sid.
    above = kept["passed"] > limits.gather(kept["sid"])
    return above.fill_null(False)


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
    daily = daily_features(kept)
    is_peak = peak_mask(kept, daily, sids, super_peak_factor)
    peaks = kept.filter(is_peak).select("sid", "t", pl.col("passed").alias("value"))
    if exclude_super_peaks and peaks.height:
        daily = daily_features(kept.filter(~is_peak))
    counts = peaks.group_by("sid").agg(pl.len().alias("n_super_peaks"))
    out = (
        sids.select("sid")
        .join(daily, on="sid", how="left", maintain_order="left")
        .join(counts, on="sid", how="left", maintain_order="left")
        .with_columns(pl.col("n_super_peaks").fill_null(0))
    )
    return out, peaks
