"""``floodmark plot`` and ``floodmark report`` as a user runs them."""

from __future__ import annotations

import datetime as dt
import sys

import polars as pl
import pytest
from typer.testing import CliRunner

from floodmark.cli import app, main
from floodmark.store import open_store

runner = CliRunner()


def _series(fleet) -> tuple[str, str, str]:
    catalog = open_store(fleet.store_dir).catalog().sort("prediction_id", "vector", "metric")
    row = catalog.filter(pl.col("vector") == "PT_SYN").row(0, named=True)
    return row["prediction_id"], row["vector"], row["metric"]


def _plot_args(fleet, out, *extra: str, **key: str) -> list[str]:
    """``floodmark plot`` arguments for the fleet's first PT_SYN series (``key`` overrides)."""
    pid, vector, metric = _series(fleet)
    key = {"object": pid, "vector": vector, "metric": metric} | key
    return [
        "plot",
        "--store",
        str(fleet.store_dir),
        *("--prediction-id", key["object"], "--vector", key["vector"], "--metric", key["metric"]),
        *("--out", str(out)),
        *extra,
    ]


def _report_args(fleet, out, *extra: str, thresholds=None) -> list[str]:
    """``floodmark report`` arguments over the fleet (its thresholds unless given)."""
    thresholds = [fleet.thresholds] if thresholds is None else thresholds
    return [
        "report",
        *("--store", str(fleet.store_dir), "--features", str(fleet.features)),
        *(a for path in thresholds for a in ("--thresholds", str(path))),
        *extra,
        *("--out", str(out)),
    ]


