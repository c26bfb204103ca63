"""Features of a whole store, chunk by chunk, in worker processes, with memory bounded.

The store cuts itself into chunks of whole series (``Store.chunk_plan``); each
chunk goes through ``feature_kernel`` independently and the small per-series
results are finished together (``finish_features``), so memory holds one chunk
per worker plus the results, never the store.

Parallel design, chosen by measurement (bench/features.py): the kernel is a mix
of Polars aggregations, which use every thread, and numpy passes, which use
one; and decoding a chunk's Parquet is partly single-threaded. Running chunks
in ``workers`` spawned processes, each with its Polars pool capped to
``cpus // workers`` threads, keeps every core busy through all of those phases
instead of only the multithreaded ones. ``workers=1`` runs in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from floodmark.features.engine import PEAK_SCHEMA, feature_kernel, finish_features
from floodmark.features.registry import FeatureParams
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA
from floodmark.store import read_chunk


@dataclass(frozen=True)
class StoreFeatures:
    """What ``store_features`` computed."""

    features: pl.DataFrame  # one row per series (``compute_features``' columns)
    super_peaks: pl.DataFrame  # keys, timestamp, value
    chunks: int
    samples: int


def store_features(
    store,
    params: FeatureParams | None = None,
    *,
    workers: int = 1,
    chunk_rows: int = 2_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> StoreFeatures:
    """Compute the features of every series of an open store.

    Parameters
    ----------
    store: a ``floodmark.store.Store`` (``open_store(dir)``).
    params: the family parameters (defaults: ``FeatureParams()``).
    workers: processes computing chunks (1: in this process). Workers are
        spawned, so a script calling this with ``workers > 1`` needs the usual
        ``if __name__ == "__main__":`` guard.
    chunk_rows: samples per chunk (whole series; a longer series is its own chunk).
        Memory grows with ``workers * chunk_rows``: about 250 bytes per sample.
    progress: called as ``progress(done, total)`` after each chunk.
    """
    params = params or FeatureParams()
    plan = store.chunk_plan(chunk_rows)
    parts: list[pl.DataFrame] = []
    peaks: list[pl.DataFrame] = []
    for done, (features, chunk_peaks) in enumerate(_run(plan, params, workers), 1):
        parts.append(features)
        peaks.append(chunk_peaks)
        if progress is not None:
            progress(done, len(plan))
    if parts:
        per_series = finish_features(pl.concat(parts))
        all_peaks = pl.concat(peaks).sort(*KEY_COLUMNS, "timestamp")
    else:
        per_series = finish_features(feature_kernel(pl.DataFrame(schema=LONG_SCHEMA))[0])
        all_peaks = pl.DataFrame(schema=PEAK_SCHEMA)
    return StoreFeatures(per_series, all_peaks, len(plan), sum(s.n_rows for s in plan))


def chunk_features(spec, params: FeatureParams) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read one chunk and run the kernel on it (what a worker does)."""
    return feature_kernel(read_chunk(spec), params)


def super_peaks_path(out: str | Path) -> Path:
    """Where the super peaks go beside a feature table: ``<stem>.super_peaks.parquet``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.super_peaks.parquet")


def available_cpus() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _run(plan: list, params: FeatureParams, workers: int) -> Iterator[tuple]:
    if workers <= 1 or len(plan) <= 1:
        for spec in plan:
            yield chunk_features(spec, params)
        return
    yield from _run_pool(plan, params, min(workers, len(plan)))


def _run_pool(plan: list, params: FeatureParams, workers: int) -> Iterator[tuple]:
    threads = max(1, available_cpus() // workers)
    context = multiprocessing.get_context("spawn")
    # Children read POLARS_MAX_THREADS when they first import Polars. A Pool starts
    # all its processes in its constructor, so the variable is needed only then
    # (the parent's own Polars pool is already sized and unaffected).
    with _environment(POLARS_MAX_THREADS=str(threads)):
        pool = context.Pool(workers)
    with pool:
        # Each worker holds one chunk at a time; results are small. Unordered:
        # finish_features sorts, and a slow chunk does not hold the others back.
        tasks = ((spec, params) for spec in plan)
        yield from pool.imap_unordered(_chunk_task, tasks)


def _chunk_task(task: tuple) -> tuple[pl.DataFrame, pl.DataFrame]:
    return chunk_features(*task)


class _environment:
    """Set environment variables for the duration of a ``with`` block."""

    def __init__(self, **values: str) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for name, value in self.values.items():
            self.saved[name] = os.environ.get(name)
            os.environ[name] = value

    def __exit__(self, *exc) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
