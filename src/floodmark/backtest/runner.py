"""``run_backtest``: learn thresholds on the start of every series, score them on the rest.

It runs the threshold pipeline (``floodmark.thresholds.pipeline``) with named stages:
load window (each store chunk split in time, labelled windows marked) → features of
the learning part → fit → predict → score on the test part. The store is streamed
chunk by chunk (each chunk holds complete series), so memory stays bounded by the
chunk size, whatever the fleet. Per-series methods are fitted and scored chunk by
chunk; methods that learn across series (``learns_across_series``: ``model``) are
cross-fitted once every chunk's learning features are known (no object is scored
by a model trained on it) and scored in the second pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from floodmark.backtest.crossfit import cross_fit
from floodmark.backtest.episodes import (
    DELAY_SCHEMA,
    SCORE_SCHEMA,
    SPAN_SCHEMA,
    label_samples,
    score_thresholds,
    span_summary,
)
from floodmark.backtest.experts import catalog_labels, has_expert_labels, with_experts
from floodmark.backtest.result import BacktestMeta, BacktestParameters, BacktestResult
from floodmark.backtest.split import check_split, split_series
from floodmark.backtest.summary import object_days, summarise
from floodmark.backtest.windows import mark_windows, normalise_windows
from floodmark.domain import with_series_ids
from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.schema import KEY_COLUMNS, LEVELS, LONG_SCHEMA

if TYPE_CHECKING:
    from floodmark.store import Store
    from floodmark.thresholds.base import ThresholdMethod
    from floodmark.thresholds.pipeline import Window

KEYS = list(KEY_COLUMNS)

#: ``progress(stage, done, total)``: called as work advances (series or folds).
Progress = Callable[[str, int, int], None]


def run_backtest(
    store: Store | str | Path,
    methods: Sequence[str],
    *,
    learn_days: float = 21,
    learn_fraction: float | None = None,
    windows: pl.DataFrame | None = None,
    blocked_threshold: float = 0.0,
    method_params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress | None = None,
    model_folds: int = 5,
    chunk_rows: int = 2_000_000,
) -> BacktestResult:
    """Backtest threshold methods on a store: false alarms, detections, agreement with experts.

    Parameters
    ----------
    store: a ``floodmark.store.Store``, or the path of one.
    methods: names from ``floodmark.thresholds.METHODS`` (``rule-max``, ``rule-daily``,
        ``evt``, ``model``).
    learn_days: the first ``learn_days`` days of every series learn, the rest test.
    learn_fraction: instead, the first fraction of every series' time span learns
        (e.g. 0.5 for short public traces); it wins over ``learn_days``.
    windows: labelled anomaly windows ``(prediction_id, start, end)``; their samples
        are attack samples and are left out of the learning part.
    blocked_threshold: samples with ``blocked`` above it are attacks (0 by default):
        for the features, for every method that reads samples and for the scoring.
    method_params: ``{method: {parameter: value}}`` passed to ``make_method``.
    progress: optional ``progress(stage, done, total)`` callback.
    model_folds: GroupKFold folds (by prediction_id) for cross-fitted methods.
    chunk_rows: rows per chunk read from the store (bounds memory).

    Example::

        result = run_backtest("fleet-store", ["rule-daily", "evt"], learn_days=21)
        result.table  # one row per method × level
    """
    # Imported here: the store and the methods pull in heavy dependencies, and the
    # episode kernels must stay importable on their own.
    from floodmark.store import open_store
    from floodmark.thresholds import METHODS, make_method
    from floodmark.thresholds.pipeline import (
        fit_predict,
        store_windows,
        window_features,
        with_store_steps,
    )

    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise FloodmarkError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    check_split(learn_days, learn_fraction)
    params = _resolve_params(methods, method_params, blocked_threshold)
    if windows is not None:
        windows = normalise_windows(windows)
    if isinstance(store, str | Path):
        store = open_store(store)

    catalog = store.catalog()
    labels = catalog_labels(catalog)
    crossed = [m for m in methods if METHODS[m].learns_across_series]
    direct = [m for m in methods if not METHODS[m].learns_across_series]
    if crossed and not has_expert_labels(labels):
        raise InsufficientDataError(
            f"method {crossed[0]!r} learns from expert labels (ip_ss..ip_rl); this store has none",
            file=store.path,
        )

    def split(chunk: pl.DataFrame) -> Window:
        """Load-window stage: learning part (outside labelled windows) and test part."""
        from floodmark.thresholds.pipeline import Window, series_of

        df = split_series(
            mark_windows(with_series_ids(chunk.select(LONG_SCHEMA.keys())), windows),
            learn_days=learn_days,
            learn_fraction=learn_fraction,
        )
        learn = df.filter(pl.col("learn") & ~pl.col("in_window")).select(LONG_SCHEMA.keys())
        test = df.filter(~pl.col("learn")).drop("learn")
        n_series = df.select(pl.col("sid").n_unique()).item()
        return Window(learn=learn, series=series_of(test), test=test, n_series=n_series)

    def counter(stage: str) -> Callable[[Window], None]:
        done = 0

        def tick(window: Window) -> None:
            nonlocal done
            done += window.n_series
            if progress is not None:
                progress(stage, done, catalog.height)

        return tick

    # Pass 1: learning-window features of every series.
    features = window_features(
        store_windows(store, chunk_rows, split), blocked_threshold, counter("learning features")
    )
    if features.is_empty():
        raise InsufficientDataError("no series has a learning sample", file=store.path)
    features = features.join(labels, on=KEYS, how="left", maintain_order="left")

    predicted: list[pl.DataFrame] = []
    for m in crossed:
        table = cross_fit(
            features,
            lambda m=m: make_method(m, **params.get(m, {})),
            n_splits=model_folds,
            progress=None if progress is None else lambda i, n, m=m: progress(f"{m} folds", i, n),
        )
        predicted.append(table.drop("fold").with_columns(method=pl.lit(m, pl.String)))
    crossed_long = _long_thresholds(predicted)

    # Pass 2: per-series methods fitted and predicted chunk by chunk; every method scored.
    estimators: list[ThresholdMethod] = [make_method(m, **params.get(m, {})) for m in direct]
    steps = catalog.select(*KEYS, "median_step_s")
    scores: list[pl.DataFrame] = [pl.DataFrame(schema=SCORE_SCHEMA)]
    delays: list[pl.DataFrame] = [pl.DataFrame(schema=DELAY_SCHEMA)]
    spans: list[pl.DataFrame] = [pl.DataFrame(schema=SPAN_SCHEMA)]
    tick = counter("fit and score")
    chunks = store_windows(store, chunk_rows, split)
    stepped = with_store_steps(features, catalog)
    for window, tables in fit_predict(stepped, estimators, chunks):
        predicted.extend(tables)
        chunk_thresholds = pl.concat(
            [
                _long_thresholds(tables),
                crossed_long.join(window.series, on=KEYS, how="semi", maintain_order="left"),
            ]
        )
        s, d, span = _score(window.test, chunk_thresholds, blocked_threshold, steps)
        scores.append(s)
        delays.append(d)
        spans.append(span)
        tick(window)

    per_series = with_experts(pl.concat(scores), labels)
    per_series = per_series.sort(
        pl.col("method").replace_strict(methods, list(range(len(methods)))),
        *KEYS,
        pl.col("level").replace_strict(LEVELS, list(range(len(LEVELS)))),
    )
    span_frame = pl.concat(spans)
    if span_frame.is_empty():
        longest = catalog.select(
            (pl.col("last_timestamp") - pl.col("first_timestamp")).max().dt.total_seconds()
        ).item()
        split_text = (
            f"learn_fraction={learn_fraction}"
            if learn_fraction is not None
            else f"learn_days={learn_days:g}"
        )
        raise InsufficientDataError(
            f"no series has a sample after its learning part ({split_text}; the longest series "
            f"spans {(longest or 0) / 86_400:.1f} days): learn on fewer days",
            file=store.path,
        )
    table = summarise(per_series, pl.concat(delays), span_frame, methods)
    meta = _meta(
        store=store,
        catalog=catalog,
        methods=methods,
        spans=span_frame,
        predicted=predicted,
        per_series=per_series,
        windows=windows,
        learn_days=learn_days,
        learn_fraction=learn_fraction,
        parameters=BacktestParameters(
            blocked_threshold=blocked_threshold,
            method_params=params,
            model_folds=model_folds if crossed else None,
            chunk_rows=chunk_rows,
        ),
    )
    return BacktestResult(table=table, per_series=per_series, meta=meta)


def _score(
    test: pl.DataFrame, thresholds: pl.DataFrame, blocked_threshold: float, steps: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Score stage: false alarms and detections of every threshold on the test part."""
    labelled = label_samples(test, blocked_threshold=blocked_threshold, in_window="in_window")
    scores, delays = score_thresholds(labelled, thresholds)
    return scores, delays, span_summary(labelled, steps)


