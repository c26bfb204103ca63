"""Building a SparkSession for floodmark's jobs, and the lazy pyspark import."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from floodmark.errors import FloodmarkError

DEFAULT_MASTER = "local[*]"


def require_pyspark() -> ModuleType:
    """``pyspark.sql``, or a one-line error saying which extra to install."""
    try:
        import pyspark.sql
    except ImportError:
        raise FloodmarkError(
            "the Spark engine needs pyspark: install floodmark[spark] (and Java 17)"
        ) from None
    return pyspark.sql


def temporary_scratch() -> Path:
    """A fresh folder for Spark's scratch space, removed when this process exits
    (Spark empties it but leaves the folder, one per command, in the temp dir)."""
    scratch = Path(tempfile.mkdtemp(prefix="floodmark-spark-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch


def parse_conf(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` (``--spark-conf``) as a dict; a pair without ``=`` is refused."""
    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise FloodmarkError(f"--spark-conf {pair!r} is not KEY=VALUE")
        conf[key.strip()] = value.strip()
    return conf


def spark_session(
    master: str = DEFAULT_MASTER,
    conf: Mapping[str, str] | None = None,
    *,
    app_name: str = "floodmark",
    scratch_dir: str | Path | None = None,
):
    """A SparkSession (``getOrCreate``) for ``master`` with ``conf`` applied.

    In local mode the Python workers must run this interpreter (its packages are
    floodmark's), so ``PYSPARK_PYTHON``/``PYSPARK_DRIVER_PYTHON`` default to it;
    on a cluster they are the deployment's to set. Spark's scratch space and SQL
    warehouse go to ``scratch_dir`` (a fresh temporary folder by default) so that
    no run leaves ``spark-warehouse/`` in the working directory.
    """
    sql = require_pyspark()
    if master.startswith("local"):
        # Read by SparkContext when it starts: the one way to choose the workers' Python.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    scratch = Path(scratch_dir) if scratch_dir else temporary_scratch()
    settings = {
        # Arrow batches carry timestamps in the session zone: the kernels' days are UTC days.
        "spark.sql.session.timeZone": "UTC",
        # Parquet timestamps as the store writes them (micros, UTC), not legacy INT96.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.local.dir": str(scratch / "local"),
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        "spark.ui.showConsoleProgress": "false",
        **(conf or {}),
    }
    builder = sql.SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
