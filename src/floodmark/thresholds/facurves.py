"""Per-series false-alarm curves and attack sizes, measured on the learning days.

Every quantity is on a grid of *multiples* ``r`` of a series' typical daily peak ``M``
(the median of its learned daily maxima of non-attack ``passed``): a level ``r × M``.

- ``own``: alarm episodes per day at ``r × M`` over all learning days (what the
  learning days themselves say; nothing above their largest value);
- ``future``: alarm episodes per day in the *second half* of the learning days at
  ``r`` × the typical peak of the *first half*: how often the next days cross a
  multiple of what was seen before (drift, flash crowds). This is the honest guess above
  ``M``; it is pooled across series (``shrink``) because one series sees few such days;
- ``growth``: the trend of the typical peak, in log per day (the second half's median
  daily maximum against the first half's, never below 0): a series whose peaks keep
  growing crosses a fixed multiple more and more often after the learning days, so
  its curve is read at the multiple the peak will have grown to (``false_alarms``);
- attack sizes: the peak ``passed + blocked`` of each learned attack episode over
  the series' ``M``.

An alarm episode is what the backtest counts (``floodmark.backtest.episodes``): a run
of baseline samples above the level, at least ``min_duration`` samples long; an attack
sample ends a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from floodmark.domain import epoch_us, is_attack, utc_day, with_series_ids
from floodmark.schema import KEY_COLUMNS, empty_long

KEYS = list(KEY_COLUMNS)

#: Multiples of the learned maximum tried as levels, highest first (ties keep the highest).
GRID = np.geomspace(300.0, 0.5, 80)
#: log of the ratio between neighbouring grid multiples.
GRID_LOG_STEP = float(np.log(GRID[0] / GRID[1]))
#: Weight, in series-days, of the fleet's later-days rates in each class's, where the
#: rates are pooled by class (``Curves.false_alarms(kind=…)``: ``budget``'s promise).
CLASS_DAYS = 100.0
#: ``Curves`` as a table, one row per series (``Curves.to_frame``): what an engine
#: measuring series where the data is (Spark) sends back to be fitted at once.
CURVES_SCHEMA: dict[str, pl.DataType] = {
    **{k: pl.String() for k in KEYS},
    **{f: pl.Float64() for f in ("peak", "days", "future_days", "attacks", "growth", "span")},
    **{f: pl.List(pl.Float64()) for f in ("own", "future_count", "attack_sizes")},
}


@dataclass(frozen=True)
class Curves:
    """Learning-day measurements of the series of one fit, one row per series.

    keys: the series (keys as strings), in row order.
    peak: ``M``, the median daily maximum of baseline ``passed`` (NaN without any).
    days: learning days with a baseline sample.
    own: ``(n, len(GRID))`` episodes per day at ``GRID × M`` over all learning days.
    future_count, future_days: episodes in the second half at ``GRID ×`` the first
        half's ``M``, and the second half's days (0 with fewer than 2 days).
    attacks: learned attack episodes per series.
    attack_sizes: every learned attack episode's peak total over its series' ``M``.
    attack_rows: the row of each of ``attack_sizes``' episodes (its series).
    growth: log growth per day of the typical peak (second half against first, >= 0).
    span: days from the first to the last learning day with a baseline sample.
    """

    keys: pl.DataFrame
    peak: np.ndarray
    days: np.ndarray
    own: np.ndarray
    future_count: np.ndarray
    future_days: np.ndarray
    attacks: np.ndarray
    attack_sizes: np.ndarray
    growth: np.ndarray
    span: np.ndarray
    attack_rows: np.ndarray

    #: the per-series arrays, one row per series
    ROWS = ("peak", "days", "own", "future_count", "future_days", "attacks", "growth", "span")

    @classmethod
    def concat(cls, parts: Sequence[Curves]) -> Curves:
        """The curves of several fits' series together (each series measured once)."""
        if not parts:
            return measure(empty_long(), pl.DataFrame(schema=dict.fromkeys(KEYS, pl.String)))
        offsets = np.cumsum([0, *(p.keys.height for p in parts)])
        return cls(
            keys=pl.concat([p.keys for p in parts]),
            attack_sizes=np.concatenate([p.attack_sizes for p in parts]),
            attack_rows=np.concatenate(
                [p.attack_rows + o for p, o in zip(parts, offsets, strict=False)]
            ),
            **{f: np.concatenate([getattr(p, f) for p in parts]) for f in cls.ROWS},
        )

    def to_frame(self) -> pl.DataFrame:
        """The curves as a table (``CURVES_SCHEMA``): one row per series, its grid
        curves and its attack sizes as lists."""
        n = self.keys.height
        order = np.argsort(self.attack_rows, kind="stable")
        ends = np.cumsum(np.bincount(self.attack_rows, minlength=n))
        sizes = pa.ListArray.from_arrays(
            np.r_[0, ends].astype(np.int32), pa.array(self.attack_sizes[order], pa.float64())
        )
        width = len(GRID)
        grids = {
            f: pa.ListArray.from_arrays(
                np.arange(0, (n + 1) * width, width, dtype=np.int32),
                pa.array(getattr(self, f).reshape(-1), pa.float64()),
            )
            for f in ("own", "future_count")
        }
        columns = {f: getattr(self, f) for f in self.ROWS if f not in grids}
        frame = self.keys.with_columns(
            *(pl.Series(f, v, pl.Float64) for f, v in columns.items()),
            *(pl.Series(f, v) for f, v in grids.items()),
            pl.Series("attack_sizes", sizes),
        )
        return frame.select(CURVES_SCHEMA.keys()).cast(CURVES_SCHEMA)

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> Curves:
        """The curves ``to_frame`` wrote (rows in any order: each carries its series)."""
        frame = frame.select(CURVES_SCHEMA.keys()).cast(CURVES_SCHEMA)
        n = frame.height
        counts = frame["attack_sizes"].list.len().to_numpy()
        sizes = frame["attack_sizes"].to_arrow().flatten().to_numpy(zero_copy_only=False)
        return cls(
            keys=frame.select(KEYS),
            attack_sizes=np.asarray(sizes, dtype=np.float64),
            attack_rows=np.repeat(np.arange(n, dtype=np.int64), counts),
            **{
                f: _grid_rows(frame[f], n)
                if f in ("own", "future_count")
                else frame[f].to_numpy().astype(np.float64)
                for f in cls.ROWS
            },
        )

    def select(self, series: pl.DataFrame) -> Curves:
        """The curves of ``series`` (keys), in that order: a series that was not measured
        has no days, no peak and no attacks, like one without learning samples."""
        keys = series.select(pl.col(k).cast(pl.String) for k in KEYS)
        order = keys.join(
            self.keys.with_row_index("row"), on=KEYS, how="left", maintain_order="left"
        )["row"]
        rows = order.fill_null(0).to_numpy().astype(np.int64)
        known = order.is_not_null().to_numpy()
        # each measured row's new position (-1: not selected), to keep its attacks
        position = np.full(self.keys.height, -1, dtype=np.int64)
        position[rows[known]] = np.flatnonzero(known)
        moved = position[self.attack_rows]
        kept = moved >= 0
        return Curves(
            keys=keys,
            attack_sizes=self.attack_sizes[kept],
            attack_rows=moved[kept],
            **{
                f: _reorder(getattr(self, f), rows, known, np.nan if f == "peak" else 0.0)
                for f in self.ROWS
            },
        )

    def false_alarms(
        self,
        prior_days: float,
        horizon_days: float = 0.0,
        kind: np.ndarray | None = None,
        class_days: float = CLASS_DAYS,
    ) -> np.ndarray:
        """``(n, len(GRID))`` expected alarm episodes per day at ``GRID × M``.

        The second-half rate of each series, shrunk towards the pooled rate with the
        weight of ``prior_days`` days, and never below what the learning days
        themselves show. The pooled rate is the fleet's, or with ``kind`` (each series'
        class) its class's, itself shrunk towards the fleet's with the weight of
        ``class_days`` series-days. With ``horizon_days``, a growing series'
        curve is averaged over the next ``horizon_days`` days, each read at the
        multiple its typical peak will have grown to by then (its ``growth`` from the
        middle of the learning days, shrunk like the rates).
        """
        days = self.future_days[:, None]
        pooled = self.future_count.sum(axis=0) / max(float(self.future_days.sum()), 1.0)
        prior = np.broadcast_to(pooled, self.future_count.shape)
        if kind is not None and len(kind):
            classes = int(kind.max()) + 1
            counts = np.stack([np.bincount(kind, c, classes) for c in self.future_count.T], 1)
            spent = np.bincount(kind, self.future_days, classes)[:, None]
            prior = ((counts + class_days * pooled[None, :]) / (spent + class_days))[kind]
        future = (self.future_count + prior_days * prior) / (days + prior_days)
        curve = np.maximum(self.own, future)
        if horizon_days <= 0:
            return curve
        return _grown(
            curve, self.growth * self.days / (self.days + prior_days), self.span, horizon_days
        )


