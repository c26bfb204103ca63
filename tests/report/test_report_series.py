"""The per-series figure and figure files (HTML here; PNG in test_browser.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from report_fleet import PER_DAY, make_series

from floodmark.errors import FloodmarkError
from floodmark.features import compute_features, find_super_peaks
from floodmark.report import series_figure, write_figure
from floodmark.report.export import figure_png, find_browser

LEVEL_VALUES = {"ss": 300.0, "sc": 500.0, "nw": 780.0, "rl": 1200.0}
LABELS = {"ip_ss": 350.0, "ip_sc": 600.0, "ip_nw": 900.0, "ip_rl": 1500.0}


@pytest.fixture(scope="module")
def samples() -> pl.DataFrame:
    # Ten days, so the one 2000 spike stays above 3 × daily_max_q90: a super peak.
    return make_series(days=10, attacks=((PER_DAY + 50, 4), (3 * PER_DAY, 1)))


@pytest.fixture(scope="module")
def full_figure(samples):
    features = compute_features(samples)
    return series_figure(
        samples,
        features_row=features,
        thresholds_row={"method": "rule-daily", "basis": "k × daily_max_q90", **LEVEL_VALUES},
        labels_row=LABELS,
        super_peaks=find_super_peaks(samples),
    )


def _trace(fig, prefix: str):
    found = [t for t in fig.data if t.name and t.name.startswith(prefix)]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


def test_levels_and_labels_are_horizontal_lines_at_their_values(full_figure):
    for level, value in LEVEL_VALUES.items():
        line = _trace(full_figure, f"recommended {level} ")
        assert list(line.y) == [value, value]
        assert line.line.dash == "solid"
        assert "rule-daily" in line.name
        expert = _trace(full_figure, f"expert ip_{level} ")
        assert list(expert.y) == [LABELS[f"ip_{level}"]] * 2
        assert expert.line.dash == "dash"
        # Same colour per level: recommended and expert read as a pair.
        assert expert.line.color == line.line.color


def test_feature_lines_come_from_the_features_row(samples, full_figure):
    features = compute_features(samples).row(0, named=True)
    q90 = features["daily_max_q90"]
    assert _trace(full_figure, "daily_max_q90 ").y[0] == pytest.approx(q90)
    assert _trace(full_figure, "daily_max_q70 ").y[0] == pytest.approx(features["daily_max_q70"])
    assert _trace(full_figure, "3 × daily_max_q90").y[0] == pytest.approx(3 * q90)


def test_raw_and_attack_free_traffic(samples, full_figure):
    raw = _trace(full_figure, "passed (raw)")
    calm = _trace(full_figure, "passed, attacks removed")
    assert raw.mode == "lines" and calm.mode == "markers"
    np.testing.assert_allclose(np.asarray(raw.y, dtype=float), samples["passed"].to_numpy())
    hidden = np.isnan(np.asarray(calm.y, dtype=float))
    np.testing.assert_array_equal(hidden, samples["blocked"].to_numpy() > 0)


def test_daily_markers_one_per_day(full_figure):
    assert len(_trace(full_figure, "daily max").x) == 10
    assert len(_trace(full_figure, "daily 90th pct").x) == 10


def test_attack_periods_are_shaded_and_super_peaks_marked(samples, full_figure):
    rects = [s for s in full_figure.layout.shapes if s.type == "rect"]
    assert len(rects) == 2
    ts = samples["timestamp"].dt.replace_time_zone(None)
    first = rects[0]
    # The 4-sample attack, widened by half a step either side.
    assert np.datetime64(first.x0) == np.datetime64(ts[PER_DAY + 50] - dt.timedelta(minutes=2.5))
    assert np.datetime64(first.x1) == np.datetime64(ts[PER_DAY + 53] + dt.timedelta(minutes=2.5))
    peaks = _trace(full_figure, "super peaks (1)")
    assert list(peaks.y) == [pytest.approx(2000.0)]
    assert "2 attack periods" in full_figure.layout.title.subtitle.text


def test_without_results_only_the_traffic_is_drawn():
    s = make_series(days=2, attacks=(), spike_at=None)
    fig = series_figure(s)
    names = [t.name for t in fig.data]
    assert names == ["passed (raw)", "passed, attacks removed", "daily max", "daily 90th pct"]
    assert not fig.layout.shapes
    assert fig.layout.title.text == "ab12 · PT_SYN · PPS"


def test_undefined_values_are_skipped_not_drawn():
    s = make_series(days=2, attacks=(), spike_at=None)
    fig = series_figure(
        s,
        features_row={"daily_max_q90": float("nan"), "daily_max_q70": None},
        thresholds_row={"ss": float("nan"), "sc": 5.0, "nw": None, "rl": float("inf")},
    )
    names = [t.name for t in fig.data]
    assert [n for n in names if n.startswith("recommended")] == ["recommended sc = 5"]
    assert not any(n.startswith("daily_max_q") for n in names)


def test_empty_and_mixed_samples():
    empty = make_series(days=1).head(0)
    fig = series_figure(empty)
    assert fig.layout.annotations[0].text == "this series has no samples"
    mixed = pl.concat([make_series(days=1), make_series(pid="other", days=1)])
    with pytest.raises(FloodmarkError, match="exactly one series"):
        series_figure(mixed)


def test_html_is_self_contained_and_written_atomically(tmp_path, full_figure):
    from plotly.offline import get_plotlyjs

    out = write_figure(full_figure, tmp_path / "s.html")
    text = out.read_text(encoding="utf-8")
    js = get_plotlyjs()
    assert text.count(js) == 1
    # Outside plotly.js itself (whose geo defaults name a CDN), nothing points online.
    rest = text.replace(js, "")
    assert "cdn.plot.ly" not in rest and "http" not in rest.lower().replace("http-equiv", "")
    assert "<title>ab12 · PT_SYN · PPS</title>" in text
    assert [p.name for p in tmp_path.iterdir()] == ["s.html"]


def test_unsupported_extension(tmp_path, full_figure):
    with pytest.raises(FloodmarkError, match="unsupported figure extension '.svg'"):
        write_figure(full_figure, tmp_path / "s.svg")
    assert not list(tmp_path.iterdir())


def test_png_without_a_browser_is_a_named_error_not_a_hang(tmp_path, full_figure):
    missing = tmp_path / "no-such-chromium"
    with pytest.raises(FloodmarkError, match="install chromium"):
        find_browser(missing)
    with pytest.raises(FloodmarkError, match="install chromium"):
        figure_png(full_figure, browser=missing)
    with pytest.raises(FloodmarkError, match="install chromium"):
        write_figure(full_figure, tmp_path / "s.png", browser=missing)
    assert not (tmp_path / "s.png").exists()


def test_a_broken_browser_is_a_named_error(tmp_path, full_figure):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(FloodmarkError, match="PNG export failed"):
        figure_png(full_figure, browser=fake)


def test_find_browser_without_argument_uses_choreographer_search(monkeypatch, tmp_path):
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BROWSER_PATH", str(fake))
    assert find_browser() == str(fake)
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "gone"))
    with pytest.raises(FloodmarkError, match="install chromium"):
        find_browser()


def test_a_real_public_trace(shared_data, tmp_path):
    from floodmark.io import read_series_csv

    samples = read_series_csv(
        shared_data / "nab-aws-network" / "ec2_network_in_5abac7.csv", prediction_id="ec2"
    ).samples
    fig = series_figure(samples, features_row=compute_features(samples))
    days = samples["timestamp"].dt.date().n_unique()
    assert len(_trace(fig, "daily max").x) == days
    assert len(_trace(fig, "passed (raw)").y) == samples.height
    # Markers sit inside the series' span even on its partial first and last day.
    first, last = (np.datetime64(t.replace(tzinfo=None)) for t in samples["timestamp"][[0, -1]])
    marks = np.asarray(_trace(fig, "daily max").x, dtype="datetime64[us]")
    assert marks.min() >= first and marks.max() <= last
    text = write_figure(fig, tmp_path / "nab.html").read_text(encoding="utf-8")
    assert "ec2 · PT_TOTAL · BW" in text
