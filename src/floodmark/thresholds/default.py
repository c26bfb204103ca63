"""``default``: the method floodmark picks for a store, accepted wherever a method is named.

The choice follows the measurements in ``docs/backtest.md``: ``budget`` (a false-alarm
budget per object-week, spent where it buys the most detection) raised fewer false
alarms than ``experts``, ``rule-max`` and ``rule-p95`` at 11 of 12 levels of three
generated fleets while catching about as many attacks (it dominates all three at 7 of
12, 4 of them on the fleet its targets were chosen on). It needs no expert labels, so
it is the default for every store; the function takes the catalog so that the choice
may depend on the store.
"""

from __future__ import annotations

import polars as pl

#: The name that stands for the store's default method.
DEFAULT = "default"


def default_method(catalog: pl.DataFrame) -> str:
    """The method floodmark uses by default for a store with this catalog."""
    del catalog  # every store gets the same method today
    return "budget"


def resolve_method(name: str, catalog: pl.DataFrame) -> str:
    """``name`` itself, or the store's default method for ``"default"``."""
    return default_method(catalog) if name == DEFAULT else name
