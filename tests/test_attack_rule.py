"""Every layer calls the same samples attack traffic: features, thresholds, backtest, report.

One series over three UTC days whose ``blocked`` values straddle a non-zero threshold
(below, equal, just above, far above), with and without missing values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from floodmark.backtest.episodes import label_samples
from floodmark.features import compute_features
from floodmark.features.daily import kept_samples
from floodmark.features.prepare import prepare
from floodmark.report.data import attack_periods, daily_aggregates
from floodmark.report.series import series_figure
from floodmark.schema import LONG_SCHEMA
from floodmark.thresholds.dailymax import daily_maxima
from floodmark.thresholds.samples import daily_max_quantile, non_blocked

THRESHOLD = 5.0
T0 = datetime(2024, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=30)
N = 3 * 48  # three days


def _samples(with_nulls: bool) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    passed = rng.uniform(10, 100, N)
    blocked = np.zeros(N)
    blocked[10:14] = [4.0, 5.0, 5.5, 9.0]  # one attack run: 5.5 and 9 (5 is not above)
    blocked[60:66] = 50.0  # a second run on day 2
    blocked[100] = 2.0  # blocked, but below the threshold
    passed[[12, 13, 60]] = [500.0, 900.0, 700.0]  # attacks carry the day's highest passed
    frame = pl.DataFrame(
        {
            "prediction_id": "obj",
            "vector": "PT_TCP",
            "metric": "PPS",
            "timestamp": [T0 + i * STEP for i in range(N)],
            "passed": passed,
            "blocked": blocked,
        }
    ).cast(LONG_SCHEMA)
    if with_nulls:  # a missing blocked value: nothing was blocked
        frame = frame.with_columns(
            blocked=pl.when(pl.int_range(pl.len()).is_in([20, 61])).then(None).otherwise("blocked")
        )
    return frame


def _expected_attack(frame: pl.DataFrame) -> np.ndarray:
    blocked = frame["blocked"].fill_null(0.0).to_numpy()
    return blocked > THRESHOLD


@pytest.mark.parametrize("with_nulls", [False, True])
def test_every_layer_agrees_on_which_samples_are_attacks(with_nulls):
    frame = _samples(with_nulls)
    attack = _expected_attack(frame)
    assert attack.sum() == 2 + 6 - with_nulls  # the null at row 61 is not an attack
    times = frame["timestamp"]

    # thresholds: the baseline the rules and evt learn from
    base = non_blocked(frame, THRESHOLD)
    assert base["timestamp"].to_list() == times.filter(~pl.Series(attack)).to_list()
    assert (
        daily_maxima(frame, blocked_threshold=THRESHOLD, coverage=0.0)["n"][0] == N - attack.sum()
    )
    p95 = daily_max_quantile(frame, quantile=1.0, blocked_threshold=THRESHOLD)
    assert p95["value"][0] == frame["passed"].filter(~pl.Series(attack)).max()

    # backtest: attack episodes are the runs of attack samples
    labelled = label_samples(frame, blocked_threshold=THRESHOLD)
    assert np.array_equal(labelled["attack"].to_numpy(), attack)

    # report: what is shaded and what the daily markers leave out
    runs = attack_periods(frame, blocked_threshold=THRESHOLD)
    shaded = np.zeros(N, dtype=bool)
    for start, end in runs.select("start", "end").iter_rows():
        shaded |= ((times >= start) & (times <= end)).to_numpy()
    assert np.array_equal(shaded, attack)
    daily = daily_aggregates(frame, blocked_threshold=THRESHOLD)
    by_day = (
        base.group_by(pl.col("timestamp").dt.date().alias("d"), maintain_order=True)
        .agg(pl.col("passed").max())
        .sort("d")
    )
    assert daily["daily_max"].to_list() == by_day["passed"].to_list()
    figure = series_figure(frame, blocked_threshold=THRESHOLD)
    rects = [s for s in figure.layout.shapes if s.type == "rect"]
    assert len(rects) == runs.height == np.count_nonzero(np.diff(attack.astype(int)) == 1)
    calm = next(t for t in figure.data if t.name == "passed, attacks removed")
    assert np.array_equal(np.isnan(np.asarray(calm.y, dtype=float)), attack)

    # features (they refuse missing values, so they see blocked = 0 where it is null)
    complete = frame.with_columns(pl.col("blocked").fill_null(0.0))
    prepared = prepare(complete)
    kept = kept_samples(prepared.samples, THRESHOLD)
    assert np.array_equal(kept["passed"].is_null().to_numpy(), attack)
    features = compute_features(complete, blocked_threshold=THRESHOLD)
    assert features["daily_max_1"][0] == daily["daily_max"].max()
