"""The partition files' format: what every reader sees, and stores written before."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from polars.testing import assert_frame_equal
from store_builders import T0, batch, partition_frame, series_frame

from floodmark.store import ingest, open_store
from floodmark.store.parquet import RowGroupFile, read_file, write_partition_file
from floodmark.store.tables import FILE_COLUMNS


def test_every_reader_sees_the_ids_as_plain_strings(tmp_path):
    path = tmp_path / "part-00000.parquet"
    frame = partition_frame(300, 3)
    write_partition_file(frame, path, row_group_rows=64)
    assert pq.ParquetFile(path).schema_arrow.field("prediction_id").type == pa.string()
    assert pl.read_parquet_schema(path)["prediction_id"] == pl.String
    assert_frame_equal(read_file(path), frame)
    ids = RowGroupFile(path).read(0, 300, ("prediction_id",))["prediction_id"]
    assert ids.type == pa.string()
    assert ids.to_pylist() == frame["prediction_id"].to_list()


def test_each_row_group_holds_its_own_ids_only(tmp_path):
    """A row group's id dictionary is its series, not the file's: a file with many
    series does not repeat all their ids in every row group."""
    path = tmp_path / "part-00000.parquet"
    frame = partition_frame(400, 5)
    write_partition_file(frame, path, row_group_rows=50)
    file = pq.ParquetFile(path, read_dictionary=["prediction_id"])
    for number in range(file.num_row_groups):
        ids = file.read_row_group(number, columns=["prediction_id"])["prediction_id"]
        rows = frame["prediction_id"].slice(50 * number, 50).unique(maintain_order=True)
        assert ids.combine_chunks().dictionary.to_pylist() == rows.to_list()


def test_timestamps_are_delta_encoded(tmp_path):
    """Regular series pack to almost nothing: the timestamp column of a 30-day series
    at 300 s takes a few bytes a row group, not 8 bytes a sample."""
    path = tmp_path / "part-00000.parquet"
    write_partition_file(partition_frame(8_640, 7), path, row_group_rows=4_096)
    meta = pq.ParquetFile(path).metadata
    for number in range(meta.num_row_groups):
        column = meta.row_group(number).column(FILE_COLUMNS.index("timestamp"))
        assert "DELTA_BINARY_PACKED" in column.encodings
        assert column.total_compressed_size < 1_000


def _rewrite_as_before(store_dir) -> None:
    """Rewrite every partition file as stores were written before (Polars' writer:
    ids dictionary-encoded from large strings, an Arrow schema stored)."""
    for path in (store_dir / "series").resolve().rglob("part-*.parquet"):
        frame = pl.read_parquet(path)
        path.unlink()  # a hard link may share its bytes with another version
        frame.write_parquet(path, compression="lz4", statistics=True, row_group_size=64)


def test_a_store_written_before_is_read_and_updated(tmp_path):
    store_dir = tmp_path / "store"
    old = [
        series_frame(f"obj{i}", "PT_NETFLOW", "BW", T0 + 300 * np.arange(200), [float(i)] * 200)
        for i in range(4)
    ]
    ingest(store_dir, batch(*old))
    _rewrite_as_before(store_dir)
    assert (
        pq.ParquetFile(next((store_dir / "series").resolve().rglob("part-*.parquet")))
        .schema_arrow.field("prediction_id")
        .type
        == pa.large_string()
    )
    # obj1 gets later samples (its file is rewritten), obj9 is new.
    update = [
        series_frame("obj1", "PT_NETFLOW", "BW", T0 + 300 * np.arange(200, 260), [7.0] * 60),
        series_frame("obj9", "PT_NETFLOW", "BW", T0 + 300 * np.arange(10), [9.0] * 10),
    ]
    ingest(store_dir, batch(*update))
    want = pl.concat(old + update).sort("prediction_id", "timestamp")
    got = open_store(store_dir).read_series()
    assert_frame_equal(got.select(want.columns), want)
