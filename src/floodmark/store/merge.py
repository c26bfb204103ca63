"""Merge one partition's incoming fragments into its files, rewriting only what changes.

A partition (one vector/metric) is a sequence of files ``part-00000.parquet, ...``,
each sorted by (prediction_id, timestamp) and holding a contiguous range of
prediction_ids, so a series never spans two files and the files in name order are
the partition in sorted order. A file is rewritten only when incoming samples fall
in its range; one that would outgrow ``max_file_rows`` is split. Memory is bounded
by one file's rows (plus its incoming rows), not by the partition or the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from floodmark.domain import median_step_s
from floodmark.store.incoming import IncomingPartition
from floodmark.store.layout import link_or_copy
from floodmark.store.parquet import read_rows, scan_files, write_partition_file
from floodmark.store.tables import INDEX_SCHEMA, STATS_SCHEMA

#: Incoming samples of one partition: fragment files, or frames kept in memory.
Fragment = Path | pl.DataFrame

_OLD_SEQ = -1  # existing samples are older than every input batch
_CHANGES = {"prediction_id": pl.String(), "n_new": pl.Int64(), "n_changed": pl.Int64()}


@dataclass(frozen=True)
class PartitionResult:
    """What merging one partition produced."""

    index: pl.DataFrame  # INDEX_SCHEMA rows of the partition's files in the new version
    stats: pl.DataFrame  # STATS_SCHEMA rows of every series in a rewritten file
    changes: pl.DataFrame  # prediction_id, n_new, n_changed for series in rewritten files
    files_written: int
    repaired: int  # incoming samples superseded by a later one of the same input


@dataclass(frozen=True)
class _Group:
    """Series (sorted ids) that go into one output file."""

    ids: list[str]
    old_file: str | None  # the old file they come from (None: none)
    old_start: int  # their rows in that file
    old_stop: int
    whole_old_file: bool  # the group is exactly the old file's series


def file_name(number: int) -> str:
    return f"part-{number:05d}.parquet"


def merge_partition(
    vector: str,
    metric: str,
    *,
    old_dir: Path | None,
    old_index: pl.DataFrame,
    incoming: IncomingPartition,
    new_dir: Path,
    max_file_rows: int,
    row_group_rows: int,
) -> PartitionResult:
    """Build the partition's files in ``new_dir`` from ``old_dir`` plus ``incoming``."""
    # Imported here: new_partition builds on this module's file plan.
    from floodmark.store import new_partition

    if new_partition.takes(incoming, old_index):
        return new_partition.write_new_partition(
            vector,
            metric,
            incoming,
            new_dir=new_dir,
            max_file_rows=max_file_rows,
            row_group_rows=row_group_rows,
        )
    fragments = incoming.fragments()
    new_dir.mkdir(parents=True, exist_ok=True)
    old_files = _old_files(old_index)
    incoming = _incoming_counts(fragments)
    owner = _assign(incoming, [f["first_id"] for f in old_files])
    index_parts: list[pl.DataFrame] = []
    stats_parts: list[pl.DataFrame] = []
    change_parts: list[pl.DataFrame] = []
    number = 0
    written = 0
    repaired = 0
    # An empty partition behaves as one empty file covering every id.
    slots = old_files or [None]
    for slot_no, old in enumerate(slots):
        mine = incoming.filter(owner == slot_no)
        if old is None and mine.height == 0:
            continue
        if old is not None and mine.height == 0:
            _link(old_dir / old["file"], new_dir, number, old["index"], index_parts)
            number += 1
            continue
        for group in plan_groups(old, mine, max_file_rows):
            merged, changes, superseded = _merge_group(old_dir, group, fragments)
            repaired += superseded
            unchanged = (
                group.whole_old_file
                and changes.select((pl.col("n_new") + pl.col("n_changed")).sum()).item() == 0
            )
            if unchanged:
                # Same samples as before: keep the very same bytes (a hard link).
                _link(old_dir / group.old_file, new_dir, number, old["index"], index_parts)
                number += 1
                continue
            name = file_name(number)
            write_partition_file(merged, new_dir / name, row_group_rows=row_group_rows)
            index_parts.append(_index_rows(merged, vector, metric, name))
            stats_parts.append(_stats(merged, vector, metric))
            change_parts.append(changes)
            number += 1
            written += 1
    return PartitionResult(
        index=_concat(index_parts, INDEX_SCHEMA),
        stats=_concat(stats_parts, STATS_SCHEMA),
        changes=_concat(change_parts, _CHANGES),
        files_written=written,
        repaired=repaired,
    )


