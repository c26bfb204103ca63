"""Decode speed: the original notebook's decode against floodmark's vendor reader.

Generates a vendor export in a temporary folder (``--series`` series of 30 days
at 300 s), then times, in one run and on the same file:

(a) the notebook: ``pd.read_parquet`` and, per row,
    ``json.loads(decompress(b64decode(ts)))`` + its ``extract_ts_from_dict``;
(b) ``floodmark.io.iter_vendor_export`` with ``workers=1``;
(c) the same with ``workers=2``.

Prints samples/second and the ratio to the notebook, by wall time and by CPU
time (this process and its worker processes: on a shared machine the CPU ratio
is the steadier one); writes bench/out/decode.json.
Run: ``.venv/bin/python bench/decode.py [--series 300] [--repeat 3]``.

``--steps`` instead splits the decode of every cell of a ``floodmark generate`` fleet
(``--objects`` objects, 30 days) into its steps, each over all cells with the cells'
input already in memory, best of ``--repeat``, CPU time: base64, inflate, the
compiled scan (``scan_document``), the scan with the checks and the alignment
(``_scan_decode``), and the scan of each text just inflated (as the decoder runs it,
the text still in the cache); writes bench/out/decode-steps.json.
"""

# The notebook's function below is kept byte for byte, style and all.

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import tempfile
import time
import warnings
from base64 import b64decode
from gzip import decompress
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow.parquet as pq

from floodmark.generate import generate_fleet
from floodmark.io import codec, iter_vendor_export, json_scan, write_vendor_export
from floodmark.schema import VECTORS
from notebook_decode import extract_ts_from_dict  # bench/ is on sys.path

OUT = Path(__file__).resolve().parent / "out" / "decode.json"
STEP_S = 300
START_S = 1_698_796_800  # 2023-11-01 00:00 UTC


def make_fleet(n_series: int, days: int, seed: int) -> pl.DataFrame:
    """A long table with daily cycles, noise, gaps and blocked attack episodes."""
    rng = np.random.default_rng(seed)
    n = days * 86_400 // STEP_S
    t = START_S + STEP_S * np.arange(n)
    hour = (t % 86_400) / 3_600
    frames = []
    for i in range(n_series):
        level = rng.lognormal(3, 2)
        daily = 1 + 0.6 * np.sin(2 * np.pi * (hour - 6 - rng.uniform(-2, 2)) / 24)
        passed = np.round(level * daily * rng.lognormal(0, 0.3, n), 3)
        blocked = np.zeros(n)
        for start in rng.integers(0, n - 24, rng.poisson(2)):
            length = rng.integers(3, 24)
            blocked[start : start + length] = np.round(level * rng.lognormal(3, 1, length), 3)
        keep = rng.random(n) > 0.01  # about 1 % of samples missing
        frames.append(
            pl.DataFrame(
                {
                    "prediction_id": f"{i // 26:040x}",
                    "vector": VECTORS[(i // 2) % len(VECTORS)],
                    "metric": ("PPS", "BW")[i % 2],
                    "timestamp": t[keep] * 1_000_000,
                    "passed": passed[keep],
                    "blocked": blocked[keep],
                }
            )
        )
    return pl.concat(frames).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))


def notebook_decode(path: Path) -> int:
    samples = 0
    df = pd.read_parquet(path, engine="pyarrow")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its pandas idioms are deprecated
        for ts_hash in df.time_series.values:
            ts_dict = json.loads(decompress(b64decode(ts_hash)))
            samples += len(extract_ts_from_dict(ts_dict))
    return samples


def floodmark_decode(path: Path, workers: int) -> int:
    return sum(part.samples.height for part in iter_vendor_export(path, workers=workers))


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker pools)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(variants: dict, repeat: int) -> list[dict]:
    """Best of ``repeat`` runs per variant (wall and CPU), interleaved run by run.

    Interleaving keeps a burst of load on a shared machine from landing on one
    variant only.
    """
    best = {name: float("inf") for name in variants}
    cpu = {name: float("inf") for name in variants}
    counts = {}
    for _ in range(repeat):
        for name, fn in variants.items():
            start, start_cpu = time.perf_counter(), cpu_seconds()
            counts[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], cpu_seconds() - start_cpu)
    return [
        {"variant": n, "seconds": best[n], "cpu_seconds": cpu[n], "samples": counts[n]}
        for n in variants
    ]


