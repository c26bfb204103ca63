"""Compare the engine's features with the pandas port, feature by feature.

Relative difference <= 1e-9 (1e-6 for skewness and kurtosis). Near zero a
relative difference means nothing (a variance of a constant series is 0 in one
summation order and 1e-34 in another), so each feature also gets an absolute
tolerance in its own unit: the same relative bound times the series' largest
absolute value to the feature's power (1 for values, 2 for variance, 0 for
ratios), divided by n for the slope. NaN must match NaN.

Skewness and kurtosis of a nearly constant column (a large mean with tiny
deviations) are ill-conditioned: the mean's last bit shifts every deviation, so
two correct two-pass computations differ by about eps * |mean| / std relative.
Their bound is max(1e-6, 1000 * eps * |mean| / std), the statistic's own
condition, not a looser test; where that bound reaches 1 no digit is left to
compare and the value is not compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from floodmark.features import FEATURE_COLUMNS
from floodmark.schema import KEY_COLUMNS

RTOL = 1e-9
RTOL_MOMENTS = 1e-6

# Unit power of each value statistic (0: a ratio or count).
_POWER = {
    "mean": 1,
    "median": 1,
    "mode": 1,
    "variance": 2,
    "std_dev": 1,
    "skewness": 0,
    "kurtosis": 0,
    "iqr": 1,
    "mad": 1,
    "rms": 1,
    "median_crossing_rate": 0,
    "slope": 1,
    "crest_factor": 0,
    "shape_factor": 0,
    "avg_first_order_diff": 1,
}


def _tolerance(feature: str, scales: dict[str, np.ndarray], n: np.ndarray, port: pd.DataFrame):
    """(rtol, atol) for one feature column (arrays or scalars)."""
    for prefix in ("passed_val", "blocked_val", "total_val"):
        stat = feature[len(prefix) + 1 :]
        if feature.startswith(prefix + "_") and stat in _POWER:
            rtol = RTOL
            if stat in ("skewness", "kurtosis"):
                mean = np.abs(port[f"{prefix}_mean"].to_numpy(float))
                std = port[f"{prefix}_std_dev"].to_numpy(float)
                with np.errstate(divide="ignore", invalid="ignore"):
                    condition = np.nan_to_num(mean / std, nan=0.0, posinf=0.0)
                rtol = np.maximum(RTOL_MOMENTS, 1e3 * np.finfo(float).eps * condition)
            atol = rtol * scales[prefix] ** _POWER[stat]
            if stat == "slope":
                atol = atol / np.maximum(n, 1)
            return rtol, atol
    if feature.startswith("daily_"):
        return RTOL, RTOL * scales["passed_val"]
    return RTOL, np.full(len(n), RTOL)


def mismatches(ours: pl.DataFrame, port: pd.DataFrame, long: pl.DataFrame) -> list[str]:
    """Every (series, feature) where ``ours`` and ``port`` disagree, described."""
    keys = list(KEY_COLUMNS)
    port = port.sort_values(keys).reset_index(drop=True)
    ours_pd = ours.sort(keys).to_pandas()
    problems = []
    if ours_pd[keys].values.tolist() != port[keys].values.tolist():
        return ["the two tables do not hold the same series"]
    scale_frame = (
        long.group_by(keys)
        .agg(
            pl.col("passed").abs().max().alias("passed_val"),
            pl.col("blocked").abs().max().alias("blocked_val"),
            (pl.col("passed") + pl.col("blocked")).abs().max().alias("total_val"),
        )
        .sort(keys)
        .to_pandas()
    )
    scales = {c: scale_frame[c].to_numpy(float) for c in ("passed_val", "blocked_val", "total_val")}
    n = port["n_samples"].to_numpy(float)
    for count in ("n_samples", "n_super_peaks"):
        bad = ours_pd[count].to_numpy() != port[count].to_numpy()
        problems += [
            f"{_name(port, i)} {count}: {ours_pd[count][i]} vs {port[count][i]}"
            for i in np.flatnonzero(bad)
        ]
    for feature in FEATURE_COLUMNS:
        a = ours_pd[feature].to_numpy(float)
        b = port[feature].to_numpy(float)
        rtol, atol = _tolerance(feature, scales, n, port)
        both_nan = np.isnan(a) & np.isnan(b)
        # Beyond a relative bound of 1 the statistic has no significant digit left
        # (and NaN by the zero-variance rule on one side is as good as a number).
        meaningless = np.broadcast_to(np.asarray(rtol) >= 1, a.shape)
        with np.errstate(invalid="ignore"):
            close = np.abs(a - b) <= np.maximum(rtol * np.maximum(np.abs(a), np.abs(b)), atol)
        bad = ~(both_nan | close | meaningless)
        problems += [
            f"{_name(port, i)} {feature}: {a[i]!r} vs port {b[i]!r}" for i in np.flatnonzero(bad)
        ]
    return problems


def _name(port: pd.DataFrame, i: int) -> str:
    return "/".join(str(port[k][i]) for k in KEY_COLUMNS)
