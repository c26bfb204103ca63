"""Compare two thresholds tables level by level and flag what an expert must review.

A value needs review when it moved beyond the guard (default: below 0.5x or above 2x
the old value), and so does every level of a series that is new or has vanished.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from floodmark.errors import FloodmarkError
from floodmark.registry.engine import Registry
from floodmark.registry.sets import resolve_set, set_thresholds
from floodmark.schema import KEY_COLUMNS, LEVELS

KEYS = list(KEY_COLUMNS)

#: ``diff_thresholds``' columns; ``change`` is same, changed, new or vanished.
DIFF_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "vector": pl.String(),
    "metric": pl.String(),
    "level": pl.String(),
    "old": pl.Float64(),
    "new": pl.Float64(),
    "ratio": pl.Float64(),
    "change": pl.String(),
    "needs_review": pl.Boolean(),
}


@dataclass(frozen=True)
class Guard:
    """A new value needs review below ``low`` x or above ``high`` x the old one."""

    low: float = 0.5
    high: float = 2.0

    def __post_init__(self) -> None:
        if not (0 <= self.low <= 1 <= self.high):
            raise FloodmarkError(f"a guard needs 0 <= LOW <= 1 <= HIGH, got {self.low},{self.high}")

    @classmethod
    def parse(cls, text: str) -> Guard:
        """``"LOW,HIGH"``, e.g. ``"0.5,2"``."""
        try:
            low, high = (float(part) for part in text.split(","))
        except ValueError:
            raise FloodmarkError(f"a guard is LOW,HIGH such as 0.5,2, got {text!r}") from None
        return cls(low, high)


#: Below half or above twice the old value.
DEFAULT_GUARD = Guard()


def diff_thresholds(
    old: pl.DataFrame, new: pl.DataFrame, guard: Guard = DEFAULT_GUARD
) -> pl.DataFrame:
    """One row per series x level of either table (``DIFF_SCHEMA``), sorted by series.

    ``ratio`` is new / old (1 when both are 0, infinite when only old is 0, null when a
    side is missing).
    """
    joined = _long(old).join(
        _long(new), on=[*KEYS, "level"], how="full", coalesce=True, suffix="_new"
    )
    joined = joined.rename({"value": "old", "value_new": "new"})
    old_v, new_v = pl.col("old"), pl.col("new")
    ratio = (
        pl.when(old_v.is_null() | new_v.is_null())
        .then(None)
        .when((old_v == 0) & (new_v == 0))
        .then(1.0)
        .otherwise(new_v / old_v)
    )
    change = (
        pl.when(pl.col("present").is_null())
        .then(pl.lit("new"))
        .when(pl.col("present_new").is_null())
        .then(pl.lit("vanished"))
        .when(old_v.eq_missing(new_v))
        .then(pl.lit("same"))
        .otherwise(pl.lit("changed"))
    )
    out = joined.with_columns(ratio=ratio, change=change).with_columns(
        needs_review=pl.col("change").is_in(["new", "vanished"])
        | (pl.col("ratio") < guard.low).fill_null(False)
        | (pl.col("ratio") > guard.high).fill_null(False)
        | (old_v.is_null() != new_v.is_null())
    )
    level_order = pl.col("level").replace_strict(LEVELS, range(len(LEVELS)))
    return out.sort([*KEYS, level_order]).select(DIFF_SCHEMA.keys()).cast(DIFF_SCHEMA)


def diff_sets(
    registry: Registry, old: int | str, new: int | str, guard: Guard = DEFAULT_GUARD
) -> pl.DataFrame:
    """``diff_thresholds`` of two sets' effective thresholds (ids or ``"approved"``)."""
    with registry.sessions() as session:
        old_table = set_thresholds(session, resolve_set(session, old).id)
        new_table = set_thresholds(session, resolve_set(session, new).id)
    return diff_thresholds(old_table, new_table, guard)


def review_summary(diff: pl.DataFrame) -> str:
    """One line: how many values need review, and how many series are new or vanished."""
    flagged = diff.filter("needs_review")
    series = {
        change: flagged.filter(pl.col("change") == change).select(KEYS).unique().height
        for change in ("new", "vanished")
    }
    moved = flagged.filter(pl.col("change") == "changed").height
    return (
        f"{flagged.height} of {diff.height} values need review: {moved} moved beyond the guard, "
        f"{series['new']} new series, {series['vanished']} vanished series"
    )


def _long(table: pl.DataFrame) -> pl.DataFrame:
    """Series x level rows: keys, level, value, present (a marker that the row exists)."""
    return (
        table.select(*KEYS, *LEVELS)
        .unpivot(index=KEYS, on=list(LEVELS), variable_name="level", value_name="value")
        .with_columns(present=pl.lit(True))
    )
