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
from dataclasses import dataclass
from pathlib import Path

import orjson
import polars as pl

from floodmark.domain import bounded_map
from floodmark.errors import FloodmarkError
from floodmark.io.codec import MAX_SERIES_BYTES
from floodmark.io.read_result import ReadResult
from floodmark.io.series_blocks import ROW_BYTES, BlockFile, OpenFiles, SeriesBlocks
from floodmark.store import layout
from floodmark.store.incoming import IncomingPartition, blocks_of
from floodmark.store.merge import PartitionResult, merge_partition
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
#: Or a function of a scratch folder (inside the new version's staging area, removed
#: with it) that gives the inputs: readers may write their blocks there.
InputsIn = Callable[[Path], Inputs]


def ingest(
    store_dir: str | Path,
    inputs: Inputs | InputsIn,
    *,
    progress: ProgressCallback | None = None,
    max_file_rows: int = 4_000_000,
    row_group_rows: int = 65_536,  # a series read decodes whole row groups (store.parquet)
    fingerprint: str | None = None,
    threads: int = 1,
) -> IngestSummary:
    """Add ``inputs`` to the store at ``store_dir`` (created when missing).

    ``inputs`` is one reader's batches, a list of readers (each an iterable of
    ``ReadResult``), a single ``ReadResult``, or a function of a scratch folder
    giving one of those (see ``InputsIn``). Later batches are newer: at a
    timestamp already stored, the newer sample wins. Re-ingesting the same input
    changes nothing. A reader that raises (``errors="raise"``) aborts the ingest and
    the store stays as it was.

    ``fingerprint`` names the content of ``inputs`` (``ingest_files`` gives one):
    it is recorded with the version, and when it is the one recorded by the store's
    last change the inputs are not read at all. That is sound because ingesting the
    inputs that made the current version again changes nothing (the newest sample
    already is theirs at each of their timestamps).

    ``threads`` partitions are written at a time (Parquet encoding runs outside the
    GIL); the files are the same whatever their number.

    >>> from floodmark.store import ingest, open_store
    >>> summary = ingest("fleet-store", open_input("export.parquet"))  # doctest: +SKIP
    >>> open_store("fleet-store").catalog()  # doctest: +SKIP
    """
    if threads < 1:
        raise FloodmarkError("threads must be at least 1")
    options = _Options(progress, max_file_rows, row_group_rows, fingerprint, threads)
    inputs_in = inputs if callable(inputs) else (lambda _scratch: inputs)
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
            return _ingest_locked(root, inputs_in, options)
        except BaseException:
            if created:  # leave no trace of a store that never existed
                shutil.rmtree(root, ignore_errors=True)
            raise


