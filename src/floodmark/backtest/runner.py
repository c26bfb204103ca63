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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
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
from floodmark.backtest.inject import InjectSpec, inject, score_injected, summarise_injected
from floodmark.backtest.result import (
    BACKTEST_STEP_SCHEMA,
    BacktestMeta,
    BacktestParameters,
    BacktestResult,
)
from floodmark.backtest.split import check_split, rolling_steps, split_series
from floodmark.backtest.summary import object_days, summarise
from floodmark.backtest.windows import mark_windows, normalise_windows
from floodmark.domain import DAY_S, with_series_ids
from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.machine import CHUNK_ROWS
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
    chunk_rows: int = CHUNK_ROWS,
    min_durations: Sequence[int] = (1,),
    injection: InjectSpec | None = None,
    refit_every: float | None = None,
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
    chunk_rows: rows per chunk read from the store (bounds memory; the thresholds do
        not depend on it).
    min_durations: score every threshold once per value N: an alarm only when the
        condition holds on N consecutive samples (``episodes``); the table has one
        row per method × min_duration × level.
    injection: synthetic attacks inserted into every series' test part
        (``floodmark.backtest.inject``); ``result.injected`` then holds detection
        by size.
    refit_every: roll instead of one split, as an operator re-learning every
        ``refit_every`` days would: step k learns on the ``learn_days`` days from
        ``k × refit_every`` after each series' start and tests the next ``refit_every``
        days; every method is refitted at each step, and false alarms, detections,
        object-days and promises are summed over all steps (``split_series``).

    Example::

        result = run_backtest("fleet-store", ["rule-daily", "evt"], learn_days=21)
        result.table  # one row per method × level
    """
    run, windows, crossed = plan_run(
        store,
        methods,
        learn_days=learn_days,
        learn_fraction=learn_fraction,
        windows=windows,
        blocked_threshold=blocked_threshold,
        method_params=method_params,
        chunk_rows=chunk_rows,
        progress=progress,
        min_durations=min_durations,
        injection=injection,
        refit_every=refit_every,
    )
    per_step = None
    if refit_every is None:
        steps = [_run_step(run, crossed, model_folds)]
    else:
        steps, per_step = _rolling(run, crossed, model_folds, learn_days, refit_every)
    scored = _Scored.combine([s for s, _ in steps], rolling=refit_every is not None)
    predicted = [t for _, p in steps for t in p]
    result = backtest_result(
        run,
        scored.scores,
        scored.delays,
        scored.spans,
        predicted,
        windows=windows,
        learn_days=learn_days,
        learn_fraction=learn_fraction,
        model_folds=model_folds if crossed else None,
        injected=scored.injected,
        promised=None if per_step is None else _rolling_promise(per_step),
        n_steps=len(steps),
    )
    return result if per_step is None else replace(result, steps=per_step)


def _run_step(
    run: _Run, crossed: list[str], model_folds: int, *, required: bool = True
) -> tuple[_Scored, list[pl.DataFrame]] | None:
    """One split: learn, fit (cross-fit), predict and score; the scores and the thresholds.
    Without any learning sample: an error, or None when not ``required``."""
    direct = [m for m in run.methods if m not in crossed]
    features, measured = _learning_features(run, direct)
    if features.is_empty():
        if required:
            raise InsufficientDataError("no series has a learning sample", file=run.store.path)
        return None
    predicted = [_cross_fitted(run, features, m, model_folds) for m in crossed]
    scored = _fit_predict_score(run, features, direct, _long_thresholds(predicted), measured)
    return scored, predicted + scored.predicted


def _rolling(
    run: _Run, crossed: list[str], model_folds: int, learn_days: float, refit_every: float
) -> tuple[list[tuple[_Scored, list[pl.DataFrame]]], pl.DataFrame]:
    """Every step of a rolling backtest, each learned and scored on its own days, and the
    table of steps (``BACKTEST_STEP_SCHEMA``)."""
    span, sampled = run.catalog.select(
        (pl.col("last_timestamp") - pl.col("first_timestamp")).max().dt.total_seconds(),
        pl.col("median_step_s").min(),
    ).row(0)
    # steps shorter than every series' sampling step test at most a sample each, and
    # there would be as many of them as the span holds (billions for a typo'd value)
    if sampled and refit_every * DAY_S < sampled:
        raise FloodmarkError(
            f"refit_every={refit_every:g} days is shorter than the store's finest sampling "
            f"step ({sampled:g} s): refit at most once per sample",
            file=run.store.path,
        )
    n = rolling_steps((span or 0) / DAY_S, learn_days, refit_every)
    steps = []
    rows = [pl.DataFrame(schema=BACKTEST_STEP_SCHEMA)]
    for k in range(n):
        # each step reports as one tick of the steps, not with bars of its own
        at = replace(run, split=partial(run.split, step=k), progress=None)
        step = _run_step(at, crossed, model_folds, required=False)
        if step is not None:  # None: no series has a learning sample in this step (a gap)
            steps.append(step)
            rows.append(_step_rows(run, k, *step))
        if run.progress is not None:
            run.progress("rolling steps", k + 1, n)
    return steps, pl.concat(rows)


def _step_rows(run: _Run, k: int, scored: _Scored, predicted: list[pl.DataFrame]) -> pl.DataFrame:
    """One step's counts per method × min_duration × level, with the method's promise."""
    # agreement with the experts is not a per-step figure: no expert column
    scores = scored.scores.with_columns(expert=pl.lit(None, pl.Float64))
    table = summarise(scores, scored.delays, scored.spans, run.methods, LEVELS, run.min_durations)
    promised = pl.DataFrame(
        [
            (m, lv, rate)
            for m, levels in _promised(run.methods, predicted, scored.spans).items()
            for lv, rate in levels.items()
        ],
        schema={"method": pl.String, "level": pl.String, "promised_fa_per_object_day": pl.Float64},
        orient="row",
    )
    tested = scored.spans.filter(pl.col("n_test") > 0)
    return (
        table.join(promised, on=["method", "level"], how="left", maintain_order="left")
        .with_columns(
            step=pl.lit(k, pl.Int64),
            test_start=pl.lit(_iso(tested["test_start"].min()), pl.String),
            test_end=pl.lit(_iso(tested["test_end"].max()), pl.String),
        )
        .select(pl.col(c).cast(t) for c, t in BACKTEST_STEP_SCHEMA.items())
    )


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else None


def _rolling_promise(per_step: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Each step's promise per object-day weighed by the step's object-days: expected false
    alarms summed over all steps, per object-day of all of them."""
    first = per_step.filter(pl.col("min_duration") == pl.col("min_duration").first())
    days = first.group_by("step").agg(pl.col("object_days").first())["object_days"].sum()
    promising = first.filter(
        pl.col("promised_fa_per_object_day").is_not_null().any().over("method")
    )
    if promising.is_empty() or not days:
        return {}
    weighed = promising.group_by("method", "level").agg(
        rate=(pl.col("promised_fa_per_object_day").fill_null(0.0) * pl.col("object_days")).sum()
        / days
    )
    out: dict[str, dict[str, float]] = {}
    for method, level, rate in weighed.iter_rows():
        out.setdefault(method, {})[level] = float(rate)
    return {m: {lv: out[m][lv] for lv in LEVELS if lv in out[m]} for m in out}


