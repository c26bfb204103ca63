"""``floodmark generate``: exit 0 with a summary line, exit 2 on bad arguments."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from floodmark.cli.generate import register

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Group mode, as in the real command."""

    register(app)
    return app


def test_generate_writes_the_fleet_and_a_summary(app, tmp_path: Path):
    out = tmp_path / "fleet.parquet"
    args = ["generate", "--objects", "2", "--days", "1", "--seed", "3", "--out", str(out)]
    result = runner.invoke(app, [*args, "--workers", "1", "--step", "600"])
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    assert frame.height == 2 * 26
    text = " ".join(result.output.split())
    assert "2 objects" in text and "52 series" in text and "fleet.parquet" in text


@pytest.mark.parametrize(
    "bad",
    [
        ["--objects", "0"],
        ["--days", "0"],
        ["--step", "0"],
        ["--step", "7"],
        ["--step", "-300"],
        ["--workers", "0"],
        ["--seed", "-1"],
        ["--start", "yesterday"],
        ["--objects", "many"],
    ],
)
def test_bad_arguments_exit_2(app, tmp_path: Path, bad):
    out = tmp_path / "fleet.parquet"
    result = runner.invoke(app, ["generate", "--out", str(out), *bad])
    assert result.exit_code == 2, result.output
    assert not out.exists()


def test_out_must_be_parquet(app, tmp_path: Path):
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "fleet.csv")])
    assert result.exit_code == 2
    assert "parquet" in result.output


def test_help_explains_what_is_generated(app):
    result = runner.invoke(app, ["generate", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for word in ("vendor export", "attacks", "flash crowds", "--seed", "ip_ss"):
        assert word in text
