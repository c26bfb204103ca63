"""Time split of every series into a learning part and a test part."""

from __future__ import annotations

import polars as pl

from floodmark.domain import DAY_US
from floodmark.errors import FloodmarkError
from floodmark.schema import KEY_COLUMNS

KEYS = list(KEY_COLUMNS)


def check_split(learn_days: float | None, learn_fraction: float | None) -> None:
    """Exactly one rule must be usable: ``learn_days > 0`` or ``0 < learn_fraction < 1``."""
    if learn_fraction is not None:
        if not 0.0 < learn_fraction < 1.0:
            raise FloodmarkError(f"learn_fraction must be in (0, 1), got {learn_fraction}")
    elif learn_days is None or not learn_days > 0:
        raise FloodmarkError(f"learn_days must be positive, got {learn_days}")


def split_series(
    samples: pl.DataFrame,
    *,
    learn_days: float | None = 21,
    learn_fraction: float | None = None,
) -> pl.DataFrame:
    """Add a boolean ``learn`` column: True for samples before each series' cut.

    The cut is ``first timestamp + learn_days`` days, or, when ``learn_fraction``
    is given (it wins over ``learn_days``), ``first + learn_fraction × (last − first)``.
    Samples at or after the cut are the test part. The split is per series, in time,
    never by sample count, so gaps stay where they were.
    """
    check_split(learn_days, learn_fraction)
    # An integer series id (see floodmark.domain.with_series_ids) groups much faster than the keys.
    by = "sid" if "sid" in samples.columns else KEYS
    ts = pl.col("timestamp")
    first = ts.min().over(by)
    if learn_fraction is not None:
        cut = first + (ts.max().over(by) - first) * learn_fraction
    else:
        cut = first + pl.duration(microseconds=round(learn_days * DAY_US))
    return samples.with_columns(learn=ts < cut)
