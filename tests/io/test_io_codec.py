"""The vendor blob codec: every defect has its reason; sides align by timestamp."""

from __future__ import annotations

import base64
import gzip

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_builders import GOOD, T0, blob, doc

from floodmark.errors import SeriesDefect
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
