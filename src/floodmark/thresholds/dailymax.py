"""Per-series daily maxima and alarm fragmentation, read from the long table.

``daily_maxima`` gives what the ``evt`` method fits: the maximum of baseline
(non-blocked) passed traffic of every UTC day that is covered well enough (a day with
half its samples missing has a falsely low maximum). ``episodes_by_depth`` counts
alarm episodes the way the backtest does (maximal runs of consecutive baseline samples
above a level; an attack sample ends a run) at levels a given depth below each day's
own maximum: how many episodes an alarm day holds depends on how far its peak rises
above the level (traffic hovering around a level crosses it again and again).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from floodmark.domain import (
    DAY_S,
    epoch_us,
    is_baseline,
    run_ids,
    series_steps,
    utc_day,
    with_series_ids,
)
from floodmark.thresholds.samples import KEYS

#: The column of the store's catalog (and of features it was joined to) holding the step.
STEP = "median_step_s"

#: One row per series: ``maxima`` holds the covered days' maxima in ascending order.
DAILY_SCHEMA: dict[str, pl.DataType] = {
    **{k: pl.String() for k in KEYS},
    "n": pl.UInt32(),
    "step_s": pl.Float64(),
    "x_max": pl.Float64(),
    "n_days": pl.UInt32(),
    "maxima": pl.List(pl.Float64()),
}


def _indexed(samples: pl.DataFrame, blocked_threshold: float) -> pl.DataFrame:
    """Samples sorted by series and time with integer ``sid`` and ``day`` and a ``base`` flag.

    Integer ids group and join several times faster than three string keys.
    """
    frame = with_series_ids(samples.select(*KEYS, "timestamp", "passed", "blocked"))
    base = is_baseline(blocked_threshold) & pl.col("passed").is_finite()
    frame = frame.with_columns(day=utc_day(epoch_us()), base=base.fill_null(False))
    # one id per series-day run: a single integer key for grouping and joining
    return frame.with_columns(rid=run_ids("sid", "day"))


def _series_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """``sid`` → keys (the first row of every series)."""
    return frame.group_by("sid", maintain_order=True).agg(pl.col(KEYS).first())


def _days(frame: pl.DataFrame, coverage: float, known_steps: pl.DataFrame | None) -> pl.DataFrame:
    """Per series and day: baseline maximum ``m``, samples ``k``, ``full`` coverage; ``step_s``."""
    steps = series_steps(frame, known_steps)
    days = (
        frame.filter("base")
        .group_by("rid")
        .agg(pl.col("sid").first(), m=pl.col("passed").max(), k=pl.len())
        .join(steps, on="sid", how="left")
    )
    return days.with_columns(
        full=pl.col("k") >= coverage * DAY_S / pl.col("step_s").fill_null(DAY_S)
    )


def daily_maxima(
    samples: pl.DataFrame,
    *,
    blocked_threshold: float = 0.0,
    coverage: float = 0.5,
    steps: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``DAILY_SCHEMA``: one row per series with at least one baseline sample.

    ``n`` counts baseline samples, ``step_s`` is the sampling step, ``x_max`` the largest
    baseline value and ``maxima`` the daily maxima of the UTC days holding at least
    ``coverage`` of the samples a full day has at that step. ``steps`` (keys,
    ``median_step_s``: the store's catalog) gives the step of the series it lists;
    the others' is the median step of their samples.
    """
    frame = _indexed(samples, blocked_threshold)
    out = (
        _days(frame, coverage, steps)
        .group_by("sid")
        .agg(
            n=pl.col("k").sum(),
            step_s=pl.col("step_s").first(),
            x_max=pl.col("m").max(),
            maxima=pl.col("m").filter(pl.col("full")).sort(),
        )
        .with_columns(n_days=pl.col("maxima").list.len())
        .join(_series_keys(frame), on="sid", how="left")
    )
    return out.select(pl.col(c).cast(dt) for c, dt in DAILY_SCHEMA.items())


def episodes_by_depth(
    samples: pl.DataFrame,
    offsets: pl.DataFrame,
    depths: Sequence[float],
    *,
    blocked_threshold: float = 0.0,
    coverage: float = 0.5,
    steps: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Mean alarm episodes per day at levels ``depths`` below each day's own maximum.

    On the log scale of the fit, ``y = log(x + offset)``, the level of depth ``d`` on a
    day with maximum ``M`` is ``exp(log(M + offset) - d) - offset``. An episode is a
    maximal run of consecutive samples of one day, baseline and above the level (an
    attack sample ends it). Only covered days (see ``daily_maxima``) with traffic count.
    ``offsets`` has the keys and ``offset``; the result has the keys, one Float64
    column ``g0, g1, …`` per depth and ``n_days``.
    """
    frame = _indexed(samples, blocked_threshold)
    ids = _series_keys(frame).join(offsets.select(*KEYS, "offset"), on=KEYS, how="inner")
    days = (
        _days(frame, coverage, steps)
        .filter(pl.col("full") & (pl.col("m") > 0))
        .join(ids.select("sid", "offset"), on="sid", how="inner")
        .select("rid", top=(pl.col("m") + pl.col("offset")).log(), off=pl.col("offset"))
    )
    frame = frame.join(days, on="rid", how="inner", maintain_order="left")
    same = pl.col("rid") == pl.col("rid").shift()
    names = [f"g{j}" for j in range(len(depths))]
    alarms = [
        (pl.col("base") & (pl.col("passed") > (pl.col("top") - d).exp() - pl.col("off")))
        for d in depths
    ]
    starts = frame.select(
        "sid",
        "rid",
        *(
            (a & ~(a.shift().fill_null(False) & same.fill_null(False))).alias(name)
            for a, name in zip(alarms, names, strict=True)
        ),
    )
    per_day = starts.group_by("rid").agg(pl.col("sid").first(), pl.col(names).sum())
    per_series = per_day.group_by("sid").agg(
        *(pl.col(n).cast(pl.Float64).mean() for n in names), n_days=pl.len()
    )
    return per_series.join(ids.select("sid", *KEYS), on="sid", how="inner").select(
        *KEYS, *names, "n_days"
    )