def _concat(parts: list[pl.DataFrame], schema: dict) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts, how="vertical").cast(schema)


def _old_files(old_index: pl.DataFrame) -> list[dict]:
    """The partition's old files in order, each with its first id and its index rows."""
    files = []
    for (name,), rows in old_index.sort("file", "row_offset").group_by("file", maintain_order=True):
        files.append({"file": name, "first_id": rows["prediction_id"][0], "index": rows})
    return files


def _scan_fragments(fragments: list[Fragment]) -> pl.LazyFrame:
    files = [f for f in fragments if isinstance(f, Path)]
    frames = [f.lazy() for f in fragments if isinstance(f, pl.DataFrame)]
    return pl.concat(([scan_files(files)] if files else []) + frames)


def _incoming_counts(fragments: list[Fragment]) -> pl.DataFrame:
    if not fragments:
        return pl.DataFrame(schema={"prediction_id": pl.String(), "n_in": pl.Int64()})
    return (
        _scan_fragments(fragments)
        .group_by("prediction_id")
        .agg(pl.len().cast(pl.Int64).alias("n_in"))
        .sort("prediction_id")
        .collect()
    )


def _assign(incoming: pl.DataFrame, first_ids: list[str]) -> pl.Series:
    """Which old file's id range each incoming id falls in (ids below all go to the first)."""
    if not first_ids:
        return pl.Series([0] * incoming.height, dtype=pl.Int64)
    pos = pl.Series(first_ids, dtype=pl.String).search_sorted(
        incoming["prediction_id"], side="right"
    )
    return (pos.cast(pl.Int64) - 1).clip(lower_bound=0)


def plan_groups(old: dict | None, incoming: pl.DataFrame, max_file_rows: int) -> list[_Group]:
    """Split one old file's series plus its incoming ones into files of <= max_file_rows."""
    if old is None:
        sizes = incoming.select("prediction_id", pl.col("n_in").alias("est"))
        offsets = None
    else:
        old_rows = old["index"].select("prediction_id", "row_offset", "n_rows")
        # An id in both is mostly the same samples again (re-ingest, overlap), so its size
        # is estimated by the larger side; files may end slightly over the target.
        sizes = (
            old_rows.join(incoming, on="prediction_id", how="full", coalesce=True)
            .with_columns(est=pl.max_horizontal(pl.col("n_rows"), pl.col("n_in")).fill_null(0))
            .sort("prediction_id")
        )
        offsets = sizes
        sizes = sizes.select("prediction_id", "est")
    ids = sizes["prediction_id"].to_list()
    est = sizes["est"].to_list()
    total = sum(est)
    n_groups = max(1, math.ceil(total / max_file_rows))
    target = total / n_groups
    bounds: list[tuple[int, int]] = []
    start, filled = 0, 0
    for i, n in enumerate(est):
        if filled and filled + n > target and len(bounds) < n_groups - 1:
            bounds.append((start, i))
            start, filled = i, 0
        filled += n
    bounds.append((start, len(ids)))
    groups = []
    for lo, hi in bounds:
        if offsets is None:
            groups.append(_Group(ids[lo:hi], None, 0, 0, False))
            continue
        part = offsets.slice(lo, hi - lo).drop_nulls("row_offset")
        if part.height:
            o_start = int(part["row_offset"].min())
            o_stop = int((part["row_offset"] + part["n_rows"]).max())
        else:
            o_start = o_stop = 0
        groups.append(_Group(ids[lo:hi], old["file"], o_start, o_stop, len(bounds) == 1))
    return groups


