"""On real public traces, Spark's store, features and thresholds equal the local ones.

Two NAB AWS series (one with 11 duplicate timestamps and a gap) as two objects, and a
Cortez ISP link as a third, written as one vendor export.
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from spark_helpers import SPARK, collected

import floodmark as fm
from floodmark.io import read_series_csv, write_vendor_export
from floodmark.thresholds.recommend import recommend_by_name

pytestmark = SPARK

TRACES = [
    ("nab-aws-network/ec2_network_in_5abac7.csv", "ec2-5abac7", "PT_TOTAL", "BW"),
    ("nab-aws-network/elb_request_count_8c0756.csv", "elb-8c0756", "PT_TCP", "PPS"),
    ("cortez-isp-traffic/internet-traffic-data-in-bits-fr_EU_5m.csv", "isp-eu", "PT_TOTAL", "BW"),
]


@pytest.fixture(scope="module")
def trace_export(shared_data, tmp_path_factory):
    samples = pl.concat(
        [
            read_series_csv(shared_data / f, prediction_id=p, vector=v, metric=m).samples
            for f, p, v, m in TRACES
        ]
    )
    path = tmp_path_factory.mktemp("traces") / "traces.parquet"
    write_vendor_export(samples, path)
    return path


def test_store_features_and_thresholds_equal_on_public_traces(spark, tmp_path, trace_export):
    from floodmark.spark import spark_features, spark_ingest, spark_recommend, store_samples

    local_summary = fm.ingest_files(tmp_path / "local", [trace_export])
    assert spark_ingest(spark, tmp_path / "spark", [trace_export]) == local_summary
    local, spark_store = fm.open_store(tmp_path / "local"), fm.open_store(tmp_path / "spark")
    assert_frame_equal(spark_store.catalog(), local.catalog())
    assert_frame_equal(spark_store.scan().collect(), local.scan().collect())

    expected = fm.compute_features(local.scan().collect())
    samples = store_samples(spark, spark_store.path)
    got = collected(spark_features(samples).features)
    assert_frame_equal(got, expected)
    steps = local.catalog().select("prediction_id", "vector", "metric", "median_step_s")
    for method in ("rule-max", "rule-daily", "evt"):
        want = recommend_by_name(local, expected, method).sort("prediction_id", "vector", "metric")
        table = spark_recommend(
            spark.createDataFrame(expected.to_arrow()),
            method,
            samples=samples,
            steps=spark.createDataFrame(steps.to_arrow()),
        )
        assert_frame_equal(collected(table), want)
