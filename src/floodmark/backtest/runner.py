"""``run_backtest``: learn thresholds on the start of every series, score them on the rest.

The store is streamed chunk by chunk (each chunk holds complete series), so memory
stays bounded by the chunk size, whatever the fleet. Per-series methods (rules,
evt) are fitted and scored chunk by chunk. Learned methods (``model``) need the
whole fleet's learning features: they are cross-fitted once all chunks have been
read (no object is scored by a model trained on it) and scored in a second pass.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from floodmark.backtest.crossfit import cross_fit
from floodmark.backtest.episodes import (
    DELAY_SCHEMA,
    SCORE_SCHEMA,
    SPAN_SCHEMA,
    label_samples,
    score_thresholds,
    series_keys,
    span_summary,
    with_series_ids,
)
from floodmark.backtest.experts import catalog_labels, has_expert_labels, with_experts
from floodmark.backtest.result import BacktestResult
from floodmark.backtest.split import check_split, split_series
from floodmark.backtest.summary import object_days, summarise
from floodmark.backtest.windows import mark_windows, normalise_windows
from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.schema import KEY_COLUMNS, LEVELS, LONG_SCHEMA

KEYS = list(KEY_COLUMNS)

#: Methods that learn across objects from expert labels: scored out-of-fold only.
CROSS_FITTED = frozenset({"model"})

#: ``progress(stage, done, total)``: called as work advances (series or folds).
Progress = Callable[[str, int, int], None]


def run_backtest(
    store: Any,
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
    store: a ``floodmark.store`` Store, or the path of one.
    methods: names from ``floodmark.thresholds.METHODS`` (``rule-max``, ``rule-daily``,
        ``evt``, ``model``).
    learn_days: the first ``learn_days`` days of every series learn, the rest test.
    learn_fraction: instead, the first fraction of every series' time span learns
        (e.g. 0.5 for short public traces); it wins over ``learn_days``.
    windows: labelled anomaly windows ``(prediction_id, start, end)``; their samples
        are attack samples and are left out of the learning part.
    blocked_threshold: samples with ``blocked`` above it are attacks (0 by default).
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
    from floodmark.features.engine import feature_kernel, finish_features
    from floodmark.features.families import FeatureParams
    from floodmark.store import open_store
    from floodmark.thresholds import METHODS, make_method

    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise FloodmarkError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    check_split(learn_days, learn_fraction)
    params = _resolve_params(methods, METHODS, method_params, blocked_threshold)
    if windows is not None:
        windows = normalise_windows(windows)
    if isinstance(store, str | Path):
        store = open_store(store)

    catalog = store.catalog()
    labels = catalog_labels(catalog)
    crossed = [m for m in methods if m in CROSS_FITTED]
    direct = [m for m in methods if m not in CROSS_FITTED]
    if crossed and not has_expert_labels(labels):
        raise InsufficientDataError(
            f"method {crossed[0]!r} learns from expert labels (ip_ss..ip_rl); this store has none",
            file=_source(store),
        )

    def prepare(chunk: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        df = split_series(
            mark_windows(with_series_ids(chunk.select(LONG_SCHEMA.keys())), windows),
            learn_days=learn_days,
            learn_fraction=learn_fraction,
        )
        learn = df.filter(pl.col("learn") & ~pl.col("in_window"))
        test = df.filter(~pl.col("learn")).drop("learn")
        return learn, test, df.select(pl.col("sid").n_unique()).item()

    def tick(stage: str, done: int) -> None:
        if progress is not None:
            progress(stage, done, n_total)

    n_total = catalog.height
    feature_params = FeatureParams(blocked_threshold=blocked_threshold)

    # Pass 1: learning-window features of every series. Chunks hold whole series but
    # not whole objects, so the cross-series features are finished once at the end.
    kernels, done = [], 0
    for chunk in store.iter_chunks(chunk_rows):
        learn, _, n_series = prepare(chunk)
        kernels.append(feature_kernel(learn.select(LONG_SCHEMA.keys()), feature_params)[0])
        done += n_series
        tick("learning features", done)
    features = finish_features(pl.concat(kernels, how="diagonal_relaxed")) if kernels else None
    if features is None or features.is_empty():
        raise InsufficientDataError("no series has a learning sample", file=_source(store))
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

    # Pass 2: per-series methods fitted chunk by chunk, every method scored on the test part.
    scores: list[pl.DataFrame] = [pl.DataFrame(schema=SCORE_SCHEMA)]
    delays: list[pl.DataFrame] = [pl.DataFrame(schema=DELAY_SCHEMA)]
    spans: list[pl.DataFrame] = [pl.DataFrame(schema=SPAN_SCHEMA)]
    done = 0
    for chunk in store.iter_chunks(chunk_rows):
        learn, test, n_series = prepare(chunk)
        keys = series_keys(test).select(KEYS)
        learn = learn.select(LONG_SCHEMA.keys())
        chunk_features = features.join(keys, on=KEYS, how="semi", maintain_order="left")
        tables = [
            _fit_predict(make_method(m, **params.get(m, {})), m, chunk_features, learn)
            for m in direct
        ]
        predicted.extend(tables)
        chunk_thresholds = pl.concat(
            [
                _long_thresholds(tables),
                crossed_long.join(keys, on=KEYS, how="semi", maintain_order="left"),
            ]
        )
        labelled = label_samples(test, blocked_threshold=blocked_threshold, in_window="in_window")
        s, d = score_thresholds(labelled, chunk_thresholds)
        scores.append(s)
        delays.append(d)
        spans.append(span_summary(labelled))
        done += n_series
        tick("fit and score", done)

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
        split = (
            f"learn_fraction={learn_fraction}"
            if learn_fraction is not None
            else f"learn_days={learn_days:g}"
        )
        raise InsufficientDataError(
            f"no series has a sample after its learning part ({split}; the longest series "
            f"spans {(longest or 0) / 86_400:.1f} days): learn on fewer days",
            file=_source(store),
        )
    delay_frame = pl.concat(delays)
    table = summarise(per_series, delay_frame, span_frame, methods)
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
        parameters={
            "blocked_threshold": blocked_threshold,
            "method_params": params,
            "model_folds": model_folds if crossed else None,
            "chunk_rows": chunk_rows,
        },
    )
    return BacktestResult(table=table, per_series=per_series, meta=meta)


def _resolve_params(
    methods: list[str],
    registry: Mapping[str, type],
    given: Mapping[str, Mapping[str, Any]] | None,
    blocked_threshold: float,
) -> dict[str, dict[str, Any]]:
    """Per-method parameters: the user's, plus the backtest's own where a method takes them."""
    params = {name: dict(p) for name, p in (given or {}).items()}
    stray = [name for name in params if name not in methods]
    if stray:
        raise FloodmarkError(f"parameters given for methods not run: {stray}")
    for name in methods:
        accepted = inspect.signature(registry[name]).parameters
        # One definition of "attack" for learning and scoring, unless set per method.
        if "blocked_threshold" in accepted:
            params.setdefault(name, {}).setdefault("blocked_threshold", blocked_threshold)
        # The backtest is the cross-validation of a learned method: its own inner CV
        # would only repeat the training k times per fold.
        if name in CROSS_FITTED and "folds" in accepted:
            params.setdefault(name, {}).setdefault("folds", 0)
    return params


def _fit_predict(
    estimator: Any, name: str, features: pl.DataFrame, samples: pl.DataFrame
) -> pl.DataFrame:
    if features.is_empty():
        # No series of this chunk has a learning sample: nothing to fit, no thresholds.
        return pl.DataFrame()
    # predict reuses what fit learned from the samples: passing them again would refit.
    table = estimator.fit(features, samples).predict(features)
    return table.with_columns(method=pl.lit(name, pl.String))


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


def _source(store: Any) -> str:
    for attr in ("root", "path", "directory"):
        value = getattr(store, attr, None)
        if value is not None:
            return str(value)
    return type(store).__name__


def _meta(
    *,
    store: Any,
    catalog: pl.DataFrame,
    methods: list[str],
    spans: pl.DataFrame,
    predicted: list[pl.DataFrame],
    per_series: pl.DataFrame,
    windows: pl.DataFrame | None,
    learn_days: float,
    learn_fraction: float | None,
    parameters: dict[str, Any],
) -> dict[str, Any]:
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
    return {
        "learn_days": None if learn_fraction is not None else learn_days,
        "learn_fraction": learn_fraction,
        "n_series": catalog.height,
        "n_series_tested": tested.height,
        "n_objects": catalog["prediction_id"].n_unique() if catalog.height else 0,
        "n_objects_tested": n_objects_tested,
        "object_days": object_days(spans),
        "source": _source(store),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "methods": methods,
        "levels": list(LEVELS),
        "n_windows": 0 if windows is None else windows.height,
        "series_without_threshold": {
            m: int(missing.filter(pl.col("method") == m)["n"].sum()) for m in methods
        },
        "fallbacks": fallbacks,
        "expected_false_alarms_per_object_day": expected,
        "parameters": parameters,
    }
