"""The Spark engine in local mode against the single-machine engine, and how it scales.

On a generated fleet (``--objects`` objects x 26 series x ``--days`` days at 300 s),
in one run:

(a) single machine: ``ingest_files`` then ``store_features`` (default workers);
(b) Spark ``local[2]`` (two cores): ``spark_ingest`` then ``spark_features`` written
    as one Parquet file, on the same export; the session is started first and its
    start-up is reported apart;
(c) Spark's time for the same steps on 1x, 2x and 4x the fleet (more objects);
(d) the memory one series costs a feature kernel: the largest resident size of a
    fresh process while it computes one long series (``--long-days`` at 60 s, sampled
    every 2 ms) minus its size just before, per sample: what an executor core needs
    per sample of its longest series (``--memory-only`` measures just this).

Throughput is samples per wall-clock second. Prints a table and writes
bench/out/spark.json.

Run: ``.venv/bin/python bench/spark.py [--objects 10] [--days 14]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import floodmark as fm
from floodmark.features.chunked import store_features

KERNEL_MEMORY = r"""
import os, sys, threading, time
from datetime import UTC, datetime, timedelta
import numpy as np, polars as pl
from floodmark.features.engine import feature_kernel
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
n = int(sys.argv[1])
t0 = datetime(2024, 1, 1, tzinfo=UTC)
rng = np.random.default_rng(0)
frame = pl.DataFrame({"prediction_id": "x", "vector": "PT_TCP", "metric": "PPS",
    "timestamp": pl.datetime_range(t0, t0 + timedelta(minutes=n - 1), "1m", eager=True),
    "passed": rng.gamma(2.0, 500.0, n), "blocked": 0.0})
feature_kernel(frame.head(1000))  # imports and compiled kernels loaded
before, peak, done = rss(), [0], threading.Event()
def watch():  # the resident size, sampled while the kernel runs
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)
watcher = threading.Thread(target=watch)
watcher.start()
feature_kernel(frame)
done.set()
watcher.join()
print((max(peak[0], rss()) - before) / n)
"""


def _timed(step) -> tuple[float, object]:
    started = time.perf_counter()
    out = step()
    return time.perf_counter() - started, out


def _local(export: Path, work: Path) -> dict:
    store = work / "local-store"
    ingest_s, _ = _timed(lambda: fm.ingest_files(store, [export]))
    features_s, run = _timed(lambda: store_features(fm.open_store(store)))
    return {"ingest_s": ingest_s, "features_s": features_s, "series": run.features.height}


def _spark(spark, export: Path, work: Path, tag: str) -> dict:
    from floodmark.spark import spark_features, spark_ingest, store_samples
    from floodmark.spark.output import write_spark_table

    store = work / f"spark-store-{tag}"
    ingest_s, _ = _timed(lambda: spark_ingest(spark, store, [export]))

    def features() -> int:
        result = spark_features(store_samples(spark, store))
        return write_spark_table(result.features, work / f"features-{tag}.parquet", ["metric"])

    features_s, series = _timed(features)
    return {"ingest_s": ingest_s, "features_s": features_s, "series": series}


def _kernel_memory(samples: int) -> float:
    run = subprocess.run(
        [sys.executable, "-c", KERNEL_MEMORY, str(samples)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(run.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--long-days", type=int, default=400)
    parser.add_argument("--memory-only", action="store_true")
    args = parser.parse_args()
    if args.memory_only:
        print(f"{_kernel_memory(args.long_days * 1440):.0f} bytes per sample")
        return
    from floodmark.spark import spark_session

    results: dict = {"objects": args.objects, "days": args.days, "cpus": os.cpu_count()}
    results["load_average_start"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="floodmark-bench-spark-") as folder:
        work = Path(folder)
        exports = {}
        for scale in (1, 2, 4):
            exports[scale] = work / f"fleet-{scale}x.parquet"
            fm.generate_fleet(exports[scale], objects=args.objects * scale, days=args.days)
        samples = {
            scale: args.objects * scale * 26 * args.days * 86_400 // 300 for scale in exports
        }
        results["local"] = _local(exports[1], work)
        start_s, spark = _timed(
            lambda: spark_session(
                "local[2]",
                {
                    "spark.ui.enabled": "false",
                    "spark.sql.shuffle.partitions": "8",
                    "spark.driver.host": "127.0.0.1",
                    "spark.driver.bindAddress": "127.0.0.1",
                },
                scratch_dir=work / "spark",
            )
        )
        spark.sparkContext.setLogLevel("ERROR")
        results["spark_start_s"] = start_s
        _spark(spark, exports[1], work, "warm-up")  # Python workers and kernels compiled
        results["spark"] = {
            scale: _spark(spark, exports[scale], work, f"{scale}x") for scale in exports
        }
        spark.stop()
    results["samples"] = samples
    results["kernel_long_series_samples"] = args.long_days * 1440
    results["kernel_bytes_per_sample"] = _kernel_memory(args.long_days * 1440)
    results["load_average_end"] = os.getloadavg()
    _print(results)
    out = Path(__file__).parent / "out" / "spark.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


def _print(results: dict) -> None:
    samples = results["samples"]
    local = results["local"]
    print(f"fleet: {results['objects']} objects x 26 series x {results['days']} days at 300 s")
    print(f"{'engine':<24}{'samples':>12}{'ingest s':>10}{'features s':>12}{'M samples/s':>13}")
    total = local["ingest_s"] + local["features_s"]
    print(f"{'single machine':<24}{samples[1]:>12,}{local['ingest_s']:>10.1f}"
          f"{local['features_s']:>12.1f}{samples[1] / total / 1e6:>13.2f}")  # fmt: skip
    for scale, run in results["spark"].items():
        total = run["ingest_s"] + run["features_s"]
        print(f"{f'spark local[2], {scale}x':<24}{samples[scale]:>12,}{run['ingest_s']:>10.1f}"
              f"{run['features_s']:>12.1f}{samples[scale] / total / 1e6:>13.2f}")  # fmt: skip
    print(f"spark session start: {results['spark_start_s']:.1f} s")
    print(
        f"feature kernel memory: {results['kernel_bytes_per_sample']:.0f} bytes per sample "
        f"(one series of {results['kernel_long_series_samples']:,} samples)"
    )


if __name__ == "__main__":
    main()
