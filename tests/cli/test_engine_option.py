"""``--engine``: a usage error when unknown or when Spark options come without it, and a
one-line "install floodmark[spark]" failure when pyspark is missing."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from floodmark.cli import app, main

runner = CliRunner()

COMMANDS = {
    "ingest": ["ingest", "export.parquet", "--store", "s"],
    "features": ["features", "--store", "s", "--out", "f.parquet"],
    "recommend": [
        "recommend",
        "--store",
        "s",
        "--features",
        "f.parquet",
        "--method",
        "rule-max",
        "--out",
        "t.csv",
    ],  # fmt: skip
    "backtest": ["backtest", "--store", "s", "--methods", "rule-max", "--out", "b.json"],
}


@pytest.fixture
def files(tmp_path, monkeypatch):
    """The arguments' files exist, so that only the engine can fail."""
    monkeypatch.chdir(tmp_path)
    import polars as pl

    import floodmark as fm

    fm.generate_fleet("export.parquet", objects=1, days=2)
    fm.ingest_files("s", ["export.parquet"])
    pl.DataFrame({"prediction_id": ["x"], "vector": ["PT_TCP"], "metric": ["PPS"]}).write_parquet(
        "f.parquet"
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_unknown_engine_and_stray_spark_options_are_usage_errors(name, files):
    assert runner.invoke(app, [*COMMANDS[name], "--engine", "dask"]).exit_code == 2
    stray = runner.invoke(app, [*COMMANDS[name], "--spark-conf", "spark.x=1"])
    assert stray.exit_code == 2


@pytest.mark.parametrize("name", COMMANDS)
def test_spark_engine_without_pyspark_says_which_extra_to_install(name, files, monkeypatch, capsys):
    for module in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, module)
    for module in [m for m in sys.modules if m.startswith("floodmark.spark")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now fails
    monkeypatch.setattr(sys, "argv", ["floodmark", *COMMANDS[name], "--engine", "spark"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "install floodmark[spark]" in err