def _resolve_params(
    methods: list[str],
    given: Mapping[str, Mapping[str, Any]] | None,
    blocked_threshold: float,
) -> dict[str, dict[str, Any]]:
    """Per-method parameters: the user's, plus the backtest's own where a method declares them."""
    from floodmark.thresholds import METHODS

    params = {name: dict(p) for name, p in (given or {}).items()}
    stray = [name for name in params if name not in methods]
    if stray:
        raise FloodmarkError(f"parameters given for methods not run: {stray}")
    for name in methods:
        declared = METHODS[name].parameters
        # One definition of "attack" for learning and scoring, unless set per method.
        if "blocked_threshold" in declared:
            params.setdefault(name, {}).setdefault("blocked_threshold", blocked_threshold)
        # The backtest is the cross-validation of a learned method: its own inner CV
        # would only repeat the training k times per fold.
        if METHODS[name].learns_across_series and "folds" in declared:
            params.setdefault(name, {}).setdefault("folds", 0)
    return params


def _long_thresholds(tables: list[pl.DataFrame]) -> pl.DataFrame:
    """Thresholds tables → ``keys, method, level, threshold`` rows."""
    schema = {
        **{k: pl.String() for k in KEYS},
        "method": pl.String(),
        "level": pl.String(),
        "threshold": pl.Float64(),
    }
    parts = [
        t.select(*KEYS, "method", *(pl.col(lv).cast(pl.Float64) for lv in LEVELS)).unpivot(
            index=[*KEYS, "method"], on=list(LEVELS), variable_name="level", value_name="threshold"
        )
        for t in tables
        if not t.is_empty()
    ]
    return pl.concat(parts).cast(schema) if parts else pl.DataFrame(schema=schema)


