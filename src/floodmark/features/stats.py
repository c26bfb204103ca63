"""Value statistics: ``{passed,blocked,total}_val_{stat}`` over all samples in time order.

Computed in two passes over the prepared samples (contiguous, time-ordered,
``sid`` flagged sorted), so that every aggregation is a plain per-group
reduction Polars runs on slices:
1. per series: count, mean, median, quartiles, mode, max|x|, mean|x|, first, last;
2. per sample, against its series' mean and median (broadcast by ``sid``):
   powers of the deviation, squares, median crossings, index-weighted
   deviations; then per-series sums.
Evaluating ``x - x.mean()`` inside a grouped aggregation instead was 5x slower.

Undefined values are NaN by definition:
- ``variance``/``std_dev`` (ddof=1), ``median_crossing_rate``, ``slope`` and
  ``avg_first_order_diff`` need two samples;
- ``skewness``/``kurtosis`` are NaN when the biased variance is zero by scipy's
  own rule (``m2 <= (eps * mean)**2``), so constant series give NaN, not 0;
- ``crest_factor`` is NaN when rms is 0, ``shape_factor`` when mean|x| is 0.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from floodmark.features.prepare import divide_exactly

#: The three sample columns and the feature-name prefix of each (the notebook's names).
VALUE_COLUMNS: dict[str, str] = {
    "passed": "passed_val",
    "blocked": "blocked_val",
    "total": "total_val",
}

STATS: tuple[str, ...] = (
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

STAT_COLUMNS: tuple[str, ...] = tuple(
    f"{prefix}_{stat}" for prefix in VALUE_COLUMNS.values() for stat in STATS
)

_EPS = float(np.finfo(np.float64).eps)
_NAN = pl.lit(float("nan"))


def value_stats(samples: pl.DataFrame) -> pl.DataFrame:
    """``sid`` and every ``STAT_COLUMNS`` value, one row per series.

    ``samples`` must be prepared (see ``floodmark.features.prepare``).
    """
    raw = _raw_stats(samples, "passed")
    # Most series are never attacked: their blocked column is all zeros (every raw
    # sum and order statistic is 0) and their total equals passed bit for bit
    # (x + 0.0 is x). Computing blocked and total only for attacked series saves
    # up to two thirds of the work without changing a single value.
    attacked = samples.filter(pl.col("blocked") != 0)["sid"].unique()
    if attacked.len():
        under_attack = samples.select("sid", "blocked", "total").filter(
            pl.col("sid").is_in(attacked.implode())
        )
        raw = raw.join(_raw_stats(under_attack, "blocked").drop("_n"), on="sid", how="left")
        raw = raw.join(_raw_stats(under_attack, "total").drop("_n"), on="sid", how="left")
    else:
        raw = raw.with_columns(
            *(
                pl.lit(None, pl.Float64).alias(f"{c}_{name}")
                for c in ("blocked", "total")
                for name in _RAW
            )
        )
    raw = raw.with_columns(
        *(pl.col(f"blocked_{name}").fill_null(0.0) for name in _RAW),
        *(pl.coalesce(f"total_{name}", f"passed_{name}").alias(f"total_{name}") for name in _RAW),
    )
    n = raw["_n"].cast(pl.Float64)
    raw = raw.with_columns(divide_exactly(n * (n * n - 1.0), 12.0).alias("_slope_den"))
    return raw.select(
        "sid", *(e for c, prefix in VALUE_COLUMNS.items() for e in _finish(c, prefix))
    )


def _raw_stats(samples: pl.DataFrame, c: str) -> pl.DataFrame:
    """``sid``, ``_n`` and the per-series aggregates ``{c}_{name}`` for ``name`` in ``_RAW``."""
    first = samples.group_by("sid", maintain_order=True).agg(pl.len().alias("_n"), *_first_pass(c))
    sums = deviation_sums(
        samples[c].to_numpy(),
        first["_n"].to_numpy().astype(np.int64),
        first[f"{c}_mean"].to_numpy(),
        first[f"{c}_median"].to_numpy(),
    )
    return first.with_columns(pl.Series(f"{c}_{name}", v) for name, v in sums.items())


def deviation_sums(
    x: np.ndarray, n: np.ndarray, mean: np.ndarray, median: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-series sums over samples of deviations from the series' mean and median.

    ``x`` holds the series one after another (``n[i]`` samples each, time order).
    Numpy with in-place temporaries: the same sums as Polars row expressions
    followed by a grouped sum measured 4x faster, being bound by memory traffic.
    """
    starts = np.cumsum(n) - n
    d = x - np.repeat(mean, n)
    d2 = d * d
    tmp = np.empty_like(d)

    def per_series(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts) if values.size else np.zeros(0)

    sums = {"d2": per_series(d2)}
    sums["d3"] = per_series(np.multiply(d2, d, out=tmp))  # the products scipy's _moment forms
    sums["d4"] = per_series(np.multiply(d2, d2, out=tmp))
    sums["dabs"] = per_series(np.abs(d, out=tmp))
    sums["x2"] = per_series(np.multiply(x, x, out=tmp))
    # Index centred within its series: i - (n - 1)/2, for the OLS slope.
    np.subtract(np.arange(x.size, dtype=np.float64), np.repeat(starts + (n - 1) / 2, n), out=tmp)
    sums["icd"] = per_series(np.multiply(tmp, d, out=tmp))
    # Sign changes of x - median between neighbours of the same series.
    sign = np.sign(np.subtract(x, np.repeat(median, n), out=tmp), out=tmp)
    changes = sign[1:] != sign[:-1]
    changes[starts[1:] - 1] = False  # a series' first sample has no predecessor
    running = np.concatenate(([0], np.cumsum(changes)))
    sums["cross"] = (running[starts + n - 1] - running[starts]).astype(np.float64)
    return sums