def plan_run(
    store: Store | str | Path,
    methods: Sequence[str],
    *,
    learn_days: float,
    learn_fraction: float | None,
    windows: pl.DataFrame | None,
    blocked_threshold: float,
    method_params: Mapping[str, Mapping[str, Any]] | None,
    chunk_rows: int | None,
    progress: Progress | None,
    min_durations: Sequence[int] = (1,),
    injection: InjectSpec | None = None,
    refit_every: float | None = None,
) -> tuple[_Run, pl.DataFrame | None, list[str]]:
    """Check a backtest's arguments; return what its stages read, the normalised
    windows and the methods to cross-fit (shared with the Spark engine)."""
    # Imported here: the store and the methods pull in heavy dependencies, and the
    # episode kernels must stay importable on their own.
    from floodmark.store import open_store
    from floodmark.thresholds import METHODS, resolve_method
    from floodmark.thresholds.default import DEFAULT

    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in METHODS and m != DEFAULT]
    if unknown or not methods:
        raise FloodmarkError(
            f"unknown methods {unknown}; choose from {', '.join([*METHODS, DEFAULT])}"
        )
    check_split(learn_days, learn_fraction, refit_every)
    min_durations = _check_durations(min_durations)
    if windows is not None:
        windows = normalise_windows(windows)
    if isinstance(store, str | Path):
        store = open_store(store)
    catalog = store.catalog()
    resolved = {m: resolve_method(m, catalog) for m in methods}
    run = _Run(
        store=store,
        catalog=catalog,
        labels=catalog_labels(catalog),
        methods=methods,
        resolved=resolved,
        params=_resolve_params(resolved, method_params, blocked_threshold),
        split=partial(
            _split_window,
            windows=windows,
            learn_days=learn_days,
            learn_fraction=learn_fraction,
            injection=injection,
            blocked_threshold=blocked_threshold,
            refit_every=refit_every,
        ),
        blocked_threshold=blocked_threshold,
        chunk_rows=chunk_rows,
        progress=progress,
        min_durations=min_durations,
        injection=injection,
        refit_every=refit_every,
    )
    crossed = [m for m in methods if METHODS[resolved[m]].learns_across_series]
    if crossed and not has_expert_labels(run.labels):
        raise InsufficientDataError(
            f"method {crossed[0]!r} learns from expert labels (ip_ss..ip_rl); this store has none",
            file=store.path,
        )
    return run, windows, crossed


