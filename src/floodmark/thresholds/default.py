"""``default``: the method floodmark picks for a store, accepted wherever a method is named.

The choice follows the measurements in ``docs/backtest.md``: ``model`` where the store
has expert labels (it learns them), ``rule-max`` otherwise (fewest false alarms of the
methods that need no labels).
"""

from __future__ import annotations

import polars as pl

from floodmark.schema import IP_LABELS

#: The name that stands for the store's default method.
DEFAULT = "default"


def default_method(catalog: pl.DataFrame) -> str:
    """The method floodmark uses by default for a store with this catalog."""
    cols = [c for c in IP_LABELS if c in catalog.columns]
    labelled = (
        bool(cols) and catalog.select(pl.any_horizontal(pl.col(cols).is_not_null()).any()).item()
    )
    return "model" if labelled else "rule-max"


def resolve_method(name: str, catalog: pl.DataFrame) -> str:
    """``name`` itself, or the store's default method for ``"default"``."""
    return default_method(catalog) if name == DEFAULT else name
