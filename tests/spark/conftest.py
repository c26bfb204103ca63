"""One local SparkSession for every Spark test (a JVM takes seconds to start), and fleets.

Spark tests carry ``pytestmark = SPARK`` (``spark_helpers``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

pytest.importorskip("pyspark", reason="the spark extra is not installed")

import floodmark as fm  # noqa: E402
from floodmark.io import write_vendor_export  # noqa: E402

#: Small on purpose: shuffles of a test fleet need few partitions, and the UI no port.
#: Every Spark test runs with little memory and a 1 MB cap on what tasks may send to
#: the driver: an engine function that collected samples (a partition, a series list)
#: instead of writing them would fail (test_spark_memory shows the cap bites).
TEST_CONF = {
    "spark.driver.maxResultSize": "1m",
    "spark.executor.memory": "512m",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "1g",
}


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from floodmark.spark import spark_session

    session = spark_session(
        "local[2]", TEST_CONF, scratch_dir=tmp_path_factory.mktemp("spark-scratch")
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def fleet_export(tmp_path_factory) -> Path:
    """A generated fleet: 6 objects x 7 days, every vector and metric."""
    path = tmp_path_factory.mktemp("fleet") / "fleet.parquet"
    fm.generate_fleet(path, objects=6, days=7, seed=3)
    return path


def _series(pid: str, vector: str, metric: str, n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    passed = rng.gamma(2.0, 500.0, n)
    blocked = np.where(rng.random(n) < 0.02, rng.gamma(2.0, 3000.0, n), 0.0)
    return pl.DataFrame(
        {
            "prediction_id": pid,
            "vector": vector,
            "metric": metric,
            "timestamp": [t0 + timedelta(minutes=5 * i) for i in range(n)],
            "passed": passed,
            "blocked": blocked,
        }
    )


@pytest.fixture(scope="session")
def skewed_export(tmp_path_factory) -> Path:
    """One object whose PT_TCP PPS is 20x longer than its other series, two objects of
    a single series each (one PT_TOTAL, one not), and labels on some series."""
    base = 7 * 288
    frames = [
        _series("big", "PT_TOTAL", "PPS", base, 1),
        _series("big", "PT_TCP", "PPS", 20 * base, 2),
        _series("big", "PT_UDP", "PPS", base, 3),
        _series("big", "PT_TOTAL", "BW", base, 4),
        _series("lone-total", "PT_TOTAL", "PPS", base, 5),
        _series("lone-udp", "PT_UDP", "BW", base // 2, 6),
    ]
    labels = pl.DataFrame(
        {
            "prediction_id": ["big", "lone-udp"],
            "vector": ["PT_TCP", "PT_UDP"],
            "metric": ["PPS", "BW"],
            "request_id": ["r1", "r2"],
            "ip_ss": [100.0, 5.0],
            "ip_sc": [200.0, 6.0],
            "ip_nw": [300.0, 7.0],
            "ip_rl": [400.0, 8.0],
        }
    )
    path = tmp_path_factory.mktemp("skewed") / "skewed.parquet"
    write_vendor_export(pl.concat(frames), path, series=labels)
    return path
