"""floodmark: learn normal traffic and recommend DDoS detection thresholds.

The whole flow in a notebook::

    import floodmark as fm
    fm.generate_fleet("fleet.parquet", objects=20, days=30)
    fm.ingest_files("store", ["fleet.parquet"])
    store = fm.open_store("store")
    features = fm.compute_features(store.scan().collect())
    thresholds = fm.make_method("rule-daily").fit(features).predict(features)
    result = fm.run_backtest(store, ["rule-daily", "evt"])
    fm.write_report("report.html", store, features, thresholds, backtest=result)
"""

# ruff: noqa: F401 - the eager names below are re-exported through the computed __all__

from __future__ import annotations

from floodmark.errors import (
    FloodmarkError,
    InputFormatError,
    InsufficientDataError,
    NotFittedError,
    OutputError,
    SchemaError,
    SeriesDefect,
    StoreError,
)
from floodmark.lazy import lazy_names

__version__ = "0.1.0"

# The schema and the subpackages pull in Polars, scikit-learn, LightGBM and Plotly:
# their names are imported on first use so that `floodmark --help` and light scripts
# start fast.
_LAZY: dict[str, tuple[str, ...]] = {
    "floodmark.schema": ("KEY_COLUMNS", "LEVELS", "LONG_SCHEMA", "METRICS", "VECTORS"),
    "floodmark.io": (
        "FORMATS",
        "ReadResult",
        "decode_time_series",
        "detect_format",
        "encode_time_series",
        "iter_long_table",
        "iter_series_csv",
        "iter_vendor_catalog",
        "iter_vendor_export",
        "open_input",
        "read_long_table",
        "read_series_csv",
        "read_vendor_catalog",
        "read_vendor_export",
        "scan_long_table",
        "write_long_table",
        "write_vendor_export",
    ),
    "floodmark.store": (
        "CATALOG_SCHEMA",
        "ChunkPiece",
        "ChunkSpec",
        "IngestSummary",
        "STORE_QUARANTINE_SCHEMA",
        "Store",
        "ingest",
        "ingest_files",
        "open_store",
        "read_chunk",
        "read_chunk_runs",
    ),
    "floodmark.generate": (
        "FleetSummary",
        "generate_fleet",
    ),
    "floodmark.features": (
        "FEATURE_COLUMNS",
        "compute_features",
        "find_super_peaks",
    ),
    "floodmark.thresholds": (
        "Budget",
        "EVT",
        "EXPECTED_FA_COLUMNS",
        "Experts",
        "Floors",
        "GBTModel",
        "METHODS",
        "RuleDaily",
        "RuleMax",
        "RuleP95",
        "THRESHOLD_SCHEMA",
        "ThresholdMethod",
        "default_method",
        "empty_thresholds",
        "fallback_summary",
        "floor_thresholds",
        "make_method",
        "recommend_thresholds",
        "resolve_method",
    ),
    "floodmark.backtest": (
        "BACKTEST_PER_SERIES_SCHEMA",
        "BACKTEST_TABLE_SCHEMA",
        "BacktestMeta",
        "BacktestParameters",
        "BacktestResult",
        "WINDOW_SCHEMA",
        "read_nab_windows",
        "read_windows",
        "run_backtest",
    ),
    "floodmark.report": (
        "build_report",
        "series_figure",
        "write_figure",
        "write_report",
    ),
    "floodmark.export": (
        "BW_UNITS",
        "EXPORT_FORMATS",
        "ExportSummary",
        "LEFT_OUT_SCHEMA",
        "UNEXPORTED_SCHEMA",
        "export_thresholds",
    ),
}
_ORIGIN = {name: module for module, names in _LAZY.items() for name in names}

__all__ = sorted(
    [
        "FloodmarkError",
        "InputFormatError",
        "InsufficientDataError",
        "NotFittedError",
        "OutputError",
        "SchemaError",
        "SeriesDefect",
        "StoreError",
        *_ORIGIN,
    ]
)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
