"""Value statistics: ``{passed,blocked,total}_val_{stat}`` over all samples in time order.

Computed in two passes over the prepared samples (contiguous, time-ordered,
``sid`` flagged sorted):
1. Polars, per series (plain grouped reductions on slices): count, mean,
   median, quartiles, mode, min, max, mean|x|, first, last;
2. numpy, per sample against its series' mean and median: powers of the
   deviation, squares, median crossings, index-weighted deviations, summed
   per series with ``np.add.reduceat``.
Evaluating ``x - x.mean()`` inside a grouped Polars aggregation instead took
about 5x the time. Moments are two-pass (deviations from the computed mean), as
scipy and pandas compute them.

Undefined values are NaN by definition:
- ``variance``/``std_dev`` (ddof=1), ``median_crossing_rate``, ``slope`` and
  ``avg_first_order_diff`` need two samples;
- ``skewness``/``kurtosis`` are NaN for a constant series and whenever the
  biased variance is zero by scipy's own rule (``m2 <= (eps * mean)**2``);
- ``crest_factor`` is NaN when rms is 0, ``shape_factor`` when mean|x| is 0.
A constant series has variance, std_dev, mad and slope exactly 0.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from floodmark.features.prepare import divide_exactly, series_starts

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
    """``sid``, ``n_samples`` and every ``STAT_COLUMNS`` value, one row per series.

    ``samples`` must be prepared (see ``floodmark.features.prepare``).
    """
    raw = _raw_stats(samples, ("passed",))
    # Most series are never attacked: their blocked column is all zeros (every raw
    # sum and order statistic is 0) and their total equals passed bit for bit
    # (x + 0.0 is x). Computing blocked and total only for attacked series saves
    # up to two thirds of the work without changing a single value.
    hit = samples["sid"].to_numpy()[samples["blocked"].to_numpy() != 0]  # in sid order
    if hit.size:
        attacked = pl.Series(hit[series_starts(hit)]).implode()
        under_attack = samples.select(
            "sid", "blocked", (pl.col("passed") + pl.col("blocked")).alias("total")
        ).filter(pl.col("sid").is_in(attacked))
        raw = raw.join(
            _raw_stats(under_attack, ("blocked", "total")).drop("_n"),
            on="sid",
            how="left",
            maintain_order="left",
        )
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
        "sid",
        pl.col("_n").cast(pl.Int64).alias("n_samples"),
        *(e for c, prefix in VALUE_COLUMNS.items() for e in _finish(c, prefix)),
    )


def _raw_stats(samples: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """``sid``, ``_n`` and the per-series aggregates ``{c}_{name}`` (``name`` in ``_RAW``)."""
    # |x| is x when no sample is negative (traffic seldom is): mean |x| is the mean.
    signed = {c: bool((samples[c] < 0).any()) for c in columns}
    first = samples.group_by("sid", maintain_order=True).agg(
        pl.len().alias("_n"), *(e for c in columns for e in _first_pass(c, signed[c]))
    )
    first = first.with_columns(
        pl.col(f"{c}_mean").alias(f"{c}_meanabs") for c in columns if not signed[c]
    )
    sizes = first["_n"].to_numpy()
    sums = []
    for c in columns:
        found = deviation_sums(
            samples[c].to_numpy(),
            sizes,
            first[f"{c}_mean"].to_numpy(),
            first[f"{c}_median"].to_numpy(),
        )
        sums += [pl.Series(f"{c}_{name}", v) for name, v in found.items()]
    return first.with_columns(sums)


#: Rows of whole series ``deviation_sums`` works on at once: the temporaries of a
#: block (256 KB each) stay in the core's cache for all the passes over them.
BLOCK_ROWS = 32_768
_DEVIATIONS: tuple[str, ...] = ("d2", "d3", "d4", "dabs", "x2", "icd", "cross")


def deviation_sums(
    x: np.ndarray, n: np.ndarray, mean: np.ndarray, median: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-series sums over samples of deviations from the series' mean and median.

    ``x`` holds the series one after another, ``n[i]`` samples each. Numpy with
    in-place temporaries, block by block of whole series: a dozen passes over
    whole-chunk arrays were bound by memory bandwidth, which threads share
    (with 3 threads on 2 cores blocks took a third of the time). A series is one
    segment of one block, so its sums do not depend on the blocks.
    """
    n = n.astype(np.intp)
    starts = np.cumsum(n) - n
    sums = {name: np.zeros(n.size) for name in _DEVIATIONS}
    # A series goes to the block its first row falls in.
    firsts = np.flatnonzero(np.diff(starts // BLOCK_ROWS, prepend=-1))
    bounds = [*firsts.tolist(), n.size]
    for a, b in zip(bounds[:-1], bounds[1:], strict=False):
        rows = slice(starts[a], starts[b - 1] + n[b - 1])
        for name, v in _block_sums(x[rows], n[a:b], mean[a:b], median[a:b]).items():
            sums[name][a:b] = v
    return sums


def _block_sums(
    x: np.ndarray, n: np.ndarray, mean: np.ndarray, median: np.ndarray
) -> dict[str, np.ndarray]:
    starts = np.cumsum(n) - n

    def per_series(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts, dtype=np.float64)

    d = np.repeat(mean, n)  # np.repeat: 8x faster than np.take
    np.subtract(x, d, out=d)
    d2 = d * d
    tmp = np.empty_like(d)
    sums = {"d2": per_series(d2)}
    sums["d3"] = per_series(np.multiply(d2, d, out=tmp))  # the products scipy's _moment forms
    sums["d4"] = per_series(np.multiply(d2, d2, out=tmp))
    sums["dabs"] = per_series(np.abs(d, out=tmp))
    sums["x2"] = per_series(np.multiply(x, x, out=tmp))
    # i - (n - 1)/2 of each row within its series, for the slope.
    centred = np.repeat(starts + (n - 1) / 2, n)
    np.subtract(np.arange(x.size, dtype=np.float64), centred, out=centred)
    sums["icd"] = per_series(np.multiply(centred, d, out=tmp))
    # Sign changes of x - median between neighbours of the same series; the sign as
    # int8 from two comparisons (np.sign of the difference was 5x slower).
    m = np.repeat(median, n)
    sign = np.greater(x, m).view(np.int8) - np.less(x, m).view(np.int8)
    changed = np.empty(x.size, dtype=bool)
    np.not_equal(sign[1:], sign[:-1], out=changed[1:])
    changed[starts] = False  # a series' first sample has no predecessor
    sums["cross"] = per_series(changed)
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


def _first_pass(c: str, signed: bool) -> list[pl.Expr]:
    x = pl.col(c)
    return [
        *([x.abs().mean().alias(f"{c}_meanabs")] if signed else []),
        x.mean().alias(f"{c}_mean"),
        x.median().alias(f"{c}_median"),
        # mode() returns every most frequent value; the notebook took the smallest.
        x.mode().min().alias(f"{c}_mode"),
        x.quantile(0.25, interpolation="linear").alias(f"{c}_q25"),
        x.quantile(0.75, interpolation="linear").alias(f"{c}_q75"),
        x.min().alias(f"{c}_min"),
        x.max().alias(f"{c}_max"),
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
