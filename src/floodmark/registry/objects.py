"""Protected objects in the registry: import (insert or update) and read them back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from floodmark.io.objects import OBJECT_SCHEMA, read_objects_csv
from floodmark.registry.audit import record
from floodmark.registry.engine import Registry
from floodmark.registry.models import ProtectedObject, utcnow


@dataclass(frozen=True)
class ObjectImport:
    """What an import did, in objects."""

    added: int
    updated: int
    unchanged: int
    not_in_file: int  # objects the registry holds that the file does not name (kept)

    def describe(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged" + (
            f"; {self.not_in_file} not in the file, kept" if self.not_in_file else ""
        )


def import_objects_csv(registry: Registry, path: str | Path, *, by: str) -> ObjectImport:
    """Import an objects CSV (``prediction_id,name,networks``; see ``floodmark.io.objects``)."""
    return import_objects(registry, read_objects_csv(path), by=by)


def import_objects(registry: Registry, objects: pl.DataFrame, *, by: str) -> ObjectImport:
    """Insert new objects and update changed ones (``OBJECT_SCHEMA``), in one transaction.

    Each added or changed object gets an audit row with its old and new name and
    networks; an import that changes nothing writes nothing.
    """
    objects = objects.select(OBJECT_SCHEMA.keys()).cast(OBJECT_SCHEMA)
    added = updated = unchanged = 0
    with registry.transaction() as session:
        stored = {o.prediction_id: o for o in session.scalars(sa.select(ProtectedObject))}
        for row in objects.iter_rows(named=True):
            new = {"name": row["name"], "networks": list(row["networks"])}
            old = stored.get(row["prediction_id"])
            if old is None:
                session.add(
                    ProtectedObject(prediction_id=row["prediction_id"], **new, updated=utcnow())
                )
                added += 1
                before = None
            elif {"name": old.name, "networks": old.networks} == new:
                unchanged += 1
                continue
            else:
                before = {"name": old.name, "networks": old.networks}
                old.name, old.networks, old.updated = new["name"], new["networks"], utcnow()
                updated += 1
            record(
                session,
                who=by,
                action="object",
                what=f"object {row['prediction_id']}",
                before=before,
                after=new,
            )
    kept = len(set(stored) - set(objects["prediction_id"].to_list()))
    return ObjectImport(added, updated, unchanged, kept)


def read_objects(registry: Registry) -> pl.DataFrame:
    """Every object in ``OBJECT_SCHEMA`` (networks IPv4 before IPv6), sorted by id."""
    with registry.sessions() as session:
        rows = session.execute(
            sa.select(
                ProtectedObject.prediction_id, ProtectedObject.name, ProtectedObject.networks
            ).order_by(ProtectedObject.prediction_id)
        ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=OBJECT_SCHEMA, orient="row")
