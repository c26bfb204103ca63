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

from floodmark.features.prepare import series_starts

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


def value_stats(samples: pl.DataFrame) -> pl.DataFrame:
    """``sid``, ``n_samples`` and every ``STAT_COLUMNS`` value, one row per series.

    ``samples`` must be prepared (see ``floodmark.features.prepare``).
    """
    sid, n, raw = _raw_stats(samples, ("passed",))
    # Most series are never attacked: their blocked column is all zeros (every raw
    # sum and order statistic is 0) and their total equals passed bit for bit
    # (x + 0.0 is x). Computing blocked and total only for attacked series saves
    # up to two thirds of the work without changing a single value.
    raw["blocked"] = {name: np.zeros(n.size) for name in _RAW}
    raw["total"] = {name: v.copy() for name, v in raw["passed"].items()}
    hit = samples["sid"].to_numpy()[samples["blocked"].to_numpy() != 0]  # in sid order
    if hit.size:
        attacked = hit[series_starts(hit)]  # sids are row positions
        under_attack = (
            samples.select("sid", "passed", "blocked")
            .filter(pl.col("sid").is_in(pl.Series(attacked).implode()))
            .select("sid", "blocked", (pl.col("passed") + pl.col("blocked")).alias("total"))
        )
        _, _, found = _raw_stats(under_attack, ("blocked", "total"), mostly_zero="blocked")
        for c, values in found.items():
            for name, v in values.items():
                raw[c][name][attacked] = v
    columns = {"sid": sid, "n_samples": n}
    for c, prefix in VALUE_COLUMNS.items():
        columns |= {f"{prefix}_{stat}": v for stat, v in _finish(raw[c], n).items()}
    return pl.DataFrame(columns)


