"""Readers and writers: vendor exports, long tables and single-series CSV files.

Every reader returns ``ReadResult``s (long table, per-series labels, quarantine,
repaired duplicates); ``open_input`` picks the reader for any supported file.
Names are imported on first use (the readers load Polars, PyArrow and Numba).
"""

from floodmark.lazy import lazy_names

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "floodmark.io.catalog": ("iter_vendor_catalog", "read_vendor_catalog"),
        "floodmark.io.codec": ("decode_time_series", "encode_time_series"),
        "floodmark.io.detect": ("FORMATS", "detect_format", "open_input"),
        "floodmark.io.long_table": (
            "iter_long_table",
            "read_long_table",
            "scan_long_table",
            "write_long_table",
        ),
        "floodmark.io.read_result": ("ReadResult",),
        "floodmark.io.series_csv": ("iter_series_csv", "read_series_csv"),
        "floodmark.io.vendor": ("iter_vendor_export", "read_vendor_export", "write_vendor_export"),
    },
)

__all__ = [
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
]
