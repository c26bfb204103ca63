"""Dominance level by level and calibration against the method's own promise."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest

from floodmark.backtest import BacktestMeta, BacktestResult
from floodmark.backtest.dominance import calibration, dominance


def _table(rows):
    return pl.DataFrame(
        rows,
        schema={
            "method": pl.String,
            "min_duration": pl.Int64,
            "level": pl.String,
            "false_alarms_per_object_day": pl.Float64,
            "detected": pl.Int64,
            "attack_episodes": pl.Int64,
        },
        orient="row",
    )


def test_dominating_needs_fewer_false_alarms_and_as_many_detections():
    table = _table(
        [
            ("default", 1, "ss", 0.5, 10, 12),
            ("default", 1, "rl", 0.1, 8, 12),
            ("rule-max", 1, "ss", 0.7, 10, 12),  # beaten: fewer alarms, same detections
            ("rule-max", 1, "rl", 0.1, 7, 12),  # equal alarms: not dominated
            ("experts", 1, "ss", 0.9, 11, 12),  # catches more: not dominated
            ("experts", 1, "rl", 0.2, 8, 12),
        ]
    )
    out = dominance(table)
    assert out.select("competitor", "level", "dominates").rows() == [
        ("experts", "ss", False),
        ("experts", "rl", True),
        ("rule-max", "ss", True),
        ("rule-max", "rl", False),
    ]
    assert dominance(table, competitors=["rule-p95"]).is_empty()


def test_calibration_sets_the_measurement_beside_the_promise():
    table = _table(
        [
            ("default", 1, "ss", 0.6, 1, 1),
            ("default", 1, "sc", 0.1, 1, 1),
            ("default", 3, "ss", 0.1, 1, 1),  # not what the promise counted
        ]
    )
    meta = BacktestMeta(expected_false_alarms_per_object_day={"default": {"ss": 0.4, "sc": 0.2}})
    out = calibration(BacktestResult(table=table, per_series=pl.DataFrame(), meta=meta), "default")
    assert out["ratio"].to_list() == pytest.approx([1.5, 0.5])
    assert calibration(BacktestResult(table, pl.DataFrame(), meta), "rule-max").is_empty()


def test_calibration_step_by_step_names_the_weeks_that_broke_the_promise():
    from floodmark.backtest.dominance import calibration_by_step
    from floodmark.backtest.result import BACKTEST_STEP_SCHEMA

    def step(k, method, n, alarms, promised):
        start = f"2024-01-{1 + 7 * k:02d}T00:00:00+00:00"
        return (k, start, start, method, n, "ss", alarms, 7.0, 0, 0, promised)

    steps = pl.DataFrame(
        [
            step(0, "default", 1, 1, 0.1),  # 1 alarm, 0.7 promised: within 1.5 x
            step(1, "default", 1, 5, 0.1),  # 5 against 0.7: over, and the furthest
            step(2, "default", 1, 2, 0.0),  # any alarm where none was promised: over
            step(1, "default", 3, 50, 0.1),  # not what the promise counted
            step(1, "rule-max", 1, 9, None),
        ],
        schema=BACKTEST_STEP_SCHEMA,
        orient="row",
    )
    result = BacktestResult(table=pl.DataFrame(), per_series=pl.DataFrame(), steps=steps)
    out = calibration_by_step(result, "default")
    assert out.rows() == [("ss", 3, 2, "2024-01-08", 5, pytest.approx(0.7))]
    assert calibration_by_step(result, "rule-max").is_empty()  # it promises nothing
    kept = replace(result, steps=steps.filter(pl.col("step") == 0))  # within its promise
    assert calibration_by_step(kept, "default").rows() == [("ss", 1, 0, None, None, None)]
    assert calibration_by_step(replace(result, steps=None), "default").is_empty()
