"""Polars schemas as Spark and Arrow schemas, and the store's samples as a Spark DataFrame.

Arrow-batch functions (``mapInArrow``, ``applyInArrow``) must return exactly the
Arrow types of the Spark schema they declare; both are derived here from the
Polars schemas the kernels already define, so there is one schema per table.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl
import pyarrow as pa

from floodmark.schema import LONG_SCHEMA

_SPARK_TYPES = {
    pl.String: ("string", pa.string()),
    pl.Int64: ("bigint", pa.int64()),
    pl.Float64: ("double", pa.float64()),
    pl.Boolean: ("boolean", pa.bool_()),
    pl.Datetime: ("timestamp", pa.timestamp("us", tz="UTC")),
}


def _types(dtype: pl.DataType) -> tuple[str, pa.DataType]:
    if isinstance(dtype, pl.List):
        ddl, arrow = _types(dtype.inner)
        return f"array<{ddl}>", pa.list_(arrow)
    return _SPARK_TYPES[dtype.base_type()]


def spark_ddl(schema: Mapping[str, pl.DataType]) -> str:
    """A Spark DDL schema string (``"a string, b double"``) for a Polars schema."""
    return ", ".join(f"`{name}` {_types(dtype)[0]}" for name, dtype in schema.items())


def arrow_schema(schema: Mapping[str, pl.DataType]) -> pa.Schema:
    """The Arrow schema Spark expects back for ``spark_ddl(schema)``."""
    return pa.schema([pa.field(name, _types(dtype)[1]) for name, dtype in schema.items()])


def to_polars(data: pa.Table | pa.RecordBatch) -> pl.DataFrame:
    """An Arrow batch from Spark as a Polars frame (timestamps are UTC: see ``spark_session``)."""
    return pl.from_arrow(data)


def to_arrow(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pa.Table:
    """A Polars frame as the Arrow table of ``schema`` (columns in order, exact types)."""
    return frame.select(schema.keys()).to_arrow().cast(arrow_schema(schema))


def batches(table: pa.Table) -> Iterator[pa.RecordBatch]:
    """``table``'s record batches (what ``mapInArrow`` functions yield)."""
    yield from table.to_batches()


@contextlib.contextmanager
def arrow_udfs() -> Iterator[None]:
    """Declare Arrow-batch functions without pyspark's pandas-version warning.

    pyspark 4.3 checks the installed pandas whenever an Arrow function is declared
    and warns about pandas >= 3, although ``mapInArrow``/``applyInArrow`` never use
    pandas. Only that warning is silenced, and only around the declaration.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="PySpark does not yet fully support pandas",
            category=FutureWarning,
        )
        yield


def store_samples(spark, store_dir: str | Path):
    """The store's samples as a Spark DataFrame with ``LONG_SCHEMA``'s columns.

    Reads the current version's Hive-partitioned files (``vector=``/``metric=`` from
    the path), never the catalog: every executor reads the files it is given.
    """
    from floodmark.store import open_store

    series = open_store(store_dir).series_dir.resolve()  # this version, whatever comes next
    frame = (
        spark.read.option("basePath", str(series))
        .schema(
            "prediction_id string, timestamp timestamp, passed double, blocked double, "
            "vector string, metric string"
        )
        .parquet(str(series))
    )
    return frame.select(*LONG_SCHEMA)
