"""Cut a store into chunks of complete series, to read in this process or in workers.

The store's index says where every series' rows are, so a chunk plan is computed
without reading any sample, and a chunk is a list of row ranges that a worker
process can read by itself (``read_chunk``): the parent ships paths, not data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from floodmark.schema import LONG_SCHEMA
from floodmark.store.layout import partition_dir
from floodmark.store.parquet import read_rows


@dataclass(frozen=True)
class ChunkPiece:
    """Rows ``[row_start, row_stop)`` of one partition file: whole series only."""

    path: str
    vector: str
    metric: str
    row_start: int
    row_stop: int
    first_id: str  # prediction_id of the first and last series in the range
    last_id: str


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
    rows = index.sort("vector", "metric", "file", "row_offset").iter_rows(named=True)
    chunks: list[ChunkSpec] = []
    pieces: list[ChunkPiece] = []
    n_rows = n_series = 0
    for row in rows:
        if n_rows and n_rows + row["n_rows"] > max_rows:
            chunks.append(ChunkSpec(tuple(pieces), n_rows, n_series))
            pieces, n_rows, n_series = [], 0, 0
        path = str(partition_dir(series_dir, row["vector"], row["metric"]) / row["file"])
        start, stop = row["row_offset"], row["row_offset"] + row["n_rows"]
        last = pieces[-1] if pieces else None
        if last is not None and last.path == path and last.row_stop == start:
            pieces[-1] = ChunkPiece(
                path,
                last.vector,
                last.metric,
                last.row_start,
                stop,
                last.first_id,
                row["prediction_id"],
            )
        else:
            pieces.append(
                ChunkPiece(
                    path,
                    row["vector"],
                    row["metric"],
                    start,
                    stop,
                    row["prediction_id"],
                    row["prediction_id"],
                )
            )
        n_rows += row["n_rows"]
        n_series += 1
    if pieces:
        chunks.append(ChunkSpec(tuple(pieces), n_rows, n_series))
    return chunks


def read_chunk(spec: ChunkSpec) -> pl.DataFrame:
    """Read one chunk as a LONG_SCHEMA frame, in store order (any process may call it)."""
    frames = [
        read_rows(p.path, p.row_start, p.row_stop).with_columns(
            pl.lit(p.vector).alias("vector"), pl.lit(p.metric).alias("metric")
        )
        for p in spec.pieces
    ]
    if not frames:
        return pl.DataFrame(schema=LONG_SCHEMA)
    return pl.concat(frames, how="vertical").select(LONG_SCHEMA.keys()).cast(LONG_SCHEMA)


def iter_chunk_frames(plan: list[ChunkSpec]) -> Iterator[pl.DataFrame]:
    """Read a plan chunk by chunk: memory holds one chunk (plus the pages being decoded)."""
    for spec in plan:
        yield read_chunk(spec)
