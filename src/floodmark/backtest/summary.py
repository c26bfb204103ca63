"""From per-series scores to the method × level table."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from floodmark.backtest.result import BACKTEST_TABLE_SCHEMA
from floodmark.domain import DAY_S
from floodmark.schema import LEVELS

#: A threshold within this relative distance of the expert's counts as agreeing.
AGREEMENT = 0.25


def object_days(spans: pl.DataFrame) -> float:
    """Sum over objects of the test span in days.

    An object's span runs from the earliest to the latest test sample of any of its
    series, plus one sampling step (n samples 5 minutes apart cover n × 5 minutes).
    """
    if spans.is_empty():
        return 0.0
    per_object = (
        spans.filter(pl.col("n_test") > 0)
        .group_by("prediction_id")
        .agg(
            seconds=(pl.col("test_end").max() - pl.col("test_start").min()).dt.total_microseconds()
            / 1e6
            + pl.col("step_s").median().fill_null(0.0).fill_nan(0.0)
        )
    )
    return float(per_object["seconds"].sum()) / DAY_S


def summarise(
    per_series: pl.DataFrame,
    delays: pl.DataFrame,
    spans: pl.DataFrame,
    methods: Sequence[str],
    levels: Sequence[str] = LEVELS,
    min_durations: Sequence[int] = (1,),
) -> pl.DataFrame:
    """Aggregate per-series rows (with ``expert``) and episode delays into the table.

    ``median_ape_vs_expert_pct`` is the median of ``|threshold − expert| / expert`` in percent and
    ``within_25pct`` the share of series with that ratio ≤ 0.25, over series with an
    expert value above 0 and a threshold; both are null when there is none.
    ``detection_rate`` and ``median_delay_samples`` are null without attack episodes
    (or without detections, for the delay).
    """
    days = object_days(spans)
    grid = pl.DataFrame(
        [(m, n, lv) for m in methods for n in min_durations for lv in levels],
        schema={"method": pl.String, "min_duration": pl.Int64, "level": pl.String},
        orient="row",
    )
    by = ["method", "level", "min_duration"]
    ratio = (pl.col("threshold") - pl.col("expert")).abs() / pl.col("expert")
    comparable = (pl.col("expert") > 0) & pl.col("threshold").is_not_null()
    counts = per_series.group_by(by).agg(
        false_alarms=pl.col("false_alarms").sum(),
        attack_episodes=pl.col("attack_episodes").sum(),
        detected=pl.col("detected").sum(),
        median_ape_vs_expert_pct=ratio.filter(comparable).median() * 100.0,
        within_25pct=(ratio.filter(comparable) <= AGREEMENT).mean(),
    )
    delay = delays.group_by(by).agg(median_delay_samples=pl.col("delay_samples").median())
    table = (
        grid.join(counts, on=by, how="left", maintain_order="left")
        .join(delay, on=by, how="left", maintain_order="left")
        .with_columns(
            pl.col("false_alarms", "attack_episodes", "detected").fill_null(0),
            object_days=pl.lit(days, pl.Float64),
        )
        .with_columns(
            false_alarms_per_object_day=pl.when(pl.col("object_days") > 0).then(
                pl.col("false_alarms") / pl.col("object_days")
            ),
            detection_rate=pl.when(pl.col("attack_episodes") > 0).then(
                pl.col("detected") / pl.col("attack_episodes")
            ),
        )
    )
    return table.select(pl.col(c).cast(t) for c, t in BACKTEST_TABLE_SCHEMA.items())
