"""Opening a registry creates or upgrades its schema, never drops what it holds."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from floodmark.registry import RegistryError, database_url, list_sets, open_registry
from floodmark.registry.engine import _engine, current_revision, head_revision, migrate
from floodmark.registry.models import Base


def test_a_new_database_is_created_at_the_newest_revision(db_url):
    with open_registry(db_url) as registry:
        assert current_revision(registry.engine) == head_revision()
        with registry.engine.connect() as connection:
            # The migrations and the models describe the same schema.
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_an_older_database_is_migrated_with_its_data(db_url):
    engine = _engine(database_url(db_url))
    migrate(engine, "0001")
    assert current_revision(engine) == "0001"
    created = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Base.metadata.tables["threshold_sets"]),
            [
                {
                    "id": 1,
                    "created": created,
                    "method": "rule-max",
                    "source": "old.csv",
                    "source_hash": "x" * 64,
                    "note": "from the first revision",
                    "state": "approved",
                }
            ],
        )
    engine.dispose()

    with open_registry(db_url) as registry:
        assert current_revision(registry.engine) == head_revision() != "0001"
        sets = list_sets(registry)
        indexes = sa.inspect(registry.engine).get_indexes("threshold_sets")
    assert sets.select("id", "created", "note", "state").rows() == [
        (1, created, "from the first revision", "approved")
    ]
    assert "ix_threshold_sets_one_approved" in {index["name"] for index in indexes}


def test_opening_twice_changes_nothing(db_url):
    open_registry(db_url).close()
    with open_registry(db_url) as registry:
        assert current_revision(registry.engine) == head_revision()


def test_a_read_only_open_of_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(RegistryError, match="no registry here yet"):
        open_registry(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()


def test_database_urls(tmp_path, monkeypatch):
    assert database_url(tmp_path / "r.db").database == str(tmp_path / "r.db")
    assert database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    monkeypatch.setenv("FLOODMARK_DB", str(tmp_path / "env.db"))
    assert database_url(None).database == str(tmp_path / "env.db")
    monkeypatch.delenv("FLOODMARK_DB")
    monkeypatch.chdir(tmp_path)
    assert database_url(None).database == str(tmp_path / "floodmark.db")
    with pytest.raises(RegistryError, match="unsupported database 'mysql'"):
        database_url("mysql://u@h/db")


def test_an_unreachable_server_is_one_clear_error():
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RegistryError, match=f"cannot open the registry at .*:{port}/x"):
        open_registry(f"postgresql://nobody:secret@127.0.0.1:{port}/x")
    with pytest.raises(RegistryError) as error:
        open_registry(f"postgresql://nobody:secret@127.0.0.1:{port}/x")
    assert "secret" not in str(error.value)


def test_a_database_from_a_newer_floodmark_is_refused_untouched(db_url):
    with open_registry(db_url) as registry, registry.engine.begin() as connection:
        version = sa.Table("alembic_version", sa.MetaData(), autoload_with=connection)
        connection.execute(sa.update(version).values(version_num="0999"))
    with pytest.raises(RegistryError, match="revision 0999, which this floodmark does not know"):
        open_registry(db_url)
    engine = _engine(database_url(db_url))
    assert current_revision(engine) == "0999"
    engine.dispose()
