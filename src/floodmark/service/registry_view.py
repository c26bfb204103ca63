"""What the service reads from the registry, kept in memory until the registry changes.

Every registry write (publish, approve, override, objects, keys) adds an audit row
in its own transaction, and audit rows are never deleted: the number of audit rows
is a change marker that grows with every committed write. A request reads it (one
small query) and is answered from the view of that marker, read again only after a
write, so an approval made through any server process, or the CLI, shows on the
next request to every process. (``max(id)`` would not do on PostgreSQL: ids are
taken before commit, so a lower id may commit after a higher one.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import orjson
import polars as pl
import sqlalchemy as sa

from floodmark.registry import Registry, RegistryError, read_objects
from floodmark.registry.keys import SECRET_PREFIX, KeyInfo, digest
from floodmark.registry.models import ApiKey, AuditEntry, ThresholdSet
from floodmark.registry.sets import (
    APPROVED,
    LATEST,
    NO_APPROVED_SET,
    NO_SET_YET,
    no_such_set,
    set_reference,
    set_thresholds,
)
from floodmark.service.models import encode_json

_MARKER = sa.select(sa.func.count()).select_from(AuditEntry)


@dataclass(frozen=True)
class SetRows:
    """A set's effective thresholds (``THRESHOLD_SCHEMA``, sorted by series) and where
    each object's rows are in it."""

    table: pl.DataFrame
    spans: dict[str, tuple[int, int]]  # prediction_id: (offset, rows)
    encoded: dict[str, orjson.Fragment] = field(default_factory=dict)

    def of_object(self, prediction_id: str) -> pl.DataFrame:
        offset, length = self.spans.get(prediction_id, (0, 0))
        return self.table.slice(offset, length)

    def json_of_object(self, prediction_id: str) -> orjson.Fragment:
        """``of_object`` as a JSON list of rows, encoded on first use."""
        found = self.encoded.get(prediction_id)
        if found is None:
            found = orjson.Fragment(encode_json(self.of_object(prediction_id).to_dicts()))
            self.encoded[prediction_id] = found  # a race only encodes it twice
        return found


@dataclass
class RegistryView:
    """The registry as of one change marker: keys, sets and objects, and the thresholds
    of each set asked for (read on first use)."""

    marker: int
    keys_by_digest: dict[str, KeyInfo]
    keys_by_id: dict[int, KeyInfo]
    set_states: dict[int, str]  # id: state, oldest first
    objects: pl.DataFrame  # read_objects
    _sets: dict[int, SetRows] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key_for_secret(self, secret: str) -> KeyInfo | None:
        """The active key whose secret this is, or None (as ``registry.keys.find_key``:
        looked up by the secret's digest, which tells nothing of the secret)."""
        if not secret.startswith(SECRET_PREFIX):
            return None
        return self.keys_by_digest.get(digest(secret))

    def resolve(self, ref: int | str) -> tuple[int, str]:
        """``(id, state)`` of the set ``ref`` names, as ``resolve_set`` (RegistryError)."""
        which = set_reference(ref)
        if which == LATEST:
            if not self.set_states:
                raise RegistryError(NO_SET_YET)
            newest = max(self.set_states)
            return newest, self.set_states[newest]
        if which == APPROVED:
            for set_id, state in self.set_states.items():
                if state == APPROVED:
                    return set_id, state
            raise RegistryError(NO_APPROVED_SET)
        if which not in self.set_states:
            raise no_such_set(which)
        return which, self.set_states[which]


class RegistryCache:
    """The current ``RegistryView`` of a registry (thread-safe)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._view: RegistryView | None = None
        self._lock = threading.Lock()

    def marker(self) -> int:
        """The registry's change marker: its number of audit rows."""
        with self.registry.engine.connect() as connection:
            return connection.execute(_MARKER).scalar_one()

    def view(self) -> RegistryView:
        """The view of the registry as it is now (read again after any write)."""
        marker = self.marker()
        held = self._view
        if held is not None and held.marker == marker:
            return held
        with self._lock:  # one thread reads, the others wait for its view
            held = self._view
            if held is None or held.marker != marker:
                held = self._read(marker)
                self._view = held
            return held

    def _read(self, marker: int) -> RegistryView:
        # Read after the marker: the view holds at least the writes the marker counts.
        with self.registry.sessions() as session:
            keys = session.execute(
                sa.select(ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.digest).where(
                    ApiKey.revoked.is_(None)
                )
            ).all()
            sets = session.execute(
                sa.select(ThresholdSet.id, ThresholdSet.state).order_by(ThresholdSet.id)
            ).all()
        by_digest = {hashed: KeyInfo(id_, name, role) for id_, name, role, hashed in keys}
        return RegistryView(
            marker=marker,
            keys_by_digest=by_digest,
            keys_by_id={key.id: key for key in by_digest.values()},
            set_states=dict(sets),
            objects=read_objects(self.registry),
        )

    def set_rows(self, view: RegistryView, set_id: int) -> SetRows:
        """Set ``set_id``'s effective thresholds as of ``view`` (read once per view)."""
        found = view._sets.get(set_id)
        if found is not None:
            return found
        with view._lock:
            found = view._sets.get(set_id)
            if found is None:
                with self.registry.sessions() as session:
                    table = set_thresholds(session, set_id)
                found = SetRows(table, _spans(table))
                view._sets[set_id] = found
            return found


def _spans(table: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Offset and length of each object's rows (they are consecutive: sorted by series)."""
    runs = (
        table.select("prediction_id")
        .with_row_index("offset")
        .group_by("prediction_id", maintain_order=True)
        .agg(pl.col("offset").first(), pl.len())
    )
    return {pid: (offset, length) for pid, offset, length in runs.iter_rows()}
