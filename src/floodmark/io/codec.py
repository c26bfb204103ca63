"""The vendor's compressed series: base64( gzip( JSON ) ), decoded and encoded.

The JSON is ``{"passedDays": {DAY: {"values": [{"value": v, "timeStamp": t}, ...]}},
"blockedDays": {...}, "underAttack": bool}`` with ``t`` in UTC epoch seconds.

A document is read by the compiled scanner (``json_scan``: the exact vendor
shape, numbers it can prove exact, straight into arrays), else by a typed fast
path when msgspec is installed (that shape, numbers straight into floats); any
document neither takes (another shape, NaN tokens, a defect) gets the full
parse, which names the defect, so every path gives the same series and the same
defects. Inflating uses ISA-L (``isal``, 2-3x zlib's speed, same streams). Values and
timestamps are JSON numbers: text, booleans, lists are ``wrong_shape``, never
coerced.

A cell's gzip may hold several members (RFC 1952 allows it, ``gzip -d`` reads
them all): they are read in turn, as one text. What a cell inflates to is
bounded (``MAX_SERIES_BYTES``); beyond it the series is ``too_large``. Any
failure while decoding one series is a ``SeriesDefect`` of that series.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from itertools import chain
from operator import attrgetter, itemgetter

import numba
import numpy as np
import orjson
import pybase64
from isal import isal_zlib

from floodmark.errors import SeriesDefect
from floodmark.io.json_scan import scan_document
from floodmark.io.options import MAX_SERIES_BYTES, SANE_SERIES_SAMPLES  # noqa: F401 - re-exported

try:  # optional speed-up: without it every document takes the full parse
    import msgspec
except ImportError:  # pragma: no cover - exercised only where msgspec is absent
    msgspec = None


@dataclass(frozen=True)
class DecodedSeries:
    """One series, aligned by timestamp (sorted, unique; a missing side is 0)."""

    timestamps: np.ndarray  # int64 epoch seconds
    passed: np.ndarray  # float64
    blocked: np.ndarray  # float64
    repaired_duplicates: int


def _defects_only(decode: Callable[..., DecodedSeries]) -> Callable[..., DecodedSeries]:
    """Any failure decoding one series is a defect of that series, never of its file."""

    @wraps(decode)
    def guarded(*args, **kwargs) -> DecodedSeries:
        try:
            return decode(*args, **kwargs)
        except SeriesDefect:
            raise
        except Exception as exc:  # whatever broke, it broke on this series alone
            raise SeriesDefect(
                "decode_error", f"time_series cannot be decoded ({type(exc).__name__}: {exc})"
            ) from None

    return guarded


@_defects_only
def decode_time_series(blob: str | bytes, *, max_bytes: int = MAX_SERIES_BYTES) -> DecodedSeries:
    """Decode one ``time_series`` cell; raise ``SeriesDefect`` naming the defect.

    max_bytes: the most the cell may inflate to (``too_large`` beyond).
    """
    if blob is None or len(blob) == 0:
        raise SeriesDefect("bad_base64", "time_series is empty")
    try:
        raw = _b64decode(blob)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise SeriesDefect("bad_base64", f"time_series is not valid base64 ({exc})") from None
    return decode_gzipped(raw, max_bytes=max_bytes)


@_defects_only
def decode_gzipped(raw: bytes, *, max_bytes: int = MAX_SERIES_BYTES) -> DecodedSeries:
    """Decode one base64-decoded cell (gzip of the JSON); raise ``SeriesDefect``."""
    try:
        text = gunzip(raw, max_bytes)
    except (zlib.error, isal_zlib.error) as exc:
        raise SeriesDefect("bad_gzip", f"time_series is not valid gzip ({exc})") from None
    return decode_json(text)


@_defects_only
def decode_json(text: bytes) -> DecodedSeries:
    """Decode the JSON text of one series; raise ``SeriesDefect`` naming the defect."""
    fast = _scan_decode(text)
    if fast is None:
        fast = _fast_decode(text)
    if fast is not None:
        return fast
    return decode_document(_parse_json(text))


def gunzip(raw: bytes, max_bytes: int) -> bytes:
    """Every gzip member of ``raw``, inflated in turn, refused beyond ``max_bytes``.

    Streaming with a limit: a bomb stops at ``max_bytes + 1`` bytes, whatever its
    trailer claims. Raises ``zlib.error`` for broken or truncated gzip, or bytes
    after a member that are not another member (``isal_zlib.error`` for some).
    """
    parts, left = [], max_bytes
    while True:
        inflater = isal_zlib.decompressobj(wbits=31)  # 31: gzip container
        part = inflater.decompress(raw, left + 1)
        if len(part) > left:
            raise SeriesDefect(
                "too_large",
                f"time_series inflates to more than {max_bytes:,} bytes (see --max-series-bytes)",
            )
        if not inflater.eof:
            raise zlib.error("incomplete or truncated stream")
        parts.append(part)
        left -= len(part)
        raw = inflater.unused_data
        if not raw:
            return parts[0] if len(parts) == 1 else b"".join(parts)


def _b64decode(blob: str | bytes) -> bytes:
    try:
        return pybase64.b64decode(blob, validate=True)  # SIMD; same rules as base64's
    except (binascii.Error, ValueError):
        # Some exporters wrap base64 in lines; whitespace is the only leniency.
        if isinstance(blob, str):
            blob = blob.encode("ascii")
        stripped = b"".join(blob.split())
        if stripped == blob:
            raise
        return pybase64.b64decode(stripped, validate=True)


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
    except RecursionError:
        raise SeriesDefect("bad_json", "time_series JSON is nested too deeply") from None


def decode_document(doc: object) -> DecodedSeries:
    """Turn a parsed vendor JSON document into aligned arrays."""
    if not isinstance(doc, dict):
        raise SeriesDefect("wrong_shape", "JSON document is not an object")
    if doc.get("passedDays") is None:
        raise SeriesDefect("missing_passed_days", "JSON document has no passedDays")
    blocked_days = doc.get("blockedDays")
    p_ts, p_val = _side(doc["passedDays"], "passedDays")
    b_ts, b_val = _side({} if blocked_days is None else blocked_days, "blockedDays")
    return _aligned(p_ts, p_val, b_ts, b_val)


def _aligned(
    p_ts: np.ndarray, p_val: np.ndarray, b_ts: np.ndarray, b_val: np.ndarray
) -> DecodedSeries:
    """Both sides on one sorted, unique time axis (outer join; a missing side is 0)."""
    p_ts, p_val, p_rep = _last_wins(p_ts, p_val)
    b_ts, b_val, b_rep = _last_wins(b_ts, b_val)
    if b_ts.size == 0:
        return DecodedSeries(p_ts, p_val, np.zeros(p_ts.size), p_rep)
    at = np.searchsorted(p_ts, b_ts)
    if at[-1] < p_ts.size and np.array_equal(p_ts[at], b_ts):
        # The usual vendor layout: blocked samples are a subset of passed ones.
        blocked = np.zeros(p_ts.size)
        blocked[at] = b_val
        return DecodedSeries(p_ts, p_val, blocked, p_rep + b_rep)
    # Both sides are sorted and unique, so a sort of their concatenation plus a
    # neighbour test is the union (cheaper than a hash).
    merged = np.sort(np.concatenate((p_ts, b_ts)))
    keep = np.ones(merged.size, dtype=bool)
    keep[1:] = merged[1:] != merged[:-1]
    timestamps = merged[keep]
    passed = np.zeros(timestamps.size)
    blocked = np.zeros(timestamps.size)
    passed[np.searchsorted(timestamps, p_ts)] = p_val
    blocked[np.searchsorted(timestamps, b_ts)] = b_val
    return DecodedSeries(timestamps, passed, blocked, p_rep + b_rep)


_VALUES = itemgetter("values")
_TIMESTAMP = itemgetter("timeStamp")
_VALUE = itemgetter("value")

# Python's datetime covers years 1..9999; anything beyond is a unit mistake
# (epoch milliseconds read as seconds lands near year 55,000).
MIN_EPOCH_S = -62_135_596_800
MAX_EPOCH_S = 253_402_300_799


_NUMBERS = frozenset({int, float})  # exact types: a JSON true is a bool, not an int
_NUMBERS_OR_NULL = _NUMBERS | {type(None)}  # null values are nan_value, named below


def _side(days: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(days, dict):
        raise SeriesDefect("wrong_shape", f"{name} is not an object of days")
    try:
        # All per-sample work runs in C (chain, map, itemgetter, fromiter): this
        # is the decoder's hot loop, one pass per field over the parsed samples.
        samples = list(chain.from_iterable(map(_VALUES, days.values())))
        stamps = list(map(_TIMESTAMP, samples))
        values = list(map(_VALUE, samples))
    except KeyError as exc:
        raise SeriesDefect("wrong_shape", f"{name}: a day or sample lacks {exc}") from None
    except TypeError as exc:  # a day or sample that is not an object
        raise SeriesDefect("wrong_shape", f"{name}: bad day or sample ({exc})") from None
    for field, column, allowed in (
        ("timeStamp", stamps, _NUMBERS),
        ("value", values, _NUMBERS_OR_NULL),
    ):
        foreign = set(map(type, column)) - allowed
        if foreign:
            shown = ", ".join(sorted(t.__name__ for t in foreign))
            raise SeriesDefect("wrong_shape", f"{name}: a {field} is not a JSON number ({shown})")
    try:
        ts = np.fromiter(stamps, np.float64, len(stamps))
        val = np.fromiter(values, np.float64, len(values))
    except OverflowError as exc:  # an integer beyond float64
        raise SeriesDefect("wrong_shape", f"{name}: bad day or sample ({exc})") from None
    return _checked(ts, val, name)


def _checked(ts: np.ndarray, val: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one side's float64 arrays; timestamps come back as int64."""
    if not np.isfinite(ts).all() or (ts != np.round(ts)).any():
        raise SeriesDefect("wrong_shape", f"{name}: a timeStamp is not whole epoch seconds")
    if ts.size and (ts.min() < MIN_EPOCH_S or ts.max() > MAX_EPOCH_S):
        raise SeriesDefect(
            "wrong_shape", f"{name}: a timeStamp is outside years 1..9999 (not epoch seconds?)"
        )
    if np.isnan(val).any():
        raise SeriesDefect("nan_value", f"{name}: a value is NaN or null")
    if np.isinf(val).any():
        raise SeriesDefect("infinite_value", f"{name}: a value is infinite")
    if (val < 0).any():
        raise SeriesDefect("negative_value", f"{name}: a value is negative ({val.min()})")
    # float64 holds every whole second of years 1..9999 exactly.
    return ts.astype(np.int64), val


