"""The vendor blob codec: every defect has its reason; sides align by timestamp."""

from __future__ import annotations

import base64
import gzip

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_builders import GOOD, T0, blob, doc, gzip_bomb

from floodmark.errors import SeriesDefect
from floodmark.io import codec
from floodmark.io.codec import decode_time_series, encode_time_series
from floodmark.schema import DEFECT_REASONS


def reason_of(cell) -> str:
    with pytest.raises(SeriesDefect) as info:
        decode_time_series(cell)
    assert info.value.reason in DEFECT_REASONS
    assert "\n" not in str(info.value)
    return info.value.reason


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("not base64 at all!", "bad_base64"),
        ("", "bad_base64"),
        (None, "bad_base64"),
        (base64.b64encode(b"plain text, not gzip").decode(), "bad_gzip"),
        (base64.b64encode(gzip.compress(b"{not json", mtime=0)).decode(), "bad_json"),
        (blob([1, 2, 3]), "wrong_shape"),
        (blob({"passedDays": []}), "wrong_shape"),
        (blob({"passedDays": {"d": {"values": "abc"}}}), "wrong_shape"),
        (blob({"passedDays": {"d": {"values": [{"value": 1.0}]}}}), "wrong_shape"),
        (blob({"passedDays": {"d": {"values": [{"value": "x", "timeStamp": T0}]}}}), "wrong_shape"),
        (
            blob({"passedDays": {"d": {"values": [{"value": 1.0, "timeStamp": 1.5}]}}}),
            "wrong_shape",
        ),
        # epoch milliseconds where seconds belong: far beyond year 9999
        (blob(doc([(T0 * 1000, 1.0)])), "wrong_shape"),
        (blob({"blockedDays": {}, "underAttack": False}), "missing_passed_days"),
        (blob({"passedDays": None}), "missing_passed_days"),
        (blob(doc([(T0, -1.0)])), "negative_value"),
        (blob(doc([(T0, 1.0)], [(T0, -0.5)])), "negative_value"),
        (blob(b'{"passedDays":{"d":{"values":[{"value":NaN,"timeStamp":1}]}}}'), "nan_value"),
        (blob({"passedDays": {"d": {"values": [{"value": None, "timeStamp": T0}]}}}), "nan_value"),
        (
            blob(b'{"passedDays":{"d":{"values":[{"value":Infinity,"timeStamp":1}]}}}'),
            "infinite_value",
        ),
    ],
)
def test_each_defect_has_its_reason(cell, reason):
    assert reason_of(cell) == reason


def test_good_document():
    series = decode_time_series(blob(GOOD))
    assert series.timestamps.tolist() == [T0, T0 + 300]
    assert series.passed.tolist() == [1.0, 2.0]
    assert series.blocked.tolist() == [0.0, 0.0]
    assert series.repaired_duplicates == 0


def test_base64_wrapped_in_lines_is_accepted():
    text = blob(GOOD)
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert decode_time_series(wrapped).passed.tolist() == [1.0, 2.0]


def test_duplicates_within_a_side_last_wins_and_are_counted():
    passed = [(T0, 1.0), (T0 + 300, 2.0), (T0, 5.0), (T0 + 600, 3.0), (T0, 7.0)]
    blocked = [(T0 + 300, 4.0), (T0 + 300, 6.0)]
    series = decode_time_series(blob(doc(passed, blocked)))
    assert series.timestamps.tolist() == [T0, T0 + 300, T0 + 600]
    assert series.passed.tolist() == [7.0, 2.0, 3.0]
    assert series.blocked.tolist() == [0.0, 6.0, 0.0]
    assert series.repaired_duplicates == 3


def test_sides_align_by_timestamp_not_position():
    # The notebook concatenates the sides by position, so the blocked value of
    # T0+600 lands on T0 and T0+900 (no passed sample) vanishes.
    passed = [(T0, 1.0), (T0 + 300, 2.0), (T0 + 600, 3.0)]
    blocked = [(T0 + 600, 50.0), (T0 + 900, 70.0)]
    series = decode_time_series(blob(doc(passed, blocked)))
    assert series.timestamps.tolist() == [T0, T0 + 300, T0 + 600, T0 + 900]
    assert series.passed.tolist() == [1.0, 2.0, 3.0, 0.0]
    assert series.blocked.tolist() == [0.0, 0.0, 50.0, 70.0]


def test_unsorted_days_and_empty_passed_side():
    series = decode_time_series(blob(doc([], [(T0 + 300, 2.0), (T0, 1.0)])))
    assert series.timestamps.tolist() == [T0, T0 + 300]
    assert series.passed.tolist() == [0.0, 0.0]
    assert series.blocked.tolist() == [1.0, 2.0]


def test_missing_or_null_blocked_days_is_an_empty_side():
    for document in ({"passedDays": GOOD["passedDays"]}, {**GOOD, "blockedDays": None}):
        assert decode_time_series(blob(document)).blocked.tolist() == [0.0, 0.0]


values = st.floats(min_value=0, max_value=1e15, allow_nan=False) | st.sampled_from([0.0, 1e15])


