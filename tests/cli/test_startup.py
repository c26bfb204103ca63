"""The command starts without the heavy stack: ``--help`` and an ingest of unchanged inputs.

Importing Polars, Numba and PyArrow costs about a CPU-second; a user waiting for
``--help`` or re-running a daily ingest of the same export should not pay it.
Each check runs the command in a fresh interpreter and lists what it imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from floodmark.io.vendor import write_vendor_export
from floodmark.schema import LONG_SCHEMA
from floodmark.store import ingest_files, open_store
from floodmark.store.unchanged import unchanged_ingest

HEAVY = ("polars", "numba", "pyarrow", "numpy", "scipy", "sklearn", "plotly")

_RUN_AND_LIST_IMPORTS = """
import sys
from floodmark.cli import main
sys.argv = ["floodmark", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
finally:
    heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
    print("imported:", ",".join(heavy), file=sys.stderr)
"""


def run(*args: str) -> tuple[str, list[str]]:
    """stdout and the heavy modules imported by ``floodmark ARGS`` in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_IMPORTS.format(HEAVY=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    listed = proc.stderr.rsplit("imported:", 1)[1].strip()
    return proc.stdout, [name for name in listed.split(",") if name]


def export(path: Path, values: list[float]) -> Path:
    n = len(values)
    samples = pl.DataFrame(
        {
            "prediction_id": "aa",
            "vector": "PT_SYN",
            "metric": "PPS",
            "timestamp": (1_700_000_000 + 300 * np.arange(n)) * 1_000_000,
            "passed": values,
            "blocked": [0.0] * n,
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))
    return write_vendor_export(samples.cast(LONG_SCHEMA), path)


@pytest.mark.slow  # fresh interpreters
def test_help_imports_no_heavy_module():
    out, heavy = run("--help")
    assert "ingest" in out and "generate" in out
    assert heavy == []


@pytest.mark.slow  # fresh interpreters
def test_ingest_of_unchanged_inputs_answers_before_the_readers(tmp_path):
    path = export(tmp_path / "export.parquet", [1.0, 2.0, 3.0])
    store = tmp_path / "store"
    first = ingest_files(store, [path])
    out, heavy = run("ingest", str(path), "--store", str(store), "--quiet")
    # PyArrow reads the Parquet schema (vendor or long); nothing else is imported.
    assert [name for name in heavy if name not in ("pyarrow", "numpy")] == []
    assert "inputs unchanged since the last ingest, not read again" in out
    assert f"{first.samples_written:,} samples written (0 new)" in out


@pytest.mark.slow  # fresh interpreters
def test_ingest_of_changed_inputs_still_reads_them(tmp_path):
    path = export(tmp_path / "export.parquet", [1.0, 2.0, 3.0])
    store = tmp_path / "store"
    ingest_files(store, [path])
    export(path, [4.0, 5.0, 6.0])  # same name, new bytes
    out, _ = run("ingest", str(path), "--store", str(store), "--quiet")
    assert "1 updated" in out and "not read again" not in out
    assert open_store(store).read_series("aa", "PT_SYN", "PPS")["passed"].to_list() == [4, 5, 6]


def test_unchanged_inputs_are_told_like_the_ingest_tells_them(tmp_path):
    path = export(tmp_path / "export.parquet", [1.0, 2.0, 3.0])
    store = tmp_path / "store"
    assert unchanged_ingest(store, [path]) is None  # no store yet
    first = ingest_files(store, [path])
    again = unchanged_ingest(store, [path])  # the same reading
    assert again is not None and again.skipped
    assert again.describe() == ingest_files(store, [path]).describe()
    assert again.samples_written == first.samples_written
    assert unchanged_ingest(store, [path], format="long") is None  # another reading
    # a format named where it was detected: read again (then recorded), since telling
    # the two apart would mean reading the file's schema
    assert unchanged_ingest(store, [path], format="vendor") is None
    assert unchanged_ingest(store, [path], max_series_bytes=10) is None
    assert unchanged_ingest(store, [path], errors="raise") is None
