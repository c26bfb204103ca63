"""One contract, every method: parameters, fit/predict, named errors, the output table."""

from __future__ import annotations

import inspect

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from threshold_data import fleet_samples, labelled_features, simple_features

from floodmark.errors import FloodmarkError, InsufficientDataError, NotFittedError, SchemaError
from floodmark.schema import LEVELS
from floodmark.thresholds import (
    METHODS,
    THRESHOLD_SCHEMA,
    Floors,
    RuleDaily,
    RuleMax,
    ThresholdMethod,
    fallback_summary,
    make_method,
)

FAST_MODEL = {"n_estimators": 30, "folds": 3, "min_child_samples": 5}


def _inputs(name: str) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    if name in ("model", "experts"):
        return labelled_features(n_objects=30), None
    samples = fleet_samples()
    return simple_features(samples), samples


def _method(name: str, **params) -> ThresholdMethod:
    return make_method(name, **(FAST_MODEL if name == "model" else {}), **params)


CASES = [*METHODS, "rule-daily-p95", "rule-max-mean"]
VARIANTS = {
    "rule-daily-p95": ("rule-daily", {"variant": "p95"}),
    "rule-max-mean": ("rule-max", {"statistic": "mean"}),
}


@pytest.fixture(params=CASES)
def case(request):
    name, params = VARIANTS.get(request.param, (request.param, {}))
    features, samples = _inputs(name)
    return name, params, features, samples


def test_registry_names_every_method():
    assert set(METHODS) == {
        "rule-max",
        "rule-daily",
        "rule-p95",
        "evt",
        "model",
        "experts",
        "budget",
    }
    for name, cls in METHODS.items():
        assert issubclass(cls, ThresholdMethod)
        assert cls.name == name
        assert isinstance(make_method(name), cls)


def test_make_method_rejects_unknown_names_and_parameters():
    with pytest.raises(FloodmarkError, match="unknown threshold method"):
        make_method("magic")
    with pytest.raises(FloodmarkError, match="bad parameters"):
        make_method("evt", no_such_parameter=1)


@pytest.mark.parametrize("name", list(METHODS))
def test_init_stores_parameters_only(name):
    method = make_method(name)
    names = [p for p in inspect.signature(type(method).__init__).parameters if p != "self"]
    assert sorted(vars(method)) == sorted(names)
    assert not method.is_fitted()
    assert method.get_params() == {n: getattr(method, n) for n in names}


def test_fit_returns_self_and_learns_underscore_attributes(case):
    name, params, features, samples = case
    method = _method(name, **params)
    assert method.fit(features, samples) is method
    learned = [k for k in vars(method) if k.endswith("_")]
    assert learned, "fit must set learned attributes ending in _"


def test_predict_before_fit_is_a_named_error(case):
    name, params, features, samples = case
    with pytest.raises(NotFittedError):
        _method(name, **params).predict(features)


def test_empty_input_is_insufficient_data(case):
    name, params, features, samples = case
    with pytest.raises(InsufficientDataError):
        _method(name, **params).fit(features.head(0), samples)


def test_output_table_contract(case):
    name, params, features, samples = case
    table = _method(name, **params).fit(features, samples).predict(features)
    assert table.schema == pl.Schema(THRESHOLD_SCHEMA)
    assert table.select(["prediction_id", "vector", "metric"]).equals(
        features.select(["prediction_id", "vector", "metric"])
    )
    assert table["method"].unique().to_list() == [name]
    values = table.select(LEVELS).to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()
    assert table["basis"].null_count() == 0
    # healthy inputs: every series gets the method itself, no fallback
    assert table["fallback"].null_count() == table.height


def test_clone_gives_the_same_predictions(case):
    name, params, features, samples = case
    method = _method(name, **params)
    first = method.fit(features, samples).predict(features)
    twin = method.clone()
    assert twin is not method and not twin.is_fitted()
    assert twin.get_params() == method.get_params()
    assert twin.fit(features, samples).predict(features).equals(first)