def measure(
    samples: pl.DataFrame,
    series: pl.DataFrame,
    *,
    blocked_threshold: float = 0.0,
    min_duration: int = 1,
) -> Curves:
    """The curves of every series in ``series`` (keys) from its learning ``samples``."""
    keys = series.select(pl.col(k).cast(pl.String) for k in KEYS)
    df = with_series_ids(
        samples.select(*KEYS, "timestamp", "passed", "blocked")
        .with_columns(pl.col(k).cast(pl.String) for k in KEYS)
        .join(keys, on=KEYS, how="semi")
    )
    df = df.with_columns(
        attack=is_attack(blocked_threshold),
        day=utc_day(epoch_us()),
        passed=pl.col("passed").cast(pl.Float64).fill_nan(None),
    ).with_columns(base=~pl.col("attack") & pl.col("passed").is_not_null())
    per = df.group_by("sid", maintain_order=True).agg(
        *(pl.col(k).first() for k in KEYS),
        first_day=pl.col("day").filter(pl.col("base")).min(),
        last_day=pl.col("day").filter(pl.col("base")).max(),
        days=pl.col("day").filter(pl.col("base")).n_unique(),
    )
    mid = (pl.col("first_day") + pl.col("last_day") + 1) // 2  # second half starts here
    per = per.with_columns(mid=mid)
    df = df.join(per.select("sid", "mid"), on="sid", how="left", maintain_order="left")
    # the unit: a typical day's peak (median of daily maxima), which one outlying day
    # (a flash crowd) cannot move, unlike the maximum
    # days in order: the mean below sums them in that order, the same on every engine
    daily = (
        df.filter(pl.col("base"))
        .group_by("sid", "day")
        .agg(top=pl.col("passed").max(), early=(pl.col("day") < pl.col("mid")).first())
        .sort("sid", "day")
    )
    # a series silent on most days: the mean daily maximum (positive if it ever carried traffic)
    top, early_top = pl.col("top"), pl.col("top").filter(pl.col("early"))
    late_top = pl.col("top").filter(~pl.col("early"))
    stats = daily.group_by("sid").agg(
        peak=pl.when(top.median() > 0).then(top.median()).otherwise(top.mean()),
        first_peak=pl.when(early_top.median() > 0)
        .then(early_top.median())
        .otherwise(early_top.mean()),
        late_peak=late_top.median(),
        future_days=(~pl.col("early")).sum(),
    )
    per = per.join(stats, on="sid", how="left", maintain_order="left").with_columns(
        pl.col("future_days").fill_null(0)
    )
    n = per.height
    sid = df["sid"].to_numpy()
    index = np.searchsorted(per["sid"].to_numpy(), sid)
    passed = df["passed"].fill_null(np.nan).to_numpy()
    base = df["base"].to_numpy()
    second = base & (df["day"].to_numpy() >= df["mid"].fill_null(np.iinfo(np.int64).max).to_numpy())
    first = np.r_[True, sid[1:] != sid[:-1]]
    peak = per["peak"].fill_null(np.nan).to_numpy().astype(np.float64)
    first_peak = per["first_peak"].fill_null(np.nan).to_numpy().astype(np.float64)
    days = per["days"].to_numpy().astype(np.float64)
    span = (per["last_day"] - per["first_day"] + 1).fill_null(0).to_numpy().astype(np.float64)
    # medians of the two halves' daily maxima, half a span apart: robust to a flash crowd
    late_peak = per["late_peak"].fill_null(np.nan).to_numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.log(late_peak / first_peak) / np.maximum(span / 2, 1.0)
    growth = np.where(np.isfinite(growth) & (days >= 2), np.maximum(growth, 0.0), 0.0)
    # a second half says nothing about the future of a first half without traffic
    future_days = np.where(
        (days >= 2) & (first_peak > 0), per["future_days"].to_numpy().astype(np.float64), 0.0
    )
    own = np.zeros((n, len(GRID)))
    future = np.zeros((n, len(GRID)))
    for k, r in enumerate(GRID):
        above = base & (passed > r * peak[index])
        own[:, k] = _episodes(above, first, index, n, min_duration)
        later = second & (passed > r * first_peak[index])
        future[:, k] = _episodes(later, first, index, n, min_duration)
    own = own / np.maximum(days, 1.0)[:, None]
    future[future_days == 0] = 0.0
    attacks, sizes, owners = _attack_sizes(df, per, peak, min_duration)
    # the grid is monotone: a higher level never alarms more
    own = np.maximum.accumulate(own, axis=1)
    future = np.maximum.accumulate(future, axis=1)
    # measured in ``per``'s order, then put in the order asked for (every measured
    # series was asked for: the samples were cut to ``series``)
    return Curves(
        keys=per.select(KEYS),
        peak=peak,
        days=days,
        own=own,
        future_count=future,
        future_days=future_days,
        attacks=attacks,
        attack_sizes=sizes,
        growth=growth,
        span=span,
        attack_rows=owners,
    ).select(keys)


