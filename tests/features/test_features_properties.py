"""Hypothesis: random series (lengths 0 and 1, constant, all blocked, duplicates, gaps,
huge values, single day) give the port's features, whatever the row order or chunking."""

from __future__ import annotations

import numpy as np
import polars as pl
from feature_compare import mismatches
from feature_fleets import series_table, to_port_input
from hypothesis import given
from hypothesis import strategies as st
from notebook_port import port_features
from polars.testing import assert_frame_equal

from floodmark.features import compute_features
from floodmark.features.engine import feature_kernel, finish_features
from floodmark.features.families import FeatureParams

KEYS = [
    (pid, vector, metric)
    for pid in "ab"
    for vector in ("PT_TOTAL", "PT_TCP")
    for metric in ("PPS", "BW")
]
STEPS = (1, 60, 300, 3_600, 86_400)
SCALES = (1e-3, 1.0, 1e3, 1e12)


@st.composite
def values(draw, n: int) -> np.ndarray:
    """Values on a grid k/1000 x scale: duplicates, zeros, constants, 1e12 magnitudes."""
    kind = draw(st.sampled_from(["grid", "few", "constant", "zeros", "sparse"]))
    scale = draw(st.sampled_from(SCALES))
    if kind == "constant":
        k = np.full(n, draw(st.integers(1, 10**6)))
    elif kind == "zeros":
        k = np.zeros(n, dtype=np.int64)
    else:
        top = {"grid": 10**6, "few": 3, "sparse": 1000}[kind]
        k = np.array(draw(st.lists(st.integers(0, top), min_size=n, max_size=n)), dtype=np.int64)
        if kind == "sparse":
            k[np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)] = 0
    return k / 1000 * scale


@st.composite
def series(draw, key) -> pl.DataFrame:
    n = draw(st.integers(1, 120))
    step = draw(st.sampled_from(STEPS))
    gaps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 7, 100]), min_size=n, max_size=n))
    start = draw(st.integers(0, 2_000_000_000))
    epoch_s = start + step * np.cumsum(gaps)
    passed = draw(values(n))
    blocked_kind = draw(st.sampled_from(["none", "none", "all", "some"]))
    if blocked_kind == "none":
        blocked = np.zeros(n)
    else:
        blocked = draw(values(n))
        if blocked_kind == "some":
            hit = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
            blocked = np.where(hit, blocked, 0.0)
    return series_table(*key, epoch_s, passed, blocked)


@st.composite
def long_tables(draw) -> pl.DataFrame:
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=0, max_size=4, unique=True))
    frames = [draw(series(key)) for key in keys]
    if not frames:
        return series_table("a", "PT_TCP", "PPS", [], [], [])
    return pl.concat(frames)


params = st.fixed_dictionaries(
    {
        "blocked_threshold": st.sampled_from([0.0, 1.0, 1e6]),
        "super_peak_factor": st.sampled_from([1.0, 1.5, 3.0]),
        "exclude_super_peaks": st.booleans(),
    }
)


@given(long=long_tables(), p=params)
def test_random_series_match_port(long, p):
    ours = compute_features(long, **p)
    port, _ = port_features(to_port_input(long), **p)
    if long.height == 0:
        assert ours.height == 0
        return
    problems = mismatches(ours, port, long)
    assert not problems, "\n".join(problems[:20])


@given(long=long_tables(), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(long, seed):
    shuffled = long.sample(fraction=1.0, shuffle=True, seed=seed)
    assert_frame_equal(compute_features(shuffled), compute_features(long), check_exact=True)


@given(long=long_tables(), part_rows=st.integers(1, 150), seed=st.integers(0, 2**32 - 1))
def test_kernel_parts_do_not_change_values(long, part_rows, seed):
    """The kernel cuts big tables into parts of whole series (grouping shuffled ones)."""
    shuffled = long.sample(fraction=1.0, shuffle=True, seed=seed)
    whole = feature_kernel(long)
    parts = feature_kernel(shuffled, part_rows=part_rows)
    assert_frame_equal(parts[0], whole[0], check_exact=True)
    assert_frame_equal(parts[1], whole[1], check_exact=True)


@given(long=long_tables(), p=params)
def test_chunks_finished_together_equal_the_whole(long, p):
    """Objects computed apart (as chunks or partitions are), then finished once."""
    fp = FeatureParams(**p)
    parts = [
        feature_kernel(long.filter(pl.col("vector") == vector), fp)[0]
        for vector in ("PT_TOTAL", "PT_TCP")
    ]
    joined = finish_features(pl.concat(parts))
    assert_frame_equal(joined, compute_features(long, **p), check_exact=True)