@dataclass(frozen=True)
class _Options:
    progress: ProgressCallback | None
    max_file_rows: int
    row_group_rows: int
    fingerprint: str | None
    threads: int


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

    ``batch_rows`` series are read at a time (64 rows of a 30-day export are ~0.5 M
    samples). With ``workers`` above 1, the decoding processes write the samples to
    block files in the new version's staging area and send back metadata only; then
    ``workers`` threads write the partitions (``ingest``'s ``threads``).

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

    def readers(scratch: Path) -> Iterator[Iterator[ReadResult]]:
        for path in paths:
            yield open_input(
                path,
                format=format,
                errors=errors,
                root=root,
                batch_rows=batch_rows,
                workers=workers,
                max_series_bytes=max_series_bytes,
                spill_dir=scratch,
                **series_csv_options,
            )

    # As many threads write partitions as processes decode: the same cores, one after the other.
    return ingest(store_dir, readers, progress=progress, fingerprint=fingerprint, threads=workers)


def _ingest_locked(root: Path, inputs_in: InputsIn, options: _Options) -> IngestSummary:
    old = layout.current_version(root) if layout.classify(root) == "store" else None
    layout.remove_stale(root, keep=old)
    recorded: dict = {}  # what the current version records of the ingest that made it
    if old is not None:  # a kill right after a commit may have left a public link missing
        layout.ensure_public_links(root)
        recorded = layout.read_marker(old / layout.MARKER).get("last_ingest") or {}
        fingerprint = options.fingerprint
        if fingerprint is not None and recorded.get("fingerprint") == fingerprint:
            return unchanged_summary(recorded.get("summary") or {})
    version_id = layout.new_version_id()
    staging = root / layout.VERSIONS / version_id
    staging.mkdir(parents=True)
    try:
        summary, changed = _build(old, staging, inputs_in, options, recorded.get("fingerprint"))
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
        self.files = OpenFiles()
        self._spill: BlockFile | None = None
        self.partitions: dict[tuple[str, str], IncomingPartition] = {}
        self.meta: list[pl.DataFrame] = []
        self.quarantine: list[pl.DataFrame] = []
        self.reasons: Counter[str] = Counter()
        self.samples = 0
        self.repaired = 0
        self.batches = 0
        self.block_sets = 0

    def add(self, batch: ReadResult, input_no: int) -> None:
        """Take one batch of the ``input_no``-th input."""
        if not isinstance(batch, ReadResult):
            raise TypeError(f"ingest expects ReadResult batches, got {type(batch).__name__}")
        if batch.blocks:  # checked by the reader that built them (``checked_blocks``)
            block_sets = batch.blocks
        else:
            samples = normalise_samples(batch.samples)
            block_sets = (blocks_of(samples),) if samples.height else ()
        for blocks in block_sets:
            # Each block set is newer than the ones before, those of its batch included:
            # the order of a series given twice is the order the reader gave it in.
            self._add_blocks(blocks, self.block_sets, input_no)
            self.block_sets += 1
        meta = normalise_meta(batch.series)
        if meta.height:
            self.meta.append(meta)
        quarantine = normalise_quarantine(batch.quarantine)
        if quarantine.height:
            self.quarantine.append(quarantine)
            self.reasons.update(quarantine["reason"].fill_null("unknown").to_list())
        self.repaired += int(batch.repaired_duplicates)
        self.batches += 1

    def _add_blocks(self, blocks: SeriesBlocks, seq: int, input_no: int) -> None:
        rows = blocks.rows
        if rows == 0:
            return
        self.samples += rows
        if blocks.arrays is not None:
            if rows * ROW_BYTES <= self.memory_left:
                self.memory_left -= rows * ROW_BYTES
            else:
                if self._spill is None:
                    self._spill = BlockFile(self.spill_dir / "blocks.bin")
                blocks = blocks.written_to(self._spill)
        by_partition: dict[tuple[str, str], list[int]] = {}
        for position, ((_pid, vector, metric), n) in enumerate(
            zip(blocks.keys, blocks.counts.tolist(), strict=True)
        ):
            if n:  # a series without samples is only metadata
                by_partition.setdefault((vector, metric), []).append(position)
        for (vector, metric), series in by_partition.items():
            partition = self.partitions.get((vector, metric))
            if partition is None:
                partition = self.new_partition(vector, metric)
                self.partitions[(vector, metric)] = partition
            partition.add(blocks, series, seq=seq, input_no=input_no)

    def new_partition(self, vector: str, metric: str) -> IncomingPartition:
        return IncomingPartition(
            layout.partition_dir(self.spill_dir, vector, metric), files=self.files
        )

    def close(self) -> None:
        for partition in self.partitions.values():
            partition.close()
        if self._spill is not None:
            self._spill.close()
        self.files.close()


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
    inputs_in: InputsIn,
    options: _Options,
    recorded_fingerprint: str | None,
) -> tuple[IngestSummary, bool]:
    """Write the complete next version into ``staging``; return (summary, changed)."""
    collector = _Collector(staging / "_fragments")
    counter = [0]
    progress = options.progress
    try:
        for batch in _batches(inputs_in(collector.spill_dir / "decoded"), counter):
            collector.add(batch, counter[0])
            if progress is not None:
                progress("read", collector.batches, None)
        old_index = _read_old(old, layout.INDEX, INDEX_SCHEMA)
        merged = _merge_partitions(
            old,
            old_index,
            collector,
            staging / layout.SERIES,
            options,
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
        # Inputs the current version does not record are recorded even when they add
        # nothing (a version of hard links): the next ingest of them is not read again.
        or (options.fingerprint is not None and options.fingerprint != recorded_fingerprint)
    )
    if changed:
        last_ingest = {"fingerprint": options.fingerprint, "summary": summary.as_record()}
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
    options: _Options,
) -> tuple[list, list, list, int, int]:
    """Merge every partition, stored or incoming; (index, stats, changes) parts and counts.

    Partitions are independent: ``options.threads`` of them are written at a time,
    their results taken in partition order, so the version is the same whatever the
    number of threads. Memory holds one partition file per thread.
    """
    partitions = sorted(
        set(old_index.select("vector", "metric").unique().iter_rows()) | set(collector.partitions)
    )
    series_dir.mkdir()

    def merge_one(vector: str, metric: str, incoming: IncomingPartition) -> PartitionResult:
        old_dir = None if old is None else layout.partition_dir(old / layout.SERIES, vector, metric)
        try:
            return merge_partition(
                vector,
                metric,
                old_dir=old_dir,
                old_index=old_index.filter(vector=vector, metric=metric),
                incoming=incoming,
                new_dir=layout.partition_dir(series_dir, vector, metric),
                max_file_rows=options.max_file_rows,
                row_group_rows=options.row_group_rows,
            )
        finally:
            incoming.close()  # frees its blocks held in memory

    jobs = []
    for vector, metric in partitions:
        incoming = collector.partitions.pop((vector, metric), None)
        jobs.append((vector, metric, incoming or collector.new_partition(vector, metric)))
    index_parts, stats_parts, change_parts, files_written, repaired = [], [], [], 0, 0
    # every job submitted at once: a thread that finishes early takes the next partition
    results = bounded_map(
        lambda job: merge_one(*job), jobs, workers=options.threads, in_flight=len(jobs)
    )
    for done, ((vector, metric, _), result) in enumerate(zip(jobs, results, strict=True), 1):
        index_parts.append(result.index)
        stats_parts.append(result.stats)
        change_parts.append(
            result.changes.with_columns(vector=pl.lit(vector), metric=pl.lit(metric)).select(
                CHANGES_SCHEMA.keys()
            )
        )
        files_written += result.files_written
        repaired += result.repaired
        if options.progress is not None:
            options.progress("merge", done, len(partitions))
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