def _meta(
    *,
    store: Store,
    catalog: pl.DataFrame,
    methods: list[str],
    spans: pl.DataFrame,
    predicted: list[pl.DataFrame],
    per_series: pl.DataFrame,
    windows: pl.DataFrame | None,
    learn_days: float,
    learn_fraction: float | None,
    parameters: BacktestParameters,
) -> BacktestMeta:
    tested = spans.filter(pl.col("n_test") > 0)
    thresholds = [t for t in predicted if not t.is_empty()]
    fallbacks: dict[str, int] = {}
    expected: dict[str, dict[str, float]] = {}
    n_objects_tested = tested["prediction_id"].n_unique()
    for m in methods:
        rows = [t.filter(pl.col("method") == m) for t in thresholds]
        rows = pl.concat(rows, how="diagonal_relaxed") if rows else pl.DataFrame()
        if "fallback" in rows.columns:
            fallbacks[m] = int(rows["fallback"].is_not_null().sum())
        fa_cols = [f"expected_fa_per_day_{lv}" for lv in LEVELS]
        if all(c in rows.columns for c in fa_cols) and n_objects_tested:
            # The method's own promise, summed over tested series, per object-day.
            rows = rows.join(tested.select(KEYS), on=KEYS, how="semi")
            if rows.select(pl.col(fa_cols).is_not_null().any()).row(0) != (False,) * 4:
                expected[m] = {
                    lv: float(rows[f"expected_fa_per_day_{lv}"].fill_nan(None).sum())
                    / n_objects_tested
                    for lv in LEVELS
                }
    missing = per_series.filter(pl.col("threshold").is_null()).group_by("method").agg(n=pl.len())
    return BacktestMeta(
        learn_days=None if learn_fraction is not None else learn_days,
        learn_fraction=learn_fraction,
        n_series=catalog.height,
        n_series_tested=tested.height,
        n_objects=catalog["prediction_id"].n_unique() if catalog.height else 0,
        n_objects_tested=n_objects_tested,
        object_days=object_days(spans),
        source=str(store.path),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        methods=tuple(methods),
        levels=tuple(LEVELS),
        n_windows=0 if windows is None else windows.height,
        series_without_threshold={
            m: int(missing.filter(pl.col("method") == m)["n"].sum()) for m in methods
        },
        fallbacks=fallbacks,
        expected_false_alarms_per_object_day=expected,
        parameters=parameters,
    )