def decode_steps(objects: int, days: int, seed: int, repeat: int) -> dict:
    """CPU seconds of each decode step over every cell of a generated fleet (best of N)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.parquet"
        generate_fleet(path, objects=objects, days=days, seed=seed)
        cells = pq.read_table(path, columns=["time_series"])["time_series"].to_pylist()
    raws = [codec._b64decode(cell) for cell in cells]
    texts = [codec.gunzip(raw, codec.MAX_SERIES_BYTES) for raw in raws]

    def scan_after_inflate() -> float:
        spent = 0.0
        for raw in raws:
            text = codec.gunzip(raw, codec.MAX_SERIES_BYTES)
            start = time.process_time()
            json_scan.scan_document(text)
            spent += time.process_time() - start
        return spent

    def over_cells(step, inputs) -> float:
        start = time.process_time()
        for item in inputs:
            step(item)
        return time.process_time() - start

    steps = {
        "base64": lambda: over_cells(codec._b64decode, cells),
        "inflate": lambda: over_cells(lambda raw: codec.gunzip(raw, codec.MAX_SERIES_BYTES), raws),
        "scan": lambda: over_cells(json_scan.scan_document, texts),
        "scan + checks + align": lambda: over_cells(codec._scan_decode, texts),
        "scan, each text just inflated": scan_after_inflate,
    }
    if any(json_scan.scan_document(text) is None for text in texts):
        raise SystemExit("the scanner refused a generated cell")
    return {
        "cells": len(cells),
        "json_mb": sum(map(len, texts)) / 1e6,
        "cpu_seconds": {name: min(step() for _ in range(repeat)) for name, step in steps.items()},
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per variant")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--steps", action="store_true", help="split the decode into its steps")
    parser.add_argument("--objects", type=int, default=40, help="fleet size of --steps")
    args = parser.parse_args()
    if args.steps:
        report = decode_steps(args.objects, args.days, args.seed, args.repeat)
        print(f"{report['cells']:,} cells, {report['json_mb']:.1f} MB of JSON")
        for name, seconds in report["cpu_seconds"].items():
            print(f"{name:<30} {seconds:>7.3f} CPU-s")
        OUT.parent.mkdir(parents=True, exist_ok=True)
        report["load_average_1m"] = os.getloadavg()[0]
        OUT.with_name("decode-steps.json").write_text(json.dumps(report, indent=2))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.parquet"
        fleet = make_fleet(args.series, args.days, args.seed)
        write_vendor_export(fleet, path)
        variants = {
            "notebook (json + pandas)": lambda: notebook_decode(path),
            "floodmark workers=1": lambda: floodmark_decode(path, 1),
            "floodmark workers=2": lambda: floodmark_decode(path, 2),
        }
        rows = timed(variants, args.repeat)
        file_mb = path.stat().st_size / 1e6

    base = rows[0]["samples"] / rows[0]["seconds"]
    base_cpu = rows[0]["samples"] / rows[0]["cpu_seconds"]
    print(
        f"{args.series} series x {args.days} days, {rows[0]['samples']:,} samples, {file_mb:.1f} MB"
    )
    print(
        f"{'variant':<26} {'seconds':>8} {'samples/s':>12} {'vs notebook':>12} "
        f"{'cpu s':>7} {'vs nb (cpu)':>12}"
    )
    for row in rows:
        row["samples_per_s"] = row["samples"] / row["seconds"]
        row["ratio_vs_notebook"] = row["samples_per_s"] / base
        row["ratio_vs_notebook_cpu"] = row["samples"] / row["cpu_seconds"] / base_cpu
        print(
            f"{row['variant']:<26} {row['seconds']:>8.2f} {row['samples_per_s']:>12,.0f} "
            f"{row['ratio_vs_notebook']:>11.1f}x {row['cpu_seconds']:>7.2f} "
            f"{row['ratio_vs_notebook_cpu']:>11.1f}x"
        )
    counts = {row["samples"] for row in rows}
    if len(counts) != 1:
        raise SystemExit(f"variants disagree on the number of samples: {sorted(counts)}")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1m": os.getloadavg()[0],
        "series": args.series,
        "days": args.days,
        "step_s": STEP_S,
        "repeat": args.repeat,
        "file_mb": file_mb,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "msgspec": _version("msgspec"),  # None: every document took the full parse
    }
    OUT.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
