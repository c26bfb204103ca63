"""``--engine spark`` on ingest, features, recommend and backtest writes what the local
engine writes, and every other command reads it unchanged."""

from __future__ import annotations

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from spark_helpers import SPARK
from typer.testing import CliRunner

import floodmark as fm
from floodmark.cli import app

pytestmark = [*SPARK, pytest.mark.slow]

runner = CliRunner()
SPARK_ARGS = ["--engine", "spark", "--spark-master", "local[2]", "--spark-conf",
              "spark.sql.shuffle.partitions=4"]  # fmt: skip


def _run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def test_the_flow_on_spark_writes_what_the_local_engine_writes(spark, tmp_path, fleet_export):
    out = {engine: tmp_path / engine for engine in ("local", "spark")}
    for engine, folder in out.items():
        extra = SPARK_ARGS if engine == "spark" else []
        store, features = str(folder / "store"), str(folder / "features.parquet")
        _run("ingest", str(fleet_export), "--store", store, *extra)
        _run("features", "--store", store, "--out", features, *extra)
        _run("train", "--store", store, "--features", features, "--out", str(folder / "model"),
             "--folds", "0")  # fmt: skip
        for method in ("rule-daily", "model", "default"):
            model = ["--model", str(folder / "model")] if method == "model" else []
            _run("recommend", "--store", store, "--features", features, "--method", method,
                 *model, "--out", str(folder / f"{method}.csv"), *extra)  # fmt: skip
        _run("backtest", "--store", store, "--methods", "rule-max", "--learn-days", "5",
             "--out", str(folder / "backtest.json"), *extra)  # fmt: skip
    local, spark_side = (fm.open_store(out[e] / "store") for e in ("local", "spark"))
    assert_frame_equal(spark_side.catalog(), local.catalog())
    assert_frame_equal(spark_side.scan().collect(), local.scan().collect())
    for name in ("features.parquet", "features.super_peaks.parquet"):
        assert_frame_equal(
            pl.read_parquet(out["spark"] / name), pl.read_parquet(out["local"] / name)
        )
    for method in ("rule-daily", "model", "default"):
        assert_frame_equal(
            pl.read_csv(out["spark"] / f"{method}.csv"), pl.read_csv(out["local"] / f"{method}.csv")
        )
    spark_json, local_json = (orjson.loads((out[e] / "backtest.json").read_bytes()) for e in out)
    assert spark_json["table"] == local_json["table"]
    assert spark_json["per_series"] == local_json["per_series"]
    # what Spark wrote is read by the other commands unchanged
    written = out["spark"]
    _run(
        "report",
        "--store",
        str(written / "store"),
        "--features",
        str(written / "features.parquet"),
        "--thresholds",
        str(written / "model.csv"),
        "--backtest",
        str(written / "backtest.json"),
        "--out",
        str(tmp_path / "r.html"),
    )
    assert (tmp_path / "r.html").stat().st_size > 0
