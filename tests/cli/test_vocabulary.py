"""One CLI vocabulary: a shared option has one name, one help text and one default."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from floodmark.cli import app
from floodmark.cli.options import CHUNK_ROWS

runner = CliRunner()
COMMANDS = typer.main.get_command(app).commands
LONG_RUNNING = ("generate", "ingest", "features", "recommend", "backtest")


def _option(command: str, name: str):
    found = [p for p in COMMANDS[command].params if name in p.opts]
    return found[0] if found else None


@pytest.mark.parametrize(
    "name, commands",
    [
        ("--chunk-rows", ("features", "recommend", "backtest")),
        ("--blocked-threshold", ("features", "backtest", "plot")),
        ("--quiet", LONG_RUNNING),
        ("--store", ("recommend", "backtest", "plot", "report", "train")),
    ],
)
def test_a_shared_option_has_one_help_and_one_default(name, commands):
    options = {command: _option(command, name) for command in commands}
    assert all(options.values()), {c: o for c, o in options.items() if o is None}
    assert len({o.help for o in options.values()}) == 1, {c: o.help for c, o in options.items()}
    assert len({o.default for o in options.values()}) == 1


def test_chunk_rows_default_is_the_library_default():
    from floodmark.features.chunked import CHUNK_ROWS as LIBRARY_CHUNK_ROWS

    assert _option("features", "--chunk-rows").default == CHUNK_ROWS == LIBRARY_CHUNK_ROWS


@pytest.mark.parametrize("command", ["generate", "ingest", "features"])
def test_workers_help_says_what_a_worker_is_and_its_default(command):
    help_text = _option(command, "--workers").help
    assert help_text.startswith("Parallel workers (")
    assert "default: " in help_text and " cores here)" in help_text


@pytest.mark.parametrize(
    "args",
    [
        ["--learn-days", "0"],
        ["--learn-days", "-1"],
        ["--learn-fraction", "0"],
        ["--learn-fraction", "1"],
    ],
)
def test_backtest_split_out_of_range_is_a_usage_error(tmp_path, args):
    result = runner.invoke(
        app,
        ["backtest", "--store", str(tmp_path), "--methods", "rule-max", "--out", "x.json", *args],
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output


def test_recommend_help_describes_evt_as_it_is():
    text = " ".join(runner.invoke(app, ["recommend", "--help"]).output.split())
    assert "GEV" in text and "daily maxima" in text
    assert "Pareto" not in text and "SPOT" not in text


def test_quiet_is_on_every_command_with_a_progress_bar_and_the_demo_passes_it_on():
    from floodmark.cli.demo import QUIET_COMMANDS

    with_quiet = {name for name in COMMANDS if _option(name, "--quiet")}
    assert with_quiet == {*LONG_RUNNING, "demo"}
    assert set(QUIET_COMMANDS) == set(LONG_RUNNING)
