"""The registry's tables, as SQLAlchemy 2 typed ORM classes.

The schema is created and changed only by the Alembic migrations in ``migrations/``;
these classes must describe the schema at the head revision (a test compares them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: A set's life: published as a draft, approved by an expert, superseded by a later approval.
SET_STATES: tuple[str, ...] = ("draft", "approved", "superseded")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it without a zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class ThresholdSet(Base):
    """One published thresholds table; ``source_hash`` makes publishing idempotent."""

    __tablename__ = "threshold_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[str] = mapped_column(sa.String(1024))
    source_hash: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str | None] = mapped_column(sa.Text())
    state: Mapped[str] = mapped_column(sa.String(16))

    __table_args__ = (
        sa.CheckConstraint(sa.column("state").in_(SET_STATES), name="ck_threshold_sets_state"),
        sa.UniqueConstraint("source_hash", name="uq_threshold_sets_source_hash"),
        # At most one approved set, whatever the writers do (revision 0002).
        sa.Index(
            "ix_threshold_sets_one_approved",
            "state",
            unique=True,
            sqlite_where=sa.column("state") == "approved",
            postgresql_where=sa.column("state") == "approved",
        ),
    )


class Threshold(Base):
    """One series of a set: its four levels and how they were made."""

    __tablename__ = "thresholds"

    set_id: Mapped[int] = mapped_column(
        sa.ForeignKey("threshold_sets.id", ondelete="CASCADE"), primary_key=True
    )
    prediction_id: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    vector: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    metric: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    method: Mapped[str] = mapped_column(sa.String(64))
    ss: Mapped[float | None] = mapped_column(sa.Double())
    sc: Mapped[float | None] = mapped_column(sa.Double())
    nw: Mapped[float | None] = mapped_column(sa.Double())
    rl: Mapped[float | None] = mapped_column(sa.Double())
    basis: Mapped[str | None] = mapped_column(sa.Text())
    fallback: Mapped[str | None] = mapped_column(sa.Text())
    expected_fa_per_day_ss: Mapped[float | None] = mapped_column(sa.Double())
    expected_fa_per_day_sc: Mapped[float | None] = mapped_column(sa.Double())
    expected_fa_per_day_nw: Mapped[float | None] = mapped_column(sa.Double())
    expected_fa_per_day_rl: Mapped[float | None] = mapped_column(sa.Double())


class ProtectedObject(Base):
    """A protected object: its name and networks (canonical CIDR texts)."""

    __tablename__ = "objects"

    prediction_id: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(512))
    networks: Mapped[list[str]] = mapped_column(sa.JSON())
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Approval(Base):
    """Who approved which set, when and why."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(sa.ForeignKey("threshold_sets.id", ondelete="CASCADE"))
    by: Mapped[str] = mapped_column(sa.String(256))
    reason: Mapped[str | None] = mapped_column(sa.Text())
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Override(Base):
    """An expert's value for one level of one series of a set (the latest one applies)."""

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(sa.ForeignKey("threshold_sets.id", ondelete="CASCADE"))
    prediction_id: Mapped[str] = mapped_column(sa.String(256))
    vector: Mapped[str] = mapped_column(sa.String(32))
    metric: Mapped[str] = mapped_column(sa.String(16))
    level: Mapped[str] = mapped_column(sa.String(8))
    value: Mapped[float] = mapped_column(sa.Double())
    by: Mapped[str] = mapped_column(sa.String(256))
    reason: Mapped[str] = mapped_column(sa.Text())
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """One write: who, when, what (action and subject), and the values before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    who: Mapped[str] = mapped_column(sa.String(256))
    action: Mapped[str] = mapped_column(sa.String(64))
    what: Mapped[str] = mapped_column(sa.String(1024))
    before: Mapped[Any | None] = mapped_column(sa.JSON())
    after: Mapped[Any | None] = mapped_column(sa.JSON())


class WriteLock(Base):
    """One row that read-check-write operations update first, so they run one at a time.

    Updating it takes SQLite's write lock and PostgreSQL's row lock before anything is
    read, so an approval or override always sees the writes committed before it.
    """

    __tablename__ = "write_lock"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    writes: Mapped[int] = mapped_column(sa.BigInteger())


#: What a key may do, least to most: read; also approve and override; also manage keys.
ROLES: tuple[str, ...] = ("viewer", "reviewer", "admin")


class ApiKey(Base):
    """A key of ``floodmark serve``: only the SHA-256 of its secret is kept (revision 0003)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[str] = mapped_column(sa.String(16))
    prefix: Mapped[str] = mapped_column(
        sa.String(16)
    )  # the key's first characters, to tell keys apart
    digest: Mapped[str] = mapped_column(sa.String(64))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.CheckConstraint(sa.column("role").in_(ROLES), name="ck_api_keys_role"),
        sa.UniqueConstraint("digest", name="uq_api_keys_digest"),
    )


class LoginFailure(Base):
    """A failed console login, kept for the throttle's window (revision 0004): every server
    process counts the same failures."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(sa.String(256))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (sa.Index("ix_login_failures_client_at", "client", "at"),)
