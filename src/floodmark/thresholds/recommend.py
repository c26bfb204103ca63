"""Thresholds for a whole fleet: sample-based methods stream the store chunk by chunk.

Example::

    from floodmark.store import open_store
    from floodmark.thresholds import EVT, recommend_thresholds
    table = recommend_thresholds(features, EVT(), store=open_store("fleet-store"))
"""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl

from floodmark.errors import InsufficientDataError
from floodmark.schema import empty_long
from floodmark.thresholds.base import KEYS, ThresholdMethod, check_features, empty_thresholds


def recommend_thresholds(
    features: pl.DataFrame,
    method: ThresholdMethod,
    *,
    store=None,
    chunk_rows: int = 2_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """Fit ``method`` and return its thresholds table for every row of ``features``.

    Methods that read samples (``method.needs_samples``) get them from ``store`` one
    chunk of complete series at a time (``store.iter_chunks(chunk_rows)``), so memory
    holds about one chunk; each chunk is fitted by a fresh clone of ``method``. Series
    with features but no samples in the store are fitted last, without samples (their
    rows then say why in ``fallback``). ``progress(done, total)`` counts series.
    The result is in the order of ``features``.
    """
    features = check_features(features, ())
    if not method.needs_samples:
        return method.fit(features).predict(features)
    if store is None:
        raise InsufficientDataError(f"{method.name} reads samples: give the store they are in")
    total, done = features.height, 0
    parts: list[pl.DataFrame] = [empty_thresholds()]
    for chunk in store.iter_chunks(chunk_rows):
        keys = chunk.select(pl.col(k).cast(pl.String) for k in KEYS).unique()
        part = features.join(keys, on=KEYS, how="semi", maintain_order="left")
        if part.height == 0:
            continue
        parts.append(method.clone().fit(part, chunk).predict(part))
        done += part.height
        if progress is not None:
            progress(done, total)
    table = pl.concat(parts)
    rest = features.join(table.select(KEYS), on=KEYS, how="anti", maintain_order="left")
    if rest.height:
        table = pl.concat([table, method.clone().fit(rest, empty_long()).predict(rest)])
        if progress is not None:
            progress(total, total)
    return features.select(KEYS).join(table, on=KEYS, how="left", maintain_order="left")


def fallback_summary(table: pl.DataFrame) -> pl.DataFrame:
    """How many series fell back, by rule and reason (details in parentheses dropped)."""
    reason = pl.col("fallback").map_elements(_reason_kind, return_dtype=pl.String)
    return (
        table.filter(pl.col("fallback").is_not_null())
        .group_by(fallback=reason)
        .agg(series=pl.len())
        .sort("series", "fallback", descending=[True, False])
    )


def _reason_kind(text: str) -> str:
    # innermost parentheses first, until none are left: "(evt: short (1.2 days < 2))"
    while True:
        shorter = re.sub(r"\s*\([^()]*\)", "", text)
        if shorter == text:
            return text.strip()
        text = shorter
