"""The competitors scored beside floodmark's methods: the experts' labels and Cloudflare's rule."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from threshold_data import labelled_features, series, simple_features

from floodmark.schema import LEVELS
from floodmark.thresholds import (
    Experts,
    Floors,
    RuleDaily,
    RuleP95,
    default_method,
    make_method,
    resolve_method,
)

DAY = 288  # five-minute samples


def test_rule_p95_reads_only_the_last_seven_days():
    # 7 loud days (daily max 100) then 7 quiet ones (daily max 10)
    values = np.concatenate([np.full(7 * DAY, 50.0), np.full(7 * DAY, 5.0)])
    values[np.arange(14) * DAY] = [100.0] * 7 + [10.0] * 7
    samples = series(values)
    features = simple_features(samples)
    floors = Floors.from_mapping({("*", "*"): (0, 0, 0, 0)})
    p95 = RuleP95(floors=floors).fit(features, samples).predict(features)
    assert p95.select(LEVELS).row(0) == pytest.approx((10.0, 15.0, 20.0, 40.0))
    # rule-daily's p95 variant reads every learning day: it is not this rule
    daily = RuleDaily(variant="p95", factors=(1, 1.5, 2, 4), floors=floors)
    assert daily.fit(features, samples).predict(features)["ss"][0] == pytest.approx(100.0)


def test_rule_p95_days_is_a_parameter():
    values = np.full(14 * DAY, 5.0)
    values[0] = 100.0  # only on the first day
    samples = series(values)
    features = simple_features(samples)
    floors = Floors.from_mapping({("*", "*"): (0, 0, 0, 0)})
    table = RuleP95(days=14, floors=floors).fit(features, samples).predict(features)
    assert table["ss"][0] > 5.0
    assert RuleP95(days=7, floors=floors).fit(features, samples).predict(features)["ss"][0] == 5.0


def test_experts_are_the_labels_as_given():
    features = labelled_features(n_objects=5)
    table = Experts().fit(features).predict(features)
    for lv in LEVELS:
        assert table[lv].to_list() == features[f"ip_{lv}"].to_list()


def test_an_unlabelled_level_has_no_expert_threshold():
    features = labelled_features(n_objects=2).with_columns(
        ip_rl=pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("ip_rl"))
    )
    table = make_method("experts").fit(features).predict(features)
    assert table["rl"][0] is None and table["ss"][0] == features["ip_ss"][0]
    assert "no expert label" in table["fallback"][0]
    assert table["fallback"][1:].is_null().all()


def test_default_is_the_budget_method_for_every_store():
    labelled = pl.DataFrame({"prediction_id": ["a"], "ip_ss": [1.0]})
    assert default_method(labelled) == "budget"
    assert default_method(pl.DataFrame({"prediction_id": ["a"]})) == "budget"
    assert resolve_method("default", labelled) == "budget"
    assert resolve_method("evt", labelled) == "evt"
