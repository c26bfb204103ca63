"""evt: the SPOT quantile, recovery of known tails, budgets, fallbacks."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats
from threshold_data import gpd_values, series, simple_features

from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.schema import LEVELS
from floodmark.thresholds import EVT, Floors, RuleDaily
from floodmark.thresholds.evt import DEFAULT_BUDGETS
from floodmark.thresholds.gpd import exceedance_probability, fit_tails, spot_quantile

DAY = 86_400
NO_FLOORS = Floors((("*", "*", (0.0, 0.0, 0.0, 0.0)),))
FA = [f"expected_fa_per_day_{lv}" for lv in LEVELS]


@pytest.mark.parametrize("gamma", [-0.3, 0.0, 1e-12, 0.25, 0.6])
def test_spot_quantile_matches_scipy_and_inverts(gamma):
    t, sigma, ratio = 7.0, 2.5, np.array([0.5, 0.05, 1e-3, 1e-5])
    z = spot_quantile(t, sigma, gamma, ratio)
    np.testing.assert_allclose(z, stats.genpareto.isf(ratio, gamma, loc=t, scale=sigma), rtol=1e-9)
    np.testing.assert_allclose(
        exceedance_probability(z, t, sigma, gamma, 0.02), 0.02 * ratio, rtol=1e-9
    )
    # at or above ratio 1 the budget is looser than the tail start: the answer is t
    assert spot_quantile(t, sigma, gamma, 3.0) == t


def _fit_and_measure(gamma: float, seed: int) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    learn = series(gpd_values(gamma, 60 * 288, rng))  # 60 days of 5-minute samples
    held_out = gpd_values(gamma, 3_000_000, rng)  # ~28 years of the same traffic
    table = EVT(floors=NO_FLOORS).fit(simple_features(learn), learn).predict(simple_features(learn))
    thresholds = table.select(LEVELS).to_numpy()[0]
    per_day = np.array([(held_out > z).mean() * 288 for z in thresholds])
    return table, per_day


@pytest.mark.parametrize("gamma", [0.0, 0.3])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_evt_recovers_the_budgeted_false_alarm_rate(gamma, seed):
    table, per_day = _fit_and_measure(gamma, seed)
    assert table["fallback"][0] is None
    np.testing.assert_allclose(table.select(FA).to_numpy()[0], DEFAULT_BUDGETS, rtol=1e-9)
    # ss (a week), sc (a month) and nw (a quarter) are measurable on the held-out sample
    ratio = per_day[:3] / np.array(DEFAULT_BUDGETS[:3])
    assert ((ratio > 0.5) & (ratio < 2.0)).all(), ratio


def test_tail_starts_at_the_quantile_of_baseline_samples_only():
    rng = np.random.default_rng(4)
    values = gpd_values(0.1, 14 * 288, rng)
    blocked = np.zeros_like(values)
    values[500:520], blocked[500:520] = 1e6, 5e6  # an attack: not baseline
    samples = series(values, blocked=blocked)
    tails = fit_tails(samples)
    baseline = np.delete(values, np.s_[500:520])
    assert tails["t"][0] == pytest.approx(np.quantile(baseline, 0.98))
    assert tails["n"][0] == len(baseline) and tails["step_s"][0] == 300
    table = EVT().fit(simple_features(samples), samples).predict(simple_features(samples))
    assert table["rl"][0] < 1e4


def test_levels_use_the_series_own_sampling_step():
    rng = np.random.default_rng(5)
    samples = series(gpd_values(0.1, 90 * 24, rng), step=3600)  # hourly, 90 days
    features = simple_features(samples)
    method = EVT(floors=NO_FLOORS).fit(features, samples)
    tail = method.tails_.row(0, named=True)
    q = np.array(DEFAULT_BUDGETS) * 3600 / DAY
    expected = spot_quantile(
        tail["t"], tail["sigma"], tail["gamma"], q * tail["n"] / tail["n_excess"]
    )
    table = method.predict(features)
    np.testing.assert_allclose(table.select(LEVELS).to_numpy()[0], expected, rtol=1e-12)
    assert "step 3600 s" in table["basis"][0] and "γ=" in table["basis"][0]


def test_loose_budgets_stop_at_the_tail_start():
    rng = np.random.default_rng(6)
    samples = series(rng.exponential(1.0, 60), step=DAY)  # 60 daily samples
    features = simple_features(samples)
    method = EVT(budgets=(1, 1, 0.01, 0.01), init_quantile=0.5, floors=NO_FLOORS)
    table = method.fit(features, samples).predict(features)
    t = method.tails_["t"][0]
    assert table["ss"][0] == t and table["sc"][0] == t and table["nw"][0] > t
    assert table["expected_fa_per_day_ss"][0] == pytest.approx(30 / 60)  # below the budget of 1


def test_floors_lower_the_expected_false_alarms():
    rng = np.random.default_rng(7)
    samples = series(gpd_values(0.0, 30 * 288, rng))
    features = simple_features(samples)
    floors = Floors.from_mapping({("*", "*"): (30, 30, 30, 30)})
    table = EVT(floors=floors).fit(features, samples).predict(features)
    fa = table.select(FA).to_numpy()[0]
    assert (fa <= np.array(DEFAULT_BUDGETS) + 1e-15).all()
    assert fa[0] < DEFAULT_BUDGETS[0] / 5 and table["ss"][0] == 30


def _fallback_case(values, *, step=300, blocked=None, pid="f"):
    return series(np.asarray(values, dtype=float), prediction_id=pid, step=step, blocked=blocked)


def test_short_quiet_silent_and_missing_series_fall_back_to_rule_daily():
    rng = np.random.default_rng(8)
    quiet = np.zeros(14 * 288)
    quiet[rng.choice(len(quiet), 10, replace=False)] = 5.0
    all_blocked = rng.exponential(1.0, 14 * 288)
    samples = pl.concat(
        [
            _fallback_case(rng.exponential(1.0, 288), pid="short"),  # one day
            _fallback_case(quiet, pid="quiet"),  # 10 excesses over t = 0
            _fallback_case(np.zeros(14 * 288), pid="zeros"),
            _fallback_case(all_blocked, blocked=np.ones(14 * 288), pid="attacked"),
            _fallback_case(rng.exponential(1.0, 14 * 288), pid="fine"),
        ]
    )
    features = simple_features(samples)
    features = pl.concat(
        [
            features,
            features.filter(pl.col("prediction_id") == "fine").with_columns(
                prediction_id=pl.lit("absent")
            ),
        ]
    )
    table = (
        EVT().fit(features, samples.filter(pl.col("prediction_id") != "absent")).predict(features)
    )
    reasons = dict(zip(table["prediction_id"], table["fallback"], strict=True))
    assert reasons["fine"] is None
    assert reasons["short"].startswith("rule-daily: short (1 days")
    assert reasons["quiet"].startswith("rule-daily: quiet (10 excesses")
    assert reasons["zeros"] == "rule-daily: all zeros (baseline traffic is always 0)"
    assert (
        reasons["attacked"].startswith("floors: no baseline traffic")
        and "no baseline samples" in reasons["attacked"]
    )
    assert reasons["absent"] == "rule-daily: no baseline samples"
    fell = table.filter(pl.col("fallback").is_not_null())
    rule = (
        RuleDaily()
        .fit(features)
        .predict(features)
        .filter(
            pl.col("fallback").is_not_null()
            | pl.col("prediction_id").is_in(fell["prediction_id"].to_list())
        )
    )
    assert fell.select(LEVELS).equals(rule.select(LEVELS))
    assert fell.select(FA).null_count().row(0) == (fell.height,) * 4
    assert (
        table.filter(pl.col("prediction_id") == "fine").select(FA).null_count().row(0) == (0,) * 4
    )


def test_rule_max_can_be_the_fallback():
    samples = _fallback_case(np.ones(100), pid="short")
    features = simple_features(samples)
    table = EVT(fallback="rule-max").fit(features, samples).predict(features)
    assert table["fallback"][0].startswith("rule-max: short")
    assert table["basis"][0].startswith("1.2/1.5/2/3 × daily_max_1")


def test_predict_refits_the_series_it_is_given_samples_for():
    rng = np.random.default_rng(9)
    a = series(gpd_values(0.0, 14 * 288, rng))
    b = a.with_columns(pl.col("passed") * 3)
    features = simple_features(a)
    method = EVT(floors=NO_FLOORS).fit(features, a)
    np.testing.assert_allclose(
        method.predict(features, b).select(LEVELS).to_numpy(),
        3 * method.predict(features).select(LEVELS).to_numpy(),
        rtol=1e-9,
    )


def test_pwm_and_mle_agree_on_a_long_series():
    rng = np.random.default_rng(10)
    samples = series(gpd_values(0.2, 200 * 288, rng))
    pwm = fit_tails(samples, estimator="pwm").row(0, named=True)
    mle = fit_tails(samples, estimator="mle").row(0, named=True)
    assert pwm["n_excess"] == mle["n_excess"] > 1000
    assert abs(pwm["gamma"] - mle["gamma"]) < 0.1
    assert pwm["sigma"] == pytest.approx(mle["sigma"], rel=0.15)
    features = simple_features(samples)
    table = EVT(estimator="mle").fit(features, samples).predict(features)
    assert "GPD tail (mle)" in table["basis"][0]


def test_fit_needs_samples_and_valid_parameters():
    samples = series(np.ones(10))
    features = simple_features(samples)
    with pytest.raises(InsufficientDataError, match="samples"):
        EVT().fit(features)
    for params in (
        {"budgets": (1, 2, 3, 4)},
        {"budgets": (1, 1, 1)},
        {"estimator": "bayes"},
        {"fallback": "model"},
        {"init_quantile": 1.0},
    ):
        with pytest.raises(FloodmarkError, match="evt"):
            EVT(**params).fit(features, samples)
