"""Episode counting on hand-made series: false alarms, attack episodes, detection, delay."""

from __future__ import annotations

import math

import polars as pl
import pytest

from floodmark.backtest.episodes import label_samples, score_thresholds, span_summary


def score(samples, thr_rows, **kw):
    scores, delays = score_thresholds(label_samples(samples, **kw), thr_rows)
    return scores, delays


def one(scores, **where):
    rows = scores.filter(*(pl.col(k) == v for k, v in where.items()))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_run_of_three_over_level_samples_is_one_false_alarm(make_series, make_thresholds):
    s = make_series([1, 5, 6, 7, 1, 1])
    scores, delays = score(s, make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 4.0)]))
    row = one(scores)
    assert row["false_alarms"] == 1
    assert row["attack_episodes"] == 0
    assert row["detected"] == 0
    assert delays.is_empty()


def test_separate_runs_and_equal_to_level_do_not_merge(make_series, make_thresholds):
    # 4.0 equals the level: not a crossing, so it separates the two runs.
    s = make_series([5, 5, 4, 6, 1, 9])
    scores, _ = score(s, make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 4.0)]))
    assert one(scores)["false_alarms"] == 3


def test_blocked_sample_splits_episodes_and_is_an_attack(make_series, make_thresholds):
    s = make_series([5, 5, 5, 5, 5], [0, 0, 1, 0, 0])
    scores, delays = score(s, make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 4.0)]))
    row = one(scores)
    assert row["false_alarms"] == 2
    assert row["attack_episodes"] == 1
    assert row["detected"] == 1
    assert delays["delay_samples"].to_list() == [0]


def test_detection_and_delay_are_exact_on_a_constructed_attack(make_series, make_thresholds):
    passed = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    blocked = [0, 0, 0, 0, 1, 9, 19, 0, 0, 0]  # totals in the attack: 2, 10, 20
    s = make_series(passed, blocked)
    thr = make_thresholds(
        [
            ("a", "PT_TCP", "PPS", "m", "ss", 0.5),  # crossed on the first attack sample
            ("a", "PT_TCP", "PPS", "m", "sc", 5.0),  # crossed on the second
            ("a", "PT_TCP", "PPS", "m", "nw", 15.0),  # crossed on the third
            ("a", "PT_TCP", "PPS", "m", "rl", 50.0),  # never crossed
        ]
    )
    scores, delays = score(s, thr)
    by_level = {r["level"]: r for r in scores.iter_rows(named=True)}
    assert {lv: r["attack_episodes"] for lv, r in by_level.items()} == dict.fromkeys(
        ["ss", "sc", "nw", "rl"], 1
    )
    assert {lv: r["detected"] for lv, r in by_level.items()} == {
        "ss": 1,
        "sc": 1,
        "nw": 1,
        "rl": 0,
    }
    # Traffic at 1 > 0.5 outside the attack: one run before and one after it.
    assert by_level["ss"]["false_alarms"] == 2
    assert by_level["sc"]["false_alarms"] == 0
    got = dict(zip(delays["level"], delays["delay_samples"], strict=True))
    assert got == {"ss": 0, "sc": 1, "nw": 2}


def test_two_attacks_counted_separately(make_series, make_thresholds):
    s = make_series([1] * 8, [0, 5, 5, 0, 0, 1, 30, 0])
    scores, delays = score(s, make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 10.0)]))
    row = one(scores)
    assert row["attack_episodes"] == 2
    assert row["detected"] == 1
    assert delays["delay_samples"].to_list() == [1]


def test_blocked_threshold_decides_what_is_an_attack(make_series, make_thresholds):
    s = make_series([5, 5, 5], [0, 0.5, 0])
    thr = make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 4.0)])
    assert one(score(s, thr)[0])["false_alarms"] == 2
    lenient = one(score(s, thr, blocked_threshold=1.0)[0])
    assert lenient["false_alarms"] == 1
    assert lenient["attack_episodes"] == 0


def test_runs_never_cross_series_boundaries(make_series, make_thresholds):
    a = make_series([1, 1, 9], pid="a")
    b = make_series([9, 1, 1], pid="b")
    c = make_series([9, 1], [0, 0], pid="a", vector="PT_UDP")
    thr = make_thresholds(
        [
            ("a", "PT_TCP", "PPS", "m", "ss", 4.0),
            ("b", "PT_TCP", "PPS", "m", "ss", 4.0),
            ("a", "PT_UDP", "PPS", "m", "ss", 4.0),
        ]
    )
    # Shuffled input: the kernel sorts by series and time itself.
    samples = pl.concat([c, b, a]).sample(fraction=1.0, shuffle=True, seed=3)
    scores, _ = score(samples, thr)
    assert scores["false_alarms"].to_list() == [1, 1, 1]
    assert scores.height == 3


def test_attack_runs_never_cross_series_boundaries(make_series, make_thresholds):
    a = make_series([1, 1], [0, 5], pid="a")
    b = make_series([1, 1], [5, 0], pid="b")
    thr = make_thresholds(
        [("a", "PT_TCP", "PPS", "m", "ss", 2.0), ("b", "PT_TCP", "PPS", "m", "ss", 2.0)]
    )
    scores, delays = score(pl.concat([a, b]), thr)
    assert scores["attack_episodes"].to_list() == [1, 1]
    assert delays["delay_samples"].to_list() == [0, 0]


