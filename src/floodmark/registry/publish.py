"""Publish a thresholds table as a new draft set, once per content.

The set's ``source_hash`` is the SHA-256 of the table's canonical content (rows sorted
by series, floats in full precision), so the same thresholds published again, even
from another file or format, find the set they made the first time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import orjson
import polars as pl
import sqlalchemy as sa

from floodmark.errors import SchemaError
from floodmark.registry.audit import record
from floodmark.registry.engine import Registry
from floodmark.registry.models import Threshold, ThresholdSet, utcnow
from floodmark.schema import KEY_COLUMNS, LEVELS, series_name
from floodmark.thresholds.base import THRESHOLD_SCHEMA

#: Rows inserted per statement.
INSERT_BATCH = 5_000


@dataclass(frozen=True)
class Published:
    """What ``publish_thresholds`` did: the set holding the table, and whether it is new."""

    set_id: int
    created: bool
    series: int


def publish_file(
    registry: Registry, path: str | Path, *, by: str, note: str | None = None
) -> Published:
    """Publish a thresholds file (``.csv``, ``.parquet`` or ``.json``, as ``recommend`` writes)."""
    from floodmark.io.atomic import read_table

    path = Path(path)
    table = check_thresholds(read_table(path), source=path)
    return publish_thresholds(registry, table, source=path.name, by=by, note=note)


def publish_thresholds(
    registry: Registry,
    table: pl.DataFrame,
    *,
    source: str,
    by: str,
    note: str | None = None,
) -> Published:
    """Store ``table`` (``THRESHOLD_SCHEMA``) as a draft set in one transaction.

    When a set with the same content exists, nothing is written and its id is returned
    with ``created=False``.
    """
    table = check_thresholds(table, source=source)
    digest = content_hash(table)
    existing = _set_with_hash(registry, digest)
    if existing is not None:
        return Published(existing, False, table.height)
    methods = sorted(set(table["method"].to_list()))
    try:
        with registry.transaction() as session:
            new = ThresholdSet(
                created=utcnow(),
                method=",".join(methods),
                source=source[:1024],
                source_hash=digest,
                note=note,
                state="draft",
            )
            session.add(new)
            session.flush()
            rows = table.with_columns(set_id=pl.lit(new.id)).to_dicts()
            for start in range(0, len(rows), INSERT_BATCH):
                session.execute(sa.insert(Threshold), rows[start : start + INSERT_BATCH])
            record(
                session,
                who=by,
                action="publish",
                what=f"set {new.id}",
                before=None,
                after={
                    "state": "draft",
                    "method": new.method,
                    "series": table.height,
                    "source": source,
                    "source_hash": digest,
                    "note": note,
                },
            )
    except sa.exc.IntegrityError:
        # Someone published the same content between our look-up and our commit.
        existing = _set_with_hash(registry, digest)
        if existing is None:
            raise
        return Published(existing, False, table.height)
    return Published(new.id, True, table.height)


def check_thresholds(table: pl.DataFrame, *, source: str | Path) -> pl.DataFrame:
    """``table`` in ``THRESHOLD_SCHEMA``, sorted by series, NaN as null; or a SchemaError.

    Needs the keys and the four levels; ``method``, ``basis``, ``fallback`` and the
    expected false alarms may be absent. Refuses repeated series, and levels that are
    missing, negative or out of order (``ss <= sc <= nw <= rl``), naming the series.
    """
    missing = [c for c in (*KEY_COLUMNS, *LEVELS) if c not in table.columns]
    if missing:
        raise SchemaError(f"thresholds lack column(s) {', '.join(missing)}", file=source)
    if table.height == 0:
        raise SchemaError("thresholds table is empty", file=source)
    if "method" not in table.columns:
        table = table.with_columns(method=pl.lit("given"))
    try:
        table = table.select(
            pl.col(c).cast(dtype) if c in table.columns else pl.lit(None, dtype).alias(c)
            for c, dtype in THRESHOLD_SCHEMA.items()
        )
    except pl.exceptions.PolarsError as exc:
        raise SchemaError(
            f"thresholds have a column of the wrong type ({exc})", file=source
        ) from None
    table = table.with_columns(pl.col(pl.Float64).fill_nan(None)).sort(KEY_COLUMNS)
    empty_key = pl.any_horizontal(pl.col(k).is_null() | (pl.col(k) == "") for k in KEY_COLUMNS)
    if table.filter(empty_key).height:
        raise SchemaError("a row has an empty prediction_id, vector or metric", file=source)
    levels = [pl.col(lv) for lv in LEVELS]
    invalid = pl.any_horizontal(v.is_null() | v.is_infinite() | (v < 0) for v in levels)
    unordered = pl.any_horizontal(a > b for a, b in zip(levels, levels[1:], strict=False))
    for condition, problem in (
        (invalid, "levels must be finite and >= 0"),
        (unordered, "levels are not ordered ss <= sc <= nw <= rl"),
    ):
        bad = table.filter(condition)
        if bad.height:
            row = bad.row(0, named=True)
            raise SchemaError(
                f"{problem}: "
                + ", ".join(f"{lv}={row[lv]}" for lv in LEVELS)
                + (f" ({bad.height} series in all)" if bad.height > 1 else ""),
                file=source,
                series=series_name(*(row[k] for k in KEY_COLUMNS)),
            )
    repeated = table.filter(pl.struct(KEY_COLUMNS).is_duplicated())
    if repeated.height:
        raise SchemaError(
            f"{repeated.height} rows repeat a series (one row per series expected)",
            file=source,
            series=series_name(*repeated.row(0)[:3]),
        )
    return table


def content_hash(table: pl.DataFrame) -> str:
    """SHA-256 of a checked table's rows (sorted by series; column order fixed)."""
    digest = hashlib.sha256()
    for row in table.select(THRESHOLD_SCHEMA.keys()).iter_rows():
        digest.update(orjson.dumps(row))
        digest.update(b"\n")
    return digest.hexdigest()


def _set_with_hash(registry: Registry, digest: str) -> int | None:
    with registry.sessions() as session:
        return session.scalars(
            sa.select(ThresholdSet.id).where(ThresholdSet.source_hash == digest)
        ).one_or_none()
