"""The store's small tables (catalog, quarantine, file index) and how an ingest updates them."""

from __future__ import annotations

import datetime as dt

import polars as pl

from floodmark.errors import SchemaError
from floodmark.schema import (
    KEY_COLUMNS,
    LABEL_SCHEMA,
    LONG_SCHEMA,
    METRICS,
    QUARANTINE_SCHEMA,
    VECTORS,
    series_name,
)

_KEYS = {k: pl.String() for k in KEY_COLUMNS}
_TS = pl.Datetime("us", "UTC")

#: Per-series statistics the store derives from the samples it holds.
STATS_SCHEMA: dict[str, pl.DataType] = {
    **_KEYS,
    "n_samples": pl.Int64(),
    "first_timestamp": _TS,
    "last_timestamp": _TS,
    "median_step_s": pl.Float64(),
}
#: Per-series metadata taken from the inputs: where it came from and the expert labels.
META_SCHEMA: dict[str, pl.DataType] = {**_KEYS, "source": pl.String(), **LABEL_SCHEMA}
#: ``catalog.parquet``: one row per series.
CATALOG_SCHEMA: dict[str, pl.DataType] = {**STATS_SCHEMA, "source": pl.String(), **LABEL_SCHEMA}
#: ``quarantine.parquet``: the readers' quarantine rows and when they were ingested.
STORE_QUARANTINE_SCHEMA: dict[str, pl.DataType] = {**QUARANTINE_SCHEMA, "ingested_at": _TS}
#: ``index.parquet``: where every series' rows are (partition file, first row, row count).
INDEX_SCHEMA: dict[str, pl.DataType] = {
    "vector": pl.String(),
    "metric": pl.String(),
    "file": pl.String(),
    "prediction_id": pl.String(),
    "row_offset": pl.Int64(),
    "n_rows": pl.Int64(),
}
#: Per-series sample changes of one ingest: new timestamps, values replaced by a newer input.
CHANGES_SCHEMA: dict[str, pl.DataType] = {
    **_KEYS,
    "n_new": pl.Int64(),
    "n_changed": pl.Int64(),
}
#: Columns of a partition file (vector and metric live in the partition path).
FILE_COLUMNS: tuple[str, ...] = ("prediction_id", "timestamp", "passed", "blocked")


def _cast(df: pl.DataFrame, schema: dict[str, pl.DataType], what: str) -> pl.DataFrame:
    """Select ``schema``'s columns in order, adding missing optional ones as null."""
    exprs = []
    for name, dtype in schema.items():
        if name in df.columns:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    try:
        return df.select(exprs)
    except pl.exceptions.PolarsError as exc:
        raise SchemaError(f"{what} has a column of the wrong type ({exc})") from None


def _require(df: pl.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(f"{what} lacks column(s) {', '.join(missing)}")


def normalise_samples(df: pl.DataFrame) -> pl.DataFrame:
    """Check a reader's long table and cast it to LONG_SCHEMA.

    Readers quarantine bad series, so anything caught here is a bug upstream (or a
    hand-built frame); it is refused rather than stored, naming the first bad series.
    """
    _require(df, LONG_SCHEMA, "samples")
    df = _cast(df, LONG_SCHEMA, "samples")
    if df.height == 0:
        return df
    checks = {
        "a key or timestamp is null": pl.any_horizontal(
            pl.col(*KEY_COLUMNS, "timestamp").is_null()
        ),
        "unknown vector": ~pl.col("vector").is_in(VECTORS),
        "unknown metric": ~pl.col("metric").is_in(METRICS),
        "a value is null, NaN, infinite or negative": pl.any_horizontal(
            pl.col("passed", "blocked").is_null()
            | ~pl.col("passed", "blocked").is_finite()
            | (pl.col("passed", "blocked") < 0)
        ),
    }
    # One pass over the columns for the common case, nothing refused.
    if not df.select(pl.any_horizontal(c.fill_null(True) for c in checks.values()).any()).item():
        return df
    for message, bad in checks.items():
        rows = df.filter(bad.fill_null(True))
        if rows.height:
            first = rows.row(0, named=True)
            raise SchemaError(
                f"samples refused: {message}",
                series=series_name(*(str(first[k]) for k in KEY_COLUMNS)),
            )
    return df


def normalise_meta(df: pl.DataFrame) -> pl.DataFrame:
    """A reader's per-series frame as META_SCHEMA (missing labels become null)."""
    _require(df, KEY_COLUMNS, "series metadata")
    return _cast(df, META_SCHEMA, "series metadata").filter(
        pl.all_horizontal(pl.col(*KEY_COLUMNS).is_not_null())
    )


def normalise_quarantine(df: pl.DataFrame) -> pl.DataFrame:
    _require(df, ("reason",), "quarantine")
    return _cast(df, QUARANTINE_SCHEMA, "quarantine")


def latest_meta(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """One row per series: for each column the newest non-null value (frames oldest first)."""
    if not frames:
        return pl.DataFrame(schema=META_SCHEMA)
    stacked = pl.concat(frames, how="vertical")
    value_columns = [c for c in META_SCHEMA if c not in KEY_COLUMNS]
    return (
        stacked.group_by(KEY_COLUMNS, maintain_order=True)
        .agg(pl.col(c).drop_nulls().last() for c in value_columns)
        .select(META_SCHEMA.keys())
        .cast(META_SCHEMA)
    )


def update_catalog(old: pl.DataFrame, stats: pl.DataFrame, meta: pl.DataFrame) -> pl.DataFrame:
    """The next catalog.

    ``stats`` replaces the statistics of every series it lists (recomputed from the
    merged samples); ``meta`` updates source and labels, the newest non-null value
    winning; series never seen before are added.
    """
    keys = list(KEY_COLUMNS)
    stat_cols = [c for c in STATS_SCHEMA if c not in KEY_COLUMNS]
    meta_cols = [c for c in META_SCHEMA if c not in KEY_COLUMNS]
    all_keys = pl.concat([old.select(keys), stats.select(keys), meta.select(keys)]).unique()
    joined = (
        all_keys.join(old, on=keys, how="left")
        .join(
            stats.with_columns(_in_stats=pl.lit(True)),
            on=keys,
            how="left",
            suffix="_stats",
        )
        .join(meta, on=keys, how="left", suffix="_meta")
    )
    in_stats = pl.col("_in_stats").fill_null(False)
    exprs = [pl.col(k) for k in keys]
    exprs += [
        pl.when(in_stats).then(pl.col(f"{c}_stats")).otherwise(pl.col(c)).alias(c)
        for c in stat_cols
    ]
    exprs += [pl.coalesce(pl.col(f"{c}_meta"), pl.col(c)).alias(c) for c in meta_cols]
    return (
        joined.select(exprs)
        .with_columns(pl.col("n_samples").fill_null(0))
        .select(CATALOG_SCHEMA.keys())
        .cast(CATALOG_SCHEMA)
        .sort(keys)
    )


def update_quarantine(
    old: pl.DataFrame, new: list[pl.DataFrame], ingested_at: dt.datetime
) -> pl.DataFrame:
    """Append this ingest's quarantine rows; a row seen before keeps its first ingested_at."""
    frames = [old] + [
        frame.with_columns(pl.lit(ingested_at, dtype=_TS).alias("ingested_at")) for frame in new
    ]
    stacked = pl.concat(frames, how="vertical").cast(STORE_QUARANTINE_SCHEMA)
    return stacked.unique(subset=list(QUARANTINE_SCHEMA), keep="first", maintain_order=True)


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
