"""``floodmark backtest`` on a hand-made store."""

from __future__ import annotations

import datetime as dt

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from floodmark.backtest import BacktestResult
from floodmark.cli import app
from floodmark.errors import InsufficientDataError

runner = CliRunner()
DAY = 288


@pytest.fixture
def store(tmp_path, make_series, make_store):
    rng = np.random.default_rng(2)
    passed = (10 * rng.gamma(5.0, 0.2, 5 * DAY)).tolist()
    blocked = [0.0] * (5 * DAY)
    blocked[4 * DAY : 4 * DAY + 3] = [500.0] * 3
    return make_store(tmp_path / "store", make_series(passed, blocked, pid="obj"))


def test_writes_json_and_prints_the_table(tmp_path, store):
    out = tmp_path / "bt.json"
    result = runner.invoke(
        app,
        [
            "backtest",
            "--store",
            str(store),
            "--methods",
            "rule-max,rule-daily",
            "--learn-days",
            "3",
            "--params",
            '{"rule-daily": {"factors": [2, 3, 4, 6]}}',
            "--quiet",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rule-daily" in result.output and "obj-day" in result.output
    doc = orjson.loads(out.read_bytes())
    assert set(doc) == {"meta", "table", "per_series"}
    assert len(doc["table"]) == 8
    assert doc["meta"]["parameters"]["method_params"]["rule-daily"]["factors"] == [2, 3, 4, 6]
    back = BacktestResult.from_json(out)
    assert back.table["attack_episodes"].to_list() == [1] * 8


def test_default_durations_and_inserted_attacks(tmp_path, store):
    out = tmp_path / "bt.json"
    args = ["backtest", "--store", str(store), "--methods", "default,rule-max", "--quiet"]
    args += ["--learn-days", "3", "--min-duration", "1,2", "--inject", "ramp:4:1,8"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "default = budget" in result.output
    assert "default against the competitors" in result.output
    assert "promised and measured" in result.output
    assert "inserted attacks caught, by size" in result.output
    back = BacktestResult.from_json(out)
    assert back.table.select("method", "min_duration").unique().height == 4
    assert back.meta.parameters.inject == "ramp:4:1,8"
    assert back.injected is not None and back.injected["size"].unique().sort().to_list() == [1, 8]
    by_object = back.injected_by_object
    assert by_object is not None and by_object["prediction_id"].unique().to_list() == ["obj"]
    assert by_object.drop("prediction_id").equals(back.injected)


def test_windows_file_and_learn_fraction(tmp_path, store):
    windows = tmp_path / "w.csv"
    start = dt.datetime(2024, 1, 1) + dt.timedelta(days=3, hours=1)
    windows.write_text(f"prediction_id,start,end\nobj,{start},{start + dt.timedelta(hours=1)}\n")
    out = tmp_path / "bt.json"
    args = ["backtest", "--store", str(store), "--methods", "rule-max", "--quiet"]
    args += ["--learn-fraction", "0.5", "--windows", str(windows), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    back = BacktestResult.from_json(out)
    assert back.meta.n_windows == 1 and back.meta.learn_fraction == 0.5
    assert back.table["attack_episodes"].to_list() == [2] * 4


@pytest.mark.parametrize(
    "extra",
    [
        ["--methods", "rule-magic", "--out", "x.json"],
        ["--methods", "rule-max", "--out", "x.csv"],
        ["--methods", "rule-max", "--out", "x.json", "--params", "[1]"],
        ["--methods", "rule-max", "--out", "x.json", "--learn-days", "0"],
        ["--methods", "rule-max", "--out", "x.json", "--min-duration", "0"],
        ["--methods", "rule-max", "--out", "x.json", "--inject", "wave:6:1"],
    ],
)
def test_usage_errors_exit_2(tmp_path, store, extra):
    result = runner.invoke(app, ["backtest", "--store", str(store), *extra])
    assert result.exit_code == 2, result.output


def test_model_without_labels_is_a_named_error(tmp_path, store):
    args = ["backtest", "--store", str(store), "--methods", "model", "--quiet"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "bt.json")])
    assert isinstance(result.exception, InsufficientDataError)
    assert not (tmp_path / "bt.json").exists()


def test_sizes_no_episode_fits_are_explained(tmp_path, store):
    args = ["backtest", "--store", str(store), "--methods", "rule-max", "--quiet"]
    args += ["--learn-days", "3", "--inject", "plateau:100000:2"]  # longer than the test days
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "bt.json")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "inserted attacks caught, by size" in text
    assert "-: no episode of that size was inserted" in text