def _last_wins(ts: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Sort by time; where a timestamp repeats, keep its last occurrence."""
    if ts.size < 2 or (ts[1:] > ts[:-1]).all():
        return ts, val, 0  # the usual case: already sorted and unique
    order = np.argsort(ts, kind="stable")
    ts, val = ts[order], val[order]
    keep = np.ones(ts.size, dtype=bool)
    keep[:-1] = ts[1:] != ts[:-1]
    return ts[keep], val[keep], int(ts.size - keep.sum())


# --- the fast path ------------------------------------------------------------------
# msgspec decodes the exact vendor shape into typed objects (no dicts, numbers
# straight to floats) and rejects everything else: unknown keys, null, text or
# booleans as numbers, NaN tokens, broken JSON. Those documents get the full
# parse, so the fast path only ever returns series the full parse returns too.
# Pulling 2 x 8,000 floats out of the objects one by one would cost as much as
# the parse; instead msgpack packs them (in C) into fixed 35-byte records, and
# numpy reads both columns straight out of those bytes.

if msgspec is not None:

    class _Sample(msgspec.Struct, rename="camel", gc=False, forbid_unknown_fields=True):
        value: float
        time_stamp: float

    class _Day(msgspec.Struct, rename="camel", gc=False, forbid_unknown_fields=True):
        values: list[_Sample]

    class _Document(msgspec.Struct, rename="camel", gc=False, forbid_unknown_fields=True):
        passed_days: dict[str, _Day]
        blocked_days: dict[str, _Day] | None = None
        under_attack: bool | None = None

    _DECODER = msgspec.json.Decoder(_Document)
    _PACKER = msgspec.msgpack.Encoder()
    # One packed sample: map header, "value", float64 tag + 8 bytes big-endian,
    # "timeStamp", float64 tag + 8 bytes. The probe pins the layout checked below.
    _PROBE = _PACKER.encode(_Sample(value=0.0, time_stamp=0.0))
    _VALUE_AT = _PROBE.index(b"value\xcb") + 6
    _TIME_AT = _PROBE.index(b"timeStamp\xcb") + 10
    _RECORD = np.dtype(
        {
            "names": ["value", "time"],
            "formats": [">f8", ">f8"],
            "offsets": [_VALUE_AT, _TIME_AT],
            "itemsize": len(_PROBE),
        }
    )
    _DAY_VALUES = attrgetter("values")


def _fast_decode(text: bytes) -> DecodedSeries | None:
    """The series of a well-formed document, or None to send it to the full parse."""
    if msgspec is None:
        return None
    try:
        doc = _DECODER.decode(text)
    except (msgspec.MsgspecError, ValueError, RecursionError):  # ValueError: bad UTF-8 key
        return None
    passed = _packed_side(doc.passed_days)
    blocked = _packed_side(doc.blocked_days or {})
    if passed is None or blocked is None:
        return None
    return _valid_or_none(*passed, *blocked)


def _scan_decode(text: bytes) -> DecodedSeries | None:
    """The compiled scanner's series of ``text``, or None to send it to the next path."""
    sides = scan_document(text)
    if sides is None:
        return None
    p_ts, p_val, b_ts, b_val = sides
    p_seconds = np.empty(p_ts.size, np.int64)
    b_seconds = np.empty(b_ts.size, np.int64)
    if not (_valid_side(p_ts, p_val, p_seconds) and _valid_side(b_ts, b_val, b_seconds)):
        return None  # the full parse names it
    return _aligned(p_seconds, p_val, b_seconds, b_val)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _valid_side(ts, val, seconds):
    """``_checked`` in one compiled pass: False where it raises, else ``seconds`` = ``ts``."""
    for k in range(ts.size):
        t = ts[k]
        v = val[k]
        # NaN fails every comparison, so it is refused with the rest.
        if not (MIN_EPOCH_S <= t <= MAX_EPOCH_S) or t != np.floor(t):
            return False
        if not (v >= 0.0) or v == np.inf:
            return False
        seconds[k] = np.int64(t)
    return True


def _valid_or_none(
    p_ts: np.ndarray, p_val: np.ndarray, b_ts: np.ndarray, b_val: np.ndarray
) -> DecodedSeries | None:
    """A fast path's float64 sides as a series; None when a side has a defect."""
    try:
        p_ts, p_val = _checked(p_ts, p_val, "passedDays")
        b_ts, b_val = _checked(b_ts, b_val, "blockedDays")
    except SeriesDefect:
        return None  # the full parse names it
    return _aligned(p_ts, p_val, b_ts, b_val)


def _packed_side(days: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(timestamps, values) of one side as float64, read from packed records."""
    samples = list(chain.from_iterable(map(_DAY_VALUES, days.values())))
    n = len(samples)
    packed = _PACKER.encode(samples)
    head = 1 if n < 16 else 3 if n < 65_536 else 5  # msgpack array header
    size = _RECORD.itemsize
    if len(packed) != head + n * size:
        return None
    if n:
        # Every record has the same type, hence the same layout: the first one,
        # floats zeroed, must be the probe.
        first = bytearray(packed[head : head + size])
        first[_VALUE_AT : _VALUE_AT + 8] = first[_TIME_AT : _TIME_AT + 8] = bytes(8)
        if first != _PROBE:
            return None
    records = np.frombuffer(packed, _RECORD, n, head)
    return records["time"].astype(np.float64), records["value"].astype(np.float64)


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
