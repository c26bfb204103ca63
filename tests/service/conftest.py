"""Service fixtures: a small fleet, an app over it, and a client per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from service_fleet import ServiceFleet, build

from floodmark.registry import open_registry
from floodmark.service import create_app


@pytest.fixture
def fleet(tmp_path, db_url) -> ServiceFleet:
    """The fleet on SQLite and on PostgreSQL."""
    return build(tmp_path, db_url)


@pytest.fixture
def client(fleet) -> Iterator[TestClient]:
    """A client without a key."""
    with open_registry(fleet.db) as registry:
        app = create_app(fleet.store_dir, registry, session_secret="test-secret")
        with TestClient(app) as http:
            yield http
