"""Atomic file writes and table output chosen by file extension."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import polars as pl

from floodmark.errors import FloodmarkError

TABLE_SUFFIXES = (".parquet", ".csv", ".json")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success.

    A run killed half-way leaves the old file (or none), never a torn one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_table(df: pl.DataFrame, path: str | Path) -> Path:
    """Write ``df`` atomically as Parquet, CSV or JSON (records), by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise FloodmarkError(
            f"unsupported output extension {suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}",
            file=path,
        )
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            df.write_parquet(tmp)
        elif suffix == ".csv":
            df.write_csv(tmp)
        else:
            tmp.write_bytes(orjson.dumps(df.to_dicts(), option=orjson.OPT_INDENT_2))
    return path


def write_json(obj: object, path: str | Path) -> Path:
    """Write a JSON document atomically (datetimes and numpy values allowed)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return path


def read_table(path: str | Path) -> pl.DataFrame:
    """Read a table written by ``write_table``."""
    path = Path(path)
    if not path.is_file():
        raise FloodmarkError("file not found", file=path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix == ".csv":
            return pl.read_csv(path)
        if suffix == ".json":
            return pl.DataFrame(orjson.loads(path.read_bytes()))
    except (pl.exceptions.PolarsError, orjson.JSONDecodeError, OSError) as exc:
        raise FloodmarkError(f"cannot read table ({exc})", file=path) from None
    raise FloodmarkError(f"unsupported table extension {suffix!r}", file=path)
