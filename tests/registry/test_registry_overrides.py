"""Overrides: an expert's value for one level, kept in order and applied when read."""

from __future__ import annotations

import pytest
from registry_builders import BASE

from floodmark.registry import (
    RegistryError,
    approve_set,
    audit_log,
    effective_thresholds,
    list_sets,
    open_registry,
    override_threshold,
    publish_thresholds,
)

SERIES = {"prediction_id": "a1", "vector": "PT_TCP", "metric": "PPS"}


def _row(registry, ref, prediction_id="a1", vector="PT_TCP"):
    table = effective_thresholds(registry, ref)
    return table.filter(
        (table["prediction_id"] == prediction_id) & (table["vector"] == vector)
    ).row(0, named=True)


def test_an_override_applies_to_its_level_and_is_audited(db_url):
    table = BASE.with_columns(expected_fa_per_day_nw=BASE["nw"] * 0 + 0.01)
    with open_registry(db_url) as registry:
        set_id = publish_thresholds(registry, table, source="t", by="alice").set_id
        done = override_threshold(
            registry, set_id, **SERIES, level="nw", value=250.0, by="bob", reason="peak sale"
        )
        row = _row(registry, set_id)
        untouched = _row(registry, set_id, vector="PT_TOTAL")
        log = audit_log(registry).tail(1)
        sets = list_sets(registry)
    assert (done.before, done.after) == (200.0, 250.0)
    assert [row[lv] for lv in ("ss", "sc", "nw", "rl")] == [100.0, 150.0, 250.0, 300.0]
    assert row["expected_fa_per_day_nw"] is None  # the method's figure was for 200
    assert row["basis"].endswith("; nw set to 250 by bob (peak sale)")
    assert untouched["nw"] == 2e6 and untouched["expected_fa_per_day_nw"] == 0.01
    assert log.select("who", "action", "what", "before", "after").row(0) == (
        "bob",
        "override",
        f"set {set_id} a1/PT_TCP/PPS nw",
        '{"nw":200.0}',
        '{"nw":250.0,"reason":"peak sale"}',
    )
    assert sets["overrides"].to_list() == [1]


def test_the_latest_override_wins_and_the_order_is_checked_against_it(db_url):
    with open_registry(db_url) as registry:
        set_id = publish_thresholds(registry, BASE, source="t", by="alice").set_id
        approve_set(registry, set_id, by="bob")
        override_threshold(
            registry, "approved", **SERIES, level="rl", value=500, by="b", reason="r"
        )
        override_threshold(
            registry, "approved", **SERIES, level="nw", value=400, by="b", reason="r"
        )
        # 450 > rl's published 300: allowed only because rl is now 500.
        done = override_threshold(
            registry, set_id, **SERIES, level="nw", value=450, by="b", reason="r"
        )
        assert done.before == 400
        assert _row(registry, set_id)["nw"] == 450


@pytest.mark.parametrize(
    ("level", "value", "message"),
    [
        ("sc", 90.0, r"sc=90 would break ss <= sc <= nw <= rl \(ss=100, sc=90, nw=200, rl=300\)"),
        ("rl", 199.0, "rl=199 would break"),
        ("xx", 1.0, "level must be one of ss, sc, nw, rl"),
        ("ss", -1.0, "finite value >= 0"),
        ("ss", float("nan"), "finite value >= 0"),
    ],
)
def test_an_override_that_breaks_the_levels_is_refused(db_url, level, value, message):
    with open_registry(db_url) as registry:
        set_id = publish_thresholds(registry, BASE, source="t", by="alice").set_id
        rows = audit_log(registry).height
        with pytest.raises(RegistryError, match=message):
            override_threshold(
                registry, set_id, **SERIES, level=level, value=value, by="b", reason="r"
            )
        assert audit_log(registry).height == rows
        assert list_sets(registry)["overrides"].to_list() == [0]


def test_overrides_need_a_known_series_a_reason_and_a_live_set(tmp_path):
    with open_registry(tmp_path / "r.db") as registry:
        first = publish_thresholds(registry, BASE, source="t", by="alice").set_id
        second = publish_thresholds(registry, BASE.head(2), source="u", by="alice").set_id
        approve_set(registry, first, by="bob")
        approve_set(registry, second, by="bob")
        common = {"level": "ss", "value": 1.0, "by": "b"}
        with pytest.raises(RegistryError, match="series zz/PT_TCP/PPS: set 2 has no thresholds"):
            override_threshold(
                registry, second, **(SERIES | {"prediction_id": "zz"}), **common, reason="r"
            )
        with pytest.raises(RegistryError, match="needs a reason"):
            override_threshold(registry, second, **SERIES, **common, reason="  ")
        with pytest.raises(RegistryError, match="set 1 is superseded"):
            override_threshold(registry, first, **SERIES, **common, reason="r")
