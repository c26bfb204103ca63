"""Feature speed and memory: floodmark against the notebook's per-series pandas loop.

Generates a fleet (``--objects`` objects x 13 vectors x 2 metrics, 30 days at
300 s) in a temporary folder, ingests it into a store, then measures in one run,
on the same data:

(a) store -> features: ``floodmark.features.chunked.store_features`` over the
    whole store, against the notebook's loop over ``--slow-series`` of the same
    series: read that series' own Parquet file (written beforehand in the
    notebook's layout: DatetimeIndex, passed_val, blocked_val, total_val),
    resample by day, compute the statistics (tests/features/notebook_port.py);
(b) vendor export -> features: ``read_vendor_export`` + ``compute_features``,
    and the streaming ``batch_features(iter_vendor_export(...), workers=cpus)``
    (this thread decodes the next batch while threads compute the features of
    the series blocks decoded; then with decoding in worker processes), against, per
    series, the notebook's decode of its own vendor file
    (``pd.read_parquet``, ``json.loads(decompress(b64decode(...)))``, its
    ``extract_ts_from_dict``) + the same features;
(c) ``--full``: ``floodmark generate`` (1,600 objects x 30 days x 300 s),
    ``floodmark ingest``, then ``floodmark features`` with ``--workers 1`` and
    all cores (threads), and ``store_features(processes=True)``, as
    subprocesses: wall time and peak RSS (the sum over the process tree sampled
    from /proc every 50 ms, and the largest VmHWM of a single process).

Throughput is samples per wall-clock second; CPU seconds (this process and its
children) are printed too, because the machine may be shared. Prints a table and
writes bench/out/features.json.

Run: ``.venv/bin/python bench/features.py [--objects 40] [--slow-series 80] [--full]``.
"""

# The notebook's function below is kept byte for byte, style and all.

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from base64 import b64decode
from gzip import decompress
from pathlib import Path

import pandas as pd
import polars as pl

from floodmark.features import compute_features
from floodmark.features.chunked import (
    CHUNK_ROWS,
    batch_features,
    default_workers,
    store_features,
    tune_malloc,
    worker_environment,
)
from floodmark.generate import generate_fleet
from floodmark.io import iter_vendor_export, read_vendor_export
from floodmark.machine import available_cpus
from floodmark.store import ingest_files, open_store
from notebook_decode import extract_ts_from_dict  # bench/ is on sys.path
from proctree import process_tree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "features"))
from notebook_port import series_features, series_frame  # noqa: E402

OUT = REPO / "bench" / "out" / "features.json"
TARGETS = {"a": 30.0, "b": 20.0, "c_peak_rss_gb": 3.0}
#: Series per batch of the streaming variant: small batches keep decoding and
#: features overlapped from the first batch to the last (17 batches for 40 objects).
STREAM_ROWS = 64


