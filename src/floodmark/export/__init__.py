"""Thresholds into the formats mitigation systems read: FastNetMon, CSV, JSON."""

from __future__ import annotations

from floodmark.export.exporter import EXPORT_FORMATS, export_thresholds
from floodmark.export.inputs import BW_UNITS
from floodmark.export.summary import (
    LEFT_OUT_SCHEMA,
    UNEXPORTED_SCHEMA,
    ExportSummary,
)

__all__ = [
    "BW_UNITS",
    "EXPORT_FORMATS",
    "ExportSummary",
    "LEFT_OUT_SCHEMA",
    "UNEXPORTED_SCHEMA",
    "export_thresholds",
]
