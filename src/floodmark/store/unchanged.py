"""Inputs that made the store's current version are not read again.

Their fingerprint (the bytes and every option that changes what is read) is recorded
with each version. This module computes it and answers "unchanged?" with the
standard library, orjson and the store's layout only, so that ``floodmark ingest`` of
an unchanged export returns before it imports the readers and the writer (Polars,
PyArrow, Numba).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import orjson

from floodmark.errors import FloodmarkError
from floodmark.io.options import MAX_SERIES_BYTES, is_parquet
from floodmark.store import layout
from floodmark.store.summary import IngestSummary, unchanged_summary


def unchanged_ingest(
    store_dir: str | Path,
    paths: list[Path],
    *,
    format: str | None = None,
    errors: str = "quarantine",
    max_series_bytes: int = MAX_SERIES_BYTES,
    **options,
) -> IngestSummary | None:
    """What ``ingest_files`` would report for inputs that made the current version.

    None when they did not (or cannot be told apart): then ``ingest_files`` reads them.
    Like an ingest, it holds the store's lock and leaves the store tidy.
    """
    root = Path(store_dir)
    if layout.classify(root) != "store" or _recorded(root) is None:
        return None  # no fingerprint to match: hashing the inputs would be wasted
    fingerprint = inputs_fingerprint(
        paths, format=format, errors=errors, max_series_bytes=max_series_bytes, **options
    )
    if fingerprint is None:
        return None
    with layout.exclusive_lock(root):
        old = layout.current_version(root) if layout.classify(root) == "store" else None
        if old is None:
            return None
        recorded = layout.read_marker(old / layout.MARKER).get("last_ingest") or {}
        if recorded.get("fingerprint") != fingerprint:
            return None
        layout.remove_stale(root, keep=old)
        layout.ensure_public_links(root)
        return unchanged_summary(recorded.get("summary") or {})


def _recorded(root: Path) -> str | None:
    """The fingerprint of the current version's last ingest, read without the lock."""
    old = layout.current_version(root)
    if old is None:
        return None
    try:
        recorded = layout.read_marker(old / layout.MARKER).get("last_ingest") or {}
    except (FloodmarkError, OSError):  # the ingest that follows names the problem
        return None
    return recorded.get("fingerprint")


def inputs_fingerprint(
    paths: list[Path], *, format: str | None, errors: str, max_series_bytes: int, **options
) -> str | None:
    """A digest of the input files' bytes and of every option that changes what is read.

    None where it cannot stand for the input: a vendor catalog names other files,
    and an input that cannot be read or detected is left for the reader to report.
    """
    digest = hashlib.sha256()
    readable = {k: str(v) for k, v in sorted(options.items()) if v is not None}
    digest.update(orjson.dumps([errors, max_series_bytes, readable]))
    extra = [Path(options["times_file"])] if options.get("times_file") is not None else []
    try:
        for path in paths:
            kind = _input_kind(path, format)
            if kind == "vendor-catalog":
                return None
            digest.update(kind.encode())
            digest.update(_file_digest(path))
        for path in extra:
            digest.update(_file_digest(path))
    except (FloodmarkError, OSError):
        return None
    return digest.hexdigest()


def _file_digest(path: Path) -> bytes:
    stat = path.stat()
    return _digest_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)


@functools.lru_cache(maxsize=64)
def _digest_of(path: str, size: int, mtime_ns: int, inode: int) -> bytes:
    """A file's SHA-256, once per process while it is unchanged: the command asks
    ``unchanged_ingest`` first and ``ingest_files`` then records the same fingerprint
    (a second pass over a 1.4 GB export would cost a second)."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").digest()  # 1.3 GB/s here (SHA-NI)


def _input_kind(path: Path, format: str | None) -> str:
    """How an input is read, for its fingerprint: ``format`` as given, else detected.

    A Parquet input left to detection is ``"parquet"``: the digest holds its bytes, which
    decide between a vendor export and a long table, and reading its schema here would
    import PyArrow (a quarter of an unchanged ingest's time).
    """
    if format is not None:
        return format
    if path.is_file() and is_parquet(path):
        return "parquet"
    from floodmark.io.detect import detect_format

    return detect_format(path)