def backtest_result(
    run: _Run,
    scores: pl.DataFrame,
    delays: pl.DataFrame,
    spans: pl.DataFrame,
    predicted: list[pl.DataFrame],
    *,
    windows: pl.DataFrame | None,
    learn_days: float,
    learn_fraction: float | None,
    model_folds: int | None,
    injected: pl.DataFrame | None = None,
    promised: dict[str, dict[str, float]] | None = None,
    n_steps: int = 1,
) -> BacktestResult:
    """The result from every series' scores: per-series table, summary and metadata.

    promised: the methods' promises per object-day when not read off ``predicted``
    (a rolling backtest weighs each step's); n_steps: the rolling backtest's steps."""
    if spans.is_empty():
        raise _no_test_part(run, learn_days, learn_fraction)
    methods = run.methods
    per_series = with_experts(scores, run.labels).sort(
        pl.col("method").replace_strict(methods, list(range(len(methods)))),
        *KEYS,
        "min_duration",
        pl.col("level").replace_strict(LEVELS, list(range(len(LEVELS)))),
    )
    table = summarise(per_series, delays, spans, methods, LEVELS, run.min_durations)
    meta = _meta(
        store=run.store,
        catalog=run.catalog,
        methods=methods,
        spans=spans,
        predicted=predicted,
        per_series=per_series,
        windows=windows,
        learn_days=learn_days,
        learn_fraction=learn_fraction,
        resolved=run.resolved,
        parameters=BacktestParameters(
            blocked_threshold=run.blocked_threshold,
            method_params=run.params,
            model_folds=model_folds,
            chunk_rows=run.chunk_rows,
            min_durations=run.min_durations,
            inject=None if run.injection is None else run.injection.text(),
            refit_every=run.refit_every,
        ),
        promised=promised,
        n_steps=n_steps,
    )
    inserted = run.injection is not None
    return BacktestResult(
        table=table,
        per_series=per_series,
        meta=meta,
        injected=summarise_injected(injected) if inserted else None,
        injected_by_object=summarise_injected(injected, by_object=True) if inserted else None,
    )


