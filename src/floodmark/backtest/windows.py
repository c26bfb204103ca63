"""Labelled anomaly windows: reading them and marking the samples they cover.

A window is ``(prediction_id, start, end)`` with both ends inclusive, in UTC. It
applies to every series of that object. In a backtest, window samples count as
attack samples (they form attack episodes in the test part and never count as
false alarms) and are left out of the learning part, like traffic a mitigation
blocked: a threshold must not learn from an anomaly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import orjson
import polars as pl

from floodmark.errors import InputFormatError

WINDOW_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "start": pl.Datetime("us", "UTC"),
    "end": pl.Datetime("us", "UTC"),
}


def empty_windows() -> pl.DataFrame:
    return pl.DataFrame(schema=WINDOW_SCHEMA)


def read_nab_windows(path: str | Path, mapping: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Read NAB's ``combined_windows.json`` into a windows frame.

    The file maps ``"<folder>/<file>.csv"`` to ``[[start, end], ...]`` with naive
    timestamps in UTC (``"2014-04-10 07:15:00.000000"``). Each key becomes the
    prediction_id the ingest gave that series: ``mapping[key]`` when given, else
    the file stem (``"realAWSCloudwatch/ec2_network_in_257a54.csv"`` →
    ``"ec2_network_in_257a54"``). Keys with no windows contribute nothing.

    >>> read_nab_windows("combined_windows.json").columns  # doctest: +SKIP
    ['prediction_id', 'start', 'end']
    """
    path = Path(path)
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InputFormatError(f"cannot read windows ({exc.strerror})", file=path) from None
    except orjson.JSONDecodeError as exc:
        raise InputFormatError(f"windows file is not valid JSON ({exc})", file=path) from None
    if not isinstance(doc, dict):
        raise InputFormatError("windows file must map series names to windows", file=path)
    mapping = mapping or {}
    rows: list[tuple[str, dt.datetime, dt.datetime]] = []
    for key, windows in doc.items():
        pid = mapping.get(key, PurePosixPath(key).stem)
        if not isinstance(windows, list):
            raise InputFormatError(f"windows of {key!r} must be a list", file=path)
        for i, window in enumerate(windows):
            if not (isinstance(window, list) and len(window) == 2):
                raise InputFormatError(
                    f"window {i} of {key!r} must be [start, end]", file=path, series=pid
                )
            start, end = (_parse_time(v, path, key) for v in window)
            rows.append((pid, start, end))
    return normalise_windows(
        pl.DataFrame(rows, schema=["prediction_id", "start", "end"], orient="row"), file=path
    )


def read_windows(path: str | Path) -> pl.DataFrame:
    """Read windows from NAB JSON, or from a CSV/Parquet table ``prediction_id,start,end``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_nab_windows(path)
    try:
        if suffix == ".csv":
            df = pl.read_csv(path, try_parse_dates=True)
        elif suffix == ".parquet":
            df = pl.read_parquet(path)
        else:
            raise InputFormatError(
                f"unsupported windows file {suffix!r}; use .json (NAB), .csv or .parquet",
                file=path,
            )
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputFormatError(f"cannot read windows ({exc})", file=path) from None
    return normalise_windows(df, file=path)


def normalise_windows(windows: pl.DataFrame, *, file: str | Path | None = None) -> pl.DataFrame:
    """Check and cast a windows frame to ``WINDOW_SCHEMA``; naive times are taken as UTC."""
    missing = [c for c in WINDOW_SCHEMA if c not in windows.columns]
    if missing:
        raise InputFormatError(f"windows lack columns {missing}", file=file)
    if windows.is_empty():
        return empty_windows()
    cols = []
    for name in ("start", "end"):
        col = pl.col(name)
        dtype = windows.schema[name]
        if dtype == pl.String:
            col = col.str.to_datetime(time_unit="us", strict=False)
            dtype = pl.Datetime("us")
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            col = col.dt.replace_time_zone("UTC")
        cols.append(col.cast(pl.Datetime("us", "UTC"), strict=False).alias(name))
    out = windows.select(pl.col("prediction_id").cast(pl.String), *cols)
    bad = out.with_row_index("row").filter(
        pl.any_horizontal(pl.all().is_null()) | (pl.col("end") < pl.col("start"))
    )
    if not bad.is_empty():
        row = int(bad["row"][0])
        raise InputFormatError(
            "window without prediction_id, with an unreadable time, or ending before it starts",
            file=file,
            row=row,
        )
    return out


def merge_windows(windows: pl.DataFrame) -> pl.DataFrame:
    """Union of overlapping windows per object, so each sample meets at most one window."""
    if windows.is_empty():
        return empty_windows()
    w = windows.sort("prediction_id", "start")
    prev_end = pl.col("end").cum_max().shift(1).over("prediction_id")
    opens = (prev_end.is_null() | (pl.col("start") > prev_end)).cast(pl.Int64)
    return (
        w.with_columns(group=opens.cum_sum().over("prediction_id"))
        .group_by("prediction_id", "group", maintain_order=True)
        .agg(pl.col("start").min(), pl.col("end").max())
        .select(WINDOW_SCHEMA.keys())
    )


def mark_windows(samples: pl.DataFrame, windows: pl.DataFrame | None) -> pl.DataFrame:
    """Add a boolean ``in_window`` column: the sample's time lies in one of its object's windows.

    Row order is preserved.
    """
    if windows is None or windows.is_empty() or samples.is_empty():
        return samples.with_columns(in_window=pl.lit(False))
    merged = merge_windows(windows).sort("start")
    tagged = samples.with_row_index("_row").sort("timestamp")
    # After merging, the last window starting at or before a sample is the only one
    # that can contain it; join_asof finds it without a samples × windows product.
    hit = tagged.join_asof(
        merged,
        left_on="timestamp",
        right_on="start",
        by="prediction_id",
        strategy="backward",
        check_sortedness=False,
    )
    flag = (pl.col("end").is_not_null() & (pl.col("timestamp") <= pl.col("end"))).alias("in_window")
    return hit.with_columns(flag).sort("_row").select(*samples.columns, "in_window")


def _parse_time(value: object, path: Path, key: str) -> dt.datetime:
    if not isinstance(value, str):
        raise InputFormatError(f"window time {value!r} of {key!r} is not a string", file=path)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputFormatError(
            f"window time {value!r} of {key!r} is not a time", file=path
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
