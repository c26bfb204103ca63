"""A plain pandas port of the notebook's features: the oracle the engine is compared with.

One series at a time, as the notebook did: a pandas DataFrame indexed by a
(naive UTC) DatetimeIndex with ``passed_val, blocked_val, total_val``;
``resample('D')``, ``.quantile``, ``scipy.stats.skew/kurtosis``. The fixes
product.md names are applied, each marked ``FIX``:
- passed and blocked are aligned by timestamp (the caller builds the frame from
  aligned samples; the notebook concatenated them by position);
- ``mad`` is the mean absolute deviation around the mean (``Series.mad`` is gone);
- the top daily maxima are taken by position (``.iloc``) and are NaN when fewer
  than four days have data (the notebook indexed the DatetimeIndex with ``[0]``);
- undefined statistics (fewer than two samples, zero variance) are NaN instead
  of errors or warnings.
The quality family and super peaks follow product.md's definitions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import kurtosis, skew

NAN = float("nan")
EPOCH = pd.Timestamp(0)
VALUE_COLUMNS = ("passed_val", "blocked_val", "total_val")
STATS = (
    "mean",
    "median",
    "mode",
    "variance",
    "std_dev",
    "skewness",
    "kurtosis",
    "iqr",
    "mad",
    "rms",
    "median_crossing_rate",
    "slope",
    "crest_factor",
    "shape_factor",
    "avg_first_order_diff",
)
DAILY = (
    "daily_max_q90",
    "daily_mean_q90",
    "daily_median_q90",
    "daily_q90_q90",
    "daily_max_q70",
    "daily_mean_q70",
    "daily_median_q70",
    "daily_q90_q70",
    "daily_max_1",
    "daily_max_2",
    "daily_max_3",
    "daily_max_4",
)


def series_frame(epoch_s: np.ndarray, passed: np.ndarray, blocked: np.ndarray) -> pd.DataFrame:
    """The notebook's per-series frame, from samples already aligned by timestamp."""
    ts = pd.DataFrame(
        {"passed_val": np.asarray(passed, float), "blocked_val": np.asarray(blocked, float)},
        index=pd.to_datetime(np.asarray(epoch_s, dtype=np.int64), unit="s"),
    )
    ts = ts.sort_index()
    ts["total_val"] = ts["passed_val"] + ts["blocked_val"]
    return ts


def compute_column_features(col: pd.Series) -> dict[str, float]:
    """The notebook's ``compute_column_features``, with the fixes."""
    n = len(col)
    if n == 0:
        return dict.fromkeys(STATS, NAN)
    mean = col.mean()
    median = col.median()
    mode = col.mode().iloc[0]
    variance = col.var()
    std_dev = col.std()
    if col.nunique() == 1:  # FIX: zero variance -> NaN (scipy would warn, then say NaN)
        skewness = kurt = NAN
    else:
        with warnings.catch_warnings():
            # scipy warns when the data are nearly identical (catastrophic
            # cancellation) and answers anyway; that answer is the oracle's, and
            # the comparison's tolerance follows the conditioning.
            warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
            skewness = skew(col)
            kurt = kurtosis(col)
    iqr = col.quantile(0.75) - col.quantile(0.25)
    mad = (col - col.mean()).abs().mean()  # FIX: Series.mad is gone from pandas
    rms = np.sqrt(np.mean(col**2))
    if n > 1:
        median_crossing_rate = np.sum(np.diff(np.sign(col - col.median())) != 0) / (len(col) - 1)
        x = np.arange(n, dtype=float)
        y = col.to_numpy()
        slope = np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)
        avg_first_order_diff = np.mean(np.diff(col))
    else:  # FIX: n - 1 = 0
        median_crossing_rate = slope = avg_first_order_diff = NAN
    max_abs_val = col.abs().max()
    crest_factor = NAN if rms == 0 else max_abs_val / rms
    mean_abs_val = col.abs().mean()
    shape_factor = NAN if mean_abs_val == 0 else rms / mean_abs_val
    return {
        "mean": mean,
        "median": median,
        "mode": mode,
        "variance": variance,
        "std_dev": std_dev,
        "skewness": skewness,
        "kurtosis": kurt,
        "iqr": iqr,
        "mad": mad,
        "rms": rms,
        "median_crossing_rate": median_crossing_rate,
        "slope": slope,
        "crest_factor": crest_factor,
        "shape_factor": shape_factor,
        "avg_first_order_diff": avg_first_order_diff,
    }


def compute_features(df: pd.DataFrame) -> dict[str, float]:
    """The notebook's ``compute_features``, flattened to ``{column}_{stat}``."""
    out = {}
    for column in VALUE_COLUMNS:
        for stat, value in compute_column_features(df[column]).items():
            out[f"{column}_{stat}"] = float(value)
    return out


def kept(ts_data_raw: pd.DataFrame, blocked_threshold: float = 0.0) -> pd.DataFrame:
    """The notebook's filter: ``ts_data_raw[~(ts_data_raw['blocked_val'] > 0)]``."""
    return ts_data_raw[~(ts_data_raw["blocked_val"] > blocked_threshold)]


