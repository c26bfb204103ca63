"""``--engine``, ``--spark-master``, ``--spark-conf``: where a command computes.

``local`` (default) runs on this machine; ``spark`` runs the same kernels as Spark
jobs (``floodmark.spark``), which needs ``floodmark[spark]`` and Java 17.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer

ENGINES = ("local", "spark")

Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="local (this machine) or spark (Spark jobs; needs floodmark\\[spark] and Java 17).",
    ),
]
SparkMaster = Annotated[
    str,
    typer.Option(
        "--spark-master",
        help="With --engine spark: the master URL (local[*], yarn, k8s://HOST:PORT, spark://…).",
    ),
]
SparkConf = Annotated[
    list[str] | None,
    typer.Option(
        "--spark-conf",
        help="With --engine spark: a Spark setting KEY=VALUE (repeatable), "
        "e.g. spark.executor.memory=4g.",
    ),
]


def use_spark(engine: str, master: str, conf: list[str] | None) -> bool:
    """Whether ``--engine`` is spark (a usage error for an unknown engine or stray options)."""
    if engine not in ENGINES:
        raise typer.BadParameter(f"choose from {', '.join(ENGINES)}", param_hint="--engine")
    if engine != "spark" and (conf or master != "local[*]"):
        raise typer.BadParameter("only with --engine spark", param_hint="--spark-master/--conf")
    return engine == "spark"


@contextlib.contextmanager
def spark_engine(master: str, conf: list[str] | None) -> Iterator[object]:
    """A SparkSession for one command, stopped when it is done (unless it was running
    before, as in a notebook: it is then used and left running)."""
    from floodmark.spark.session import parse_conf, require_pyspark, spark_session

    sql = require_pyspark()  # "install floodmark[spark]" before anything else happens
    running = sql.SparkSession.getActiveSession()
    session = spark_session(master, parse_conf(conf or []))
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        if running is None:
            session.stop()
