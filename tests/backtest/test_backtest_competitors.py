"""The competitors in a backtest: experts scored like a method, the default by its name,
and alarms held for several samples."""

from __future__ import annotations

import polars as pl
import pytest

from floodmark.backtest import run_backtest
from floodmark.generate import generate_fleet
from floodmark.io import iter_vendor_export
from floodmark.schema import LEVELS
from floodmark.store import ingest, open_store


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("competitors")
    export = root / "fleet.parquet"
    generate_fleet(export, objects=6, days=8, seed=3, workers=1)
    ingest(root / "store", iter_vendor_export(export))
    return run_backtest(
        open_store(root / "store"),
        ["default", "experts", "rule-p95"],
        learn_days=4,
        min_durations=(1, 3),
    )


@pytest.mark.slow
def test_default_is_named_default_and_says_what_it_ran(result):
    assert result.meta.default_method == "budget"
    assert result.table["method"].unique(maintain_order=True).to_list() == [
        "default",
        "experts",
        "rule-p95",
    ]
    assert result.table.select("method", "min_duration", "level").rows() == [
        (m, n, lv) for m in ("default", "experts", "rule-p95") for n in (1, 3) for lv in LEVELS
    ]


@pytest.mark.slow
def test_experts_are_scored_at_their_own_labels(result):
    rows = result.per_series.filter(pl.col("method") == "experts")
    assert rows.height and rows["threshold"].equals(rows["expert"])


@pytest.mark.slow
def test_holding_an_alarm_longer_never_adds_alarms_or_detections(result):
    wide = result.per_series.pivot(
        on="min_duration",
        index=["prediction_id", "vector", "metric", "method", "level"],
        values=["false_alarms", "detected"],
    )
    assert (wide["false_alarms_3"] <= wide["false_alarms_1"]).all()
    assert (wide["detected_3"] <= wide["detected_1"]).all()
    assert (wide["false_alarms_3"] < wide["false_alarms_1"]).any()
