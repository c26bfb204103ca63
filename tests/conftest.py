"""Shared fixtures: where the real public traces are, and hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]

#: ``db_url`` and ``postgres_url``: SQLite and PostgreSQL registries (tests/databases.py).
pytest_plugins = ["databases"]

settings.register_profile(
    "default",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci",
    parent=settings.get_profile("default"),
    max_examples=100,
    derandomize=True,
    print_blob=True,
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def shared_data_dir() -> Path:
    """The read-only public traces: ``$FLOODMARK_SHARED_DATA`` or ``../shared/data``."""
    return Path(os.environ.get("FLOODMARK_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"public traces not found at {path}")
        pytest.skip(f"public traces not found at {path}")
    return path


@pytest.fixture(scope="session")
def cesnet_ip103(shared_data) -> list:
    """CESNET's address 103 as one object: its bytes, packets and flows per hour, each a
    ``ReadResult`` of ``read_series_csv``."""
    from floodmark.io import read_series_csv

    folder = shared_data / "cesnet-ts24-ip103"
    volumes = (("PT_TOTAL", "BW", "n_bytes"), ("PT_TOTAL", "PPS", "n_packets"))
    volumes += (("PT_NETFLOW", "PPS", "n_flows"),)
    return [
        read_series_csv(
            folder / "103.csv",
            prediction_id="cesnet-ip103",
            vector=vector,
            metric=metric,
            value_column=column,
            times_file=folder / "times_1_hour.csv",
        )
        for vector, metric, column in volumes
    ]


@pytest.fixture
def read_only_folder(tmp_path, monkeypatch) -> Path:
    """A folder in which creating a file fails as in a read-only one (even for root)."""
    import errno

    folder = tmp_path / "read-only"
    folder.mkdir()
    real_open = os.open

    def refuse(path, flags, mode=0o777, **kwargs):
        if flags & os.O_CREAT and Path(path).parent == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    return folder


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path. Without one: skip locally, fail in CI (where .ci/run installs it)."""
    from headless_chromium import find_chromium

    path = find_chromium()
    if path is None:
        message = "no chromium found (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {message}")
        pytest.skip(message)
    return path
