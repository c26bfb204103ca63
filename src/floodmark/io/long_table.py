"""The long table as a file: CSV or Parquet with one row per (series, timestamp).

Columns ``prediction_id, vector, metric, timestamp, passed`` and optionally
``blocked`` (0 when absent or empty). ``timestamp`` is epoch seconds (int or
float) or ISO text (naive = UTC). What any flow collector or ClickHouse export
can give.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from floodmark.errors import FloodmarkError, InputFormatError, SchemaError, SeriesDefect
from floodmark.io._common import (
    TIMESTAMP,
    Defects,
    check_errors,
    concat_results,
    key_defect,
    raise_first,
    read_numbers,
    read_times,
    series_frame,
    text_time_expr,
    value_defects,
)
from floodmark.io.atomic import atomic_path
from floodmark.io.options import LONG_COLUMNS
from floodmark.io.read_result import ReadResult
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA, empty_long, empty_quarantine

REQUIRED_COLUMNS = LONG_COLUMNS
SUFFIXES: tuple[str, ...] = (".csv", ".parquet")
_KEYS = list(KEY_COLUMNS)


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputFormatError(
            f"a long table is .csv or .parquet, not {suffix or 'extensionless'}", file=path
        )
    return suffix


def _raw(path: Path) -> pl.DataFrame:
    """The file as read: CSV as text (converted here, with row numbers in errors)."""
    suffix = _suffix(path)
    if not path.is_file():
        raise InputFormatError("file not found", file=path)
    try:
        csv = suffix == ".csv"
        frame = pl.read_csv(path, infer_schema=False) if csv else pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"cannot read as {suffix[1:]} ({exc})", file=path) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"long table lacks column(s) {', '.join(missing)} (has {', '.join(frame.columns)})",
            file=path,
        )
    return frame


def _normalised(raw: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Typed columns, ``_row`` (0-based row in the file) and its ``_bad``/``_why``.

    A cell that cannot be read (a time, a number) is null, named in ``_why``
    with its reason in ``_bad``: it takes its series to the quarantine.
    """
    keys = [
        raw[k].cast(pl.String).str.strip_chars().replace("", None).alias(k) for k in KEY_COLUMNS
    ]
    times, time_problems = read_times(raw["timestamp"], file=path, column="timestamp")
    passed, passed_problems = read_numbers(raw["passed"], file=path, column="passed")
    if "blocked" in raw.columns:
        blocked, blocked_problems = read_numbers(raw["blocked"], file=path, column="blocked")
        blocked = blocked.fill_null(0.0)
    else:
        blocked = pl.Series([0.0] * raw.height, dtype=pl.Float64)
        blocked_problems = pl.Series([None] * raw.height, dtype=pl.String)
    return pl.DataFrame(
        [
            *keys,
            times,
            passed.alias("passed"),
            blocked.alias("blocked"),
            pl.Series("_row", range(raw.height), dtype=pl.Int64),
            time_problems.alias("_time"),
            passed_problems.alias("_passed"),
            blocked_problems.alias("_blocked"),
        ]
    ).select(
        pl.exclude("_time", "_passed", "_blocked"),
        pl.when(pl.col("_time").is_not_null())
        .then(pl.lit("bad_time"))
        .when(pl.coalesce("_passed", "_blocked").is_not_null())
        .then(pl.lit("bad_number"))
        .alias("_bad"),
        pl.coalesce("_time", "_passed", "_blocked").alias("_why"),
    )


def _quarantine(frame: pl.DataFrame, defects: Defects) -> pl.DataFrame:
    """Record every broken series; return the rows of the good ones."""
    firsts = frame.group_by(_KEYS).agg(pl.col("_row").min()).sort("_row")
    bad_keys = []
    for pid, vec, met, row in firsts.iter_rows():
        defect = key_defect(pid, vec, met)
        if defect is not None:
            defects.add(defect, row, pid, vec, met)
            bad_keys.append((pid, vec, met))
    # A cell that cannot be read comes before what its value would say.
    flagged = (
        value_defects(frame, ("passed", "blocked"))
        .with_columns(
            _reason=pl.coalesce("_bad", "_reason"), _detail=pl.coalesce("_why", "_detail")
        )
        .filter(pl.col("_reason").is_not_null())
    )
    first_bad = flagged.sort("_row").unique(_KEYS, keep="first").sort("_row")
    known = set(bad_keys)
    for row in first_bad.iter_rows(named=True):
        key = tuple(row[k] for k in KEY_COLUMNS)
        if key in known:
            continue
        defects.add(SeriesDefect(row["_reason"], row["_detail"]), row["_row"], *key)
        bad_keys.append(key)
    good = frame.drop("_bad", "_why")
    if not bad_keys:
        return good
    bad = pl.DataFrame(bad_keys, schema={k: pl.String for k in KEY_COLUMNS}, orient="row")
    return good.join(bad, on=_KEYS, how="anti", nulls_equal=True)


