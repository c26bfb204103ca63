"""The vendor export, batch layout: Parquet, one row per series, ``time_series`` blobs.

Read in record batches so a multi-GB export never sits in memory whole; each
batch becomes one ``ReadResult`` (long table + per-series labels + quarantine).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from floodmark.errors import FloodmarkError, InputFormatError, SchemaError, SeriesDefect
from floodmark.io._common import (
    Defects,
    check_errors,
    concat_results,
    key_defect,
    series_frame,
)
from floodmark.io.atomic import atomic_path
from floodmark.io.codec import (
    MAX_SERIES_BYTES,
    DecodedSeries,
    decode_gzipped,
    decode_time_series,
    encode_time_series,
)
from floodmark.io.read_result import ReadResult
from floodmark.io.series_blocks import BlockFile, SeriesBlocks, checked_blocks
from floodmark.schema import (
    KEY_COLUMNS,
    LABEL_SCHEMA,
    LONG_SCHEMA,
    VENDOR_COLUMNS,
    series_name,
)

REQUIRED_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, "time_series")

# Batches handed to the pool ahead of the one being assembled: enough to keep
# the workers busy, few enough to keep memory bounded.
_BATCHES_AHEAD = 2


@dataclass
class DecodedBatch:
    """Decoded rows of one batch (or of a slice of it): checked series blocks, small
    metadata, and the defects. Cheap to send between processes once ``blocks`` are
    written to a block file (see ``spilled``)."""

    keys: list[tuple[str, str, str]]
    positions: list[int]  # row positions (within the batch) of the series read
    blocks: SeriesBlocks  # the series read, in row order
    # (row, pid, vector, metric, reason, message): plain values, since exceptions
    # with extra constructor arguments do not survive pickling.
    defects: list[tuple]
    repaired_duplicates: int
    rows: int  # rows of the batch, read or not

    @classmethod
    def of(
        cls,
        keys: list,
        positions: list[int],
        decoded: list[DecodedSeries],
        defects: list[tuple],
        rows: int,
    ) -> DecodedBatch:
        """Concatenate the decoded series of one batch (timestamps to microseconds)."""

        def joined(name: str, dtype: type) -> np.ndarray:
            parts = [getattr(d, name) for d in decoded]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        counts = np.array([d.timestamps.size for d in decoded], dtype=np.int64)
        micros = joined("timestamps", np.int64) * 1_000_000
        arrays = (micros, joined("passed", np.float64), joined("blocked", np.float64))
        return cls(
            keys=keys,
            positions=positions,
            blocks=checked_blocks(keys, counts, arrays),
            defects=defects,
            repaired_duplicates=sum(d.repaired_duplicates for d in decoded),
            rows=rows,
        )

    def spilled(self, file: BlockFile) -> DecodedBatch:
        """This batch with its samples appended to ``file``: only metadata is left to send."""
        if self.blocks.rows == 0:
            return self
        return replace(self, blocks=self.blocks.written_to(file))


def _merged(parts: list[DecodedBatch]) -> tuple[list, list[int], list[tuple], int]:
    """Keys, row positions, defects and repairs of consecutive slices of one batch."""
    keys, positions, defects, offset = [], [], [], 0
    for part in parts:
        keys += part.keys
        positions += [offset + pos for pos in part.positions]
        defects += part.defects
        offset += part.rows
    return keys, positions, defects, sum(p.repaired_duplicates for p in parts)


def decode_rows(
    pids: list,
    vectors: list,
    metrics: list,
    gzipped: list,
    cells: dict,
    first_row: int,
    max_bytes: int = MAX_SERIES_BYTES,
) -> DecodedBatch:
    """Decode one batch of vendor rows; defects are collected, never raised.

    ``gzipped`` holds each row's base64-decoded cell, or None where the cell is
    in ``cells`` (row position -> the cell as read) for ``decode_time_series``.
    ``max_bytes`` bounds what one cell may inflate to.
    """
    keys, positions, decoded, defects = [], [], [], []
    for pos, (pid, vec, met, raw) in enumerate(zip(pids, vectors, metrics, gzipped, strict=True)):
        defect = key_defect(pid, vec, met)
        if defect is None:
            try:
                if raw is None:
                    decoded.append(decode_time_series(cells[pos], max_bytes=max_bytes))
                else:
                    decoded.append(decode_gzipped(raw, max_bytes=max_bytes))
            except SeriesDefect as exc:
                defect = exc
        if defect is None:
            keys.append((pid, vec, met))
            positions.append(pos)
        else:
            defects.append((first_row + pos, pid, vec, met, defect.reason, defect.message))

    return DecodedBatch.of(keys, positions, decoded, defects, len(gzipped))


def _open(path: Path) -> pq.ParquetFile:
    if not path.is_file():
        raise InputFormatError("file not found", file=path)
    try:
        # Without pre_buffer: with it, Arrow buffers every row group of the columns read
        # up front and keeps them until the file is closed (the whole export in memory).
        parquet = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise InputFormatError(f"not a Parquet file ({exc})", file=path) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in parquet.schema_arrow.names]
    if missing:
        raise SchemaError(
            f"vendor export lacks column(s) {', '.join(missing)} "
            f"(has {', '.join(parquet.schema_arrow.names)})",
            file=path,
        )
    blobs = parquet.schema_arrow.field("time_series").type
    if not any(is_text(blobs) for is_text in _BLOB_TYPES):
        raise SchemaError(
            f"vendor export column time_series is {blobs}, not base64 text", file=path
        )
    return parquet


# Arrow types a time_series column may have (null: a column with no cell set).
_BLOB_TYPES = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_binary,
    pa.types.is_large_binary,
    pa.types.is_null,
)


def _text(column: pa.Array) -> list:
    """A key column as trimmed Python strings (an integer prediction_id becomes its text)."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.string())
    return pc.utf8_trim_whitespace(column).to_pylist()  # keys are trimmed in every format


