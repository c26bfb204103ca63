"""A Spark backtest scores every method as the single-machine backtest does."""

from __future__ import annotations

import dataclasses

import pytest
from polars.testing import assert_frame_equal
from spark_helpers import SPARK

import floodmark as fm

pytestmark = [*SPARK, pytest.mark.slow]

#: default and budget: fitted once over the fleet, as locally (not series by series)
METHODS = ["rule-max", "rule-daily", "evt", "model", "default", "budget"]
PARAMS = {"model": {"n_estimators": 30, "min_child_samples": 5}}


def test_backtest_equals_the_single_machine_one(spark, tmp_path, fleet_export, skewed_export):
    from floodmark.spark import spark_backtest

    store = tmp_path / "store"
    fm.ingest_files(store, [fleet_export, skewed_export])
    options = dict(learn_days=5, method_params=PARAMS, model_folds=2, blocked_threshold=10.0)
    expected = fm.run_backtest(store, METHODS, chunk_rows=20_000, **options)
    got = spark_backtest(spark, store, METHODS, **options)
    assert_frame_equal(got.per_series, expected.per_series, rel_tol=1e-12)
    assert_frame_equal(got.table, expected.table, rel_tol=1e-12)
    meta, local = (dataclasses.asdict(m) for m in (got.meta, expected.meta))
    for drop in ("created_at",):
        meta.pop(drop), local.pop(drop)
    meta["parameters"].pop("chunk_rows"), local["parameters"].pop("chunk_rows")
    expected_fa = meta.pop("expected_false_alarms_per_object_day")
    local_fa = local.pop("expected_false_alarms_per_object_day")
    assert meta == local
    assert expected_fa.keys() == local_fa.keys()
    for method, levels in local_fa.items():
        assert expected_fa[method] == pytest.approx(levels, rel=1e-12)