def iter_long_table(
    path: str | Path, *, errors: str = "quarantine", batch_rows: int = 256
) -> Iterator[ReadResult]:
    """Read a long table; yield ``ReadResult``s of ``batch_rows`` complete series each.

    Broken series (unknown vector/metric, empty key, negative/NaN/infinite or
    empty ``passed``, a time or number that cannot be read) are quarantined with
    the 0-based row of their first bad row and the rest is read; with
    ``errors="raise"`` the broken series nearest the top raises instead.
    Repeated (series, timestamp) rows: the last one in the file wins, counted in
    ``repaired_duplicates``. The table is read whole (columnar), then cut into
    complete series.
    """
    check_errors(errors)
    if batch_rows < 1:
        raise FloodmarkError("batch_rows must be at least 1")
    path = Path(path)
    defects = Defects(str(path))
    good = _quarantine(_normalised(_raw(path), path), defects)
    quarantine = defects.frame().sort("row")
    if errors == "raise":
        raise_first(quarantine)  # the broken series nearest the top of the file
    return _iter_chunks(good, quarantine, batch_rows, str(path))


def _iter_chunks(
    good: pl.DataFrame, quarantine: pl.DataFrame, batch_rows: int, source: str
) -> Iterator[ReadResult]:
    ordered = good.sort([*_KEYS, "timestamp", "_row"])
    series_no = ordered.select(pl.struct(_KEYS).rle_id().alias("_series"))["_series"]
    ordered = ordered.with_columns((series_no // batch_rows).alias("_chunk"))
    chunks = ordered.partition_by("_chunk", maintain_order=True, include_key=False)
    if not chunks:
        yield ReadResult(quarantine=quarantine)
        return
    for i, chunk in enumerate(chunks):
        samples = chunk.unique([*_KEYS, "timestamp"], keep="last", maintain_order=True)
        keys = samples.select(_KEYS).unique(maintain_order=True).rows()
        yield ReadResult(
            samples=samples.select(list(LONG_SCHEMA)),
            series=series_frame(keys, None, source),
            quarantine=quarantine if i == 0 else empty_quarantine(),
            repaired_duplicates=chunk.height - samples.height,
        )


def read_long_table(
    path: str | Path, *, errors: str = "quarantine", batch_rows: int = 256
) -> ReadResult:
    """Read and validate a whole long table (see ``iter_long_table``)."""
    return concat_results(iter_long_table(path, errors=errors, batch_rows=batch_rows))


def scan_long_table(path: str | Path) -> pl.LazyFrame:
    """A lazy long table in ``LONG_SCHEMA``, for trusted files.

    Nothing is validated or quarantined, duplicates are kept and a time no known
    form reads becomes null: use ``read_long_table``/``iter_long_table`` to
    validate.
    """
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise InputFormatError("file not found", file=path)
    if suffix == ".csv":
        lazy = pl.scan_csv(path, schema_overrides={k: pl.String for k in KEY_COLUMNS})
    else:
        lazy = pl.scan_parquet(path)
    schema = lazy.collect_schema()
    missing = [c for c in REQUIRED_COLUMNS if c not in schema]
    if missing:
        raise SchemaError(f"long table lacks column(s) {', '.join(missing)}", file=path)
    if "blocked" in schema:
        blocked = pl.col("blocked").cast(pl.Float64).fill_null(0.0)
    else:
        blocked = pl.lit(0.0, dtype=pl.Float64)
    return lazy.select(
        *(pl.col(k).cast(pl.String) for k in KEY_COLUMNS),
        _time_expr(schema["timestamp"]).alias("timestamp"),
        pl.col("passed").cast(pl.Float64),
        blocked.alias("blocked"),
    )


def _time_expr(dtype: pl.DataType) -> pl.Expr:
    col = pl.col("timestamp")
    if dtype == pl.Datetime:
        if dtype.time_zone is None:
            return col.dt.replace_time_zone("UTC").cast(TIMESTAMP)
        return col.dt.convert_time_zone("UTC").cast(TIMESTAMP)
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_numeric():
        return (col.cast(pl.Float64) * 1_000_000).round(0).cast(pl.Int64).cast(TIMESTAMP)
    return text_time_expr(col)


def write_long_table(df: pl.DataFrame, path: str | Path) -> Path:
    """Write ``df`` in ``LONG_SCHEMA`` as CSV (ISO UTC times) or Parquet, atomically."""
    path = Path(path)
    suffix = _suffix(path)
    missing = [c for c in LONG_SCHEMA if c not in df.columns and c != "blocked"]
    if missing:
        raise SchemaError(f"long table lacks column(s) {', '.join(missing)}", file=path)
    if "blocked" not in df.columns:
        df = df.with_columns(blocked=pl.lit(0.0))
    frame = df.select(pl.col(name).cast(dtype) for name, dtype in LONG_SCHEMA.items())
    if frame.height == 0:
        frame = empty_long()
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.write_csv(tmp, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")
        else:
            frame.write_parquet(tmp)
    return path
