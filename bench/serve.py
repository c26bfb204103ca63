"""Load on a real ``floodmark serve`` over loopback: requests/s and p50/p99 latency.

Builds (or reuses, in ``--data``) a fleet of ``--objects`` objects x 26 series x
``--days`` days at 300 s with the floodmark commands (generate, ingest, features,
recommend rule-max and rule-daily, publish both, approve the first, a viewer key),
starts ``floodmark serve`` on 127.0.0.1, and sends, per endpoint, ``--requests``
requests from ``--concurrency`` concurrent connections (an asyncio client):

- object: ``GET /api/v1/objects/{id}`` for random objects;
- series: ``GET /api/v1/objects/{id}/series/{vector}/{metric}?max_points=8640``
  for random series (30 days at 300 s is 8,640 samples: every one returned);
- thresholds: ``GET /api/v1/sets/latest/thresholds?prediction_id={id}``.

Targets (issue 12): p99 <= 100 ms for object and thresholds, <= 250 ms for series,
no errors. Prints a table and writes bench/out/serve.json. Loopback only. The server
runs ``--workers`` processes (default: serve's, one per core); ``server_cpu_ms`` is the
CPU time its processes used per request, steadier than latencies on a shared machine,
and ``worker_cpu_shares`` each worker's part of it (how evenly connections spread).

``--in-process N`` also sends the first N requests of each endpoint one at a time to
the app in this process (no socket, no other request in flight): the service time
per request, steadier than the load figures on a busy machine. ``--profile`` adds a
cProfile of those requests, per endpoint, in bench/out/serve-<endpoint>.prof.

Run: ``.venv/bin/python bench/serve.py [--objects 1600] [--data bench/out/serve-data]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import polars as pl

OUT = Path(__file__).with_name("out")
RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
TARGETS_MS = {"object": 100.0, "series": 250.0, "thresholds": 100.0}


def floodmark(*args: object) -> str:
    """Run one floodmark command; its stdout (stderr passes through)."""
    argv = [sys.executable, "-c", "from floodmark.cli import main; main()", *map(str, args)]
    print("$ floodmark", " ".join(map(str, args)), flush=True)
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout


def prepare(data: Path, objects: int, days: int) -> tuple[Path, str, str]:
    """The store, the registry and a viewer key, in ``data`` (a step whose result is
    there already is skipped, so an interrupted preparation resumes)."""
    store, db, key_file = data / "store", data / "floodmark.db", data / "viewer.key"
    if key_file.is_file():
        return store, str(db), key_file.read_text().strip()
    data.mkdir(parents=True, exist_ok=True)
    fleet, features = data / "fleet.parquet", data / "features.parquet"
    if not fleet.is_file():
        floodmark("generate", "--objects", objects, "--days", days, "--out", fleet)
    if not store.is_dir():
        floodmark("ingest", fleet, "--store", store)
    if not features.is_file():
        floodmark("features", "--store", store, "--out", features)
    for number, method in enumerate(("rule-max", "rule-daily"), start=1):
        table = data / f"thresholds-{method}.parquet"
        if not table.is_file():
            floodmark("recommend", "--store", store, "--features", features, "--method", method,
                      "--out", table)  # fmt: skip
        floodmark("publish", "--db", db, "--thresholds", table, "--by", "bench")
        if number == 1:
            floodmark("approve", "1", "--db", db, "--by", "bench", "--reason", "bench")
    key = floodmark("keys", "create", "--db", db, "--name", "bench", "--role", "viewer").strip()
    key_file.write_text(key + "\n")
    return store, str(db), key


def start_server(
    store: Path, db: str, log: Path, workers: int | None
) -> tuple[subprocess.Popen, str]:
    argv = [sys.executable, "-c", "from floodmark.cli import main; main()", "serve"]
    argv += ["--store", str(store), "--db", db, "--port", "0"]
    argv += ["--workers", str(workers)] if workers else []
    with open(log, "wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
    for _ in range(1200):  # the socket is bound first, then the workers start listening
        found = RUNNING.search(log.read_text(errors="replace"))
        if found and _answers(found.group(1)):
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text()}")


def process_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds used so far by process ``pid`` and by each of its children (the
    workers), by process id: on a shared machine, steadier than latencies."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(c) for c in (task / "children").read_text().split()]
    used = {}
    for one in pids:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        used[one] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return used


def run_async(coroutine):
    """Run the client on uvloop (a floodmark dependency): less of the machine for the client."""
    import uvloop

    return uvloop.run(coroutine)


def _answers(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx2.HTTPError:
        return False


async def service_times(
    store: Path, db: str, key: str, paths: dict[str, list[str]], profile: bool
) -> dict:
    """Per endpoint: wall and CPU ms per request, sent one at a time to the app in this
    process (CPU: this process's, the client's part included)."""
    import cProfile

    from floodmark.registry import open_registry
    from floodmark.service import create_app

    headers = {"Authorization": f"Bearer {key}"}
    times = {}
    with open_registry(db) as registry:
        app = create_app(store, registry, session_secret="bench")
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as http:
            for name, todo in paths.items():
                await http.get(todo[0], headers=headers)  # warm: the first builds the caches
                profiler = cProfile.Profile() if profile else None
                if profiler:
                    profiler.enable()
                started, cpu = time.perf_counter(), time.process_time()
                for path in todo:
                    response = await http.get(path, headers=headers)
                    if response.status_code != 200:
                        raise SystemExit(f"{response.status_code} {path}: {response.text[:200]}")
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
                if profiler:
                    profiler.disable()
                    profiler.dump_stats(OUT / f"serve-{name}.prof")
                # CPU time is steadier than wall time on a busy machine (client included).
                times[name] = {
                    "wall_ms": round(1000 * elapsed / len(todo), 2),
                    "cpu_ms": round(1000 * cpu / len(todo), 2),
                }
    return times


async def load(url: str, key: str, paths: list[str], concurrency: int) -> dict:
    """Send every path once, ``concurrency`` at a time; latencies and errors."""
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    latencies: list[float] = []
    errors: list[str] = []
    async with httpx2.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as http:

        async def worker() -> None:
            while not queue.empty():
                path = queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await http.get(path)
                    await response.aread()
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {path}")
                except httpx2.HTTPError as exc:
                    errors.append(f"{type(exc).__name__} {path}")
                latencies.append(time.perf_counter() - started)

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    ms = sorted(1000 * x for x in latencies)
    return {
        "requests": len(ms),
        "errors": len(errors),
        "first_errors": errors[:5],
        "requests_per_s": round(len(ms) / wall, 1),
        "p50_ms": round(ms[len(ms) // 2], 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
        "max_ms": round(ms[-1], 1),
        # The client shares the machine's cores with the server: what it costs matters.
        "client_cpu_ms": round(1000 * cpu / len(ms), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1600)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=5000, help="Per endpoint.")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--data", type=Path, default=OUT / "serve-data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--in-process", type=int, default=0, metavar="N",
                        help="Also time N requests per endpoint in this process.")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process ones.")
    parser.add_argument("--no-load", action="store_true", help="Skip the server and the load.")
    parser.add_argument("--workers", type=int, help="Server processes (default: serve's).")
    args = parser.parse_args()

    store, db, key = prepare(args.data, args.objects, args.days)
    from floodmark.store import open_store

    catalog = open_store(store).catalog().select("prediction_id", "vector", "metric")
    ids = catalog["prediction_id"].unique().sort().to_list()
    series = catalog.rows()
    rng = random.Random(args.seed)
    paths = {
        "object": [f"/api/v1/objects/{rng.choice(ids)}" for _ in range(args.requests)],
        "series": [
            "/api/v1/objects/{}/series/{}/{}?max_points=8640".format(*rng.choice(series))
            for _ in range(args.requests)
        ],
        "thresholds": [
            f"/api/v1/sets/latest/thresholds?prediction_id={rng.choice(ids)}"
            for _ in range(args.requests)
        ],
    }
    OUT.mkdir(exist_ok=True)
    in_process = {}
    if args.in_process:
        firsts = {name: todo[: args.in_process] for name, todo in paths.items()}
        in_process = asyncio.run(service_times(store, db, key, firsts, args.profile))
        print("in-process ms per request:", in_process, flush=True)
    if args.no_load:
        return
    load_before = os.getloadavg()
    proc, url = start_server(store, db, OUT / "serve.log", args.workers)
    try:
        run_async(load(url, key, paths["object"][:50], 4))  # warm the caches
        results = {}
        for name, todo in paths.items():
            before = process_cpu_s(proc.pid)
            results[name] = run_async(load(url, key, todo, args.concurrency))
            used = {p: s - before.get(p, 0.0) for p, s in process_cpu_s(proc.pid).items()}
            results[name]["server_cpu_ms"] = round(1000 * sum(used.values()) / len(todo), 2)
            # How evenly the workers shared the load: each one's part of the server's CPU.
            workers = sorted((s for p, s in used.items() if p != proc.pid), reverse=True)
            results[name]["worker_cpu_shares"] = [round(s / sum(used.values()), 2) for s in workers]
            results[name]["target_p99_ms"] = TARGETS_MS[name]
            results[name]["in_process_ms"] = in_process.get(name, {}).get("wall_ms")
            results[name]["in_process_cpu_ms"] = in_process.get(name, {}).get("cpu_ms")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)

    table = pl.DataFrame([{"endpoint": k, **v} for k, v in results.items()]).drop("first_errors")
    with pl.Config(tbl_rows=10, tbl_cols=20, tbl_hide_dataframe_shape=True, tbl_width_chars=200):
        print(table)
    for name, result in results.items():
        if result["first_errors"]:
            print(name, "errors:", result["first_errors"])
    record = {
        "objects": len(ids),
        "series": len(series),
        "days": args.days,
        "requests_per_endpoint": args.requests,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "results": results,
    }
    (OUT / "serve.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {OUT / 'serve.json'}")


if __name__ == "__main__":
    main()
