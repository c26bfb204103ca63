"""Approve a set: it becomes the one approved set, the previous one is superseded."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from floodmark.registry.audit import record
from floodmark.registry.engine import Registry, lock_writes
from floodmark.registry.models import Approval, ThresholdSet, utcnow
from floodmark.registry.sets import APPROVED, resolve_set


@dataclass(frozen=True)
class Approved:
    """What ``approve_set`` did."""

    set_id: int
    superseded: tuple[int, ...]  # sets that were approved before
    changed: bool  # False: the set was approved already, nothing was written


def approve_set(
    registry: Registry, ref: int | str, *, by: str, reason: str | None = None
) -> Approved:
    """Approve set ``ref`` in one transaction; the approved set before it is superseded.

    Approvals run one at a time (the write lock) and the database holds at most one
    approved set (a partial unique index), so two racing approvals leave exactly one.
    Approving a superseded set makes it approved again (a rollback); approving the
    approved set changes nothing.
    """
    with registry.transaction() as session:
        lock_writes(session)
        target = resolve_set(session, ref)
        if target.state == APPROVED:
            return Approved(target.id, (), False)
        previous = session.scalars(
            sa.select(ThresholdSet).where(ThresholdSet.state == APPROVED)
        ).all()
        for old in previous:
            old.state = "superseded"
            record(
                session,
                who=by,
                action="supersede",
                what=f"set {old.id}",
                before={"state": APPROVED},
                after={"state": "superseded", "by_set": target.id},
            )
        # The superseded rows must leave the one-approved index before the new one enters.
        session.flush()
        before = target.state
        target.state = APPROVED
        session.add(Approval(set_id=target.id, by=by, reason=reason, at=utcnow()))
        record(
            session,
            who=by,
            action="approve",
            what=f"set {target.id}",
            before={"state": before},
            after={"state": APPROVED, "reason": reason},
        )
        return Approved(target.id, tuple(old.id for old in previous), True)