def _base64_cells(column: pa.Array) -> tuple[list, dict]:
    """``time_series`` cells base64-decoded in one vectorised (Rust) call.

    Returns the decoded bytes per row and, for the rows the strict vectorised
    decoder refuses (None there), the cells as read: the per-cell decoder then
    accepts them (base64 in lines, say) or names the defect, exactly as before.
    """
    series = pl.from_arrow(column)
    if series.dtype == pl.String:
        decoded = series.str.decode("base64", strict=False).to_list()
    elif series.dtype == pl.Binary:
        decoded = series.bin.decode("base64", strict=False).to_list()
    else:
        decoded = [None] * len(series)
    # b"" only comes from an empty cell, which the per-cell decoder names.
    refused = [pos for pos, raw in enumerate(decoded) if not raw]
    for pos in refused:
        decoded[pos] = None
    cells = _blobs(column.take(pa.array(refused, pa.int64()))) if refused else []
    return decoded, dict(zip(refused, cells, strict=True))


def _blobs(column: pa.Array) -> list:
    """``time_series`` cells as bytes: base64 decodes bytes without a text round trip."""
    if pa.types.is_string(column.type):
        column = column.cast(pa.binary())
    elif pa.types.is_large_string(column.type):
        column = column.cast(pa.large_binary())
    return column.to_pylist()


def _assemble(
    batch: pa.RecordBatch, parts: list[DecodedBatch], source: str, errors: str
) -> ReadResult:
    keys, positions, defect_rows, repaired = _merged(parts)
    defects = Defects(source, errors)
    for row, pid, vec, met, reason, message in defect_rows:
        defects.add(SeriesDefect(reason, message), row, pid, vec, met)
    label_names = [c for c in LABEL_SCHEMA if c in batch.schema.names]
    labels = None
    if label_names:
        labels = pl.from_arrow(batch.select(label_names))[positions]
    return ReadResult(
        series=series_frame(keys, labels, source),
        quarantine=defects.frame(),
        repaired_duplicates=repaired,
        blocks=tuple(p.blocks for p in parts if p.keys),
    )


