"""Features of a whole store, chunk by chunk, in parallel, with memory bounded.

The store cuts itself into chunks of whole series (``Store.chunk_plan``); each
chunk goes through the kernel (``prepared_kernel``) independently and the small per-series
results are finished together (``finish_features``), so memory holds the chunks
in flight plus the results, never the store.

Parallel design, chosen by measurement (bench/features.py on 8.9 M samples, 2
cores shared with other work): one chunk at a time leaves a core idle much of the
time, since only Polars' aggregations use both (0.81 s). Threads overlap chunks,
Polars and most numpy work releasing the GIL (2 threads: 0.65 s); one thread more
than cores keeps both busy while a thread holds the GIL in Python glue (3 threads:
0.61 s). Spawned processes must first import floodmark (1.78 s in all), so
threads are the default (``processes=False``); processes stay available for
machines with many cores, where the GIL may become the limit.
"""

from __future__ import annotations

import ctypes
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.domain import bounded_map
from floodmark.features.engine import (
    PART_ROWS,
    PEAK_SCHEMA,
    feature_kernel,
    finish_features,
    prepared_kernel,
)
from floodmark.features.families import FeatureParams
from floodmark.features.prepare import prepare_runs
from floodmark.io.read_result import ReadResult
from floodmark.io.series_blocks import OpenFiles, SeriesBlocks, timestamp_series
from floodmark.machine import CHUNK_ROWS, available_cpus
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA
from floodmark.store import read_chunk_runs

#: glibc settings for processes that compute chunks: keep freed arrays (up to
#: 32 MB, the most glibc allows) in the heap instead of returning them to the
#: system, so the next chunk's temporaries reuse pages instead of faulting them in
#: again; measured 35 % less wall time per chunk (sys time 72 -> 22 ms).
MALLOC_SETTINGS = {"M_MMAP_THRESHOLD": 32 * 2**20, "M_TRIM_THRESHOLD": 2**30}
_MALLOPT_PARAMS = {"M_TRIM_THRESHOLD": -1, "M_MMAP_THRESHOLD": -3}


@dataclass(frozen=True)
class FeatureRun:
    """What ``store_features`` or ``batch_features`` computed."""

    features: pl.DataFrame  # one row per series (``compute_features``' columns)
    super_peaks: pl.DataFrame  # keys, timestamp, value
    chunks: int
    samples: int


def store_features(
    store,
    params: FeatureParams | None = None,
    *,
    workers: int = 1,
    processes: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> FeatureRun:
    """Compute the features of every series of an open store.

    Parameters
    ----------
    store: a ``floodmark.store.Store`` (``open_store(dir)``).
    params: the family parameters (defaults: ``FeatureParams()``).
    workers: chunks computed at the same time (1: one after the other;
        ``default_workers()`` is what the CLI uses).
    processes: compute them in spawned processes instead of threads; a script
        doing so needs the usual ``if __name__ == "__main__":`` guard, and is faster
        with ``worker_environment(workers)`` set.
    chunk_rows: samples per chunk (whole series; a longer series is its own chunk).
        Memory grows with ``workers * chunk_rows``: about 250 bytes per sample.
    progress: called as ``progress(done, total)`` after each chunk.

    Example
    -------
    >>> from floodmark.store import open_store
    >>> result = store_features(open_store("fleet-store"), workers=2)  # doctest: +SKIP
    >>> result.features.height, result.super_peaks.height  # doctest: +SKIP
    """
    params = params or FeatureParams()
    plan = store.chunk_plan(chunk_rows)
    results = _run(plan, params, workers, processes)
    return _collect(results, len(plan), sum(s.n_rows for s in plan), progress)


def batch_features(
    batches: Iterable[pl.DataFrame | ReadResult],
    params: FeatureParams | None = None,
    *,
    workers: int = 1,
    progress: Callable[[int, int | None], None] | None = None,
) -> FeatureRun:
    """Compute the features of batches that each hold whole series.

    A batch is a long table, or a reader's ``ReadResult``: for a stream such as
    ``batch_features(iter_vendor_export(path), workers=2)``. A ``ReadResult`` given
    as series blocks goes to the kernel as it is, without building its long table
    (a key per sample). ``workers``: batches computed at the same time, in threads,
    while this thread takes the next batch from ``batches`` (for a reader: decodes
    it, mostly without the GIL), so decoding and features overlap; small batches
    (``iter_vendor_export(path, batch_rows=64)``) keep them overlapped from the first
    to the last. A series split over two batches would be two series: use a store
    (``ingest``) when an input may repeat a series.
    """
    params = params or FeatureParams()
    samples = 0

    def counted() -> Iterator[pl.DataFrame | ReadResult]:
        nonlocal samples
        for batch in batches:
            samples += batch.height if isinstance(batch, pl.DataFrame) else _rows(batch)
            yield batch

    kernels = bounded_map(lambda batch: _batch_kernel(batch, params), counted(), workers=workers)
    result = _collect(kernels, None, 0, progress)
    return FeatureRun(result.features, result.super_peaks, result.chunks, samples)


def _rows(result: ReadResult) -> int:
    return sum(b.rows for b in result.blocks) if result.blocks else result.samples.height


def _batch_kernel(
    batch: pl.DataFrame | ReadResult, params: FeatureParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    if isinstance(batch, pl.DataFrame):
        return feature_kernel(batch, params)
    keys = [key for blocks in batch.blocks for key in blocks.keys]
    if _rows(batch) == 0 or len(set(keys)) != len(keys):
        # A key given twice is one series to the long table: let it merge them.
        return feature_kernel(batch.samples, params)
    files = OpenFiles()
    try:
        parts = [
            _blocks_kernel(blocks, series, params, files)
            for blocks in batch.blocks
            for series in _whole_series_parts(blocks.counts)
        ]
    finally:
        files.close()
    # Sorted once all batches are in (``_collect``).
    return pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts])


