"""``floodmark export``: files in, a configuration out, and a summary of what was left out."""

from __future__ import annotations

import re
import sys

import polars as pl
import pytest
from typer.testing import CliRunner

from floodmark.cli import app, main
from floodmark.schema import LEVELS

runner = CliRunner()


@pytest.fixture
def inputs(tmp_path):
    objects = tmp_path / "objects.csv"
    objects.write_text(
        "prediction_id,name,networks\n"
        "a1,shop,192.0.2.0/25 2001:db8:1::/48\n"
        "b2,mail,198.51.100.0/24\n"
        "c3,new customer,\n"
    )
    thresholds = tmp_path / "thresholds.csv"
    pl.DataFrame(
        [
            {"prediction_id": pid, "vector": vector, "metric": "PPS"}
            | {lv: 1000.0 * (i + 1) for i, lv in enumerate(LEVELS)}
            for pid in ("a1", "b2", "c3")
            for vector in ("PT_TOTAL", "PT_SYN")
        ]
    ).write_csv(thresholds)
    return ["--thresholds", str(thresholds), "--objects", str(objects)]


def test_exports_a_fastnetmon_configuration_and_says_what_was_left_out(tmp_path, inputs):
    out = tmp_path / "fastnetmon.conf"
    result = runner.invoke(
        app, ["export", *inputs, "--level", "nw", "--format", "fastnetmon", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    assert "a1_threshold_pps = 3000" in out.read_text()
    text = " ".join(result.output.split())
    assert "fastnetmon level nw, 2 host groups" in text
    assert "3 series not exported" in text and "PT_SYN" in text
    assert "1 objects without networks: c3" in text
    assert "networks left out of host groups" in text and "2001:db8:1::/48" in text
    for name in ("fastnetmon.conf", "fastnetmon.networks_list", "fastnetmon.conf.unexported.csv"):
        assert f"wrote {tmp_path / name}" in result.output


def test_csv_needs_no_level(tmp_path, inputs):
    out = tmp_path / "all.csv"
    result = runner.invoke(app, ["export", *inputs, "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pl.read_csv(out).height == 6


@pytest.mark.parametrize(
    "extra",
    [
        ["--format", "fastnetmon"],  # no level
        ["--format", "fastnetmon", "--level", "high"],
        ["--format", "xml", "--level", "nw"],
        ["--format", "csv", "--bw-unit", "gbps"],
        ["--format", "csv", "--networks-list-path", "/etc/networks_list"],
    ],
)
def test_usage_errors_exit_2(tmp_path, inputs, extra):
    result = runner.invoke(app, ["export", *inputs, *extra, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "x").exists()


def test_a_bad_objects_file_is_one_line_naming_file_and_row(tmp_path, inputs, monkeypatch, capsys):
    objects = tmp_path / "objects.csv"
    objects.write_text("prediction_id,name,networks\na1,shop,192.0.2.1/24\n")
    argv = ["floodmark", "export", *inputs, "--format", "csv", "--out", str(tmp_path / "x.csv")]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(r"error: .*objects\.csv, row 2: '192\.0\.2\.1/24'", err), err


def test_exports_the_approved_set_of_the_registry_with_its_overrides(tmp_path, inputs):
    db = str(tmp_path / "registry.db")
    thresholds, objects = inputs[1], inputs[3]
    assert runner.invoke(app, ["objects", "import", objects, "--db", db]).exit_code == 0
    assert runner.invoke(app, ["publish", "--db", db, "--thresholds", thresholds]).exit_code == 0
    override = ["override", "--db", db, "1", "--object", "a1", "--vector", "PT_TOTAL"]
    override += ["--metric", "PPS", "--level", "rl", "--value", "9000"]
    override += ["--by", "t", "--reason", "r"]
    assert runner.invoke(app, override).exit_code == 0
    assert runner.invoke(app, ["approve", "--db", db, "1", "--by", "t"]).exit_code == 0

    out = tmp_path / "set.json"
    result = runner.invoke(app, ["export", "--db", db, "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    exported = pl.read_json(out)
    a1 = exported.filter(pl.col("prediction_id") == "a1", pl.col("vector") == "PT_TOTAL")
    assert a1["rl"].to_list() == [9000.0]
    assert a1["networks"].to_list() == [["192.0.2.0/25", "2001:db8:1::/48"]]


def test_a_set_and_a_thresholds_file_together_are_a_usage_error(tmp_path, inputs):
    args = ["export", *inputs, "--set", "approved", "--format", "csv"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2


def test_no_approved_set_is_one_clear_line(tmp_path, inputs):
    db = str(tmp_path / "registry.db")
    assert runner.invoke(app, ["objects", "import", inputs[3], "--db", db]).exit_code == 0
    result = runner.invoke(
        app, ["export", "--db", db, "--format", "csv", "--out", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 1
    assert "no set is approved yet" in str(result.exception) + result.output
