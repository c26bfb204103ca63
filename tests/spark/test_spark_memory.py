"""The Spark engine never brings samples to the driver.

The shared session caps what tasks may send to the driver at 1 MB
(``spark.driver.maxResultSize``, conftest) and runs in 1 GB; in local mode the
executor is the driver JVM, so memory alone proves little: the cap does. The fleet
here holds far more than 1 MB of samples, and collecting them fails; the whole flow
(ingest, features, recommend, backtest) on the same session succeeds.
"""

from __future__ import annotations

import polars as pl
import pytest
from spark_helpers import SPARK

import floodmark as fm

pytestmark = [*SPARK, pytest.mark.slow]

BYTES_PER_SAMPLE = 8 * 3  # timestamp, passed, blocked: the least a collected sample costs


def test_the_flow_runs_where_collecting_the_samples_fails(spark, tmp_path, fleet_export):
    from floodmark.spark import (
        spark_backtest,
        spark_features,
        spark_ingest,
        spark_recommend,
        store_samples,
    )
    from floodmark.spark.output import write_spark_table

    store = tmp_path / "store"
    spark_ingest(spark, store, [fleet_export])
    n_samples = int(fm.open_store(store).catalog()["n_samples"].sum())
    assert n_samples * BYTES_PER_SAMPLE > 4 * 2**20  # 4x the cap at least
    samples = store_samples(spark, store)
    with pytest.raises(Exception, match="maxResultSize"):
        samples.collect()  # the cap is real: a collected fleet fails

    features = spark_features(samples)
    n_series = write_spark_table(features.features, tmp_path / "f.parquet", ["prediction_id"])
    assert n_series == fm.open_store(store).catalog().height
    steps = fm.open_store(store).catalog().select("prediction_id", "vector", "metric",
                                                  "median_step_s")  # fmt: skip
    thresholds = spark_recommend(
        spark.read.parquet(str(tmp_path / "f.parquet")),
        "evt",
        samples=samples,
        steps=spark.createDataFrame(steps.to_arrow()),
    )
    assert write_spark_table(thresholds, tmp_path / "t.parquet", ["prediction_id"]) == n_series
    assert pl.read_parquet(tmp_path / "t.parquet")["nw"].is_not_null().all()
    result = spark_backtest(spark, store, ["rule-max"], learn_days=5)
    assert result.meta.n_series == n_series
    assert result.meta.n_series_tested > 0 and result.table.height == 4  # rule-max x levels