def _batches(parquet: pq.ParquetFile, batch_rows: int) -> Iterator[tuple[pa.RecordBatch, int]]:
    columns = list(REQUIRED_COLUMNS) + [c for c in LABEL_SCHEMA if c in parquet.schema_arrow.names]
    first_row = 0
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
        yield batch, first_row
        first_row += batch.num_rows


def _decode_args(batch: pa.RecordBatch, first_row: int, max_bytes: int) -> tuple:
    keys = [_text(batch.column(name)) for name in KEY_COLUMNS]
    return (*keys, *_base64_cells(batch.column("time_series")), first_row, max_bytes)


def iter_vendor_export(
    path: str | Path,
    *,
    errors: str = "quarantine",
    batch_rows: int = 256,
    workers: int = 1,
    max_series_bytes: int = MAX_SERIES_BYTES,
    spill_dir: str | Path | None = None,
) -> Iterator[ReadResult]:
    """Stream a vendor export as one ``ReadResult`` per batch of ``batch_rows`` series.

    errors: ``"quarantine"`` (broken series go to ``ReadResult.quarantine``, the
        rest is read) or ``"raise"`` (the first broken series raises SeriesDefect
        naming file, 0-based row and series).
    workers: decode batches in that many processes (order preserved); 1 decodes
        in this process.
    max_series_bytes: the most one series' JSON may inflate to; a larger one is
        quarantined as ``too_large`` (default ``codec.MAX_SERIES_BYTES``).
    spill_dir: with workers, a folder where they write the samples they decode
        (raw block files, see ``series_blocks``) instead of sending them back
        through pipes; the batches refer to those files, so the folder must live
        as long as they are used (a store's ingest gives one and removes it).

    >>> n = sum(part.samples.height for part in iter_vendor_export("export.parquet"))
    ... # doctest: +SKIP
    """
    check_errors(errors)
    if batch_rows < 1 or workers < 1 or max_series_bytes < 1:
        raise FloodmarkError("batch_rows, workers and max_series_bytes must be at least 1")
    path = Path(path)
    spill = None if spill_dir is None else Path(spill_dir)
    return _iter_parts(path, _open(path), batch_rows, workers, errors, max_series_bytes, spill)


def _iter_parts(
    path: Path,
    parquet: pq.ParquetFile,
    batch_rows: int,
    workers: int,
    errors: str,
    max_bytes: int,
    spill_dir: Path | None,
) -> Iterator[ReadResult]:
    source = str(path)
    try:
        if workers == 1:
            for batch, first_row in _batches(parquet, batch_rows):
                decoded = decode_rows(*_decode_args(batch, first_row, max_bytes))
                yield _assemble(batch, [decoded], source, errors)
        else:
            yield from _iter_pool(
                parquet, batch_rows, workers, source, errors, max_bytes, spill_dir
            )
    except (pa.ArrowException, OSError) as exc:
        raise InputFormatError(f"cannot read Parquet data ({exc})", file=path) from None


