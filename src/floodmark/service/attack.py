"""The attack rule the service shows: a sample is an attack when ``blocked > blocked_threshold``.

The same rule the features use (``floodmark.features.daily.kept_samples`` keeps the
rest); the series endpoint and the console read it only through ``attack_flag``.
"""

from __future__ import annotations

import polars as pl


def attack_flag(blocked_threshold: float = 0.0) -> pl.Expr:
    """True for attack samples of a ``LONG_SCHEMA`` frame."""
    return pl.col("blocked") > blocked_threshold
