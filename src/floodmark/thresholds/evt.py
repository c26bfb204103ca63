"""``evt``: every level is a false-alarm budget solved on the fitted law of daily maxima.

A budget of ``b`` false alarms per day is a level whose expected number of alarm
*episodes* per day (maximal runs of consecutive samples above it, as the backtest counts
them) is ``b``. Per series, from the baseline (non-blocked) passed traffic of the
learning window:

1. the maxima of the well-covered UTC days are fitted with a GEV on a log scale,
   averaged over its shape (``floodmark.thresholds.gev``), which gives the probability
   ``P(z)`` that a day's maximum exceeds ``z``;
2. an alarm day may hold several episodes (traffic hovering around the level at its
   peak). ``g(d)``, the mean number of episodes on a learning day at a level ``d``
   below that day's maximum (log scale), is measured at ``DEPTHS``; the expected
   episodes per day at ``z`` sum ``g`` over the law of the maximum above ``z``:
   ``rate(z) = E[g(Y - log(z + offset)); Y > log(z + offset)]``;
3. the level is solved from ``rate(z) = b`` by bisection.

Why not a generalized Pareto tail over all samples (SPOT)? It promises a rate of
*samples*, mixes night and day in one tail, treats minutes of one peak as independent
evidence, and a plug-in fit on a few weeks extrapolates a bounded tail to once a year:
on a generated fleet it raised 2.4–30 times more false alarms than it promised.
``docs/backtest.md`` has the numbers.

``expected_fa_per_day_*`` is ``rate(z)`` at the final (floored, ordered) level: the
budget, lower where a floor raised the level, higher where the level was capped at
``max_multiple`` × the largest learned value. Series with fewer than ``min_days``
covered days, all zeros, fewer than three days with traffic, or without spread among
their highest days get the ``fallback`` rule, and ``fallback`` says which and why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.schema import LEVELS
from floodmark.thresholds.base import KEYS, ThresholdMethod, assemble, fmt
from floodmark.thresholds.dailymax import STEP, daily_maxima, episodes_by_depth
from floodmark.thresholds.floors import Floors
from floodmark.thresholds.gev import fit_posterior, predictive_sf, shape_grid
from floodmark.thresholds.rules import RuleDaily, RuleMax

#: Default budgets (false alarms per day): a week, a month, a quarter, a year.
DEFAULT_BUDGETS: tuple[float, ...] = (1 / 7, 1 / 30, 4 / 365.25, 1 / 365.25)
FALLBACKS = {"rule-daily": RuleDaily, "rule-max": RuleMax}
#: Fewer positive daily maxima than this cannot show a spread.
MIN_ACTIVE_DAYS = 3
#: Depths (log scale) below a day's maximum at which its alarm episodes are counted.
DEPTHS = np.array([0.02, 0.05, 0.1])
#: Bisection steps on the log scale (the bracket is a few tens of units wide).
BISECTIONS = 48


class EVT(ThresholdMethod):
    """Levels as false-alarm budgets, from a GEV fit of daily maxima (log scale).

    Parameters
    ----------
    budgets: expected false-alarm episodes per day for ss, sc, nw, rl (non-increasing);
        default one a week, a month, a quarter and a year.
    min_days: fewer covered days than this → fallback.
    max_shape: the largest GEV shape (log scale) averaged over; shapes run from 0.
    censor: share of the lowest days treated as censored in the fit (dead days,
        outages and quiet days say nothing about the upper tail).
    coverage: a UTC day counts when it holds at least this share of a full day's samples.
    max_multiple: no level above this multiple of the largest learned value; the
        expected rate then says how much more often than budgeted it alarms.
    blocked_threshold: samples with ``blocked`` above it are attacks, not baseline.
    fallback: the rule for series the fit cannot describe: ``"rule-daily"`` or ``"rule-max"``.
    floors: a ``Floors`` table; default ``Floors.default()``.

    ``fit`` needs the samples of the learning window; ``predict`` applies the fit
    (series ``fit`` had no samples of fall back).

    Example::

        evt = EVT().fit(features, samples)
        table = evt.predict(features)   # expected_fa_per_day_ss ≈ 1/7
    """

    name = "evt"
    parameters = (
        "budgets",
        "min_days",
        "max_shape",
        "censor",
        "coverage",
        "max_multiple",
        "blocked_threshold",
        "fallback",
        "floors",
    )

    def __init__(
        self,
        budgets: Sequence[float] = DEFAULT_BUDGETS,
        min_days: float = 5,
        max_shape: float = 1.0,
        censor: float = 0.25,
        coverage: float = 0.5,
        max_multiple: float = 100.0,
        blocked_threshold: float = 0.0,
        fallback: str = "rule-daily",
        floors: Floors | None = None,
    ) -> None:
        self.budgets = budgets
        self.min_days = min_days
        self.max_shape = max_shape
        self.censor = censor
        self.coverage = coverage
        self.max_multiple = max_multiple
        self.blocked_threshold = blocked_threshold
        self.fallback = fallback
        self.floors = floors

    @property
    def needs_samples(self) -> bool:
        return True

    def _check_params(self) -> None:
        budgets = tuple(float(b) for b in self.budgets)
        if len(budgets) != len(LEVELS) or not all(np.isfinite(b) and b > 0 for b in budgets):
            raise FloodmarkError(f"evt: need {len(LEVELS)} positive budgets, got {budgets}")
        if any(a < b for a, b in zip(budgets, budgets[1:], strict=False)):
            raise FloodmarkError(f"evt: budgets must not grow from ss to rl, got {budgets}")
        checks = {
            "min_days": (self.min_days, MIN_ACTIVE_DAYS, math.inf),
            "max_shape": (self.max_shape, 0.0, 2.0),
            "censor": (self.censor, 0.0, 0.75),
            "coverage": (self.coverage, 0.0, 1.0),
            "max_multiple": (self.max_multiple, 1.0, math.inf),
        }
        for name, (value, lo, hi) in checks.items():
            if not (isinstance(value, int | float) and lo <= value <= hi):
                raise FloodmarkError(f"evt: {name} must be in [{lo}, {hi}], got {value!r}")
        if self.fallback not in FALLBACKS:
            raise FloodmarkError(
                f"evt: fallback must be one of {sorted(FALLBACKS)}, got {self.fallback!r}"
            )

    def required_columns(self) -> tuple[str, ...]:
        rule = FALLBACKS.get(self.fallback, RuleDaily)(floors=self.floors)
        return rule.required_columns()

    # -- fit ------------------------------------------------------------------------
    def _fit(self, features: pl.DataFrame, samples: pl.DataFrame | None) -> None:
        if samples is None:
            raise InsufficientDataError("evt: fit needs the samples of the learning window")
        self.budgets_ = tuple(float(b) for b in self.budgets)
        self.shapes_ = shape_grid(float(self.max_shape))
        self.floors_ = Floors.default() if self.floors is None else self.floors
        self.fallback_ = FALLBACKS[self.fallback](floors=self.floors).fit(features)
        # The store's sampling step when the features carry it (``with_store_steps``).
        steps = features.select(*KEYS, STEP) if STEP in features.columns else None
        self.tails_ = self._tails(samples, steps)

    def _tails(self, samples: pl.DataFrame, steps: pl.DataFrame | None) -> pl.DataFrame:
        """One row per series: the daily maxima summary and, where it applies, the fit."""
        daily = daily_maxima(
            samples, blocked_threshold=self.blocked_threshold, coverage=self.coverage, steps=steps
        )
        n_days = daily.get_column("n_days").to_numpy().astype(np.int64)
        maxima = _padded(daily.get_column("maxima"), n_days)
        finite = np.isfinite(maxima)
        active = (finite & (maxima > 0)).sum(axis=1)
        # Half the smallest positive daily maximum keeps zero days finite on the log scale.
        smallest = np.where(finite & (maxima > 0), maxima, np.inf).min(axis=1)
        offset = np.where(np.isfinite(smallest), 0.5 * smallest, np.nan)
        top = np.where(finite, maxima, -np.inf).max(axis=1)
        cut = np.floor(n_days * self.censor).astype(np.int64)
        lowest_kept = np.take_along_axis(  # maxima are sorted ascending, NaN last
            maxima, np.minimum(cut, np.maximum(n_days - 1, 0))[:, None], axis=1
        )[:, 0]
        # The fit needs days, traffic on them, and a spread among the days it uses.
        fit = (n_days >= self.min_days) & (active >= MIN_ACTIVE_DAYS) & (top > lowest_kept)
        mu = np.full((len(n_days), len(self.shapes_)), np.nan)
        sigma, weights = mu.copy(), mu.copy()
        if fit.any():
            y = np.log(maxima[fit] + offset[fit, None])
            mu[fit], sigma[fit], weights[fit] = fit_posterior(y, self.shapes_, self.censor)
            fit &= np.isfinite(weights).all(axis=1)  # no shape fits at all: degenerate
        episodes = np.ones((len(n_days), len(DEPTHS)))
        if fit.any():
            offsets = daily.select(KEYS).with_columns(offset=pl.Series(offset))
            counts = episodes_by_depth(
                samples,
                offsets.filter(pl.Series(fit)),
                DEPTHS,
                blocked_threshold=self.blocked_threshold,
                coverage=self.coverage,
                steps=steps,
            )
            counts = offsets.join(counts, on=KEYS, how="left", maintain_order="left")
            names = [f"g{j}" for j in range(len(DEPTHS))]
            # a crossed day holds at least one episode; days without a count get one
            episodes = np.fmax(counts.select(names).fill_null(np.nan).to_numpy(), 1.0)
        return daily.drop("maxima").with_columns(
            n_active=pl.Series(active, dtype=pl.UInt32),
            median=pl.Series(_median(maxima)),
            offset=pl.Series(offset),
            fitted=pl.Series(fit),
            gamma=pl.Series((weights * self.shapes_).sum(axis=1)),
            episodes=pl.Series(episodes),
            mu=pl.Series(mu),
            sigma=pl.Series(sigma),
            weights=pl.Series(weights),
        )

    # -- predict --------------------------------------------------------------------
    def _predict(self, features: pl.DataFrame) -> pl.DataFrame:
        keys = features.select(KEYS)
        tail = keys.join(self.tails_, on=KEYS, how="left", maintain_order="left")
        arr = {
            c: tail.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy()
            for c in ("n", "step_s", "x_max", "n_days", "n_active", "median", "offset") + ("gamma",)
        }
        arr["fitted"] = tail.get_column("fitted").fill_null(False).to_numpy()
        post = {c: tail.get_column(c).to_numpy() for c in ("mu", "sigma", "weights", "episodes")}
        arr["g_near"], arr["g_far"] = post["episodes"][:, 1], post["episodes"][:, -1]
        reasons = self._reasons(arr)
        ok = np.array([r is None for r in reasons])

        budgets = np.asarray(self.budgets_)
        raw = np.full((keys.height, len(LEVELS)), np.nan)
        capped = np.zeros((keys.height, len(LEVELS)), dtype=bool)
        if ok.any():
            raw[ok], capped[ok] = self._solve(arr, post, ok, budgets)

        basis = [self._basis(arr, i, capped[i]) if ok[i] else "" for i in range(keys.height)]
        fallback: list[str | None] = [None] * keys.height
        if not ok.all():
            idx = np.flatnonzero(~ok)
            fb_raw, fb_basis, fb_fallback = self.fallback_.raw(features[idx])
            for k, i in enumerate(idx):
                raw[i] = fb_raw[k]
                basis[i] = fb_basis[k]
                own = fb_fallback[k]
                fallback[i] = (
                    f"{self.fallback}: {reasons[i]}"
                    if own is None
                    else f"{own} (evt: {reasons[i]})"
                )

        def expected(final: np.ndarray) -> np.ndarray:
            out = np.full(final.shape, np.nan)
            if ok.any():
                out[ok] = self._rate(final[ok], arr, post, ok)
            return out

        return assemble(
            keys,
            self.name,
            raw,
            floors=self.floors_,
            basis=basis,
            fallback=fallback,
            expected_fa=expected,
        )

    def _rate(
        self, z: np.ndarray, arr: dict[str, np.ndarray], post: dict[str, np.ndarray], ok: np.ndarray
    ) -> np.ndarray:
        """Expected alarm episodes per day at levels ``z`` (rows of ``ok`` series, 4 levels).

        A day whose maximum rises ``d`` above the level (log scale) holds about ``g(d)``
        episodes, measured at ``DEPTHS`` in the learning window (``g(0) = 1``, linear in
        between, flat beyond the deepest); the rate sums ``g`` over the law of the maximum.
        """
        offset = arr["offset"][ok, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.log(np.maximum(z, 0.0) + offset)
        edges = np.concatenate([[0.0], DEPTHS])
        sf = predictive_sf(
            (y[:, :, None] + edges).reshape(len(y), -1),
            post["mu"][ok],
            post["sigma"][ok],
            post["weights"][ok],
            self.shapes_,
        ).reshape(*y.shape, len(edges))
        g = np.concatenate([np.ones((len(y), 1)), post["episodes"][ok]], axis=1)[:, None, :]
        inside = (sf[..., :-1] - sf[..., 1:]) * 0.5 * (g[..., :-1] + g[..., 1:])
        return inside.sum(axis=-1) + sf[..., -1] * g[..., -1]

    def _solve(
        self,
        arr: dict[str, np.ndarray],
        post: dict[str, np.ndarray],
        ok: np.ndarray,
        budgets: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Levels with ``rate == budget`` by bisection on the log scale; capped levels flagged."""
        offset = arr["offset"][ok, None]
        x_max = arr["x_max"][ok, None]
        shape = (int(ok.sum()), len(budgets))
        lo = np.broadcast_to(np.log(offset), shape).copy()  # a level of 0
        hi = np.broadcast_to(np.log(self.max_multiple * x_max + offset), shape).copy()

        def rate(y: np.ndarray) -> np.ndarray:
            return self._rate(np.exp(y) - offset, arr, post, ok)

        capped = rate(hi) > budgets
        for _ in range(BISECTIONS):
            mid = 0.5 * (lo + hi)
            above = rate(mid) > budgets
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
        return np.maximum(np.exp(hi) - offset, 0.0), capped

    def _reasons(self, arr: dict[str, np.ndarray]) -> list[str | None]:
        """Why each series cannot use the fit (None when it can)."""
        out: list[str | None] = []
        for i in range(len(arr["n"])):
            days = arr["n_days"][i]
            if not np.isfinite(arr["n"][i]):
                out.append("no baseline samples")
            elif not days >= self.min_days:
                out.append(f"short ({fmt(days)} covered days < {fmt(self.min_days)})")
            elif not arr["x_max"][i] > 0:
                out.append("all zeros (baseline traffic is always 0)")
            elif arr["n_active"][i] < MIN_ACTIVE_DAYS:
                out.append(
                    f"quiet ({int(arr['n_active'][i])} days with traffic < {MIN_ACTIVE_DAYS})"
                )
            elif not arr["fitted"][i]:
                out.append("degenerate tail fit (its highest days are all equal)")
            else:
                out.append(None)
        return out

    def _basis(self, arr: dict[str, np.ndarray], i: int, capped: np.ndarray) -> str:
        text = (
            f"GEV of {int(arr['n_days'][i])} daily maxima (log scale, median "
            f"{fmt(arr['median'][i])}): shape γ≈{arr['gamma'][i]:.2f}; "
            f"{arr['g_near'][i]:.2g}/{arr['g_far'][i]:.2g} episodes per alarm day "
            f"{DEPTHS[1]:g}/{DEPTHS[-1]:g} below its peak; "
            "budgets/day " + "/".join(fmt(b) for b in self.budgets_)
        )
        if capped.any():
            levels = ", ".join(lv for lv, c in zip(LEVELS, capped, strict=True) if c)
            text += f"; {levels} capped at {fmt(self.max_multiple)} × max"
        return text


def _padded(lists: pl.Series, lengths: np.ndarray) -> np.ndarray:
    """List column → ``(rows, longest)`` float matrix padded with NaN."""
    width = max(int(lengths.max(initial=0)), 1)
    out = np.full((len(lengths), width), np.nan)
    values = lists.explode().drop_nulls().cast(pl.Float64).to_numpy()
    rows = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, np.arange(len(rows)) - starts] = values
    return out


def _median(maxima: np.ndarray) -> np.ndarray:
    out = np.full(len(maxima), np.nan)
    some = np.isfinite(maxima).any(axis=1)
    out[some] = np.nanmedian(maxima[some], axis=1)
    return out
