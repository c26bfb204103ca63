"""The vendor's compressed series: base64( gzip( JSON ) ), decoded and encoded.

The JSON is ``{"passedDays": {DAY: {"values": [{"value": v, "timeStamp": t}, ...]}},
"blockedDays": {...}, "underAttack": bool}`` with ``t`` in UTC epoch seconds.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from dataclasses import dataclass

import numpy as np
import orjson

from floodmark.errors import SeriesDefect


@dataclass(frozen=True)
class DecodedSeries:
    """One series, aligned by timestamp (sorted, unique; a missing side is 0)."""

    timestamps: np.ndarray  # int64 epoch seconds
    passed: np.ndarray  # float64
    blocked: np.ndarray  # float64
    repaired_duplicates: int


def decode_time_series(blob: str | bytes) -> DecodedSeries:
    """Decode one ``time_series`` cell; raise ``SeriesDefect`` naming the defect."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SeriesDefect("bad_base64", f"time_series is not valid base64 ({exc})") from None
    try:
        text = zlib.decompress(raw, wbits=31)  # 31: gzip container, one C call
    except zlib.error as exc:
        raise SeriesDefect("bad_gzip", f"time_series is not valid gzip ({exc})") from None
    return decode_document(_parse_json(text))


def _parse_json(text: bytes) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    # orjson rejects NaN/Infinity tokens; the stdlib accepts them so that such
    # series are quarantined as nan/infinite values rather than as broken JSON.
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SeriesDefect("bad_json", f"time_series is not valid JSON ({exc})") from None


def decode_document(doc: object) -> DecodedSeries:
    """Turn a parsed vendor JSON document into aligned arrays."""
    if not isinstance(doc, dict):
        raise SeriesDefect("wrong_shape", "JSON document is not an object")
    if "passedDays" not in doc:
        raise SeriesDefect("missing_passed_days", "JSON document has no passedDays")
    p_ts, p_val = _side(doc["passedDays"], "passedDays")
    b_ts, b_val = _side(doc.get("blockedDays") or {}, "blockedDays")
    p_ts, p_val, p_rep = _last_wins(p_ts, p_val)
    b_ts, b_val, b_rep = _last_wins(b_ts, b_val)
    timestamps = np.union1d(p_ts, b_ts)
    passed = np.zeros(timestamps.size)
    blocked = np.zeros(timestamps.size)
    passed[np.searchsorted(timestamps, p_ts)] = p_val
    blocked[np.searchsorted(timestamps, b_ts)] = b_val
    return DecodedSeries(timestamps, passed, blocked, p_rep + b_rep)


def _side(days: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(days, dict):
        raise SeriesDefect("wrong_shape", f"{name} is not an object of days")
    stamps: list = []
    values: list = []
    try:
        for day in days.values():
            samples = day["values"]
            stamps.extend([s["timeStamp"] for s in samples])
            values.extend([s["value"] for s in samples])
    except (TypeError, KeyError) as exc:
        raise SeriesDefect("wrong_shape", f"{name}: bad day or sample ({exc!r})") from None
    try:
        ts = np.asarray(stamps, dtype=np.float64)
        val = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise SeriesDefect("wrong_shape", f"{name}: a value or timeStamp is not a number") from None
    if ts.size and (not np.isfinite(ts).all() or (ts != np.round(ts)).any()):
        raise SeriesDefect("wrong_shape", f"{name}: a timeStamp is not whole epoch seconds")
    if np.isnan(val).any():
        raise SeriesDefect("nan_value", f"{name}: a value is NaN")
    if np.isinf(val).any():
        raise SeriesDefect("infinite_value", f"{name}: a value is infinite")
    if (val < 0).any():
        raise SeriesDefect("negative_value", f"{name}: a value is negative ({val.min()})")
    return ts.astype(np.int64), val


def _last_wins(ts: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Sort by time; where a timestamp repeats, keep its last occurrence."""
    order = np.argsort(ts, kind="stable")
    ts, val = ts[order], val[order]
    keep = np.ones(ts.size, dtype=bool)
    keep[:-1] = ts[1:] != ts[:-1]
    return ts[keep], val[keep], int(ts.size - keep.sum())


def encode_time_series(
    passed_ts: np.ndarray,
    passed: np.ndarray,
    blocked_ts: np.ndarray,
    blocked: np.ndarray,
    *,
    compresslevel: int = 6,
) -> str:
    """Encode samples the way the vendor does; day keys are UTC ``YYYY-MM-DD``.

    ``gzip.compress`` with ``mtime=0`` keeps the output byte-identical across runs.
    """
    doc = {
        "passedDays": _days(passed_ts, passed),
        "blockedDays": _days(blocked_ts, blocked),
        "underAttack": bool(np.any(np.asarray(blocked) > 0)),
    }
    raw = gzip.compress(orjson.dumps(doc), compresslevel=compresslevel, mtime=0)
    return base64.b64encode(raw).decode("ascii")


def _days(ts: np.ndarray, val: np.ndarray) -> dict:
    ts = np.asarray(ts, dtype=np.int64)
    val = np.asarray(val, dtype=np.float64)
    day_index = ts // 86_400
    days: dict = {}
    if ts.size == 0:
        return days
    cuts = np.flatnonzero(np.diff(day_index)) + 1
    for start, stop in zip(np.r_[0, cuts], np.r_[cuts, ts.size], strict=True):
        key = str(np.datetime64(int(day_index[start]), "D"))
        samples = [
            {"value": v, "timeStamp": t}
            for v, t in zip(val[start:stop].tolist(), ts[start:stop].tolist(), strict=True)
        ]
        days.setdefault(key, {"values": []})["values"].extend(samples)
    return days
