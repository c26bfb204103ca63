"""What the API and the console both answer, as plain dicts and frames.

Registry refusals become ``ApiError``s with the status that fits: a missing set or
series 404, a write the set's state or values refuse 409, a bad argument 422.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import orjson
import polars as pl
from fastapi.responses import Response

from floodmark.errors import FloodmarkError
from floodmark.registry import (
    RegistryError,
    approve_set,
    audit_log,
    diff_thresholds,
    override_threshold,
    review_summary,
)
from floodmark.registry.keys import KeyInfo
from floodmark.registry.sets import APPROVED, LATEST
from floodmark.schema import IP_LABELS, KEY_COLUMNS, RANGE_LABELS, series_name
from floodmark.service.errors import ApiError
from floodmark.service.fleet import Fleet, Snapshot
from floodmark.service.models import encode_json
from floodmark.service.registry_view import RegistryView

#: The largest id the registry holds (its ids are PostgreSQL ``integer``s).
MAX_ID = 2**31 - 1
#: What ``export`` answers per format: media type and file suffix.
EXPORT_MEDIA: dict[str, tuple[str, str]] = {
    "fastnetmon": ("application/zip", ".zip"),
    "fastnetmon-json": ("application/json", ".json"),
    "csv": ("text/csv", ".csv"),
    "json": ("application/json", ".json"),
}


# -- objects ----------------------------------------------------------------------
def object_page(
    fleet: Fleet, q: str | None, limit: int, cursor: str | None, view: RegistryView | None = None
) -> dict:
    """Objects whose id or name contains ``q`` (any case), ``limit`` after ``cursor``."""
    table = fleet.objects(view)
    if q:
        needle = q.strip().lower()
        table = table.filter(
            pl.col("prediction_id").str.to_lowercase().str.contains(needle, literal=True)
            | pl.col("name").str.to_lowercase().str.contains(needle, literal=True).fill_null(False)
        )
    total = table.height
    if cursor:
        table = table.filter(pl.col("prediction_id") > cursor)
    page = table.head(limit)
    more = table.height > limit
    return {
        "items": page.to_dicts(),
        "total": total,
        "next_cursor": page["prediction_id"][-1] if more else None,
    }


def object_detail(
    fleet: Fleet, prediction_id: str, view: RegistryView | None = None, *, encoded: bool = False
) -> dict:
    """An object: its series, features, and thresholds of the newest and the approved set.

    ``encoded``: its lists as ``orjson.Fragment``s, encoded once per store and registry
    version (for ``FastJSON``), not dicts (for the templates).
    """
    view = view or fleet.view()
    found = fleet.object(prediction_id, view)
    if found is None:
        raise ApiError(404, f"no object {prediction_id!r}")
    snap = fleet.snapshot()
    if encoded:
        series, features = snap.encoded.get(prediction_id) or _encode_parts(snap, prediction_id)
    else:
        series, features = _object_parts(snap, prediction_id)
    levels = {
        which: _object_levels(fleet, view, which, prediction_id, encoded)
        for which in (LATEST, APPROVED)
    }
    return {"object": found, "series": series, "features": features, **levels}


def _object_parts(snap: Snapshot, prediction_id: str) -> tuple[list[dict], list[dict]]:
    """An object's series (catalog rows) and features rows."""
    catalog = snap.by_object.get(prediction_id)
    series = []
    if catalog is not None:
        for row in catalog.iter_rows(named=True):
            series.append(
                {
                    **{k: row[k] for k in ("vector", "metric", "n_samples", "median_step_s")},
                    "first_timestamp": row["first_timestamp"],
                    "last_timestamp": row["last_timestamp"],
                    "labels": {k: row.get(k) for k in IP_LABELS + RANGE_LABELS},
                }
            )
    features = snap.features.get(prediction_id)
    return series, [] if features is None else features.to_dicts()


def _encode_parts(snap: Snapshot, prediction_id: str) -> tuple[orjson.Fragment, orjson.Fragment]:
    parts = tuple(orjson.Fragment(encode_json(p)) for p in _object_parts(snap, prediction_id))
    snap.encoded[prediction_id] = parts  # a race only encodes it twice
    return parts


def _object_levels(
    fleet: Fleet, view: RegistryView, ref: str, prediction_id: str, encoded: bool
) -> dict | None:
    try:
        set_id, state = view.resolve(ref)
    except RegistryError:
        return None
    found = fleet.cache.set_rows(view, set_id)
    if encoded:
        rows = found.json_of_object(prediction_id)
    else:
        rows = found.of_object(prediction_id).to_dicts()
    return {"set_id": set_id, "state": state, "rows": rows}