def _merge_group(
    old_dir: Path | None, group: _Group, fragments: list[Fragment]
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Old rows + incoming rows of the group's ids: unique (id, timestamp), newest wins.

    Also returns how many incoming rows a later row of the same input superseded
    (a series repeated in one file): those are repaired duplicates.
    """
    frames = []
    if group.old_file is not None and group.old_stop > group.old_start:
        old = read_rows(old_dir / group.old_file, group.old_start, group.old_stop)
        frames.append(
            old.with_columns(
                pl.lit(_OLD_SEQ, dtype=pl.Int64).alias("_seq"),
                pl.lit(_OLD_SEQ, dtype=pl.Int64).alias("_input"),
            )
        )
    lo, hi = group.ids[0], group.ids[-1]
    frames.append(
        _scan_fragments(fragments)
        .filter(pl.col("prediction_id").is_between(pl.lit(lo), pl.lit(hi), closed="both"))
        .collect()
    )
    df = pl.concat([f.cast({"_seq": pl.Int64, "_input": pl.Int64}) for f in frames]).sort(
        "prediction_id", "timestamp", "_seq", maintain_order=True
    )
    # Nothing stored in the group's range (a first ingest) and no (id, timestamp) twice.
    if len(frames) == 1 and _strictly_in_key_order(df):
        return _all_new(df)
    same_key = (pl.col("prediction_id") == pl.col("prediction_id").shift(1)) & (
        pl.col("timestamp") == pl.col("timestamp").shift(1)
    )
    next_same_key = (pl.col("prediction_id") == pl.col("prediction_id").shift(-1)) & (
        pl.col("timestamp") == pl.col("timestamp").shift(-1)
    )
    first = ~same_key.fill_null(False)
    superseded = next_same_key & (pl.col("_input") == pl.col("_input").shift(-1))
    repaired = df.select((superseded & (pl.col("_seq") != _OLD_SEQ)).sum()).item()
    df = (
        df.with_columns(
            # What the first (oldest) row of each (id, timestamp) held, carried to its last.
            pl.when(first).then(pl.col(c)).forward_fill().alias(f"_first{c}")
            for c in ("_seq", "passed", "blocked")
        )
        .filter(~next_same_key.fill_null(False))
        .with_columns(
            _new=pl.col("_first_seq") != _OLD_SEQ,
            _changed=(pl.col("_first_seq") == _OLD_SEQ)
            & (pl.col("_seq") != _OLD_SEQ)
            & (
                (pl.col("passed") != pl.col("_firstpassed"))
                | (pl.col("blocked") != pl.col("_firstblocked"))
            ),
        )
    )
    changes = df.group_by("prediction_id", maintain_order=True).agg(
        n_new=pl.col("_new").sum().cast(pl.Int64),
        n_changed=pl.col("_changed").sum().cast(pl.Int64),
    )
    return df.select("prediction_id", "timestamp", "passed", "blocked"), changes, repaired


def _strictly_in_key_order(df: pl.DataFrame) -> bool:
    """Whether (prediction_id, timestamp) increases strictly from row to row."""
    pid, ts = pl.col("prediction_id"), pl.col("timestamp")
    after = (pid > pid.shift(1)) | ((pid == pid.shift(1)) & (ts > ts.shift(1)))
    return df.select(after.fill_null(True).all()).item()


def _all_new(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """``_merge_group``'s answer for rows that are all new and in order (nothing repaired).

    The same as its general path gives, without the carried columns that take
    most of its time.
    """
    changes = df.group_by("prediction_id", maintain_order=True).agg(
        n_new=pl.len().cast(pl.Int64), n_changed=pl.lit(0, pl.Int64)
    )
    return df.select("prediction_id", "timestamp", "passed", "blocked"), changes, 0


def _link(src: Path, new_dir: Path, number: int, index: pl.DataFrame, out: list) -> None:
    name = file_name(number)
    link_or_copy(src, new_dir / name)
    out.append(index.with_columns(pl.lit(name).alias("file")))


def _index_rows(df: pl.DataFrame, vector: str, metric: str, name: str) -> pl.DataFrame:
    runs = df.group_by("prediction_id", maintain_order=True).agg(n_rows=pl.len().cast(pl.Int64))
    return runs.select(
        pl.lit(vector).alias("vector"),
        pl.lit(metric).alias("metric"),
        pl.lit(name).alias("file"),
        "prediction_id",
        (pl.col("n_rows").cum_sum() - pl.col("n_rows")).alias("row_offset"),
        "n_rows",
    )


def _stats(df: pl.DataFrame, vector: str, metric: str) -> pl.DataFrame:
    ts = pl.col("timestamp")
    return (
        df.group_by("prediction_id", maintain_order=True)
        .agg(
            pl.lit(vector).alias("vector"),
            pl.lit(metric).alias("metric"),
            pl.len().cast(pl.Int64).alias("n_samples"),
            ts.first().alias("first_timestamp"),
            ts.last().alias("last_timestamp"),
            median_step_s(ts).alias("median_step_s"),
        )
        .select(STATS_SCHEMA.keys())
    )