def _run_main(monkeypatch, capsys, args: list[str]) -> tuple[int, str]:
    """Run the real entry point (which turns FloodmarkError into exit 1)."""
    monkeypatch.setattr(sys, "argv", ["floodmark", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


def test_plot_html_with_all_inputs(tmp_path, fleet):
    out = tmp_path / "one.html"
    extra = ("--thresholds", str(fleet.thresholds), "--method", "evt")
    result = runner.invoke(app, _plot_args(fleet, out, *extra, "--features", str(fleet.features)))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "recommended ss" in text and "(evt)" in text and "expert ip_ss" in text
    assert "daily_max_q90 = " in text


def test_plot_picks_one_method_and_says_which(tmp_path, fleet):
    extra = ("--thresholds", str(fleet.thresholds))
    result = runner.invoke(app, _plot_args(fleet, tmp_path / "x.html", *extra))
    assert result.exit_code == 0, result.output
    assert "showing evt (choose with --method)" in result.output


def test_plot_computes_features_when_not_given(tmp_path, fleet):
    out = tmp_path / "bare.html"
    result = runner.invoke(app, _plot_args(fleet, out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "daily_max_q90 = " in text and "recommended ss" not in text


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("object", "unknown object 'nope'"),
        ("vector", "has no vector 'PT_NTP'"),
        ("metric", "has no metric 'XX'"),
    ],
)
def test_plot_unknown_series_exits_1_naming_it(
    monkeypatch, capsys, tmp_path, fleet, which, message
):
    wrong = {which: {"object": "nope", "vector": "PT_NTP", "metric": "XX"}[which]}
    code, err = _run_main(monkeypatch, capsys, _plot_args(fleet, tmp_path / "x.html", **wrong))
    assert code == 1
    assert message in err and err.startswith("error:")
    assert not (tmp_path / "x.html").exists()


def test_plot_bad_extension_is_a_usage_error(tmp_path, fleet):
    result = runner.invoke(app, _plot_args(fleet, tmp_path / "x.svg"))
    assert result.exit_code == 2


def test_report_writes_one_html_file(tmp_path, fleet):
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, _report_args(fleet, out, "--backtest", str(fleet.backtest), "--worst", "2")
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output.replace("\n", "")
    text = out.read_text(encoding="utf-8")
    assert text.count('class="plotly-graph-div"') == 4 + 2
    # The super peaks beside the features file were picked up for the worst plots.
    assert "super peaks (" in text


def test_report_combines_thresholds_files(tmp_path, fleet):
    table = pl.read_parquet(fleet.thresholds)
    a, b = tmp_path / "a.parquet", tmp_path / "b.csv"
    table.filter(pl.col("method") == "evt").write_parquet(a)
    table.filter(pl.col("method") == "rule-daily").select(
        "prediction_id", "vector", "metric", "method", "ss", "sc", "nw", "rl"
    ).write_csv(b)
    out = tmp_path / "r.html"
    result = runner.invoke(app, _report_args(fleet, out, "--worst", "0", thresholds=[a, b]))
    assert result.exit_code == 0, result.output
    section = out.read_text(encoding="utf-8").split('<section id="methods">')[1]
    assert ">evt</td>" in section and ">rule-daily</td>" in section


def test_report_bad_backtest_file_exits_1(monkeypatch, capsys, tmp_path, fleet):
    bad = tmp_path / "bt.json"
    bad.write_text("{}")
    code, err = _run_main(
        monkeypatch,
        capsys,
        _report_args(fleet, tmp_path / "r.html", "--backtest", str(bad)),
    )
    assert code == 1 and "not a backtest result" in err
    assert not (tmp_path / "r.html").exists()


def test_report_out_must_be_html(tmp_path, fleet):
    result = runner.invoke(app, _report_args(fleet, tmp_path / "r.pdf"))
    assert result.exit_code == 2


@pytest.mark.parametrize("drop", ["vector", "rl"])
def test_report_thresholds_lacking_columns_exit_1_naming_the_file(
    monkeypatch, capsys, tmp_path, fleet, drop
):
    bad = tmp_path / "bad.csv"
    pl.read_parquet(fleet.thresholds).drop(drop).drop("fallback", strict=False).write_csv(bad)
    code, err = _run_main(
        monkeypatch, capsys, _report_args(fleet, tmp_path / "r.html", thresholds=[bad])
    )
    assert code == 1
    assert err.startswith(f"error: {bad}: table lacks column(s) {drop} (has ")
    assert len(err.strip().splitlines()) == 1 and "unexpected" not in err
    assert not (tmp_path / "r.html").exists()


def test_plot_features_lacking_keys_exit_1_naming_the_file(monkeypatch, capsys, tmp_path, fleet):
    bad = tmp_path / "features.parquet"
    pl.read_parquet(fleet.features).drop("prediction_id").write_parquet(bad)
    args = _plot_args(fleet, tmp_path / "x.html", "--features", str(bad))
    code, err = _run_main(monkeypatch, capsys, args)
    assert code == 1 and err.startswith(f"error: {bad}: table lacks column(s) prediction_id")


def test_plot_reads_the_super_peaks_written_beside_the_features(tmp_path, fleet):
    """The sidecar is found by the same rule `floodmark features` writes it by."""
    from floodmark.features.chunked import super_peaks_path

    features = tmp_path / "f.parquet"
    pl.read_parquet(fleet.features).write_parquet(features)
    pid, vector, metric = _series(fleet)
    peaks = pl.DataFrame(
        {"prediction_id": [pid], "vector": [vector], "metric": [metric]}
    ).with_columns(
        timestamp=pl.lit(dt.datetime(2024, 3, 2, tzinfo=dt.UTC)).dt.cast_time_unit("us"),
        value=pl.lit(123456.0),
    )
    peaks.write_parquet(super_peaks_path(features))
    out = tmp_path / "x.html"
    result = runner.invoke(app, _plot_args(fleet, out, "--features", str(features)))
    assert result.exit_code == 0, result.output
    assert "123456" in out.read_text(encoding="utf-8")


def test_report_out_in_an_unwritable_folder_names_the_report(
    monkeypatch, capsys, fleet, read_only_folder
):
    out = read_only_folder / "r.html"
    code, err = _run_main(monkeypatch, capsys, _report_args(fleet, out, "--worst", "0"))
    assert code == 1
    assert err.strip() == f"error: {out}: cannot write: Permission denied"


def test_plot_takes_the_older_object_option_too(tmp_path, fleet):
    args = _plot_args(fleet, tmp_path / "x.html")
    args[args.index("--prediction-id")] = "--object"
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.html").is_file()


def test_plot_needs_the_object_exactly_once(tmp_path, fleet):
    args = _plot_args(fleet, tmp_path / "x.html")
    at = args.index("--prediction-id")
    assert runner.invoke(app, args[:at] + args[at + 2 :]).exit_code == 2
    assert runner.invoke(app, [*args, "--object", args[at + 1]]).exit_code == 2
    assert not (tmp_path / "x.html").exists()


def test_report_thresholds_with_text_levels_exit_1_naming_the_file(
    monkeypatch, capsys, tmp_path, fleet
):
    bad = tmp_path / "text.csv"
    table = pl.read_parquet(fleet.thresholds).select(
        "prediction_id", "vector", "metric", *["ss", "sc", "nw", "rl"]
    )
    table.with_columns(pl.lit("high").alias("nw")).write_csv(bad)
    code, err = _run_main(
        monkeypatch, capsys, _report_args(fleet, tmp_path / "r.html", thresholds=[bad])
    )
    assert code == 1
    assert err.strip() == f"error: {bad}: levels must be numbers: nw is String"
