"""Features on Spark: the single-machine kernels, one series per Arrow call.

Pass 1 groups the samples by series (``groupBy(keys).applyInArrow``): each call
gets one whole series and runs ``feature_kernel`` on it, so an executor holds one
series at a time, never a partition's worth. Pass 2 groups the small per-series
table by object and runs ``finish_features`` (``total_val_median_share`` needs
the object's ``PT_TOTAL`` series). Super peaks travel beside each series' row.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from floodmark.features import engine
from floodmark.schema import KEY_COLUMNS
from floodmark.spark.frames import arrow_udfs, spark_ddl, to_arrow, to_polars

KEYS = list(KEY_COLUMNS)
PEAKS = "_super_peaks"
_PEAK = pl.Struct({"timestamp": pl.Datetime("us", "UTC"), "value": pl.Float64()})


@dataclass(frozen=True)
class SparkFeatures:
    """Lazy Spark DataFrames: ``features`` (``compute_features``' columns) and
    ``super_peaks`` (keys, timestamp, value)."""

    features: object
    super_peaks: object


def _kernel_schema() -> dict[str, pl.DataType]:
    finished = {c for f in engine.FAMILIES if f.finish is not None for c in f.columns}
    columns = {c: t for c, t in engine.output_schema().items() if c not in finished}
    return columns | {PEAKS: pl.List(_PEAK)}


def _kernel_ddl(schema: dict[str, pl.DataType]) -> str:
    plain = {c: t for c, t in schema.items() if c != PEAKS}
    return spark_ddl(plain) + f", `{PEAKS}` array<struct<timestamp: timestamp, value: double>>"


def _arrow_kernel_schema(schema: dict[str, pl.DataType]) -> pa.Schema:
    from floodmark.spark.frames import arrow_schema

    plain = arrow_schema({c: t for c, t in schema.items() if c != PEAKS})
    peak = pa.struct([("timestamp", pa.timestamp("us", tz="UTC")), ("value", pa.float64())])
    return plain.append(pa.field(PEAKS, pa.list_(peak)))


def series_kernel(params):
    """The pass-1 function: one whole series (Arrow) → its kernel row with its super peaks."""
    schema = _kernel_schema()
    arrow = _arrow_kernel_schema(schema)

    def run(table: pa.Table) -> pa.Table:
        features, peaks = engine.feature_kernel(to_polars(table), params)
        nested = peaks.group_by(KEYS).agg(pl.struct("timestamp", "value").alias(PEAKS))
        row = features.join(nested, on=KEYS, how="left").with_columns(
            pl.col(PEAKS).fill_null(pl.lit([], dtype=pl.List(_PEAK)))
        )
        return row.select(schema.keys()).to_arrow().cast(arrow)

    return run


def _finish(table: pa.Table) -> pa.Table:
    """The pass-2 function: one object's kernel rows → its finished feature rows."""
    return to_arrow(engine.finish_features(to_polars(table)), engine.output_schema())


def spark_features(
    samples,
    *,
    blocked_threshold: float = 0.0,
    super_peak_factor: float = 3.0,
    exclude_super_peaks: bool = False,
) -> SparkFeatures:
    """``compute_features`` of a Spark long table (``LONG_SCHEMA`` columns), on Spark.

    Equal to the single-machine result row for row (same kernels, same finishing
    step). The result is lazy: write it, or ``cache()`` it before using both frames.
    """
    params = engine.FeatureParams(blocked_threshold, super_peak_factor, exclude_super_peaks)
    schema = _kernel_schema()
    with arrow_udfs():
        per_series = samples.groupBy(*KEYS).applyInArrow(series_kernel(params), _kernel_ddl(schema))
    per_series = per_series.cache()  # read by both outputs: the kernels run once
    kernel_rows = per_series.drop(PEAKS)
    with arrow_udfs():
        features = kernel_rows.groupBy("prediction_id").applyInArrow(
            _finish, spark_ddl(engine.output_schema())
        )
    peaks = per_series.select(*KEYS, PEAKS).selectExpr(*KEYS, f"inline({PEAKS})")
    return SparkFeatures(features=features, super_peaks=peaks)
