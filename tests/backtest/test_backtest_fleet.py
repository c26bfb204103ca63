"""Integration: generate a small fleet → ingest it → backtest all four methods."""

from __future__ import annotations

import polars as pl
import pytest

from floodmark.backtest import BACKTEST_PER_SERIES_SCHEMA, BACKTEST_TABLE_SCHEMA, run_backtest
from floodmark.generate import generate_fleet
from floodmark.io import iter_vendor_export
from floodmark.schema import LEVELS
from floodmark.store import ingest, open_store

METHODS = ["rule-max", "rule-daily", "evt", "model"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    export = root / "fleet.parquet"
    generate_fleet(export, objects=8, days=10, seed=6, workers=1)  # attacks on days 3-10
    ingest(root / "store", iter_vendor_export(export))
    params = {"model": {"n_estimators": 40, "min_child_samples": 5}}
    store = open_store(root / "store")
    result = run_backtest(store, METHODS, learn_days=5, model_folds=4, method_params=params)
    return result, store.catalog()


@pytest.mark.slow
def test_table_shape(fleet):
    result, catalog = fleet
    table = result.table
    assert table.schema == pl.Schema(BACKTEST_TABLE_SCHEMA)
    assert table.select("method", "level").rows() == [(m, lv) for m in METHODS for lv in LEVELS]
    assert result.per_series.schema == pl.Schema(BACKTEST_PER_SERIES_SCHEMA)
    meta = result.meta
    assert meta.n_objects == 8 and meta.n_series == 8 * 26
    assert meta.n_series_tested == meta.n_series
    # Every series tested by every method at every level.
    assert result.per_series.height == meta.n_series_tested * len(METHODS) * len(LEVELS)
    # Each series learns its own first 5 days; objects whose data start late test less.
    expected = (
        catalog.group_by("prediction_id")
        .agg(
            span=(
                pl.col("last_timestamp").max() - pl.col("first_timestamp").min()
            ).dt.total_seconds()
            + 300
            - 5 * 86_400
        )["span"]
        .sum()
        / 86_400
    )
    assert 0 < meta.object_days <= 8 * 5.0
    assert meta.object_days == pytest.approx(expected, abs=0.05)


@pytest.mark.slow
def test_sanity(fleet):
    result, _ = fleet
    table = result.table
    rates = table["detection_rate"].drop_nulls()
    assert ((rates >= 0) & (rates <= 1)).all()
    for method in METHODS:
        rows = table.filter(pl.col("method") == method)
        by_level = dict(zip(rows["level"], rows["false_alarms"], strict=True))
        assert by_level["rl"] <= by_level["ss"], method
        detected = dict(zip(rows["level"], rows["detected"], strict=True))
        assert detected["rl"] <= detected["ss"], method
    # The generator labels every series, so every method is compared with the experts.
    assert table["median_ape_vs_expert_pct"].is_not_null().all()
    within = table["within_25pct"]
    assert ((within >= 0) & (within <= 1)).all()
    # The fleet has attacks in its last days and the sensitive levels catch some.
    assert table["attack_episodes"].min() > 0
    assert table.filter(pl.col("level") == "ss")["detected"].min() > 0
    ordered = result.per_series.pivot(
        "level", index=["prediction_id", "vector", "metric", "method"], values="threshold"
    )
    for lo, hi in zip(LEVELS, LEVELS[1:], strict=False):
        assert (ordered[lo] <= ordered[hi]).all()
