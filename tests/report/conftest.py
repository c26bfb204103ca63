"""Fixtures for the report tests: a finished small fleet, and a Chromium when there is one."""

from __future__ import annotations

import os

import pytest
from headless_chromium import find_chromium
from report_fleet import Fleet, build_fleet


@pytest.fixture(scope="package")
def fleet(tmp_path_factory) -> Fleet:
    """Store, features, super peaks, thresholds (rule-daily + evt) and a backtest, with labels."""
    return build_fleet(tmp_path_factory.mktemp("fleet"))


@pytest.fixture(scope="package")
def unlabelled_fleet(tmp_path_factory) -> Fleet:
    """The same fleet without expert labels and without a backtest."""
    return build_fleet(tmp_path_factory.mktemp("bare"), labels=False, with_backtest=False)


@pytest.fixture(scope="package")
def chromium() -> str:
    """Chromium's path. Without one: skip locally, fail in CI (where .ci/run installs it)."""
    path = find_chromium()
    if path is None:
        message = "no chromium found (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {message}")
        pytest.skip(message)
    return path
