"""rule-max and rule-daily: the arithmetic, the p95 variant and the fallbacks."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from threshold_data import T0, series

from floodmark.errors import FloodmarkError
from floodmark.schema import LEVELS
from floodmark.thresholds import Floors, RuleDaily, RuleMax

NO_FLOORS = Floors((("*", "*", (0.0, 0.0, 0.0, 0.0)),))


def _features(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(n)],
            "vector": ["PT_UDP"] * n,
            "metric": ["BW"] * n,
            **{k: pl.Series(v, dtype=pl.Float64) for k, v in columns.items()},
        }
    )


def _levels(table: pl.DataFrame) -> np.ndarray:
    return table.select(LEVELS).to_numpy()


def test_rule_max_multiplies_the_largest_daily_max():
    features = _features(daily_max_1=[10.0, 4.0], passed_val_mean=[2.0, 1.0])
    table = RuleMax(floors=NO_FLOORS).fit(features).predict(features)
    np.testing.assert_allclose(_levels(table), [[12, 15, 20, 30], [4.8, 6, 8, 12]])
    assert table["basis"][0] == "1.2/1.5/2/3 × daily_max_1 (=10)"


def test_rule_max_mean_and_custom_factors():
    features = _features(daily_max_1=[10.0], passed_val_mean=[2.0])
    mean = RuleMax(statistic="mean", floors=NO_FLOORS).fit(features).predict(features)
    np.testing.assert_allclose(_levels(mean), [[6, 10, 16, 24]])
    custom = RuleMax(factors=[1, 1, 2, 2], floors=NO_FLOORS).fit(features).predict(features)
    np.testing.assert_allclose(_levels(custom), [[10, 10, 20, 20]])


def test_rule_daily_is_multiples_of_daily_max_q90():
    features = _features(daily_max_q90=[4.0, 0.5])
    table = RuleDaily(floors=NO_FLOORS).fit(features).predict(features)
    np.testing.assert_allclose(_levels(table), [[6, 8, 12, 20], [0.75, 1, 1.5, 2.5]])
    # nw is the notebook's 3 × daily_max_q90 line
    assert table["nw"].to_list() == [12.0, 1.5]


@pytest.mark.parametrize(
    "params",
    [
        {"factors": (1, 2, 3)},
        {"factors": (3, 2, 4, 5)},
        {"factors": (0, 1, 2, 3)},
        {"variant": "p99"},
    ],
)
def test_rule_daily_rejects_bad_parameters(params):
    features = _features(daily_max_q90=[4.0])
    with pytest.raises(FloodmarkError, match="rule-daily"):
        RuleDaily(**params).fit(features)


def test_rule_max_rejects_unknown_statistic():
    with pytest.raises(FloodmarkError, match="statistic"):
        RuleMax(statistic="median").fit(_features(daily_max_1=[1.0]))


def test_null_statistic_falls_back_to_floors_and_says_so():
    features = _features(daily_max_q90=[None, float("nan"), 3.0])
    table = RuleDaily().fit(features).predict(features)
    floor = np.array(Floors.default().lookup("PT_UDP", "BW"))
    np.testing.assert_allclose(_levels(table)[:2], [floor, floor])
    assert table["fallback"][0].startswith("floors: no baseline traffic")
    assert table["fallback"][1].startswith("floors: no baseline traffic")
    assert table["fallback"][2] is None


def test_zero_traffic_gets_the_floor_not_zero():
    features = _features(daily_max_1=[0.0])
    table = RuleMax().fit(features).predict(features)
    np.testing.assert_allclose(_levels(table)[0], Floors.default().lookup("PT_UDP", "BW"))
    assert table["basis"][0].endswith("floored ss, sc, nw, rl")


def _three_days():
    # Day 1 max 5, day 2 max 9 (a blocked sample of 100 must not count), day 3 max 7;
    # a sample at 23:55 belongs to its UTC day.
    values = np.full(3 * 288, 1.0)
    blocked = np.zeros_like(values)
    values[100], values[288 + 50], values[2 * 288 + 287] = 5.0, 9.0, 7.0
    values[288 + 60], blocked[288 + 60] = 100.0, 3.0
    samples = series(values, blocked=blocked)
    assert samples["timestamp"][2 * 288 + 287] == T0 + timedelta(days=2, hours=23, minutes=55)
    return samples


def test_rule_daily_p95_reads_daily_maxima_from_samples():
    samples = _three_days()
    features = _features(daily_max_q90=[123.0]).with_columns(
        prediction_id=pl.lit("a1"), vector=pl.lit("PT_TCP"), metric=pl.lit("PPS")
    )
    method = RuleDaily(variant="p95", floors=NO_FLOORS).fit(features, samples)
    p95 = float(np.quantile([5.0, 9.0, 7.0], 0.95))
    expected = p95 * np.array([1.5, 2, 3, 5])
    np.testing.assert_allclose(_levels(method.predict(features))[0], expected)
    # predict applies what fit learned: it takes no samples to learn again from
    with pytest.raises(TypeError):
        method.predict(features, samples.with_columns(pl.col("passed") * 2))
    np.testing.assert_allclose(_levels(method.predict(features))[0], expected)
    # a blocked threshold above 3 makes the 100 baseline traffic
    loose = RuleDaily(variant="p95", blocked_threshold=5.0, floors=NO_FLOORS).fit(features, samples)
    high = float(np.quantile([5.0, 100.0, 7.0], 0.95))
    np.testing.assert_allclose(loose.predict(features)["ss"][0], 1.5 * high)


def test_rule_daily_p95_without_samples_falls_back_to_q90():
    features = _features(daily_max_q90=[4.0])
    table = RuleDaily(variant="p95", floors=NO_FLOORS).fit(features).predict(features)
    np.testing.assert_allclose(_levels(table), [[6, 8, 12, 20]])
    assert table["fallback"][0].startswith("rule-daily q90: no baseline samples")
    assert RuleDaily(variant="p95").needs_samples and not RuleDaily().needs_samples
