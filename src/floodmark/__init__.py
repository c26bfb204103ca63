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

from __future__ import annotations

from floodmark.backtest import (
    BACKTEST_PER_SERIES_SCHEMA,
    BACKTEST_TABLE_SCHEMA,
    WINDOW_SCHEMA,
    BacktestResult,
    read_nab_windows,
    read_windows,
    run_backtest,
)
from floodmark.errors import (
    FloodmarkError,
    InputFormatError,
    InsufficientDataError,
    NotFittedError,
    SchemaError,
    SeriesDefect,
    StoreError,
)
from floodmark.features import (
    FEATURE_COLUMNS,
    compute_features,
    find_super_peaks,
)
from floodmark.generate import (
    FleetSummary,
    generate_fleet,
)
from floodmark.io import (
    FORMATS,
    ReadResult,
    decode_time_series,
    detect_format,
    encode_time_series,
    iter_long_table,
    iter_series_csv,
    iter_vendor_catalog,
    iter_vendor_export,
    open_input,
    read_long_table,
    read_series_csv,
    read_vendor_catalog,
    read_vendor_export,
    scan_long_table,
    write_long_table,
    write_vendor_export,
)
from floodmark.report import (
    build_report,
    series_figure,
    write_figure,
    write_report,
)
from floodmark.schema import KEY_COLUMNS, LEVELS, LONG_SCHEMA, METRICS, VECTORS
from floodmark.store import (
    CATALOG_SCHEMA,
    STORE_QUARANTINE_SCHEMA,
    ChunkPiece,
    ChunkSpec,
    IngestSummary,
    Store,
    ingest,
    ingest_files,
    open_store,
    read_chunk,
)
from floodmark.thresholds import (
    EVT,
    EXPECTED_FA_COLUMNS,
    METHODS,
    THRESHOLD_SCHEMA,
    Floors,
    GBTModel,
    RuleDaily,
    RuleMax,
    ThresholdMethod,
    empty_thresholds,
    fallback_summary,
    floor_thresholds,
    make_method,
    recommend_thresholds,
)

__version__ = "0.1.0"

__all__ = [
    "BACKTEST_PER_SERIES_SCHEMA",
    "BACKTEST_TABLE_SCHEMA",
    "BacktestResult",
    "CATALOG_SCHEMA",
    "ChunkPiece",
    "ChunkSpec",
    "EVT",
    "EXPECTED_FA_COLUMNS",
    "FEATURE_COLUMNS",
    "FORMATS",
    "FleetSummary",
    "FloodmarkError",
    "Floors",
    "GBTModel",
    "IngestSummary",
    "InputFormatError",
    "InsufficientDataError",
    "KEY_COLUMNS",
    "LEVELS",
    "LONG_SCHEMA",
    "METHODS",
    "METRICS",
    "NotFittedError",
    "ReadResult",
    "RuleDaily",
    "RuleMax",
    "STORE_QUARANTINE_SCHEMA",
    "SchemaError",
    "SeriesDefect",
    "Store",
    "StoreError",
    "THRESHOLD_SCHEMA",
    "ThresholdMethod",
    "VECTORS",
    "WINDOW_SCHEMA",
    "build_report",
    "compute_features",
    "decode_time_series",
    "detect_format",
    "empty_thresholds",
    "encode_time_series",
    "fallback_summary",
    "find_super_peaks",
    "floor_thresholds",
    "generate_fleet",
    "ingest",
    "ingest_files",
    "iter_long_table",
    "iter_series_csv",
    "iter_vendor_catalog",
    "iter_vendor_export",
    "make_method",
    "open_input",
    "open_store",
    "read_chunk",
    "read_long_table",
    "read_nab_windows",
    "read_series_csv",
    "read_vendor_catalog",
    "read_vendor_export",
    "read_windows",
    "recommend_thresholds",
    "run_backtest",
    "scan_long_table",
    "series_figure",
    "write_figure",
    "write_long_table",
    "write_report",
    "write_vendor_export",
]
