"""Writing partition files, and reading them back by row range."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from floodmark.store.layout import fsync_file
from floodmark.store.tables import FILE_COLUMNS


def write_partition_file(df: pl.DataFrame, path: Path, *, row_group_rows: int) -> None:
    """Write one sorted partition file; same data gives the same bytes (no timestamps inside).

    LZ4, not zstd: files 1.7x larger, but reading them back, the first step of
    every feature run, took 40 % less time (a 344 k-row file: 2.7 ms, not 4.5 ms).
    """
    df.select(FILE_COLUMNS).write_parquet(
        path, compression="lz4", statistics=True, row_group_size=row_group_rows
    )
    fsync_file(path)


def scan_files(paths: Path | list[Path]) -> pl.LazyFrame:
    """Scan store files by exact path: a store path may contain ``*``, ``[`` or ``k=v``."""
    return pl.scan_parquet(paths, glob=False, hive_partitioning=False)


def read_file(path: Path) -> pl.DataFrame:
    return scan_files(path).collect()


def read_rows(path: str | Path, start: int, stop: int) -> pl.DataFrame:
    """Rows ``[start, stop)`` of a partition file."""
    return scan_rows(path, start, stop).collect()


def scan_rows(
    path: str | Path, start: int, stop: int, columns: tuple[str, ...] = FILE_COLUMNS
) -> pl.LazyFrame:
    """Rows ``[start, stop)`` of a partition file (``columns`` of it), lazily.

    Polars pushes the slice into the Parquet reader, so only the pages holding those
    rows are decoded (measured ~20x faster than reading the row groups with pyarrow).
    """
    return scan_files(Path(path)).slice(start, stop - start).select(columns)
