"""Open a registry: resolve ``--db``, connect, and migrate the schema to the newest revision.

``--db`` is a path (an SQLite file) or a SQLAlchemy URL (``sqlite:///…``,
``postgresql+psycopg://user@host/db``); the default is ``$FLOODMARK_DB`` or
``./floodmark.db``. Opening never drops anything: an older database is upgraded by
the Alembic migrations shipped in ``migrations/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, sessionmaker

from floodmark.registry.errors import RegistryError
from floodmark.registry.models import WriteLock

DEFAULT_DB = "floodmark.db"
DB_ENV = "FLOODMARK_DB"
MIGRATIONS = Path(__file__).with_name("migrations")
#: Seconds an SQLite writer waits for another one to commit before giving up.
SQLITE_BUSY_TIMEOUT = 60.0


def default_db() -> str:
    """``$FLOODMARK_DB`` when set, else ``./floodmark.db``."""
    return os.environ.get(DB_ENV) or DEFAULT_DB


def database_url(db: str | Path | None = None) -> sa.URL:
    """The SQLAlchemy URL for ``--db`` (a path becomes an SQLite URL; ``postgresql://``
    gets the psycopg driver)."""
    text = str(db) if db is not None else default_db()
    if not text.strip():
        raise RegistryError("the database is empty: give a path or a URL")
    if "://" not in text:
        return sa.URL.create("sqlite+pysqlite", database=str(Path(text).absolute()))
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError as exc:
        raise RegistryError(f"not a database URL: {text!r} ({exc})") from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise RegistryError(f"unsupported database {backend!r}: use an SQLite path or PostgreSQL")
    if backend == "postgresql" and "+" not in url.drivername:  # psycopg (v3) by default
        url = url.set(drivername="postgresql+psycopg")
    return url


@dataclass
class Registry:
    """An open registry: an engine whose schema is at the newest revision."""

    engine: sa.Engine
    sessions: sessionmaker[Session]

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together at the end of the block (or not at all)."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_registry(db: str | Path | None = None, *, create: bool = True) -> Registry:
    """Connect to ``db`` and upgrade its schema to the newest revision.

    With ``create=False`` a missing SQLite file is a ``RegistryError`` instead of a new,
    empty registry (for commands that only read).
    """
    url = database_url(db)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if not create and not path.is_file():
            raise RegistryError("no registry here yet (publish or import objects first)", file=path)
        if not path.parent.is_dir():
            raise RegistryError("folder does not exist", file=path.parent)
    engine = _engine(url)
    try:
        migrate(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise RegistryError(f"cannot open the registry at {_shown(url)}: {exc.orig}") from None
    except BaseException:
        engine.dispose()
        raise
    return Registry(engine, sessionmaker(engine, expire_on_commit=False))


def _engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
        sa.event.listen(engine, "connect", _sqlite_foreign_keys)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    # SQLite enforces foreign keys (and so ON DELETE CASCADE) only when asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """The Alembic configuration of the shipped migrations (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every revision the shipped migrations define."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return {script.revision for script in scripts.walk_revisions()}


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: not a registry yet)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction (a no-op when already there)."""
    current = current_revision(engine)
    if revision == "head" and current == head_revision():
        return
    if current is not None and current not in known_revisions():
        raise RegistryError(
            f"the registry's schema is at revision {current}, which this floodmark does not "
            f"know (newest here: {head_revision()}): open it with a newer floodmark"
        )
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def _shown(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def lock_writes(session: Session) -> None:
    """Take the registry's write lock for the rest of ``session``'s transaction.

    The first statement is a write, so SQLite takes its write lock (waiting for another
    writer to commit) and PostgreSQL locks the row: read-check-write operations
    (approve, override) run one after the other and each reads what the last committed.
    """
    session.execute(
        sa.update(WriteLock).where(WriteLock.id == 1).values(writes=WriteLock.writes + 1)
    )
