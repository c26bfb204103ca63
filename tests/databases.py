"""Database fixtures: every test that takes ``db_url`` runs on SQLite and on PostgreSQL.

A pytest plugin (``tests/conftest.py`` loads it) shared by the registry and service tests.

PostgreSQL comes from ``$FLOODMARK_TEST_POSTGRES_URL`` (a server the tests may create
databases on). Start a throw-away one with::

    export FLOODMARK_TEST_POSTGRES_URL="$(.ci/postgres.sh)"

Without it the PostgreSQL tests are skipped, except in CI (``$CI`` set) where they fail.
Each xdist worker gets its own database, emptied before every test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

POSTGRES_ENV = "FLOODMARK_TEST_POSTGRES_URL"
HOW_TO_START = f'start one with: export {POSTGRES_ENV}="$(.ci/postgres.sh)"'


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    """A database of its own for this test worker on the test server."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        message = f"PostgreSQL tests need ${POSTGRES_ENV}; {HOW_TO_START}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    import psycopg
    from psycopg import sql

    url = sa.make_url(base).set(drivername="postgresql+psycopg")
    name = f"floodmark_test_{worker_id}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty registry database: an SQLite file, or the worker's PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "registry.db")
    url = request.getfixturevalue("postgres_url")
    _empty(url)
    return url


def _empty(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        tables = sa.MetaData()
        tables.reflect(engine)
        tables.drop_all(engine)
    finally:
        engine.dispose()