@given(
    st.lists(
        st.tuples(st.integers(0, 60 * 288), values, values),
        unique_by=lambda t: t[0],
        max_size=300,
    )
)
def test_encode_decode_round_trip(samples):
    samples.sort()
    ts = T0 + 300 * np.array([s[0] for s in samples], dtype=np.int64)
    passed = np.array([s[1] for s in samples], dtype=np.float64)
    blocked = np.array([s[2] for s in samples], dtype=np.float64)
    hit = blocked > 0
    series = decode_time_series(encode_time_series(ts, passed, ts[hit], blocked[hit]))
    np.testing.assert_array_equal(series.timestamps, ts)
    np.testing.assert_array_equal(series.passed, passed)
    np.testing.assert_array_equal(series.blocked, np.where(hit, blocked, 0.0))


# --- hostile and mistyped cells ------------------------------------------------------


def _sample(value: bytes, stamp: bytes) -> bytes:
    return b'{"passedDays":{"d":{"values":[{"value":' + value + b',"timeStamp":' + stamp + b"}]}}}"


@pytest.mark.parametrize(
    ("value", "stamp"),
    [
        (b'"12"', b"1704067200"),
        (b"true", b"1704067200"),
        (b"false", b"1704067200"),
        (b"[12]", b"1704067200"),
        (b"12", b'"1704067200"'),
        (b"12", b"true"),
        (b"12", b"null"),
    ],
)
def test_values_and_timestamps_are_json_numbers_never_coerced(value, stamp):
    text = _sample(value, stamp)
    assert codec._fast_decode(text) is None  # the typed path refuses it ...
    for decode in (codec.decode_json, lambda t: codec.decode_document(codec._parse_json(t))):
        with pytest.raises(SeriesDefect) as info:  # ... and so does the full parse
            decode(text)
        assert info.value.reason == "wrong_shape"
    assert reason_of(blob(text)) == "wrong_shape"


def test_numbers_of_either_json_kind_are_read():
    series = decode_time_series(blob(_sample(b"12", b"1704067200.0")))
    assert series.passed.tolist() == [12.0] and series.timestamps.tolist() == [1_704_067_200]


def test_deeply_nested_json_is_bad_json():
    depth = 100_000
    text = b'{"passedDays":' + b"[" * depth + b"]" * depth + b"}"
    assert reason_of(blob(text)) == "bad_json"


def test_any_unexpected_failure_is_a_defect_of_the_series(monkeypatch):
    def broken(doc):
        raise ZeroDivisionError("a bug deep inside")

    monkeypatch.setattr(codec, "decode_document", broken)
    monkeypatch.setattr(codec, "_fast_decode", lambda text: None)
    monkeypatch.setattr(codec, "_scan_decode", lambda text: None)
    with pytest.raises(SeriesDefect) as info:
        decode_time_series(blob(GOOD))
    assert info.value.reason == "decode_error"
    assert "ZeroDivisionError: a bug deep inside" in info.value.message


def test_a_cell_inflating_beyond_the_limit_is_too_large():
    cell = gzip_bomb(4 << 20)
    with pytest.raises(SeriesDefect) as info:
        codec.decode_gzipped(cell, max_bytes=1 << 20)
    assert info.value.reason == "too_large"
    assert "1,048,576 bytes" in info.value.message
    # The same bytes with room to spare inflate (and then fail as JSON, as they should).
    with pytest.raises(SeriesDefect, match="not valid JSON"):
        codec.decode_gzipped(cell, max_bytes=8 << 20)
    # A cell of exactly the limit passes the limit.
    text = orjson.dumps(GOOD)
    exact = gzip.compress(text, mtime=0)
    assert codec.decode_gzipped(exact, max_bytes=len(text)).passed.tolist() == [1.0, 2.0]
    with pytest.raises(SeriesDefect, match="more than"):
        codec.decode_gzipped(exact, max_bytes=len(text) - 1)


def test_the_default_limit_holds_the_longest_sane_series():
    widest = {"value": 2.2250738585072014e-308, "timeStamp": 1_704_067_200.0}
    day = orjson.dumps({"2024-01-01": {"values": [widest] * 1_440}})
    assert codec.SANE_SERIES_SAMPLES == 1_440 * 400
    assert 2 * 400 * (len(day) + 1) < codec.MAX_SERIES_BYTES  # both sides, 400 days


def test_gzip_members_are_read_in_turn_and_trailing_bytes_are_refused():
    text = orjson.dumps(GOOD)
    half = len(text) // 2
    two_members = gzip.compress(text[:half], mtime=0) + gzip.compress(text[half:], mtime=0)
    cell = base64.b64encode(two_members)
    assert decode_time_series(cell).passed.tolist() == [1.0, 2.0]
    # Members count together against the limit.
    with pytest.raises(SeriesDefect, match="more than"):
        codec.decode_gzipped(two_members, max_bytes=len(text) - 1)
    one = gzip.compress(text, mtime=0)
    assert reason_of(base64.b64encode(one + one)) == "bad_json"  # two documents
    assert reason_of(base64.b64encode(one + b"trailing junk")) == "bad_gzip"
    assert reason_of(base64.b64encode(one[:-3])) == "bad_gzip"  # truncated
