"""Edge cases with known answers, the output contract and the errors."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import polars as pl
import pytest
from feature_compare import mismatches
from feature_fleets import series_table, to_port_input
from notebook_port import port_features

from floodmark.errors import SchemaError
from floodmark.features import FEATURE_COLUMNS, compute_features, find_super_peaks
from floodmark.features.engine import feature_kernel, output_schema, prepared_kernel
from floodmark.features.families import FAMILIES
from floodmark.features.prepare import prepare_runs
from floodmark.schema import KEY_COLUMNS

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400


def one(pid="p", vector="PT_TCP", metric="PPS", *, t=None, passed=(), blocked=None, step=300):
    passed = np.asarray(passed, dtype=float)
    t = T0 + step * np.arange(passed.size) if t is None else np.asarray(t)
    blocked = np.zeros(passed.size) if blocked is None else np.asarray(blocked, dtype=float)
    return series_table(pid, vector, metric, t, passed, blocked)


def row(df: pl.DataFrame, **params) -> dict:
    out = compute_features(df, **params)
    assert out.height == 1
    return out.row(0, named=True)


def nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def test_feature_names_are_the_notebooks():
    stats = [
        "mean",
        "median",
        "mode",
        "variance",
        "std_dev",
        "skewness",
        "kurtosis",
        "iqr",
        "mad",
        "rms",
        "median_crossing_rate",
        "slope",
        "crest_factor",
        "shape_factor",
        "avg_first_order_diff",
    ]
    expected = [f"{c}_{s}" for c in ("passed_val", "blocked_val", "total_val") for s in stats]
    expected += [f"daily_{s}_q90" for s in ("max", "mean", "median", "q90")]
    expected += [f"daily_{s}_q70" for s in ("max", "mean", "median", "q90")]
    expected += [f"daily_max_{k}" for k in range(1, 5)]
    expected += [
        "missing_tmstmp_percentage",
        "percent_of_zeros",
        "percent_of_largest_dead",
        "total_time",
        "total_val_median_share",
    ]
    assert list(FEATURE_COLUMNS) == expected
    assert isinstance(FAMILIES, tuple)
    assert [c for f in FAMILIES for c in f.columns] == expected


def test_empty_table_gives_the_empty_schema():
    out = compute_features(one(passed=[]))
    assert out.height == 0
    assert out.schema == pl.Schema(output_schema())
    assert list(out.columns) == [*KEY_COLUMNS, "n_samples", "n_super_peaks", *FEATURE_COLUMNS]
    assert find_super_peaks(one(passed=[])).height == 0


def test_one_sample():
    r = row(one(passed=[4.0]))
    assert r["n_samples"] == 1 and r["passed_val_mean"] == 4.0 and r["passed_val_mode"] == 4.0
    for stat in ("variance", "std_dev", "skewness", "kurtosis", "median_crossing_rate", "slope"):
        assert nan(r[f"passed_val_{stat}"]), stat
    assert nan(r["passed_val_avg_first_order_diff"])
    assert r["passed_val_iqr"] == 0 and r["passed_val_mad"] == 0 and r["passed_val_rms"] == 4.0
    assert r["passed_val_crest_factor"] == 1.0 and r["passed_val_shape_factor"] == 1.0
    assert r["daily_max_q90"] == 4.0 and r["daily_max_1"] == 4.0
    assert all(nan(r[f"daily_max_{k}"]) for k in (2, 3, 4))
    assert nan(r["missing_tmstmp_percentage"]) and nan(r["total_time"])
    assert r["percent_of_zeros"] == 0 and nan(r["percent_of_largest_dead"])


def test_constant_series():
    r = row(one(passed=[0.1] * 21))  # 0.1 * 21 / 21 is not exactly 0.1
    assert r["passed_val_variance"] == 0 and r["passed_val_std_dev"] == 0
    assert nan(r["passed_val_skewness"]) and nan(r["passed_val_kurtosis"])
    assert r["passed_val_mad"] == 0 and r["passed_val_slope"] == 0
    assert r["passed_val_median_crossing_rate"] == 0 and r["passed_val_iqr"] == 0
    assert r["passed_val_mode"] == 0.1 and r["passed_val_avg_first_order_diff"] == 0
    # blocked is all zeros: rms 0 and mean|x| 0 leave crest and shape undefined.
    assert nan(r["blocked_val_crest_factor"]) and nan(r["blocked_val_shape_factor"])
    assert r["blocked_val_variance"] == 0 and nan(r["blocked_val_skewness"])


def test_all_zero_series_is_one_dead_period():
    r = row(one(passed=[0.0] * 10))
    assert r["percent_of_zeros"] == 1.0 and r["percent_of_largest_dead"] == 1.0
    assert nan(r["passed_val_crest_factor"]) and nan(r["passed_val_shape_factor"])


def test_dead_runs_and_zeros():
    r = row(one(passed=[1, 0, 0, 1, 0, 0, 0, 1], blocked=[0, 0, 0, 0, 0, 0, 0, 0]))
    assert r["percent_of_zeros"] == 5 / 8 and r["percent_of_largest_dead"] == 3 / 8
    # A blocked sample is not dead: total = passed + blocked.
    r = row(one(passed=[1, 0, 0, 1], blocked=[0, 5, 0, 0]))
    assert r["percent_of_zeros"] == 1 / 4 and r["percent_of_largest_dead"] == 1 / 4


def test_all_blocked_series_has_no_daily_values():
    r = row(one(passed=[1.0, 2.0, 3.0], blocked=[1.0, 1.0, 1.0]))
    assert all(nan(r[c]) for c in FEATURE_COLUMNS if c.startswith("daily_"))
    assert r["n_super_peaks"] == 0 and r["blocked_val_mean"] == 1.0
    assert r["total_val_mean"] == 3.0


def test_known_order_statistics():
    r = row(one(passed=[1, 3, 1, 3]))
    assert r["passed_val_median_crossing_rate"] == 1.0 and r["passed_val_median"] == 2.0
    r = row(one(passed=[0, 1, 2, 3]))
    assert r["passed_val_slope"] == pytest.approx(1.0, rel=1e-15)
    assert r["passed_val_avg_first_order_diff"] == 1.0
    r = row(one(passed=[2, 1, 2, 1, 3]))
    assert r["passed_val_mode"] == 1.0  # the smallest of the most frequent


def test_single_day_and_fewer_than_four_days():
    r = row(one(passed=np.arange(288.0)))  # one UTC day at 300 s
    assert r["daily_max_1"] == 287 and r["daily_max_q90"] == 287 and r["daily_max_q70"] == 287
    assert all(nan(r[f"daily_max_{k}"]) for k in (2, 3, 4))
    maxima = [5.0, 9.0, 7.0]
    t = [T0 + d * DAY + 3_600 for d in range(3)]
    r = row(one(t=t, passed=maxima))
    assert [r[f"daily_max_{k}"] for k in (1, 2, 3)] == [9.0, 7.0, 5.0]
    assert nan(r["daily_max_4"])
    assert r["daily_max_q90"] == pytest.approx(np.quantile(maxima, 0.9), rel=1e-15)


def test_days_without_samples_are_ignored():
    # Days 0 and 5 hold samples, days 1-4 none: two daily values, not six.
    t = [T0, T0 + 600, T0 + 5 * DAY]
    r = row(one(t=t, passed=[2.0, 4.0, 10.0]))
    assert r["daily_max_q90"] == pytest.approx(4 + 0.9 * 6, rel=1e-15)
    assert r["daily_mean_q70"] == pytest.approx(3 + 0.7 * 7, rel=1e-15)


def test_thirty_days_at_300s_span_thirty_days():
    n = 30 * 288
    r = row(one(passed=np.ones(n)))
    assert r["total_time"] == 30.0 and r["missing_tmstmp_percentage"] == 0.0


def test_missing_timestamps():
    t = T0 + 300 * np.r_[0:4, 7:13]  # 13 expected slots, 10 present
    r = row(one(t=t, passed=np.ones(10)))
    assert r["missing_tmstmp_percentage"] == pytest.approx(100 * 3 / 13, rel=1e-15)
    assert r["total_time"] == pytest.approx(13 * 300 / DAY, rel=1e-15)


def test_step_is_the_median_step_of_each_series():
    regular = one("a", t=T0 + 300 * np.r_[0:4, 7:13], passed=np.ones(10))
    # Steps 60, 600, 600, 600, 60: the median is not the smallest step.
    irregular = one("b", t=T0 + np.cumsum([0, 60, 600, 600, 600, 60]), passed=np.ones(6))
    # Steps 60, 60, 600, 600: the median is their mean, 330.
    even = one("c", t=T0 + np.cumsum([0, 60, 60, 600, 600]), passed=np.ones(5))
    out = compute_features(pl.concat([regular, irregular, even]))
    spans = np.array([12 * 300, 1920, 1320])
    steps = np.array([300, 600, 330])
    expected = 100 * (spans / steps + 1 - [10, 6, 5]) / (spans / steps + 1)
    assert out["missing_tmstmp_percentage"].to_numpy() == pytest.approx(expected, rel=1e-12)
    assert out["total_time"].to_numpy() == pytest.approx((spans + steps) / DAY, rel=1e-12)


def test_median_share_against_the_objects_total():
    frames = [
        one("a", "PT_TOTAL", passed=[10.0, 10.0, 10.0]),
        one("a", "PT_TCP", passed=[2.0, 2.5, 3.0]),
        one("a", "PT_TCP", "BW", passed=[1.0, 1.0, 1.0]),  # no PT_TOTAL/BW for object a
        one("b", "PT_TOTAL", passed=[0.0, 0.0, 1.0]),  # median 0
        one("b", "PT_UDP", passed=[1.0, 1.0, 1.0]),
    ]
    out = compute_features(pl.concat(frames))
    share = {
        (r["prediction_id"], r["vector"], r["metric"]): r["total_val_median_share"]
        for r in out.iter_rows(named=True)
    }
    assert share[("a", "PT_TOTAL", "PPS")] == 1.0
    assert share[("a", "PT_TCP", "PPS")] == 0.25
    assert nan(share[("a", "PT_TCP", "BW")])
    assert nan(share[("b", "PT_TOTAL", "PPS")]) and nan(share[("b", "PT_UDP", "PPS")])


def super_peak_series():
    # 21 days, each with max 10 at noon; day 2 also holds 31 (> 3 x 10) at 18:00
    # and day 3 a blocked 100 (an attack, never a super peak). daily_max_q90 stays
    # 10: the 0.9 quantile of 21 maxima is the 19th smallest.
    t, passed, blocked = [], [], []
    for d in range(21):
        t += [T0 + d * DAY + h * 3_600 for h in (6, 12)]
        passed += [1.0, 10.0]
        blocked += [0.0, 0.0]
    t += [T0 + 2 * DAY + 18 * 3_600, T0 + 3 * DAY + 20 * 3_600]
    passed += [31.0, 100.0]
    blocked += [0.0, 4.0]
    order = np.argsort(t)
    t, passed, blocked = (np.array(a)[order] for a in (t, passed, blocked))
    return one(t=t, passed=passed, blocked=blocked)


def test_super_peaks_are_listed_counted_and_excludable():
    df = super_peak_series()
    r = row(df)
    assert r["n_super_peaks"] == 1 and r["daily_max_1"] == 31.0
    peaks = find_super_peaks(df)
    assert peaks.columns == [*KEY_COLUMNS, "timestamp", "value"]
    assert peaks.row(0)[3:] == (datetime.fromisoformat("2026-01-03T18:00:00+00:00"), 31.0)
    excluded = row(df, exclude_super_peaks=True)
    assert excluded["n_super_peaks"] == 1 and excluded["daily_max_1"] == 10.0
    assert excluded["passed_val_mean"] == r["passed_val_mean"]  # value statistics keep them
    assert row(df, super_peak_factor=4.0)["n_super_peaks"] == 0
    # Above the blocked threshold the attack sample is baseline traffic, and a peak.
    assert row(df, blocked_threshold=5.0)["n_super_peaks"] == 2


def test_edge_cases_match_the_port():
    frames = pl.concat(
        [
            one("a", passed=[4.0]),
            one("b", passed=[0.1] * 21),
            one("c", passed=[0.0] * 10),
            one("d", passed=[1.0, 2.0, 3.0], blocked=[1.0, 1.0, 1.0]),
            one("e", passed=np.arange(288.0)),
            super_peak_series().with_columns(pl.lit("f").alias("prediction_id")),
            # Negative values (a corrected counter, say): mean |x| is not the mean.
            one("g", passed=[-3.0, 5.0, -1.0, 2.0], blocked=[0.0, -2.0, 0.0, 0.0]),
        ]
    )
    for params in ({}, {"exclude_super_peaks": True}, {"blocked_threshold": 5.0}):
        port, _ = port_features(to_port_input(frames), **params)
        assert not mismatches(compute_features(frames, **params), port, frames)


def test_blocked_order_statistics_of_short_and_long_attacks():
    """Blocked traffic zero on most samples (a short attack) or on few (a long one)."""
    rng = np.random.default_rng(3)
    passed = rng.integers(0, 50, 400).astype(float)
    short, long = np.zeros(400), rng.integers(0, 5, 400).astype(float)
    short[100:104] = [7.0, 9.0, 7.0, 3.0]
    frames = pl.concat(
        [
            one("a", passed=passed, blocked=short),
            one("b", passed=passed, blocked=long),
            one("c", passed=np.arange(8.0), blocked=np.r_[1.0, 2.0, np.zeros(6)]),
            one("d", passed=np.arange(9.0), blocked=np.r_[1.0, np.zeros(8)]),
        ]
    )
    port, _ = port_features(to_port_input(frames))
    assert not mismatches(compute_features(frames), port, frames)


def test_naive_and_other_unit_timestamps_are_utc():
    df = one(passed=[1.0, 2.0, 3.0])
    naive = df.with_columns(pl.col("timestamp").dt.replace_time_zone(None).dt.cast_time_unit("ms"))
    assert compute_features(naive).equals(compute_features(df))


def test_missing_column_is_a_schema_error():
    with pytest.raises(SchemaError, match="blocked"):
        compute_features(one(passed=[1.0]).drop("blocked"))


def test_nulls_are_a_schema_error():
    df = one(passed=[1.0, 2.0]).with_columns(pl.Series("passed", [1.0, None]))
    with pytest.raises(SchemaError, match="nulls in passed"):
        compute_features(df)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("column", ["passed", "blocked"])
def test_non_finite_values_are_a_schema_error_naming_series_and_row(column, bad):
    df = pl.concat([one("a", passed=[1.0, 2.0]), one("b", passed=[1.0, 2.0, 3.0])])
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(bad).otherwise(pl.col(column)).alias(column)
    )
    with pytest.raises(SchemaError, match=f"{column} is {bad}") as info:
        compute_features(df)
    assert info.value.series == "b/PT_TCP/PPS" and info.value.row == 3


def test_repeated_timestamp_names_the_series():
    df = one(t=[T0, T0 + 300, T0 + 300], passed=[1.0, 2.0, 3.0])
    with pytest.raises(SchemaError, match="repeats") as info:
        compute_features(df)
    assert info.value.series == "p/PT_TCP/PPS"


def test_unsorted_input_is_sorted():
    df = one(passed=[1.0, 5.0, 2.0, 8.0])
    backwards = df.reverse()
    assert compute_features(backwards).equals(compute_features(df))


def runs_of(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A long table as a store chunk gives it: the series with their sizes, then the samples."""
    keys = df.group_by(KEY_COLUMNS, maintain_order=True).len("n_samples")
    return keys, df.select("timestamp", "passed", "blocked")


def test_runs_give_the_features_of_the_long_table():
    df = pl.concat([one("a", passed=[1.0, 5.0, 2.0]), one("b", passed=[3.0]), one("c", passed=[])])
    keys, values = runs_of(df)
    keys = pl.concat(
        [keys, pl.DataFrame([("z", "PT_TCP", "PPS", 0)], schema=keys.schema, orient="row")]
    )
    per_series, _ = prepared_kernel(prepare_runs(keys, values))
    assert per_series.equals(feature_kernel(df)[0])
    assert per_series["prediction_id"].to_list() == ["a", "b"]  # no row for an empty series


def test_runs_are_checked():
    df = one(passed=[1.0, 2.0, 3.0])
    keys, values = runs_of(df)
    with pytest.raises(SchemaError, match="3 samples in all, but 2 rows"):
        prepare_runs(keys, values.head(2))
    backwards = prepared_kernel(prepare_runs(keys, values.reverse()))[0]
    assert backwards.equals(feature_kernel(df)[0])
    repeated = values.with_columns(pl.col("timestamp").first())
    with pytest.raises(SchemaError, match="repeats"):
        prepare_runs(keys, repeated)
