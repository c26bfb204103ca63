"""Methods pooling series (``pools_series``: ``budget``, ``default``) on Spark.

Such a method is fitted once over the fleet, as on the local engine: the executors
measure each series' learning samples (``method.measure``: its false-alarm curves and
attack sizes, ≈1.3 kB a series) and send them back as rows (``Curves.to_frame``);
the driver, which holds the features (one row per series), reads them into one
measurement and fits the method on it (``fit_measured``), then predicts there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl
import pyarrow as pa

from floodmark.spark.frames import arrow_udfs, spark_ddl, to_arrow, to_polars
from floodmark.thresholds.facurves import CURVES_SCHEMA, Curves

#: The measurements of every pooling method in one table: ``method`` (as named) first.
MEASURED_SCHEMA: dict[str, pl.DataType] = {"method": pl.String(), **CURVES_SCHEMA}


def _measurer(
    methods: Mapping[str, tuple[str, Mapping[str, Any]]],
    learning: Callable[[pl.DataFrame], pl.DataFrame] | None,
):
    from floodmark.thresholds import make_method
    from floodmark.thresholds.pipeline import series_of

    def run(table: pa.Table) -> pa.Table:
        samples = to_polars(table)
        learn = samples if learning is None else learning(samples)
        parts = [pl.DataFrame(schema=MEASURED_SCHEMA)]
        if not learn.is_empty():
            series = series_of(learn)
            for name, (registry, params) in methods.items():
                curves = make_method(registry, **params).measure(series, learn)
                parts.append(curves.to_frame().select(pl.lit(name).alias("method"), pl.all()))
        return to_arrow(pl.concat(parts), MEASURED_SCHEMA)

    return run


def measure_by_series(
    samples,
    methods: Mapping[str, tuple[str, Mapping[str, Any]]],
    learning: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> dict[str, Curves]:
    """Every series of the Spark long table ``samples`` measured on the executors, one
    series per call, by each of ``methods`` (name as asked → registry name and
    parameters); ``learning`` cuts a series' samples to those it learns from (default:
    all). Returns each method's measurement of the whole fleet, on the driver."""
    from floodmark.schema import KEY_COLUMNS

    with arrow_udfs():
        measured = samples.groupBy(*KEY_COLUMNS).applyInArrow(
            _measurer(methods, learning), spark_ddl(MEASURED_SCHEMA)
        )
    rows = pl.from_arrow(measured.toArrow()).cast(MEASURED_SCHEMA)
    return {
        name: Curves.from_frame(rows.filter(pl.col("method") == name).drop("method"))
        for name in methods
    }


def fitted_over_the_fleet(
    samples,
    features: pl.DataFrame,
    methods: Mapping[str, tuple[str, Mapping[str, Any]]],
    learning: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> dict[str, pl.DataFrame]:
    """The thresholds of each pooling method (name as asked → registry name and
    parameters) for every series of ``features``: measured by the executors
    (``measure_by_series``), then fitted once and predicted on the driver."""
    from floodmark.thresholds import make_method

    curves = measure_by_series(samples, methods, learning)
    return {
        name: make_method(registry, **params)
        .fit_measured(features, [curves[name]])
        .predict(features)
        for name, (registry, params) in methods.items()
    }
