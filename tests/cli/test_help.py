"""Every command teaches through --help; usage errors exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from floodmark.cli import COMMANDS, app

runner = CliRunner()


def test_root_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert len(result.output.splitlines()) > 5


def test_unknown_command_is_a_usage_error():
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def test_unknown_option_is_a_usage_error():
    assert runner.invoke(app, ["demo", "--no-such-option"]).exit_code == 2
