"""Rule methods: a baseline statistic of the learning window times a factor per level.

- ``RuleMax`` (``rule-max``): FastNetMon baseline_magician style, the max or the mean of
  passed traffic over the window.
- ``RuleDaily`` (``rule-daily``): multiples of ``daily_max_q90`` (the notebook's
  ``3 x daily_max_q90`` line), or of the 95th percentile of all learning days' maxima
  (``variant="p95"``), which needs the samples.
- ``RuleP95`` (``rule-p95``): Cloudflare-style, the 95th percentile of the daily maxima
  of the last 7 learning days, one sensitivity step per level.

A series whose statistic is undefined (no baseline traffic at all) gets the floors and
says so in ``fallback``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from floodmark.errors import FloodmarkError
from floodmark.thresholds.base import (
    KEYS,
    ThresholdMethod,
    assemble,
    check_factors,
    column,
    fmt,
)
from floodmark.thresholds.floors import Floors
from floodmark.thresholds.samples import daily_max_quantile

Raw = tuple[np.ndarray, list[str], list[str | None]]


def _factor_text(factors: Sequence[float]) -> str:
    return "/".join(fmt(f) for f in factors)


def _multiply(stat: np.ndarray, factors: Sequence[float], label: str, missing: str) -> Raw:
    raw = stat[:, None] * np.asarray(factors)[None, :]
    ftext = _factor_text(factors)
    basis = [f"{ftext} × {label} (={fmt(s)})" for s in stat]
    fallback = [None if np.isfinite(s) else f"floors: {missing}" for s in stat]
    return raw, basis, fallback


class _Rule(ThresholdMethod):
    """A statistic of baseline traffic × a factor per level (``raw``), then floored."""

    def raw(self, features: pl.DataFrame) -> Raw:
        """Unfloored thresholds, basis and fallback texts (used by methods falling back to this)."""
        raise NotImplementedError

    def _predict(self, features: pl.DataFrame) -> pl.DataFrame:
        raw, basis, fallback = self.raw(features)
        return assemble(
            features.select(KEYS),
            self.name,
            raw,
            floors=self.floors_,
            basis=basis,
            fallback=fallback,
        )


class RuleMax(_Rule):
    """Max (or mean) of passed baseline traffic over the window × a factor per level.

    Parameters
    ----------
    statistic: ``"max"`` reads ``daily_max_1`` (the largest daily max of non-blocked
        passed traffic); ``"mean"`` reads ``passed_val_mean``.
    factors: four multipliers (ss, sc, nw, rl); default 1.2/1.5/2/3 for the max and
        3/5/8/12 for the mean (a mean sits far below the peaks a threshold must clear).
    floors: a ``Floors`` table; default ``Floors.default()``.

    Example::

        RuleMax().fit(features).predict(features)
    """

    name = "rule-max"
    parameters = ("statistic", "factors", "floors")
    STATISTICS = {"max": "daily_max_1", "mean": "passed_val_mean"}
    DEFAULT_FACTORS = {"max": (1.2, 1.5, 2.0, 3.0), "mean": (3.0, 5.0, 8.0, 12.0)}

    def __init__(
        self,
        statistic: str = "max",
        factors: Sequence[float] | None = None,
        floors: Floors | None = None,
    ) -> None:
        self.statistic = statistic
        self.factors = factors
        self.floors = floors

    def _check_params(self) -> None:
        if self.statistic not in self.STATISTICS:
            raise FloodmarkError(
                f"rule-max: statistic must be one of {sorted(self.STATISTICS)}, "
                f"got {self.statistic!r}"
            )

    def required_columns(self) -> tuple[str, ...]:
        return (self.STATISTICS.get(self.statistic, "daily_max_1"),)

    def _fit(self, features: pl.DataFrame, samples: pl.DataFrame | None) -> None:
        factors = self.DEFAULT_FACTORS[self.statistic] if self.factors is None else self.factors
        self.factors_ = check_factors(factors, self.name)
        self.column_ = self.STATISTICS[self.statistic]
        self.floors_ = Floors.default() if self.floors is None else self.floors

    def raw(self, features: pl.DataFrame) -> Raw:
        return _multiply(
            column(features, self.column_),
            self.factors_,
            self.column_,
            f"no baseline traffic ({self.column_} is null)",
        )


class RuleDaily(_Rule):
    """Multiples of a high quantile of daily maxima of passed baseline traffic.

    Parameters
    ----------
    variant: ``"q90"`` reads the feature ``daily_max_q90``; ``"p95"`` computes the 0.95
        linear quantile of daily maxima (baseline passed, UTC days) from the samples
        given to ``fit`` and falls back to ``daily_max_q90`` for series without
        samples, saying so in ``fallback``.
    factors: four multipliers (ss, sc, nw, rl); default 1.5/2/3/5, so ``nw`` is the
        notebook's ``3 × daily_max_q90``.
    blocked_threshold: samples with ``blocked`` above it are attacks (p95 only).
    floors: a ``Floors`` table; default ``Floors.default()``.
    """

    name = "rule-daily"
    parameters = ("variant", "factors", "blocked_threshold", "floors")
    VARIANTS = ("q90", "p95")
    required_features = ("daily_max_q90",)

    def __init__(
        self,
        variant: str = "q90",
        factors: Sequence[float] = (1.5, 2.0, 3.0, 5.0),
        blocked_threshold: float = 0.0,
        floors: Floors | None = None,
    ) -> None:
        self.variant = variant
        self.factors = factors
        self.blocked_threshold = blocked_threshold
        self.floors = floors

    @property
    def needs_samples(self) -> bool:
        return self.variant == "p95"

    def _check_params(self) -> None:
        if self.variant not in self.VARIANTS:
            raise FloodmarkError(
                f"rule-daily: variant must be one of {self.VARIANTS}, got {self.variant!r}"
            )

    def _fit(self, features: pl.DataFrame, samples: pl.DataFrame | None) -> None:
        self.factors_ = check_factors(self.factors, self.name)
        self.floors_ = Floors.default() if self.floors is None else self.floors
        self.daily_p95_ = self._p95(samples)

    def _p95(self, samples: pl.DataFrame | None) -> pl.DataFrame:
        if self.variant != "p95" or samples is None:
            return pl.DataFrame(
                schema={k: pl.String for k in KEYS} | {"value": pl.Float64, "n_days": pl.UInt32}
            )
        return daily_max_quantile(samples, quantile=0.95, blocked_threshold=self.blocked_threshold)

    def raw(self, features: pl.DataFrame) -> Raw:
        q90 = _multiply(
            column(features, "daily_max_q90"),
            self.factors_,
            "daily_max_q90",
            "no baseline traffic (daily_max_q90 is null)",
        )
        if self.variant == "q90":
            return q90
        p95 = column(
            features.select(KEYS).join(self.daily_p95_, on=KEYS, how="left", maintain_order="left"),
            "value",
        )
        raw, basis, fallback = _multiply(p95, self.factors_, "p95 of daily maxima", "")
        for i in np.flatnonzero(~np.isfinite(p95)):
            raw[i] = q90[0][i]
            basis[i] = q90[1][i]
            fallback[i] = (
                q90[2][i] or "rule-daily q90: no baseline samples for the p95 of daily maxima"
            )
        return raw, basis, fallback


class RuleP95(RuleDaily):
    """Cloudflare-style: p95 of the daily maxima of the last ``days`` learning days.

    Cloudflare's adaptive rules learn a profile from the 95th percentile of the last
    7 days' traffic and offer four sensitivity settings (high, medium, low,
    essentially off); their multipliers are not published, so ``factors`` maps them to
    ss, sc, nw, rl as 1/1.5/2/4 × that percentile. ``rule-daily --variant p95``
    differs: it reads every learning day, with the notebook's factors.

    Parameters
    ----------
    days: the latest UTC days with baseline traffic that count (default 7).
    factors: the four sensitivity steps (ss, sc, nw, rl).
    blocked_threshold: samples with ``blocked`` above it are attacks, not baseline.
    floors: a ``Floors`` table; default ``Floors.default()``.

    Series without learning samples fall back to ``daily_max_q90`` × the factors.
    """

    name = "rule-p95"
    parameters = ("days", "factors", "blocked_threshold", "floors")
    DEFAULT_FACTORS = (1.0, 1.5, 2.0, 4.0)

    def __init__(
        self,
        days: int = 7,
        factors: Sequence[float] = DEFAULT_FACTORS,
        blocked_threshold: float = 0.0,
        floors: Floors | None = None,
    ) -> None:
        self.days = days
        self.factors = factors
        self.blocked_threshold = blocked_threshold
        self.floors = floors

    @property
    def variant(self) -> str:
        return "p95"

    def _check_params(self) -> None:
        if not (isinstance(self.days, int) and self.days >= 1):
            raise FloodmarkError(f"rule-p95: days must be a whole number >= 1, got {self.days!r}")

    def _p95(self, samples: pl.DataFrame | None) -> pl.DataFrame:
        if samples is None:
            return super()._p95(None)
        return daily_max_quantile(
            samples, quantile=0.95, blocked_threshold=self.blocked_threshold, last_days=self.days
        )
