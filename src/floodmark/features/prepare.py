"""Turn a long table into the frame every family works on.

The families need each series' samples contiguous and in time order, keyed by a
small integer ``sid`` instead of three strings (grouping on an integer is far
cheaper than hashing 64-character ids on every pass). Store chunks already come
grouped and sorted, so the usual path only *checks* the order; anything else
(concatenated readers, shuffled user tables) is regrouped once.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from floodmark.errors import SchemaError
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA, series_name

#: Microseconds in a UTC day: the daily family bins on ``t // DAY_US``.
DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class Prepared:
    """Samples ready for the families.

    samples: ``sid`` (UInt32, flagged sorted), ``t`` (Int64 epoch microseconds),
        ``passed``, ``blocked``, ``total`` (Float64); contiguous per ``sid`` and
        strictly increasing in ``t`` within it; ``sid`` runs 0..k-1.
    keys: one row per series, in ``sid`` order: ``sid`` and the key columns.
    """

    samples: pl.DataFrame
    keys: pl.DataFrame


def divide_exactly(numerator: pl.Series, divisor: float) -> pl.Series:
    """``numerator / divisor`` rounded as IEEE division.

    Polars divides a column by a scalar by multiplying with its reciprocal, so
    ``120e6 / 86_400e6`` differs in the last bit depending on the frame's
    length; a feature must not depend on how series were chunked.
    """
    return pl.Series(numerator.name, numerator.cast(pl.Float64).to_numpy() / divisor)


def check_long(df: pl.DataFrame) -> pl.DataFrame:
    """Check the long-table columns and bring them to ``LONG_SCHEMA`` types."""
    missing = [name for name in LONG_SCHEMA if name not in df.columns]
    if missing:
        raise SchemaError(f"long table lacks column(s) {', '.join(missing)}")
    ts_dtype = df.schema["timestamp"]
    if not isinstance(ts_dtype, pl.Datetime):
        raise SchemaError(f"column timestamp must be a Datetime, not {ts_dtype}")
    for name in ("passed", "blocked"):
        if not df.schema[name].is_numeric():
            raise SchemaError(f"column {name} must be numeric, not {df.schema[name]}")
    nulls = [name for name in LONG_SCHEMA if df[name].null_count()]
    if nulls:
        raise SchemaError(f"long table has nulls in {', '.join(nulls)}")
    ts = pl.col("timestamp")
    # A naive timestamp is taken as UTC: every input floodmark reads is UTC epoch time.
    ts = ts.dt.replace_time_zone("UTC") if ts_dtype.time_zone is None else ts
    return df.select(
        *(pl.col(k).cast(pl.String) for k in KEY_COLUMNS),
        ts.dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("timestamp"),
        pl.col("passed").cast(pl.Float64),
        pl.col("blocked").cast(pl.Float64),
    )


def prepare(df: pl.DataFrame) -> Prepared:
    """Validate, key by ``sid`` and order the samples of whole series."""
    df = check_long(df)
    samples, keys = _key_runs(df)
    if keys.height != keys.select(KEY_COLUMNS).n_unique():
        samples, keys = _regroup(df)
    if not _time_ordered(samples):
        samples = samples.sort("sid", "t", maintain_order=True)
        _reject_repeated_times(samples, keys)
    # sid never decreases (it numbers runs in order); telling Polars so lets every
    # group_by on it slice contiguous runs instead of hashing (~10x faster).
    return Prepared(samples.with_columns(pl.col("sid").set_sorted()), keys)


def _key_runs(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Number the runs of equal keys (one run per series when the input is grouped)."""
    with_sid = df.with_columns(pl.struct(KEY_COLUMNS).rle_id().alias("sid"))
    keys = with_sid.filter(pl.col("sid").is_first_distinct()).select("sid", *KEY_COLUMNS)
    return _samples(with_sid), keys


def _regroup(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Interleaved series: gather each into one run (hashing the keys once).

    Sorting the whole table by three string keys instead cost 4x more.
    """
    grouped = (
        df.group_by(KEY_COLUMNS)
        .agg(pl.col("timestamp", "passed", "blocked").sort_by("timestamp"))
        .sort(KEY_COLUMNS)
        .with_row_index("sid")
        .with_columns(pl.col("sid").cast(pl.UInt32))
    )
    samples = grouped.select("sid", "timestamp", "passed", "blocked").explode(
        "timestamp", "passed", "blocked"
    )
    return _samples(samples), grouped.select("sid", *KEY_COLUMNS)


def _samples(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(
        "sid",
        pl.col("timestamp").dt.epoch("us").alias("t"),
        "passed",
        "blocked",
        (pl.col("passed") + pl.col("blocked")).alias("total"),
    )


def _time_ordered(samples: pl.DataFrame) -> bool:
    """True when ``t`` strictly increases within every run of ``sid``."""
    same = pl.col("sid") == pl.col("sid").shift(1)
    bad = same & (pl.col("t") <= pl.col("t").shift(1))
    return not samples.select(bad.any()).item()


def _reject_repeated_times(samples: pl.DataFrame, keys: pl.DataFrame) -> None:
    """After sorting, equal neighbours mean a timestamp repeats within a series."""
    same = pl.col("sid") == pl.col("sid").shift(1)
    dup = samples.filter(same & (pl.col("t") == pl.col("t").shift(1)))
    if dup.height:
        row = keys.filter(pl.col("sid") == dup["sid"][0]).row(0, named=True)
        when = dup.select(pl.from_epoch("t", time_unit="us"))[0, 0]
        raise SchemaError(
            f"timestamp {when} repeats within the series (a long table has one row per "
            "series and timestamp; the readers repair repeats)",
            series=series_name(row["prediction_id"], row["vector"], row["metric"]),
        )