@dataclass(frozen=True)
class _Run:
    """What every stage of one backtest reads."""

    store: Store
    catalog: pl.DataFrame
    labels: pl.DataFrame
    methods: list[str]
    resolved: dict[str, str]  # a method as named → the registry method it runs
    params: dict[str, dict[str, Any]]
    split: Callable[[pl.DataFrame], Window]
    blocked_threshold: float
    chunk_rows: int | None
    progress: Progress | None
    min_durations: tuple[int, ...] = (1,)
    injection: InjectSpec | None = None
    refit_every: float | None = None  # days between refits of a rolling backtest

    def windows(self) -> Iterator[Window]:
        """Load-window stage: the store chunk by chunk, each split in time."""
        from floodmark.thresholds.pipeline import store_windows

        return store_windows(self.store, self.chunk_rows, self.split)

    def method(self, name: str) -> ThresholdMethod:
        from floodmark.thresholds import make_method

        return make_method(self.resolved[name], **self.params.get(name, {}))

    def counter(self, stage: str) -> Callable[[Window], None]:
        """Progress of a pass over the windows, in series."""
        done = 0

        def tick(window: Window) -> None:
            nonlocal done
            done += window.n_series
            if self.progress is not None:
                self.progress(stage, done, self.catalog.height)

        return tick


@dataclass(frozen=True)
class _Scored:
    """The score stage's results over every window."""

    scores: pl.DataFrame
    delays: pl.DataFrame
    spans: pl.DataFrame
    predicted: list[pl.DataFrame]
    injected: pl.DataFrame

    @classmethod
    def combine(cls, steps: list[_Scored], *, rolling: bool) -> _Scored:
        """The scores of every step of a backtest. Rolling: each series' counts summed over
        the steps, with the threshold of its last step (what it would be set to now)."""
        if not rolling:
            return steps[0]
        scores = pl.concat([pl.DataFrame(schema=SCORE_SCHEMA), *(s.scores for s in steps)])
        counts = ["false_alarms", "attack_episodes", "detected"]
        scores = (
            scores.group_by(*KEYS, "method", "level", "min_duration", maintain_order=True)
            .agg(pl.col("threshold").last(), pl.col(counts).sum())
            .select(pl.col(c).cast(t) for c, t in SCORE_SCHEMA.items())
        )
        injected = [s.injected for s in steps if not s.injected.is_empty()]
        return cls(
            scores,
            pl.concat([pl.DataFrame(schema=DELAY_SCHEMA), *(s.delays for s in steps)]),
            pl.concat([pl.DataFrame(schema=SPAN_SCHEMA), *(s.spans for s in steps)]),
            [t for s in steps for t in s.predicted],
            pl.concat(injected, how="diagonal_relaxed") if injected else pl.DataFrame(),
        )


def _split_window(
    chunk: pl.DataFrame,
    *,
    windows: pl.DataFrame | None,
    learn_days: float,
    learn_fraction: float | None,
    injection: InjectSpec | None = None,
    blocked_threshold: float = 0.0,
    refit_every: float | None = None,
    step: int = 0,
) -> Window:
    """One chunk as a window: the learning part (outside labelled windows) and the test part
    (of one step, when rolling)."""
    from floodmark.thresholds.pipeline import Window, series_of

    df = split_series(
        mark_windows(with_series_ids(chunk.select(LONG_SCHEMA.keys())), windows),
        learn_days=learn_days,
        learn_fraction=learn_fraction,
        refit_every=refit_every,
        step=step,
    )
    learn = df.filter(pl.col("learn") & ~pl.col("in_window")).select(LONG_SCHEMA.keys())
    test = df.filter(~pl.col("learn")).drop("learn")
    if injection is not None:
        test = inject(test, learn, injection, blocked_threshold)
    n_series = df.select(pl.col("sid").n_unique()).item()
    return Window(learn=learn, series=series_of(test), test=test, n_series=n_series)


