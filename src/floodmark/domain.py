"""What floodmark means by attack traffic, a day, a series run and a sampling step.

Each is defined here once and used by every layer (features, thresholds, backtest,
report), so they cannot disagree. This module depends only on ``floodmark.schema``.

- **Attack traffic**: a sample is an attack sample when ``blocked > blocked_threshold``
  (the mitigation dropped more than that). A missing (null) or NaN ``blocked`` means
  nothing was blocked: not an attack. Every other sample is *baseline* traffic.
- **Day**: the UTC calendar day of a timestamp, numbered from the epoch.
- **Series run**: rows of one series lie one after another; runs are numbered 0, 1, …
  in row order.
- **Sampling step**: the median difference between consecutive timestamps of a series,
  in seconds (the store's catalog keeps it as ``median_step_s``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TypeVar

import polars as pl

from floodmark.schema import KEY_COLUMNS

#: Microseconds in a UTC day.
DAY_US = 86_400 * 1_000_000
#: Seconds in a UTC day.
DAY_S = 86_400.0

T = TypeVar("T")
R = TypeVar("R")


def is_attack(
    blocked_threshold: float = 0.0, blocked: str | pl.Expr = "blocked", *, finite: bool = False
) -> pl.Expr:
    """True where a sample is attack traffic: ``blocked > blocked_threshold``.

    Never null: a null or NaN ``blocked`` is not an attack (nothing was blocked).
    ``finite=True`` promises the column has neither (the feature engine checks its
    input): the same answer, without the two passes that handle them.
    """
    value = pl.col(blocked) if isinstance(blocked, str) else blocked
    if finite:
        return value > blocked_threshold
    return (value.cast(pl.Float64).fill_nan(None) > blocked_threshold).fill_null(False)


def is_baseline(
    blocked_threshold: float = 0.0, blocked: str | pl.Expr = "blocked", *, finite: bool = False
) -> pl.Expr:
    """True where a sample is baseline (non-attack) traffic: the negation of ``is_attack``."""
    if finite:
        value = pl.col(blocked) if isinstance(blocked, str) else blocked
        return value <= blocked_threshold
    return ~is_attack(blocked_threshold, blocked)


def epoch_us(timestamp: str | pl.Expr = "timestamp") -> pl.Expr:
    """A Datetime column as Int64 microseconds since the epoch (UTC)."""
    value = pl.col(timestamp) if isinstance(timestamp, str) else timestamp
    return value.dt.epoch("us")


def utc_day(us: pl.Expr) -> pl.Expr:
    """The UTC day number (days since 1970-01-01) of epoch microseconds."""
    return us // DAY_US


def day_start(day: pl.Expr) -> pl.Expr:
    """The start (``Datetime("us", "UTC")``) of the UTC day numbered ``day``."""
    return pl.from_epoch(day * DAY_US, time_unit="us").dt.replace_time_zone("UTC")


def run_ids(*columns: str | pl.Expr) -> pl.Expr:
    """Number the runs of equal values of ``columns`` in row order: 0, 1, … (UInt32).

    On rows sorted by series (and time), ``run_ids(*KEY_COLUMNS)`` numbers the series
    and ``run_ids("sid", day)`` the series-days.
    """
    return pl.struct(*columns).rle_id()


def median_step_s(timestamp: str | pl.Expr = "timestamp") -> pl.Expr:
    """Aggregation: the median step in seconds between consecutive timestamps (null
    with fewer than two). Apply per series, over rows in time order."""
    value = pl.col(timestamp) if isinstance(timestamp, str) else timestamp
    return value.diff().dt.total_microseconds().median() / 1e6


def series_steps(samples: pl.DataFrame, known: pl.DataFrame | None = None) -> pl.DataFrame:
    """``sid, step_s`` for every series of ``samples`` (which has ``sid``, the keys and
    ``timestamp``): the step ``known`` gives (keys, ``median_step_s``: the store's
    catalog), else, for a series it does not list, the median step of its samples here.
    """
    keys = list(KEY_COLUMNS)
    if known is not None:
        given = (
            samples.group_by("sid", maintain_order=True)
            .agg(pl.col(keys).first())
            .join(
                known.select(*(pl.col(k).cast(pl.String) for k in keys), "median_step_s"),
                on=keys,
                how="left",
                maintain_order="left",
            )
        )
        if given["median_step_s"].null_count() == 0:  # the usual case: no re-deriving
            return given.select("sid", step_s="median_step_s")
    derived = samples.group_by("sid", maintain_order=True).agg(step_s=median_step_s())
    if known is None:
        return derived
    return derived.join(given, on="sid", how="left", maintain_order="left").select(
        "sid", step_s=pl.coalesce("median_step_s", "step_s")
    )


def with_series_ids(samples: pl.DataFrame, keys: Iterable[str] = KEY_COLUMNS) -> pl.DataFrame:
    """``samples`` with ``sid`` (``run_ids`` of the keys) and each series one run in time order.

    The store reads whole series as time-ordered row ranges, so this usually only
    checks; other input is sorted by keys and time first.
    """
    keys = list(keys)
    ts = pl.col("timestamp")
    df = samples.with_columns(sid=run_ids(*keys))
    first = pl.col("sid") != pl.col("sid").shift(1)
    in_order = (first | (ts > ts.shift(1))).fill_null(True).all()
    series = df.select(pl.col("sid").max() + 1).item() if df.height else 0
    distinct = df.select(pl.struct(keys).n_unique()).item() if df.height else 0
    if not (series == distinct and df.select(in_order).item()):
        df = samples.sort([*keys, "timestamp"]).with_columns(sid=run_ids(*keys))
    return df


def bounded_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    executor: Callable[[int], Executor] | None = None,
    in_flight: int | None = None,
) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads (or ``executor(workers)``), in order.

    At most ``in_flight`` items (default ``workers``) are submitted and not yet taken,
    so memory holds that many results whatever the input's length. ``workers <= 1``
    maps in this thread. Leaving the loop early cancels what was not started.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    limit = max(in_flight or workers, 1)
    make = executor or (lambda n: ThreadPoolExecutor(max_workers=n))
    pool = make(workers)
    pending: deque[Future[R]] = deque()
    queue = iter(items)
    try:
        for item in queue:
            pending.append(pool.submit(fn, item))
            if len(pending) >= limit:
                break
        while pending:
            result = pending.popleft().result()
            for item in queue:  # submit the next one only once a result was taken
                pending.append(pool.submit(fn, item))
                break
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
