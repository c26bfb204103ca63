"""Cut a store into chunks of complete series, to read in this process or in workers.

The store's index says where every series' rows are, so a chunk plan is computed
without reading any sample, and a chunk is a list of row ranges that a worker
process can read by itself (``read_chunk``): the parent ships paths, not data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA
from floodmark.store.layout import partition_dir
from floodmark.store.parquet import scan_rows

#: The sample columns ``read_chunk_runs`` reads.
VALUE_COLUMNS: tuple[str, ...] = ("timestamp", "passed", "blocked")


@dataclass(frozen=True)
class ChunkPiece:
    """Rows ``[row_start, row_stop)`` of one partition file: whole series only."""

    path: str
    vector: str
    metric: str
    row_start: int
    row_stop: int
    series_ids: tuple[str, ...]  # prediction_id of each series in the range, in row order
    series_rows: tuple[int, ...]  # and its number of rows


@dataclass(frozen=True)
class ChunkSpec:
    """One chunk: whole series from one or more partition files (picklable)."""

    pieces: tuple[ChunkPiece, ...]
    n_rows: int
    n_series: int


def plan_chunks(index: pl.DataFrame, series_dir: Path, max_rows: int) -> list[ChunkSpec]:
    """Pack series, in store order, into chunks of at most ``max_rows`` rows.

    A series is never split; one larger than ``max_rows`` is a chunk by itself.
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    ordered = index.sort("vector", "metric", "file", "row_offset")
    columns = ("vector", "metric", "file", "prediction_id", "row_offset", "n_rows")
    chunks: list[ChunkSpec] = []
    pieces: list[_Piece] = []
    n_rows = n_series = 0
    for vector, metric, file, pid, start, size in ordered.select(columns).iter_rows():
        if n_rows and n_rows + size > max_rows:
            chunks.append(_freeze(pieces, series_dir, n_rows, n_series))
            pieces, n_rows, n_series = [], 0, 0
        if not pieces or not pieces[-1].continued_by(vector, metric, file, start):
            pieces.append(_Piece(vector, metric, file, start, start))
        pieces[-1].add(pid, size)
        n_rows += size
        n_series += 1
    if pieces:
        chunks.append(_freeze(pieces, series_dir, n_rows, n_series))
    return chunks


@dataclass
class _Piece:
    """A ``ChunkPiece`` being packed: consecutive series of one file."""

    vector: str
    metric: str
    file: str
    row_start: int
    row_stop: int
    ids: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def continued_by(self, vector: str, metric: str, file: str, start: int) -> bool:
        return (self.vector, self.metric, self.file, self.row_stop) == (vector, metric, file, start)

    def add(self, prediction_id: str, size: int) -> None:
        self.row_stop += size
        self.ids.append(prediction_id)
        self.rows.append(size)


def _freeze(pieces: list[_Piece], series_dir: Path, n_rows: int, n_series: int) -> ChunkSpec:
    frozen = tuple(
        ChunkPiece(
            str(partition_dir(series_dir, p.vector, p.metric) / p.file),
            p.vector,
            p.metric,
            p.row_start,
            p.row_stop,
            tuple(p.ids),
            tuple(p.rows),
        )
        for p in pieces
    )
    return ChunkSpec(frozen, n_rows, n_series)


def read_chunk(spec: ChunkSpec) -> pl.DataFrame:
    """Read one chunk as a LONG_SCHEMA frame, in store order (any process may call it)."""
    if not spec.pieces:
        return pl.DataFrame(schema=LONG_SCHEMA)
    pieces = [
        scan_rows(p.path, p.row_start, p.row_stop).with_columns(
            pl.lit(p.vector).alias("vector"), pl.lit(p.metric).alias("metric")
        )
        for p in spec.pieces
    ]
    # One query for all pieces: planned once (a query per piece cost ~1 ms each).
    return pl.concat(pieces, how="vertical").select(LONG_SCHEMA.keys()).cast(LONG_SCHEMA).collect()


def read_chunk_runs(spec: ChunkSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read one chunk as runs: the series, and their samples one series after another.

    The first frame has the key columns and ``n_samples`` of each series, in row
    order; the second ``timestamp, passed, blocked``, each series' rows
    consecutive and in time order. Skips the per-row key strings ``read_chunk``
    builds (about half its time), for engines that key samples by position.
    """
    keys = pl.DataFrame(
        {
            "prediction_id": [i for p in spec.pieces for i in p.series_ids],
            "vector": [p.vector for p in spec.pieces for _ in p.series_ids],
            "metric": [p.metric for p in spec.pieces for _ in p.series_ids],
            "n_samples": [n for p in spec.pieces for n in p.series_rows],
        },
        schema={**{k: pl.String() for k in KEY_COLUMNS}, "n_samples": pl.Int64()},
    )
    if not spec.pieces:
        return keys, pl.DataFrame(schema={c: LONG_SCHEMA[c] for c in VALUE_COLUMNS})
    pieces = [scan_rows(p.path, p.row_start, p.row_stop, VALUE_COLUMNS) for p in spec.pieces]
    return keys, pl.concat(pieces, how="vertical").collect()  # one query: planned once


def iter_chunk_frames(plan: list[ChunkSpec]) -> Iterator[pl.DataFrame]:
    """Read a plan chunk by chunk: memory holds one chunk (plus the pages being decoded)."""
    for spec in plan:
        yield read_chunk(spec)
