"""A Spark ingest writes the store, catalog and quarantine the single-machine one writes."""

from __future__ import annotations

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal
from spark_helpers import SPARK

import floodmark as fm
from floodmark.errors import SeriesDefect

pytestmark = SPARK


@pytest.fixture(scope="module")
def broken_export(tmp_path_factory, skewed_export):
    """The skewed export plus broken rows and a series repeated later in the file."""
    table = pl.read_parquet(skewed_export)
    good = table.row(1, named=True)
    extra = [
        {**good, "time_series": "not base64 !!"},
        {**good, "vector": "PT_NOPE"},
        {**good, "prediction_id": "  "},
        {**good, "time_series": "H4sIAAAAAAAA"},  # truncated gzip
        {**table.row(0, named=True)},  # PT_TOTAL PPS of "big" again: later wins, repaired
    ]
    path = tmp_path_factory.mktemp("broken") / "broken.parquet"
    pq.write_table(pl.concat([table, pl.DataFrame(extra, schema=table.schema)]).to_arrow(), path)
    return path


def _stores_equal(spark_store, local_store):
    spark_side, local_side = fm.open_store(spark_store), fm.open_store(local_store)
    assert_frame_equal(spark_side.catalog(), local_side.catalog())
    assert_frame_equal(
        spark_side.quarantine().drop("ingested_at"), local_side.quarantine().drop("ingested_at")
    )
    assert_frame_equal(spark_side.scan().collect(), local_side.scan().collect())
    assert_frame_equal(spark_side.index(), local_side.index())


@pytest.mark.parametrize("export", ["fleet_export", "skewed_export", "broken_export"])
def test_store_catalog_and_quarantine_equal_the_single_machine_ingest(
    spark, tmp_path, export, request
):
    from floodmark.spark.ingest import spark_ingest

    path = request.getfixturevalue(export)
    local = fm.ingest_files(tmp_path / "local", [path])
    summary = spark_ingest(spark, tmp_path / "spark", [path], batch_rows=3)
    assert summary == local
    _stores_equal(tmp_path / "spark", tmp_path / "local")


def test_broken_rows_are_quarantined_with_their_reason_and_row(spark, tmp_path, broken_export):
    from floodmark.spark.ingest import spark_ingest

    summary = spark_ingest(spark, tmp_path / "store", [broken_export])
    assert summary.quarantined == {
        "bad_base64": 1,
        "bad_gzip": 1,
        "missing_key": 1,
        "unknown_vector": 1,
    }
    assert summary.repaired_duplicates > 0  # the repeated series
    rows = fm.open_store(tmp_path / "store").quarantine()["row"].to_list()
    assert sorted(rows) == [6, 7, 8, 9]


def test_strict_stops_at_the_first_broken_row_and_writes_nothing(spark, tmp_path, broken_export):
    from floodmark.spark.ingest import spark_ingest

    with pytest.raises(SeriesDefect, match="row 6") as caught:
        spark_ingest(spark, tmp_path / "store", [broken_export], errors="raise")
    assert caught.value.reason == "bad_base64"
    assert not (tmp_path / "store").exists()


def test_a_second_export_merges_into_the_store_as_locally(
    spark, tmp_path, fleet_export, broken_export
):
    from floodmark.spark.ingest import spark_ingest

    fm.ingest_files(tmp_path / "local", [fleet_export])
    fm.ingest_files(tmp_path / "local", [broken_export])
    spark_ingest(spark, tmp_path / "spark", [fleet_export])
    spark_ingest(spark, tmp_path / "spark", [broken_export])
    _stores_equal(tmp_path / "spark", tmp_path / "local")
