"""The one loop threshold work runs on a store: load window → features → fit → predict.

Each stage is a function, so ``recommend`` and the backtest run the same code:

- **load window** (``store_windows``): the store streamed chunk by chunk (complete
  series, memory bounded by the chunk); a ``Window`` holds the samples to learn
  from, the series to predict and, in a backtest, the held-out rest;
- **features** (``window_features``): the learning samples' features, finished
  across chunks (recommend reads them from a features file instead);
- **fit → predict** (``fit_predict``): every per-series method fitted on each
  window's features and samples, and its thresholds predicted for that window.

Methods that learn across series (``learns_across_series``) are fitted once on
all features, outside the loop; the backtest cross-fits them. Methods that pool
the series' samples (``pools_series``: ``budget``) are measured window by window and
fitted once on all the measurements (``fit_pooled``), so the chunk size, which only
bounds memory, never changes their thresholds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA
from floodmark.thresholds.base import ThresholdMethod

if TYPE_CHECKING:
    from floodmark.store import Store

KEYS = list(KEY_COLUMNS)


@dataclass(frozen=True)
class Window:
    """One chunk of complete series, as a stage of the loop sees it.

    learn: samples to learn from (``LONG_SCHEMA``).
    series: keys of the series to predict thresholds for.
    test: held-out samples (a backtest's test part), passed through untouched.
    n_series: series in the chunk (for progress).
    """

    learn: pl.DataFrame
    series: pl.DataFrame
    test: pl.DataFrame | None = None
    n_series: int = 0


def series_of(samples: pl.DataFrame) -> pl.DataFrame:
    """The distinct series keys (as strings) of a long table, in first-seen order."""
    keys = samples.select(pl.col(k).cast(pl.String) for k in KEYS)
    return keys.unique(maintain_order=True)


def with_store_steps(features: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """``features`` with the catalog's sampling step (``median_step_s``) of each series,
    for the methods that read samples (one step for every layer: the store's), and
    the number of series of its object (``object_series``: a budget per object is
    shared by all of them, though a chunk may hold only some)."""
    steps = (
        catalog.select(*(pl.col(k).cast(pl.String) for k in KEYS), "median_step_s")
        .unique(KEYS, keep="last")
        .with_columns(object_series=pl.len().over("prediction_id").cast(pl.Float64))
    )
    return features.drop("median_step_s", "object_series", strict=False).join(
        steps, on=KEYS, how="left", maintain_order="left"
    )


def store_windows(
    store: Store,
    chunk_rows: int,
    split: Callable[[pl.DataFrame], Window] | None = None,
) -> Iterator[Window]:
    """Load-window stage: the store chunk by chunk, each chunk cut by ``split``
    (default: every sample learns and every series is predicted)."""
    for chunk in store.iter_chunks(chunk_rows):
        if split is not None:
            yield split(chunk)
        else:
            series = series_of(chunk)
            yield Window(chunk, series, n_series=series.height)


def window_features(
    windows: Iterable[Window],
    blocked_threshold: float = 0.0,
    progress: Callable[[Window], None] | None = None,
) -> pl.DataFrame:
    """Features stage: one row of features per series, from its learning samples.

    Chunks hold whole series but not whole objects, so the cross-series features
    are finished once at the end (``floodmark.features`` ``batch_features``).
    """
    from floodmark.features.chunked import batch_features
    from floodmark.features.families import FeatureParams

    def learning() -> Iterator[pl.DataFrame]:
        for window in windows:
            yield window.learn.select(LONG_SCHEMA.keys())
            if progress is not None:
                progress(window)

    params = FeatureParams(blocked_threshold=blocked_threshold)
    return batch_features(learning(), params).features


def fit_predict(
    features: pl.DataFrame,
    methods: Sequence[ThresholdMethod],
    windows: Iterable[Window],
) -> Iterator[tuple[Window, list[pl.DataFrame]]]:
    """Fit → predict stage: per window, a fresh clone of every method fitted on the
    features and learning samples of the window's series, then predicted for them; a
    method pooling series that is already fitted (on the whole fleet: ``fit_pooled``)
    only predicts.

    Yields each window with one thresholds table per method (none when no series of
    the window has features).
    """
    for window in windows:
        part = features.join(window.series, on=KEYS, how="semi", maintain_order="left")
        if part.is_empty():
            yield window, []
            continue
        yield (
            window,
            [
                (m if _fitted_once(m) else m.clone().fit(part, window.learn)).predict(part)
                for m in methods
            ],
        )


def measure_windows(
    methods: Mapping[str, ThresholdMethod], windows: Iterable[Window]
) -> tuple[Iterator[Window], dict[str, list[Any]]]:
    """The windows, passed through, and what every method pooling series measures on
    each window's learning samples as they pass (filled while the windows are read)."""
    measured: dict[str, list[Any]] = {name: [] for name in methods}

    def passing() -> Iterator[Window]:
        for window in windows:
            if methods and not window.learn.is_empty():
                series = series_of(window.learn)
                for name, method in methods.items():
                    measured[name].append(method.measure(series, window.learn))
            yield window

    return passing(), measured


def fit_pooled(
    method: ThresholdMethod,
    features: pl.DataFrame,
    windows: Iterable[Window],
    progress: Callable[[Window], None] | None = None,
) -> ThresholdMethod:
    """Fit stage of a method pooling series: every window measured (memory holds one
    window and the small per-series summaries), then one fit over all series."""
    passing, measured = measure_windows({method.name: method}, windows)
    for window in passing:
        if progress is not None:
            progress(window)
    return method.clone().fit_measured(features, measured[method.name])


def _fitted_once(method: ThresholdMethod) -> bool:
    """A method pooling series, already fitted over every window."""
    return method.pools_series and method.is_fitted()
