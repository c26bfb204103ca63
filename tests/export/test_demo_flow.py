"""``floodmark demo`` runs the operator's loop to the end: a configuration FastNetMon accepts."""

from __future__ import annotations

import pytest
from fastnetmon_daemon import configuration_check
from typer.testing import CliRunner

from floodmark.cli import app
from floodmark.registry import effective_thresholds, open_registry

pytestmark = [pytest.mark.slow, pytest.mark.fastnetmon]


def test_demo_publishes_approves_and_exports_a_configuration_fastnetmon_accepts(tmp_path):
    out = tmp_path / "demo"
    args = ["demo", "--objects", "5", "--days", "6", "--learn-days", "4", "--out", str(out)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    conf = out / "fastnetmon" / "fastnetmon.conf"
    assert (out / "report.html").is_file()
    assert str(conf.resolve()) in first.output.replace("\n", "")
    checked = configuration_check(conf, tmp_path / "check.log")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert conf.read_text().count("hostgroup = ") == 5

    key = first.output.split("(shown once): ")[1].split()[0]
    assert len(key) > 30 and "floodmark serve --store" in first.output

    approved = effective_thresholds(open_registry(str(out / "floodmark.db")), "approved")
    assert approved.height == 5 * 26

    again = CliRunner().invoke(app, args)  # the same fleet: nothing new in the registry
    assert again.exit_code == 0, again.output
    assert "nothing new published" in again.output
