"""The fleet report as a document: sections, figures, offline, and absent pieces."""

from __future__ import annotations

import re
from dataclasses import replace

import polars as pl
import pytest
from plotly.offline import get_plotlyjs

from floodmark.backtest import BacktestResult
from floodmark.io.atomic import read_table
from floodmark.report import build_report, write_report
from floodmark.report.fleet_figures import expert_figure
from floodmark.store import open_store

PLOT_DIV = re.compile(r'<div id="([^"]+)" class="plotly-graph-div"')


def _report(fleet, **overrides) -> str:
    kwargs = {
        "backtest": BacktestResult.from_json(fleet.backtest) if fleet.backtest else None,
        "super_peaks": read_table(fleet.super_peaks),
        "worst": 3,
    } | overrides
    return build_report(
        open_store(fleet.store_dir),
        read_table(fleet.features),
        read_table(fleet.thresholds),
        **kwargs,
    )


@pytest.fixture(scope="module")
def report(fleet) -> str:
    return _report(fleet)


def test_every_section_is_there_with_its_figure(report):
    for anchor in ("overview", "quarantine", "features", "methods", "experts", "backtest", "worst"):
        assert f'<section id="{anchor}">' in report
    ids = PLOT_DIV.findall(report)
    assert ids == [
        "fig-daily-max-q90",
        "fig-missing",
        "fig-experts",
        "fig-backtest",
        "fig-worst-1",
        "fig-worst-2",
        "fig-worst-3",
    ]
    assert len(ids) == len(set(ids))


def test_plotly_js_is_inlined_once_and_nothing_is_fetched(report):
    js = get_plotlyjs()
    assert report.count(js) == 1
    rest = report.replace(js, "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", rest)
    assert "@import" not in rest and "url(" not in rest
    assert "cdn." not in rest


def test_counts_by_vector_and_metric(report, fleet):
    catalog = open_store(fleet.store_dir).catalog()
    assert catalog.height == 18
    # One row per vector in the product's order, PPS and BW columns, a total.
    table = report.split("Series by vector and metric")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td[^>]*>(PT_\w+)</td>(.*?)</tr>", table)
    assert [v for v, _ in rows] == ["PT_SYN", "PT_TOTAL", "PT_UDP"]
    for _, cells in rows:
        assert re.findall(r">(\d+)</td>", cells) == ["3", "3", "6"]


def test_quarantine_reasons_are_summarised(report):
    section = report.split('<section id="quarantine">')[1].split("</section>")[0]
    assert "3 series were set aside" in section
    assert re.search(r"negative_value</td><td[^>]*>a value is negative</td><td>2</td>", section)
    assert "bad_gzip" in section and "other.parquet row 0: not gzip" in section


def test_backtest_table_has_a_row_per_method_and_level(report, fleet):
    table = BacktestResult.from_json(fleet.backtest).table
    section = report.split('<section id="backtest">')[1].split("</section>")[0]
    for method, level in table.select("method", "level").iter_rows():
        assert re.search(
            rf"<td class=\"text\">{method}</td><td class=\"text\">{level}</td>", section
        )
    assert "false alarms / object-day" in section


def test_worst_fitting_series_are_the_largest_log_ratios(report, fleet):
    section = report.split('<section id="worst">')[1].split("</section>")[0]
    heads = re.findall(r"<h3>\d+\. (\S+) — (\S+), worst at (\w+)", section)
    assert len(heads) == 3
    # Independent check of the ranking with a plain join.
    catalog = open_store(fleet.store_dir).catalog()
    t = read_table(fleet.thresholds).join(catalog, on=["prediction_id", "vector", "metric"])
    scores = []
    for row in t.iter_rows(named=True):
        ratios = [
            abs(pl.Series([row[lv] / row[f"ip_{lv}"]]).log()[0])
            for lv in ("ss", "sc", "nw", "rl")
            if row[lv] and row[f"ip_{lv}"]
        ]
        name = f"{row['prediction_id']}/{row['vector']}/{row['metric']}"
        scores.append((max(ratios), name, row["method"]))
    expected = [(name, method) for _, name, method in sorted(scores, reverse=True)[:3]]
    assert [(n, m) for n, m, _ in heads] == expected


