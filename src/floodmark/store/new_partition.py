"""Write a partition the store does not hold yet, from whole-series blocks.

With nothing stored and every series coming once, in time order (what readers
give: a vendor row is one whole series, sorted, its duplicates repaired), the
general merge has nothing to do: no sample is older or newer than another. The
partition is then the blocks put in id order — a permutation of series, not a sort
of samples — cut into the same files the merge would write, with counts, index
and statistics taken per block. The files are byte for byte the merge's.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import polars as pl

from floodmark.io.series_blocks import COLUMNS, Arrays, MappedFiles, timestamp_series
from floodmark.store.incoming import IncomingPartition
from floodmark.store.merge import PartitionResult, file_name, plan_groups
from floodmark.store.parquet import arrow_view, write_series_file
from floodmark.store.tables import INDEX_SCHEMA, STATS_SCHEMA


def takes(incoming: IncomingPartition, old_index: pl.DataFrame) -> bool:
    """Whether ``write_new_partition`` gives exactly what the general merge would."""
    return old_index.height == 0 and incoming.in_order and incoming.series_unique()


def write_new_partition(
    vector: str,
    metric: str,
    incoming: IncomingPartition,
    *,
    new_dir: Path,
    max_file_rows: int,
    row_group_rows: int,
) -> PartitionResult:
    """Write ``incoming`` (see ``takes``) as the partition's files in ``new_dir``."""
    new_dir.mkdir(parents=True, exist_ok=True)
    order = sorted(range(len(incoming.ids)), key=incoming.ids.__getitem__)
    sizes = pl.DataFrame(
        {
            "prediction_id": [incoming.ids[b] for b in order],
            "n_in": [incoming.counts[b] for b in order],
        },
        schema={"prediction_id": pl.String(), "n_in": pl.Int64()},
    )
    index_parts, stats_parts = [], []
    at = 0
    for number, group in enumerate(plan_groups(None, sizes, max_file_rows)):
        blocks = order[at : at + len(group.ids)]
        at += len(group.ids)
        name = file_name(number)
        index, stats = _write_file(incoming, blocks, new_dir / name, row_group_rows)
        index_parts.append(
            index.with_columns(vector=pl.lit(vector), metric=pl.lit(metric), file=pl.lit(name))
        )
        stats_parts.append(stats.with_columns(vector=pl.lit(vector), metric=pl.lit(metric)))
    return PartitionResult(
        index=pl.concat(index_parts).select(INDEX_SCHEMA.keys()).cast(INDEX_SCHEMA),
        stats=pl.concat(stats_parts).select(STATS_SCHEMA.keys()).cast(STATS_SCHEMA),
        changes=sizes.select("prediction_id", n_new="n_in", n_changed=pl.lit(0, pl.Int64)),
        files_written=len(index_parts),
        repaired=0,
    )


def _write_file(
    incoming: IncomingPartition, blocks: list[int], path: Path, row_group_rows: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One file of whole series; its index rows and per-series statistics."""
    ids = [incoming.ids[b] for b in blocks]
    counts = np.array([incoming.counts[b] for b in blocks], dtype=np.int64)
    # The blocks are handed to the writer as views of the block files, mapped while
    # this file is written: no copy into fresh memory.
    with MappedFiles() as maps:
        first, last, steps = _write_views(
            ids, incoming.view_blocks(blocks, maps), path, row_group_rows
        )
    id_column = pl.Series("prediction_id", ids, dtype=pl.String)
    starts = np.cumsum(counts) - counts
    index = pl.DataFrame({"prediction_id": id_column, "row_offset": starts, "n_rows": counts})
    stats = pl.DataFrame(
        [
            id_column,
            pl.Series("n_samples", counts),
            timestamp_series(first).alias("first_timestamp"),
            timestamp_series(last).alias("last_timestamp"),
            pl.Series("median_step_s", steps).fill_nan(None),
        ]
    )
    return index, stats


def _write_views(
    ids: list[str], views: list[Arrays], path: Path, row_group_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write the file; each block's first and last timestamp and median step (its
    views are gone when this returns, so the files can be unmapped)."""
    columns = [[arrow_view(view[k], name) for view in views] for k, name in enumerate(COLUMNS)]
    write_series_file(ids, columns, path, row_group_rows=row_group_rows)
    first = np.array([view[0][0] for view in views], dtype=np.int64)
    last = np.array([view[0][-1] for view in views], dtype=np.int64)
    steps = np.array([_median_step(view[0]) for view in views], dtype=np.float64)
    return first, last, steps


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _median_step(ts):  # pragma: no cover - compiled
    """The median step in seconds (as ``domain.median_step_s``; NaN under two samples).

    Compiled and outside the GIL: partitions are written by threads. A regular
    series (every step the same, the common case) takes one pass, no sort.
    """
    n = ts.size
    if n < 2:
        return np.nan
    first = ts[1] - ts[0]
    for j in range(2, n):
        if ts[j] - ts[j - 1] != first:
            return np.median((ts[1:] - ts[:-1]).astype(np.float64)) / 1e6
    return np.float64(first) / 1e6
