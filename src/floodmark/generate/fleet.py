"""Write a synthetic fleet as a vendor export (batch layout), in parallel and reproducibly.

Same seed ⇒ same bytes, whatever ``workers`` is: object ``i`` draws only from its own
random streams, results are written in object order, and the codec's gzip has mtime 0.
"""

from __future__ import annotations

import multiprocessing
import operator
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from floodmark.domain import bounded_map
from floodmark.errors import FloodmarkError
from floodmark.generate.encode import cell_array, vendor_cell
from floodmark.generate.labels import object_labels
from floodmark.generate.profile import object_streams
from floodmark.generate.traffic import ObjectTraffic, simulate_object
from floodmark.io.atomic import atomic_path
from floodmark.schema import VENDOR_COLUMNS

DAY = 86_400
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
#: Objects per Parquet row group (≈26 series each): bounds the writer's memory.
ROW_GROUP_OBJECTS = 16

_ARROW_TYPES = {"String": pa.string(), "Float64": pa.float64(), "Int64": pa.int64()}
ARROW_SCHEMA = pa.schema(
    [(name, _ARROW_TYPES[str(dtype)]) for name, dtype in VENDOR_COLUMNS.items()]
)
_SMALL_COLUMNS = [name for name in VENDOR_COLUMNS if name != "time_series"]


@dataclass(frozen=True)
class FleetSummary:
    """What ``generate_fleet`` wrote."""

    path: Path
    objects: int
    series: int
    samples: int  # timestamps over all series (passed side)
    attack_episodes: int
    attack_samples: int  # series samples with blocked > 0 (the ground truth)
    flash_crowds: int
    file_bytes: int
    seconds: float


@dataclass(frozen=True)
class _Job:
    index: int
    seed: int
    days: int
    step: int
    start: int