@pytest.mark.parametrize("missing", [None, math.nan])
def test_missing_threshold_never_alarms_nor_detects(make_series, make_thresholds, missing):
    s = make_series([9, 9, 9], [0, 9, 0])
    scores, delays = score(s, make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", missing)]))
    row = one(scores)
    assert (row["false_alarms"], row["attack_episodes"], row["detected"]) == (0, 1, 0)
    assert row["threshold"] is None
    assert delays.is_empty()


def test_series_without_thresholds_still_counts_its_attacks(make_series, make_thresholds):
    a = make_series([9, 9], pid="a")
    b = make_series([1, 1], [0, 3], pid="b")
    scores, _ = score(pl.concat([a, b]), make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 4.0)]))
    row = one(scores, prediction_id="b")
    assert row["threshold"] is None
    assert row["attack_episodes"] == 1
    assert one(scores, prediction_id="a")["false_alarms"] == 1


def test_windows_act_as_attacks(make_series, make_thresholds):
    s = make_series([1, 9, 9, 1, 9, 1]).with_columns(
        in_window=pl.Series([False, True, True, False, False, False])
    )
    scores, delays = score(
        s, make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 4.0)]), in_window="in_window"
    )
    row = one(scores)
    # The crossing inside the window is a detection, the one after it a false alarm.
    assert (row["false_alarms"], row["attack_episodes"], row["detected"]) == (1, 1, 1)
    assert delays["delay_samples"].to_list() == [0]


def test_several_methods_and_levels_in_one_pass(make_series, make_thresholds):
    s = make_series([1, 6, 1, 11, 1])
    thr = make_thresholds(
        [
            ("a", "PT_TCP", "PPS", "low", "ss", 5.0),
            ("a", "PT_TCP", "PPS", "low", "rl", 10.0),
            ("a", "PT_TCP", "PPS", "high", "ss", 20.0),
        ]
    )
    scores, _ = score(s, thr)
    got = {(r["method"], r["level"]): r["false_alarms"] for r in scores.iter_rows(named=True)}
    assert got == {("low", "ss"): 2, ("low", "rl"): 1, ("high", "ss"): 0}


def test_empty_inputs_give_empty_frames(make_series, make_thresholds):
    empty = make_series([]).head(0)
    scores, delays = score(empty, make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 1.0)]))
    assert scores.is_empty() and delays.is_empty()
    assert span_summary(label_samples(empty)).is_empty()


def test_span_summary(make_series):
    s = pl.concat([make_series([1] * 5, pid="a"), make_series([1] * 3, pid="b", step_s=60)])
    spans = span_summary(label_samples(s))
    assert spans["n_test"].to_list() == [5, 3]
    assert spans["step_s"].to_list() == [300.0, 60.0]
    assert (spans["test_end"] - spans["test_start"]).dt.total_seconds().to_list() == [1200, 120]
    # the store's step wins over the test part's (a series it does not list keeps its own)
    catalog = pl.DataFrame({"prediction_id": ["a"], "vector": ["PT_TCP"], "metric": ["PPS"]})
    known = span_summary(label_samples(s), catalog.with_columns(median_step_s=pl.lit(900.0)))
    assert known["step_s"].to_list() == [900.0, 60.0]


def test_a_higher_level_can_split_one_episode_into_several(make_series, make_thresholds):
    # Over 5 the traffic is one run; over 8 it dips in the middle: two episodes.
    s = make_series([1, 9, 6, 9, 1])
    thr = make_thresholds(
        [("a", "PT_TCP", "PPS", "m", "ss", 5.0), ("a", "PT_TCP", "PPS", "m", "rl", 8.0)]
    )
    scores, _ = score(s, thr)
    assert dict(zip(scores["level"], scores["false_alarms"], strict=True)) == {"ss": 1, "rl": 2}


def test_min_duration_drops_short_runs_and_delays_detection(make_series, make_thresholds):
    # normal runs above 4 of length 1, 3 and 2; one attack of 4 samples whose totals
    # cross 4 on its 2nd..3rd samples only (2 in a row), then a second attack crossing 3 in a row
    passed = [5, 1, 5, 5, 5, 1, 5, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    blocked = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9, 1, 0, 9, 9, 9, 0]
    s = make_series(passed, blocked)
    thr = make_thresholds([("a", "PT_TCP", "PPS", "m", "ss", 4.0)])
    labelled = label_samples(s)
    by_n = {n: score_thresholds(labelled, thr, n) for n in (1, 2, 3, 4)}
    fa = {n: one(sc)["false_alarms"] for n, (sc, _) in by_n.items()}
    hit = {n: one(sc)["detected"] for n, (sc, _) in by_n.items()}
    assert fa == {1: 3, 2: 2, 3: 1, 4: 0}
    assert hit == {1: 2, 2: 2, 3: 1, 4: 0}
    assert {one(sc)["min_duration"] for sc, _ in by_n.values()} == {1, 2, 3, 4}
    # the delay is the position of the N-th sustained sample
    assert by_n[2][1]["delay_samples"].to_list() == [2, 1]
    assert by_n[3][1]["delay_samples"].to_list() == [2]


def test_min_duration_does_not_join_two_series(make_series, make_thresholds):
    a = make_series([1, 1, 5, 5])
    b = make_series([5, 5, 1, 1], pid="b")
    thr = make_thresholds(
        [("a", "PT_TCP", "PPS", "m", "ss", 4.0), ("b", "PT_TCP", "PPS", "m", "ss", 4.0)]
    )
    scores, _ = score_thresholds(label_samples(pl.concat([a, b])), thr, 3)
    assert scores["false_alarms"].to_list() == [0, 0]
