"""evt: the GEV pieces, honest budgets on held-out data, fragmentation, fallbacks."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats
from scipy.signal import lfilter
from threshold_data import KEYS, gpd_values, series, simple_features

from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.schema import LEVELS
from floodmark.thresholds import EVT, Floors, RuleDaily
from floodmark.thresholds.dailymax import daily_maxima, episodes_by_depth
from floodmark.thresholds.evt import DEFAULT_BUDGETS
from floodmark.thresholds.gev import fit_posterior, gev_sf, predictive_sf, shape_grid

DAY = 86_400
PER_DAY = 288  # 5-minute samples
NO_FLOORS = Floors((("*", "*", (0.0, 0.0, 0.0, 0.0)),))
FA = [f"expected_fa_per_day_{lv}" for lv in LEVELS]


@pytest.mark.parametrize("gamma", [0.0, 1e-12, 0.2, 0.7])
def test_gev_sf_matches_scipy(gamma):
    z = np.array([-1.0, 0.0, 2.0, 10.0, 50.0])
    # scipy's genextreme shape is c = -gamma
    expected = stats.genextreme.sf(z, -gamma, loc=1.5, scale=2.0)
    np.testing.assert_allclose(gev_sf(z, 1.5, 2.0, np.float64(gamma)), expected, rtol=1e-9)


def test_posterior_recovers_the_true_shape_and_tail_from_many_maxima():
    rng = np.random.default_rng(0)
    shapes = shape_grid(1.0)
    for gamma in (0.0, 0.2, 0.4):
        y = stats.genextreme.rvs(-gamma, loc=3.0, scale=0.5, size=(20, 2000), random_state=rng)
        mu, sigma, w = fit_posterior(y, shapes, censor=0.25)
        np.testing.assert_allclose(w.sum(axis=1), 1.0)
        assert abs(np.median((w * shapes).sum(axis=1)) - gamma) < 0.05
        # the predictive of a long record is close to the law itself
        z = np.full(20, stats.genextreme.isf(0.01, -gamma, loc=3.0, scale=0.5))
        p = predictive_sf(z, mu, sigma, w, shapes)
        assert 0.008 < np.median(p) < 0.0125 and (p < 0.03).all(), p


def test_short_records_give_heavier_predictive_tails_than_a_plug_in_fit():
    rng = np.random.default_rng(1)
    shapes = shape_grid(1.0)
    y = stats.gumbel_r.rvs(loc=0.0, scale=0.2, size=(200, 21), random_state=rng)
    mu, sigma, w = fit_posterior(y, shapes)
    level = np.full(200, stats.gumbel_r.isf(1 / 365, loc=0.0, scale=0.2))
    # averaged over the shape, a once-a-year level of the true law is crossed more often
    assert predictive_sf(level, mu, sigma, w, shapes).mean() > 1 / 365


def test_censored_low_days_do_not_move_the_fit():
    rng = np.random.default_rng(2)
    shapes = shape_grid(1.0)
    y = np.sort(stats.gumbel_r.rvs(loc=5.0, scale=0.3, size=(1, 28), random_state=rng), axis=1)
    low = y.copy()
    low[0, :3] = -20.0  # three dead days
    a = fit_posterior(y, shapes, censor=0.25)
    b = fit_posterior(low, shapes, censor=0.25)
    for x, x_low in zip(a, b, strict=True):
        np.testing.assert_allclose(x, x_low, rtol=1e-9, atol=1e-12)


def test_daily_maxima_skip_attacks_and_thin_days():
    values = np.arange(3 * PER_DAY, dtype=float)
    blocked = np.zeros_like(values)
    blocked[PER_DAY - 5 : PER_DAY] = 1.0  # the end of day 1 is an attack…
    samples = series(values, blocked=blocked)
    samples = samples.filter(~pl.col("passed").is_between(2 * PER_DAY + 10, 3 * PER_DAY - 1))
    row = daily_maxima(samples).row(0, named=True)
    # …so day 1's maximum is before it; day 3 keeps 10 of 288 samples and is not covered
    assert row["maxima"] == [PER_DAY - 6, 2 * PER_DAY - 1]
    assert row["n_days"] == 2 and row["step_s"] == 300 and row["x_max"] == 2 * PER_DAY + 9


def test_episodes_by_depth_count_runs_below_each_days_peak():
    day = np.full(PER_DAY, 1.0)
    day[[10, 11, 20, 30, 31, 32]] = [100.0, 100.0, 99.0, 96.0, 100.0, 96.0]
    samples = series(np.concatenate([day, day]))
    offsets = pl.DataFrame({"prediction_id": ["a1"], "vector": ["PT_TCP"], "metric": ["PPS"]})
    offsets = offsets.with_columns(offset=pl.lit(0.5))
    out = episodes_by_depth(samples, offsets, [0.005, 0.02, 0.1]).row(0, named=True)
    # just below the peak: 2 runs (10-11, 31); 2 % below: + sample 20; 10 % below: 30-32 joins
    assert (out["g0"], out["g1"], out["g2"]) == (2.0, 3.0, 3.0) and out["n_days"] == 2


def _cycle(n: int, rng: np.random.Generator) -> np.ndarray:
    """Diurnal traffic with autocorrelated (AR(1), phi 0.8) multiplicative noise."""
    t = np.arange(n)
    noise = lfilter([0.25 * np.sqrt(1 - 0.8**2)], [1.0, -0.8], rng.standard_normal(n))
    return 100.0 * np.exp(0.6 * np.cos(2 * np.pi * t / PER_DAY) + noise)


def _episodes(x: np.ndarray, level: float) -> int:
    above = x > level
    return int(above[0]) + int((above[1:] & ~above[:-1]).sum())


@pytest.mark.parametrize("kind", ["daily cycle, AR(1) noise", "iid gamma"])
def test_measured_episode_rate_on_held_out_data_matches_the_budget(kind):
    learn_days, held_days, n_series = 28, 1000, 60
    frames, held = [], []
    for i in range(n_series):
        rng = np.random.default_rng(100 + i)
        n = (learn_days + held_days) * PER_DAY
        x = _cycle(n, rng) if kind.startswith("daily") else 10 + rng.gamma(2.0, 2.0, n)
        frames.append(series(x[: learn_days * PER_DAY], prediction_id=f"s{i:02d}"))
        held.append(x[learn_days * PER_DAY :])
    learn = pl.concat(frames)
    features = simple_features(learn)
    table = EVT(floors=NO_FLOORS).fit(features, learn).predict(features)
    assert table["fallback"].null_count() == n_series
    order = [int(p[1:]) for p in table["prediction_id"]]
    levels = table.select(LEVELS).to_numpy()
    measured = np.array(
        [[_episodes(held[k], z) for z in levels[row]] for row, k in enumerate(order)]
    ).sum(axis=0)
    expected = table.select(FA).to_numpy().sum(axis=0) * held_days
    # the budget, except where max_multiple capped a level (it then says how much more)
    assert (expected >= np.array(DEFAULT_BUDGETS) * n_series * held_days * (1 - 1e-6)).all()
    ratio = measured / expected
    # ss within 2x both ways; rarer levels never alarm more than twice the budget. On a
    # stationary tail the shape average (gamma >= 0 on a log scale, 28 maxima) is
    # cautious at rare levels: measured 0.3-1.0 times the budget over seeds.
    assert 0.5 < ratio[0] < 2.0 and ((ratio > 0.25) & (ratio < 2.0)).all(), (measured, expected)


def test_fragmented_alarm_days_raise_the_level():
    rng = np.random.default_rng(3)
    x = _cycle(14 * PER_DAY, rng)
    # the same daily maxima; in the jagged copy every run above a level is one sample long
    smooth = series(np.repeat(x, 2), step=150)
    jagged = series(np.column_stack([x, 0.5 * x]).ravel(), step=150)
    levels = []
    for samples in (smooth, jagged):
        features = simple_features(samples)
        method = EVT(floors=NO_FLOORS).fit(features, samples)
        table = method.predict(features)
        np.testing.assert_allclose(table.select(FA).to_numpy()[0], DEFAULT_BUDGETS, rtol=1e-6)
        levels.append(table.select(LEVELS).to_numpy()[0])
    assert np.array_equal(
        daily_maxima(smooth)["maxima"].to_list(), daily_maxima(jagged)["maxima"].to_list()
    )
    assert levels[1][0] > levels[0][0] * 1.01  # ss moves most: its alarm days hold more runs


def test_levels_are_ordered_and_scale_with_the_traffic():
    rng = np.random.default_rng(4)
    a = series(gpd_values(0.1, 30 * PER_DAY, rng))
    b = a.with_columns(pl.col("passed") * 3)
    features = simple_features(a)
    method = EVT(floors=NO_FLOORS).fit(features, a)
    first = method.predict(features)
    values = first.select(LEVELS).to_numpy()[0]
    assert (np.diff(values) > 0).all() and values[0] > np.quantile(a["passed"], 0.99)
    tripled = EVT(floors=NO_FLOORS).fit(features, b).predict(features)
    np.testing.assert_allclose(tripled.select(LEVELS).to_numpy(), 3 * values[None, :], rtol=1e-9)
    with pytest.raises(TypeError):  # predict applies the fit: it takes no samples
        method.predict(features, b)
    assert "GEV of 30 daily maxima" in first["basis"][0] and "γ≈" in first["basis"][0]


def test_floors_lower_and_caps_raise_the_expected_false_alarms():
    rng = np.random.default_rng(5)
    samples = series(gpd_values(0.0, 30 * PER_DAY, rng))
    features = simple_features(samples)
    floors = Floors.from_mapping({("*", "*"): (40, 40, 40, 40)})
    table = EVT(floors=floors).fit(features, samples).predict(features)
    fa = table.select(FA).to_numpy()[0]
    assert (fa <= np.array(DEFAULT_BUDGETS) * (1 + 1e-6)).all()
    assert fa[0] < DEFAULT_BUDGETS[0] / 5 and table["ss"][0] == 40
    capped = EVT(floors=NO_FLOORS, max_multiple=1.0).fit(features, samples).predict(features)
    assert capped["rl"][0] == pytest.approx(samples["passed"].max())
    assert capped["expected_fa_per_day_rl"][0] > DEFAULT_BUDGETS[3]
    assert "capped at 1 × max" in capped["basis"][0]


def _fallback_case(values, *, step=300, blocked=None, pid="f"):
    return series(np.asarray(values, dtype=float), prediction_id=pid, step=step, blocked=blocked)


def test_short_quiet_flat_silent_and_missing_series_fall_back_to_rule_daily():
    rng = np.random.default_rng(8)
    quiet = np.zeros(14 * PER_DAY)
    quiet[[5, 400]] = 5.0  # traffic on two days only
    flat = np.ones(14 * PER_DAY)  # the same maximum every day
    samples = pl.concat(
        [
            _fallback_case(rng.exponential(1.0, 3 * PER_DAY), pid="short"),
            _fallback_case(quiet, pid="quiet"),
            _fallback_case(flat, pid="flat"),
            _fallback_case(np.zeros(14 * PER_DAY), pid="zeros"),
            _fallback_case(
                rng.exponential(1.0, 14 * PER_DAY), blocked=np.ones(14 * PER_DAY), pid="attacked"
            ),
            _fallback_case(rng.exponential(1.0, 14 * PER_DAY), pid="fine"),
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
    table = EVT().fit(features, samples).predict(features)
    reasons = dict(zip(table["prediction_id"], table["fallback"], strict=True))
    assert reasons["fine"] is None
    assert reasons["short"] == "rule-daily: short (3 covered days < 5)"
    assert reasons["quiet"] == "rule-daily: quiet (2 days with traffic < 3)"
    assert reasons["flat"].startswith("rule-daily: degenerate tail fit")
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
        .filter(pl.col("prediction_id").is_in(fell["prediction_id"].to_list()))
    )
    assert fell.select(LEVELS).equals(rule.select(LEVELS))
    assert fell.select(FA).null_count().row(0) == (fell.height,) * 4
    fine = table.filter(pl.col("prediction_id") == "fine")
    assert fine.select(FA).null_count().row(0) == (0,) * 4


def test_rule_max_can_be_the_fallback():
    samples = _fallback_case(np.ones(100), pid="short")
    features = simple_features(samples)
    table = EVT(fallback="rule-max").fit(features, samples).predict(features)
    assert table["fallback"][0].startswith("rule-max: short")
    assert table["basis"][0].startswith("1.2/1.5/2/3 × daily_max_1")


def test_fit_needs_samples_and_valid_parameters():
    samples = series(np.ones(10))
    features = simple_features(samples)
    with pytest.raises(InsufficientDataError, match="samples"):
        EVT().fit(features)
    for params in (
        {"budgets": (1, 2, 3, 4)},
        {"budgets": (1, 1, 1)},
        {"fallback": "model"},
        {"min_days": 1},
        {"max_shape": -0.1},
        {"censor": 0.9},
        {"coverage": 1.5},
        {"max_multiple": 0.5},
    ):
        with pytest.raises(FloodmarkError, match="evt"):
            EVT(**params).fit(features, samples)


def test_the_store_step_decides_which_days_are_covered():
    samples = series(np.arange(4 * PER_DAY, dtype=float))  # four full days at 5 minutes
    assert daily_maxima(samples)["n_days"][0] == 4
    # a store saying the series steps every minute: a day of 288 samples is a fifth covered
    steps = samples.select(KEYS).unique().with_columns(median_step_s=pl.lit(60.0))
    assert daily_maxima(samples, steps=steps)["n_days"][0] == 0
    features = simple_features(samples).join(steps, on=KEYS)
    fitted = EVT(min_days=3, floors=NO_FLOORS).fit(features, samples)
    assert fitted.tails_["n_days"][0] == 0 and fitted.tails_["step_s"][0] == 60.0
    unknown = steps.with_columns(prediction_id=pl.lit("other"))
    assert daily_maxima(samples, steps=unknown)["n_days"][0] == 4  # not listed: its own step
