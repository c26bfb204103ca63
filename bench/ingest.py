"""Ingest speed: floodmark's vendor export -> store against the notebook's decode loop.

Generates a fleet with ``floodmark generate`` (``--objects`` objects x 13 vectors x
2 metrics, 30 days at 300 s) in a temporary folder, then measures in one run, on
the same file:

(a) ``floodmark ingest FILE --store EMPTY --workers 1`` (the command, as a
    subprocess, and the library call ``ingest_files`` in this process), wall
    time, against the notebook's decode loop over the same rows (bench/decode.py's
    ``notebook_decode``: ``pd.read_parquet`` and ``json.loads(decompress(
    b64decode(...)))`` + ``extract_ts_from_dict`` per row; nothing written);
(b) the decode step alone, per CPU-second: every ``time_series`` cell through
    ``decode_time_series`` (cell -> timestamp, passed, blocked arrays), against
    the same notebook loop;
(c) re-ingesting the same export into the store of (a) (nothing new), as a
    fraction of the first ingest (command and library call).

Prints the table and writes bench/out/ingest.json.
Run: ``.venv/bin/python bench/ingest.py [--objects 40] [--repeat 3]``.

``--full EXPORT`` instead ingests an existing export (e.g. ``floodmark generate
--objects 1600 --days 30``) with ``floodmark ingest --workers 2 --quiet`` into a
temporary store, once, and reports wall time, CPU time and the peak resident
memory of the process tree (see ``tree_memory``), to bench/out/ingest-full.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

from decode import _version, notebook_decode, timed  # bench/ is on sys.path
from floodmark.generate import generate_fleet
from floodmark.io.codec import decode_time_series
from floodmark.store import ingest_files
from proctree import process_tree

OUT = Path(__file__).resolve().parent / "out" / "ingest.json"
TARGETS = {"a_ingest": 10.0, "b_decode_cpu": 20.0, "c_reingest_fraction": 0.10}
FLOODMARK = str(Path(sys.executable).with_name("floodmark"))


def decode_cells(path: Path) -> int:
    """(b) floodmark's decode alone: every cell of the file to aligned arrays."""
    cells = pq.read_table(path, columns=["time_series"])["time_series"].to_pylist()
    return sum(decode_time_series(cell).timestamps.size for cell in cells)


def notebook_samples(path: Path) -> int:
    return notebook_decode(path)


def command_ingest(path: Path, store: Path) -> int:
    subprocess.run(
        [FLOODMARK, "ingest", str(path), "--store", str(store), "--workers", "1"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return 0


def library_ingest(path: Path, store: Path) -> int:
    return ingest_files(store, [path], workers=1).samples_written


def tree_memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes of ``pid`` and all its descendants now (``/proc``, Linux).

    Sums over the processes at one instant (summing each one's own peak, VmHWM,
    would add peaks of different moments). RSS counts the pages a forked worker
    still shares with its parent once per process, so its sum errs high; PSS
    splits each shared page between the processes sharing it, so its sum is the
    tree's memory.
    """
    rss = pss = 0
    for current in process_tree(pid):
        try:
            with open(f"/proc/{current}/smaps_rollup") as file:
                for line in file:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, pss


def full_scale(export: Path, workers: int) -> dict:
    """Ingest ``export`` once with the command; wall, CPU and peak tree RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [FLOODMARK, "ingest", str(export), "--store", f"{tmp}/store"]
        cmd += ["--workers", str(workers), "--quiet"]
        before = os.times()
        start = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        peak = [0, 0]

        def sample() -> None:
            while process.poll() is None:
                rss, pss = tree_memory(process.pid)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, _ = process.communicate()
        wall = time.perf_counter() - start
        sampler.join()
        after = os.times()
        if process.returncode:
            raise SystemExit(f"ingest failed ({process.returncode})")
    return {
        "command": " ".join(cmd[1:]),
        "seconds": wall,
        "user_seconds": after.children_user - before.children_user,
        "system_seconds": after.children_system - before.children_system,
        "peak_tree_rss_bytes": peak[0],
        "peak_tree_pss_bytes": peak[1],
        "summary": out.strip(),
        "load_average_1m": os.getloadavg()[0],
    }


def fresh(store: Path) -> Path:
    shutil.rmtree(store, ignore_errors=True)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per variant")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--full", type=Path, help="an export to ingest once, measuring memory")
    parser.add_argument("--workers", type=int, default=2, help="--workers of the --full run")
    args = parser.parse_args()
    if args.full is not None:
        report = full_scale(args.full, args.workers)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.with_name("ingest-full.json").write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "fleet.parquet"
        generate_fleet(path, objects=args.objects, days=args.days, seed=args.seed)
        cmd_store, lib_store = work / "cmd-store", work / "lib-store"
        first = timed(
            {
                "notebook decode loop": lambda: notebook_samples(path),
                "floodmark decode (cells -> arrays)": lambda: decode_cells(path),
                "floodmark ingest --workers 1 (command)": lambda: command_ingest(
                    path, fresh(cmd_store)
                ),
                "ingest_files(workers=1) (library)": lambda: library_ingest(path, fresh(lib_store)),
            },
            args.repeat,
        )
        again = timed(
            {
                "re-ingest, same export (command)": lambda: command_ingest(path, cmd_store),
                "re-ingest, same export (library)": lambda: library_ingest(path, lib_store),
            },
            args.repeat,
        )
        file_mb = path.stat().st_size / 1e6
    rows = {row["variant"]: row for row in first + again}
    notebook = rows["notebook decode loop"]
    samples = notebook["samples"]
    decode = rows["floodmark decode (cells -> arrays)"]
    command = rows["floodmark ingest --workers 1 (command)"]
    library = rows["ingest_files(workers=1) (library)"]
    if decode["samples"] != samples:
        raise SystemExit(f"decode read {decode['samples']:,} samples, the notebook {samples:,}")
    ratios = {
        "a_ingest_command_vs_notebook_wall": notebook["seconds"] / command["seconds"],
        "a_ingest_library_vs_notebook_wall": notebook["seconds"] / library["seconds"],
        "b_decode_vs_notebook_cpu": notebook["cpu_seconds"] / decode["cpu_seconds"],
        "b_decode_vs_notebook_wall": notebook["seconds"] / decode["seconds"],
        "c_reingest_fraction_command": rows["re-ingest, same export (command)"]["seconds"]
        / command["seconds"],
        "c_reingest_fraction_library": rows["re-ingest, same export (library)"]["seconds"]
        / library["seconds"],
    }
    print(f"{args.objects} objects x {args.days} days, {samples:,} samples, {file_mb:.1f} MB")
    print(f"{'variant':<42} {'wall s':>8} {'cpu s':>8}")
    for row in first + again:
        print(f"{row['variant']:<42} {row['seconds']:>8.2f} {row['cpu_seconds']:>8.2f}")
    for name, value in ratios.items():
        print(f"{name:<42} {value:>8.3f}")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1m": os.getloadavg()[0],
        "objects": args.objects,
        "days": args.days,
        "samples": samples,
        "repeat": args.repeat,
        "file_mb": file_mb,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in ("isal", "pybase64", "numba", "polars", "pyarrow")},
        "targets": TARGETS,
        "cpu_note": "cpu_seconds of the command variants count the finished subprocess",
    }
    report = {"meta": meta, "results": first + again, "ratios": ratios}
    OUT.write_text(json.dumps(report, indent=2))
    print(f"written {OUT} (load average {meta['load_average_1m']:.1f})")


if __name__ == "__main__":
    main()
