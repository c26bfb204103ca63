"""Ingest on Spark: vendor exports decoded by the executors, committed as a store version.

The expensive part of an ingest, inflating and parsing every ``time_series`` cell,
runs in ``mapInArrow`` with the codec's own ``decode_time_series`` and the same key
checks, so quarantine reasons and repairs are the single-machine ones. Executors
write the decoded series (one row each, samples as lists) to a staging folder in
input-row order; the driver then streams that folder, a batch of series at a time,
through the store's own ``ingest``, which merges by timestamp, writes the
partitions, catalog and quarantine and commits the version with one atomic swap.
The driver never holds more than one batch.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from floodmark.errors import SchemaError, SeriesDefect
from floodmark.io import ReadResult, decode_time_series
from floodmark.io._common import Defects, cast_labels, epoch_to_datetime, key_defect, series_frame
from floodmark.io.codec import MAX_SERIES_BYTES
from floodmark.schema import KEY_COLUMNS, LABEL_SCHEMA, LONG_SCHEMA
from floodmark.spark.frames import arrow_udfs, spark_ddl
from floodmark.store import IngestSummary, ingest

KEYS = list(KEY_COLUMNS)
ROW = "_row"

#: One decoded series (or one defect) per input row.
DECODED_SCHEMA: dict[str, pl.DataType] = {
    ROW: pl.Int64(),
    **{k: pl.String() for k in KEY_COLUMNS},
    "reason": pl.String(),
    "detail": pl.String(),
    "repaired": pl.Int64(),
    "seconds": pl.List(pl.Int64()),
    "passed": pl.List(pl.Float64()),
    "blocked": pl.List(pl.Float64()),
    **LABEL_SCHEMA,
}


def _text(column: pa.Array) -> list:
    """Keys as trimmed text (an integer prediction_id becomes its text), as every reader."""
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    return pc.utf8_trim_whitespace(column).to_pylist()


def decoder(max_bytes: int):
    """The ``mapInArrow`` function: vendor rows → ``DECODED_SCHEMA`` rows."""
    from floodmark.spark.frames import arrow_schema

    schema = arrow_schema(DECODED_SCHEMA)

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:  # memory holds one batch's series
            yield from _decode_batch(batch, max_bytes).to_arrow().cast(schema).to_batches()

    return run


def _decode_batch(batch: pa.RecordBatch, max_bytes: int) -> pl.DataFrame:
    pids, vectors, metrics = (_text(batch.column(k)) for k in KEY_COLUMNS)
    cells = batch.column("time_series").to_pylist()
    rows = {name: [] for name in ("reason", "detail", "repaired", "seconds", "passed", "blocked")}
    for pid, vec, met, cell in zip(pids, vectors, metrics, cells, strict=True):
        defect = key_defect(pid, vec, met)
        decoded = None
        if defect is None:
            try:
                decoded = decode_time_series(cell, max_bytes=max_bytes)
            except SeriesDefect as exc:
                defect = exc
        rows["reason"].append(None if defect is None else defect.reason)
        rows["detail"].append(None if defect is None else defect.message)
        rows["repaired"].append(0 if decoded is None else decoded.repaired_duplicates)
        for side, name in (("timestamps", "seconds"), ("passed", "passed"), ("blocked", "blocked")):
            rows[name].append(None if decoded is None else getattr(decoded, side))
    labels = [c for c in LABEL_SCHEMA if c in batch.schema.names]
    label_frame = pl.from_arrow(pa.table(batch.select(labels))) if labels else None
    frame = pl.DataFrame(
        {
            ROW: batch.column(ROW).to_numpy(),
            "prediction_id": pids,
            "vector": vectors,
            "metric": metrics,
            "reason": rows["reason"],
            "detail": rows["detail"],
            "repaired": rows["repaired"],
            "seconds": _lists(rows["seconds"], np.int64),
            "passed": _lists(rows["passed"], np.float64),
            "blocked": _lists(rows["blocked"], np.float64),
        }
    )
    return pl.concat([frame, cast_labels(label_frame, batch.num_rows)], how="horizontal")


def _lists(arrays: list, dtype: type) -> pl.Series:
    """One list per series (null for a defect), built from the arrays without copying each."""
    sizes = np.array([0 if a is None else a.size for a in arrays], dtype=np.int64)
    offsets = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(sizes)])
    parts = [a for a in arrays if a is not None]
    values = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)
    mask = pa.array([a is None for a in arrays], type=pa.bool_())
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values), mask=mask)
    return pl.from_arrow(lists)


def read_export(spark, path: str | Path):
    """A vendor export as a Spark DataFrame with each row's 0-based position (``_row``)."""
    frame = spark.read.parquet(str(path))
    missing = [c for c in (*KEY_COLUMNS, "time_series") if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"vendor export lacks column(s) {', '.join(missing)} (has {', '.join(frame.columns)})",
            file=path,
        )
    labels = [c for c in LABEL_SCHEMA if c in frame.columns]
    return frame.select(
        *KEY_COLUMNS, "time_series", *labels, frame["_metadata.row_index"].alias(ROW)
    )