def _iter_pool(
    parquet: pq.ParquetFile,
    batch_rows: int,
    workers: int,
    source: str,
    errors: str,
    max_bytes: int,
    spill_dir: Path | None,
) -> Iterator[ReadResult]:
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_pool_context(),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )
    pending: deque[tuple[pa.RecordBatch, list[Future]]] = deque()

    def finished() -> ReadResult:
        batch, futures = pending.popleft()
        return _assemble(batch, [f.result() for f in futures], source, errors)

    task = decode_rows if spill_dir is None else partial(_decode_spilled, str(spill_dir))

    try:
        for batch, first_row in _batches(parquet, batch_rows):
            # Each batch is cut into one task per worker, so that even a file of
            # a single batch keeps every worker busy; the parts are merged back.
            step = -(-batch.num_rows // workers)
            futures = [
                pool.submit(task, *_decode_args(batch.slice(at, step), first_row + at, max_bytes))
                for at in range(0, batch.num_rows, step)
            ]
            pending.append((batch, futures))
            if len(pending) > _BATCHES_AHEAD:
                yield finished()
        while pending:
            yield finished()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: A decoding process's own block file per spill folder (see ``_decode_spilled``).
_BLOCK_FILES: dict[str, BlockFile] = {}


def _decode_spilled(spill_dir: str, *args) -> DecodedBatch:
    """``decode_rows`` in a worker, its samples written to the worker's own block file
    in ``spill_dir``: what goes back through the pipe is metadata, not samples."""
    decoded = decode_rows(*args)
    file = _BLOCK_FILES.get(spill_dir)
    if file is None:
        file = _BLOCK_FILES[spill_dir] = BlockFile(Path(spill_dir) / f"decoded-{os.getpid()}.bin")
    return decoded.spilled(file)


_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from <malloc.h>


def _worker_start(parent: int) -> None:
    _die_with_parent(parent)
    _keep_freed_memory()


def _keep_freed_memory() -> None:
    """Worker start (glibc): take large arrays from the heap and keep what is freed.

    By default each batch's arrays are fresh mappings handed back when freed, so
    every batch faults its memory in again: at full scale a third of the workers'
    CPU time was the kernel's. With these limits freed memory serves the next
    batch; a worker keeps at most what its largest batch needed.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_MMAP_THRESHOLD, 64 << 20)
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def _die_with_parent(parent: int) -> None:
    """Worker start: be killed with the process that started the pool (Linux).

    A parent killed with SIGKILL cannot stop its workers, and they would wait
    forever for work that never comes. The kernel's parent-death signal ends
    them; a parent that died before the signal was armed is caught by the pid test.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fork where it is safe enough, else spawn.

    Workers only run ``decode_rows`` (numpy, pybase64, ISA-L inflate, msgspec,
    orjson and the single-threaded Numba JSON scanner: never Polars or Arrow), so a
    forked child cannot trip over the parent's thread pools, and fork starts in
    milliseconds where spawn re-imports everything.
    From 3.12 CPython warns about forking a threaded process, so there we spawn
    (which, as always with spawn, needs the ``if __name__ == "__main__":`` guard).
    """
    if sys.version_info < (3, 12) and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def read_vendor_export(
    path: str | Path,
    *,
    errors: str = "quarantine",
    batch_rows: int = 256,
    workers: int = 1,
    max_series_bytes: int = MAX_SERIES_BYTES,
) -> ReadResult:
    """Read a whole vendor export eagerly (the concatenation of ``iter_vendor_export``)."""
    return concat_results(
        iter_vendor_export(
            path,
            errors=errors,
            batch_rows=batch_rows,
            workers=workers,
            max_series_bytes=max_series_bytes,
        )
    )


def write_vendor_export(
    samples: pl.DataFrame,
    path: str | Path,
    *,
    series: pl.DataFrame | None = None,
    row_group_series: int = 256,
    compresslevel: int = 6,
) -> Path:
    """Write a long table (and optional per-series labels) as a vendor export.

    Every timestamp of a series goes to ``passedDays``; ``blockedDays`` holds
    only the samples with ``blocked > 0``, so reading the file back recovers
    the table exactly. Series named in ``series`` without samples are written
    with empty days. ``start_time``/``end_time`` are the first/last sample
    (epoch seconds) unless ``series`` carries them. The same input gives the
    same bytes.
    """
    path = Path(path)
    samples = _checked_samples(samples)
    meta = _series_meta(samples, series)
    groups = _sample_groups(samples)
    schema = pa.schema(
        [pa.field(name, _arrow_type(dtype)) for name, dtype in VENDOR_COLUMNS.items()]
    )
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for start in range(0, meta.height, row_group_series):
            chunk = meta.slice(start, row_group_series)
            blobs = [
                _encode(groups.get(key), compresslevel) for key in chunk.select(KEY_COLUMNS).rows()
            ]
            table = chunk.with_columns(pl.Series("time_series", blobs, dtype=pl.String))
            writer.write_table(table.select(list(VENDOR_COLUMNS)).to_arrow().cast(schema))
    return path


def _arrow_type(dtype: pl.DataType) -> pa.DataType:
    return pl.Series([], dtype=dtype).to_arrow().type


def _checked_samples(samples: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in LONG_SCHEMA if c not in samples.columns and c != "blocked"]
    if missing:
        raise SchemaError(f"samples lack column(s) {', '.join(missing)}")
    if "blocked" not in samples.columns:
        samples = samples.with_columns(blocked=pl.lit(0.0))
    frame = samples.select(
        *(pl.col(k).cast(pl.String) for k in KEY_COLUMNS),
        pl.col("timestamp").cast(pl.Datetime("us", "UTC")).dt.epoch("us").alias("_us"),
        # + 0.0 turns -0.0 into 0.0, which the vendor JSON cannot tell apart anyway.
        (pl.col("passed").cast(pl.Float64) + 0.0).alias("passed"),
        (pl.col("blocked").cast(pl.Float64) + 0.0).alias("blocked"),
    )
    for name in ("passed", "blocked"):
        bad = frame.filter(~pl.col(name).is_finite().fill_null(False) | (pl.col(name) < 0))
        if bad.height:
            row = bad.row(0, named=True)
            raise SeriesDefect(
                "negative_value" if row[name] is not None and row[name] < 0 else "nan_value",
                f"cannot write {name} = {row[name]}: values must be finite and non-negative",
                series=series_name(*(row[k] for k in KEY_COLUMNS)),
            )
    if frame.filter(pl.col("_us") % 1_000_000 != 0).height:
        raise SchemaError("the vendor export holds whole epoch seconds; a timestamp has a fraction")
    return frame.sort([*KEY_COLUMNS, "_us"], maintain_order=True)


def _series_meta(samples: pl.DataFrame, series: pl.DataFrame | None) -> pl.DataFrame:
    spans = samples.group_by(list(KEY_COLUMNS)).agg(
        (pl.col("_us").min() // 1_000_000).alias("_first"),
        (pl.col("_us").max() // 1_000_000).alias("_last"),
    )
    if series is None:
        meta = spans
    else:
        missing = [k for k in KEY_COLUMNS if k not in series.columns]
        if missing:
            raise SchemaError(f"series frame lacks key column(s) {', '.join(missing)}")
        labels = series.with_columns(pl.col(k).cast(pl.String) for k in KEY_COLUMNS)
        if labels.select(pl.any_horizontal(pl.col(KEY_COLUMNS).is_null()).any()).item():
            raise SchemaError("series frame has a row with an empty key")
        meta = labels.unique(list(KEY_COLUMNS), keep="last", maintain_order=True).join(
            spans, on=list(KEY_COLUMNS), how="full", coalesce=True
        )
    columns = []
    for name, dtype in VENDOR_COLUMNS.items():
        if name == "time_series":
            continue
        if name in ("start_time", "end_time"):
            own = "_first" if name == "start_time" else "_last"
            given = pl.col(name).cast(dtype, strict=False) if name in meta.columns else None
            col = pl.col(own) if given is None else pl.coalesce(given, pl.col(own))
        elif name in meta.columns:
            col = pl.col(name).cast(dtype, strict=False)
        else:
            col = pl.lit(None, dtype=dtype)
        columns.append(col.cast(dtype).alias(name))
    return meta.select(columns).sort(list(KEY_COLUMNS))


def _sample_groups(samples: pl.DataFrame) -> dict[tuple, tuple[np.ndarray, ...]]:
    groups = {}
    for key, part in samples.partition_by(
        list(KEY_COLUMNS), as_dict=True, maintain_order=True
    ).items():
        groups[key] = (
            part["_us"].to_numpy() // 1_000_000,
            part["passed"].to_numpy(),
            part["blocked"].to_numpy(),
        )
    return groups


def _encode(group: tuple[np.ndarray, ...] | None, compresslevel: int) -> str:
    if group is None:
        empty = np.zeros(0)
        return encode_time_series(empty, empty, empty, empty, compresslevel=compresslevel)
    ts, passed, blocked = group
    hit = blocked > 0
    return encode_time_series(ts, passed, ts[hit], blocked[hit], compresslevel=compresslevel)
