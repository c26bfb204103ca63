"""Expert labels from the store catalog: what the model learns and thresholds are compared to."""

from __future__ import annotations

import polars as pl

from floodmark.backtest.result import BACKTEST_PER_SERIES_SCHEMA
from floodmark.schema import IP_LABELS, KEY_COLUMNS, LABEL_SCHEMA

KEYS = list(KEY_COLUMNS)


def catalog_labels(catalog: pl.DataFrame) -> pl.DataFrame:
    """Keys plus the label columns the catalog has (request_id, ip_*, range_*)."""
    cols = [c for c in LABEL_SCHEMA if c in catalog.columns]
    return catalog.select(
        *(pl.col(k).cast(pl.String) for k in KEYS), *(pl.col(c).cast(LABEL_SCHEMA[c]) for c in cols)
    ).unique(KEYS, keep="last")


def has_expert_labels(labels: pl.DataFrame) -> bool:
    """Whether any series has an ``ip_*`` value."""
    cols = [c for c in IP_LABELS if c in labels.columns]
    return bool(cols) and labels.select(pl.any_horizontal(pl.col(cols).is_not_null()).any()).item()


def with_experts(scores: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Per-series scores with the expert's ``ip_<level>`` as ``expert``, in the result schema."""
    cols = [c for c in IP_LABELS if c in labels.columns]
    if cols:
        experts = (
            labels.select(*KEYS, *cols)
            .unpivot(index=KEYS, on=cols, variable_name="level", value_name="expert")
            .with_columns(pl.col("level").str.strip_prefix("ip_"))
        )
        scores = scores.join(experts, on=[*KEYS, "level"], how="left", maintain_order="left")
    else:
        scores = scores.with_columns(expert=pl.lit(None, pl.Float64))
    floats = [c for c, t in BACKTEST_PER_SERIES_SCHEMA.items() if t == pl.Float64]
    return (
        scores.select(BACKTEST_PER_SERIES_SCHEMA.keys())
        .cast(BACKTEST_PER_SERIES_SCHEMA)
        .with_columns(pl.col(floats).fill_nan(None))
    )
