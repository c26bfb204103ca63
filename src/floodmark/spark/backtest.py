"""Backtest on Spark: the runner's own stages, one series at a time where the data is.

Pass 1 (``applyInArrow`` by series) splits each series with the backtest's split and
runs the feature kernel on its learning part; pass 2 (by object) finishes them. The
learning features, one row per series, come to the driver, where the methods that
learn across series (``model``) are cross-fitted by object exactly as locally, and the
methods pooling series (``budget``, ``default``) fitted once over the fleet on every
series' learning part, measured on the executors (``spark.pooled``). Pass 3 co-groups
every series' samples with its features and the thresholds fitted on the driver: the
per-series methods are fitted and predicted and every threshold is scored on the
held-out part, with the runner's functions. The per-series scores are written by the
executors and read back (never collected), then summarised as ``run_backtest`` does.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from floodmark.backtest import BacktestResult, runner
from floodmark.backtest.episodes import (
    DELAY_SCHEMA,
    SCORE_SCHEMA,
    SPAN_SCHEMA,
    label_samples,
    score_thresholds,
    span_summary,
)
from floodmark.errors import InsufficientDataError
from floodmark.features import engine
from floodmark.schema import KEY_COLUMNS
from floodmark.spark.features import _kernel_schema
from floodmark.spark.frames import arrow_udfs, spark_ddl, store_samples, to_arrow, to_polars

KEYS = list(KEY_COLUMNS)
CROSSED = "_crossed"
_RESULTS = ("scores", "delays", "spans", "predicted")


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()


def _learning_kernel(split, params):
    schema = {c: t for c, t in _kernel_schema().items() if c != "_super_peaks"}

    def run(table: pa.Table) -> pa.Table:
        learn = split(to_polars(table)).learn
        if learn.is_empty():
            return to_arrow(pl.DataFrame(schema=schema), schema)
        features, _ = engine.feature_kernel(learn, params)
        return to_arrow(features, schema)

    return run, schema


def _finish(table: pa.Table) -> pa.Table:
    return to_arrow(engine.finish_features(to_polars(table)), engine.output_schema())


def _scorer(split, make, direct: list[str], blocked_threshold: float):
    from floodmark.thresholds.pipeline import fit_predict

    def run(samples: pa.Table, features: pa.Table) -> pa.Table:
        if samples.num_rows == 0:
            return pa.table({name: pa.array([], pa.binary()) for name in _RESULTS})
        window = split(to_polars(samples))
        part = to_polars(features)
        crossed = pl.DataFrame(schema=runner._long_thresholds([]).schema)
        tables: list[pl.DataFrame] = []
        if part.height:
            crossed = (
                part.select(*KEYS, CROSSED)
                .explode(CROSSED)
                .unnest(CROSSED)
                .drop_nulls("method")
                .cast(crossed.schema)
            )
            stepped = part.drop(CROSSED)
            estimators = [make(m) for m in direct]
            for _, predicted in fit_predict(stepped, estimators, [window]):
                # each table under the name the method was asked by (none: no test part)
                tables = [
                    t.with_columns(method=pl.lit(m, pl.String))
                    for t, m in zip(predicted, direct, strict=False)
                ]
        steps = part.select(*KEYS, "median_step_s") if part.height else None
        thresholds = pl.concat([runner._long_thresholds(tables), crossed])
        labelled = label_samples(
            window.test, blocked_threshold=blocked_threshold, in_window="in_window"
        )
        scores, delays = score_thresholds(labelled, thresholds)
        spans = span_summary(labelled, steps)
        predicted = pl.concat(tables, how="diagonal_relaxed") if tables else pl.DataFrame()
        return pa.table(
            {
                name: pa.array([_ipc(frame)], pa.binary())
                for name, frame in zip(_RESULTS, (scores, delays, spans, predicted), strict=True)
            }
        )

    return run


def spark_backtest(
    spark,
    store_dir: str | Path,
    methods: Sequence[str],
    *,
    learn_days: float = 21,
    learn_fraction: float | None = None,
    windows: pl.DataFrame | None = None,
    blocked_threshold: float = 0.0,
    method_params: Mapping[str, Mapping[str, Any]] | None = None,
    model_folds: int = 5,
    scratch_dir: str | Path | None = None,
) -> BacktestResult:
    """``floodmark.run_backtest`` on Spark (same parameters, same result)."""
    from floodmark.thresholds import METHODS, make_method

    run, windows, crossed_names = runner.plan_run(
        store_dir,
        methods,
        learn_days=learn_days,
        learn_fraction=learn_fraction,
        windows=windows,
        blocked_threshold=blocked_threshold,
        method_params=method_params,
        chunk_rows=None,  # Spark reads by series, not in chunks
        progress=None,
    )
    store, catalog, params, split = run.store, run.catalog, run.params, run.split
    samples = store_samples(spark, store.path)
    kernel, kernel_schema = _learning_kernel(
        split, engine.FeatureParams(blocked_threshold=blocked_threshold)
    )
    with arrow_udfs():
        per_series = samples.groupBy(*KEYS).applyInArrow(kernel, spark_ddl(kernel_schema))
        learned = per_series.groupBy("prediction_id").applyInArrow(
            _finish, spark_ddl(engine.output_schema())
        )
    features = pl.from_arrow(learned.toArrow()).sort(KEYS)  # one row per series
    if features.is_empty():
        raise InsufficientDataError("no series has a learning sample", file=store.path)
    features = features.join(run.labels, on=KEYS, how="left", maintain_order="left")
    predicted = [runner._cross_fitted(run, features, m, model_folds) for m in crossed_names]
    direct = [m for m in run.methods if m not in crossed_names]
    from floodmark.thresholds.pipeline import with_store_steps

    pooled = [m for m in direct if METHODS[run.resolved[m]].pools_series]
    direct = [m for m in direct if m not in pooled]
    stepped = with_store_steps(features, catalog)
    fleet_wide = _fitted_over_the_fleet(run, samples, stepped, pooled)
    # thresholds from the driver travel with each series' features, as the cross-fitted do
    long = runner._long_thresholds(predicted + fleet_wide)
    nested = long.group_by(KEYS).agg(pl.struct("method", "level", "threshold").alias(CROSSED))
    shipped = stepped.join(nested, on=KEYS, how="left")
    resolved = run.resolved  # the closure travels to the executors: not the whole run
    scorer = _scorer(
        split,
        lambda m: make_method(resolved[m], **params.get(m, {})),
        direct,
        blocked_threshold,
    )
    results_ddl = ", ".join(f"{name} binary" for name in _RESULTS)
    # Beside the store by default: on a cluster, a folder executors and driver share.
    scratch = Path(
        scratch_dir or tempfile.mkdtemp(prefix=".floodmark-spark-backtest-", dir=store.path.parent)
    )
    try:
        with arrow_udfs():
            scored = (
                samples.groupBy(*KEYS)
                .cogroup(spark.createDataFrame(shipped.to_arrow()).groupBy(*KEYS))
                .applyInArrow(scorer, results_ddl)
            )
        scored.write.mode("overwrite").parquet(str(scratch / "scored"))
        parts = _read_results(scratch / "scored")
    finally:
        if scratch_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    scores, delays, spans = (
        pl.concat([pl.DataFrame(schema=s), *parts[n]], how="vertical_relaxed").cast(s)
        for n, s in (("scores", SCORE_SCHEMA), ("delays", DELAY_SCHEMA), ("spans", SPAN_SCHEMA))
    )
    # what the local engine predicts: the series with a test part (and features)
    tested = [t.join(spans.select(KEYS), on=KEYS, how="semi") for t in fleet_wide]
    return runner.backtest_result(
        run,
        scores,
        delays,
        spans,
        predicted + tested + parts["predicted"],
        windows=windows,
        learn_days=learn_days,
        learn_fraction=learn_fraction,
        model_folds=model_folds if crossed_names else None,
    )


def _fitted_over_the_fleet(
    run: runner._Run, samples, features: pl.DataFrame, pooled: list[str]
) -> list[pl.DataFrame]:
    """The thresholds of every method pooling series (``pooled``), each fitted once on
    every series' learning part, for every series of ``features``, under the name it
    was asked by."""
    from floodmark.spark.pooled import fitted_over_the_fleet

    if not pooled:
        return []
    split = run.split
    tables = fitted_over_the_fleet(
        samples,
        features,
        {m: (run.resolved[m], run.params.get(m, {})) for m in pooled},
        lambda series: split(series).learn,
    )
    return [t.with_columns(method=pl.lit(m, pl.String)) for m, t in tables.items()]


def _read_results(folder: Path) -> dict[str, list[pl.DataFrame]]:
    """The executors' per-series result tables, streamed a batch at a time."""
    parts: dict[str, list[pl.DataFrame]] = {name: [] for name in _RESULTS}
    for file in sorted(folder.glob("part-*.parquet")):
        for batch in pq.ParquetFile(file).iter_batches(batch_size=256):
            for name in _RESULTS:
                for blob in batch.column(name).to_pylist():
                    frame = pl.read_ipc(io.BytesIO(blob))
                    if frame.height:
                        parts[name].append(frame)
    return parts
