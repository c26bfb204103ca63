"""The audit log: every write to the registry, with who, when, what, before and after."""

from __future__ import annotations

import getpass
import os
from typing import Any

import orjson
import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from floodmark.registry.engine import Registry
from floodmark.registry.models import AuditEntry, utcnow

#: ``audit_log``'s columns as a frame (before/after as JSON text).
AUDIT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "at": pl.Datetime("us", "UTC"),
    "who": pl.String(),
    "action": pl.String(),
    "what": pl.String(),
    "before": pl.String(),
    "after": pl.String(),
}


def current_user() -> str:
    """Who runs this process (``--by`` defaults to it where a command has no required one)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER") or "unknown"


def record(session: Session, *, who: str, action: str, what: str, before: Any, after: Any) -> None:
    """Add one audit row to ``session``'s transaction (it commits with the write it describes)."""
    session.add(
        AuditEntry(at=utcnow(), who=who, action=action, what=what, before=before, after=after)
    )


def audit_log(
    registry: Registry, *, limit: int | None = None, before: int | None = None
) -> pl.DataFrame:
    """The audit log, oldest first (the last ``limit`` rows when given; only rows whose id
    is below ``before`` when given, to page backwards)."""
    query = sa.select(
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.who,
        AuditEntry.action,
        AuditEntry.what,
        AuditEntry.before,
        AuditEntry.after,
    ).order_by(AuditEntry.id.desc())
    if before is not None:
        query = query.where(AuditEntry.id < before)
    if limit is not None:
        query = query.limit(limit)
    with registry.sessions() as session:
        rows = session.execute(query).all()
    records = [
        (i, at, who, action, what, _json_text(before), _json_text(after))
        for i, at, who, action, what, before, after in reversed(rows)
    ]
    return pl.DataFrame(records, schema=AUDIT_SCHEMA, orient="row")


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
