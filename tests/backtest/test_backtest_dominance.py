"""Dominance level by level and calibration against the method's own promise."""

from __future__ import annotations

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