#: Per-series aggregates each statistic is finished from.
_RAW: tuple[str, ...] = (
    "mean",
    "median",
    "mode",
    "q25",
    "q75",
    "min",
    "max",
    "meanabs",
    "first",
    "last",
    "d2",
    "d3",
    "d4",
    "dabs",
    "x2",
    "cross",
    "icd",
)


def _first_pass(c: str) -> list[pl.Expr]:
    x = pl.col(c)
    return [
        x.mean().alias(f"{c}_mean"),
        x.median().alias(f"{c}_median"),
        # mode() returns every most frequent value; the notebook took the smallest.
        x.mode().min().alias(f"{c}_mode"),
        x.quantile(0.25, interpolation="linear").alias(f"{c}_q25"),
        x.quantile(0.75, interpolation="linear").alias(f"{c}_q75"),
        x.min().alias(f"{c}_min"),
        x.max().alias(f"{c}_max"),
        x.abs().mean().alias(f"{c}_meanabs"),
        x.first().alias(f"{c}_first"),
        x.last().alias(f"{c}_last"),
    ]


def _finish(c: str, prefix: str) -> list[pl.Expr]:
    def col(name: str) -> pl.Expr:
        return pl.col(f"{c}_{name}")

    def deviation(name: str) -> pl.Expr:
        # A constant series deviates by exactly 0 from its mean, even when the
        # computed mean is one rounding away from the value.
        return pl.when(constant).then(0.0).otherwise(col(name))

    n = pl.col("_n").cast(pl.Float64)
    two_or_more = pl.col("_n") >= 2
    constant = col("min") == col("max")
    m2 = deviation("d2") / n
    # NaN for zero variance: exactly constant, or scipy's own rule for skew/kurtosis.
    flat = constant | (m2 <= (_EPS * col("mean")) ** 2)
    variance = pl.when(two_or_more).then(deviation("d2") / (n - 1.0)).otherwise(_NAN)
    rms = (col("x2") / n).sqrt()
    max_abs = pl.max_horizontal(col("min").abs(), col("max").abs())
    # OLS slope against the index 0..n-1: sum((i - ibar)(x - xbar)) / sum((i - ibar)^2),
    # the denominator in closed form n(n^2 - 1)/12.
    slope = deviation("icd") / pl.col("_slope_den")
    stats = {
        "mean": col("mean"),
        "median": col("median"),
        "mode": col("mode"),
        "variance": variance,
        "std_dev": variance.sqrt(),
        "skewness": pl.when(flat).then(_NAN).otherwise((col("d3") / n) / m2**1.5),
        "kurtosis": pl.when(flat).then(_NAN).otherwise((col("d4") / n) / (m2 * m2) - 3.0),
        "iqr": col("q75") - col("q25"),
        "mad": deviation("dabs") / n,
        "rms": rms,
        "median_crossing_rate": pl.when(two_or_more).then(col("cross") / (n - 1.0)).otherwise(_NAN),
        "slope": pl.when(two_or_more).then(slope).otherwise(_NAN),
        "crest_factor": pl.when(rms == 0).then(_NAN).otherwise(max_abs / rms),
        "shape_factor": pl.when(col("meanabs") == 0).then(_NAN).otherwise(rms / col("meanabs")),
        # mean(diff(x)) telescopes to (last - first)/(n - 1).
        "avg_first_order_diff": pl.when(two_or_more)
        .then((col("last") - col("first")) / (n - 1.0))
        .otherwise(_NAN),
    }
    return [expr.alias(f"{prefix}_{stat}") for stat, expr in stats.items()]
