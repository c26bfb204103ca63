"""``experts``: the hand-set thresholds themselves (``ip_ss`` … ``ip_rl``), scored like a method.

Nothing is learned: ``predict`` returns each series' expert labels as they are (no
floors unless given: an expert's choice is the competitor, not something to correct). A series
without a label gets no threshold at that level and says so in ``fallback``; a missing
threshold never alarms and never detects in a backtest, as on a device.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from floodmark.schema import IP_LABELS
from floodmark.thresholds.base import KEYS, ThresholdMethod, assemble, column, fmt
from floodmark.thresholds.floors import Floors

#: No minimum: the expert's values are kept as given.
NO_FLOORS = Floors(())


class Experts(ThresholdMethod):
    """The experts' ``ip_*`` labels as thresholds (the backtest joins them to the features).

    Parameters
    ----------
    floors: a ``Floors`` table; default none (the labels as given).

    Example::

        Experts().fit(labelled).predict(labelled)   # ss..rl = ip_ss..ip_rl
    """

    name = "experts"
    parameters = ("floors",)
    required_features = IP_LABELS

    def __init__(self, floors: Floors | None = None) -> None:
        self.floors = floors

    def _fit(self, features: pl.DataFrame, samples: pl.DataFrame | None) -> None:
        self.labels_ = IP_LABELS
        self.floors_ = NO_FLOORS if self.floors is None else self.floors

    def _predict(self, features: pl.DataFrame) -> pl.DataFrame:
        raw = np.column_stack([column(features, c) for c in self.labels_])
        missing = ~np.isfinite(raw).all(axis=1)
        basis = ["experts: " + "/".join(fmt(v) for v in row) for row in raw]
        fallback = [
            "experts: no expert label at some level" if m else None for m in missing.tolist()
        ]
        table = assemble(
            features.select(KEYS),
            self.name,
            raw,
            floors=self.floors_,
            basis=basis,
            fallback=fallback,
        )
        # assemble turns a missing value into the floor (0): an unset threshold stays unset.
        levels = [c.removeprefix("ip_") for c in self.labels_]
        return table.with_columns(
            pl.when(pl.Series(np.isfinite(raw[:, j]))).then(pl.col(lv)).otherwise(None).alias(lv)
            for j, lv in enumerate(levels)
        )
