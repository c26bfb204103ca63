"""``floodmark ingest``: read inputs into a store (atomically, idempotently)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.engine import Engine, SparkConf, SparkMaster, spark_engine, use_spark
from floodmark.cli.options import Quiet, workers_option
from floodmark.cli.output import console, progress

FORMATS_HELP = "vendor, vendor-catalog, long or series-csv"

HELP = f"""Read traffic series into a store: partitioned Parquet, a catalog, a quarantine.

Each INPUT is a vendor export (Parquet with a time_series column), a vendor
file list (CSV naming one file per series), a long table (CSV or Parquet with
prediction_id, vector, metric, timestamp, passed, blocked) or a single-series CSV
(timestamp,value; give its key with --prediction-id/--vector/--metric). The format
is detected unless --format ({FORMATS_HELP}) says it.

The store is created when missing. Series already in it are merged by timestamp
(the newer input wins); ingesting the same input again changes nothing, and the
inputs that made the store's current version (same bytes, same options) are not
read again at all. Broken
series (a cell that is not base64/gzip/JSON of the vendor shape or inflates past
--max-series-bytes, a row whose time or number cannot be read, an unknown key)
are quarantined with their reason and row, and the rest is ingested; with
--strict the first broken series stops everything (exit 1) and the store is left
as it was. An ingest that fails or is killed never leaves a half-written store.

Prints one summary line: series added/updated, samples written, quarantined by
reason, duplicate timestamps repaired.

Examples:

  floodmark ingest export-2024-05.parquet --store fleet-store

  floodmark ingest files.csv --format vendor-catalog --root data --store fleet-store

  floodmark ingest ec2_network_in_5abac7.csv --store nab-store --prediction-id ec2-5abac7
  --vector PT_TOTAL --metric BW

With --engine spark, vendor exports are decoded by Spark executors (same
quarantine and repairs) and the driver commits the store version:

  floodmark ingest export.parquet --store fleet-store --engine spark --spark-master yarn
"""


#: Processes decoding vendor series; 1 by default: each more holds a batch in memory.
Workers = workers_option("processes decoding vendor series, then threads writing partitions", "1")


def register(app: typer.Typer) -> None:
    app.command("ingest", help=HELP)(ingest)


def ingest(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            exists=True, metavar="INPUT", help="Files to read, in order (a later one is newer)."
        ),
    ],
    store: Annotated[
        Path,
        typer.Option("--store", file_okay=False, help="Store directory (created when missing)."),
    ],
    format: Annotated[
        str | None,
        typer.Option("--format", help=f"Input format: {FORMATS_HELP}. Detected when omitted."),
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            exists=True,
            file_okay=False,
            help="Folder that paths in a vendor file list may not escape (default: its folder).",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Stop at the first broken series (exit 1); store untouched."),
    ] = False,
    workers: Workers = 1,
    max_series_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-series-bytes",
            min=1,
            help="Most bytes of JSON one vendor series may inflate to; a larger one is "
            "quarantined as too_large. Default: room for 400 days at 60 s (73,728,000).",
        ),
    ] = None,
    prediction_id: Annotated[
        str | None,
        typer.Option(
            "--prediction-id", help="series-csv: the series' object (default: the file stem)."
        ),
    ] = None,
    vector: Annotated[
        str | None, typer.Option("--vector", help="series-csv: its vector (default PT_TOTAL).")
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="series-csv: PPS or BW (default BW).")
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option("--time-column", help="series-csv: the time column (default: found by name)."),
    ] = None,
    value_column: Annotated[
        str | None,
        typer.Option(
            "--value-column",
            help="series-csv: the value column (default: the first numeric one).",
        ),
    ] = None,
    times_file: Annotated[
        Path | None,
        typer.Option(
            "--times-file",
            exists=True,
            dir_okay=False,
            help="series-csv: an id_time,time table for a time column of ids (CESNET).",
        ),
    ] = None,
    quiet: Quiet = False,
    engine: Engine = "local",
    spark_master: SparkMaster = "local[*]",
    spark_conf: SparkConf = None,
) -> None:
    """Read INPUT files into the store at --store."""
    from floodmark.io.options import FORMATS

    if format is not None and format not in FORMATS:
        raise typer.BadParameter(f"choose from {', '.join(FORMATS)}", param_hint="--format")
    options = {
        name: value
        for name, value in (
            ("prediction_id", prediction_id),
            ("vector", vector),
            ("metric", metric),
            ("time_column", time_column),
            ("value_column", value_column),
            ("times_file", times_file),
            ("max_series_bytes", max_series_bytes),
        )
        if value is not None
    }
    if use_spark(engine, spark_master, spark_conf):
        _spark_ingest(inputs, store, format, strict, max_series_bytes, spark_master, spark_conf)
        return
    from floodmark.store.unchanged import unchanged_ingest

    # Inputs that made the store's current version: answered before the readers and
    # the writer are imported (they cost more than the check).
    summary = unchanged_ingest(
        store, inputs, format=format, errors="raise" if strict else "quarantine", **options
    )
    if summary is not None:
        console.print(f"{store}: {summary.describe()}", soft_wrap=True, markup=False)
        return
    from floodmark.store import ingest_files

    with progress(disable=quiet) as bar:
        reading = bar.add_task("reading batches", total=None)
        merging = None
        batches = 0

        def report(stage: str, done: int, total: int | None) -> None:
            nonlocal merging, batches
            if stage == "read":
                batches = done
                bar.update(reading, completed=done)
                return
            if merging is None:
                bar.update(reading, total=batches)  # reading is over: show it complete
                merging = bar.add_task("merging partitions", total=total)
            bar.update(merging, completed=done, total=total)

        summary = ingest_files(
            store,
            inputs,
            format=format,
            errors="raise" if strict else "quarantine",
            root=root,
            workers=workers,
            progress=report,
            **options,
        )
    console.print(f"{store}: {summary.describe()}", soft_wrap=True, markup=False)


def _spark_ingest(inputs, store, format, strict, max_series_bytes, master, conf) -> None:
    """``--engine spark``: vendor exports only (the other formats are single files)."""
    from floodmark.io import detect_format
    from floodmark.io.codec import MAX_SERIES_BYTES

    for path in inputs:
        if (format or detect_format(path)) != "vendor":
            raise typer.BadParameter(
                f"{path}: --engine spark reads vendor exports only", param_hint="--engine"
            )
    with spark_engine(master, conf) as spark:
        from floodmark.spark import spark_ingest

        summary = spark_ingest(
            spark,
            store,
            inputs,
            errors="raise" if strict else "quarantine",
            max_series_bytes=max_series_bytes or MAX_SERIES_BYTES,
        )
    console.print(f"{store}: {summary.describe()}", soft_wrap=True, markup=False)
