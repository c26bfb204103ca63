"""Fixtures for the report tests: a finished small fleet (``chromium`` is in tests/conftest.py)."""

from __future__ import annotations

import pytest
from report_fleet import Fleet, build_fleet


@pytest.fixture(scope="package")
def fleet(tmp_path_factory) -> Fleet:
    """Store, features, super peaks, thresholds (rule-daily + evt) and a backtest, with labels."""
    return build_fleet(tmp_path_factory.mktemp("fleet"))


@pytest.fixture(scope="package")
def unlabelled_fleet(tmp_path_factory) -> Fleet:
    """The same fleet without expert labels and without a backtest."""
    return build_fleet(tmp_path_factory.mktemp("bare"), labels=False, with_backtest=False)
