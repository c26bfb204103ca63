"""Per-series sample statistics: sampling step and the quantile of daily maxima."""

from __future__ import annotations

import numpy as np
import polars as pl
from threshold_data import series

from floodmark.thresholds.samples import daily_max_quantile, sampling_steps


def _steps(frame: pl.DataFrame) -> dict[str, float | None]:
    out = sampling_steps(frame)
    return dict(zip(out["prediction_id"], out["step_s"], strict=True))


def test_step_is_the_median_gap_whatever_the_row_order():
    a = series(np.ones(10), prediction_id="a", step=300)
    a = a.filter(~pl.int_range(pl.len()).is_in([4, 5]))  # a gap does not move the median
    b = series(np.ones(5), prediction_id="b", step=60)
    one = series(np.ones(1), prediction_id="c")
    expected = {"a": 300.0, "b": 60.0, "c": None}
    ordered = pl.concat([a, b, one])
    assert _steps(ordered) == expected
    assert _steps(ordered.reverse()) == expected
    assert _steps(ordered.sample(fraction=1.0, shuffle=True, seed=3)) == expected
    interleaved = pl.concat([a[::2], b, a[1::2], one])  # a is split into two runs
    assert _steps(interleaved) == expected


def test_daily_max_quantile_ignores_blocked_samples_and_empty_days():
    values = np.arange(3 * 288, dtype=float)  # the max of each UTC day is its last sample
    blocked = np.zeros_like(values)
    blocked[287] = 1.0  # day 1's last sample is an attack: its max is the one before
    blocked[288 : 2 * 288] = 1.0  # day 2 is all attack: no baseline day at all
    out = daily_max_quantile(series(values, blocked=blocked), quantile=0.5)
    assert out["n_days"][0] == 2
    assert out["value"][0] == np.quantile([286.0, 3 * 288 - 1.0], 0.5)
