"""Open the report and a plot in a real headless Chromium; export a PNG through kaleido.

These need Debian's ``chromium``: skipped locally without it, failed in CI (see
the ``chromium`` fixture).
"""

from __future__ import annotations

import re

import pytest

from floodmark.backtest import BacktestResult
from floodmark.io.atomic import read_table
from floodmark.report import series_figure, write_figure, write_report
from floodmark.store import open_store
from headless_chromium import Chromium, png_info

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

FIGURES = """(() => [...document.querySelectorAll('.plotly-graph-div')].map(d => {
    const svg = d.querySelector('.main-svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {id: d.id, rendered: d.classList.contains('js-plotly-plot') && !!svg,
            width: box.width, height: box.height,
            traces: d.querySelectorAll('g.trace').length};
}))()"""
ALL_RENDERED = (
    f"(() => {{ const f = {FIGURES}; return f.length > 0 && f.every(x => x.rendered); }})()"
)


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    driver = Chromium(chromium, tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.close()


@pytest.fixture(scope="module")
def report_file(fleet, tmp_path_factory):
    path = tmp_path_factory.mktemp("html") / "report.html"
    return write_report(
        path,
        open_store(fleet.store_dir),
        read_table(fleet.features),
        read_table(fleet.thresholds),
        backtest=BacktestResult.from_json(fleet.backtest),
        super_peaks=read_table(fleet.super_peaks),
        worst=3,
    )


@pytest.fixture(scope="module")
def series_fig(fleet):
    store = open_store(fleet.store_dir)
    key = store.catalog().sort("prediction_id", "vector", "metric").row(0, named=True)
    thresholds = read_table(fleet.thresholds)
    row = thresholds.filter(
        (thresholds["prediction_id"] == key["prediction_id"])
        & (thresholds["vector"] == key["vector"])
        & (thresholds["metric"] == key["metric"])
        & (thresholds["method"] == "evt")
    )
    samples = store.read_series(key["prediction_id"], key["vector"], key["metric"])
    return series_figure(samples, thresholds_row=row, labels_row=key)


def _open(browser, path):
    tab = browser.open_page(path.resolve().as_uri())
    assert browser.wait_for(tab, ALL_RENDERED, timeout=60), browser.evaluate(tab, FIGURES)
    browser.pump(0.5)  # late errors and requests
    return tab


def _assert_clean(browser, tab):
    report = browser.page_report(tab)
    assert report.errors == []
    assert report.remote_requests == []
    assert report.requests, "the page load itself should be seen"


def _assert_screenshot(browser, tab, path):
    browser.screenshot(tab, path)
    data = path.read_bytes()
    width, height, colours = png_info(data)
    assert width == 1400 and height > 600
    assert len(data) > 30_000
    assert colours > 20, "the screenshot is (nearly) one colour"


def test_report_renders_every_figure_without_errors(browser, report_file, tmp_path):
    expected = re.findall(
        r'<div id="([^"]+)" class="plotly-graph-div"', report_file.read_text(encoding="utf-8")
    )
    assert len(expected) == 4 + 3  # four fleet figures, three worst-fitting series
    tab = _open(browser, report_file)
    figures = browser.evaluate(tab, FIGURES)
    assert [f["id"] for f in figures] == expected
    for f in figures:
        assert f["rendered"] and f["width"] > 300 and f["height"] > 200, f
        assert f["traces"] > 0, f
    _assert_clean(browser, tab)
    _assert_screenshot(browser, tab, tmp_path / "report.png")


def test_detection_curves_per_object_and_steps_render(browser, fleet, tmp_path):
    from floodmark.backtest import run_backtest
    from floodmark.backtest.inject import InjectSpec

    backtest = run_backtest(  # rolling: re-learned every 2 days, three steps
        fleet.store_dir,
        ["rule-max", "rule-p95"],
        learn_days=4,
        refit_every=2,
        injection=InjectSpec.parse("ramp:3:0.5,4,32:2"),
    )
    path = write_report(
        tmp_path / "injected.html",
        open_store(fleet.store_dir),
        read_table(fleet.features),
        read_table(fleet.thresholds),
        backtest=backtest,
        worst=0,
    )
    tab = _open(browser, path)
    figures = {f["id"]: f for f in browser.evaluate(tab, FIGURES)}
    # the fleet's curves: 4 levels x 2 methods; per object: 3 objects x 4 levels x 2 methods
    assert figures["fig-injected"]["traces"] == 8
    # step by step: a line per method and level
    assert figures["fig-steps"]["rendered"] and figures["fig-steps"]["traces"] == 8
    objects = figures["fig-injected-objects"]
    assert objects["rendered"] and objects["traces"] == 24
    assert objects["height"] > 3 * 250, objects  # a row of panels per object
    titles = browser.evaluate(
        tab,
        "[...document.querySelectorAll('#fig-injected-objects .annotation-text')]"
        ".map(t => t.textContent)",
    )
    for pid in backtest.injected_by_object["prediction_id"].unique().to_list():
        assert f"{pid} · rl" in titles
    _assert_clean(browser, tab)
    _assert_screenshot(browser, tab, tmp_path / "injected.png")


def test_series_plot_renders_and_its_log_button_works(browser, series_fig, tmp_path):
    path = write_figure(series_fig, tmp_path / "series.html")
    tab = _open(browser, path)
    figures = browser.evaluate(tab, FIGURES)
    assert len(figures) == 1 and figures[0]["traces"] >= 8
    legend = browser.evaluate(tab, "document.querySelector('.legend').textContent")
    for text in ("passed (raw)", "recommended ss", "(evt)", "expert ip_rl", "daily max"):
        assert text in legend
    # The buttons switch the y axis; the page must handle the click without errors.
    axis_type = """(() => { const b = [...document.querySelectorAll('.updatemenu-button')]
        .find(x => x.textContent === 'log');
        b.dispatchEvent(new MouseEvent('click', {bubbles: true}));
        return document.querySelector('.plotly-graph-div').layout.yaxis.type; })()"""
    assert browser.evaluate(tab, axis_type) == "log"
    _assert_clean(browser, tab)
    _assert_screenshot(browser, tab, tmp_path / "series.png")


def test_png_export_through_kaleido(chromium, series_fig, tmp_path):
    out = write_figure(series_fig, tmp_path / "series.png", browser=chromium)
    width, height, colours = png_info(out.read_bytes())
    assert (width, height) == (1400, 620)
    assert colours > 20
    assert [p.name for p in tmp_path.iterdir()] == ["series.png"]


def test_plot_command_writes_png(chromium, fleet, tmp_path):
    from typer.testing import CliRunner

    from floodmark.cli import app

    key = open_store(fleet.store_dir).catalog().row(0, named=True)
    out = tmp_path / "cli.png"
    result = CliRunner().invoke(
        app,
        [
            "plot",
            "--store",
            str(fleet.store_dir),
            "--prediction-id",
            key["prediction_id"],
            "--vector",
            key["vector"],
            "--metric",
            key["metric"],
            "--browser",
            chromium,
            "--width",
            "900",
            "--height",
            "500",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert png_info(out.read_bytes())[:2] == (900, 500)


def test_the_harness_sees_errors_requests_and_unrendered_plots(browser, tmp_path):
    # The checks above only mean something if a broken page fails them.
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><div class='plotly-graph-div' id='never'></div>"
        "<img src='http://example.invalid/pixel.png'>"
        "<script>console.error('bad thing'); throw new Error('boom');</script>"
        "</body></html>",
        encoding="utf-8",
    )
    tab = browser.open_page(page.as_uri())
    assert not browser.wait_for(tab, ALL_RENDERED, timeout=1)
    browser.pump(0.5)
    report = browser.page_report(tab)
    assert any("boom" in e for e in report.exceptions)
    assert report.console_errors == ["bad thing"]
    assert report.remote_requests == ["http://example.invalid/pixel.png"]
