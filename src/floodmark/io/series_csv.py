"""One series in a CSV file (``timestamp,value`` and kin), the key given by the caller.

For public traces: NAB (``timestamp,value``), Cortez (``Time,<title>``, trailing
commas, daily ``Date`` files), WC98 (``timestamp,count``) and CESNET
(``id_time`` plus many columns, times in a ``times_*.csv`` beside it).

Column choice, when not given:
- time: the first column named ``timestamp``, ``time``, ``date``, ``datetime``,
  ``ts`` or ``id_time`` (any case), else the first column;
- value: the column that matches the metric when the file has one (BW:
  ``n_bytes`` or ``bytes``; PPS: ``n_packets`` or ``packets``), else the first
  other column whose cells are all numbers (``id_*`` columns are never values).
  For CESNET's ``103.csv`` with the default metric BW that is ``n_bytes``.
Rows whose value cell is empty are gaps (no sample), as are missing timestamps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from floodmark.errors import InputFormatError, SchemaError, SeriesDefect
from floodmark.io._common import (
    Defects,
    check_errors,
    key_defect,
    parse_times,
    read_numbers,
    read_times,
    series_frame,
    trimmed,
    value_defects,
)
from floodmark.io.read_result import ReadResult
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA

TIME_NAMES: tuple[str, ...] = ("timestamp", "time", "date", "datetime", "ts", "id_time")
METRIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "BW": ("n_bytes", "bytes"),
    "PPS": ("n_packets", "packets"),
}
ID_TIME = "id_time"


def _read_text(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise InputFormatError("file not found", file=path)
    try:
        # Everything as text: numbers are converted (and checked) column by column.
        return pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"not a readable CSV ({exc})", file=path) from None


def find_time_column(columns: list[str]) -> str | None:
    """The first column named like a time (see ``TIME_NAMES``), or None."""
    for column in columns:
        if column.strip().lower() in TIME_NAMES:
            return column
    return None


def _numeric_share(values: pl.Series) -> float:
    """The share of non-empty cells that are numbers (0 for an empty column)."""
    text = values.str.strip_chars().replace("", None)
    filled = text.len() - text.null_count()
    if filled == 0:
        return 0.0
    return (
        filled - (text.cast(pl.Float64, strict=False).null_count() - text.null_count())
    ) / filled


def _pick_columns(
    frame: pl.DataFrame, path: Path, metric: str, time_column: str | None, value_column: str | None
) -> tuple[str, str]:
    for given in (time_column, value_column):
        if given is not None and given not in frame.columns:
            raise SchemaError(
                f"no column {given!r} (has {', '.join(map(repr, frame.columns))})", file=path
            )
    if time_column is None:
        time_column = find_time_column(frame.columns) or frame.columns[0]
    if value_column is None:
        others = [c for c in frame.columns if c != time_column]
        by_metric = [c for c in others if c.strip().lower() in METRIC_COLUMNS.get(metric, ())]
        candidates = by_metric + [
            c for c in others if not c.strip().lower().startswith("id_") and c not in by_metric
        ]
        shares = {c: _numeric_share(frame[c]) for c in candidates}
        # All-numeric columns first; else the first with any number, so that a
        # stray bad cell is reported by its row rather than hiding the column.
        value_column = next((c for c in candidates if shares[c] == 1.0), None) or next(
            (c for c in candidates if shares[c] > 0), None
        )
        if value_column is None:
            raise SchemaError(
                f"no numeric value column besides time column {time_column!r} "
                f"(has {', '.join(map(repr, frame.columns))}); name one with value_column",
                file=path,
            )
    return time_column, value_column


def _times_file_beside(path: Path) -> Path:
    found = sorted(path.parent.glob("times_*.csv"))
    if len(found) != 1:
        what = "no times_*.csv" if not found else f"several: {', '.join(f.name for f in found)}"
        raise InputFormatError(
            f"column {ID_TIME!r} needs a times file mapping id_time to time ({what} beside "
            "the file); pass times_file",
            file=path,
        )
    return found[0]


def _mapped_times(ids: pl.Series, times_file: Path) -> tuple[pl.Series, pl.Series]:
    """Time ids -> times through a ``id_time,time`` table (CESNET's times_1_hour.csv).

    Returns the times and, per row, the problem of an id the table lacks.
    """
    table = _read_text(times_file)
    if ID_TIME not in table.columns or "time" not in table.columns:
        raise SchemaError(f"times file needs columns {ID_TIME!r} and 'time'", file=times_file)
    lookup = pl.DataFrame(
        {
            ID_TIME: table[ID_TIME].str.strip_chars(),
            "timestamp": parse_times(table["time"], file=times_file, column="time"),
        }
    )
    mapped = pl.DataFrame({ID_TIME: ids.str.strip_chars()}).join(
        lookup.unique(ID_TIME, keep="last"), on=ID_TIME, how="left", maintain_order="left"
    )["timestamp"]
    problems = pl.select(
        pl.when(mapped.is_null() & ids.is_not_null()).then(
            pl.format("{} '{}' is not in {}", pl.lit(ID_TIME), ids, pl.lit(str(times_file)))
        )
    ).to_series()
    return mapped, problems


def iter_series_csv(path: str | Path, **options) -> Iterator[ReadResult]:
    """The one ``ReadResult`` of a single-series CSV, as a stream.

    ``options`` are ``read_series_csv``'s; the file is read (and checked) on call.
    """
    return iter([read_series_csv(path, **options)])


def read_series_csv(
    path: str | Path,
    *,
    prediction_id: str | None = None,
    vector: str = "PT_TOTAL",
    metric: str = "BW",
    time_column: str | None = None,
    value_column: str | None = None,
    times_file: str | Path | None = None,
    errors: str = "quarantine",
) -> ReadResult:
    """Read one series from a CSV: ``passed`` = the value column, ``blocked`` = 0.

    prediction_id: the series' object (default: the file's stem).
    time_column, value_column: chosen by name when omitted (module docstring).
    times_file: an ``id_time,time`` table; used when the time column holds ids
        (found automatically as the only ``times_*.csv`` beside the file when
        the time column is ``id_time``).
    Times are ISO text (naive = UTC, or with an offset) or epoch seconds. A
    repeated timestamp keeps its last row, counted in ``repaired_duplicates``.
    A negative, NaN or infinite value, or a time or value cell that cannot be
    read, quarantines the series with its first such row (or raises with
    ``errors="raise"``).
    """
    check_errors(errors)
    path = Path(path)
    key = tuple(
        map(trimmed, (path.stem if prediction_id is None else prediction_id, vector, metric))
    )
    defects = Defects(str(path), errors)
    defect = key_defect(*key)
    if defect is not None:
        defects.add(defect, None, *key)
        return ReadResult(quarantine=defects.frame())

    frame = _read_text(path)
    if frame.height == 0:  # a header and no rows: the series exists, it is empty
        return ReadResult(series=series_frame([key], None, str(path)))
    time_column, value_column = _pick_columns(frame, path, metric, time_column, value_column)
    if times_file is None and time_column.strip().lower() == ID_TIME:
        times_file = _times_file_beside(path)
    numbers, number_problems = read_numbers(frame[value_column], file=path, column=value_column)
    # Gaps: an empty value (WC98's per-minute file has some) or time is no sample.
    values_given = frame[value_column].str.strip_chars().replace("", None).is_not_null()
    times_given = frame[time_column].str.strip_chars().replace("", None).is_not_null()
    present = values_given & times_given
    rows = pl.Series("_row", range(frame.height), dtype=pl.Int64).filter(present)
    times_text = frame[time_column].filter(present)
    if times_file is not None:
        timestamps, time_problems = _mapped_times(times_text, Path(times_file))
    else:
        timestamps, time_problems = read_times(times_text, file=path, column=time_column)
    # A cell that cannot be read quarantines the series, at its first such row.
    unreadable = pl.DataFrame(
        {"_row": rows, "_time": time_problems, "_number": number_problems.filter(present)}
    ).filter(pl.col("_time").is_not_null() | pl.col("_number").is_not_null())
    if unreadable.height:
        first = unreadable.row(0, named=True)
        reason = "bad_time" if first["_time"] is not None else "bad_number"
        defects.add(SeriesDefect(reason, first["_time"] or first["_number"]), first["_row"], *key)
        return ReadResult(quarantine=defects.frame())
    samples = pl.DataFrame(
        [timestamps, numbers.filter(present).alias("passed"), rows]
    ).with_columns(blocked=pl.lit(0.0))

    flagged = value_defects(samples, ("passed",)).filter(pl.col("_reason").is_not_null())
    if flagged.height:
        first = flagged.row(0, named=True)
        defects.add(SeriesDefect(first["_reason"], first["_detail"]), first["_row"], *key)
        return ReadResult(quarantine=defects.frame())

    ordered = samples.sort(["timestamp", "_row"])
    unique = ordered.unique("timestamp", keep="last", maintain_order=True)
    long = unique.with_columns(
        *(pl.lit(v, dtype=pl.String).alias(k) for k, v in zip(KEY_COLUMNS, key, strict=True))
    ).select(list(LONG_SCHEMA))
    return ReadResult(
        samples=long,
        series=series_frame([key], None, str(path)),
        quarantine=defects.frame(),
        repaired_duplicates=ordered.height - unique.height,
    )
