"""Backtest: thresholds learned on the start of each series, scored on the held-out rest.

``run_backtest(store, methods)`` returns a :class:`BacktestResult` whose ``table``
has one row per method × level: false alarms per object-day, attack episodes
detected and how fast, and agreement with the experts' thresholds. The kernels
(episode counting, splitting, cross-fitting) live in the submodules
``episodes``, ``split``, ``crossfit`` and ``windows``.
"""

from floodmark.backtest.result import (
    BACKTEST_PER_SERIES_SCHEMA,
    BACKTEST_TABLE_SCHEMA,
    BacktestMeta,
    BacktestParameters,
    BacktestResult,
)
from floodmark.backtest.runner import run_backtest
from floodmark.backtest.windows import WINDOW_SCHEMA, read_nab_windows, read_windows

__all__ = [  # sorted
    "BACKTEST_PER_SERIES_SCHEMA",
    "BACKTEST_TABLE_SCHEMA",
    "BacktestMeta",
    "BacktestParameters",
    "BacktestResult",
    "WINDOW_SCHEMA",
    "read_nab_windows",
    "read_windows",
    "run_backtest",
]
