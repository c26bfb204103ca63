"""Spark thresholds equal the single-machine ones for every method."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from spark_helpers import SPARK, collected

import floodmark as fm
from floodmark.thresholds.model import train_model
from floodmark.thresholds.recommend import recommend_by_name

pytestmark = SPARK


@pytest.fixture(scope="module", params=["fleet_export", "skewed_export"])
def stored(request, tmp_path_factory):
    store = tmp_path_factory.mktemp("recommend") / "store"
    fm.ingest_files(store, [request.getfixturevalue(request.param)])
    opened = fm.open_store(store)
    return opened, fm.compute_features(opened.scan().collect())


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("rule-max", {}),
        ("rule-daily", {}),
        ("rule-daily", {"variant": "p95"}),
        ("rule-p95", {}),
        ("evt", {}),
        ("budget", {}),  # fitted once over the fleet, as locally
    ],
)
def test_per_series_methods_equal_the_single_machine_ones(spark, stored, method, params):
    from floodmark.spark import spark_recommend, store_samples

    store, features = stored
    expected = recommend_by_name(store, features, method, params=params, chunk_rows=5_000)
    got = spark_recommend(
        spark.createDataFrame(features.to_arrow()),
        method,
        samples=store_samples(spark, store.path),
        steps=spark.createDataFrame(
            store.catalog().select("prediction_id", "vector", "metric", "median_step_s").to_arrow()
        ),
        params=params,
    )
    assert_frame_equal(collected(got), expected.sort(list(fm.schema.KEY_COLUMNS)))


def test_a_trained_model_predicts_on_the_executors_as_locally(spark, tmp_path, fleet_export):
    from floodmark.spark import spark_recommend

    store_dir = tmp_path / "store"
    fm.ingest_files(store_dir, [fleet_export])
    store = fm.open_store(store_dir)
    features = fm.compute_features(store.scan().collect())
    train_model(
        features, store.catalog(), tmp_path / "model", folds=0, n_estimators=30, min_child_samples=5
    )
    expected = recommend_by_name(store, features, "model", model_dir=tmp_path / "model")
    got = spark_recommend(
        spark.createDataFrame(features.to_arrow()), "model", model_dir=tmp_path / "model"
    )
    assert_frame_equal(collected(got), expected.sort(list(fm.schema.KEY_COLUMNS)))


@pytest.mark.parametrize("stored", ["fleet_export"], indirect=True)
def test_the_default_of_a_store_is_fitted_over_the_fleet_as_locally(spark, stored, tmp_path):
    from floodmark.spark.recommend import recommend_store
    from floodmark.thresholds import resolve_method

    store, features = stored
    features.write_parquet(tmp_path / "features.parquet")
    default = resolve_method("default", store.catalog())
    expected = recommend_by_name(store, features, default, chunk_rows=5_000)
    out = tmp_path / "thresholds.parquet"
    assert recommend_store(spark, store, tmp_path / "features.parquet", "default", out) > 0
    got = pl.read_parquet(out).sort(list(fm.schema.KEY_COLUMNS))
    assert_frame_equal(got, expected.sort(list(fm.schema.KEY_COLUMNS)))
    assert got["method"].unique().to_list() == [default]
