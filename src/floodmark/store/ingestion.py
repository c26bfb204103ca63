"""``ingest``: add inputs to a store as one atomic new version.

Input batches are streamed to small per-partition fragment files inside the new
version's staging directory (so memory holds one batch), then each partition is
merged file by file (see ``merge``), the catalog and quarantine are updated, and the
version is committed by swapping one symlink (see ``layout``). Anything that fails,
or a kill at any moment, leaves the previous version as the store.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import orjson
import polars as pl

from floodmark.io.codec import MAX_SERIES_BYTES
from floodmark.io.read_result import ReadResult
from floodmark.store import layout
from floodmark.store.incoming import ROW_BYTES, IncomingPartition, Runs, runs_of
from floodmark.store.merge import merge_partition
from floodmark.store.parquet import read_file
from floodmark.store.summary import IngestSummary, unchanged_summary
from floodmark.store.tables import (
    CATALOG_SCHEMA,
    CHANGES_SCHEMA,
    INDEX_SCHEMA,
    STATS_SCHEMA,
    STORE_QUARANTINE_SCHEMA,
    empty,
    latest_meta,
    normalise_meta,
    normalise_quarantine,
    normalise_samples,
    update_catalog,
    update_quarantine,
)
from floodmark.store.unchanged import inputs_fingerprint

#: ``progress(stage, done, total)``: stage "read" after each input batch (total None),
#: stage "merge" after each partition (total = partitions to merge).
ProgressCallback = Callable[[str, int, int | None], None]

Inputs = ReadResult | Iterable[ReadResult] | Iterable[Iterable[ReadResult]]


def ingest(
    store_dir: str | Path,
    inputs: Inputs,
    *,
    progress: ProgressCallback | None = None,
    max_file_rows: int = 4_000_000,
    row_group_rows: int = 65_536,  # a series read decodes whole row groups (store.parquet)
    fingerprint: str | None = None,
) -> IngestSummary:
    """Add ``inputs`` to the store at ``store_dir`` (created when missing).

    ``inputs`` is one reader's batches, a list of readers (each an iterable of
    ``ReadResult``), or a single ``ReadResult``. Later batches are newer: at a
    timestamp already stored, the newer sample wins. Re-ingesting the same input
    changes nothing. A reader that raises (``errors="raise"``) aborts the ingest and
    the store stays as it was.

    ``fingerprint`` names the content of ``inputs`` (``ingest_files`` gives one):
    it is recorded with the version, and when it is the one recorded by the store's
    last change the inputs are not read at all. That is sound because ingesting the
    inputs that made the current version again changes nothing (the newest sample
    already is theirs at each of their timestamps).

    >>> from floodmark.store import ingest, open_store
    >>> summary = ingest("fleet-store", open_input("export.parquet"))  # doctest: +SKIP
    >>> open_store("fleet-store").catalog()  # doctest: +SKIP
    """
    root = Path(store_dir)
    created = False
    if layout.classify(root) == "missing":
        try:
            root.mkdir(parents=True)
            created = True
        except FileExistsError:  # a concurrent ingest made it; the lock decides
            pass
    with layout.exclusive_lock(root):
        try:
            return _ingest_locked(
                root, inputs, progress, max_file_rows, row_group_rows, fingerprint
            )
        except BaseException:
            if created:  # leave no trace of a store that never existed
                shutil.rmtree(root, ignore_errors=True)
            raise


def ingest_files(
    store_dir: str | Path,
    paths: Iterable[str | Path],
    *,
    format: str | None = None,
    errors: str = "quarantine",
    root: str | Path | None = None,
    workers: int = 1,
    batch_rows: int = 64,
    max_series_bytes: int = MAX_SERIES_BYTES,
    progress: ProgressCallback | None = None,
    **series_csv_options,
) -> IngestSummary:
    """Read ``paths`` with ``floodmark.io.open_input`` and ingest them in order.

    ``batch_rows`` series are read at a time: what a batch costs on its way to the
    store (its long table, the decoded arrays in flight) is most of the memory of
    an ingest, so batches are small; 64 rows of a day-long export are ~0.5 M samples.

    ``series_csv_options`` (prediction_id, vector, metric, time_column, value_column,
    times_file) are passed to the reader.
    """
    from floodmark.io import open_input

    paths = [Path(p) for p in paths]
    fingerprint = inputs_fingerprint(
        paths,
        format=format,
        errors=errors,
        max_series_bytes=max_series_bytes,
        **series_csv_options,
    )

    def readers() -> Iterator[Iterator[ReadResult]]:
        for path in paths:
            yield open_input(
                path,
                format=format,
                errors=errors,
                root=root,
                batch_rows=batch_rows,
                workers=workers,
                max_series_bytes=max_series_bytes,
                **series_csv_options,
            )

    return ingest(store_dir, readers(), progress=progress, fingerprint=fingerprint)


def _ingest_locked(
    root: Path,
    inputs: Inputs,
    progress: ProgressCallback | None,
    max_file_rows: int,
    row_group_rows: int,
    fingerprint: str | None = None,
) -> IngestSummary:
    old = layout.current_version(root) if layout.classify(root) == "store" else None
    layout.remove_stale(root, keep=old)
    if old is not None:  # a kill right after a commit may have left a public link missing
        layout.ensure_public_links(root)
        recorded = layout.read_marker(old / layout.MARKER).get("last_ingest") or {}
        if fingerprint is not None and recorded.get("fingerprint") == fingerprint:
            return unchanged_summary(recorded.get("summary") or {})
    version_id = layout.new_version_id()
    staging = root / layout.VERSIONS / version_id
    staging.mkdir(parents=True)
    try:
        summary, changed = _build(
            old, staging, inputs, progress, max_file_rows, row_group_rows, fingerprint
        )
        if changed:
            layout.commit(root, staging)
        else:
            shutil.rmtree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if changed:
        layout.remove_stale(root, keep=staging)
    return summary


#: Incoming samples are kept in memory up to this many bytes (5.6 M samples), then
#: appended to raw spill files: a large ingest's memory stays flat, a small one
#: never touches disk. Spilled blocks come back from the page cache at copy speed.
FRAGMENT_MEMORY_BYTES = 128 << 20


class _Collector:
    """Takes input batches: each partition's series as blocks (see ``incoming``), and
    the per-series metadata, quarantine and counts of every batch."""

    def __init__(self, spill_dir: Path, memory_bytes: int | None = None) -> None:
        self.spill_dir = spill_dir
        self.memory_left = FRAGMENT_MEMORY_BYTES if memory_bytes is None else memory_bytes
        self.partitions: dict[tuple[str, str], IncomingPartition] = {}
        self.meta: list[pl.DataFrame] = []
        self.quarantine: list[pl.DataFrame] = []
        self.reasons: Counter[str] = Counter()
        self.samples = 0
        self.repaired = 0
        self.batches = 0

    def add(self, batch: ReadResult, input_no: int) -> None:
        """Take one batch of the ``input_no``-th input."""
        if not isinstance(batch, ReadResult):
            raise TypeError(f"ingest expects ReadResult batches, got {type(batch).__name__}")
        samples = normalise_samples(batch.samples)
        if samples.height:
            self._add_runs(runs_of(samples), self.batches, input_no)
        self.samples += samples.height
        meta = normalise_meta(batch.series)
        if meta.height:
            self.meta.append(meta)
        quarantine = normalise_quarantine(batch.quarantine)
        if quarantine.height:
            self.quarantine.append(quarantine)
            self.reasons.update(quarantine["reason"].fill_null("unknown").to_list())
        self.repaired += int(batch.repaired_duplicates)
        self.batches += 1

    def _add_runs(self, runs: Runs, seq: int, input_no: int) -> None:
        by_partition: dict[tuple[str, str], list[int]] = {}
        for run, (_pid, vector, metric) in enumerate(runs.keys):
            by_partition.setdefault((vector, metric), []).append(run)
        starts = np.cumsum(runs.counts) - runs.counts
        for (vector, metric), mine in by_partition.items():
            counts = runs.counts[mine]
            if len(mine) == len(runs.keys):
                arrays = runs.arrays
            else:
                rows = np.concatenate(
                    [np.arange(starts[r], starts[r] + runs.counts[r]) for r in mine]
                )
                arrays = tuple(a[rows] for a in runs.arrays)
            partition = self.partitions.get((vector, metric))
            if partition is None:
                partition = IncomingPartition(layout.partition_dir(self.spill_dir, vector, metric))
                self.partitions[(vector, metric)] = partition
            size = int(counts.sum()) * ROW_BYTES
            keep = size <= self.memory_left
            if keep:
                self.memory_left -= size
            partition.add(
                [runs.keys[r][0] for r in mine],
                counts,
                arrays,
                seq=seq,
                input_no=input_no,
                keep_in_memory=keep,
            )
            partition.in_order &= bool(runs.in_order[mine].all())

    def close(self) -> None:
        for partition in self.partitions.values():
            partition.close()


def _batches(inputs: Inputs, counter: list[int]) -> Iterator[ReadResult]:
    """Flatten the accepted input shapes; ``counter[0]`` counts the inputs seen."""
    if isinstance(inputs, ReadResult):
        counter[0] = 1
        yield inputs
        return
    for item in inputs:
        if isinstance(item, ReadResult):  # a flat stream of batches is one input
            counter[0] = max(counter[0], 1)
            yield item
        else:
            counter[0] += 1
            yield from item


def _read_old(old: Path | None, name: str, schema: dict) -> pl.DataFrame:
    if old is None:
        return empty(schema)
    return read_file(old / name).cast(schema)


def _build(
    old: Path | None,
    staging: Path,
    inputs: Inputs,
    progress: ProgressCallback | None,
    max_file_rows: int,
    row_group_rows: int,
    fingerprint: str | None = None,
) -> tuple[IngestSummary, bool]:
    """Write the complete next version into ``staging``; return (summary, changed)."""
    collector = _Collector(staging / "_fragments")
    counter = [0]
    try:
        for batch in _batches(inputs, counter):
            collector.add(batch, counter[0])
            if progress is not None:
                progress("read", collector.batches, None)
        old_index = _read_old(old, layout.INDEX, INDEX_SCHEMA)
        merged = _merge_partitions(
            old,
            old_index,
            collector,
            staging / layout.SERIES,
            progress,
            max_file_rows,
            row_group_rows,
        )
    finally:
        collector.close()
        shutil.rmtree(collector.spill_dir, ignore_errors=True)
    index_parts, stats_parts, change_parts, files_written, repaired = merged

    index = pl.concat([old_index.clear(), *index_parts]).sort(
        "vector", "metric", "file", "row_offset"
    )
    stats = pl.concat([empty(STATS_SCHEMA), *stats_parts])
    old_catalog = _read_old(old, layout.CATALOG, CATALOG_SCHEMA)
    catalog = update_catalog(old_catalog, stats, latest_meta(collector.meta))
    now = layout.utc_now()
    old_quarantine = _read_old(old, layout.QUARANTINE, STORE_QUARANTINE_SCHEMA)
    quarantine = update_quarantine(old_quarantine, collector.quarantine, now)
    changes = pl.concat([empty(CHANGES_SCHEMA), *change_parts], how="diagonal")
    added, updated = _count_series(old_catalog, catalog, changes)
    summary = IngestSummary(
        series_added=added,
        series_updated=updated,
        samples_written=collector.samples,
        samples_new=int(changes["n_new"].sum()),
        quarantined=dict(sorted(collector.reasons.items())),
        repaired_duplicates=collector.repaired + repaired,
        inputs=counter[0],
    )
    changed = (
        old is None
        or files_written > 0
        or not catalog.equals(old_catalog)
        or not quarantine.equals(old_quarantine)
    )
    if changed:
        last_ingest = {"fingerprint": fingerprint, "summary": summary.as_record()}
        _write_tables(
            old,
            staging,
            index=index,
            catalog=catalog,
            quarantine=quarantine,
            now=now,
            last_ingest=last_ingest,
        )
    return summary, changed


def _merge_partitions(
    old: Path | None,
    old_index: pl.DataFrame,
    collector: _Collector,
    series_dir: Path,
    progress: ProgressCallback | None,
    max_file_rows: int,
    row_group_rows: int,
) -> tuple[list, list, list, int, int]:
    """Merge every partition, stored or incoming; (index, stats, changes) parts and counts."""
    partitions = sorted(
        set(old_index.select("vector", "metric").unique().iter_rows()) | set(collector.partitions)
    )
    series_dir.mkdir()
    index_parts, stats_parts, change_parts, files_written, repaired = [], [], [], 0, 0
    for done, (vector, metric) in enumerate(partitions, start=1):
        old_dir = None if old is None else layout.partition_dir(old / layout.SERIES, vector, metric)
        incoming = collector.partitions.pop((vector, metric), None)  # frees its memory after
        if incoming is None:
            incoming = IncomingPartition(layout.partition_dir(collector.spill_dir, vector, metric))
        result = merge_partition(
            vector,
            metric,
            old_dir=old_dir,
            old_index=old_index.filter(vector=vector, metric=metric),
            incoming=incoming,
            new_dir=layout.partition_dir(series_dir, vector, metric),
            max_file_rows=max_file_rows,
            row_group_rows=row_group_rows,
        )
        incoming.close()
        index_parts.append(result.index)
        stats_parts.append(result.stats)
        change_parts.append(
            result.changes.with_columns(vector=pl.lit(vector), metric=pl.lit(metric)).select(
                CHANGES_SCHEMA.keys()
            )
        )
        files_written += result.files_written
        repaired += result.repaired
        if progress is not None:
            progress("merge", done, len(partitions))
    return index_parts, stats_parts, change_parts, files_written, repaired


def _count_series(old: pl.DataFrame, new: pl.DataFrame, changes: pl.DataFrame) -> tuple[int, int]:
    keys = ["prediction_id", "vector", "metric"]
    added = new.join(old, on=keys, how="anti").height
    values = [c for c in CATALOG_SCHEMA if c not in keys]
    both = new.join(old, on=keys, how="inner", suffix="_old")
    differs = both.filter(
        pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_old")) for c in values)
    ).select(keys)
    rewritten = changes.filter(pl.col("n_changed") > 0).select(keys).join(old, on=keys, how="semi")
    updated = pl.concat([differs, rewritten]).unique().height
    return added, updated


def _write_tables(
    old: Path | None,
    staging: Path,
    *,
    index: pl.DataFrame,
    catalog: pl.DataFrame,
    quarantine: pl.DataFrame,
    now: dt.datetime,
    last_ingest: dict | None = None,
) -> None:
    for name, frame in (
        (layout.INDEX, index),
        (layout.CATALOG, catalog),
        (layout.QUARANTINE, quarantine),
    ):
        frame.write_parquet(staging / name, compression="zstd")
        layout.fsync_file(staging / name)
    created = now
    if old is not None:
        created_text = layout.read_marker(old / layout.MARKER).get("created_at")
        created = _parse_time(created_text, now)
    info = layout.marker(version=staging.name, created_at=created, updated_at=now)
    if last_ingest is not None:
        info["last_ingest"] = last_ingest  # what an ingest of the same inputs may skip
    (staging / layout.MARKER).write_bytes(orjson.dumps(info, option=orjson.OPT_INDENT_2))
    layout.fsync_file(staging / layout.MARKER)


def _parse_time(text: object, default: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return default