def decode_export(spark, path: str | Path, *, max_series_bytes: int = MAX_SERIES_BYTES):
    """The export's rows decoded on the executors (lazy ``DECODED_SCHEMA`` DataFrame)."""
    with arrow_udfs():
        return read_export(spark, path).mapInArrow(
            decoder(max_series_bytes), spark_ddl(DECODED_SCHEMA)
        )


def spark_ingest(
    spark,
    store_dir: str | Path,
    paths: Iterable[str | Path],
    *,
    errors: str = "quarantine",
    max_series_bytes: int = MAX_SERIES_BYTES,
    batch_rows: int = 256,
    staging_dir: str | Path | None = None,
) -> IngestSummary:
    """``floodmark.ingest_files`` of vendor exports, decoded on Spark.

    The store, catalog and quarantine are those the single-machine ingest writes.
    ``errors="raise"`` stops at the first broken series (lowest row) before anything
    is written. ``staging_dir`` holds the decoded series until the commit; by default
    a temporary folder beside the store, so that on a cluster it is on the store's
    shared filesystem, which executors and driver both see.
    """
    paths = [Path(p) for p in paths]
    beside = Path(store_dir).absolute().parent
    beside.mkdir(parents=True, exist_ok=True)
    staging = Path(staging_dir or tempfile.mkdtemp(prefix=".floodmark-spark-ingest-", dir=beside))
    try:
        decoded = []
        for number, path in enumerate(paths):
            out = staging / f"input-{number:05d}"
            frame = decode_export(spark, path, max_series_bytes=max_series_bytes)
            frame.orderBy(ROW).write.mode("overwrite").parquet(str(out))
            if errors == "raise":
                _raise_first_defect(spark, out, path)
            decoded.append((path, out))
        readers = (_read_decoded(out, str(path), batch_rows) for path, out in decoded)
        return ingest(store_dir, readers)
    finally:
        if staging_dir is None:
            shutil.rmtree(staging, ignore_errors=True)


def _raise_first_defect(spark, decoded_dir: Path, path: Path) -> None:
    first = (
        spark.read.parquet(str(decoded_dir))
        .where("reason IS NOT NULL")
        .orderBy(ROW)
        .select(ROW, *KEY_COLUMNS, "reason", "detail")
        .limit(1)
        .collect()
    )
    if first:
        row = first[0]
        Defects(str(path), "raise").add(
            SeriesDefect(row["reason"], row["detail"]), row[ROW], *(row[k] for k in KEY_COLUMNS)
        )


def _read_decoded(decoded_dir: Path, source: str, batch_rows: int) -> Iterator[ReadResult]:
    """The decoded series of one input as ``ReadResult`` batches, in input-row order."""
    files = sorted(decoded_dir.glob("part-*.parquet"))
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=batch_rows):
            yield _read_result(pl.from_arrow(batch), source)


def _read_result(part: pl.DataFrame, source: str) -> ReadResult:
    bad = part.filter(pl.col("reason").is_not_null())
    defects = Defects(source)
    for row in bad.iter_rows(named=True):
        defects.add(
            SeriesDefect(row["reason"], row["detail"]), row[ROW], *(row[k] for k in KEY_COLUMNS)
        )
    good = part.filter(pl.col("reason").is_null())
    keys = list(good.select(KEYS).iter_rows())
    samples = good.select(*KEYS, "seconds", "passed", "blocked").explode(
        "seconds", "passed", "blocked"
    )
    samples = samples.filter(pl.col("seconds").is_not_null()).with_columns(
        epoch_to_datetime(samples.filter(pl.col("seconds").is_not_null())["seconds"].to_numpy())
    )
    return ReadResult(
        samples=samples.select(LONG_SCHEMA.keys()).cast(LONG_SCHEMA),
        series=series_frame(keys, good.select(list(LABEL_SCHEMA)), source),
        quarantine=defects.frame(),
        repaired_duplicates=int(good["repaired"].sum()),
    )
