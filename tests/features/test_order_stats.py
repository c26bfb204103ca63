"""Median, quartiles and mode per series: the compiled kernel against pandas and Polars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from floodmark.features.order import order_stats

NASTY = [0.0, -0.0, 1.0, -2.5, 7.25, 1e300, -1e300, 5e-324, 1e-300, 2.0**53, np.inf, -np.inf]
STATS = ("median", "q25", "q75", "mode")


def pandas_stats(x: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """What the notebook computes per series (pandas median, quantile, mode()[0])."""
    rows = []
    for part in np.split(x, np.cumsum(n)[:-1]):
        s = pd.Series(part, dtype=float)
        mode = s.mode()
        rows.append(
            (s.median(), s.quantile(0.25), s.quantile(0.75), mode.iloc[0] if len(mode) else np.nan)
        )
    return dict(zip(STATS, np.array(rows).reshape(-1, 4).T, strict=True))


def polars_stats(x: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    v = pl.col("v")
    frame = pl.DataFrame({"sid": np.repeat(np.arange(n.size), n), "v": x})
    out = frame.group_by("sid", maintain_order=True).agg(
        v.median().alias("median"),
        v.quantile(0.25, interpolation="linear").alias("q25"),
        v.quantile(0.75, interpolation="linear").alias("q75"),
        v.mode().min().alias("mode"),
    )
    return {name: out[name].to_numpy() for name in STATS}


@st.composite
def fleets(draw, pool: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Several series back to back: few distinct values (ties for the mode) or many."""
    n = np.array(draw(st.lists(st.integers(1, 40), min_size=1, max_size=6)))
    if pool is None:
        kind = draw(st.sampled_from(["few", "many"]))
        top = 4 if kind == "few" else 10**9
        k = draw(st.lists(st.integers(-top, top), min_size=int(n.sum()), max_size=int(n.sum())))
        return np.array(k) / 8.0, n
    picks = draw(st.lists(st.sampled_from(pool), min_size=int(n.sum()), max_size=int(n.sum())))
    return np.array(picks), n


@given(fleets())
def test_order_stats_are_pandas_median_quartiles_and_smallest_mode(fleet):
    x, n = fleet
    got, want = order_stats(x, n), pandas_stats(x, n)
    for name in STATS:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, err_msg=name)


@given(fleets(NASTY + [np.nan]))
def test_order_stats_match_polars_bit_for_bit_on_nasty_values(fleet):
    """Signed zeros, infinities, subnormals, NaN (sorted last, one value), 1e300."""
    x, n = fleet
    got, want = order_stats(x, n), polars_stats(x, n)
    for name in STATS:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_mode_prefers_the_smallest_of_equally_frequent_values():
    got = order_stats(np.array([3.0, 1.0, 3.0, 1.0, 2.0, 5.0, 5.0]), np.array([5, 2]))
    assert got["mode"].tolist() == [1.0, 5.0]


def test_empty_series_give_nan_and_do_not_disturb_their_neighbours():
    got = order_stats(np.array([4.0, 2.0, 9.0]), np.array([0, 3, 0]))
    assert np.isnan(got["median"][[0, 2]]).all() and np.isnan(got["mode"][[0, 2]]).all()
    assert got["median"][1] == 4.0 and got["q25"][1] == 3.0 and got["q75"][1] == 6.5


@pytest.mark.parametrize("distinct", [1, 300, 20_000])
def test_long_series_with_few_or_all_distinct_values(distinct):
    rng = np.random.default_rng(distinct)
    n = np.array([20_000, 7, 12_345])
    x = rng.integers(0, distinct, n.sum()) * 0.37
    got, want = order_stats(x, n), pandas_stats(x, n)
    for name in STATS:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, err_msg=name)


def test_negative_zero_is_counted_as_zero():
    x = np.array([-0.0, 0.0, 1.0, 1.0])
    assert order_stats(x, np.array([4]))["mode"].tolist() == [0.0]
    assert polars_stats(x, np.array([4]))["mode"].tolist() == [0.0]
