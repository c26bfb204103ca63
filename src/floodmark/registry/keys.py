"""API keys: create one (its secret is shown once), list, revoke, and find the key of a secret.

Only the SHA-256 of a secret is stored: a secret is 32 random bytes, so a fast hash
is enough (nothing to guess), and a lookup by digest finds the key in one indexed
read. The digests are compared again with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from floodmark.registry.audit import record
from floodmark.registry.engine import Registry
from floodmark.registry.errors import RegistryError
from floodmark.registry.models import ROLES, ApiKey, utcnow

#: Every secret starts with it, so a leaked one is easy to recognise in logs and scanners.
SECRET_PREFIX = "fmk_"
#: Characters of a secret kept in clear, to tell keys apart in ``keys list``.
SHOWN_CHARS = 10

#: ``list_keys``' columns.
KEYS_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "name": pl.String(),
    "role": pl.String(),
    "prefix": pl.String(),
    "created": pl.Datetime("us", "UTC"),
    "revoked": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class KeyInfo:
    """A key as the server knows it: never its secret."""

    id: int
    name: str
    role: str

    def can(self, role: str) -> bool:
        """Whether this key's role includes ``role`` (admin ⊃ reviewer ⊃ viewer)."""
        return ROLES.index(self.role) >= ROLES.index(role)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(registry: Registry, *, name: str, role: str, by: str) -> tuple[KeyInfo, str]:
    """A new key and its secret (shown this once: only its digest is stored)."""
    if role not in ROLES:
        raise RegistryError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not name.strip():
        raise RegistryError("a key needs a name (who or what uses it)")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with registry.transaction() as session:
        key = ApiKey(
            name=name.strip(),
            role=role,
            prefix=secret[:SHOWN_CHARS],
            digest=digest(secret),
            created=utcnow(),
        )
        session.add(key)
        session.flush()
        record(
            session,
            who=by,
            action="key-create",
            what=f"key {key.id}",
            before=None,
            after={"name": key.name, "role": role},
        )
        return KeyInfo(key.id, key.name, key.role), secret


def list_keys(registry: Registry) -> pl.DataFrame:
    """Every key, oldest first (``KEYS_SCHEMA``; revoked ones too)."""
    with registry.sessions() as session:
        rows = session.execute(
            sa.select(
                ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.prefix, ApiKey.created, ApiKey.revoked
            ).order_by(ApiKey.id)
        ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=KEYS_SCHEMA, orient="row")


def revoke_key(registry: Registry, key_id: int, *, by: str) -> bool:
    """Revoke key ``key_id`` (False: it was revoked already)."""
    with registry.transaction() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise RegistryError(f"no key {key_id} (floodmark keys list shows them)")
        if key.revoked is not None:
            return False
        key.revoked = utcnow()
        record(
            session,
            who=by,
            action="key-revoke",
            what=f"key {key.id}",
            before={"name": key.name, "role": key.role},
            after={"revoked": True},
        )
        return True


def find_key(registry: Registry, secret: str) -> KeyInfo | None:
    """The active key whose secret this is, or None."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    wanted = digest(secret)
    with registry.sessions() as session:
        key = session.scalars(
            sa.select(ApiKey).where(ApiKey.digest == wanted, ApiKey.revoked.is_(None))
        ).one_or_none()
    if key is None or not hmac.compare_digest(key.digest, wanted):
        return None
    return KeyInfo(key.id, key.name, key.role)


def active_key(registry: Registry, key_id: int) -> KeyInfo | None:
    """Key ``key_id`` when it exists and is not revoked (a console session holds an id)."""
    with registry.sessions() as session:
        key = session.get(ApiKey, key_id)
    if key is None or key.revoked is not None:
        return None
    return KeyInfo(key.id, key.name, key.role)
