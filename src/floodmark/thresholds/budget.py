"""``budget``: a false-alarm budget per object and week, spent where it buys the most detection.

Per level, the operator promises a number of false alarms per object per week
(``target_fa``). The method measures, on the learning days, every series' false-alarm
curve (``floodmark.thresholds.facurves``: episodes per day at multiples of its
learned maximum, with how often the next days exceed a multiple of the past, pooled
across the fitted series) and the value of a lower level (the learned attack
episodes, per series, and their sizes pooled over the series of its class — vector
and metric — shrunk towards the fleet's: the attacks a level would still catch). The
fleet's budget, the target times its objects, is then spent
series by series where a false alarm buys the most detection: for a price ``λ`` each
series takes the level maximising ``detection − λ × false alarms``, and ``λ`` is
solved so that the expected false alarms meet the budget; what the price leaves (it
moves alike series together) is then spent series by series, most detection per false
alarm first. Without learned attacks
the value of a level is how far it sits below the others (``−log`` of the multiple),
so the budget goes where lowering a level costs the fewest alarms.

The fit is one for the whole fleet: a store read chunk by chunk is measured chunk by
chunk (``measure``: the curves and attack sizes, small per series) and fitted once on
all the measurements (``fit_measured``), so the chunk size never changes a threshold.

With ``horizon_days`` the curves price a trend: a series whose typical daily peak grew
over the learning days is read at the peak it grows to over the next days (off by
default: on generated fleets it lowered false alarms and detections alike, see
``docs/backtest.md``).

``expected_fa_per_day_*`` (the promise) is the curve at the final (floored, ordered)
level, with the later days' rates pooled over the series' class instead of the fleet:
the fleet's pool keeps the choice of levels cautious, the class's is the better estimate
of what the chosen level raises (``docs/backtest.md``, "Calibration"). Series
with fewer than ``min_days`` learning days or no baseline traffic fall back to
``rule-max`` and say so in ``fallback``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Self

import numpy as np
import polars as pl

from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.schema import LEVELS, empty_long
from floodmark.thresholds.base import KEYS, ThresholdMethod, assemble, check_features, fmt
from floodmark.thresholds.facurves import GRID, Curves, measure
from floodmark.thresholds.floors import Floors
from floodmark.thresholds.rules import RuleMax
from floodmark.thresholds.samples import check_samples

#: False alarms per object per week at ss, sc, nw, rl (docs/backtest.md: chosen on one
#: generated fleet, seed 7, so that the default dominated the competitors at every level).
DEFAULT_TARGETS: tuple[float, ...] = (3.5, 1.5, 1.2, 0.9)
#: Days after the learning days the thresholds are expected to serve (a growing
#: series' curve is read at the peak it grows to over them); 0: no trend.
HORIZON_DAYS = 0.0
#: Fewer pooled attack episodes than this say too little about attack sizes.
MIN_ATTACKS = 10
#: Weight, in attack episodes, of the fleet's attack sizes in each class's (inf: the fleet's
#: only). 10 caught more attacks at the same false alarms on three generated fleets.
CLASS_PRIOR = 10.0
#: Bisection steps on log(λ).
BISECTIONS = 60
#: Column giving each series' object size (series per object), when the store knows it.
OBJECT_SERIES = "object_series"


class Budget(ThresholdMethod):
    """Levels from a fleet false-alarm budget per object-week, spent where detection gains most.

    Parameters
    ----------
    target_fa: false alarms per object per week at ss, sc, nw, rl (non-increasing).
    min_duration: samples a level must be exceeded in a row before it alarms (the
        curves count such runs only).
    class_prior: weight, in attack episodes, of the fleet's attack sizes against those of
        a series' class (its vector and metric): attacks on one kind of traffic are
        priced by the attacks learned on that kind, shrunk towards the fleet's (``inf``:
        one distribution of sizes for the fleet). Classes matter because the same kind of
        attack is a small multiple of busy traffic and a huge one of quiet traffic.
    prior_days: weight, in days, of the pooled curves and attack rate against a
        series' own (shrinkage for short or quiet series).
    horizon_days: days the thresholds will serve; a series whose typical peak grew
        over the learning days is priced at the peak it grows to over them (0: no trend).
    min_days: fewer learning days with baseline traffic → ``rule-max``.
    blocked_threshold: samples with ``blocked`` above it are attacks, not baseline.
    floors: a ``Floors`` table; default ``Floors.default()``.

    Example::

        Budget(target_fa=(7, 2, 1, 0.5)).fit(features, samples).predict(features)
    """

    name = "budget"
    parameters = (
        "target_fa",
        "min_duration",
        "prior_days",
        "class_prior",
        "horizon_days",
        "min_days",
        "blocked_threshold",
        "floors",
    )
    required_features = ("daily_max_1",)  # the rule-max fallback
    pools_series = True  # one budget and one price λ for every series fitted together

    def __init__(
        self,
        target_fa: Sequence[float] = DEFAULT_TARGETS,
        min_duration: int = 1,
        prior_days: float = 7.0,
        class_prior: float = CLASS_PRIOR,
        horizon_days: float = HORIZON_DAYS,
        min_days: float = 3,
        blocked_threshold: float = 0.0,
        floors: Floors | None = None,
    ) -> None:
        self.target_fa = target_fa
        self.min_duration = min_duration
        self.prior_days = prior_days
        self.class_prior = class_prior
        self.horizon_days = horizon_days
        self.min_days = min_days
        self.blocked_threshold = blocked_threshold
        self.floors = floors

    @property
    def needs_samples(self) -> bool:
        return True

    def _check_params(self) -> None:
        check_targets(self.target_fa)
        if not (isinstance(self.min_duration, int) and self.min_duration >= 1):
            raise FloodmarkError(
                f"budget: min_duration must be a whole number >= 1, got {self.min_duration!r}"
            )
        for name in ("prior_days", "horizon_days", "min_days", "class_prior"):
            value = getattr(self, name)
            # class_prior may be inf (the fleet's sizes only); nothing may be NaN or negative
            finite = math.isfinite(value) or name == "class_prior"
            if not (isinstance(value, int | float) and finite and value >= 0):
                raise FloodmarkError(f"budget: {name} must be >= 0, got {value!r}")

    def measure(self, series: pl.DataFrame, samples: pl.DataFrame) -> Curves:
        """The false-alarm curves and learned attacks of ``series`` (keys), from their
        learning ``samples``: what ``fit_measured`` pools, small per series."""
        self._check_params()
        return measure(
            check_samples(samples),
            series,
            blocked_threshold=self.blocked_threshold,
            min_duration=self.min_duration,
        )

    def fit_measured(self, features: pl.DataFrame, measured: Sequence[Curves]) -> Self:
        """One fit over the series of ``features`` from every chunk's ``measure``: the
        same thresholds as ``fit`` on all their samples at once, whatever the chunks."""
        self._check_params()
        features = check_features(features, self.required_columns())
        if features.height == 0:
            raise InsufficientDataError(f"{self.name}: no series to fit on")
        self._fit_curves(features, Curves.concat(measured))
        return self

    def _fit(self, features: pl.DataFrame, samples: pl.DataFrame | None) -> None:
        samples = samples if samples is not None else empty_long()
        self._fit_curves(features, self.measure(features.select(KEYS), samples))

    def _fit_curves(self, features: pl.DataFrame, measured: Curves) -> None:
        # series in key order: the price λ is solved on sums over them, which must not
        # depend on the order (or the chunks) the series came in
        features = features.sort(KEYS)
        self.floors_ = Floors.default() if self.floors is None else self.floors
        self.fallback_ = RuleMax(floors=self.floors_).fit(features)
        targets = np.asarray(check_targets(self.target_fa))
        curves = measured.select(features.select(KEYS))
        usable = (curves.days >= max(self.min_days, 1)) & (curves.peak > 0)
        fa = curves.false_alarms(self.prior_days, self.horizon_days)
        # the promise: the same curves, but pooled by class (docs/backtest.md)
        promise = curves.false_alarms(self.prior_days, self.horizon_days, series_class(curves.keys))
        value = detection_value(curves, self.prior_days, self.class_prior)
        # the budget of the fitted series: their share of each object, per day
        share = 1.0 / _object_series(features)
        choice = np.zeros((features.height, len(LEVELS)), dtype=np.int64)
        lowest = None  # from ss on: no series' level goes below the more sensitive one's
        for j, target in enumerate(targets):
            budget = target / 7.0 * float(share[usable].sum())
            choice[usable, j] = lowest = allocate(value[usable], fa[usable], budget, lowest)
        self.keys_ = curves.keys
        self.peak_ = curves.peak
        self.usable_ = usable
        self.curves_ = promise
        self.choice_ = choice
        self.pooled_attacks_ = int(len(curves.attack_sizes))

    def _predict(self, features: pl.DataFrame) -> pl.DataFrame:
        rows = features.select(KEYS).join(
            self.keys_.with_row_index("row"), on=KEYS, how="left", maintain_order="left"
        )["row"]
        known = rows.is_not_null().to_numpy()
        idx = rows.fill_null(0).to_numpy()
        ok = known & self.usable_[idx] if len(self.usable_) else np.zeros(len(idx), bool)
        fb_raw, fb_basis, fb_fallback = self.fallback_.raw(features)
        raw = np.array(fb_raw, dtype=np.float64)
        basis = list(fb_basis)
        fallback = [
            f or "rule-max: too few learning days or no baseline traffic for a budget"
            for f in fb_fallback
        ]
        for i in np.flatnonzero(ok):
            s = idx[i]
            multiples = GRID[self.choice_[s]]
            raw[i] = multiples * self.peak_[s]
            basis[i] = (
                f"budget {'/'.join(fmt(t) for t in self.target_fa)} FA per object-week: "
                f"{'/'.join(fmt(m) for m in multiples)} × typical daily peak "
                f"(={fmt(self.peak_[s])})"
            )
            fallback[i] = None

        def expected(final: np.ndarray) -> np.ndarray:
            out = np.full_like(final, np.nan)
            for i in np.flatnonzero(ok):
                s = idx[i]
                out[i] = [curve_at(self.curves_[s], v / self.peak_[s]) for v in final[i]]
            return out

        return assemble(
            features.select(KEYS),
            self.name,
            raw,
            floors=self.floors_,
            basis=basis,
            fallback=fallback,
            expected_fa=expected,
        )


def check_targets(values: Sequence[float]) -> tuple[float, ...]:
    """Four positive, non-increasing targets (false alarms per object-week)."""
    targets = tuple(float(v) for v in values)
    if len(targets) != len(LEVELS) or not all(math.isfinite(t) and t > 0 for t in targets):
        raise FloodmarkError(
            f"budget: need {len(LEVELS)} positive targets (ss, sc, nw, rl), got {targets}"
        )
    if any(a < b for a, b in zip(targets, targets[1:], strict=False)):
        raise FloodmarkError(f"budget: targets must not grow from ss to rl, got {targets}")
    return targets


def detection_value(
    curves: Curves, prior_days: float, class_prior: float = CLASS_PRIOR
) -> np.ndarray:
    """``(n, len(GRID))``: expected attacks per day a level at ``GRID × M`` catches.

    Attack sizes are pooled over the series of a class (vector and metric), shrunk
    towards the fleet's with the weight of ``class_prior`` attacks; each series' attack
    rate is its own, shrunk towards the pooled rate. Too few learned attacks: ``−log``
    of the multiple (every series alike).
    """
    n = len(curves.peak)
    if len(curves.attack_sizes) < MIN_ATTACKS:
        return np.broadcast_to(-np.log(GRID), (n, len(GRID))).copy()
    above = curves.attack_sizes[None, :] > GRID[:, None]
    fleet = above.mean(axis=1)
    if math.isinf(class_prior):
        caught = np.broadcast_to(fleet, (n, len(GRID)))
    else:
        kind = series_class(curves.keys)
        of_attack = kind[curves.attack_rows]
        classes = np.arange(int(kind.max()) + 1 if n else 0)
        hits = np.stack([above[:, of_attack == g].sum(axis=1) for g in classes], axis=1)
        count = np.bincount(of_attack, minlength=len(classes))
        by_class = (hits + class_prior * fleet[:, None]) / (count + class_prior)
        caught = by_class[:, kind].T
    pooled = curves.attacks.sum() / max(float(curves.days.sum()), 1.0)
    rate = (curves.attacks + prior_days * pooled) / (curves.days + prior_days)
    return rate[:, None] * caught


def series_class(keys: pl.DataFrame) -> np.ndarray:
    """Each series' class, a dense number for its vector and metric (the same kind of
    traffic on every object)."""
    kind = keys.select(pl.concat_str("vector", "metric", separator="/").rank("dense") - 1)
    return kind.to_series().cast(pl.Int64).to_numpy()


def allocate(
    value: np.ndarray, fa: np.ndarray, budget: float, lowest: np.ndarray | None = None
) -> np.ndarray:
    """Per series, the grid index maximising ``value − λ × fa``, ``λ`` the smallest price
    whose total ``fa`` is within ``budget`` (the highest levels when none is); then what
    is left of the budget is spent lowering levels, most detection per false alarm first.
    ``lowest``: per series, the index no choice may pass (the more sensitive level's).

    The second step matters on small stores: one price moves alike series together, and
    only to the corners of their curves (a curve flat for a few multiples is skipped
    whole), so a budget could stay mostly unspent and the four levels come out the same
    (three series of one CESNET address: every level at 1.43 × the typical peak). Unlike
    a price, spending the rest is not monotone in the budget, hence ``lowest``: a level
    fitted after a more sensitive one never sits below it.
    """
    if len(value) == 0:
        return np.zeros(0, dtype=np.int64)

    def pick(log_price: float) -> np.ndarray:
        return np.argmax(value - math.exp(log_price) * fa, axis=1)

    lo, hi = -30.0, 30.0
    if _spent(fa, pick(lo)) <= budget:
        start = pick(lo)
    elif _spent(fa, pick(hi)) > budget:
        # out of budget even at the price's top: the fewest alarms, the highest level among
        # equals (a flat curve must not pick the lowest level for its detection value)
        start = np.argmin(fa, axis=1)
    else:
        for _ in range(BISECTIONS):
            mid = (lo + hi) / 2
            if _spent(fa, pick(mid)) <= budget:
                hi = mid
            else:
                lo = mid
        start = pick(hi)
    if lowest is None:
        lowest = np.full(len(value), fa.shape[1] - 1)
    # a smaller budget's price picks no lower level than a larger one's; the minimum only
    # guards against ties, and it can only lower what is spent
    return _spend_the_rest(value, fa, budget, np.minimum(start, lowest), lowest)


def _spent(fa: np.ndarray, choice: np.ndarray) -> float:
    """The false alarms a choice of grid indices raises in all."""
    return float(fa[np.arange(len(choice)), choice].sum())


def _spend_the_rest(
    value: np.ndarray, fa: np.ndarray, budget: float, choice: np.ndarray, lowest: np.ndarray
) -> np.ndarray:
    """``choice`` (within ``budget``) with what is left of the budget spent lowering levels,
    none past ``lowest``.

    In rounds: each series proposes its best move down (most detection gained per false
    alarm added, within what is left); the proposals are taken best first while the
    budget lasts (ties in key order, so the result does not depend on how the fleet was
    read). A price only reaches the corners of a series' curve, so this reaches the
    levels between them.
    """
    choice = choice.copy()
    left = budget - _spent(fa, choice)
    grid = np.arange(fa.shape[1])
    # a series with no move within what is left never gets one: what is left only shrinks
    active = np.arange(len(choice))
    while len(active):
        at = choice[active]
        gain = value[active] - value[active, at][:, None]
        cost = fa[active] - fa[active, at][:, None]
        ok = (gain > 0) & (cost > 0) & (cost <= left) & (grid <= lowest[active][:, None])
        ratio = np.where(ok, gain / np.where(ok, cost, 1.0), -np.inf)
        best = np.argmax(ratio, axis=1)
        proposing = np.flatnonzero(ok.any(axis=1))
        order = proposing[np.argsort(-ratio[proposing, best[proposing]], kind="stable")]
        for k in order:
            extra = cost[k, best[k]]
            if extra <= left:
                choice[active[k]] = best[k]
                left -= extra
        active = active[proposing]
    return choice


def curve_at(curve: np.ndarray, multiple: float) -> float:
    """A false-alarm curve read at a multiple of the typical peak: log-linear between the
    grid's multiples (a level on a multiple reads its own rate, whatever the rounding of
    ``level / peak``), the end rates beyond the grid."""
    if not np.isfinite(multiple):
        return float("nan")
    if multiple <= 0:
        return float(curve[-1])
    return float(np.interp(math.log(multiple), _LOG_GRID, curve[::-1]))


#: log of the grid's multiples, ascending (``np.interp`` reads curves reversed to match)
_LOG_GRID = np.log(GRID[::-1])


def _object_series(features: pl.DataFrame) -> np.ndarray:
    """Series of each row's object: the store's count when given, else those in ``features``."""
    if OBJECT_SERIES in features.columns:
        given = features.get_column(OBJECT_SERIES).cast(pl.Float64)
        if given.null_count() == 0:
            return given.to_numpy()
    counts = features.select(pl.len().over("prediction_id")).to_series()
    return counts.cast(pl.Float64).to_numpy()
