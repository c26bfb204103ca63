"""Spark features equal the single-machine engine's, bit for bit (same kernels)."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from spark_helpers import SPARK, collected

import floodmark as fm
from floodmark.features import find_super_peaks

pytestmark = SPARK


def _local_store(tmp_path, export):
    store = tmp_path / "store"
    fm.ingest_files(store, [export])
    return store


@pytest.mark.parametrize("export", ["fleet_export", "skewed_export"])
def test_features_equal_the_single_machine_engine(spark, tmp_path, export, request):
    from floodmark.spark import spark_features, store_samples

    store = _local_store(tmp_path, request.getfixturevalue(export))
    samples = fm.open_store(store).scan().collect()
    expected = fm.compute_features(samples, blocked_threshold=10.0)
    result = spark_features(store_samples(spark, store), blocked_threshold=10.0)
    got = collected(result.features)
    assert_frame_equal(got, expected)  # bit for bit: the kernels are the same
    peaks = collected(result.super_peaks, [*fm.schema.KEY_COLUMNS, "timestamp"])
    expected_peaks = find_super_peaks(samples, blocked_threshold=10.0)
    assert peaks.height == expected_peaks.height
    assert_frame_equal(peaks, expected_peaks)


def test_median_share_is_finished_across_the_objects_series(spark, tmp_path, skewed_export):
    """total_val_median_share needs the object's PT_TOTAL, computed in another group."""
    from floodmark.spark import spark_features, store_samples

    store = _local_store(tmp_path, skewed_export)
    got = collected(spark_features(store_samples(spark, store)).features)
    share = dict(
        zip(
            got.select(pl.concat_str(fm.schema.KEY_COLUMNS, separator="/")).to_series(),
            got["total_val_median_share"],
            strict=True,
        )
    )
    assert share["big/PT_TOTAL/PPS"] == 1.0
    assert 0 < share["big/PT_TCP/PPS"] < float("inf")
    assert share["lone-total/PT_TOTAL/PPS"] == 1.0
    assert share["lone-udp/PT_UDP/BW"] != share["lone-udp/PT_UDP/BW"]  # NaN: no PT_TOTAL