def _raw_stats(
    samples: pl.DataFrame, columns: tuple[str, ...], *, mostly_zero: str | None = None
) -> tuple[pl.Series, np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """``sid``, the sample counts and, per column, the aggregates in ``_RAW``, by series.

    ``mostly_zero`` names a column (blocked traffic) whose order statistics are
    found by counting zeros where that settles them (see ``_order_by_counting``).
    """
    # |x| is x when no sample is negative (traffic seldom is): mean |x| is the mean.
    signed = {c: bool((samples[c] < 0).any()) for c in columns}
    first = samples.group_by("sid", maintain_order=True).agg(
        pl.len().alias("_n"),
        *(e for c in columns for e in _cheap_pass(c, signed[c])),
        *(e for c in columns if c != mostly_zero for e in _order_pass(c)),
        *([(pl.col(mostly_zero) == 0).sum().alias("_zeros")] if mostly_zero else []),
    )
    n = first["_n"].to_numpy().astype(np.int64)
    raw = {}
    for c in columns:
        raw[c] = {name: first[f"{c}_{name}"].to_numpy() for name in _CHEAP}
        raw[c]["meanabs"] = first[f"{c}_meanabs" if signed[c] else f"{c}_mean"].to_numpy()
        if c == mostly_zero:
            raw[c] |= _order_by_counting(samples, first, n, c, signed[c])
        else:
            raw[c] |= {name: first[f"{c}_{name}"].to_numpy() for name in _ORDER}
        raw[c] |= deviation_sums(samples[c].to_numpy(), n, raw[c]["mean"], raw[c]["median"])
    return first["sid"], n, raw


def _order_by_counting(
    samples: pl.DataFrame, first: pl.DataFrame, n: np.ndarray, c: str, signed: bool
) -> dict[str, np.ndarray]:
    """``_ORDER`` aggregates of a column that is zero on most samples of most series.

    Attacks are short: blocked traffic is zero most of the time. With no negative
    value the sorted samples of a series start with its ``z`` zeros, so when
    ``z > floor(0.75 (n - 1)) + 1`` its quartiles and median (ranks at most that,
    interpolated with the next one) are 0, and so is its mode (``z > n / 2``).
    Only the other series go through the selections and the hashing.
    """
    settled = first["_zeros"].to_numpy() > (3 * (n - 1)) // 4 + 1
    settled &= not signed
    order = {name: np.zeros(n.size) for name in _ORDER}
    if not settled.all():
        others = first["sid"].filter(pl.Series(~settled)).implode()
        found = (
            samples.filter(pl.col("sid").is_in(others))
            .group_by("sid", maintain_order=True)
            .agg(_order_pass(c))
        )
        for name in _ORDER:
            order[name][~settled] = found[f"{c}_{name}"].to_numpy()
    return order


#: Rows of whole series ``deviation_sums`` works on at once: the temporaries of a
#: block (1 MB each) stay in the cache for all the passes over them. Measured on 27 M
#: samples: 32 K-row blocks 0.20 s (0.25 s in 3 threads: more calls, each taking the
#: GIL), 128 K 0.16 s (0.15 s), whole 1 M-row chunks 0.23 s (0.22 s).
BLOCK_ROWS = 131_072
_DEVIATIONS: tuple[str, ...] = ("d2", "d3", "d4", "dabs", "x2", "icd", "cross")


def deviation_sums(
    x: np.ndarray, n: np.ndarray, mean: np.ndarray, median: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-series sums over samples of deviations from the series' mean and median.

    ``x`` holds the series one after another, ``n[i]`` samples each. Numpy with
    in-place temporaries, block by block of whole series so that the dozen passes
    over a block's temporaries hit the cache (``BLOCK_ROWS``). A series is one
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


#: Per-series aggregates of the first (Polars) pass: one streaming reduction each...
_CHEAP: tuple[str, ...] = ("mean", "min", "max", "first", "last")
#: ... those that select or count values (the costly part)...
_ORDER: tuple[str, ...] = ("median", "mode", "q25", "q75")
#: ... and all those each statistic is finished from.
_RAW: tuple[str, ...] = (*_CHEAP, "meanabs", *_ORDER, *_DEVIATIONS)


def _cheap_pass(c: str, signed: bool) -> list[pl.Expr]:
    x = pl.col(c)
    exprs = [x.mean(), x.min(), x.max(), x.first(), x.last()]
    return [
        *([x.abs().mean().alias(f"{c}_meanabs")] if signed else []),
        *(e.alias(f"{c}_{name}") for e, name in zip(exprs, _CHEAP, strict=True)),
    ]


def _order_pass(c: str) -> list[pl.Expr]:
    x = pl.col(c)
    exprs = [
        x.median(),
        x.mode().min(),  # mode() gives every most frequent value; the notebook took the smallest
        x.quantile(0.25, interpolation="linear"),
        x.quantile(0.75, interpolation="linear"),
    ]
    return [e.alias(f"{c}_{name}") for e, name in zip(exprs, _ORDER, strict=True)]


def _finish(raw: dict[str, np.ndarray], n: np.ndarray) -> dict[str, np.ndarray]:
    """Every statistic in ``STATS`` from the raw aggregates, by series (numpy: a few
    hundred values, where a Polars query would spend longer being planned)."""
    count = n.astype(np.float64)
    two_or_more = n >= 2
    constant = raw["min"] == raw["max"]

    def deviation(name: str) -> np.ndarray:
        # A constant series deviates by exactly 0 from its mean, even when the
        # computed mean is one rounding away from the value.
        return np.where(constant, 0.0, raw[name])

    def unless(undefined: np.ndarray, value: np.ndarray) -> np.ndarray:
        return np.where(undefined, np.nan, value)

    with np.errstate(divide="ignore", invalid="ignore"):
        m2 = deviation("d2") / count
        # NaN for zero variance: exactly constant, or scipy's own rule for skew/kurtosis.
        flat = constant | (m2 <= (_EPS * raw["mean"]) ** 2)
        variance = unless(~two_or_more, deviation("d2") / (count - 1.0))
        rms = np.sqrt(raw["x2"] / count)
        max_abs = np.maximum(np.abs(raw["min"]), np.abs(raw["max"]))
        # OLS slope against the index 0..n-1: sum((i - ibar)(x - xbar)) / sum((i - ibar)^2),
        # the denominator in closed form n(n^2 - 1)/12.
        slope = deviation("icd") / (count * (count * count - 1.0) / 12.0)
        return {
            "mean": raw["mean"],
            "median": raw["median"],
            "mode": raw["mode"],
            "variance": variance,
            "std_dev": np.sqrt(variance),
            "skewness": unless(flat, (raw["d3"] / count) / m2**1.5),
            "kurtosis": unless(flat, (raw["d4"] / count) / (m2 * m2) - 3.0),
            "iqr": raw["q75"] - raw["q25"],
            "mad": deviation("dabs") / count,
            "rms": rms,
            "median_crossing_rate": unless(~two_or_more, raw["cross"] / (count - 1.0)),
            "slope": unless(~two_or_more, slope),
            "crest_factor": unless(rms == 0, max_abs / rms),
            "shape_factor": unless(raw["meanabs"] == 0, rms / raw["meanabs"]),
            # mean(diff(x)) telescopes to (last - first)/(n - 1).
            "avg_first_order_diff": unless(
                ~two_or_more, (raw["last"] - raw["first"]) / (count - 1.0)
            ),
        }
