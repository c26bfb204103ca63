"""Time split of every series into a learning part and a test part, once or rolling."""

from __future__ import annotations

import polars as pl

from floodmark.domain import DAY_US
from floodmark.errors import FloodmarkError
from floodmark.schema import KEY_COLUMNS

KEYS = list(KEY_COLUMNS)
#: The longest learning part or step taken: a century of days still adds to a timestamp
#: in 64-bit microseconds (infinity or 1e300 days do not).
MAX_DAYS = 36_525.0


def check_split(
    learn_days: float | None, learn_fraction: float | None, refit_every: float | None = None
) -> None:
    """Exactly one rule must be usable: ``learn_days > 0`` or ``0 < learn_fraction < 1``;
    a rolling split (``refit_every > 0`` days) slides ``learn_days``."""
    if refit_every is not None:
        if learn_fraction is not None:
            raise FloodmarkError("refit_every slides learn_days: give learn_days, not a fraction")
        if not 0 < refit_every <= MAX_DAYS:
            raise FloodmarkError(
                f"refit_every must be positive and at most {MAX_DAYS:g} days, got {refit_every}"
            )
    if learn_fraction is not None:
        if not 0.0 < learn_fraction < 1.0:
            raise FloodmarkError(f"learn_fraction must be in (0, 1), got {learn_fraction}")
    elif learn_days is None or not 0 < learn_days <= MAX_DAYS:
        raise FloodmarkError(
            f"learn_days must be positive and at most {MAX_DAYS:g} days, got {learn_days}"
        )


def split_series(
    samples: pl.DataFrame,
    *,
    learn_days: float | None = 21,
    learn_fraction: float | None = None,
    refit_every: float | None = None,
    step: int = 0,
) -> pl.DataFrame:
    """Add a boolean ``learn`` column: True for samples before each series' cut.

    The cut is ``first timestamp + learn_days`` days, or, when ``learn_fraction``
    is given (it wins over ``learn_days``), ``first + learn_fraction × (last − first)``.
    Samples at or after the cut are the test part. The split is per series, in time,
    never by sample count, so gaps stay where they were.

    Rolling (``refit_every`` days): step ``k`` keeps only the samples from
    ``first + k × refit_every`` to ``cut + refit_every`` with the cut ``learn_days``
    after that start, so successive steps' test parts follow each other without
    overlap and every step learns on the ``learn_days`` just before its test.
    """
    check_split(learn_days, learn_fraction, refit_every)
    # An integer series id (see floodmark.domain.with_series_ids) groups much faster than the keys.
    by = "sid" if "sid" in samples.columns else KEYS
    ts = pl.col("timestamp")
    first = ts.min().over(by)
    if learn_fraction is not None:
        cut = first + (ts.max().over(by) - first) * learn_fraction
    elif refit_every is not None:
        learn = pl.duration(microseconds=round(learn_days * DAY_US))
        # each bound from the series' start, so step k's end is step k + 1's cut exactly
        start = first + pl.duration(microseconds=round(step * refit_every * DAY_US))
        cut = start + learn
        end = first + pl.duration(microseconds=round((step + 1) * refit_every * DAY_US)) + learn
        # the bounds are taken from the whole series before any sample is dropped
        bounds = samples.with_columns(_start=start, _cut=cut, _end=end)
        kept = bounds.filter((ts >= pl.col("_start")) & (ts < pl.col("_end")))
        return kept.with_columns(learn=ts < pl.col("_cut")).drop("_start", "_cut", "_end")
    else:
        cut = first + pl.duration(microseconds=round(learn_days * DAY_US))
    return samples.with_columns(learn=ts < cut)


def rolling_steps(spans_days: float, learn_days: float, refit_every: float) -> int:
    """How many steps of a rolling split cover a series spanning ``spans_days`` (last minus
    first timestamp): the last step's test part reaches past the last sample."""
    if spans_days < learn_days:
        return 0
    return int((spans_days - learn_days) // refit_every) + 1
