"""``floodmark features``: one row of features per series of a store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from floodmark.cli.engine import Engine, SparkConf, SparkMaster, spark_engine, use_spark
from floodmark.cli.options import (
    CHUNK_ROWS,
    BlockedThreshold,
    ChunkRows,
    Quiet,
    StoreDir,
    workers_option,
)
from floodmark.cli.output import console, progress

HELP = (
    "Compute the notebook's features for every series of a store."
    "\n\n"
    "Writes one row per series (keys, n_samples, n_super_peaks and every feature: "
    "passed/blocked/total value statistics, the daily family, quality) to --out as Parquet, "
    "CSV or JSON by its extension, and the super peaks (keys, timestamp, value) beside it as "
    "<stem>.super_peaks.parquet. Both are written atomically."
    "\n\n"
    "Samples with blocked above --blocked-threshold are attacks: they are left out of the "
    "daily family and of super peaks. A super peak is a kept sample above "
    "--super-peak-factor x daily_max_q90; --exclude-super-peaks recomputes the daily family "
    "without them."
    "\n\n"
    "The store is read in chunks of whole series (--chunk-rows samples each), --workers "
    "chunks at a time (in threads); memory grows with workers x chunk rows (about 250 bytes "
    "per sample)."
    "\n\n"
    "With --engine spark the series are computed by Spark executors, one series per task "
    "call, and the outputs are the same files."
    "\n\n"
    "Example: floodmark features --store fleet-store --out features.parquet"
)


#: Threads, one more than the cores: measured fastest (``features.chunked.default_workers``).
Workers = workers_option("threads, one chunk each", "cores + 1")


def register(app: typer.Typer) -> None:
    app.command("features", help=HELP)(features)


def _out(value: Path) -> Path:
    from floodmark.io.atomic import TABLE_SUFFIXES

    if value.suffix.lower() not in TABLE_SUFFIXES:
        raise typer.BadParameter(f"must end in {', '.join(TABLE_SUFFIXES)}, got {value.name!r}")
    return value


def features(
    store: StoreDir,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", callback=_out, help="Table to write: .parquet, .csv or .json."),
    ],
    blocked_threshold: BlockedThreshold = 0.0,
    super_peak_factor: Annotated[
        float,
        typer.Option(
            "--super-peak-factor", min=0.0, help="A super peak is above K x daily_max_q90."
        ),
    ] = 3.0,
    exclude_super_peaks: Annotated[
        bool,
        typer.Option("--exclude-super-peaks", help="Recompute the daily family without them."),
    ] = False,
    workers: Workers = None,
    chunk_rows: ChunkRows = CHUNK_ROWS,
    quiet: Quiet = False,
    engine: Engine = "local",
    spark_master: SparkMaster = "local[*]",
    spark_conf: SparkConf = None,
) -> None:
    from floodmark.features.chunked import (
        default_workers,
        store_features,
        super_peaks_path,
        tune_malloc,
    )
    from floodmark.features.families import FeatureParams
    from floodmark.io.atomic import write_table
    from floodmark.store import open_store

    started = time.perf_counter()
    if use_spark(engine, spark_master, spark_conf):
        options = (blocked_threshold, super_peak_factor, exclude_super_peaks)
        _spark_features(store, out, options, spark_master, spark_conf, started)
        return
    tune_malloc()  # this process computes the chunks
    opened = open_store(store)
    params = FeatureParams(blocked_threshold, super_peak_factor, exclude_super_peaks)
    with progress(disable=quiet) as bar:
        task = bar.add_task("chunks", total=None)
        result = store_features(
            opened,
            params,
            workers=workers or default_workers(),
            chunk_rows=chunk_rows,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    write_table(result.features, out)
    peaks_path = write_table(result.super_peaks, super_peaks_path(out))
    console.print(
        f"{result.features.height:,} series, {result.samples:,} samples, "
        f"{result.super_peaks.height:,} super peaks in {time.perf_counter() - started:.1f} s "
        f"-> {out} (+ {peaks_path.name})"
    )


def _spark_features(store: Path, out: Path, options: tuple, master, conf, started: float) -> None:
    from floodmark.features.chunked import super_peaks_path

    with spark_engine(master, conf) as spark:
        from floodmark.spark import spark_features, store_samples
        from floodmark.spark.output import write_spark_table

        blocked_threshold, super_peak_factor, exclude_super_peaks = options
        result = spark_features(
            store_samples(spark, store),
            blocked_threshold=blocked_threshold,
            super_peak_factor=super_peak_factor,
            exclude_super_peaks=exclude_super_peaks,
        )
        keys = ["prediction_id", "vector", "metric"]
        series = write_spark_table(result.features, out, keys)
        peaks_path = super_peaks_path(out)
        peaks = write_spark_table(result.super_peaks, peaks_path, [*keys, "timestamp"])
    console.print(
        f"{series:,} series, {peaks:,} super peaks on Spark in "
        f"{time.perf_counter() - started:.1f} s -> {out} (+ {peaks_path.name})"
    )