def _learning_features(run: _Run, direct: list[str]) -> tuple[pl.DataFrame, dict[str, list[Any]]]:
    """Features stage (pass 1): learning-part features of every series, with expert
    labels; the methods among ``direct`` that pool series measure the same windows."""
    from floodmark.thresholds import METHODS
    from floodmark.thresholds.pipeline import measure_windows, window_features

    pooled = {m: run.method(m) for m in direct if METHODS[run.resolved[m]].pools_series}
    windows, measured = measure_windows(pooled, run.windows())
    features = window_features(windows, run.blocked_threshold, run.counter("learning features"))
    if features.is_empty():
        return features, measured
    return features.join(run.labels, on=KEYS, how="left", maintain_order="left"), measured


def _cross_fitted(run: _Run, features: pl.DataFrame, name: str, folds: int) -> pl.DataFrame:
    """Fit → predict of a method learning across series: out of fold, by object."""
    progress = run.progress
    table = cross_fit(
        features,
        lambda: run.method(name),
        n_splits=folds,
        progress=None if progress is None else lambda i, n: progress(f"{name} folds", i, n),
    )
    return table.drop("fold").with_columns(method=pl.lit(name, pl.String))


def _fit_predict_score(
    run: _Run,
    features: pl.DataFrame,
    direct: list[str],
    crossed: pl.DataFrame,
    measured: Mapping[str, list[Any]],
) -> _Scored:
    """Pass 2: per-series methods fitted and predicted window by window (the pipeline's
    fit → predict stage; a method pooling series is fitted once, on what it ``measured``
    in pass 1, and only predicts), then every method's thresholds scored on the test part."""
    from floodmark.thresholds.pipeline import fit_predict, with_store_steps

    steps = run.catalog.select(*KEYS, "median_step_s")
    scores = [pl.DataFrame(schema=SCORE_SCHEMA)]
    delays = [pl.DataFrame(schema=DELAY_SCHEMA)]
    spans = [pl.DataFrame(schema=SPAN_SCHEMA)]
    predicted: list[pl.DataFrame] = []
    injected: list[pl.DataFrame] = []
    tick = run.counter("fit and score")
    stepped = with_store_steps(features, run.catalog)
    estimators = [
        run.method(m).fit_measured(stepped, measured[m]) if m in measured else run.method(m)
        for m in direct
    ]
    for window, fitted in fit_predict(stepped, estimators, run.windows()):
        # each table under the name the method was asked by ("default" included)
        tables = (
            [
                t.with_columns(method=pl.lit(m, pl.String))
                for t, m in zip(fitted, direct, strict=True)
            ]
            if fitted
            else []
        )
        predicted.extend(tables)
        thresholds = pl.concat(
            [
                _long_thresholds(tables),
                crossed.join(window.series, on=KEYS, how="semi", maintain_order="left"),
            ]
        )
        labelled = label_samples(
            window.test, blocked_threshold=run.blocked_threshold, in_window="in_window"
        )
        for n in run.min_durations:
            s, d = score_thresholds(labelled, thresholds, n)
            scores.append(s)
            delays.append(d)
        if run.injection is not None:
            injected.append(
                score_injected(window.test, thresholds, run.injection, run.min_durations)
            )
        spans.append(span_summary(labelled, steps))
        tick(window)
    return _Scored(
        pl.concat(scores),
        pl.concat(delays),
        pl.concat(spans),
        predicted,
        pl.concat(injected, how="diagonal_relaxed") if injected else pl.DataFrame(),
    )


def _check_durations(min_durations: Sequence[int]) -> tuple[int, ...]:
    """Distinct whole numbers >= 1, in the order given."""
    values = tuple(dict.fromkeys(min_durations))
    if not values or not all(isinstance(n, int) and n >= 1 for n in values):
        raise FloodmarkError(f"min_durations must be whole numbers >= 1, got {list(min_durations)}")
    return values


