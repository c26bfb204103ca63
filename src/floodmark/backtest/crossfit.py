"""Out-of-fold thresholds for learned methods: no object is scored by a model trained on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl
from sklearn.model_selection import GroupKFold

from floodmark.errors import InsufficientDataError

#: Columns that carry expert answers; they are removed before ``predict`` so a
#: model can never read the label of the series it is predicting.
LABEL_PREFIXES = ("ip_", "range_")


def label_columns(columns: Sequence[str]) -> list[str]:
    """The expert-label columns among ``columns`` (``ip_*``, ``range_*``, ``request_id``)."""
    return [c for c in columns if c.startswith(LABEL_PREFIXES) or c == "request_id"]


def assign_folds(groups: pl.Series, n_splits: int) -> pl.Series:
    """Fold number (0..k-1) per row with GroupKFold: all rows of a group share one fold.

    ``k = min(n_splits, number of groups)``; fewer than two groups cannot be cross-fitted.
    """
    n_groups = groups.n_unique()
    if n_groups < 2:
        raise InsufficientDataError(f"cross-fitting needs at least 2 objects, got {n_groups}")
    k = min(n_splits, n_groups)
    folds = np.full(len(groups), -1, dtype=np.int64)
    rows = np.zeros((len(groups), 1))
    splits = GroupKFold(n_splits=k).split(rows, groups=groups.to_numpy())
    for fold, (_, test_idx) in enumerate(splits):
        folds[test_idx] = fold
    return pl.Series("fold", folds)


def cross_fit(
    features: pl.DataFrame,
    factory: Callable[[], object],
    *,
    n_splits: int = 5,
    group: str = "prediction_id",
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """Fit ``factory()`` on all folds but one and predict that one, for every fold.

    ``features`` is one row per series with label columns; each fold's rows are
    predicted from their features only (labels dropped) by an estimator fitted on
    the other folds' rows. Returns the concatenated predictions with a ``fold``
    column, in the estimator's thresholds-table shape.
    """
    folds = assign_folds(features[group], n_splits)
    tagged = features.with_columns(folds)
    n_folds = int(folds.max()) + 1
    labels = label_columns(features.columns)
    parts = []
    for fold in range(n_folds):
        train = tagged.filter(pl.col("fold") != fold).drop("fold")
        held_out = tagged.filter(pl.col("fold") == fold).drop("fold", *labels)
        estimator = factory().fit(train)
        parts.append(estimator.predict(held_out).with_columns(fold=pl.lit(fold, pl.Int64)))
        if progress is not None:
            progress(fold + 1, n_folds)
    return pl.concat(parts, how="diagonal_relaxed")
