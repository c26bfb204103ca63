"""The vendor export, catalog layout: one Parquet file per series, named by a CSV.

The catalog has the notebook's ``FileCatalog`` columns: ``prediction_id, vector,
metric``, a ``file`` (a path) or ``ts_name`` (a name, ``.parquet`` appended when
missing) column, and labels. Keys and labels come from the catalog row; each
series file holds a single ``time_series`` cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from floodmark.errors import FloodmarkError, InputFormatError, SchemaError, SeriesDefect
from floodmark.io._common import (
    Defects,
    check_errors,
    concat_results,
    key_defect,
    series_frame,
    trimmed,
)
from floodmark.io.codec import MAX_SERIES_BYTES, decode_time_series
from floodmark.io.read_result import ReadResult
from floodmark.io.vendor import DecodedBatch
from floodmark.schema import KEY_COLUMNS, LABEL_SCHEMA

PATH_COLUMNS: tuple[str, ...] = ("file", "ts_name")


def read_catalog_csv(path: str | Path) -> pl.DataFrame:
    """The catalog as text columns (keys stay text even when they look numeric)."""
    path = Path(path)
    if not path.is_file():
        raise InputFormatError("file not found", file=path)
    try:
        catalog = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"not a readable CSV catalog ({exc})", file=path) from None
    missing = [c for c in KEY_COLUMNS if c not in catalog.columns]
    if not any(c in catalog.columns for c in PATH_COLUMNS):
        missing.append(" or ".join(PATH_COLUMNS))
    if missing:
        raise SchemaError(
            f"catalog lacks column(s) {', '.join(missing)} (has {', '.join(catalog.columns)})",
            file=path,
        )
    return catalog


def resolve_series_path(name: str, *, base: Path, root: Path, ts_name: bool) -> Path:
    """The file a catalog row names, resolved (symlinks too) and kept inside ``root``.

    Raises SeriesDefect ``outside_root``, ``missing_file`` or ``unreadable_file``.
    """
    if ts_name and not name.endswith(".parquet"):
        name += ".parquet"  # the notebook's FileCatalog appends it
    candidate = Path(name)
    if not candidate.is_absolute():
        candidate = base / candidate
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL byte
        raise SeriesDefect("unreadable_file", f"{name} cannot be resolved ({exc})") from None
    # Checked before existence, so a catalog cannot probe files outside the root.
    if not resolved.is_relative_to(root):
        raise SeriesDefect("outside_root", f"{name} resolves to {resolved}, outside {root}")
    if not resolved.is_file():
        raise SeriesDefect("missing_file", f"{name} does not exist (looked for {resolved})")
    return resolved


def read_series_blob(path: Path) -> object:
    """The single ``time_series`` cell of a per-series file."""
    try:
        table = pq.read_table(path, columns=["time_series"])
    except (pa.ArrowException, OSError) as exc:
        raise SeriesDefect("unreadable_file", f"{path}: cannot read ({exc})") from None
    if table.num_rows != 1:
        raise SeriesDefect(
            "unreadable_file", f"{path}: expected one time_series row, found {table.num_rows}"
        )
    kind = table.schema.field("time_series").type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)):
        raise SeriesDefect("wrong_shape", f"{path}: time_series is {kind}, not base64 text")
    return table.column("time_series")[0].as_py()


def iter_vendor_catalog(
    path: str | Path,
    *,
    root: str | Path | None = None,
    errors: str = "quarantine",
    batch_rows: int = 256,
    max_series_bytes: int = MAX_SERIES_BYTES,
) -> Iterator[ReadResult]:
    """Stream the series a catalog CSV names, one ``ReadResult`` per ``batch_rows`` rows.

    root: the data root every series file must lie in (default: the catalog's
        folder). Relative paths resolve against the catalog's folder.
    errors: ``"quarantine"`` or ``"raise"``; quarantine rows name the catalog
        and its 0-based row, the detail names the series file.
    max_series_bytes: the most one series' JSON may inflate to (``too_large`` beyond).
    """
    check_errors(errors)
    if batch_rows < 1 or max_series_bytes < 1:
        raise FloodmarkError("batch_rows and max_series_bytes must be at least 1")
    path = Path(path)
    catalog = read_catalog_csv(path)
    base = path.resolve().parent
    root_dir = base if root is None else Path(root).resolve()
    return _iter_chunks(
        catalog,
        batch_rows,
        base=base,
        root=root_dir,
        source=str(path),
        errors=errors,
        max_bytes=max_series_bytes,
    )


def _iter_chunks(catalog: pl.DataFrame, batch_rows: int, **where) -> Iterator[ReadResult]:
    for start in range(0, catalog.height, batch_rows):
        yield _read_chunk(catalog.slice(start, batch_rows), start, **where)


def _read_chunk(
    chunk: pl.DataFrame,
    first_row: int,
    *,
    base: Path,
    root: Path,
    source: str,
    errors: str,
    max_bytes: int,
) -> ReadResult:
    defects = Defects(source, errors)
    keys, positions, files, decoded = [], [], [], []
    for pos, row in enumerate(chunk.iter_rows(named=True)):
        key = tuple(trimmed(row[k]) for k in KEY_COLUMNS)
        file = None
        try:
            defect = key_defect(*key)
            if defect is not None:
                raise defect
            name, is_ts_name = _path_cell(row)
            file = resolve_series_path(name, base=base, root=root, ts_name=is_ts_name)
            series = decode_time_series(read_series_blob(file), max_bytes=max_bytes)
        except SeriesDefect as exc:
            if file is not None and not exc.message.startswith(str(file)):
                exc = SeriesDefect(exc.reason, f"{file}: {exc.message}")  # name the series file
            defects.add(exc, first_row + pos, *key)
            continue
        keys.append(key)
        positions.append(pos)
        files.append(str(file))
        decoded.append(series)
    batch = DecodedBatch.of(keys, positions, decoded, [], chunk.height)
    label_names = [c for c in LABEL_SCHEMA if c in chunk.columns]
    labels = chunk.select(label_names)[positions] if label_names else None
    series = series_frame(keys, labels, source).with_columns(
        pl.Series("source", files, dtype=pl.String)
    )
    return ReadResult(
        series=series,
        quarantine=defects.frame(),
        repaired_duplicates=batch.repaired_duplicates,
        blocks=(batch.blocks,) if batch.keys else (),
    )


def _path_cell(row: dict) -> tuple[str, bool]:
    """The file named by a catalog row: ``file`` when set, else ``ts_name``."""
    for column in PATH_COLUMNS:
        value = trimmed(row.get(column))
        if value:
            return value, column == "ts_name"
    raise SeriesDefect("missing_file", "catalog row names no file (file and ts_name are empty)")


def read_vendor_catalog(
    path: str | Path,
    *,
    root: str | Path | None = None,
    errors: str = "quarantine",
    batch_rows: int = 256,
    max_series_bytes: int = MAX_SERIES_BYTES,
) -> ReadResult:
    """Read every series a catalog CSV names, eagerly."""
    return concat_results(
        iter_vendor_catalog(
            path,
            root=root,
            errors=errors,
            batch_rows=batch_rows,
            max_series_bytes=max_series_bytes,
        )
    )
