"""``evt``: every level is a false-alarm budget solved on a fitted GPD tail (SPOT).

For each series, a generalized Pareto tail is fitted to the baseline (non-blocked)
passed samples of the learning window above their ``init_quantile`` (see
``floodmark.thresholds.gpd``). A budget of ``b`` false alarms per day becomes a per-sample
exceedance probability ``q = b * step / 86400`` with the series' own sampling step, and
the level is the SPOT quantile ``z_q``. ``expected_fa_per_day_*`` is the fitted tail's
exceedance rate at the final (floored, ordered) threshold, so it is the budget unless a
floor raised the level. It counts exceeding samples: bursts of consecutive exceedances
make fewer alarm episodes, so it is an upper bound on episodes.

Series too short (fewer than ``min_days`` days of baseline samples), all zeros, too
quiet (fewer than ``min_excesses`` excesses) or with a degenerate fit get the
``fallback`` rule instead, and ``fallback`` says which and why.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.schema import LEVELS
from floodmark.thresholds.base import KEYS, ThresholdMethod, assemble, fmt
from floodmark.thresholds.floors import Floors
from floodmark.thresholds.gpd import (
    ESTIMATORS,
    TAIL_SCHEMA,
    exceedance_probability,
    fit_tails,
    spot_quantile,
)
from floodmark.thresholds.rules import RuleDaily, RuleMax

DAY_S = 86_400.0
#: Default budgets (false alarms per day): a week, a month, a quarter, a year.
DEFAULT_BUDGETS: tuple[float, ...] = (1 / 7, 1 / 30, 4 / 365.25, 1 / 365.25)
FALLBACKS = {"rule-daily": RuleDaily, "rule-max": RuleMax}


class EVT(ThresholdMethod):
    """Peaks over threshold with a generalized Pareto tail; levels are false-alarm budgets.

    Parameters
    ----------
    budgets: expected false alarms per day for ss, sc, nw, rl (non-increasing);
        default one a week, a month, a quarter and a year.
    init_quantile: the tail starts at this quantile of baseline passed traffic (0.98).
    min_days: fewer days of baseline samples (count × step) than this → fallback.
    min_excesses: fewer samples above the tail start than this → fallback.
    estimator: ``"pwm"`` (probability-weighted moments, vectorised; default) or
        ``"mle"`` (scipy ``genpareto.fit`` per series; slow).
    blocked_threshold: samples with ``blocked`` above it are attacks, not baseline.
    fallback: the rule for series the tail cannot describe: ``"rule-daily"`` or ``"rule-max"``.
    floors: a ``Floors`` table; default ``Floors.default()``.

    ``fit`` needs the samples of the learning window; ``predict`` refits the tails of
    the series whose samples it is given and uses the fitted ones for the rest.

    Example::

        evt = EVT().fit(features, samples)
        table = evt.predict(features)   # expected_fa_per_day_ss ≈ 1/7
    """

    name = "evt"

    def __init__(
        self,
        budgets: Sequence[float] = DEFAULT_BUDGETS,
        init_quantile: float = 0.98,
        min_days: float = 2.0,
        min_excesses: int = 20,
        estimator: str = "pwm",
        blocked_threshold: float = 0.0,
        fallback: str = "rule-daily",
        floors: Floors | None = None,
    ) -> None:
        self.budgets = budgets
        self.init_quantile = init_quantile
        self.min_days = min_days
        self.min_excesses = min_excesses
        self.estimator = estimator
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
        if not 0.5 <= self.init_quantile < 1:
            raise FloodmarkError(
                f"evt: init_quantile must be in [0.5, 1), got {self.init_quantile}"
            )
        if self.estimator not in ESTIMATORS:
            raise FloodmarkError(
                f"evt: estimator must be one of {ESTIMATORS}, got {self.estimator!r}"
            )
        if self.fallback not in FALLBACKS:
            raise FloodmarkError(
                f"evt: fallback must be one of {sorted(FALLBACKS)}, got {self.fallback!r}"
            )

    def required_columns(self) -> tuple[str, ...]:
        rule = FALLBACKS.get(self.fallback, RuleDaily)(floors=self.floors)
        return rule.required_columns()

    def _fit(self, features: pl.DataFrame, samples: pl.DataFrame | None) -> None:
        if samples is None:
            raise InsufficientDataError("evt: fit needs the samples of the learning window")
        self.budgets_ = tuple(float(b) for b in self.budgets)
        self.floors_ = Floors.default() if self.floors is None else self.floors
        self.fallback_ = FALLBACKS[self.fallback](floors=self.floors).fit(features)
        self.tails_ = self._tails(samples)

    def _tails(self, samples: pl.DataFrame) -> pl.DataFrame:
        return fit_tails(
            samples,
            init_quantile=self.init_quantile,
            blocked_threshold=self.blocked_threshold,
            estimator=self.estimator,
        )

    def _predict(self, features: pl.DataFrame, samples: pl.DataFrame | None) -> pl.DataFrame:
        tails = self.tails_
        if samples is not None:
            fresh = self._tails(samples)
            tails = pl.concat([fresh, tails.join(fresh, on=KEYS, how="anti")])
        keys = features.select(KEYS)
        tail = keys.join(tails, on=KEYS, how="left", maintain_order="left")
        arr = {
            c: tail.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy()
            for c in TAIL_SCHEMA
            if c not in KEYS
        }
        reasons = self._reasons(arr)
        ok = np.array([r is None for r in reasons])

        budgets = np.asarray(self.budgets_)[None, :]
        n, n_excess = arr["n"][:, None], arr["n_excess"][:, None]
        # Rows that fall back have undefined tails; their NaNs are replaced below.
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = budgets * arr["step_s"][:, None] / DAY_S * n / n_excess
            raw = spot_quantile(
                arr["t"][:, None], arr["sigma"][:, None], arr["gamma"][:, None], ratio
            )

        basis = [self._basis(arr, i) if ok[i] else "" for i in range(keys.height)]
        fallback: list[str | None] = [None] * keys.height
        if not ok.all():
            idx = np.flatnonzero(~ok)
            fb_raw, fb_basis, fb_fallback = self.fallback_.raw(features[idx], samples)
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
            with np.errstate(invalid="ignore", divide="ignore"):
                p = exceedance_probability(
                    final,
                    arr["t"][:, None],
                    arr["sigma"][:, None],
                    arr["gamma"][:, None],
                    (n_excess / n),
                )
                rate = p * DAY_S / arr["step_s"][:, None]
            return np.where(ok[:, None], rate, np.nan)

        return assemble(
            keys,
            self.name,
            raw,
            floors=self.floors_,
            basis=basis,
            fallback=fallback,
            expected_fa=expected,
        )

    def _reasons(self, arr: dict[str, np.ndarray]) -> list[str | None]:
        """Why each series cannot use its tail (None when it can)."""
        out: list[str | None] = []
        with np.errstate(invalid="ignore"):
            days = arr["n"] * arr["step_s"] / DAY_S
        for i in range(len(days)):
            if not np.isfinite(arr["n"][i]):
                out.append("no baseline samples")
            elif not days[i] >= self.min_days:
                out.append(
                    f"short ({fmt(days[i])} days of baseline samples < {fmt(self.min_days)})"
                )
            elif not arr["x_max"][i] > 0:
                out.append("all zeros (baseline traffic is always 0)")
            elif arr["n_excess"][i] < self.min_excesses:
                n_excess = int(arr["n_excess"][i])
                out.append(f"quiet ({n_excess} excesses over the tail start < {self.min_excesses})")
            elif not (
                np.isfinite(arr["sigma"][i]) and arr["sigma"][i] > 0 and -1 < arr["gamma"][i] < 1
            ):
                out.append(
                    f"degenerate tail fit (σ={fmt(arr['sigma'][i])}, γ={fmt(arr['gamma'][i])})"
                )
            else:
                out.append(None)
        return out

    def _basis(self, arr: dict[str, np.ndarray], i: int) -> str:
        return (
            f"GPD tail ({self.estimator}) over t={fmt(arr['t'][i])} "
            f"(p{fmt(100 * self.init_quantile)}): "
            f"σ={fmt(arr['sigma'][i])}, γ={fmt(arr['gamma'][i])}, N_t={int(arr['n_excess'][i])} "
            f"of n={int(arr['n'][i])}, step {fmt(arr['step_s'][i])} s; budgets/day "
            + "/".join(fmt(b) for b in self.budgets_)
        )
