"""Whole series one after another over three plain columns: what readers hand to a store.

A vendor row is one whole series, sorted, its duplicates repaired. Handing it over
as a block (its key once, then its timestamps, passed and blocked values) rather
than as rows of a long table with a key per sample saves the per-sample work
between decoding and writing. Blocks live in memory or in a raw column file
(``BlockFile``: 24 bytes a sample, no encoding), which a decoding process writes
and the store's writer reads back from the page cache: the samples never go
through a pipe.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.errors import SchemaError
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA, METRICS, VECTORS, empty_long, series_name

#: The value columns of a block, in file order.
COLUMNS: tuple[str, ...] = ("timestamp", "passed", "blocked")
DTYPES = (np.int64, np.float64, np.float64)
#: Bytes of one sample: three 8-byte columns.
ROW_BYTES = 8 * len(COLUMNS)

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class SeriesBlocks:
    """Series one after another: ``keys[i]`` has ``counts[i]`` samples.

    Timestamps are epoch microseconds. ``in_order[i]``: series ``i``'s timestamps
    strictly increase. The columns are ``arrays`` in memory, or else the raw file
    ``file`` holds them at byte ``offset``: every timestamp, then every passed,
    then every blocked value.
    """

    keys: list[tuple[str, str, str]]
    counts: np.ndarray
    in_order: np.ndarray
    arrays: Arrays | None = None
    file: str | None = None
    offset: int = 0

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    @property
    def starts(self) -> np.ndarray:
        """Where each series' rows start."""
        return np.cumsum(self.counts) - self.counts

    def copy_rows(self, start: int, out: Arrays, files: OpenFiles) -> None:
        """Copy rows ``[start, start + len(out[0]))`` into ``out``."""
        n = out[0].size
        if self.arrays is not None:
            for column, source in zip(out, self.arrays, strict=True):
                column[:] = source[start : start + n]
            return
        fd = files.fd(self.file)
        for number, column in enumerate(out):
            at = self.offset + 8 * (number * self.rows + start)
            pread_exact(fd, column, at)

    def view_rows(self, start: int, n: int, maps: MappedFiles) -> Arrays:
        """Rows ``[start, start + n)`` as views: of the arrays in memory, or of the
        block file mapped by ``maps`` (no copy, no fresh pages)."""
        if self.arrays is not None:
            return tuple(column[start : start + n] for column in self.arrays)  # type: ignore[return-value]
        return tuple(  # type: ignore[return-value]
            maps.view(self.file, self.offset + 8 * (number * self.rows + start), n, dtype)
            for number, dtype in enumerate(DTYPES)
        )

    def read_rows(self, start: int, n: int, files: OpenFiles) -> Arrays:
        """Rows ``[start, start + n)``: views of the arrays in memory, else read from the file."""
        if self.arrays is not None:
            return tuple(column[start : start + n] for column in self.arrays)  # type: ignore[return-value]
        out = tuple(np.empty(n, dtype=d) for d in DTYPES)
        self.copy_rows(start, out, files)  # type: ignore[arg-type]
        return out  # type: ignore[return-value]

    def read(self, files: OpenFiles) -> Arrays:
        """All the columns as arrays."""
        return self.read_rows(0, self.rows, files)

    def written_to(self, file: BlockFile) -> SeriesBlocks:
        """The same blocks, their columns appended to ``file`` (held in memory no more)."""
        return replace(self, arrays=None, file=str(file.path), offset=file.append(self.arrays))

    def frame(self) -> pl.DataFrame:
        """The long table (``LONG_SCHEMA``) of these series: their keys repeated per sample."""
        if not self.keys:
            return empty_long()
        files = OpenFiles()
        try:
            ts, passed, blocked = self.read(files)
        finally:
            files.close()
        keys = pl.DataFrame(self.keys, schema=list(KEY_COLUMNS), orient="row")
        frame = keys[np.repeat(np.arange(len(self.keys)), self.counts)]
        return frame.with_columns(
            timestamp_series(ts),
            pl.Series("passed", passed, dtype=pl.Float64),
            pl.Series("blocked", blocked, dtype=pl.Float64),
        ).select(list(LONG_SCHEMA))


def timestamp_series(micros: np.ndarray) -> pl.Series:
    """Epoch microseconds as the store's timestamp column."""
    return pl.Series("timestamp", micros, dtype=pl.Int64).cast(LONG_SCHEMA["timestamp"])


