"""Thresholds for a whole fleet: sample-based methods stream the store chunk by chunk.

Example::

    from floodmark.store import open_store
    from floodmark.thresholds import EVT, recommend_thresholds
    table = recommend_thresholds(features, EVT(), store=open_store("fleet-store"))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from floodmark.errors import FloodmarkError, InsufficientDataError
from floodmark.machine import CHUNK_ROWS
from floodmark.schema import empty_long
from floodmark.thresholds.base import KEYS, ThresholdMethod, check_features, empty_thresholds
from floodmark.thresholds.floors import Floors, floor_thresholds
from floodmark.thresholds.pipeline import (
    Window,
    fit_pooled,
    fit_predict,
    store_windows,
    with_store_steps,
)

if TYPE_CHECKING:
    from floodmark.store import Store


def recommend_thresholds(
    features: pl.DataFrame,
    method: ThresholdMethod,
    *,
    store: Store | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """Fit ``method`` and return its thresholds table for every row of ``features``.

    Methods that read samples (``method.needs_samples``) get them from ``store`` one
    chunk of complete series at a time (``floodmark.thresholds.pipeline``), so memory
    holds about one chunk; each chunk is fitted by a fresh clone of ``method``, except
    for a method pooling series (``budget``), measured chunk by chunk and fitted once
    on all series (its thresholds do not depend on ``chunk_rows``). Series with
    features but no samples in the store are fitted without samples (their rows then
    say why in ``fallback``). ``progress(done, total)`` counts series.
    The result is in the order of ``features``.
    """
    features = check_features(features, ())
    if not method.needs_samples:
        return method.fit(features).predict(features)
    if store is None:
        raise InsufficientDataError(f"{method.name} reads samples: give the store they are in")
    total, done = features.height, 0
    stepped = with_store_steps(features, store.catalog())
    if method.pools_series:

        def measured(window: Window) -> None:
            nonlocal done
            done = min(done + window.n_series, total)
            if progress is not None:
                progress(done, total)

        fitted = fit_pooled(method, stepped, store_windows(store, chunk_rows), measured)
        return fitted.predict(stepped)
    parts: list[pl.DataFrame] = [empty_thresholds()]
    for _, tables in fit_predict(stepped, [method], store_windows(store, chunk_rows)):
        if not tables:
            continue
        parts.extend(tables)
        done += tables[0].height
        if progress is not None:
            progress(done, total)
    table = pl.concat(parts)
    rest = features.join(table.select(KEYS), on=KEYS, how="anti", maintain_order="left")
    if rest.height:
        table = pl.concat([table, method.clone().fit(rest, empty_long()).predict(rest)])
        if progress is not None:
            progress(total, total)
    return features.select(KEYS).join(table, on=KEYS, how="left", maintain_order="left")


def recommend_by_name(
    store: Store,
    features: pl.DataFrame,
    method: str,
    *,
    params: Mapping[str, Any] | None = None,
    model_dir: str | Path | None = None,
    floors: Floors | None = None,
    blocked_threshold: float = 0.0,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """The thresholds table of one method by name, for every row of ``features``.

    ``method`` is a ``METHODS`` name; ``model`` loads the trained model in
    ``model_dir`` (it takes no ``params``). ``blocked_threshold`` reaches the methods
    that read samples (``floodmark.domain.is_attack``); for the others it is the
    one the features were computed with, and only a default 0 is accepted there.
    """
    from floodmark.thresholds.methods import make_method
    from floodmark.thresholds.model import GBTModel

    params = dict(params or {})
    if method == "model":
        if model_dir is None:
            raise FloodmarkError("method model needs the directory of a trained model")
        if params:
            raise FloodmarkError("a trained model takes no parameters")
        table = GBTModel.load(model_dir).predict(features)
        return table if floors is None else floor_thresholds(table, floors)
    if method == "experts":
        features = _with_expert_labels(features, store.catalog())
    estimator = make_method(method, **method_params(method, params, floors, blocked_threshold))
    return recommend_thresholds(
        features, estimator, store=store, chunk_rows=chunk_rows, progress=progress
    )


def method_params(
    method: str, params: Mapping[str, Any], floors: Floors | None, blocked_threshold: float
) -> dict[str, Any]:
    """A per-series method's parameters for ``recommend``: the given ones, the floors, and
    the blocked threshold for a method reading samples (refused for the others)."""
    from floodmark.thresholds.methods import METHODS

    params = dict(params)
    cls = METHODS.get(method)
    if cls is not None and "blocked_threshold" in cls.parameters:
        params.setdefault("blocked_threshold", blocked_threshold)
    elif blocked_threshold:
        raise FloodmarkError(
            f"{method} reads the features, not the samples: compute the features with "
            "this blocked threshold instead"
        )
    if floors is not None:
        params["floors"] = floors
    return params


def _with_expert_labels(features: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """``features`` with the store's ``ip_*`` labels (the ``experts`` method reads them)."""
    from floodmark.schema import IP_LABELS

    have = [c for c in IP_LABELS if c in catalog.columns]
    labels = catalog.select(*(pl.col(k).cast(pl.String) for k in KEYS), *have).unique(
        KEYS, keep="last"
    )
    features = check_features(features, ()).drop(have, strict=False)
    return features.join(labels, on=KEYS, how="left", maintain_order="left")


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
