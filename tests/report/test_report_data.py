"""What the report selects and places: rows, labels, daily markers, attack runs, worst fits."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import polars as pl
import pytest
from report_fleet import PER_DAY, make_series

from floodmark.errors import FloodmarkError
from floodmark.report.data import (
    as_row,
    attack_periods,
    daily_aggregates,
    expert_pairs,
    has_labels,
    require_series,
    select_series,
    worst_fitting,
)


def test_daily_aggregates_match_a_plain_numpy_oracle():
    s = make_series(days=4, attacks=((PER_DAY + 10, 30),), seed=3)
    # A whole day blocked: it has no baseline and must be absent, not zero.
    s = s.with_columns(
        blocked=pl.when(pl.col("timestamp").dt.day() == 3).then(9.0).otherwise("blocked")
    )
    got = daily_aggregates(s)
    per_day = defaultdict(list)
    for t, passed, blocked in s.select("timestamp", "passed", "blocked").iter_rows():
        if blocked <= 0:
            per_day[t.date()].append(passed)
    assert [d.date() for d in got["day"]] == sorted(per_day)
    for day, mx, q90 in got.iter_rows():
        values = np.array(per_day[day.date()])
        assert mx == pytest.approx(values.max())
        assert q90 == pytest.approx(np.percentile(values, 90))
    assert 3 not in [d.day for d in got["day"]]


def test_daily_aggregates_respect_the_blocked_threshold():
    s = make_series(days=2, attacks=((10, 5),), spike_at=None)
    kept_all = daily_aggregates(s, blocked_threshold=1e12)
    assert kept_all["daily_max"][0] == pytest.approx(s["passed"].head(PER_DAY).max())
    assert daily_aggregates(s.head(0)).height == 0


def test_attack_periods_are_runs_of_blocked_samples():
    s = make_series(days=1, attacks=((5, 3), (8, 0), (100, 1), (200, 4)), spike_at=None)
    runs = attack_periods(s.sample(fraction=1.0, shuffle=True, seed=1))
    ts = s["timestamp"]
    assert runs.rows() == [(ts[5], ts[7], 3), (ts[100], ts[100], 1), (ts[200], ts[203], 4)]
    assert attack_periods(make_series(days=1, attacks=())).height == 0


def test_require_series_names_what_is_unknown():
    catalog = pl.DataFrame(
        {"prediction_id": ["a", "a"], "vector": ["PT_SYN", "PT_SYN"], "metric": ["PPS", "BW"]}
    )
    assert require_series(catalog, "a", "PT_SYN", "BW")["metric"] == "BW"
    with pytest.raises(FloodmarkError, match="unknown object 'zz'"):
        require_series(catalog, "zz", "PT_SYN", "PPS")
    with pytest.raises(FloodmarkError, match="no vector 'PT_UDP'.*PT_SYN"):
        require_series(catalog, "a", "PT_UDP", "PPS")
    with pytest.raises(FloodmarkError, match="no metric 'XX'.*BW, PPS") as err:
        require_series(catalog, "a", "PT_SYN", "XX")
    assert err.value.series == "a/PT_SYN/XX"


def test_select_series_and_as_row():
    t = pl.DataFrame(
        {
            "prediction_id": ["a", "a", "b"],
            "vector": ["V"] * 3,
            "metric": ["PPS"] * 3,
            "method": ["evt", "rule-daily", "evt"],
            "ss": [1.0, 2.0, 3.0],
        }
    )
    assert select_series(t, "a", "V", "PPS").height == 2
    assert select_series(t, "a", "V", "PPS", method="rule-daily")["ss"].to_list() == [2.0]
    assert as_row(select_series(t, "b", "V", "PPS"))["ss"] == 3.0
    assert as_row(select_series(t, "c", "V", "PPS")) is None
    with pytest.raises(FloodmarkError, match="one row"):
        as_row(t)
    with pytest.raises(FloodmarkError, match="key columns"):
        select_series(t.drop("vector"), "a", "V", "PPS")


def _labels(values: dict[str, list]) -> pl.DataFrame:
    n = len(next(iter(values.values())))
    base = {
        "prediction_id": [f"o{i}" for i in range(n)],
        "vector": ["V"] * n,
        "metric": ["PPS"] * n,
    }
    return pl.DataFrame(base | values, schema_overrides={k: pl.Float64 for k in values})


def test_expert_pairs_and_worst_fitting_rank_by_log_ratio():
    catalog = _labels({"ip_ss": [10.0, 10.0, 10.0, None], "ip_rl": [100.0, 100.0, 0.0, 5.0]})
    thresholds = _labels(
        {
            "ss": [11.0, 80.0, 2.0, 1.0],
            "sc": [1.0] * 4,
            "nw": [1.0] * 4,
            "rl": [100.0, 100.0, 50.0, 5.0],
        }
    ).with_columns(method=pl.lit("m"))
    pairs = expert_pairs(thresholds, catalog)
    # Missing labels are not pairs; sc/nw have no label column at all.
    assert sorted(pairs["level"].unique().to_list()) == ["rl", "ss"]
    assert pairs.height == 3 + 4
    worst = worst_fitting(pairs, 2)
    # o1: ln(80/10); o2: ln(2/10) at ss (its rl expert is 0, which cannot be ranked).
    assert worst["prediction_id"].to_list() == ["o1", "o2"]
    assert worst["level"].to_list() == ["ss", "ss"]
    assert worst["log_ratio"][0] == pytest.approx(math.log(8.0))
    assert worst_fitting(pairs, 0).height == 0


def test_has_labels():
    assert has_labels(_labels({"ip_ss": [None, 3.0]}))
    assert not has_labels(_labels({"ip_ss": [None, None]}))
    assert not has_labels(pl.DataFrame({"prediction_id": ["a"]}))
    assert expert_pairs(_labels({"ss": [1.0]}), pl.DataFrame({"prediction_id": ["a"]})).height == 0
