"""Atomic file writes and table output chosen by file extension."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import polars as pl

from floodmark.errors import FloodmarkError, OutputError, SchemaError

TABLE_SUFFIXES = (".parquet", ".csv", ".json")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success.

    A run killed half-way leaves the old file (or none), never a torn one. The
    temporary file is created with mode 0o666 minus the umask, as a plain ``open()``
    would, without touching the process umask (other threads may be creating files).
    Failing to create, write or move it (read-only folder, full disk) is an
    ``OutputError`` naming ``path``, not the temporary file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _create_temp(path)
    except OSError as exc:
        raise OutputError(f"cannot write: {_reason(exc)}", file=path) from None
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS and exc.filename not in (str(tmp_path), str(path)):
            raise
        raise OutputError(f"cannot write: {_reason(exc)}", file=path) from exc
    finally:
        tmp_path.unlink(missing_ok=True)


#: Errors that, raised while a temporary file is being written, are about the output.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def _create_temp(path: Path) -> Path:
    """Create an empty ``.<name>.<random>.tmp`` beside ``path``; the kernel applies the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileExistsError) and exc.filename is not None:
        return f"{exc.filename} is not a folder"  # from mkdir: a file is in the way
    return exc.strerror or str(exc)


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
        try:
            if suffix == ".parquet":
                df.write_parquet(tmp)
            elif suffix == ".csv":
                df.write_csv(tmp)
            else:
                tmp.write_bytes(orjson.dumps(df.to_dicts(), option=orjson.OPT_INDENT_2))
        except pl.exceptions.PolarsError as exc:  # Polars reports I/O failures as its own
            raise OutputError(f"cannot write the table ({exc})", file=path) from None
    return path


def write_json(obj: object, path: str | Path) -> Path:
    """Write a JSON document atomically (datetimes and numpy values allowed)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return path


def read_table(path: str | Path, *, columns: Sequence[str] = ()) -> pl.DataFrame:
    """Read a table written by ``write_table``.

    columns: columns the caller needs; a table without them is a ``SchemaError``
        naming the file and what it lacks.
    """
    path = Path(path)
    if not path.is_file():
        raise FloodmarkError("file not found", file=path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise FloodmarkError(f"unsupported table extension {suffix!r}", file=path)
    try:
        if suffix == ".parquet":
            table = pl.read_parquet(path)
        elif suffix == ".csv":
            table = pl.read_csv(path)
        else:
            table = pl.DataFrame(orjson.loads(path.read_bytes()))
    except (pl.exceptions.PolarsError, OSError, TypeError, ValueError) as exc:
        raise FloodmarkError(f"cannot read table ({exc})", file=path) from None
    missing = [name for name in columns if name not in table.columns]
    if missing:
        raise SchemaError(
            f"table lacks column(s) {', '.join(missing)} (has {', '.join(table.columns)})",
            file=path,
        )
    return table