def generate_fleet(
    path: str | Path,
    *,
    objects: int = 50,
    days: int = 30,
    step: int = 300,
    seed: int = 0,
    start: datetime | date | str | int = DEFAULT_START,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> FleetSummary:
    """Generate ``objects`` protected objects × 13 vectors × 2 metrics and write them.

    Parameters
    ----------
    path: the Parquet file to write (atomically), one row per series, columns
        ``schema.VENDOR_COLUMNS``.
    days, step: window length in days and sampling step in seconds (must divide a day).
    seed: the same seed gives the same file, byte for byte.
    start: first sample time (UTC): a datetime, date, ISO string or epoch seconds.
    workers: processes to simulate objects in (1: in this process). Workers are
        ``spawn``-ed, so a script calling this with ``workers > 1`` needs the usual
        ``if __name__ == "__main__":`` guard.
    progress: called as ``progress(done, total)`` after each object is written.

    Example
    -------
    >>> generate_fleet("fleet.parquet", objects=5, days=3)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    checked = _check(objects=objects, days=days, step=step, workers=workers, seed=seed)
    objects, days, step, workers, seed = checked.values()
    start_s = parse_start(start)
    jobs = (_Job(i, seed, days, step, start_s) for i in range(objects))
    meta = {"seed": seed, "objects": objects, "days": days, "step": step, "start": start_s}
    schema = ARROW_SCHEMA.with_metadata({"floodmark.generate": orjson.dumps(meta)})
    totals = dict.fromkeys(("series", "samples", "attack_episodes", "attack_samples"), 0)
    totals["flash_crowds"] = 0
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = pq.ParquetWriter(
            tmp,
            schema,
            compression="zstd",
            use_dictionary=_SMALL_COLUMNS,
            write_statistics=_SMALL_COLUMNS,
        )
        try:
            buffer: dict[str, list] = {name: [] for name in VENDOR_COLUMNS}
            pending = 0
            for done, (columns, counts) in enumerate(_ordered_map(object_rows, jobs, workers), 1):
                for name, values in columns.items():
                    buffer[name].extend(values)  # time_series: one array per object
                for name, value in counts.items():
                    totals[name] += value
                pending += 1
                if pending == ROW_GROUP_OBJECTS or done == objects:
                    # One contiguous array per row group, as a list of strings would give.
                    table = pa.Table.from_pydict(
                        {**buffer, "time_series": pa.concat_arrays(buffer["time_series"])},
                        schema=schema,
                    )
                    writer.write_table(table)
                    buffer = {name: [] for name in VENDOR_COLUMNS}
                    pending = 0
                if progress is not None:
                    progress(done, objects)
        finally:
            writer.close()
    return FleetSummary(
        path=path,
        objects=objects,
        file_bytes=path.stat().st_size,
        seconds=time.perf_counter() - t0,
        **totals,
    )


def _check(**values: int) -> dict[str, int]:
    checked = {}
    for name, value in values.items():
        try:
            checked[name] = operator.index(value)  # ints and numpy ints, not floats
        except TypeError:
            raise FloodmarkError(f"{name} must be an integer, got {value!r}") from None
        if (checked[name] < 1 and name != "seed") or isinstance(value, bool):
            raise FloodmarkError(f"{name} must be a positive integer, got {value!r}")
    if checked["seed"] < 0:
        raise FloodmarkError(f"seed must be a non-negative integer, got {checked['seed']}")
    if DAY % checked["step"]:
        raise FloodmarkError(f"step must divide a day (86400 s), got {checked['step']}")
    return checked


def parse_start(start: datetime | date | str | int) -> int:
    """Epoch seconds of ``start``; naive datetimes and dates are taken as UTC."""
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start)
        except ValueError:
            raise FloodmarkError(f"start is not an ISO date or time: {start!r}") from None
    if isinstance(start, datetime):
        moment = start if start.tzinfo else start.replace(tzinfo=UTC)
    elif isinstance(start, date):
        moment = datetime(start.year, start.month, start.day, tzinfo=UTC)
    else:
        try:
            if isinstance(start, bool):
                raise TypeError
            return operator.index(start)  # epoch seconds; floats are refused
        except TypeError:
            raise FloodmarkError(
                f"start must be a date, an ISO string or epoch seconds: {start!r}"
            ) from None
    seconds = moment.timestamp()
    if seconds != int(seconds):
        raise FloodmarkError(f"start must be whole seconds, got {moment.isoformat()}")
    return int(seconds)


def object_rows(job: _Job) -> tuple[dict[str, list], dict[str, int]]:
    """Simulate, label and encode one object: its vendor rows and what it holds.

    ``time_series`` holds one Arrow array (the object's cells): a worker hands back
    two buffers, not 26 strings for the writer to copy one by one.
    """
    traffic = simulate_object(
        job.index, seed=job.seed, days=job.days, step=job.step, start=job.start
    )
    labels = object_labels(traffic, object_streams(job.seed, job.index)["labels"])
    end = job.start + job.days * DAY
    columns: dict[str, list] = {name: [] for name in VENDOR_COLUMNS}
    for series, label in zip(traffic.series, labels, strict=True):
        attacked = series.blocked > 0
        columns["prediction_id"].append(traffic.profile.prediction_id)
        columns["vector"].append(series.vector)
        columns["metric"].append(series.metric)
        columns["request_id"].append(traffic.profile.request_id)
        for name, value in label.items():
            columns[name].append(value)
        columns["start_time"].append(job.start)
        columns["end_time"].append(end)
        # The vendor lists every sample on the passed side but only attack samples on
        # the blocked side; readers must align the two by timestamp.
        columns["time_series"].append(
            vendor_cell(
                series.timestamps,
                series.passed,
                series.timestamps[attacked],
                series.blocked[attacked],
            )
        )
    columns["time_series"] = [cell_array(columns["time_series"])]
    return columns, _counts(traffic)


def _counts(traffic: ObjectTraffic) -> dict[str, int]:
    return {
        "series": len(traffic.series),
        "samples": sum(s.timestamps.size for s in traffic.series),
        "attack_episodes": len(traffic.attacks),
        "attack_samples": sum(int((s.blocked > 0).sum()) for s in traffic.series),
        "flash_crowds": len(traffic.flash_crowds),
    }


def _ordered_map(fn: Callable, items: Iterable, workers: int) -> Iterator:
    """``map(fn, items)`` over ``workers`` processes, in order, a few tasks in flight.

    Every object is simulated with one BLAS thread: its matrix products are tiny
    (13 x 11 by 11 x samples), so more threads only fight the other workers for the
    cores (20x slower, measured), and one thread sums in the same order anyway.
    """
    if workers <= 1:
        with threadpool_limits(limits=1, user_api="blas"):
            yield from map(fn, items)
        return
    # spawn, not fork: forking a process that runs Polars' or BLAS' threads can deadlock.
    context = multiprocessing.get_context("spawn")
    yield from bounded_map(
        fn,
        items,
        workers=workers,
        executor=lambda n: ProcessPoolExecutor(
            max_workers=n, mp_context=context, initializer=_one_blas_thread
        ),
        in_flight=3 * workers,
    )


def _one_blas_thread() -> None:
    threadpool_limits(limits=1, user_api="blas")
