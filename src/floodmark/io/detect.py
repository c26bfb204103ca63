"""Which reader fits an input file, and one entry point that reads any of them."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from floodmark.errors import FloodmarkError, InputFormatError
from floodmark.io.catalog import PATH_COLUMNS, iter_vendor_catalog
from floodmark.io.codec import MAX_SERIES_BYTES
from floodmark.io.long_table import iter_long_table
from floodmark.io.options import FORMATS, LONG_COLUMNS, is_parquet, parquet_format
from floodmark.io.read_result import ReadResult
from floodmark.io.series_csv import find_time_column, iter_series_csv
from floodmark.io.vendor import iter_vendor_export

_HEADER_BYTES = 1 << 16


def _csv_header(path: Path) -> tuple[list[str], list[str]]:
    """The header and first data row of a CSV file (empty lists when absent)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = csv.reader(fh.read(_HEADER_BYTES).splitlines())
            header = next(rows, [])
            first = next(rows, [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputFormatError(f"not a text CSV ({exc})", file=path) from None
    return [h.strip() for h in header], first


def _looks_like_time(cell: str) -> bool:
    text = cell.strip()
    if not text:
        return False
    try:
        float(text)
        return True
    except ValueError:
        pass
    parsed = pl.Series([text]).str.to_datetime(time_zone="UTC", strict=False)
    return parsed.null_count() == 0


def detect_format(path: str | Path) -> str:
    """The format of ``path``: one of ``FORMATS``.

    Parquet with a ``time_series`` column -> vendor; Parquet or CSV with the
    long columns -> long; CSV with a ``file`` or ``ts_name`` column ->
    vendor-catalog; another CSV whose first column is named or looks like a
    time -> series-csv. Anything else raises InputFormatError.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFormatError("file not found", file=path)
    if is_parquet(path):
        return parquet_format(path)
    tried = f"tried {', '.join(FORMATS)}"
    header, first = _csv_header(path)
    if all(c in header for c in LONG_COLUMNS):
        return "long"
    if any(c in header for c in PATH_COLUMNS):
        return "vendor-catalog"
    if header and (find_time_column(header[:1]) or (first and _looks_like_time(first[0]))):
        return "series-csv"
    raise InputFormatError(
        f"cannot tell the format ({tried}): not Parquet, and the CSV header "
        f"{', '.join(header) or '(none)'} has neither the long columns, a file/ts_name "
        "column, nor a time first column",
        file=path,
    )


def open_input(
    path: str | Path,
    *,
    format: str | None = None,
    errors: str = "quarantine",
    root: str | Path | None = None,
    batch_rows: int = 256,
    workers: int = 1,
    max_series_bytes: int = MAX_SERIES_BYTES,
    prediction_id: str | None = None,
    vector: str | None = None,
    metric: str | None = None,
    time_column: str | None = None,
    value_column: str | None = None,
    times_file: str | Path | None = None,
    spill_dir: str | Path | None = None,
) -> Iterator[ReadResult]:
    """Read any supported input as a stream of ``ReadResult``s.

    format: one of ``FORMATS``; detected from the file when omitted.
    root: the data root of a vendor catalog (ignored by other formats).
    workers: decoding processes for a vendor export (ignored by other formats).
    max_series_bytes: the most one vendor series may inflate to (vendor formats only).
    spill_dir: where a vendor export's decoding processes may write what they decode
        (see ``iter_vendor_export``; ignored by other formats).
    prediction_id, vector, metric, time_column, value_column, times_file:
        single-series CSV options; giving one for another format is an error.
    """
    path = Path(path)
    fmt = detect_format(path) if format is None else format
    if fmt not in FORMATS:
        raise FloodmarkError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    series_options = {
        "prediction_id": prediction_id,
        "vector": vector,
        "metric": metric,
        "time_column": time_column,
        "value_column": value_column,
        "times_file": times_file,
    }
    given = [name for name, value in series_options.items() if value is not None]
    if fmt != "series-csv" and given:
        raise FloodmarkError(
            f"{', '.join(given)} only apply to series-csv input, and this is {fmt}", file=path
        )
    if fmt == "vendor":
        return iter_vendor_export(
            path,
            errors=errors,
            batch_rows=batch_rows,
            workers=workers,
            max_series_bytes=max_series_bytes,
            spill_dir=spill_dir,
        )
    if fmt == "vendor-catalog":
        return iter_vendor_catalog(
            path,
            root=root,
            errors=errors,
            batch_rows=batch_rows,
            max_series_bytes=max_series_bytes,
        )
    if fmt == "long":
        return iter_long_table(path, errors=errors, batch_rows=batch_rows)
    options = {k: v for k, v in series_options.items() if v is not None}
    return iter_series_csv(path, errors=errors, **options)
