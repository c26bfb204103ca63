"""Recommend on Spark: every method applied where the features (and samples) are.

- ``model``: the trained model's files (LightGBM text boosters and metadata, no
  pickle) travel to the executors as bytes; each Python worker loads them once with
  ``GBTModel.load`` (which checks every file's sha256) and predicts feature batches
  in ``mapInArrow``.
- Per-series methods reading only features: a fresh clone fitted and predicted per
  feature batch (``mapInArrow``): each series' thresholds depend on its row alone.
- Per-series methods reading samples (``evt``, ``rule-daily`` p95): samples and
  features co-grouped by series (``cogroup().applyInArrow``): one series at a time.
- Methods pooling series (``budget``): every series measured on the executors, the
  method fitted once over the fleet and predicted on the driver (``spark.pooled``).
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from floodmark.errors import FloodmarkError
from floodmark.schema import KEY_COLUMNS, empty_long
from floodmark.spark.frames import arrow_udfs, spark_ddl, to_arrow, to_polars
from floodmark.thresholds import THRESHOLD_SCHEMA, Floors, GBTModel, floor_thresholds, make_method

KEYS = list(KEY_COLUMNS)


def model_files(directory: str | Path) -> dict[str, bytes]:
    """A saved model's files (name → bytes): what is shipped to the executors."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FloodmarkError("model directory not found", file=directory)
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@functools.cache
def _loaded(digest: str, files: tuple[tuple[str, bytes], ...]) -> GBTModel:
    """The model from its shipped files, loaded once per worker process (by content digest)."""
    with tempfile.TemporaryDirectory(prefix="floodmark-model-") as folder:
        for name, data in files:
            (Path(folder) / name).write_bytes(data)
        return GBTModel.load(folder)


def _predictor(files: Mapping[str, bytes], floors: Floors | None):
    shipped = tuple(sorted(files.items()))
    digest = hashlib.sha256(b"".join(n.encode() + d for n, d in shipped)).hexdigest()

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        model = _loaded(digest, shipped)
        for batch in batches:
            table = model.predict(to_polars(batch))
            if floors is not None:
                table = floor_thresholds(table, floors)
            yield from to_arrow(table, THRESHOLD_SCHEMA).to_batches()

    return run


def _feature_method(name: str, params: Mapping[str, Any]):
    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            features = to_polars(batch)
            table = make_method(name, **params).fit(features).predict(features)
            yield from to_arrow(table, THRESHOLD_SCHEMA).to_batches()

    return run


def _sample_method(name: str, params: Mapping[str, Any]):
    def run(samples: pa.Table, features: pa.Table) -> pa.Table:
        if features.num_rows == 0:  # samples of a series without features: no row
            return to_arrow(pl.DataFrame(schema=THRESHOLD_SCHEMA), THRESHOLD_SCHEMA)
        part = to_polars(features)
        learn = to_polars(samples) if samples.num_rows else empty_long()
        table = make_method(name, **params).fit(part, learn).predict(part)
        return to_arrow(table, THRESHOLD_SCHEMA)

    return run


def spark_recommend(
    features,
    method: str,
    *,
    samples=None,
    steps=None,
    params: Mapping[str, Any] | None = None,
    model_dir: str | Path | None = None,
    floors: Floors | None = None,
    blocked_threshold: float = 0.0,
):
    """``recommend_by_name`` on Spark: the thresholds (``THRESHOLD_SCHEMA``) of every series
    in the Spark DataFrame ``features``, lazily.

    ``samples`` (a Spark long table, ``store_samples``) and ``steps`` (keys and
    ``median_step_s``, the store's catalog) are needed by the methods that read
    samples. Parameters as ``floodmark.thresholds.recommend_by_name``. A method pooling
    series (``budget``) is fitted once over the fleet, as locally: its samples are
    measured when this is called, and the features collected to the driver.
    """
    from floodmark.thresholds.recommend import method_params

    params = dict(params or {})
    ddl = spark_ddl(THRESHOLD_SCHEMA)
    if method == "model":
        if model_dir is None:
            raise FloodmarkError("method model needs the directory of a trained model")
        if params:
            raise FloodmarkError("a trained model takes no parameters")
        files = model_files(model_dir)
        GBTModel.load(model_dir)  # refuse a broken model here, not in every executor
        with arrow_udfs():
            return features.mapInArrow(_predictor(files, floors), ddl)
    params = method_params(method, params, floors, blocked_threshold)
    estimator = make_method(method, **params)  # refuses unknown names and parameters here
    if estimator.learns_across_series:
        raise FloodmarkError(f"{method} learns across series: train it, then use --method model")
    if not estimator.needs_samples:
        with arrow_udfs():
            return features.mapInArrow(_feature_method(method, params), ddl)
    if samples is None or steps is None:
        raise FloodmarkError(f"{method} reads samples: give the store they are in")
    if estimator.pools_series:
        return _fitted_over_the_fleet(features, method, params, samples, steps)
    stepped = features.drop("median_step_s").join(steps, on=KEYS, how="left")
    with arrow_udfs():
        return (
            samples.groupBy(*KEYS)
            .cogroup(stepped.groupBy(*KEYS))
            .applyInArrow(_sample_method(method, params), ddl)
        )


def _fitted_over_the_fleet(features, method: str, params: Mapping[str, Any], samples, steps):
    """A method pooling series, fitted once over the fleet: the thresholds as a Spark
    DataFrame."""
    from floodmark.spark.pooled import fitted_over_the_fleet
    from floodmark.thresholds.pipeline import with_store_steps

    local = with_store_steps(pl.from_arrow(features.toArrow()), pl.from_arrow(steps.toArrow()))
    table = fitted_over_the_fleet(samples, local, {method: (method, params)})[method]
    return features.sparkSession.createDataFrame(to_arrow(table, THRESHOLD_SCHEMA))


def recommend_store(
    spark, store, features_path: str | Path, method: str, out: str | Path, **options: Any
) -> int:
    """``spark_recommend`` over a store and a features file, written to ``out`` (atomically).

    A Parquet features file is read by the executors; ``.csv``/``.json`` ones by the
    driver. ``method`` may be ``default``: the store's default method. ``options`` as
    ``spark_recommend``. Returns the number of rows written.
    """
    from floodmark.io.atomic import read_table
    from floodmark.spark.frames import store_samples
    from floodmark.spark.output import write_spark_table

    features_path = Path(features_path)
    if features_path.suffix.lower() == ".parquet":
        features = spark.read.parquet(str(features_path))
    else:
        features = spark.createDataFrame(read_table(features_path).to_arrow())
    from floodmark.thresholds import resolve_method

    catalog = store.catalog()
    steps = catalog.select(*KEYS, "median_step_s")
    table = spark_recommend(
        features,
        resolve_method(method, catalog),
        samples=store_samples(spark, store.path),
        steps=spark.createDataFrame(steps.to_arrow()),
        **options,
    )
    return write_spark_table(table, out, KEYS)
