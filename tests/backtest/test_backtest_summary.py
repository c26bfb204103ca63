"""The method × level table and the JSON round trip."""

from __future__ import annotations

import datetime as dt

import orjson
import polars as pl
import pytest

from floodmark.backtest.episodes import DELAY_SCHEMA, SPAN_SCHEMA
from floodmark.backtest.result import (
    BACKTEST_PER_SERIES_SCHEMA,
    BACKTEST_TABLE_SCHEMA,
    BacktestMeta,
    BacktestParameters,
    BacktestResult,
)
from floodmark.backtest.summary import object_days, summarise
from floodmark.errors import InputFormatError

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def spans(rows):
    return pl.DataFrame(rows, schema=SPAN_SCHEMA, orient="row")


def per_series(rows, min_duration=1):
    """Rows (keys, method, level, threshold, ...) scored with one minimum duration."""
    rows = [(*r[:5], min_duration, *r[5:]) for r in rows]
    return pl.DataFrame(rows, schema=BACKTEST_PER_SERIES_SCHEMA, orient="row")


def delay_rows(rows, min_duration=1):
    rows = [(*r[:5], min_duration, *r[5:]) for r in rows]
    return pl.DataFrame(rows, schema=DELAY_SCHEMA, orient="row")


def test_object_days_take_the_union_per_object_plus_one_step():
    day = dt.timedelta(days=1)
    five = dt.timedelta(minutes=5)
    s = spans(
        [
            ("a", "PT_TCP", "PPS", 10, T0, T0 + 2 * day - five, 300.0),
            ("a", "PT_UDP", "PPS", 10, T0 + day, T0 + 3 * day - five, 300.0),
            ("b", "PT_TCP", "PPS", 10, T0, T0 + day - five, 300.0),
            ("c", "PT_TCP", "PPS", 0, None, None, None),
        ]
    )
    assert object_days(s) == pytest.approx(4.0)
    assert object_days(spans([])) == 0.0


def test_summarise_counts_rates_delays_and_expert_agreement():
    s = spans([("a", "PT_TCP", "PPS", 288, T0, T0 + dt.timedelta(seconds=86_100), 300.0)])
    ps = per_series(
        [
            ("a", "PT_TCP", "PPS", "m", "ss", 10.0, 3, 2, 2, 10.0),
            ("a", "PT_UDP", "PPS", "m", "ss", 12.0, 1, 2, 1, 10.0),
            ("a", "PT_SYN", "PPS", "m", "ss", 50.0, 0, 0, 0, 10.0),
            ("a", "PT_TCP", "PPS", "m", "rl", None, 0, 2, 0, 40.0),
        ]
    )
    delays = delay_rows(
        [
            ("a", "PT_TCP", "PPS", "m", "ss", 0),
            ("a", "PT_TCP", "PPS", "m", "ss", 2),
            ("a", "PT_UDP", "PPS", "m", "ss", 5),
        ]
    )
    table = summarise(ps, delays, s, ["m"], ["ss", "rl"])
    assert table.schema == pl.Schema(BACKTEST_TABLE_SCHEMA)
    ss, rl = table.rows(named=True)
    assert (ss["method"], ss["level"], rl["level"]) == ("m", "ss", "rl")
    assert ss["false_alarms"] == 4
    assert ss["object_days"] == pytest.approx(1.0)
    assert ss["false_alarms_per_object_day"] == pytest.approx(4.0)
    assert (ss["attack_episodes"], ss["detected"]) == (4, 3)
    assert ss["detection_rate"] == pytest.approx(0.75)
    assert ss["median_delay_samples"] == 2.0
    # |10-10|/10 = 0, |12-10|/10 = 0.2, |50-10|/10 = 4 -> median 20 %, 2 of 3 within 25 %.
    assert ss["median_ape_vs_expert_pct"] == pytest.approx(20.0)
    assert ss["within_25pct"] == pytest.approx(2 / 3)
    # A missing threshold is not compared with the expert, and detects nothing.
    assert rl["median_ape_vs_expert_pct"] is None and rl["within_25pct"] is None
    assert rl["detection_rate"] == 0.0 and rl["median_delay_samples"] is None