# -- series -----------------------------------------------------------------------
def series_data(
    fleet: Fleet,
    prediction_id: str,
    vector: str,
    metric: str,
    *,
    start: dt.datetime | None,
    end: dt.datetime | None,
    max_points: int,
) -> dict:
    """One series' samples in [start, end], at most ``max_points`` of them, peaks kept.

    Numpy arrays from the file's columns to the encoder: FastJSON writes them without a
    Python object per point, and only a series longer than ``max_points`` is a frame.
    """
    if (prediction_id, vector, metric) not in fleet.snapshot().rows:
        raise ApiError(404, f"no series {series_name(prediction_id, vector, metric)}")
    table = fleet.series_samples(prediction_id, vector, metric)
    timestamp = table["timestamp"].to_numpy()  # naive UTC, sorted
    first = 0 if start is None else timestamp.searchsorted(_utc64(start), "left")
    stop = len(timestamp) if end is None else timestamp.searchsorted(_utc64(end), "right")
    window = slice(first, max(first, stop))
    blocked = table["blocked"].to_numpy()[window]
    shown = {
        "timestamp": timestamp[window],
        "passed": table["passed"].to_numpy()[window],
        "blocked": blocked,
        # as floodmark.domain.is_attack: a NaN (or null, read as NaN) is no attack
        "attack": blocked > fleet.blocked_threshold,
    }
    samples = len(blocked)
    if samples > max_points:
        binned = downsample(pl.DataFrame(shown), max_points)
        shown = {name: binned[name].to_numpy() for name in shown}
    return {
        "prediction_id": prediction_id,
        "vector": vector,
        "metric": metric,
        "samples": samples,
        "downsampled": len(shown["attack"]) < samples,
        **shown,
    }


