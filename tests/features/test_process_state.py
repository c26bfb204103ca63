"""Library calls leave process-wide state alone: the environment, malloc settings.

They are shared by every thread of the caller; only the CLI's entry points (or a
script, by choice) change them.
"""

from __future__ import annotations

import os

import pytest

from floodmark.features.chunked import store_features, worker_environment
from floodmark.generate import generate_fleet
from floodmark.store import ingest_files, open_store


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("state-store")
    generate_fleet(root / "fleet.parquet", objects=2, days=4, seed=5, workers=1)
    ingest_files(root / "store", [root / "fleet.parquet"])
    return root / "store"


@pytest.fixture
def watched(monkeypatch):
    """Every change to the environment or to malloc settings, recorded."""
    changes: list[tuple] = []

    def record(call: str, key, *value) -> None:
        if key not in (b"PYTEST_CURRENT_TEST", "PYTEST_CURRENT_TEST"):  # pytest's own
            changes.append((call, key))

    monkeypatch.setattr(os, "putenv", lambda key, value: record("putenv", key, value))
    monkeypatch.setattr(os, "unsetenv", lambda key: record("unsetenv", key))
    monkeypatch.setattr(
        "floodmark.features.chunked.tune_malloc", lambda: changes.append(("mallopt",))
    )
    return changes


@pytest.mark.parametrize("processes", [False, True])
def test_store_features_changes_no_process_wide_state(store_dir, watched, processes):
    before = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    result = store_features(open_store(store_dir), workers=2, processes=processes, chunk_rows=5_000)
    assert result.features.height == 2 * 26
    assert watched == []
    assert {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} == before


def test_worker_environment_is_what_a_script_may_set():
    env = worker_environment(2)
    assert set(env) == {"POLARS_MAX_THREADS", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}
    assert int(env["POLARS_MAX_THREADS"]) >= 1