def _no_test_part(
    run: _Run, learn_days: float, learn_fraction: float | None
) -> InsufficientDataError:
    longest = run.catalog.select(
        (pl.col("last_timestamp") - pl.col("first_timestamp")).max().dt.total_seconds()
    ).item()
    split = (
        f"learn_fraction={learn_fraction}"
        if learn_fraction is not None
        else f"learn_days={learn_days:g}"
    )
    return InsufficientDataError(
        f"no series has a sample after its learning part ({split}; the longest series "
        f"spans {(longest or 0) / DAY_S:.1f} days): learn on fewer days",
        file=run.store.path,
    )


def _resolve_params(
    resolved: dict[str, str],
    given: Mapping[str, Mapping[str, Any]] | None,
    blocked_threshold: float,
) -> dict[str, dict[str, Any]]:
    """Per-method parameters: the user's, plus the backtest's own where a method declares them.

    ``resolved`` maps each method as named to the registry method it runs.
    """
    from floodmark.thresholds import METHODS

    params = {name: dict(p) for name, p in (given or {}).items()}
    stray = [name for name in params if name not in resolved]
    if stray:
        raise FloodmarkError(f"parameters given for methods not run: {stray}")
    for name, runs in resolved.items():
        declared = METHODS[runs].parameters
        # One definition of "attack" for learning and scoring, unless set per method.
        if "blocked_threshold" in declared:
            params.setdefault(name, {}).setdefault("blocked_threshold", blocked_threshold)
        # The backtest is the cross-validation of a learned method: its own inner CV
        # would only repeat the training k times per fold.
        if METHODS[runs].learns_across_series and "folds" in declared:
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
    resolved: dict[str, str],
    parameters: BacktestParameters,
    promised: dict[str, dict[str, float]] | None = None,
    n_steps: int = 1,
) -> BacktestMeta:
    tested = spans.filter(pl.col("n_test") > 0)
    fallbacks: dict[str, int] = {}
    for m in methods:
        rows = _method_rows(predicted, m)
        if "fallback" in rows.columns:
            fallbacks[m] = int(rows["fallback"].is_not_null().sum())
    missing = per_series.filter(pl.col("threshold").is_null()).group_by("method").agg(n=pl.len())
    return BacktestMeta(
        learn_days=None if learn_fraction is not None else learn_days,
        learn_fraction=learn_fraction,
        n_series=catalog.height,
        n_series_tested=tested.select(KEYS).unique().height,
        n_objects=catalog["prediction_id"].n_unique() if catalog.height else 0,
        n_objects_tested=tested["prediction_id"].n_unique(),
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
        expected_false_alarms_per_object_day=(
            _promised(methods, predicted, spans) if promised is None else promised
        ),
        default_method=resolved.get("default"),
        parameters=parameters,
        n_steps=n_steps,
    )


def _method_rows(predicted: list[pl.DataFrame], method: str) -> pl.DataFrame:
    rows = [t.filter(pl.col("method") == method) for t in predicted if not t.is_empty()]
    return pl.concat(rows, how="diagonal_relaxed") if rows else pl.DataFrame()


def _promised(
    methods: list[str], predicted: list[pl.DataFrame], spans: pl.DataFrame
) -> dict[str, dict[str, float]]:
    """For methods that promise a rate: their expected false alarms per day summed over the
    tested series, per tested object (``BacktestMeta.expected_false_alarms_per_object_day``)."""
    tested = spans.filter(pl.col("n_test") > 0)
    n_objects_tested = tested["prediction_id"].n_unique()
    fa_cols = [f"expected_fa_per_day_{lv}" for lv in LEVELS]
    expected: dict[str, dict[str, float]] = {}
    for m in methods:
        rows = _method_rows(predicted, m)
        if all(c in rows.columns for c in fa_cols) and n_objects_tested:
            # The method's own promise, summed over tested series, per object-day.
            rows = rows.join(tested.select(KEYS), on=KEYS, how="semi")
            if rows.select(pl.col(fa_cols).is_not_null().any()).row(0) != (False,) * 4:
                expected[m] = {
                    lv: float(rows[f"expected_fa_per_day_{lv}"].fill_nan(None).sum())
                    / n_objects_tested
                    for lv in LEVELS
                }
    return expected
