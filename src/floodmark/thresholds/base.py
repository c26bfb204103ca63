"""The estimator contract every threshold method follows, and the thresholds table.

scikit-learn's shape: ``__init__`` stores parameters only, the ones the class declares
in ``parameters``; ``fit(features, samples)`` learns and returns ``self``; learned
attributes end in ``_``; ``predict(features)`` applies what ``fit`` learned (it never
learns again) and returns the thresholds table (``THRESHOLD_SCHEMA``), one row per
series in the order of ``features``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import polars as pl

from floodmark.errors import FloodmarkError, InsufficientDataError, NotFittedError, SchemaError
from floodmark.schema import KEY_COLUMNS, LEVELS
from floodmark.thresholds.floors import Floors, apply_floors
from floodmark.thresholds.samples import check_samples

KEYS = list(KEY_COLUMNS)
EXPECTED_FA_COLUMNS: tuple[str, ...] = tuple(f"expected_fa_per_day_{lv}" for lv in LEVELS)

#: The thresholds table every method's ``predict`` returns, in this column order.
THRESHOLD_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "vector": pl.String(),
    "metric": pl.String(),
    "method": pl.String(),
    **{lv: pl.Float64() for lv in LEVELS},
    "basis": pl.String(),
    "fallback": pl.String(),
    **{c: pl.Float64() for c in EXPECTED_FA_COLUMNS},
}


def empty_thresholds() -> pl.DataFrame:
    """An empty thresholds table."""
    return pl.DataFrame(schema=THRESHOLD_SCHEMA)


def fmt(x: float) -> str:
    """A number as it appears in ``basis`` texts."""
    return "nan" if x is None or not np.isfinite(x) else f"{x:.4g}"


class ThresholdMethod:
    """Base class: parameter handling, input checks and the output table."""

    #: Registry name, also written to the ``method`` column.
    name: ClassVar[str] = ""
    #: Feature columns ``fit`` and ``predict`` need besides the keys.
    required_features: ClassVar[tuple[str, ...]] = ()
    #: The constructor's parameters, in order (``get_params``, ``clone``).
    parameters: ClassVar[tuple[str, ...]] = ()
    #: Whether ``fit`` learns one model across series (from expert labels), so that a
    #: backtest must cross-fit it; otherwise every series is fitted on its own.
    learns_across_series: ClassVar[bool] = False
    #: Whether ``fit`` pools what it learns over the series it is given (``budget``: one
    #: false-alarm budget for the fleet), so that fitting chunk by chunk would change the
    #: thresholds. Such a method measures each chunk's samples (``measure``: small
    #: per-series summaries) and is fitted once on them all (``fit_measured``).
    pools_series: ClassVar[bool] = False

    @property
    def needs_samples(self) -> bool:
        """Whether the method reads the long table (the CLI then streams it from the store)."""
        return False

    # -- parameters -----------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as given."""
        return {name: getattr(self, name) for name in self.parameters}

    def set_params(self, **params: Any) -> Self:
        """Change parameters (unknown names are a ``TypeError``, as in the constructor)."""
        unknown = set(params) - set(self.parameters)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no parameters {sorted(unknown)}")
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def clone(self) -> Self:
        """A fresh, unfitted instance with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- the contract ---------------------------------------------------------------
    def fit(self, features: pl.DataFrame, samples: pl.DataFrame | None = None) -> Self:
        """Learn from one row per series (and, for some methods, their samples)."""
        self._check_params()
        features = check_features(features, self.required_columns())
        if features.height == 0:
            raise InsufficientDataError(f"{self.name}: no series to fit on")
        self._fit(features, None if samples is None else check_samples(samples))
        return self

    def predict(self, features: pl.DataFrame) -> pl.DataFrame:
        """The thresholds table for the series in ``features`` (empty in, empty out),
        from what ``fit`` learned."""
        if not self.is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() first")
        features = check_features(features, self.required_columns())
        if features.height == 0:
            return empty_thresholds()
        return self._predict(features)

    def measure(self, series: pl.DataFrame, samples: pl.DataFrame) -> Any:
        """Per-series summaries of ``series`` (keys) from their ``samples``, for
        ``fit_measured`` (methods that pool series only)."""
        raise NotImplementedError(f"{self.name} fits series one by one: call fit()")

    def fit_measured(self, features: pl.DataFrame, measured: Sequence[Any]) -> Self:
        """``fit`` from the summaries ``measure`` returned for every chunk of the series
        in ``features`` (methods that pool series only): one fit over all of them."""
        raise NotImplementedError(f"{self.name} fits series one by one: call fit()")

    def required_columns(self) -> tuple[str, ...]:
        """Feature columns ``fit`` and ``predict`` need besides the keys."""
        return self.required_features

    def _check_params(self) -> None:
        """Raise ``FloodmarkError`` for invalid parameters (called by ``fit``)."""

    def is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def _fit(self, features: pl.DataFrame, samples: pl.DataFrame | None) -> None:
        raise NotImplementedError

    def _predict(self, features: pl.DataFrame) -> pl.DataFrame:
        raise NotImplementedError


def check_features(features: pl.DataFrame, required: Sequence[str]) -> pl.DataFrame:
    """Keys as strings, required columns present, one row per series."""
    if not isinstance(features, pl.DataFrame):
        raise SchemaError(f"features must be a polars DataFrame, got {type(features).__name__}")
    missing = [c for c in (*KEYS, *required) if c not in features.columns]
    if missing:
        raise SchemaError(f"features lack columns {missing}")
    features = features.with_columns(pl.col(k).cast(pl.String) for k in KEYS)
    dupes = features.select(KEYS).filter(pl.struct(KEYS).is_duplicated())
    if dupes.height:
        first = dupes.row(0)
        raise SchemaError(
            f"features hold {dupes.height} rows of repeated series (one row per series expected)",
            series="/".join(map(str, first)),
        )
    return features


def column(features: pl.DataFrame, name: str) -> np.ndarray:
    """A feature column as float64 with nulls as NaN."""
    return features.get_column(name).cast(pl.Float64).fill_null(float("nan")).to_numpy()


def assemble(
    keys: pl.DataFrame,
    method: str,
    raw: np.ndarray,
    *,
    floors: Floors,
    basis: Sequence[str],
    fallback: Sequence[str | None],
    expected_fa: Callable[[np.ndarray], np.ndarray] | None = None,
) -> pl.DataFrame:
    """Floor, order and tabulate raw ``(n, 4)`` thresholds.

    ``expected_fa`` maps the final thresholds to expected false alarms per day (same
    shape, NaN where the method has none); floors only ever lower that number, so a
    method that can compute it does so on the final values.
    """
    final, floored = apply_floors(raw, floors.for_series(keys))
    bad = ~np.isfinite(np.asarray(raw, dtype=np.float64)).all(axis=1)
    basis_out, fallback_out = [], []
    for i in range(len(final)):
        text = basis[i]
        if floored[i].any():
            text += "; floored " + ", ".join(
                lv for lv, f in zip(LEVELS, floored[i], strict=True) if f
            )
        basis_out.append(text)
        fb = fallback[i]
        if bad[i] and fb is None:
            fb = "floors: no finite value"
        fallback_out.append(fb)
    if expected_fa is None:
        fa = np.full_like(final, np.nan)
    else:
        fa = np.asarray(expected_fa(final), dtype=np.float64)
    columns: dict[str, Any] = {k: keys.get_column(k) for k in KEYS}
    columns["method"] = [method] * len(final)
    columns |= {lv: final[:, j] for j, lv in enumerate(LEVELS)}
    columns["basis"] = basis_out
    columns["fallback"] = fallback_out
    columns |= {c: fa[:, j] for j, c in enumerate(EXPECTED_FA_COLUMNS)}
    table = pl.DataFrame(columns, schema=THRESHOLD_SCHEMA)
    # NaN means "no expected false-alarm figure": the contract says null.
    return table.with_columns(pl.col(c).fill_nan(None) for c in EXPECTED_FA_COLUMNS)


def check_factors(factors: Sequence[float], what: str) -> tuple[float, ...]:
    """Four positive, non-decreasing multipliers (one per level)."""
    vals = tuple(float(f) for f in factors)
    if len(vals) != len(LEVELS):
        raise FloodmarkError(
            f"{what}: need {len(LEVELS)} factors (ss, sc, nw, rl), got {len(vals)}"
        )
    if not all(np.isfinite(v) and v > 0 for v in vals) or any(
        a > b for a, b in zip(vals, vals[1:], strict=False)
    ):
        raise FloodmarkError(f"{what}: factors must be positive and non-decreasing, got {vals}")
    return vals
