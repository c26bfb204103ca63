"""Pieces every reader shares: the errors switch, key checks, defects, time columns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.errors import FloodmarkError, InputFormatError, SchemaError, SeriesDefect
from floodmark.io.codec import MAX_EPOCH_S, MIN_EPOCH_S
from floodmark.io.read_result import ReadResult
from floodmark.schema import (
    KEY_COLUMNS,
    LABEL_SCHEMA,
    METRICS,
    QUARANTINE_SCHEMA,
    VECTORS,
    empty_quarantine,
    series_name,
)

ERRORS = ("quarantine", "raise")
TIME_UNIT = "us"
TIMESTAMP = pl.Datetime(TIME_UNIT, "UTC")


_VECTORS = frozenset(VECTORS)
_METRICS = frozenset(METRICS)


def check_errors(errors: str) -> str:
    """Validate the ``errors=`` switch every reader takes."""
    if errors not in ERRORS:
        raise FloodmarkError(f"errors must be one of {', '.join(ERRORS)}, not {errors!r}")
    return errors


def one_line(text: str) -> str:
    """Messages end up in one CLI line and one quarantine cell."""
    return " ".join(str(text).split())


def trimmed(value: str | None) -> str | None:
    """A key or path cell without surrounding whitespace: the one rule of every format."""
    return None if value is None else value.strip()


def key_defect(prediction_id: object, vector: object, metric: object) -> SeriesDefect | None:
    """The defect of a series key, or None when the key is usable."""
    if any(
        v is None or (isinstance(v, str) and not v.strip()) for v in (prediction_id, vector, metric)
    ):
        return SeriesDefect("missing_key", "prediction_id, vector or metric is empty")
    if vector not in _VECTORS:
        return SeriesDefect(
            "unknown_vector", f"vector {vector!r} is not one of {', '.join(VECTORS)}"
        )
    if metric not in _METRICS:
        return SeriesDefect(
            "unknown_metric", f"metric {metric!r} is not one of {', '.join(METRICS)}"
        )
    return None


@dataclass
class Defects:
    """Quarantine rows gathered while reading one input; raises at once when strict."""

    source: str
    errors: str = "quarantine"
    rows: list[dict] = field(default_factory=list)

    def add(
        self,
        defect: SeriesDefect,
        row: int | None,
        prediction_id: object = None,
        vector: object = None,
        metric: object = None,
    ) -> None:
        """Record ``defect`` for the series at ``row`` (or raise it, naming file/row/series)."""
        keys = [None if v is None else str(v) for v in (prediction_id, vector, metric)]
        detail = one_line(defect.message)
        if self.errors == "raise":
            named = None if any(k is None for k in keys) else series_name(*keys)
            raise SeriesDefect(defect.reason, detail, file=self.source, row=row, series=named)
        self.rows.append(
            dict(
                zip(
                    QUARANTINE_SCHEMA, [self.source, row, *keys, defect.reason, detail], strict=True
                )
            )
        )

    def frame(self) -> pl.DataFrame:
        if not self.rows:
            return empty_quarantine()
        return pl.DataFrame(self.rows, schema=QUARANTINE_SCHEMA, orient="row")


def raise_first(quarantine: pl.DataFrame) -> None:
    """Raise the first quarantine row as the SeriesDefect ``errors="raise"`` promises."""
    if quarantine.height == 0:
        return
    q = quarantine.row(0, named=True)
    keys = [q[k] for k in KEY_COLUMNS]
    named = None if any(k is None for k in keys) else series_name(*keys)
    raise SeriesDefect(q["reason"], q["detail"], file=q["source"], row=q["row"], series=named)


def series_frame(keys: list[tuple], labels: pl.DataFrame | None, source: str) -> pl.DataFrame:
    """Per-series metadata: keys, ``source`` and labels cast to LABEL_SCHEMA."""
    # Typed even without rows: a batch whose every row is quarantined must still
    # concatenate with the others.
    key_frame = pl.DataFrame(keys, schema=dict.fromkeys(KEY_COLUMNS, pl.String), orient="row")
    sources = pl.DataFrame({"source": [source] * len(keys)}, schema={"source": pl.String})
    return pl.concat([key_frame, sources, cast_labels(labels, len(keys))], how="horizontal")


def concat_results(parts: Iterable[ReadResult]) -> ReadResult:
    """One ReadResult holding every part, in order.

    A series the input holds twice (two rows of a vendor file, say) is kept
    once: at a repeated timestamp the later sample wins, counted as repaired.
    """
    parts = list(parts)
    if not parts:
        return ReadResult()
    samples = pl.concat([p.samples for p in parts])
    unique = samples.unique([*KEY_COLUMNS, "timestamp"], keep="last", maintain_order=True)
    if unique.height < samples.height:
        unique = unique.sort([*KEY_COLUMNS, "timestamp"], maintain_order=True)
    series = pl.concat([p.series for p in parts])
    return ReadResult(
        samples=unique,
        series=series.unique(list(KEY_COLUMNS), keep="last", maintain_order=True),
        quarantine=pl.concat([p.quarantine for p in parts]),
        repaired_duplicates=sum(p.repaired_duplicates for p in parts)
        + samples.height
        - unique.height,
    )


def epoch_to_datetime(seconds: np.ndarray) -> pl.Series:
    """Whole epoch seconds (int64) -> ``Datetime("us", "UTC")``."""
    micros = np.asarray(seconds, dtype=np.int64) * 1_000_000
    return pl.Series("timestamp", micros, dtype=pl.Int64).cast(TIMESTAMP)


def cast_labels(frame: pl.DataFrame | None, height: int) -> pl.DataFrame:
    """Label columns of ``frame`` cast to ``LABEL_SCHEMA``; missing ones are null.

    ``height`` rows (``frame`` may be None when the input has no labels). A
    label that cannot be read as a number becomes null: labels describe a
    series, they never decide whether its samples are read.
    """
    columns = []
    for name, dtype in LABEL_SCHEMA.items():
        if frame is None or name not in frame.columns:
            columns.append(pl.Series(name, [None] * height, dtype=dtype))
            continue
        col = frame[name]
        if col.dtype == pl.String:
            col = col.str.strip_chars().replace("", None)
        col = col.cast(pl.String) if dtype == pl.String else col.cast(dtype, strict=False)
        columns.append(col.alias(name))
    return pl.DataFrame(columns)


# Formats tried one by one when one inferred format does not fit every value.
_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


def parse_times(values: pl.Series, *, file: str | Path, column: str) -> pl.Series:
    """A time column -> ``Datetime("us", "UTC")``; the first bad value raises.

    See ``read_times``; the InputFormatError names the file, column and row.
    """
    out, problems = read_times(values, file=file, column=column)
    if problems.null_count() < problems.len():
        row = int(problems.is_not_null().arg_max())
        raise InputFormatError(problems[row], file=file, row=row)
    return out


def read_times(values: pl.Series, *, file: str | Path, column: str) -> tuple[pl.Series, pl.Series]:
    """A time column -> ``Datetime("us", "UTC")``, and per row what is wrong with it.

    Accepts epoch seconds (int, float or numeric text), ISO text (naive = UTC,
    or with an offset, converted to UTC), dates and datetimes. Returns the times
    (null where a value cannot be read) and, per row, the one-line problem (null
    where the value is fine). A column of no time type raises InputFormatError.
    """
    dtype = values.dtype
    problems = pl.Series([None] * values.len(), dtype=pl.String)
    if dtype == pl.Datetime:
        out = values.cast(pl.Datetime(TIME_UNIT, dtype.time_zone))
        if dtype.time_zone is None:
            out = out.dt.replace_time_zone("UTC")
        out = out.dt.convert_time_zone("UTC")
    elif dtype == pl.Date:
        out = values.cast(pl.Datetime(TIME_UNIT)).dt.replace_time_zone("UTC")
    elif dtype.is_numeric():
        out, problems = _from_epoch(values.cast(pl.Float64), column=column)
    elif dtype == pl.String:
        text = values.str.strip_chars().replace("", None)
        numeric = text.cast(pl.Float64, strict=False)
        epoch, problems = _from_epoch(numeric, column=column)
        if numeric.null_count() == text.null_count():
            out = epoch
        elif numeric.null_count() == text.len():
            out = _from_text(text)
        else:  # epoch seconds and ISO text mixed in one column
            out = epoch.fill_null(_from_text(text.set(numeric.is_not_null(), None)))
        values = text
    else:
        raise InputFormatError(f"column {column!r} of type {dtype} is not a time", file=file)
    shown = values.cast(pl.String)
    problems = pl.select(
        pl.when(values.is_null())
        .then(pl.format("column '{}': value is empty", pl.lit(column)))
        .when(out.is_null() & problems.is_null())
        .then(
            pl.format("column '{}': value cannot be read as a time ('{}')", pl.lit(column), shown)
        )
        .otherwise(problems)
    ).to_series()
    return out.rename("timestamp"), problems


def read_numbers(
    values: pl.Series, *, file: str | Path, column: str
) -> tuple[pl.Series, pl.Series]:
    """A value column as Float64 (empty text is null), and per row what is wrong with it.

    Text that is not a number is null with a one-line problem; a column of a
    type that is not a number at all raises SchemaError.
    """
    if values.dtype == pl.String:
        text = values.str.strip_chars().replace("", None)
        out = text.cast(pl.Float64, strict=False)
        problems = pl.select(
            pl.when(out.is_null() & text.is_not_null()).then(
                pl.format("column '{}': '{}' is not a number", pl.lit(column), text)
            )
        ).to_series()
        return out, problems
    if not values.dtype.is_numeric():
        raise SchemaError(f"column {column!r} of type {values.dtype} is not numeric", file=file)
    return values.cast(pl.Float64), pl.Series([None] * values.len(), dtype=pl.String)


def text_time_expr(col: pl.Expr) -> pl.Expr:
    """Lazy twin of ``parse_times`` for text: epoch seconds or any known ISO form.

    Values no form reads become null (lazy frames cannot say which row failed).
    """
    text = col.str.strip_chars()
    epoch = (text.cast(pl.Float64, strict=False) * 1_000_000).round(0).cast(pl.Int64)
    forms = [
        text.str.to_datetime(fmt, time_zone="UTC", time_unit=TIME_UNIT, strict=False)
        for fmt in _TIME_FORMATS
    ]
    return pl.coalesce(epoch.cast(TIMESTAMP), *forms)


def _from_text(text: pl.Series) -> pl.Series:
    try:
        return text.str.to_datetime(time_zone="UTC", time_unit=TIME_UNIT)
    except pl.exceptions.PolarsError:
        pass  # mixed formats: try each known one and keep the first that reads a value
    parsed = [
        text.str.to_datetime(fmt, time_zone="UTC", time_unit=TIME_UNIT, strict=False)
        for fmt in _TIME_FORMATS
    ]
    return pl.select(pl.coalesce(parsed)).to_series()


def _from_epoch(seconds: pl.Series, *, column: str) -> tuple[pl.Series, pl.Series]:
    """Epoch seconds -> times; out of years 1..9999 is null, with its problem."""
    finite = seconds.is_finite().fill_null(True)
    in_range = ((seconds >= MIN_EPOCH_S) & (seconds <= MAX_EPOCH_S)).fill_null(True)
    bad = ~(finite & in_range)
    problems = pl.select(
        pl.when(bad).then(
            pl.format(
                "column '{}': {} is not epoch seconds between years 1 and 9999 "
                "(epoch milliseconds?)",
                pl.lit(column),
                seconds,
            )
        )
    ).to_series()
    micros = (seconds.set(bad, None) * 1_000_000).round(0).cast(pl.Int64)
    return micros.cast(TIMESTAMP), problems


def value_defects(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """Per row, the defect reason of the first bad value column (null when fine).

    Adds ``_reason`` and ``_detail``; NaN comes before infinite before negative,
    the order the vendor decoder checks them.
    """
    reason = pl.lit(None, dtype=pl.String)
    detail = pl.lit(None, dtype=pl.String)
    for col in reversed(columns):
        c = pl.col(col)
        for code, cond, text in (
            ("negative_value", c < 0, "is negative"),
            ("infinite_value", c.is_infinite(), "is infinite"),
            ("nan_value", c.is_nan().fill_null(True), "is NaN or empty"),
        ):
            shown = c.cast(pl.String).fill_null("empty")
            reason = pl.when(cond.fill_null(False)).then(pl.lit(code)).otherwise(reason)
            detail = (
                pl.when(cond.fill_null(False))
                .then(pl.format("{} {} ({})", pl.lit(col), pl.lit(text), shown))
                .otherwise(detail)
            )
    return frame.with_columns(reason.alias("_reason"), detail.alias("_detail"))
