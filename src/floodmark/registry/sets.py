"""Threshold sets: find one (by id or ``approved``), list them, read their thresholds.

A set's *effective* thresholds are its published rows with the experts' overrides
applied (the latest override of a level wins); exporters and ``diff`` read those.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from floodmark.registry.engine import Registry
from floodmark.registry.errors import RegistryError
from floodmark.registry.models import Override, Threshold, ThresholdSet
from floodmark.schema import KEY_COLUMNS, LEVELS
from floodmark.thresholds.base import EXPECTED_FA_COLUMNS, THRESHOLD_SCHEMA

#: What a set reference may be besides an id: the set approved now, the newest set.
APPROVED = "approved"
LATEST = "latest"

#: ``list_sets``' columns.
SETS_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "created": pl.Datetime("us", "UTC"),
    "method": pl.String(),
    "series": pl.Int64(),
    "state": pl.String(),
    "overrides": pl.Int64(),
    "source": pl.String(),
    "note": pl.String(),
}

_THRESHOLD_COLUMNS = [getattr(Threshold, name) for name in THRESHOLD_SCHEMA]


#: Why ``latest`` or ``approved`` names no set, and a numbered set that is missing.
NO_SET_YET = "no set yet (floodmark publish --thresholds FILE)"
NO_APPROVED_SET = "no set is approved yet (floodmark approve SET --by NAME)"


def no_such_set(set_id: int) -> RegistryError:
    return RegistryError(f"no set {set_id} (floodmark sets lists them)")


def set_reference(ref: int | str) -> str | int:
    """``LATEST``, ``APPROVED`` or the set id ``ref`` names (RegistryError otherwise)."""
    name = ref.strip().lower() if isinstance(ref, str) else None
    if name in (LATEST, APPROVED):
        return name
    try:
        return int(ref)
    except (TypeError, ValueError):
        raise RegistryError(f"{ref!r} is not a set id, {APPROVED!r} or {LATEST!r}") from None


def resolve_set(session: Session, ref: int | str) -> ThresholdSet:
    """The set ``ref`` names: its id (an int or digits), ``"approved"`` or ``"latest"``."""
    which = set_reference(ref)
    if which == LATEST:
        found = session.scalars(
            sa.select(ThresholdSet).order_by(ThresholdSet.id.desc()).limit(1)
        ).one_or_none()
        if found is None:
            raise RegistryError(NO_SET_YET)
        return found
    if which == APPROVED:
        found = session.scalars(
            sa.select(ThresholdSet).where(ThresholdSet.state == APPROVED)
        ).one_or_none()
        if found is None:
            raise RegistryError(NO_APPROVED_SET)
        return found
    found = session.get(ThresholdSet, which)
    if found is None:
        raise no_such_set(which)
    return found


def approved_set_id(registry: Registry) -> int | None:
    """The id of the approved set, or None when none is."""
    with registry.sessions() as session:
        return session.scalars(
            sa.select(ThresholdSet.id).where(ThresholdSet.state == APPROVED)
        ).one_or_none()


def list_sets(registry: Registry) -> pl.DataFrame:
    """Every set, oldest first: id, created, method, series, state, overrides, source, note."""
    series = (
        sa.select(Threshold.set_id, sa.func.count().label("n"))
        .group_by(Threshold.set_id)
        .subquery()
    )
    overrides = (
        sa.select(Override.set_id, sa.func.count().label("n")).group_by(Override.set_id).subquery()
    )
    query = (
        sa.select(
            ThresholdSet.id,
            ThresholdSet.created,
            ThresholdSet.method,
            sa.func.coalesce(series.c.n, 0),
            ThresholdSet.state,
            sa.func.coalesce(overrides.c.n, 0),
            ThresholdSet.source,
            ThresholdSet.note,
        )
        .outerjoin(series, series.c.set_id == ThresholdSet.id)
        .outerjoin(overrides, overrides.c.set_id == ThresholdSet.id)
        .order_by(ThresholdSet.id)
    )
    with registry.sessions() as session:
        rows = session.execute(query).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=SETS_SCHEMA, orient="row")


def effective_thresholds(
    registry: Registry, ref: int | str = APPROVED, **series: str | None
) -> pl.DataFrame:
    """The thresholds of set ``ref`` (an id or ``"approved"``) with overrides applied.

    Returns a frame in ``THRESHOLD_SCHEMA``, sorted by series. An overridden level's
    ``expected_fa_per_day_*`` is null (the method's figure was for its own value) and
    ``basis`` ends with who set it and why. ``prediction_id``, ``vector`` and
    ``metric`` keep only the matching series.
    """
    with registry.sessions() as session:
        return set_thresholds(session, resolve_set(session, ref).id, **series)


def set_thresholds(session: Session, set_id: int, **series: str | None) -> pl.DataFrame:
    """``effective_thresholds`` of one set, inside an open session."""
    unknown = set(series) - set(KEY_COLUMNS)
    if unknown:
        raise TypeError(f"unknown series filter {sorted(unknown)}")
    wanted = {k: v for k, v in series.items() if v is not None}
    rows = session.execute(
        sa.select(*_THRESHOLD_COLUMNS)
        .where(Threshold.set_id == set_id)
        .filter_by(**wanted)
        .order_by(*(getattr(Threshold, k) for k in KEY_COLUMNS))
    ).all()
    table = [dict(zip(THRESHOLD_SCHEMA, row, strict=True)) for row in rows]
    overrides = session.scalars(
        sa.select(Override)
        .where(Override.set_id == set_id)
        .filter_by(**wanted)
        .order_by(Override.id)
    ).all()
    if overrides:
        by_key = {tuple(row[k] for k in KEY_COLUMNS): row for row in table}
        for override in overrides:
            row = by_key[(override.prediction_id, override.vector, override.metric)]
            apply_override(row, override)
    return pl.DataFrame(table, schema=THRESHOLD_SCHEMA, orient="row")


def apply_override(row: dict, override: Override) -> None:
    """Put an override's value into a thresholds row (as ``set_thresholds`` reads it)."""
    row[override.level] = override.value
    row[EXPECTED_FA_COLUMNS[LEVELS.index(override.level)]] = None
    note = f"{override.level} set to {override.value:.6g} by {override.by} ({override.reason})"
    row["basis"] = f"{row['basis']}; {note}" if row["basis"] else note
