"""Writing a Spark result as the one table file every other command reads."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from floodmark.io.atomic import atomic_path, write_table


def write_spark_table(frame, out: str | Path, order_by: list[str]) -> int:
    """Write the Spark DataFrame ``frame`` sorted by ``order_by`` to ``out`` atomically.

    The executors write Parquet parts (a range-partitioned sort: part files are in
    order); the driver then streams them into one file a row group at a time, so it
    never holds the table. ``.csv``/``.json`` outputs are read whole (they are for
    small tables). Returns the number of rows.
    """
    out = Path(out)
    scratch = Path(tempfile.mkdtemp(prefix=".floodmark-spark-", dir=out.parent))
    try:
        frame.orderBy(*order_by).write.mode("overwrite").parquet(str(scratch / "parts"))
        parts = sorted((scratch / "parts").glob("part-*.parquet"))
        if out.suffix.lower() != ".parquet":
            tables = [pl.read_parquet(p) for p in parts]
            table = pl.concat(tables) if tables else pl.from_arrow(_empty(frame))
            write_table(table, out)
            return table.height
        rows = 0
        schema = pq.read_schema(parts[0]) if parts else _empty(frame).schema
        with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for part in parts:
                for group in range(pq.ParquetFile(part).num_row_groups):
                    table = pq.ParquetFile(part).read_row_group(group).cast(schema)
                    writer.write_table(table)
                    rows += table.num_rows
        return rows
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _empty(frame):
    return frame.limit(0).toArrow()