def cpu_seconds() -> float:
    """CPU time of this process and of its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(variants: dict, repeat: int) -> list[dict]:
    """Best of ``repeat`` runs per variant (by wall time), the variants interleaved.

    Each function returns the number of samples it processed. Interleaving keeps
    a burst of load on a shared machine from landing on one variant only.
    """
    best: dict[str, dict] = {}
    for _ in range(repeat):
        for name, fn in variants.items():
            cpu, wall = cpu_seconds(), time.perf_counter()
            samples = int(fn())
            wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            if name not in best or wall < best[name]["wall_s"]:
                best[name] = {"variant": name, "samples": samples, "wall_s": wall, "cpu_s": cpu}
    rows = list(best.values())
    base = rows[0]["samples"] / rows[0]["wall_s"]
    base_cpu = rows[0]["cpu_s"] / rows[0]["samples"]
    for row in rows:
        row["samples_per_s"] = row["samples"] / row["wall_s"]
        row["ratio_vs_notebook"] = row["samples_per_s"] / base
        row["cpu_s_per_million"] = row["cpu_s"] / row["samples"] * 1e6
        row["cpu_ratio_vs_notebook"] = base_cpu * row["samples"] / row["cpu_s"]
    return rows


def pick_series(store, count: int) -> pl.DataFrame:
    """``count`` series spread over the catalog (every vector, metric and size)."""
    catalog = store.catalog().sort("prediction_id", "vector", "metric")
    stride = max(1, catalog.height // count)
    return catalog[::stride].head(count).select("prediction_id", "vector", "metric", "n_samples")


def write_notebook_files(store, keys: pl.DataFrame, folder: Path) -> list[Path]:
    """Each series in its own Parquet file, as the notebook kept them."""
    folder.mkdir()
    paths = []
    for pid, vector, metric, _ in keys.iter_rows():
        part = store.read_series(pid, vector, metric)
        frame = series_frame(
            part["timestamp"].dt.epoch("s").to_numpy(),
            part["passed"].to_numpy(),
            part["blocked"].to_numpy(),
        )
        paths.append(folder / f"{vector}_{metric}_{pid}.parquet")
        frame.to_parquet(paths[-1])
    return paths


def write_vendor_files(fleet: Path, keys: pl.DataFrame, folder: Path) -> list[Path]:
    """Each series' vendor row in its own file (the notebook's catalog layout)."""
    folder.mkdir()
    rows = pl.read_parquet(fleet).join(
        keys.drop("n_samples"), on=["prediction_id", "vector", "metric"]
    )
    paths = []
    for i in range(rows.height):
        paths.append(folder / f"series-{i:05d}.parquet")
        rows[i].write_parquet(paths[-1])
    return paths


def notebook_store_loop(paths: list[Path]) -> int:
    samples = 0
    for path in paths:
        ts_data_raw = pd.read_parquet(path, engine="pyarrow").sort_index()
        series_features(ts_data_raw)
        samples += len(ts_data_raw)
    return samples


def notebook_vendor_loop(paths: list[Path]) -> int:
    samples = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its pandas idioms are deprecated
        for path in paths:
            ts_hash = pd.read_parquet(path).time_series.values[0]
            ts = extract_ts_from_dict(json.loads(decompress(b64decode(ts_hash))))
            series_features(ts)
            samples += len(ts)
    return samples


def run_with_peak_rss(argv: list[str], log: Path) -> dict:
    """Run a command (output to ``log``): wall time and resident memory.

    peak_tree_rss_gb: the peak of the summed RSS of the command and all its
    descendants, sampled every 50 ms (what the machine must hold at once);
    largest_process_rss_gb: the largest VmHWM (a process's own peak RSS) seen in
    the tree. (wait4's ru_maxrss would count this script's memory too: Linux
    carries the parent's RSS into a forked child's maximum.)
    """
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        peak = largest = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            total, high = tree_rss(proc.pid)
            peak, largest = max(peak, total), max(largest, high)
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    output = log.read_text().strip()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{output}")
    return {
        "command": " ".join(Path(a).name if a.startswith("/") else a for a in argv),
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_tree_rss_gb": peak / 2**30,
        "largest_process_rss_gb": largest / 2**30,
        "output": output.splitlines()[-1] if output else "",
    }


def tree_rss(root: int) -> tuple[int, int]:
    """Bytes resident in ``root`` and its descendants, and the largest VmHWM among them."""
    tree = process_tree(root)
    total = high = 0
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in status:
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                high = max(high, int(line.split()[1]) * 1024)
    return total, high


def with_environment(values: dict[str, str], run):
    """``run()`` with ``values`` in the environment (a benchmark script's own choice)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        return run()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def bench_small(args, workdir: Path) -> dict:
    cpus = available_cpus()
    fleet = workdir / "fleet.parquet"
    summary = generate_fleet(
        fleet, objects=args.objects, days=args.days, seed=args.seed, workers=cpus
    )
    store_dir = workdir / "store"
    ingest_files(store_dir, [fleet], workers=cpus)
    store = open_store(store_dir)
    total = int(store.catalog()["n_samples"].sum())
    keys = pick_series(store, args.slow_series)
    nb_files = write_notebook_files(store, keys, workdir / "notebook-series")
    vendor_files = write_vendor_files(fleet, keys, workdir / "vendor-series")

    tune_malloc()  # as the CLI does
    variants_a = {"notebook loop (pandas, per-series file)": lambda: notebook_store_loop(nb_files)}
    for label, workers, processes in (
        ("one chunk at a time", 1, False),
        (f"{cpus} threads", cpus, False),
        (f"{default_workers()} threads (the CLI default)", default_workers(), False),
        (f"{cpus} processes", cpus, True),
    ):
        variants_a[f"floodmark store_features, {label}"] = lambda w=workers, p=processes: (
            with_environment(
                worker_environment(w) if p else {},
                lambda: store_features(store, workers=w, processes=p, chunk_rows=args.chunk_rows),
            ).samples
        )
    variants_b = {
        "notebook decode + features (per-series file)": lambda: notebook_vendor_loop(vendor_files)
    }
    variants_b["floodmark read_vendor_export + compute_features"] = lambda: compute_features(
        read_vendor_export(fleet).samples
    )["n_samples"].sum()
    # Streaming: this thread decodes the next batch (Numba and ISA-L release the GIL)
    # while threads compute the features of the series blocks already decoded.
    variants_b[
        f"floodmark batch_features(iter_vendor_export(batch_rows={STREAM_ROWS}), workers={cpus})"
    ] = lambda: (
        batch_features(iter_vendor_export(fleet, batch_rows=STREAM_ROWS), workers=cpus).samples
    )
    # The same with decoding in worker processes (pickled arrays, process start-up).
    variants_b[f"floodmark batch_features(iter_vendor_export(workers={cpus}), workers={cpus})"] = (
        lambda: batch_features(iter_vendor_export(fleet, workers=cpus), workers=cpus).samples
    )
    return {
        "fleet": {"objects": args.objects, "series": summary.series, "samples": total},
        "a_store_to_features": timed(variants_a, args.repeat),
        "b_vendor_to_features": timed(variants_b, args.repeat),
    }


def bench_full(args, workdir: Path) -> dict:
    exe = str(Path(sys.executable).with_name("floodmark"))
    cpus = str(available_cpus())
    fleet, store_dir = workdir / "full.parquet", workdir / "full-store"
    generate = [exe, "generate", "--objects", str(args.full_objects), "--days", "30"]
    generate += ["--step", "300", "--seed", str(args.seed), "--out", str(fleet)]
    steps = [
        run_with_peak_rss(generate, workdir / "generate.log"),
        run_with_peak_rss(
            [exe, "ingest", str(fleet), "--store", str(store_dir), "--workers", cpus],
            workdir / "ingest.log",
        ),
    ]
    fleet.unlink()  # 1.4 GB; the store holds the samples now
    samples = int(open_store(store_dir).catalog()["n_samples"].sum())
    runs = []
    for workers in sorted({"1", cpus, str(default_workers())}):
        out = workdir / f"features-w{workers}.parquet"
        argv = [exe, "features", "--store", str(store_dir), "--out", str(out)]
        run = run_with_peak_rss(
            [*argv, "--workers", workers, "--chunk-rows", str(args.chunk_rows)],
            workdir / f"features-w{workers}.log",
        )
        run["variant"] = f"floodmark features --workers {workers} (threads)"
        runs.append(run)
    # The process pool is a library option, not a CLI flag: run it the same way.
    script = workdir / "processes.py"
    script.write_text(
        "import os\n"
        "from floodmark.features.chunked import store_features, tune_malloc, worker_environment\n"
        "from floodmark.store import open_store\n"
        "if __name__ == '__main__':\n"
        "    tune_malloc()\n"
        f"    os.environ.update(worker_environment({cpus}))\n"
        f"    r = store_features(open_store({str(store_dir)!r}), workers={cpus},"
        f" processes=True, chunk_rows={args.chunk_rows})\n"
        "    print(r.features.height, 'series')\n"
    )
    run = run_with_peak_rss([sys.executable, str(script)], workdir / "processes.log")
    run["variant"] = f"store_features(workers={cpus}, processes=True)"
    runs.append(run)
    for run in runs:
        run["samples_per_s"] = samples / run["wall_s"]
    return {"samples": samples, "objects": args.full_objects, "setup": steps, "features": runs}


def print_rows(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(
        f"{'variant':<64} {'samples':>12} {'wall s':>7} {'cpu s':>7} {'cpu s/M':>8} "
        f"{'samples/s':>11} {'ratio':>6} {'cpu ratio':>9}"
    )
    for r in rows:
        print(
            f"{r['variant']:<64} {r['samples']:>12,} {r['wall_s']:>7.2f} {r['cpu_s']:>7.2f} "
            f"{r['cpu_s_per_million']:>8.3f} {r['samples_per_s']:>11,.0f} "
            f"{r['ratio_vs_notebook']:>5.1f}x {r['cpu_ratio_vs_notebook']:>8.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=40, help="objects of the (a)/(b) fleet")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--slow-series", type=int, default=80, help="series the notebook loops over"
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs per variant")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    parser.add_argument("--full", action="store_true", help="also run (c) on 1,600 objects")
    parser.add_argument("--full-objects", type=int, default=1_600)
    parser.add_argument("--workdir", type=Path, help="keep the data here (default: a temp dir)")
    args = parser.parse_args()

    report = {
        "meta": {
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "load_average_1m_start": os.getloadavg()[0],
            "cpus": available_cpus(),
            "python": platform.python_version(),
            "polars": pl.__version__,
            "pandas": pd.__version__,
            "targets": TARGETS,
        }
    }
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workdir = Path(tmp)
        report |= bench_small(args, workdir)
        print(f"fleet: {report['fleet']}")
        print_rows("(a) store -> features", report["a_store_to_features"])
        print_rows("(b) vendor export -> features", report["b_vendor_to_features"])
        if args.full:
            report["c_full_scale"] = bench_full(args, workdir)
            full = report["c_full_scale"]
            print(f"\n(c) full scale: {full['objects']:,} objects, {full['samples']:,} samples")
            for step in full["setup"] + full["features"]:
                largest = f"{step['largest_process_rss_gb']:.2f}"
                rate = (
                    f"{step['samples_per_s']:>12,.0f} samples/s" if "samples_per_s" in step else ""
                )
                print(
                    f"  {step.get('variant', step['command'])[:58]:<58}"
                    f" wall {step['wall_s']:7.1f} s"
                    f"  peak tree RSS {step['peak_tree_rss_gb']:.2f} GB"
                    f"  largest process {largest} GB {rate}"
                )
    report["meta"]["load_average_1m_end"] = os.getloadavg()[0]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"\nwritten {OUT}")


if __name__ == "__main__":
    main()
