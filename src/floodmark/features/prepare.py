"""Turn a long table into the frame every family works on.

The families need each series' samples contiguous and in time order, keyed by a
small integer ``sid`` instead of three strings (grouping on an integer is far
cheaper than hashing 64-character ids on every pass). Store chunks already come
grouped and sorted, so the usual path only *checks* the order; anything else
(concatenated readers, shuffled user tables) is regrouped once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from floodmark.domain import run_ids
from floodmark.errors import SchemaError
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA, series_name


@dataclass(frozen=True)
class Prepared:
    """Samples ready for the families.

    samples: ``sid`` (UInt32, flagged sorted), ``t`` (Int64 epoch microseconds),
        ``passed``, ``blocked`` (Float64); contiguous per ``sid`` and strictly
        increasing in ``t`` within it; ``sid`` runs 0..k-1, each with samples.
    keys: one row per series, in ``sid`` order: ``sid`` and the key columns.
    """

    samples: pl.DataFrame
    keys: pl.DataFrame


def divide_exactly(numerator: pl.Series, divisor: float | pl.Series) -> pl.Series:
    """``numerator / divisor`` rounded as IEEE division (nulls become NaN).

    Polars divides by a scalar, or by a column it holds as one broadcast value
    (a join where every row meets the same row), by multiplying with the
    reciprocal, so ``120e6 / 86_400e6`` differs in the last bit depending on the
    frame; a feature must not depend on how series were chunked.
    """
    if isinstance(divisor, pl.Series):
        divisor = divisor.cast(pl.Float64).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = numerator.cast(pl.Float64).to_numpy() / divisor
    return pl.Series(numerator.name, quotient)


def series_starts(sid: np.ndarray) -> np.ndarray:
    """Row of the first sample of each series (``sid`` in runs, as prepared)."""
    changed = np.empty(sid.size, dtype=bool)
    changed[:1] = True
    np.not_equal(sid[1:], sid[:-1], out=changed[1:])
    return np.flatnonzero(changed)


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
    df = df.select(
        *(pl.col(k).cast(pl.String) for k in KEY_COLUMNS),
        ts.dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("timestamp"),
        pl.col("passed").cast(pl.Float64),
        pl.col("blocked").cast(pl.Float64),
    )
    _reject_non_finite(df)
    return df


def _reject_non_finite(df: pl.DataFrame) -> None:
    """Traffic is a finite number: NaN or infinity is a broken sample, not a value
    to compute with (the store quarantines such series at ingest)."""
    finite = pl.all_horizontal(pl.col("passed", "blocked").is_finite())
    broken = df.with_row_index("row").filter(~finite)
    if broken.height:
        row = broken.row(0, named=True)
        column = "passed" if not np.isfinite(row["passed"]) else "blocked"
        raise SchemaError(
            f"{column} is {row[column]} at {row['timestamp']}: values must be finite",
            row=row["row"],
            series=series_name(row["prediction_id"], row["vector"], row["metric"]),
        )


def split_whole_series(df: pl.DataFrame, max_rows: int) -> list[pl.DataFrame]:
    """Cut a long table into parts of about ``max_rows`` rows, never inside a series.

    Interleaved series are grouped first. A part exceeds ``max_rows`` by less than
    its last series.
    """
    df = check_long(df)
    if df.height <= max_rows:
        return [df]
    starts = _run_starts(df)
    if starts.size != df.select(KEY_COLUMNS).gather(starts).n_unique():
        df = group_series(df)
        starts = _run_starts(df)
    # A series goes to the part its first row falls in.
    first = np.flatnonzero(np.diff(starts // max_rows, prepend=-1))
    bounds = [*starts[first].tolist(), df.height]
    return [df.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _run_starts(df: pl.DataFrame) -> np.ndarray:
    """Row of the first sample of each run of equal keys."""
    runs = df.select(run_ids(*KEY_COLUMNS)).to_series().to_numpy()
    return np.flatnonzero(np.diff(runs, prepend=-1))  # prepend -1: row 0 starts a run


def group_series(df: pl.DataFrame) -> pl.DataFrame:
    """Interleaved series made contiguous, keys sorted (hashing the keys once).

    Sorting the whole table by three string keys instead cost 4x more.
    """
    return (
        df.group_by(KEY_COLUMNS)
        .agg(pl.col("timestamp", "passed", "blocked").sort_by("timestamp"))
        .sort(KEY_COLUMNS)
        .explode("timestamp", "passed", "blocked")
    )


def prepare(df: pl.DataFrame) -> Prepared:
    """Validate, key by ``sid`` and order the samples of whole series."""
    return prepare_checked(check_long(df))


def prepare_checked(df: pl.DataFrame) -> Prepared:
    """``prepare`` of a table ``check_long`` (or ``split_whole_series``) returned."""
    samples, keys = _key_runs(df)
    if keys.height != keys.select(KEY_COLUMNS).n_unique():
        samples, keys = _key_runs(group_series(df))
    return _ordered(samples, keys)


def prepare_runs(keys: pl.DataFrame, values: pl.DataFrame) -> Prepared:
    """Key samples by position: ``keys`` lists series and their ``n_samples``, and
    ``values`` (``timestamp, passed, blocked``) holds those series' rows one after another.

    What a store chunk is (``floodmark.store.chunks.read_chunk_runs``): with no
    key strings per row to compare, this took 11 ms where ``prepare`` took 27 ms
    (2 M samples).
    """
    keys = keys.filter(pl.col("n_samples") > 0)  # a series without samples has no row
    sizes = keys["n_samples"].to_numpy()
    if int(sizes.sum()) != values.height:
        raise SchemaError(
            f"{keys.height} series of {int(sizes.sum())} samples in all, but {values.height} rows"
        )
    sid = np.repeat(np.arange(keys.height, dtype=np.uint32), sizes)
    samples = _samples(values.with_columns(pl.Series("sid", sid)))
    keys = keys.select(KEY_COLUMNS).with_row_index("sid")
    return _ordered(samples, keys)


def _ordered(samples: pl.DataFrame, keys: pl.DataFrame) -> Prepared:
    """Samples in time order within each series (the usual input only needs the check)."""
    if not _time_ordered(samples):
        samples = samples.sort("sid", "t", maintain_order=True)
        _reject_repeated_times(samples, keys)
    # sid never decreases (it numbers runs in order); telling Polars so lets every
    # group_by on it slice contiguous runs instead of hashing (~10x faster).
    return Prepared(samples.with_columns(pl.col("sid").set_sorted()), keys)


def _key_runs(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Number the runs of equal keys (one run per series when the input is grouped)."""
    sid = df.select(run_ids(*KEY_COLUMNS).alias("sid")).to_series()
    starts = np.flatnonzero(np.diff(sid.to_numpy(), prepend=-1))
    keys = df.select(KEY_COLUMNS).gather(starts).with_row_index("sid")
    keys = keys.with_columns(pl.col("sid").cast(pl.UInt32))
    return _samples(df.with_columns(sid)), keys


def _samples(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(
        "sid",
        pl.col("timestamp").dt.epoch("us").alias("t"),
        "passed",
        "blocked",
    )


def _time_ordered(samples: pl.DataFrame) -> bool:
    """True when ``t`` strictly increases within every run of ``sid``."""
    sid, t = samples["sid"].to_numpy(), samples["t"].to_numpy()
    bad = t[1:] <= t[:-1]
    bad &= sid[1:] == sid[:-1]
    return not bad.any()


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
