"""run_backtest end to end on hand-made stores: exact numbers, windows, streaming, out-of-fold."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from floodmark.backtest import BACKTEST_TABLE_SCHEMA, BacktestResult, run_backtest
from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.schema import LEVELS

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAY = 288  # 5-minute samples per day
TEST = 3 * DAY  # first test sample with learn_days=3


def at(i: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=5 * i)


@pytest.fixture
def fleet(make_series):
    """Two objects, five days each; rule-max (1.2/1.5/2/3 × daily max) gives 12/15/20/30 on a."""
    passed_a = np.full(5 * DAY, 10.0)
    blocked_a = np.zeros(5 * DAY)
    passed_a[TEST + 10 : TEST + 13] = 13.0  # a normal run over ss only
    blocked_a[TEST + 100 : TEST + 102] = 25.0  # attack 1: total 35
    blocked_a[TEST + 200 : TEST + 203] = [1.0, 5.0, 10.0]  # attack 2: totals 11, 15, 20
    passed_b = np.full(5 * DAY, 10.0)
    passed_b[300:302] = 50.0  # a spike in b's learning days
    return pl.concat(
        [
            make_series(passed_a.tolist(), blocked_a.tolist(), pid="a"),
            make_series(passed_b.tolist(), pid="b"),
        ]
    )


@pytest.fixture
def noisy_fleet(fleet):
    """The same fleet with noise under the daily max, so tail fits (evt) have a tail."""
    rng = np.random.default_rng(1)
    noise = 1.0 - 0.3 * rng.random(fleet.height)
    return fleet.with_columns(
        passed=pl.when(pl.col("passed") == 10.0)
        .then(pl.col("passed") * noise)
        .otherwise(pl.col("passed"))
    )


LABELS = [
    {
        "prediction_id": "a",
        "vector": "PT_TCP",
        "metric": "PPS",
        "ip_ss": 12.0,
        "ip_sc": 18.0,
        "ip_nw": 20.0,
        "ip_rl": 60.0,
    },
]


def rows(result: BacktestResult, method: str = "rule-max") -> dict[str, dict]:
    return {r["level"]: r for r in result.table.filter(pl.col("method") == method).to_dicts()}


def test_exact_table_on_a_hand_made_fleet(tmp_path, fleet, make_store):
    store = make_store(tmp_path / "store", fleet, LABELS)
    result = run_backtest(store, ["rule-max"], learn_days=3)
    assert result.table.schema == pl.Schema(BACKTEST_TABLE_SCHEMA)
    got = rows(result)
    thresholds = result.per_series.filter(pl.col("prediction_id") == "a")["threshold"].to_list()
    assert thresholds == pytest.approx([12.0, 15.0, 20.0, 30.0])
    assert [got[lv]["false_alarms"] for lv in LEVELS] == [1, 0, 0, 0]
    assert got["ss"]["object_days"] == pytest.approx(4.0)
    assert got["ss"]["false_alarms_per_object_day"] == pytest.approx(0.25)
    assert [got[lv]["attack_episodes"] for lv in LEVELS] == [2, 2, 2, 2]
    assert [got[lv]["detected"] for lv in LEVELS] == [2, 2, 1, 1]
    assert [got[lv]["detection_rate"] for lv in LEVELS] == [1.0, 1.0, 0.5, 0.5]
    assert [got[lv]["median_delay_samples"] for lv in LEVELS] == [0.5, 1.0, 0.0, 0.0]
    assert [got[lv]["median_ape_vs_expert_pct"] for lv in LEVELS] == pytest.approx(
        [0.0, 100 / 6, 0.0, 50.0]
    )
    assert [got[lv]["within_25pct"] for lv in LEVELS] == [1.0, 1.0, 1.0, 0.0]
    meta = result.meta
    assert (meta.n_series, meta.n_objects, meta.learn_days) == (2, 2, 3)
    assert meta.source == str(store)
    assert result.per_series.height == 2 * len(LEVELS)


def test_learn_fraction_gives_the_same_split_here(tmp_path, fleet, make_store):
    store = make_store(tmp_path / "store", fleet, LABELS)
    by_days = run_backtest(store, ["rule-max"], learn_days=3)
    by_fraction = run_backtest(store, ["rule-max"], learn_fraction=0.6)
    assert by_fraction.meta.learn_fraction == 0.6 and by_fraction.meta.learn_days is None
    assert by_fraction.per_series.equals(by_days.per_series)


def test_windows_are_attacks_and_are_not_learned(tmp_path, fleet, make_store):
    store = make_store(tmp_path / "store", fleet, LABELS)
    windows = pl.DataFrame(
        {
            "prediction_id": ["a", "b"],
            "start": [at(TEST + 10), at(300)],
            "end": [at(TEST + 12), at(301)],
        }
    )
    plain = run_backtest(store, ["rule-max"], learn_days=3)
    with_windows = run_backtest(store, ["rule-max"], learn_days=3, windows=windows)
    b_ss = lambda r: r.per_series.filter(  # noqa: E731
        (pl.col("prediction_id") == "b") & (pl.col("level") == "ss")
    )["threshold"].item()
    assert b_ss(plain) == pytest.approx(60.0)  # 1.2 × the learning spike
    assert b_ss(with_windows) == pytest.approx(12.0)  # the spike was in a window
    got = rows(with_windows)
    assert got["ss"]["false_alarms"] == 0  # the over-level run is now an attack
    assert [got[lv]["attack_episodes"] for lv in LEVELS] == [3, 3, 3, 3]
    assert [got[lv]["detected"] for lv in LEVELS] == [3, 2, 1, 1]
    assert with_windows.meta.n_windows == 2


def test_streaming_in_small_chunks_changes_nothing(tmp_path, noisy_fleet, make_store):
    store = make_store(tmp_path / "store", noisy_fleet, LABELS)
    calls = []
    small = run_backtest(
        store,
        ["rule-max", "rule-daily", "evt"],
        learn_days=3,
        chunk_rows=1000,
        progress=lambda *a: calls.append(a),
    )
    big = run_backtest(store, ["rule-max", "rule-daily", "evt"], learn_days=3)
    assert small.per_series.equals(big.per_series)
    assert small.table.equals(big.table)
    assert ("fit and score", 2, 2) in calls and ("learning features", 1, 2) in calls


def test_all_direct_methods_keep_level_order(tmp_path, noisy_fleet, make_store):
    store = make_store(tmp_path / "store", noisy_fleet, LABELS)
    result = run_backtest(store, ["rule-daily", "evt", "rule-max"], learn_days=3)
    assert result.table["method"].unique(maintain_order=True).to_list() == [
        "rule-daily",
        "evt",
        "rule-max",
    ]
    wide = result.per_series.pivot("level", index=["prediction_id", "method"], values="threshold")
    for lo, hi in zip(LEVELS, LEVELS[1:], strict=False):
        assert (wide[lo] <= wide[hi]).all()
    # A higher level never detects more: attack episodes do not depend on the level.
    # (False alarms need not fall: one long run over ss can be several runs over rl.)
    for _, table in result.table.group_by("method"):
        assert table["detected"].to_list() == sorted(table["detected"], reverse=True)


def test_json_round_trip_of_a_real_result(tmp_path, fleet, make_store):
    store = make_store(tmp_path / "store", fleet, LABELS)
    result = run_backtest(store, ["rule-max"], learn_days=3)
    back = BacktestResult.from_json(result.to_json(tmp_path / "bt.json"))
    assert back.table.equals(result.table)
    assert back.per_series.equals(result.per_series)
    assert back.meta == result.meta


def test_bad_requests_are_named_errors(tmp_path, fleet, make_store):
    store = make_store(tmp_path / "store", fleet)
    with pytest.raises(FloodmarkError, match="unknown methods"):
        run_backtest(store, ["rule-magic"])
    with pytest.raises(FloodmarkError, match="not run"):
        run_backtest(store, ["rule-max"], method_params={"evt": {"min_days": 1}})
    with pytest.raises(InsufficientDataError, match="expert labels"):
        run_backtest(store, ["model"], learn_days=3)
    with pytest.raises(FloodmarkError, match="learn_days"):
        run_backtest(store, ["rule-max"], learn_days=0)
    with pytest.raises(InsufficientDataError, match="spans 5.0 days"):
        run_backtest(store, ["rule-max"], learn_days=6)


def labelled_fleet(make_series, scale_of: dict[str, float]):
    """12 objects × 2 vectors, 4 days; expert labels proportional to each series' level."""
    rng = np.random.default_rng(5)
    frames, labels = [], []
    for i in range(12):
        pid = f"obj{i:02d}"
        for vector in ("PT_TCP", "PT_UDP"):
            level = 5.0 * (i + 1) * (2 if vector == "PT_UDP" else 1)
            frames.append(
                make_series(
                    (level * rng.gamma(4.0, 0.25, 4 * DAY)).tolist(), pid=pid, vector=vector
                )
            )
            k = scale_of.get(pid, 1.0)
            labels.append(
                {
                    "prediction_id": pid,
                    "vector": vector,
                    "metric": "PPS",
                    **{
                        f"ip_{lv}": k * level * f
                        for lv, f in zip(LEVELS, (2, 3, 4, 6), strict=True)
                    },
                }
            )
    return pl.concat(frames), labels


def test_model_is_scored_out_of_fold(tmp_path, make_series, make_store):
    """Changing one object's expert labels never changes that object's model thresholds."""
    params = {"model": {"n_estimators": 30, "min_child_samples": 2, "num_leaves": 4}}
    results = []
    for name, scale in (("plain", {}), ("perturbed", {"obj03": 50.0})):
        samples, labels = labelled_fleet(make_series, scale)
        store = make_store(tmp_path / name, samples, labels)
        results.append(
            run_backtest(store, ["model"], learn_days=3, model_folds=3, method_params=params)
        )
    plain, perturbed = (
        r.per_series.select("prediction_id", "vector", "level", "threshold") for r in results
    )
    joined = plain.join(perturbed, on=["prediction_id", "vector", "level"], suffix="_p")
    own = joined.filter(pl.col("prediction_id") == "obj03")
    assert own.height == 8
    assert (own["threshold"] == own["threshold_p"]).all()
    # The perturbation is visible to the objects whose models trained on obj03.
    others = joined.filter(pl.col("prediction_id") != "obj03")
    assert (others["threshold"] != others["threshold_p"]).any()
    assert results[0].meta.parameters.model_folds == 3
