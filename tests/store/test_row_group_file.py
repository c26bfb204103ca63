"""RowGroupFile: a row range read from an open file by row groups is the Polars read."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from store_builders import partition_frame

from floodmark.store.parquet import RowGroupFile, read_rows, write_partition_file
from floodmark.store.tables import FILE_COLUMNS


@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(0, 400),
    row_group_rows=st.integers(1, 130),
    bounds=st.tuples(st.integers(-3, 420), st.integers(-3, 420)),
    columns=st.sampled_from([FILE_COLUMNS, ("timestamp", "passed", "blocked"), ("blocked",)]),
    seed=st.integers(0, 2**16),
    max_decode_rows=st.sampled_from([RowGroupFile.MAX_DECODE_ROWS, 40]),
)
def test_a_row_range_by_row_groups_is_the_polars_read(
    rows, row_group_rows, bounds, columns, seed, max_decode_rows
):
    start, stop = sorted(bounds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "part-00000.parquet"
        write_partition_file(partition_frame(rows, seed), path, row_group_rows=row_group_rows)
        opened = RowGroupFile(path, max_decode_rows=max_decode_rows)
        for first, last in ((start, stop), (0, rows), (max(start, 0), max(start, 0) + 1)):
            got = pl.from_arrow(opened.read(first, last, columns))
            clipped = min(max(first, 0), rows), min(max(last, 0), rows)
            want = read_rows(path, *clipped).select(columns)
            assert_frame_equal(got, want)


def test_a_file_stays_readable_once_a_newer_version_has_removed_it(tmp_path):
    path = tmp_path / "part-00000.parquet"
    frame = partition_frame(300, 1)
    write_partition_file(frame, path, row_group_rows=64)
    opened = RowGroupFile(path)
    opened.read(0, 1)
    path.unlink()  # as an ingest removes the version this server opened
    assert_frame_equal(pl.from_arrow(opened.read(100, 200)), frame.slice(100, 100))
