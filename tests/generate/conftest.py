"""Small generated fleets shared by the generator tests (module-scoped: built once)."""

from __future__ import annotations

import pytest
from generated_fleets import Fleet, build_fleet


@pytest.fixture(scope="module")
def small_fleet(tmp_path_factory) -> Fleet:
    """5 objects × 3 days: per-row checks."""
    path = tmp_path_factory.mktemp("small") / "fleet.parquet"
    return build_fleet(path, objects=5, days=3, seed=11)


@pytest.fixture(scope="module")
def wide_fleet(tmp_path_factory) -> Fleet:
    """50 objects × 2 days: fleet-level distributions (scales, attacks, labels)."""
    path = tmp_path_factory.mktemp("wide") / "fleet.parquet"
    return build_fleet(path, objects=50, days=2, seed=5)