def test_same_parameters_same_result(case):
    name, params, features, samples = case
    a = _method(name, **params).fit(features, samples).predict(features)
    b = _method(name, **params).fit(features, samples).predict(features)
    assert a.equals(b)


def test_floors_are_respected(case):
    name, params, features, samples = case
    high = (1e6, 2e6, 3e6, 4e6)
    floors = Floors.from_mapping({("*", "BW"): high}, base=Floors.default())
    table = _method(name, floors=floors, **params).fit(features, samples).predict(features)
    bw = table.filter(pl.col("metric") == "BW").select(LEVELS).to_numpy()
    assert len(bw) and (bw >= np.array(high)).all()
    assert table.filter(pl.col("metric") == "BW")["basis"].str.contains("floored").all()
    pps = table.filter(pl.col("metric") == "PPS").select(LEVELS).to_numpy()
    assert (pps >= np.array(Floors.default().lookup("PT_TCP", "PPS"))).all()


def test_empty_prediction_is_an_empty_table(case):
    name, params, features, samples = case
    table = _method(name, **params).fit(features, samples).predict(features.head(0))
    assert table.height == 0 and table.schema == pl.Schema(THRESHOLD_SCHEMA)


def test_missing_keys_and_repeated_series_are_schema_errors(case):
    name, params, features, samples = case
    with pytest.raises(SchemaError, match="vector"):
        _method(name, **params).fit(features.drop("vector"), samples)
    with pytest.raises(SchemaError, match="repeated series"):
        _method(name, **params).fit(pl.concat([features, features.head(1)]), samples)


finite_or_not = st.one_of(
    st.floats(min_value=0, max_value=1e12),
    st.just(float("nan")),
    st.just(float("inf")),
    st.none(),
)


@given(
    q90=st.lists(finite_or_not, min_size=1, max_size=6),
    mean=st.floats(min_value=0, max_value=1e9),
)
def test_rules_always_give_ordered_finite_thresholds(q90, mean):
    n = len(q90)
    features = pl.DataFrame(
        {
            "prediction_id": [f"{i}" for i in range(n)],
            "vector": ["PT_SYN"] * n,
            "metric": ["PPS"] * n,
            "daily_max_q90": pl.Series(q90, dtype=pl.Float64),
            "daily_max_1": pl.Series(q90, dtype=pl.Float64),
            "passed_val_mean": [mean] * n,
        }
    )
    for method in (RuleDaily(), RuleMax(), RuleMax(statistic="mean")):
        table = method.fit(features).predict(features)
        values = table.select(LEVELS).to_numpy()
        assert np.isfinite(values).all() and (values >= 0.1).all()
        assert (np.diff(values, axis=1) >= 0).all()
        bad = [v is None or not np.isfinite(v) for v in q90]
        if isinstance(method, RuleDaily):
            assert table["fallback"].is_not_null().to_list() == bad


def test_fallback_summary_groups_by_rule_and_reason():
    table = pl.DataFrame(
        {
            "fallback": [
                None,
                "rule-daily: quiet (3 excesses over the tail start < 20)",
                "rule-daily: quiet (7 excesses over the tail start < 20)",
                "floors: no baseline traffic (daily_max_q90 is null) (evt: short (1 days < 2))",
            ]
        }
    )
    summary = fallback_summary(table)
    assert summary.rows() == [("rule-daily: quiet", 2), ("floors: no baseline traffic", 1)]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_method_declares_exactly_its_constructor_parameters(name):
    cls = METHODS[name]
    signature = inspect.signature(cls.__init__)
    assert cls.parameters == tuple(p for p in signature.parameters if p != "self")


def test_only_the_learned_model_learns_across_series():
    assert {name for name, cls in METHODS.items() if cls.learns_across_series} == {"model"}
