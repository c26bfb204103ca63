"""A rolling backtest: learn D days, test the next R, slide by R, refit at every step."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from floodmark.backtest import BacktestResult, run_backtest
from floodmark.backtest.inject import InjectSpec
from floodmark.backtest.split import rolling_steps, split_series
from floodmark.cli import app
from floodmark.domain import DAY_S
from floodmark.errors import FloodmarkError
from floodmark.schema import LEVELS

DAY = 288  # 5-minute samples a day


def test_every_step_learns_just_before_its_test_and_tests_never_overlap(make_series):
    # two series starting at different times: each is split from its own start
    samples = pl.concat(
        [
            make_series([1.0] * (20 * DAY), pid="a"),
            make_series([1.0] * (15 * DAY), pid="b", start=dt.datetime(2024, 1, 3, tzinfo=dt.UTC)),
        ]
    )
    learn_days, every = 5.0, 3.0
    n = rolling_steps(20 - 1 / DAY, learn_days, every)
    assert n == 5
    tested = []
    for step in range(n):
        part = split_series(samples, learn_days=learn_days, refit_every=every, step=step)
        for (pid,), rows in part.group_by("prediction_id"):
            first = samples.filter(pl.col("prediction_id") == pid)["timestamp"].min()
            learn = rows.filter(pl.col("learn"))["timestamp"]
            test = rows.filter(~pl.col("learn"))["timestamp"]
            start = first + dt.timedelta(days=step * every)
            if learn.len():
                # the learning days are the D days before the test, and only those
                assert learn.min() == start
                assert learn.max() < start + dt.timedelta(days=learn_days)
            if test.len():
                assert learn.len() and learn.max() < test.min()
                assert test.min() == start + dt.timedelta(days=learn_days)
                assert test.max() < start + dt.timedelta(days=learn_days + every)
            tested.append(rows.filter(~pl.col("learn")).select("prediction_id", "timestamp"))
    tested = pl.concat(tested)
    # every sample after each series' first D days is tested exactly once
    assert tested.is_duplicated().sum() == 0
    once = split_series(samples, learn_days=learn_days).filter(~pl.col("learn"))
    assert tested.sort("prediction_id", "timestamp").equals(
        once.select("prediction_id", "timestamp").sort("prediction_id", "timestamp")
    )


def test_a_step_learns_only_its_own_days(tmp_path, make_series, make_store):
    # 10 for two weeks, then 100 for two weeks, then 10 again: re-learning every 7 days,
    # only the week after the jump alarms (it learned the quiet week before it); a step
    # that had seen its own test week would not alarm at all
    passed = [10.0] * (14 * DAY) + [100.0] * (14 * DAY) + [10.0] * (7 * DAY)
    store = make_store(tmp_path / "store", make_series(passed, pid="obj"))
    result = run_backtest(store, ["rule-max"], learn_days=7, refit_every=7)
    assert result.meta.n_steps == 4
    assert result.table["false_alarms"].to_list() == [1] * 4
    assert result.meta.object_days == pytest.approx(28.0)
    # the threshold kept for each series is its last step's: learned on the 100s
    assert result.per_series["threshold"].min() > 100.0
    once = run_backtest(store, ["rule-max"], learn_days=7)
    assert once.meta.object_days == result.meta.object_days


@pytest.fixture
def samples(make_series) -> pl.DataFrame:
    """Two objects of two series, 12 days of daily cycles, an attack on day 9."""
    rng = np.random.default_rng(5)
    frames = []
    for pid in ("a", "b"):
        for vector in ("PT_TCP", "PT_UDP"):
            n = 12 * DAY
            passed = 50 * (1 + 0.5 * np.sin(2 * np.pi * np.arange(n) / DAY))
            passed = (passed * rng.lognormal(0, 0.3, n)).tolist()
            blocked = [0.0] * n
            blocked[9 * DAY + 40 : 9 * DAY + 46] = [800.0] * 6
            frames.append(make_series(passed, blocked, pid=pid, vector=vector))
    return pl.concat(frames)


@pytest.fixture
def two_objects(tmp_path, samples, make_store):
    return make_store(tmp_path / "store", samples)


def test_one_step_is_the_single_split(two_objects):
    kwargs = {
        "learn_days": 5,
        "min_durations": (1, 3),
        "injection": InjectSpec.parse("ramp:4:1,4"),
    }
    methods = ["default", "rule-max", "rule-p95"]
    once = run_backtest(two_objects, methods, **kwargs)
    rolled = run_backtest(two_objects, methods, refit_every=30, **kwargs)
    assert rolled.meta.n_steps == 1 and once.meta.n_steps == 1
    assert once.steps is None and rolled.steps is not None
    assert rolled.table.equals(once.table)
    assert rolled.per_series.equals(once.per_series)
    assert rolled.injected.equals(once.injected)
    assert rolled.injected_by_object.equals(once.injected_by_object)
    assert rolled.meta.object_days == once.meta.object_days
    promised = rolled.meta.expected_false_alarms_per_object_day["default"]
    assert promised == pytest.approx(once.meta.expected_false_alarms_per_object_day["default"])
    assert once.table["attack_episodes"].max() > 0  # the attacks were scored


def test_steps_add_up_as_single_splits_of_their_own_days(
    tmp_path, samples, two_objects, make_store
):
    methods = ["default", "rule-max"]
    rolled = run_backtest(two_objects, methods, learn_days=4, refit_every=2)
    assert rolled.meta.n_steps == 4
    assert rolled.meta.split_text() == "4 days before each 2-day test (4 steps)"
    # step k is the single split of a store holding only its own days
    t0 = samples["timestamp"].min()
    steps = []
    for k in range(4):
        start = t0 + dt.timedelta(days=2 * k)
        days = samples.filter(
            pl.col("timestamp").is_between(start, start + dt.timedelta(days=6), closed="left")
        )
        store = make_store(tmp_path / f"step{k}", days)
        steps.append(run_backtest(store, methods, learn_days=4))
    for column in ("false_alarms", "attack_episodes", "detected"):
        summed = sum(np.array(s.table[column].to_list()) for s in steps)
        assert rolled.table[column].to_list() == summed.tolist(), column
    assert rolled.table["attack_episodes"].max() == 4  # the day-9 attack, once per series
    assert rolled.meta.object_days == pytest.approx(sum(s.meta.object_days for s in steps))
    # the promise: each step's expected false alarms per object-day, weighed by its days
    for level in ("ss", "rl"):
        expected = sum(
            s.meta.expected_false_alarms_per_object_day["default"][level] * s.meta.object_days
            for s in steps
        ) / sum(s.meta.object_days for s in steps)
        got = rolled.meta.expected_false_alarms_per_object_day["default"][level]
        assert got == pytest.approx(expected)
    # the table of steps keeps each step's own figures, its promise and its test days
    assert rolled.steps is not None and rolled.steps["step"].unique().to_list() == [0, 1, 2, 3]
    columns = ["method", "min_duration", "level", "false_alarms", "object_days", "detected"]
    for k, single in enumerate(steps):
        row = rolled.steps.filter(pl.col("step") == k)
        assert row.select(columns).equals(single.table.select(columns))
        promised = single.meta.expected_false_alarms_per_object_day["default"]
        own = row.filter(pl.col("method") == "default")["promised_fa_per_object_day"].to_list()
        assert own == pytest.approx([promised[lv] for lv in LEVELS])
        assert (
            row.filter(pl.col("method") == "rule-max")["promised_fa_per_object_day"].is_null().all()
        )
        assert row["test_start"][0] == (t0 + dt.timedelta(days=2 * k + 4)).isoformat()


def test_rolling_from_the_command_line(tmp_path, two_objects):
    out = tmp_path / "bt.json"
    args = ["backtest", "--store", str(two_objects), "--methods", "default,rule-max", "--quiet"]
    result = CliRunner().invoke(
        app, [*args, "--learn-days", "4", "--refit-every", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "4 days before each 2-day test (4 steps)" in result.output
    assert "default, step by step" in result.output
    back = BacktestResult.from_json(out)
    assert back.meta.n_steps == 4 and back.meta.parameters.refit_every == 2
    assert back.steps is not None and back.steps["step"].n_unique() == 4
    assert back.steps.height == 2 * 4 * len(LEVELS)
    for bad in (["--refit-every", "0"], ["--refit-every", "2", "--learn-fraction", "0.5"]):
        result = CliRunner().invoke(app, [*args, *bad, "--out", str(out)])
        assert result.exit_code == 2, result.output


def test_a_fraction_cannot_roll():
    with pytest.raises(FloodmarkError, match="refit_every"):
        split_series(pl.DataFrame(), learn_fraction=0.5, refit_every=7)


@pytest.mark.parametrize(
    ("split", "named"),
    [
        (["--learn-days", "4", "--refit-every", "inf"], "refit_every"),
        (["--learn-days", "4", "--refit-every", "1e300"], "refit_every"),
        (["--learn-days", "inf"], "learn_days"),
        (["--learn-days", "1e300", "--refit-every", "2"], "learn_days"),
    ],
)
def test_days_beyond_any_timestamp_are_refused_in_one_line(tmp_path, two_objects, split, named):
    out = tmp_path / "bt.json"
    args = ["backtest", "--store", str(two_objects), "--methods", "rule-max", "--quiet"]
    result = CliRunner().invoke(app, [*args, *split, "--out", str(out)])
    # a FloodmarkError is printed as one line by the entry point, anything else as "unexpected"
    assert isinstance(result.exception, FloodmarkError), result.exception
    assert named in str(result.exception)
    assert not out.exists()


def test_a_refit_shorter_than_a_sample_is_refused(two_objects):
    # a step of 1 second over 5-minute samples: billions of steps testing nothing
    with pytest.raises(FloodmarkError, match="refit_every.*300 s"):
        run_backtest(two_objects, ["rule-max"], learn_days=4, refit_every=1 / DAY_S)


def test_a_step_of_the_wrong_type_is_one_line_naming_its_column(tmp_path, two_objects):
    import orjson

    from floodmark.errors import InputFormatError

    path = run_backtest(two_objects, ["rule-max"], learn_days=4, refit_every=2).to_json(
        tmp_path / "bt.json"
    )
    doc = orjson.loads(path.read_bytes())
    doc["steps"][0]["step"] = "x"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(InputFormatError, match="column 'step'") as caught:
        BacktestResult.from_json(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_metadata_of_the_wrong_type_is_one_line_naming_its_field(tmp_path, two_objects):
    import orjson

    from floodmark.errors import InputFormatError

    path = run_backtest(two_objects, ["rule-max"], learn_days=4, refit_every=2).to_json(
        tmp_path / "bt.json"
    )
    doc = orjson.loads(path.read_bytes())
    doc["meta"]["parameters"]["refit_every"] = "weekly"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(InputFormatError, match=r"parameters\.refit_every") as caught:
        BacktestResult.from_json(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
