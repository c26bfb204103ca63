"""Diffs: per series x level, ratio, and what needs an expert's review."""

from __future__ import annotations

import math

import polars as pl
import pytest
from registry_builders import BASE, thresholds

from floodmark.errors import FloodmarkError
from floodmark.registry import (
    Guard,
    approve_set,
    diff_sets,
    diff_thresholds,
    open_registry,
    override_threshold,
    publish_thresholds,
    review_summary,
)

OLD = thresholds(
    ("a1", "PT_TCP", "PPS", 100.0, 150.0, 200.0, 300.0),
    ("b2", "PT_UDP", "PPS", 0.0, 10.0, 20.0, 30.0),
    ("gone", "PT_TCP", "PPS", 1.0, 2.0, 3.0, 4.0),
)
NEW = thresholds(
    ("a1", "PT_TCP", "PPS", 100.0, 299.0, 401.0, 300.0 * 0.49 + 1e-9),
    ("b2", "PT_UDP", "PPS", 0.0, 5.0, 20.0, 30.0),
    ("new", "PT_TCP", "PPS", 1.0, 2.0, 3.0, 4.0),
)


def _flags(diff: pl.DataFrame) -> dict[tuple[str, str], tuple[str, bool]]:
    return {
        (r["prediction_id"], r["level"]): (r["change"], r["needs_review"])
        for r in diff.iter_rows(named=True)
    }


def test_changes_beyond_the_guard_and_new_or_vanished_series_need_review():
    diff = diff_thresholds(OLD, NEW)
    flags = _flags(diff)
    assert diff.height == 16
    assert flags[("a1", "ss")] == ("same", False)
    assert flags[("a1", "sc")] == ("changed", False)  # 1.99x: inside the guard
    assert flags[("a1", "nw")] == ("changed", True)  # 2.005x
    assert flags[("a1", "rl")] == ("changed", True)  # 0.49x
    assert flags[("b2", "ss")] == ("same", False)  # 0 -> 0: ratio 1
    assert flags[("b2", "sc")] == ("changed", False)  # exactly 0.5x
    assert all(flags[("gone", lv)] == ("vanished", True) for lv in ("ss", "sc", "nw", "rl"))
    assert all(flags[("new", lv)] == ("new", True) for lv in ("ss", "sc", "nw", "rl"))
    a1 = diff.filter(pl.col("prediction_id") == "a1")
    assert a1["ratio"].to_list()[:3] == [1.0, 299.0 / 150.0, 401.0 / 200.0]
    assert review_summary(diff) == (
        "10 of 16 values need review: 2 moved beyond the guard, 1 new series, 1 vanished series"
    )


def test_a_value_leaving_zero_needs_review_and_the_guard_is_configurable():
    old = thresholds(("a", "PT_TCP", "PPS", 0.0, 1.0, 1.0, 1.0))
    new = thresholds(("a", "PT_TCP", "PPS", 0.5, 1.0, 1.4, 1.4))
    diff = diff_thresholds(old, new)
    assert math.isinf(diff["ratio"][0]) and diff["needs_review"].to_list() == [
        True,
        False,
        False,
        False,
    ]
    assert diff_thresholds(old, new, Guard(0.9, 1.3))["needs_review"].to_list() == [
        True,
        False,
        True,
        True,
    ]


@pytest.mark.parametrize("text", ["2,3", "0.5", "a,b", "0.5,0.9"])
def test_a_bad_guard_is_an_error(text):
    with pytest.raises(FloodmarkError, match="guard"):
        Guard.parse(text)


def test_sets_are_diffed_with_their_overrides(db_url):
    with open_registry(db_url) as registry:
        old = publish_thresholds(registry, BASE, source="old", by="a").set_id
        approve_set(registry, old, by="b")
        override_threshold(
            registry,
            old,
            prediction_id="a1",
            vector="PT_TCP",
            metric="PPS",
            level="rl",
            value=1000.0,
            by="b",
            reason="campaign",
        )
        new = publish_thresholds(
            registry, BASE.with_columns(ss=BASE["ss"] * 1.1), source="new", by="a"
        ).set_id
        diff = diff_sets(registry, "approved", new)
    flagged = diff.filter("needs_review").select("prediction_id", "vector", "level", "old", "new")
    assert flagged.rows() == [("a1", "PT_TCP", "rl", 1000.0, 300.0)]