def _grown(
    curve: np.ndarray, growth: np.ndarray, span: np.ndarray, horizon_days: float
) -> np.ndarray:
    """``curve`` averaged over the days ``1..horizon`` after the learning days, each
    day read at ``GRID / g`` where ``g`` is the peak's growth since the middle of the
    learning days (a lower multiple of the grown peak: a later grid index)."""
    n, k = curve.shape
    ahead = np.arange(1, max(int(round(horizon_days)), 1) + 1, dtype=np.float64)
    # grid steps the peak has grown by on each future day, per series
    steps = np.rint(growth[:, None] * (span[:, None] / 2 + ahead[None, :]) / GRID_LOG_STEP)
    steps = np.where(np.isfinite(steps), steps, 0).astype(np.int64)
    at = np.minimum(np.arange(k)[None, None, :] + steps[:, :, None], k - 1)
    shifted = np.take_along_axis(curve[:, None, :], at, axis=2).mean(axis=1)
    return np.maximum(curve, shifted)


def _grid_rows(column: pl.Series, n: int) -> np.ndarray:
    """A list column of grid curves as an ``(n, len(GRID))`` array."""
    values = column.to_arrow().flatten().to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64).reshape(n, len(GRID))


def _reorder(a: np.ndarray, rows: np.ndarray, known: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """``a``'s rows in the order of the requested series (``fill`` for series without samples)."""
    shape = (len(rows), *a.shape[1:])
    if len(a) == 0:
        return np.full(shape, fill)
    mask = known.reshape((-1,) + (1,) * (a.ndim - 1))
    return np.where(mask, a[rows], fill)


def _episodes(
    cond: np.ndarray, first: np.ndarray, index: np.ndarray, n: int, min_duration: int
) -> np.ndarray:
    """Runs of ``cond`` at least ``min_duration`` rows long, per series (rows in order)."""
    held = cond.copy()
    for k in range(1, min_duration):
        prev = np.zeros_like(cond)
        prev[k:] = cond[:-k]
        same = np.zeros_like(cond)
        same[k:] = index[k:] == index[:-k]
        held &= prev & same
    before = np.r_[False, held[:-1]] & ~first
    starts = held & ~before
    return np.bincount(index[starts], minlength=n).astype(np.float64)


def _attack_sizes(
    df: pl.DataFrame, per: pl.DataFrame, peak: np.ndarray, min_duration: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Learned attack episodes per series, each usable one's size over its series' ``M``,
    and the series (row of ``per``) of each size.

    The size is the highest ``passed + blocked`` the episode holds for ``min_duration``
    samples in a row (its peak for 1): a level alarming after N samples catches an
    attack only if it stays above it that long, so an episode shorter than N has size 0.
    """
    total = pl.col("passed").fill_null(0.0) + pl.col("blocked").fill_nan(0.0)
    held = total if min_duration == 1 else total.rolling_min(min_duration).over("run")
    runs = (
        df.with_columns(run=pl.struct("sid", "attack").rle_id())
        .with_columns(held=held)
        .filter(pl.col("attack"))
        .group_by("sid", "run")
        .agg(total=pl.col("held").max().fill_null(0.0))
    )
    index = np.searchsorted(per["sid"].to_numpy(), runs["sid"].to_numpy())
    counts = np.bincount(index, minlength=per.height).astype(np.float64)
    top = peak[index]
    total_of = runs["total"].to_numpy()
    usable = np.isfinite(top) & (top > 0) & np.isfinite(total_of) & (total_of >= 0)
    return counts, total_of[usable] / top[usable], index[usable]
