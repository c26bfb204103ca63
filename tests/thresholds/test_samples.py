"""Per-series sample statistics: the quantile of daily maxima."""

from __future__ import annotations

import numpy as np
from threshold_data import series

from floodmark.thresholds.samples import daily_max_quantile


def test_daily_max_quantile_ignores_blocked_samples_and_empty_days():
    values = np.arange(3 * 288, dtype=float)  # the max of each UTC day is its last sample
    blocked = np.zeros_like(values)
    blocked[287] = 1.0  # day 1's last sample is an attack: its max is the one before
    blocked[288 : 2 * 288] = 1.0  # day 2 is all attack: no baseline day at all
    out = daily_max_quantile(series(values, blocked=blocked), quantile=0.5)
    assert out["n_days"][0] == 2
    assert out["value"][0] == np.quantile([286.0, 3 * 288 - 1.0], 0.5)
