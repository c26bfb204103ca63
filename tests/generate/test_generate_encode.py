"""The generator's bulk encoder writes the JSON ``encode_time_series`` writes, byte for byte."""

from __future__ import annotations

import base64
import gzip

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from floodmark.generate.encode import vendor_cell, vendor_json
from floodmark.generate.fleet import DEFAULT_START, parse_start
from floodmark.generate.traffic import simulate_object
from floodmark.io.codec import decode_time_series, encode_time_series


def reference_json(passed_ts, passed, blocked_ts, blocked) -> bytes:
    """The JSON inside the codec's own cell (one Python object per sample)."""
    cell = encode_time_series(passed_ts, passed, blocked_ts, blocked)
    return gzip.decompress(base64.b64decode(cell))


def cell_json(cell: str) -> bytes:
    return gzip.decompress(base64.b64decode(cell))


stamps = st.lists(st.integers(-(10**10), 3 * 10**11), max_size=40).map(sorted)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 10**9).map(
    lambda k: round(k / 1000, 3)
)


@st.composite
def sides(draw):
    ts = draw(stamps)
    values = draw(st.lists(numbers, min_size=len(ts), max_size=len(ts)))
    hit = draw(st.lists(st.booleans(), min_size=len(ts), max_size=len(ts)))
    blocked = draw(st.lists(numbers, min_size=len(ts), max_size=len(ts)))
    ts = np.array(ts, dtype=np.int64)
    hit = np.array(hit, dtype=bool)
    return ts, np.array(values, dtype=np.float64), ts[hit], np.array(blocked)[hit]


@given(sides())
def test_json_is_the_codecs_for_any_sorted_series(series):
    # NaN, infinities, -0.0, subnormals, huge and tiny numbers, days before 1970 and
    # after 9999, duplicate timestamps, empty sides: orjson's number text every time.
    assert vendor_json(*series) == reference_json(*series)


def test_cell_decodes_to_the_codecs_series():
    ts = 1_767_225_600 + 300 * np.arange(600, dtype=np.int64)
    passed = np.round(np.random.default_rng(3).gamma(2.0, 50.0, ts.size), 3)
    hit = slice(100, 130)
    blocked = np.full(30, 12_345.678)
    ours = decode_time_series(vendor_cell(ts, passed, ts[hit], blocked))
    theirs = decode_time_series(encode_time_series(ts, passed, ts[hit], blocked))
    for field in ("timestamps", "passed", "blocked"):
        assert np.array_equal(getattr(ours, field), getattr(theirs, field))
    assert ours.repaired_duplicates == theirs.repaired_duplicates == 0


def test_unsorted_timestamps_are_refused():
    with pytest.raises(ValueError, match="sorted"):
        vendor_json(np.array([86_400, 0]), np.array([1.0, 2.0]), np.array([]), np.array([]))


def test_a_generated_fleet_holds_the_codecs_json(small_fleet):
    # The cells changed deflate (ISA-L instead of zlib), never what they decode to:
    # every row's JSON is the text the codec writes for the simulated series.
    params = small_fleet.summary
    start = parse_start(DEFAULT_START)
    frame = small_fleet.frame
    for index in range(params.objects):
        traffic = simulate_object(index, seed=11, days=small_fleet.days, step=300, start=start)
        rows = frame.filter(pl.col("request_id") == traffic.profile.request_id)
        assert rows.height == len(traffic.series)
        for cell, series in zip(rows["time_series"], traffic.series, strict=True):
            attacked = series.blocked > 0
            expected = reference_json(
                series.timestamps,
                series.passed,
                series.timestamps[attacked],
                series.blocked[attacked],
            )
            assert cell_json(cell) == expected
