"""Writing partition files, and reading them back by row range."""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from itertools import accumulate
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

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
    rows are decoded. It opens the file each time: for many reads of one file (the
    server's), ``RowGroupFile`` keeps it open.
    """
    return scan_files(Path(path)).slice(start, stop - start).select(columns)


class RowGroupFile:
    """A partition file held open, read by row range a row group at a time.

    For many small reads of one file (the server's series requests): the file's
    footer is parsed once, and a read decodes only the row groups holding its rows
    and columns (Polars only the pages, where those row groups are large). Files of
    any row-group size read alike: the sizes come from the file's metadata. The store
    never changes a file it wrote, so a mapped file stays valid after a newer store
    version has replaced it. Thread-safe.
    """

    #: Above this many rows to decode, Polars' slice of the pages reads faster (row groups
    #: of a million rows, as stores were written before: 2.4 ms a series, not 6.2 ms).
    MAX_DECODE_ROWS = 262_144

    def __init__(self, path: str | Path, *, max_decode_rows: int = MAX_DECODE_ROWS) -> None:
        self.path = str(path)
        self.max_decode_rows = max_decode_rows
        self.file = pq.ParquetFile(self.path, memory_map=True)
        self._lock = threading.Lock()  # one reader per file handle at a time
        meta = self.file.metadata
        #: Row index at which each row group starts, and the number of rows after the last.
        self.starts = list(
            accumulate((meta.row_group(i).num_rows for i in range(meta.num_row_groups)), initial=0)
        )

    @property
    def num_rows(self) -> int:
        return self.starts[-1]

    def read(self, start: int, stop: int, columns: tuple[str, ...] = FILE_COLUMNS) -> pa.Table:
        """Rows ``[start, stop)`` (clipped to the file), ``columns`` of them."""
        start, stop = max(start, 0), min(stop, self.num_rows)
        if stop <= start:
            return self.file.schema_arrow.empty_table().select(list(columns))
        first = bisect_right(self.starts, start) - 1
        last = bisect_left(self.starts, stop)
        if self.starts[last] - self.starts[first] > self.max_decode_rows:
            return scan_rows(self.path, start, stop, columns).collect().to_arrow()
        # One thread: a series spans a row group or two, and requests run side by side.
        with self._lock:
            table = self.file.read_row_groups(
                range(first, last), columns=list(columns), use_threads=False
            )
        return table.slice(start - self.starts[first], stop - start)
