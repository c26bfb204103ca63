"""Readers and writers: vendor exports, long tables and single-series CSV files.

Every reader returns ``ReadResult``s (long table, per-series labels, quarantine,
repaired duplicates); ``open_input`` picks the reader for any supported file.
"""

from floodmark.io.catalog import iter_vendor_catalog, read_vendor_catalog
from floodmark.io.codec import decode_time_series, encode_time_series
from floodmark.io.detect import FORMATS, detect_format, open_input
from floodmark.io.long_table import (
    iter_long_table,
    read_long_table,
    scan_long_table,
    write_long_table,
)
from floodmark.io.read_result import ReadResult
from floodmark.io.series_csv import iter_series_csv, read_series_csv
from floodmark.io.vendor import iter_vendor_export, read_vendor_export, write_vendor_export

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
