"""Override one level of one series of a set, keeping ``ss <= sc <= nw <= rl``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa

from floodmark.registry.audit import record
from floodmark.registry.engine import Registry, lock_writes
from floodmark.registry.errors import RegistryError
from floodmark.registry.models import Override, Threshold, utcnow
from floodmark.registry.sets import apply_override, resolve_set
from floodmark.schema import LEVELS, series_name


@dataclass(frozen=True)
class Overridden:
    """What ``override_threshold`` did: the level's value before and after."""

    set_id: int
    series: str
    level: str
    before: float
    after: float


def override_threshold(
    registry: Registry,
    ref: int | str,
    *,
    prediction_id: str,
    vector: str,
    metric: str,
    level: str,
    value: float,
    by: str,
    reason: str,
) -> Overridden:
    """Set one level of one series of set ``ref`` to ``value`` (an expert's decision).

    Refuses (``RegistryError``) an unknown level or series, a negative or non-finite
    value, a superseded set, an empty reason, and a value that would break the order of
    the series' effective levels. The override and its audit row commit together.
    """
    if level not in LEVELS:
        raise RegistryError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if not math.isfinite(value) or value < 0:
        raise RegistryError(f"an override must be a finite value >= 0, got {value}")
    if not reason.strip():
        raise RegistryError("an override needs a reason")
    key = series_name(prediction_id, vector, metric)
    with registry.transaction() as session:
        lock_writes(session)
        target = resolve_set(session, ref)
        if target.state == "superseded":
            raise RegistryError(
                f"set {target.id} is superseded: override a draft or the approved set"
            )
        threshold = session.get(Threshold, (target.id, prediction_id, vector, metric))
        if threshold is None:
            raise RegistryError(f"set {target.id} has no thresholds for this series", series=key)
        row = {lv: getattr(threshold, lv) for lv in LEVELS} | {"basis": None}
        for earlier in session.scalars(
            sa.select(Override)
            .where(
                Override.set_id == target.id,
                Override.prediction_id == prediction_id,
                Override.vector == vector,
                Override.metric == metric,
            )
            .order_by(Override.id)
        ):
            apply_override(row, earlier)
        before = row[level]
        levels = [value if lv == level else row[lv] for lv in LEVELS]
        if any(a > b for a, b in zip(levels, levels[1:], strict=False)):
            shown = ", ".join(f"{lv}={v:.6g}" for lv, v in zip(LEVELS, levels, strict=True))
            raise RegistryError(
                f"set {target.id}: {level}={value:.6g} would break ss <= sc <= nw <= rl ({shown})",
                series=key,
            )
        session.add(
            Override(
                set_id=target.id,
                prediction_id=prediction_id,
                vector=vector,
                metric=metric,
                level=level,
                value=value,
                by=by,
                reason=reason,
                at=utcnow(),
            )
        )
        record(
            session,
            who=by,
            action="override",
            what=f"set {target.id} {key} {level}",
            before={level: before},
            after={level: value, "reason": reason},
        )
        return Overridden(target.id, key, level, before, value)