def downsample(samples: pl.DataFrame, max_points: int) -> pl.DataFrame:
    """At most ``max_points`` rows: consecutive samples binned, each bin shown by its peak.

    A bin keeps the timestamp and ``passed`` of its highest ``passed`` sample, its
    highest ``blocked``, and is an attack when any of its samples is, so neither a
    traffic peak nor a short attack disappears.
    """
    if samples.height <= max_points:
        return samples
    size = -(-samples.height // max_points)  # ceil: the bins never exceed max_points
    return (
        samples.with_row_index("i")
        .group_by(pl.col("i") // size, maintain_order=True)
        .agg(
            pl.col("timestamp").get(pl.col("passed").arg_max()),
            pl.col("passed").max(),
            pl.col("blocked").max(),
            pl.col("attack").any(),
        )
        .drop("i")
    )


def _utc64(value: dt.datetime) -> np.datetime64:
    """``value`` (naive: UTC) as the naive UTC ``datetime64[us]`` of a series' timestamps."""
    utc = value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)
    return np.datetime64(utc, "us")


# -- sets -------------------------------------------------------------------------
def set_page(
    fleet: Fleet,
    ref: str,
    filters: dict[str, str | None],
    limit: int,
    cursor: str | None,
    view: RegistryView | None = None,
) -> dict:
    """A set's effective thresholds, filtered by series, ``limit`` rows from ``cursor``."""
    offset = _offset(cursor)
    view = view or fleet.view()
    set_id, state = resolve(view, ref)
    found = fleet.cache.set_rows(view, set_id)
    pid, vector, metric = (filters.get(k) for k in KEY_COLUMNS)
    rows = found.table if pid is None else found.of_object(pid)
    if vector is not None or metric is not None:
        rows = rows.filter(
            **{k: v for k, v in (("vector", vector), ("metric", metric)) if v is not None}
        )
    page = rows.slice(offset, limit)
    more = offset + limit < rows.height
    # One object's rows in one page: as encoded once for this registry version.
    whole_object = pid is not None and vector is None and metric is None
    whole_object = whole_object and offset == 0 and limit >= rows.height
    return {
        "set_id": set_id,
        "state": state,
        "items": found.json_of_object(pid) if whole_object else page.to_dicts(),
        "total": rows.height,
        "next_cursor": str(offset + limit) if more else None,
    }


def diff_frame(fleet: Fleet, ref: str, against: str) -> tuple[int, int, pl.DataFrame]:
    """``(set id, against id, diff)`` of set ``ref`` against ``against``."""
    view = fleet.view()
    (new, _), (old, _) = resolve(view, ref), resolve(view, against)
    new_rows, old_rows = (fleet.cache.set_rows(view, i).table for i in (new, old))
    return new, old, diff_thresholds(old_rows, new_rows)


def diff_page(
    fleet: Fleet, ref: str, against: str, only_flagged: bool, limit: int, cursor: str | None
) -> dict:
    set_id, against_id, diff = diff_frame(fleet, ref, against)
    shown = diff.filter("needs_review") if only_flagged else diff
    offset = _offset(cursor)
    return {
        "set_id": set_id,
        "against": against_id,
        "summary": review_summary(diff),
        "needs_review": int(diff["needs_review"].sum()),
        "total": shown.height,
        "items": shown.slice(offset, limit).to_dicts(),
        "next_cursor": str(offset + limit) if offset + limit < shown.height else None,
    }


def resolve(view: RegistryView, ref: str) -> tuple[int, str]:
    """``(id, state)`` of set ``ref`` as of ``view``, or 404."""
    try:
        return view.resolve(ref)
    except RegistryError as exc:
        raise ApiError(404, str(exc)) from None


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise ApiError(400, f"not a cursor from this list: {cursor!r}")
    return int(cursor)


# -- writes -----------------------------------------------------------------------
def approve(fleet: Fleet, ref: str, reason: str, key: KeyInfo) -> dict:
    set_id, _ = resolve(fleet.view(), ref)
    try:
        done = approve_set(fleet.registry, set_id, by=key.name, reason=reason)
    except RegistryError as exc:
        raise ApiError(409, str(exc)) from None
    return {"set_id": done.set_id, "superseded": list(done.superseded), "changed": done.changed}


def override(fleet: Fleet, ref: str, body: dict, key: KeyInfo) -> dict:
    set_id, _ = resolve(fleet.view(), ref)
    try:
        done = override_threshold(fleet.registry, set_id, **body, by=key.name)
    except RegistryError as exc:
        status = 404 if "has no thresholds" in exc.message else 409
        raise ApiError(status, str(exc)) from None
    return {
        "set_id": done.set_id,
        "series": done.series,
        "level": done.level,
        "before": done.before,
        "after": done.after,
    }


def revoke(fleet: Fleet, key_id: int, key: KeyInfo) -> dict:
    from floodmark.registry.keys import revoke_key

    if key_id == key.id:
        raise ApiError(409, "a key cannot revoke itself: use another admin key")
    try:
        changed = revoke_key(fleet.registry, key_id, by=key.name)
    except RegistryError as exc:
        raise ApiError(404, str(exc)) from None
    return {"id": key_id, "changed": changed}


# -- export and audit -------------------------------------------------------------
def export(fleet: Fleet, ref: str, fmt: str, level: str | None, bw_unit: str) -> tuple[str, bytes]:
    """``(file name, content)`` of set ``ref`` exported as ``floodmark export`` would.

    FastNetMon's configuration comes with its networks list: both in one zip.
    """
    from floodmark.export import export_thresholds

    if fmt.startswith("fastnetmon") and level is None:
        raise ApiError(422, f"format {fmt} exports one level: give level=ss|sc|nw|rl")
    view = fleet.view()
    set_id, _ = resolve(view, ref)
    rows, objects = fleet.cache.set_rows(view, set_id).table, view.objects
    stem = f"floodmark-set{set_id}-{fmt}" + (f"-{level}" if level else "")
    suffix = EXPORT_MEDIA[fmt][1]
    with tempfile.TemporaryDirectory(prefix="floodmark-export-") as tmp:
        out = Path(tmp) / (stem + (".conf" if fmt == "fastnetmon" else suffix))
        try:
            summary = export_thresholds(
                rows, objects, level=level, fmt=fmt, out=out, bw_unit=bw_unit
            )
        except FloodmarkError as exc:
            raise ApiError(422, str(exc)) from None
        if fmt != "fastnetmon":
            return stem + suffix, out.read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in summary.files:
                archive.write(path, Path(path).name)
        return stem + suffix, buffer.getvalue()


def download(fmt: str, name: str, content: bytes) -> Response:
    """An export as a file download."""
    return Response(
        content,
        media_type=EXPORT_MEDIA[fmt][0],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def audit_page(fleet: Fleet, limit: int, before: int | None) -> dict:
    rows = audit_log(fleet.registry, limit=limit + 1, before=before)
    more = rows.height > limit
    page = rows.tail(limit).reverse()
    items = [
        {**row, "before": _json(row["before"]), "after": _json(row["after"])}
        for row in page.iter_rows(named=True)
    ]
    return {"items": items, "next_before": items[-1]["id"] if more and items else None}


def _json(text: str | None):
    return None if text is None else orjson.loads(text)