def test_summarise_without_labels_or_attacks_gives_nulls():
    s = spans([("a", "PT_TCP", "PPS", 2, T0, T0 + dt.timedelta(minutes=5), 300.0)])
    ps = per_series([("a", "PT_TCP", "PPS", "m", "ss", 1.0, 0, 0, 0, None)])
    table = summarise(ps, pl.DataFrame(schema=DELAY_SCHEMA), s, ["m", "other"], ["ss"])
    assert table.height == 2
    row, other = table.rows(named=True)
    assert row["detection_rate"] is None
    assert row["median_ape_vs_expert_pct"] is None and row["within_25pct"] is None
    assert other["method"] == "other" and other["false_alarms"] == 0


def test_result_json_round_trip(tmp_path):
    s = spans([("a", "PT_TCP", "PPS", 2, T0, T0 + dt.timedelta(minutes=5), 300.0)])
    ps = per_series([("a", "PT_TCP", "PPS", "m", "ss", float("nan"), 0, 1, 0, None)])
    table = summarise(ps, pl.DataFrame(schema=DELAY_SCHEMA), s, ["m"])
    meta = BacktestMeta(
        learn_days=21,
        n_series=1,
        methods=("m",),
        parameters=BacktestParameters(blocked_threshold=2.5, model_folds=None),
    )
    result = BacktestResult(table=table, per_series=ps, meta=meta)
    path = result.to_json(tmp_path / "bt.json")
    doc = orjson.loads(path.read_bytes())
    assert set(doc) == {"meta", "table", "per_series"}
    assert doc["per_series"][0]["threshold"] is None  # NaN is written as null
    back = BacktestResult.from_json(path)
    assert back.meta == result.meta
    assert back.meta.parameters.blocked_threshold == 2.5 and back.meta.split_text() == (
        "first 21 days"
    )
    assert back.table.equals(table)
    assert back.per_series.schema == pl.Schema(BACKTEST_PER_SERIES_SCHEMA)
    assert back.per_series["threshold"].to_list() == [None]


def test_an_older_result_file_is_read_under_the_new_names(tmp_path):
    s = spans([("a", "PT_TCP", "PPS", 2, T0, T0 + dt.timedelta(minutes=5), 300.0)])
    ps = per_series([("a", "PT_TCP", "PPS", "m", "ss", 10.0, 0, 1, 0, 8.0)])
    table = summarise(ps, pl.DataFrame(schema=DELAY_SCHEMA), s, ["m"])
    old_table = table.rename({"median_ape_vs_expert_pct": "mape_vs_expert"}).drop("min_duration")
    doc = {
        "meta": {"learn_days": 21, "n_series": 1, "parameters": {"blocked_threshold": 0.0}},
        "table": old_table.to_dicts(),
        "per_series": ps.drop("min_duration").to_dicts(),
    }
    path = tmp_path / "old.json"
    path.write_bytes(orjson.dumps(doc))
    back = BacktestResult.from_json(path)
    assert back.table["median_ape_vs_expert_pct"].to_list() == [25.0, None, None, None]
    assert back.meta.learn_days == 21 and back.meta.n_windows == 0
    # written before minimum durations existed: every alarm counted at once
    assert back.table["min_duration"].to_list() == [1] * 4
    assert back.per_series["min_duration"].to_list() == [1]
    assert back.meta.parameters.min_durations == (1,)


def test_from_json_rejects_other_documents(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(orjson.dumps({"table": []}))
    with pytest.raises(InputFormatError, match="not a backtest result"):
        BacktestResult.from_json(path)
    with pytest.raises(InputFormatError, match="cannot read"):
        BacktestResult.from_json(tmp_path / "missing.json")