def test_without_labels_or_backtest_it_says_so(unlabelled_fleet):
    text = _report(unlabelled_fleet)
    assert "This store has no expert labels" in text
    assert "Without expert labels there is no fit to rank series by." in text
    assert "No backtest given" in text
    ids = PLOT_DIV.findall(text)
    assert "fig-experts" not in ids and "fig-backtest" not in ids
    assert not [i for i in ids if i.startswith("fig-worst")]


def test_without_features_or_thresholds(fleet):
    text = build_report(open_store(fleet.store_dir))
    assert "No features table given" in text
    assert "No thresholds table given" in text
    assert PLOT_DIV.findall(text) == []


def test_large_fleets_are_sampled_in_the_expert_chart(fleet):
    text = _report(fleet, max_points=5, worst=0)
    assert "a seeded sample" in text and "5 of 18" in text
    assert "No worst-fitting series requested" in text


def test_expert_figure_has_band_and_diagonal_per_level():
    pairs = pl.DataFrame(
        {
            "prediction_id": ["a", "b"],
            "vector": ["V", "V"],
            "metric": ["PPS", "PPS"],
            "method": ["evt", "evt"],
            "level": ["ss", "rl"],
            "recommended": [10.0, 300.0],
            "expert": [20.0, 100.0],
        }
    )
    fig = expert_figure(pairs)
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 2
    lo, hi = 10.0 / 2, 20.0 * 2
    assert list(bands[0].x) == [lo, hi, hi, lo, lo]
    assert list(bands[0].y) == pytest.approx(
        [lo * 0.75, hi * 0.75, hi * 1.25, lo * 1.25, lo * 0.75]
    )
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_write_report_is_atomic(tmp_path, fleet):
    out = write_report(tmp_path / "r.html", open_store(fleet.store_dir))
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_flat_columns_and_undetectable_backtests_are_said_in_words(fleet):
    features = read_table(fleet.features).with_columns(missing_tmstmp_percentage=pl.lit(0.0))
    result = BacktestResult.from_json(fleet.backtest)
    no_attacks = BacktestResult(
        table=result.table.with_columns(
            attack_episodes=pl.lit(0), detected=pl.lit(0), detection_rate=pl.lit(None, pl.Float64)
        ),
        per_series=result.per_series,
        meta=result.meta,
    )
    text = build_report(
        open_store(fleet.store_dir),
        features,
        read_table(fleet.thresholds),
        backtest=no_attacks,
        worst=0,
    )
    assert "missing_tmstmp_percentage is 0 % for every series." in text
    assert "No attack episode fell in the test period" in text
    assert PLOT_DIV.findall(text) == ["fig-daily-max-q90", "fig-experts"]


def test_backtest_shows_measured_and_promised_false_alarms(report, fleet):
    meta = BacktestResult.from_json(fleet.backtest).meta
    promised = meta.expected_false_alarms_per_object_day["evt"]["ss"]
    section = report.split('<section id="backtest">')[1].split("</section>")[0]
    assert "method&#x27;s own expected FA / object-day" in section
    assert f"<td>{promised:.4g}</td>" in section
    assert "evt: its own expectation" in section


def test_fallbacks_are_grouped_by_rule_and_reason(fleet):
    thresholds = read_table(fleet.thresholds)
    evt = pl.col("method") == "evt"
    n = thresholds.filter(evt).height
    reasons = [f"rule-daily: quiet ({i} excesses over the tail start < 20)" for i in range(n)]
    thresholds = thresholds.with_columns(
        fallback=pl.when(evt).then(pl.Series(reasons * 2)).otherwise(None)
    )
    text = build_report(open_store(fleet.store_dir), None, thresholds, worst=0)
    section = text.split('<section id="methods">')[1].split("</section>")[0]
    assert re.search(r">evt</td><td>18</td><td>18</td>", section)
    assert re.search(r">evt</td><td class=\"text wrap\">rule-daily: quiet</td><td>18</td>", section)
    assert "excesses" not in section


def test_worst_series_shade_the_attacks_of_the_backtests_blocked_threshold(fleet):
    result = BacktestResult.from_json(fleet.backtest)
    strict = replace(result.meta, parameters=replace(result.meta.parameters, blocked_threshold=7.5))
    backtest = BacktestResult(result.table, result.per_series, strict)
    worst = _report(fleet, backtest=backtest, worst=1).split('<section id="worst">')[1]
    assert "shaded: attack periods (blocked &gt; 7.5)" in worst
    given = _report(fleet, backtest=backtest, worst=1, blocked_threshold=2.0)
    assert "shaded: attack periods (blocked &gt; 2)" in given


