"""The feature families, registered explicitly, in output order.

A family is one of two kinds, by the stage it needs:
- ``kernel``: a function of the prepared samples returning its columns, one
  row per series in ``sid`` order; it may mix Polars and numpy passes, group
  by other keys (days) and yield super peaks;
- ``finish``: a function of the per-series results of whole objects (it looks
  across series, so it runs once after every chunk, never per chunk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from floodmark.features.daily import DAILY_COLUMNS, daily_and_peaks
from floodmark.features.prepare import Prepared
from floodmark.features.quality import (
    QUALITY_COLUMNS,
    SHARE_COLUMN,
    add_median_share,
    quality_stats,
)
from floodmark.features.stats import STAT_COLUMNS, value_stats


@dataclass(frozen=True)
class FeatureParams:
    """Parameters of the families (see ``compute_features``)."""

    blocked_threshold: float = 0.0
    super_peak_factor: float = 3.0
    exclude_super_peaks: bool = False


#: A kernel returns ``sid`` and its columns (one row per series, in ``sid``
#: order) and super peaks (``sid, t, value``) or None.
Kernel = Callable[[Prepared, FeatureParams], tuple[pl.DataFrame, pl.DataFrame | None]]


@dataclass(frozen=True)
class Family:
    """A group of features computed together.

    columns: feature names it adds (in ``FEATURE_COLUMNS`` order).
    counts: integer columns it adds besides features (``n_samples``...).
    """

    name: str
    columns: tuple[str, ...]
    counts: tuple[str, ...] = ()
    kernel: Kernel | None = None
    finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None


def _stats_kernel(
    prepared: Prepared, params: FeatureParams
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    return value_stats(prepared.samples), None


def _quality_kernel(
    prepared: Prepared, params: FeatureParams
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    return quality_stats(prepared.samples), None


def _daily_kernel(
    prepared: Prepared, params: FeatureParams
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    return daily_and_peaks(
        prepared.samples,
        prepared.keys,
        blocked_threshold=params.blocked_threshold,
        super_peak_factor=params.super_peak_factor,
        exclude_super_peaks=params.exclude_super_peaks,
    )


FAMILIES: tuple[Family, ...] = (
    Family("value_stats", STAT_COLUMNS, counts=("n_samples",), kernel=_stats_kernel),
    Family("daily", DAILY_COLUMNS, counts=("n_super_peaks",), kernel=_daily_kernel),
    Family("quality", QUALITY_COLUMNS, kernel=_quality_kernel),
    Family("median_share", (SHARE_COLUMN,), finish=add_median_share),
)

#: Every feature name, in output order.
FEATURE_COLUMNS: tuple[str, ...] = tuple(c for f in FAMILIES for c in f.columns)
#: Integer columns that come after the keys and before the features.
COUNT_COLUMNS: tuple[str, ...] = tuple(c for f in FAMILIES for c in f.counts)