def checked_blocks(
    keys: list[tuple[str, str, str]], counts: np.ndarray, arrays: Arrays
) -> SeriesBlocks:
    """Blocks over ``arrays`` after the store's checks: known vector and metric, values
    finite and non-negative (a SchemaError names the first bad series); ``in_order``
    is computed. Readers quarantine such series, so a failure is a bug upstream."""
    ts, passed, blocked = (
        np.ascontiguousarray(a, dtype=d) for a, d in zip(arrays, DTYPES, strict=True)
    )
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    for pid, vector, metric in keys:
        if not pid or vector not in VECTORS or metric not in METRICS:
            raise SchemaError(
                "samples refused: an empty key, unknown vector or unknown metric",
                series=series_name(str(pid), str(vector), str(metric)),
            )
    for values in (passed, blocked):
        good = (values >= 0) & (values < np.inf)  # False for NaN too
        if not good.all():
            bad = np.searchsorted(starts, np.argmin(good), side="right") - 1
            raise SchemaError(
                "samples refused: a value is null, NaN, infinite or negative",
                series=series_name(*keys[bad]),
            )
    return SeriesBlocks(keys, counts, in_order_of(ts, starts, counts), (ts, passed, blocked))


def in_order_of(ts: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per series: whether its timestamps strictly increase (one pass over the column)."""
    steps_up = np.diff(ts) > 0
    nonempty = starts[(counts > 0)]
    steps_up[nonempty[nonempty > 0] - 1] = True  # a step into the next series
    broken = np.flatnonzero(~steps_up) + 1
    in_order = np.ones(len(counts), dtype=bool)
    in_order[np.searchsorted(starts, broken, side="right") - 1] = False
    return in_order


class BlockFile:
    """An append-only raw column file: each ``append`` writes one block set's columns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size

    def append(self, arrays: Arrays) -> int:
        """Write the columns one after another; return the byte offset they start at."""
        at = self._size
        for array in arrays:
            view = memoryview(np.ascontiguousarray(array)).cast("B")
            while view.nbytes:
                view = view[os.write(self._fd, view) :]
            self._size += array.nbytes
        return at

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class OpenFiles:
    """Read descriptors of block files, opened once; ``pread`` makes them thread-safe."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def fd(self, path: str) -> int:
        with self._lock:
            if path not in self._fds:
                self._fds[path] = os.open(path, os.O_RDONLY)
            return self._fds[path]

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


#: Mappings one ``MappedFiles`` holds at most, well under the kernel's limit per process
#: (``vm.max_map_count``, 65,530 by default): a file of many short series would pass it.
MAX_MAPS = 8_192


class MappedFiles:
    """Ranges of block files mapped read-only for zero-copy views, unmapped together by
    ``close``.

    Each view maps its own range, nothing around it: the pages of a mapping count in
    the process's memory, and a fault maps the whole cached folio (up to megabytes of
    other series' samples) when the mapping spans it. A writer maps what one output
    file needs and closes the lot once the file is written. Past ``max_maps`` mappings,
    views are read into fresh arrays instead (same values).
    """

    def __init__(self, max_maps: int = MAX_MAPS) -> None:
        self._fds: dict[str, int] = {}
        self._maps: list[mmap.mmap] = []
        self.max_maps = max_maps

    def view(self, path: str, offset: int, n: int, dtype: type) -> np.ndarray:
        """``n`` values of ``dtype`` at byte ``offset`` of ``path``."""
        if n == 0:
            return np.empty(0, dtype=dtype)
        if path not in self._fds:
            self._fds[path] = os.open(path, os.O_RDONLY)
        if len(self._maps) >= self.max_maps:
            copy = np.empty(n, dtype=dtype)
            pread_exact(self._fds[path], copy, offset)
            return copy
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        length = offset - start + n * np.dtype(dtype).itemsize
        mapped = mmap.mmap(self._fds[path], length, access=mmap.ACCESS_READ, offset=start)
        self._maps.append(mapped)
        return np.frombuffer(mapped, dtype, n, offset - start)

    def close(self) -> None:
        for mapped in self._maps:
            with contextlib.suppress(BufferError):  # a view still alive: unmapped when it goes
                mapped.close()
        self._maps.clear()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> MappedFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pread_exact(fd: int, out: np.ndarray, offset: int) -> None:
    """Fill ``out`` from ``fd`` at byte ``offset``."""
    view = memoryview(out).cast("B")
    while view.nbytes:
        got = os.preadv(fd, [view], offset)
        if got <= 0:
            raise OSError(f"block file ended early at byte {offset}")
        view, offset = view[got:], offset + got