def _whole_series_parts(counts: np.ndarray) -> list[slice]:
    """Runs of whole series of about ``PART_ROWS`` samples, each holding samples: the
    kernel's memory stays bounded whatever the batch size. A series goes to the part
    its first row falls in (as ``split_whole_series``)."""
    filled = np.flatnonzero(counts > 0)
    starts = (np.cumsum(counts) - counts)[filled]
    cuts = [*np.flatnonzero(np.diff(starts // PART_ROWS, prepend=-1)).tolist(), filled.size]
    return [slice(filled[a], filled[b - 1] + 1) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def _blocks_kernel(
    blocks: SeriesBlocks, series: slice, params: FeatureParams, files: OpenFiles
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The kernel on ``series`` of ``blocks``, keyed by position (``prepare_runs``)."""
    counts = blocks.counts[series]
    row, n = int(blocks.counts[: series.start].sum()), int(counts.sum())
    ts, passed, blocked = blocks.read_rows(row, n, files)
    keys = pl.DataFrame(blocks.keys[series], schema=list(KEY_COLUMNS), orient="row")
    values = pl.DataFrame(
        [
            timestamp_series(ts),
            pl.Series("passed", passed, dtype=pl.Float64),
            pl.Series("blocked", blocked, dtype=pl.Float64),
        ]
    )
    prepared = prepare_runs(keys.with_columns(n_samples=pl.Series(counts)), values)
    return prepared_kernel(prepared, params)


def _collect(
    results: Iterable[tuple[pl.DataFrame, pl.DataFrame]],
    total: int | None,
    samples: int,
    progress: Callable[[int, int | None], None] | None,
) -> FeatureRun:
    """Concatenate per-chunk kernel outputs and finish them together."""
    parts: list[pl.DataFrame] = []
    peaks: list[pl.DataFrame] = []
    for done, (features, chunk_peaks) in enumerate(results, 1):
        parts.append(features)
        peaks.append(chunk_peaks)
        if progress is not None:
            progress(done, total)
    if parts:
        per_series = finish_features(pl.concat(parts))
        all_peaks = pl.concat(peaks).sort(*KEY_COLUMNS, "timestamp")
    else:
        per_series = finish_features(feature_kernel(pl.DataFrame(schema=LONG_SCHEMA))[0])
        all_peaks = pl.DataFrame(schema=PEAK_SCHEMA)
    return FeatureRun(per_series, all_peaks, len(parts), samples)


def chunk_features(spec, params: FeatureParams) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read one chunk and run the kernel on it (what a worker does)."""
    return prepared_kernel(prepare_runs(*read_chunk_runs(spec)), params)


def super_peaks_path(out: str | Path) -> Path:
    """Where the super peaks go beside a feature table: ``<stem>.super_peaks.parquet``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.super_peaks.parquet")


def default_workers() -> int:
    """Threads ``floodmark features`` uses: one more than the cores.

    A thread spends part of each chunk in Python glue (holding the GIL) or waiting
    for Polars' pool; a third thread on 2 cores keeps both busier (bench/features.py,
    three runs: 2-6 % less wall time than 2 threads).
    """
    return available_cpus() + 1


def tune_malloc() -> bool:
    """Apply ``MALLOC_SETTINGS`` to this process (glibc only; False elsewhere).

    A process-wide setting, so it is the caller's choice (the CLI makes it).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return all(
            libc.mallopt(_MALLOPT_PARAMS[name], value) == 1
            for name, value in MALLOC_SETTINGS.items()
        )
    except (OSError, AttributeError):
        return False


def _run(plan: list, params: FeatureParams, workers: int, processes: bool) -> Iterator[tuple]:
    workers = min(workers, len(plan))
    if workers <= 1:
        for spec in plan:
            yield chunk_features(spec, params)
    elif processes:
        yield from _run_processes(plan, params, workers)
    else:
        yield from _run_threads(plan, params, workers)


def _run_threads(plan: list, params: FeatureParams, workers: int) -> Iterator[tuple]:
    # At most `workers` chunks in memory at once.
    return bounded_map(lambda spec: chunk_features(spec, params), plan, workers=workers)


def _run_processes(plan: list, params: FeatureParams, workers: int) -> Iterator[tuple]:
    context = multiprocessing.get_context("spawn")
    # The workers inherit this process's environment as it is: see worker_environment.
    with context.Pool(workers) as pool:
        # Each worker holds one chunk at a time; results are small. Unordered:
        # finish_features sorts, and a slow chunk does not hold the others back.
        tasks = ((spec, params) for spec in plan)
        yield from pool.imap_unordered(_chunk_task, tasks)


def worker_environment(workers: int) -> dict[str, str]:
    """Environment variables that make ``processes=True`` workers fast; the caller sets them.

    Each worker then sizes Polars' pool to its share of the cores (instead of all of
    them, ``workers`` times over) and starts with ``MALLOC_SETTINGS`` (glibc reads them
    at start-up). The library never changes the environment itself: it is shared by
    every thread of the process. A script sets them before ``store_features``, e.g.
    ``os.environ.update(worker_environment(2))``; this process's own Polars pool was
    sized when Polars was imported and stays as it is.
    """
    threads = max(1, available_cpus() // workers)
    env = {f"MALLOC_{name[2:]}_": str(value) for name, value in MALLOC_SETTINGS.items()}
    return {"POLARS_MAX_THREADS": str(threads), **env}


def _chunk_task(task: tuple) -> tuple[pl.DataFrame, pl.DataFrame]:
    return chunk_features(*task)