def calc_features(ts_data: pd.DataFrame) -> dict[str, float]:
    """The body of the notebook's ``calc_features`` loop for one (filtered) series."""
    df_daily_max = ts_data.resample("D").max()
    df_daily_mean = ts_data.resample("D").mean()
    df_daily_median = ts_data.resample("D").median()
    df_daily_q90 = ts_data.resample("D").quantile(0.9)
    out = {}
    for q, name in ((0.90, "q90"), (0.70, "q70")):
        out[f"daily_max_{name}"] = df_daily_max["passed_val"].quantile(q)
        out[f"daily_mean_{name}"] = df_daily_mean["passed_val"].quantile(q)
        out[f"daily_median_{name}"] = df_daily_median["passed_val"].quantile(q)
        out[f"daily_q90_{name}"] = df_daily_q90["passed_val"].quantile(q)
    df_daily_max_sorted = df_daily_max.sort_values(by=["passed_val"], ascending=False)
    top = df_daily_max_sorted["passed_val"]
    for k in range(4):  # FIX: by position, NaN when fewer days have data
        out[f"daily_max_{k + 1}"] = top.iloc[k] if top.shape[0] > k else NAN
    return {name: float(out[name]) for name in DAILY}


def quality(df: pd.DataFrame) -> dict[str, float]:
    """The quality family as product.md defines it (the notebook only has the names)."""
    n = len(df)
    t = df.index.as_unit("s").asi8  # epoch seconds
    total = df["total_val"].to_numpy()
    if n >= 2:
        step = float(np.median(np.diff(t)))
        expected = (t[-1] - t[0]) / step + 1
        missing = 100 * (expected - n) / expected
        total_time = (t[-1] - t[0] + step) / 86400
    else:
        missing = total_time = NAN
    zero = pd.Series(total == 0)
    if zero.any():
        runs = (zero != zero.shift()).cumsum()
        largest_dead = zero.groupby(runs).sum().max() / n
    else:
        largest_dead = NAN
    return {
        "missing_tmstmp_percentage": float(missing),
        "percent_of_zeros": float(zero.mean()) if n else NAN,
        "percent_of_largest_dead": float(largest_dead),
        "total_time": float(total_time),
    }


def super_peaks(ts_data: pd.DataFrame, daily_max_q90: float, factor: float = 3.0) -> pd.Series:
    """Kept samples above the notebook's plotted line ``factor * daily_max_q90``."""
    passed = ts_data["passed_val"]
    return passed[passed > factor * daily_max_q90]


def series_features(
    df: pd.DataFrame,
    *,
    blocked_threshold: float = 0.0,
    super_peak_factor: float = 3.0,
    exclude_super_peaks: bool = False,
) -> tuple[dict[str, float], pd.Series]:
    """Every per-series feature of one series and its super peaks."""
    ts_data = kept(df, blocked_threshold)
    daily = calc_features(ts_data)
    peaks = super_peaks(ts_data, daily["daily_max_q90"], super_peak_factor)
    if exclude_super_peaks and len(peaks):
        daily = calc_features(ts_data.drop(index=peaks.index))
    row = {"n_samples": len(df), "n_super_peaks": len(peaks)}
    row |= compute_features(df) | daily | quality(df)
    return row, peaks


def port_features(
    long: pd.DataFrame,
    *,
    blocked_threshold: float = 0.0,
    super_peak_factor: float = 3.0,
    exclude_super_peaks: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Loop over the series of a long table (``timestamp`` in epoch seconds).

    Returns the feature table (with ``total_val_median_share``) and the super peaks.
    """
    rows, peak_rows = [], []
    for (pid, vector, metric), part in long.groupby(
        ["prediction_id", "vector", "metric"], sort=True
    ):
        df = series_frame(part["timestamp"], part["passed"], part["blocked"])
        row, peaks = series_features(
            df,
            blocked_threshold=blocked_threshold,
            super_peak_factor=super_peak_factor,
            exclude_super_peaks=exclude_super_peaks,
        )
        rows.append({"prediction_id": pid, "vector": vector, "metric": metric} | row)
        peak_rows += [
            (pid, vector, metric, (when - EPOCH) // pd.Timedelta(seconds=1), float(value))
            for when, value in peaks.items()
        ]
    table = pd.DataFrame(rows)
    if len(table):
        totals = table[table["vector"] == "PT_TOTAL"].set_index(["prediction_id", "metric"])
        share = []
        for _, row in table.iterrows():
            key = (row["prediction_id"], row["metric"])
            base = totals["total_val_median"].get(key, NAN)
            share.append(NAN if not base or np.isnan(base) else row["total_val_median"] / base)
        table["total_val_median_share"] = share
    peaks = pd.DataFrame(
        peak_rows, columns=["prediction_id", "vector", "metric", "timestamp", "value"]
    )
    return table, peaks
