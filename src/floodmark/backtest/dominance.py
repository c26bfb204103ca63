"""Does one method beat the others level by level, and does it keep its own promise?

A method *dominates* a competitor at a level (and minimum duration) when it raises
fewer false alarms per object-day there **and** detects at least as many attack
episodes. ``calibration`` sets a method's measured false alarms beside what it
promised (``expected_fa_per_day_*`` summed per object-day, ``BacktestMeta``).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from floodmark.backtest.result import BacktestResult
from floodmark.schema import LEVELS

#: The competitors the default is measured against: the experts' own thresholds,
#: FastNetMon's baseline rule and Cloudflare's.
COMPETITORS: tuple[str, ...] = ("experts", "rule-max", "rule-p95")

KEY = ["min_duration", "level"]


def dominance(
    table: pl.DataFrame, method: str = "default", competitors: Sequence[str] = COMPETITORS
) -> pl.DataFrame:
    """One row per competitor × min_duration × level present in the backtest ``table``:
    both methods' false alarms per object-day and detections, and ``dominates``."""
    cols = ["false_alarms_per_object_day", "detected", "attack_episodes"]
    own = table.filter(pl.col("method") == method).select(*KEY, *cols)
    rows = []
    for other in competitors:
        theirs = table.filter(pl.col("method") == other).select(*KEY, *cols[:2])
        if theirs.is_empty() or own.is_empty():
            continue
        rows.append(
            own.join(theirs, on=KEY, suffix="_other").select(
                pl.lit(other, pl.String).alias("competitor"),
                *KEY,
                fa=pl.col("false_alarms_per_object_day"),
                fa_other=pl.col("false_alarms_per_object_day_other"),
                detected=pl.col("detected"),
                detected_other=pl.col("detected_other"),
                attack_episodes=pl.col("attack_episodes"),
            )
        )
    if not rows:
        return pl.DataFrame()
    out = pl.concat(rows)
    return out.with_columns(
        dominates=(pl.col("fa") < pl.col("fa_other"))
        & (pl.col("detected") >= pl.col("detected_other"))
    ).sort(
        pl.col("competitor").replace_strict(list(competitors), list(range(len(competitors)))),
        "min_duration",
        pl.col("level").replace_strict(LEVELS, list(range(len(LEVELS)))),
    )


def calibration(result: BacktestResult, method: str) -> pl.DataFrame:
    """Per level: promised and measured false alarms per object-day and their ratio, at
    the minimum duration the method itself counted with (empty when it promises nothing)."""
    promised = result.meta.expected_false_alarms_per_object_day.get(method) or {}
    if not promised:
        return pl.DataFrame()
    own_duration = result.meta.parameters.method_params.get(method, {}).get("min_duration", 1)
    own = pl.DataFrame(
        list(promised.items()), schema={"level": pl.String, "promised": pl.Float64}, orient="row"
    )
    return (
        result.table.filter((pl.col("method") == method) & (pl.col("min_duration") == own_duration))
        .select(*KEY, measured=pl.col("false_alarms_per_object_day"))
        .join(own, on="level", how="left", maintain_order="left")
        .with_columns(ratio=pl.col("measured") / pl.col("promised"))
        .select(*KEY, "promised", "measured", "ratio")
    )


def calibration_by_step(
    result: BacktestResult, method: str, tolerance: float = 1.5
) -> pl.DataFrame:
    """A rolling backtest's promise step by step, per level (at the method's own minimum
    duration): how many steps it had, in how many the false alarms exceeded ``tolerance`` ×
    the step's promise, and the step that exceeded it by the most alarms (its test start,
    its alarms and the alarms it promised; null when no step exceeded it). Empty without
    steps or without a promise."""
    steps = result.steps
    if steps is None or steps.is_empty():
        return pl.DataFrame()
    own_duration = result.meta.parameters.method_params.get(method, {}).get("min_duration", 1)
    own = steps.filter((pl.col("method") == method) & (pl.col("min_duration") == own_duration))
    if own.is_empty() or own["promised_fa_per_object_day"].is_null().all():
        return pl.DataFrame()
    expected = pl.col("promised_fa_per_object_day").fill_null(0.0) * pl.col("object_days")
    own = own.with_columns(expected=expected, excess=pl.col("false_alarms") - expected)
    worst = pl.col("excess").arg_max()
    over = pl.col("false_alarms") > tolerance * pl.col("expected")

    def at_worst(value: pl.Expr) -> pl.Expr:
        # a level whose every step kept its promise has no worst step to name
        return pl.when(over.any()).then(value.get(worst))

    return (
        own.group_by("level", maintain_order=True)
        .agg(
            steps=pl.len(),
            over=over.sum(),
            worst_start=at_worst(pl.col("test_start")).str.slice(0, 10),
            worst_alarms=at_worst(pl.col("false_alarms")),
            worst_promised=at_worst(pl.col("expected")),
        )
        .select(
            "level",
            pl.col("steps").cast(pl.Int64),
            pl.col("over").cast(pl.Int64),
            "worst_start",
            "worst_alarms",
            "worst_promised",
        )
    )
