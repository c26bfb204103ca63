"""Writing partition files, and reading them back by row range."""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from floodmark.store.layout import fsync_file
from floodmark.store.tables import FILE_COLUMNS

#: How a partition file is written: the ids as a dictionary Arrow hands over as it is
#: (no hashing of strings), the timestamps delta-encoded (a regular series packs to
#: almost nothing), the values plain. No Arrow schema is stored, so every reader
#: (Polars, PyArrow, Spark) sees the ids as a plain string column.
_WRITE_SCHEMA = pa.schema(
    [
        ("prediction_id", pa.dictionary(pa.int32(), pa.string())),
        ("timestamp", pa.timestamp("us", "UTC")),
        ("passed", pa.float64()),
        ("blocked", pa.float64()),
    ]
)


def write_partition_file(df: pl.DataFrame, path: Path, *, row_group_rows: int) -> None:
    """Write one sorted partition file from a ``FILE_COLUMNS`` frame (``write_series_file``)."""
    runs = df.select(pl.col("prediction_id").rle()).unnest("prediction_id")
    counts = runs["len"].to_list()
    starts = np.cumsum(counts) - counts
    columns = []
    for name in FILE_COLUMNS[1:]:
        values = df[name].to_arrow()
        columns.append([values.slice(s, n) for s, n in zip(starts.tolist(), counts, strict=True)])
    write_series_file(runs["value"].to_list(), columns, path, row_group_rows=row_group_rows)


def write_series_file(
    ids: list[str],
    columns: Sequence[Sequence[pa.Array]],
    path: Path,
    *,
    row_group_rows: int,
) -> None:
    """Write one sorted partition file: ``columns[k][i]`` is series ``ids[i]``'s part of
    column ``k`` (timestamp, passed, blocked; see ``arrow_view`` for arrays in memory).

    The same ids and values give the same bytes (no timestamps inside), wherever the
    parts come from. LZ4, not zstd: reading back, the first step of every feature
    run, takes 40 % less time. Statistics on the timestamp column only: the store reads
    row ranges (its index) and never filters on values; a time filter of a scan may
    skip row groups. (Statistics of the id column cost a sixth of the writer's time.)
    """
    counts = np.array([len(part) for part in columns[0]], dtype=np.int64)
    chunked = [
        pa.chunked_array(parts, kind)
        for parts, kind in zip(columns, _WRITE_SCHEMA.types[1:], strict=True)
    ]
    codes = np.repeat(np.arange(len(ids), dtype=np.int32), counts)
    dictionary = pa.array(ids, pa.string())
    with pq.ParquetWriter(
        path,
        _WRITE_SCHEMA,
        compression="lz4",
        use_dictionary=["prediction_id"],
        column_encoding={"timestamp": "DELTA_BINARY_PACKED"},
        write_statistics=["timestamp"],
        store_schema=False,
    ) as writer:
        for start in range(0, codes.size, row_group_rows):
            stop = min(start + row_group_rows, codes.size)
            # Each row group's dictionary holds its own ids only.
            first, last = int(codes[start]), int(codes[stop - 1])
            group_ids = pa.DictionaryArray.from_arrays(
                pa.array(codes[start:stop] - first), dictionary.slice(first, last - first + 1)
            )
            group = [group_ids] + [c.slice(start, stop - start) for c in chunked]
            writer.write_table(
                pa.Table.from_arrays(group, schema=_WRITE_SCHEMA), row_group_size=row_group_rows
            )
    fsync_file(path)


def arrow_view(values: np.ndarray, column: str) -> pa.Array:
    """A contiguous numpy array as column ``column``'s Arrow array, without a copy
    (timestamps as epoch microseconds)."""
    kind = _WRITE_SCHEMA.field(column).type
    return pa.Array.from_buffers(kind, values.size, [None, pa.py_buffer(values)])


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