def test_detection_by_size_of_inserted_attacks_is_a_curve_per_method(fleet):
    result = BacktestResult.from_json(fleet.backtest)
    injected = pl.DataFrame(
        {
            "method": ["evt"] * 4 + ["rule-max"] * 4,
            "min_duration": [1] * 8,
            "level": ["ss", "ss", "rl", "rl"] * 2,
            "size": [1.0, 4.0] * 4,
            "episodes": [10] * 8,
            "detected": [3, 10, 0, 8, 5, 10, 1, 9],
            "detection_rate": [0.3, 1.0, 0.0, 0.8, 0.5, 1.0, 0.1, 0.9],
        }
    )
    meta = replace(result.meta, parameters=replace(result.meta.parameters, inject="ramp:6:1,4"))
    text = _report(fleet, backtest=replace(result, meta=meta, injected=injected), worst=0)
    assert "fig-injected" in PLOT_DIV.findall(text)
    assert "Inserted attacks: detection by size (ramp:6:1,4)" in text
    # without inserted attacks there is no such figure
    assert "fig-injected" not in PLOT_DIV.findall(_report(fleet, worst=0))


@pytest.fixture(scope="module")
def injected_backtest(fleet) -> BacktestResult:
    """A real backtest of the fleet (three objects) with two inserted attacks per size."""
    from floodmark.backtest import run_backtest
    from floodmark.backtest.inject import InjectSpec

    return run_backtest(
        fleet.store_dir,
        ["rule-max", "rule-p95"],
        learn_days=7,
        injection=InjectSpec.parse("plateau:3:0.5,4,32:2"),
    )


def test_each_of_a_few_objects_has_its_own_detection_curves(fleet, injected_backtest):
    text = _report(fleet, backtest=injected_backtest, worst=0)
    ids = PLOT_DIV.findall(text)
    assert ids[-2:] == ["fig-injected", "fig-injected-objects"]
    by_object = injected_backtest.injected_by_object
    objects = sorted(by_object["prediction_id"].unique().to_list())
    assert len(objects) == 3
    figure = text[text.index('id="fig-injected-objects"') :]
    for pid in objects:  # a row of panels per object, titled by it
        assert f"{pid} \\u00b7 ss" in figure or f"{pid} · ss" in figure
    # the curves are the measured rates: six series per object, two episodes per size
    assert set(by_object["episodes"].to_list()) == {12}
    # the size axis is ticked at the inserted sizes
    from floodmark.report.fleet_figures import injected_figure

    axis = injected_figure(by_object).layout.xaxis
    assert list(axis.tickvals) == [0.5, 4.0, 32.0] and list(axis.ticktext) == ["0.5×", "4×", "32×"]


def test_many_objects_are_summed_and_said_in_words(fleet, injected_backtest, monkeypatch):
    from floodmark.report import fleet as fleet_report

    monkeypatch.setattr(fleet_report, "MAX_OBJECT_CURVES", 2)
    text = _report(fleet, backtest=injected_backtest, worst=0)
    assert "fig-injected" in PLOT_DIV.findall(text)
    assert "fig-injected-objects" not in PLOT_DIV.findall(text)
    assert "3 objects: per-object curves are drawn for at most 2" in text


def test_a_rolling_backtest_is_drawn_step_by_step(fleet):
    from floodmark.backtest import run_backtest

    rolled = run_backtest(fleet.store_dir, ["default", "rule-max"], learn_days=4, refit_every=2)
    text = _report(fleet, backtest=rolled, worst=0)
    assert "fig-steps" in PLOT_DIV.findall(text)
    assert "re-learned every 2 days: the 4 days before each test learn (3 steps, summed)" in text
    from floodmark.report.fleet_figures import steps_figure

    figure = steps_figure(rolled.steps)
    # per level: a line per method, and the default's promise
    names = [t.name for t in figure.data if t.xaxis == "x"]
    assert names == ["default", "default: its promise", "rule-max"]
    assert len(figure.data[0].x) == 3  # one point per step
    # a single split has no steps
    assert "fig-steps" not in PLOT_DIV.findall(_report(fleet, worst=0))
