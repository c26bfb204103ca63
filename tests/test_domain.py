"""The definitions every layer shares: attack traffic, days, runs, steps, CPUs, the pool."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from floodmark.domain import (
    bounded_map,
    day_start,
    epoch_us,
    is_attack,
    is_baseline,
    median_step_s,
    run_ids,
    utc_day,
    with_series_ids,
)
from floodmark.machine import available_cpus

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def test_attack_is_blocked_above_the_threshold_and_missing_blocked_is_not_an_attack():
    blocked = pl.DataFrame({"blocked": [0.0, 4.9, 5.0, 5.1, None, float("nan"), 1e9]})
    flags = blocked.select(attack=is_attack(5.0), base=is_baseline(5.0))
    assert flags["attack"].to_list() == [False, False, False, True, False, False, True]
    assert flags["base"].to_list() == [not a for a in flags["attack"]]
    ints = pl.DataFrame({"blocked": [0, 1, None]}, schema={"blocked": pl.Int64})
    assert ints.select(is_attack()).to_series().to_list() == [False, True, False]


def test_days_are_utc_calendar_days():
    times = [T0, T0 + timedelta(hours=23, minutes=59), T0 + timedelta(days=1)]
    df = pl.DataFrame({"timestamp": times})
    days = df.select(day=utc_day(epoch_us()))
    assert days["day"].to_list() == [19783, 19783, 19784]
    assert days.select(day_start(pl.col("day"))).to_series().to_list() == [
        T0,
        T0,
        T0 + timedelta(days=1),
    ]


def test_runs_are_numbered_in_row_order():
    df = pl.DataFrame({"a": [1, 1, 2, 2, 1], "b": [0, 0, 0, 1, 1]})
    assert df.select(run_ids("a")).to_series().to_list() == [0, 0, 1, 1, 2]
    assert df.select(run_ids("a", "b")).to_series().to_list() == [0, 0, 1, 2, 3]


def _series(pid: str, n: int, step: int) -> pl.DataFrame:
    ts = [T0 + timedelta(seconds=step * i) for i in range(n)]
    return pl.DataFrame(
        {"prediction_id": pid, "vector": "PT_TCP", "metric": "PPS", "timestamp": ts}
    )


def _steps(frame: pl.DataFrame) -> dict[str, float | None]:
    out = (
        with_series_ids(frame)
        .group_by("sid", maintain_order=True)
        .agg(pl.col("prediction_id").first(), step_s=median_step_s())
    )
    return dict(zip(out["prediction_id"], out["step_s"], strict=True))


def test_step_is_the_median_gap_whatever_the_row_order():
    a = _series("a", 10, 300)
    a = a.filter(~pl.int_range(pl.len()).is_in([4, 5]))  # a gap does not move the median
    b, one = _series("b", 5, 60), _series("c", 1, 60)
    expected = {"a": 300.0, "b": 60.0, "c": None}
    ordered = pl.concat([a, b, one])
    assert _steps(ordered) == expected
    assert _steps(ordered.reverse()) == expected
    assert _steps(ordered.sample(fraction=1.0, shuffle=True, seed=3)) == expected
    assert _steps(pl.concat([a[::2], b, a[1::2], one])) == expected  # a in two runs


def test_series_ids_number_each_series_once_in_time_order():
    frame = pl.concat([_series("b", 3, 60), _series("a", 2, 60)])
    same = with_series_ids(frame)
    assert same["sid"].to_list() == [0, 0, 0, 1, 1]  # already grouped: kept as it is
    shuffled = with_series_ids(frame.reverse())
    assert shuffled["prediction_id"].to_list() == ["a", "a", "b", "b", "b"]
    assert shuffled["sid"].to_list() == [0, 0, 1, 1, 1]
    assert shuffled["timestamp"].is_sorted() is False and (
        shuffled.filter(pl.col("sid") == 1)["timestamp"].is_sorted()
    )


def test_available_cpus_is_at_least_one():
    assert available_cpus() >= 1


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_bounded_map_keeps_order_and_bounds_what_is_in_flight(workers):
    lock = threading.Lock()
    state = {"running": 0, "most": 0, "taken": 0, "ahead": 0}

    def items():
        for i in range(20):
            # never more than `workers` items submitted beyond what was taken
            state["ahead"] = max(state["ahead"], i - state["taken"])
            yield i

    def work(i: int) -> int:
        with lock:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
        with lock:
            state["running"] -= 1
        return i * i

    out = []
    for value in bounded_map(work, items(), workers=workers):
        out.append(value)
        state["taken"] += 1
    assert out == [i * i for i in range(20)]
    assert state["most"] <= workers
    assert state["ahead"] <= workers


def test_bounded_map_raises_the_worker_error():
    def work(i: int) -> float:
        return 1 / (i - 3)

    with pytest.raises(ZeroDivisionError):
        list(bounded_map(work, range(10), workers=2))


def test_is_attack_matches_numpy_comparison_on_finite_values():
    rng = np.random.default_rng(0)
    blocked = rng.choice([0.0, 1.0, 2.0, 3.0], size=100)
    flags = pl.DataFrame({"blocked": blocked}).select(is_attack(2.0)).to_series().to_numpy()
    assert np.array_equal(flags, blocked > 2.0)


def test_the_finite_shortcut_gives_the_same_answer_on_finite_values():
    blocked = pl.DataFrame({"blocked": [0.0, 4.9, 5.0, 5.1, 1e9]})
    full = blocked.select(a=is_attack(5.0), b=is_baseline(5.0))
    fast = blocked.select(a=is_attack(5.0, finite=True), b=is_baseline(5.0, finite=True))
    assert full.equals(fast)
