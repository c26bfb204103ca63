"""The store lock: one ingest at a time, and never held by a process that is gone."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from store_builders import batch, regular, series_frame

from floodmark.errors import StoreError
from floodmark.io.vendor import write_vendor_export
from floodmark.store import ingest, ingest_files, layout, open_store

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _one() -> list:
    return [batch(series_frame("id1", "PT_SYN", "PPS", regular(10), np.ones(10)))]


@pytest.fixture
def filled(store_dir: Path) -> Path:
    ingest(store_dir, _one())
    return store_dir


_HOLD_AND_FORK = """
import os, signal, sys, time
from pathlib import Path
from floodmark.store import layout
with layout.exclusive_lock(Path(sys.argv[1])):
    child = os.fork()
    if child == 0:  # an orphan-to-be that inherited every descriptor, as a worker does
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)  # but not the pipes the test reads to their end
        os.dup2(quiet, 2)
        time.sleep(60)
        os._exit(0)
    print(os.getpid(), child, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_lock_of_a_killed_ingest_is_taken_over_with_a_notice(filled, caplog):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_HOLD_AND_FORK), str(filled)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    holder, orphan = map(int, proc.stdout.split())
    try:
        assert proc.returncode == -signal.SIGKILL
        with caplog.at_level(logging.WARNING, logger="floodmark"):
            ingest(filled, [batch(series_frame("id2", "PT_SYN", "PPS", regular(5), np.ones(5)))])
        notices = [r.getMessage() for r in caplog.records]
        assert len(notices) == 1
        assert f"pid {holder}," in notices[0] and "taking over" in notices[0]
        assert open_store(filled).catalog().height == 2
        caplog.clear()
        ingest(filled, _one())  # released cleanly this time: no notice
        assert not caplog.records
    finally:
        os.kill(orphan, signal.SIGKILL)


_HOLD_UNTIL_STDIN_CLOSES = """
import sys
from pathlib import Path
from floodmark.store import layout
with layout.exclusive_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_second_concurrent_ingest_is_refused_naming_the_holder(filled):
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_HOLD_UNTIL_STDIN_CLOSES), str(filled)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(StoreError, match=f"another ingest \\(pid {holder.pid}, since "):
                ingest(filled, _one())
        finally:
            holder.stdin.close()
        assert holder.wait(timeout=60) == 0
    ingest(filled, _one())


def test_second_ingest_in_the_same_process_is_refused(filled):
    with layout.exclusive_lock(filled):
        errors = []
        other = threading.Thread(target=lambda: _try_ingest(filled, errors))
        other.start()
        other.join()
        assert len(errors) == 1 and "another ingest" in str(errors[0])
    ingest(filled, _one())


def _try_ingest(root: Path, errors: list) -> None:
    try:
        ingest(root, _one())
    except StoreError as exc:
        errors.append(exc)


# --- kill -9 of `floodmark ingest --workers 2` at random moments ---------------------


def _group(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            pids.append(int(entry.name))
    return pids


def _wait_for(condition, tries: int = 1000) -> bool:
    """Poll ``condition`` every 10 ms, at most ``tries`` times."""
    for _ in range(tries):
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture(scope="module")
def large_export(tmp_path_factory) -> Path:
    """Enough series that two workers decode for a good fraction of a second."""
    n, step = 2_000, 300
    ts = (1_700_000_000 + step * np.arange(n)) * 1_000_000
    frames = [
        pl.DataFrame(
            {
                "prediction_id": f"id{i:04d}",
                "vector": "PT_SYN",
                "metric": "PPS",
                "timestamp": ts,
                "passed": np.arange(n, dtype=np.float64) + i,
                "blocked": np.where(np.arange(n) % 97 == 0, 3.0, 0.0),
            }
        )
        for i in range(600)
    ]
    samples = pl.concat(frames).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))
    return write_vendor_export(samples, tmp_path_factory.mktemp("export") / "export.parquet")


@linux_only
@pytest.mark.slow
def test_killed_parent_takes_its_workers_along_and_frees_the_store(tmp_path, large_export):
    reference = tmp_path / "reference"
    ingest_files(reference, [large_export])
    expected = open_store(reference).read_series()
    cli = Path(sys.executable).with_name("floodmark")
    rng = np.random.default_rng(10)
    for trial in range(10):
        store = tmp_path / f"store-{trial}"
        parent = subprocess.Popen(
            [cli, "ingest", large_export, "--store", store, "--workers", "2"],
            start_new_session=True,  # its own process group: the workers are findable
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Kill while the workers run: after they appear, at a random moment.
            _wait_for(lambda p=parent: len(_group(p.pid)) >= 3 or p.poll() is not None)
            time.sleep(rng.uniform(0.0, 0.4))
            parent.kill()
            parent.wait(timeout=60)
            assert _wait_for(lambda p=parent: not _group(p.pid)), "workers outlived the parent"
        finally:
            for pid in _group(parent.pid):
                os.kill(pid, signal.SIGKILL)
        ingest_files(store, [large_export])  # never "another ingest is writing this store"
        assert_frame_equal(open_store(store).read_series(), expected)
        assert len(list((store / layout.VERSIONS).iterdir())) == 1
