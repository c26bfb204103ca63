"""Fixtures of the store tests (builders live in store_builders.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """Where a test's store goes (not created: ingest creates it)."""
    return tmp_path / "store"
