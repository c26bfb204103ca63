"""``budget`` (the default method) is fitted once over the whole fleet: the store's chunk
size, which only bounds memory, never changes a threshold."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from floodmark.backtest import run_backtest
from floodmark.features import compute_features
from floodmark.schema import LEVELS, LONG_SCHEMA
from floodmark.store import open_store
from floodmark.thresholds import Budget, recommend_thresholds

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAY = 288
DAYS = 10
#: rows of one series: a chunk this small holds one series, a large one the whole store
ONE_SERIES = DAYS * DAY
WHOLE_STORE = 10_000_000


def _fleet(seed: int) -> pl.DataFrame:
    """16 series of 4 objects: noisy daily cycles of different sizes, two attacks in the
    first week and one in the last days of each, a flash crowd on some."""
    rng = np.random.default_rng(seed)
    n = DAYS * DAY
    t = np.arange(n) / DAY
    frames = []
    for i in range(16):
        level = float(rng.lognormal(4, 1))
        passed = level * (1 + 0.5 * np.sin(2 * np.pi * t)) * rng.lognormal(0, 0.3, n)
        blocked = np.zeros(n)
        for day in (*rng.choice(6, 2, replace=False), 8):
            start = int(day * DAY + rng.integers(0, DAY - 20))
            blocked[start : start + 6] = level * float(rng.lognormal(1.5, 1))
        if i % 3 == 0:
            crowd = int(rng.integers(2 * DAY, n - DAY))
            passed[crowd : crowd + 24] *= 4
        frames.append(
            pl.DataFrame(
                {
                    "prediction_id": f"o{i // 4}",
                    "vector": ["PT_TCP", "PT_UDP", "PT_ICMP", "PT_TOTAL"][i % 4],
                    "metric": "PPS",
                    "timestamp": [T0 + dt.timedelta(minutes=5 * k) for k in range(n)],
                    "passed": passed,
                    "blocked": blocked,
                },
                schema=LONG_SCHEMA,
            )
        )
    return pl.concat(frames)


@pytest.fixture(params=[3, 19])
def store(request, tmp_path, make_store):
    return open_store(make_store(tmp_path / "store", _fleet(request.param)))


def test_backtest_thresholds_do_not_depend_on_the_chunk_size(store):
    one, whole = (
        run_backtest(store, ["default"], learn_days=7, chunk_rows=rows)
        for rows in (ONE_SERIES, WHOLE_STORE)
    )
    assert one.per_series.height == 16 * len(LEVELS)
    assert one.per_series.equals(whole.per_series)
    assert one.table.equals(whole.table)
    # the promise too (summed in chunk order: equal up to rounding)
    promised = one.meta.expected_false_alarms_per_object_day["default"]
    assert promised == pytest.approx(whole.meta.expected_false_alarms_per_object_day["default"])


def test_recommended_thresholds_do_not_depend_on_the_chunk_size(store):
    features = compute_features(store.read_series())
    one, whole = (
        recommend_thresholds(features, Budget(), store=store, chunk_rows=rows)
        for rows in (ONE_SERIES, WHOLE_STORE)
    )
    assert one.height == 16 and one["fallback"].is_null().all()
    assert one.equals(whole)
    # the one fit is the fit of every series together
    direct = Budget().fit(features, store.read_series()).predict(features)
    assert one.equals(direct)


def test_library_and_commands_read_the_store_in_the_same_chunks():
    import inspect

    from floodmark.cli.options import CHUNK_ROWS
    from floodmark.features.chunked import CHUNK_ROWS as FEATURE_CHUNK_ROWS
    from floodmark.thresholds.recommend import recommend_by_name

    for function in (run_backtest, recommend_thresholds, recommend_by_name):
        default = inspect.signature(function).parameters["chunk_rows"].default
        assert default == CHUNK_ROWS == FEATURE_CHUNK_ROWS, function.__name__


def test_a_rolling_backtest_does_not_depend_on_the_chunk_size(store):
    from floodmark.backtest.inject import InjectSpec

    one, whole = (
        run_backtest(
            store,
            ["default", "rule-max"],
            learn_days=4,
            refit_every=2,
            chunk_rows=rows,
            injection=InjectSpec.parse("plateau:3:1,4"),
        )
        for rows in (ONE_SERIES, WHOLE_STORE)
    )
    assert one.meta.n_steps == whole.meta.n_steps == 3
    assert one.per_series.equals(whole.per_series)
    assert one.table.equals(whole.table)
    assert one.injected is not None and one.injected.equals(whole.injected)
    assert one.injected["episodes"].to_list() == [16 * 3] * (2 * len(LEVELS) * 2)
    promised = one.meta.expected_false_alarms_per_object_day["default"]
    assert promised == pytest.approx(whole.meta.expected_false_alarms_per_object_day["default"])
