"""What the report and the series plot read: the files other commands wrote, checked.

Each table is checked for the columns the figures need, so a wrong file is a
``SchemaError`` naming it. The super peaks are found where ``floodmark features``
writes them (``super_peaks_path``) unless given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from floodmark.errors import SchemaError
from floodmark.io.atomic import read_table
from floodmark.schema import KEY_COLUMNS, LEVELS

if TYPE_CHECKING:
    from floodmark.backtest import BacktestResult

#: Columns each input must have.
FEATURE_COLUMNS: tuple[str, ...] = KEY_COLUMNS
THRESHOLD_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *LEVELS)
PEAK_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, "timestamp", "value")


@dataclass(frozen=True)
class ReportInputs:
    """The keyword arguments of ``write_report`` besides the store, read from files."""

    features: pl.DataFrame
    thresholds: pl.DataFrame
    backtest: BacktestResult | None = None
    super_peaks: pl.DataFrame | None = None


def read_report_inputs(
    features: str | Path,
    thresholds: Sequence[str | Path],
    *,
    backtest: str | Path | None = None,
    super_peaks: str | Path | None = None,
) -> ReportInputs:
    """Read the report's tables; the super peaks default to the features' sidecar when present."""
    from floodmark.backtest import BacktestResult

    tables = [read_thresholds(path) for path in thresholds]
    return ReportInputs(
        features=read_table(features, columns=FEATURE_COLUMNS),
        thresholds=pl.concat(tables, how="diagonal_relaxed"),
        backtest=None if backtest is None else BacktestResult.from_json(backtest),
        super_peaks=_super_peaks(features, super_peaks),
    )


def read_thresholds(path: str | Path) -> pl.DataFrame:
    """A thresholds table (``floodmark recommend``): keys and numeric levels, checked."""
    table = read_table(path, columns=THRESHOLD_COLUMNS)
    wrong = [
        f"{level} is {table[level].dtype}"
        for level in LEVELS
        if not (table[level].dtype.is_numeric() or table[level].dtype == pl.Null)
    ]
    if wrong:
        raise SchemaError(f"levels must be numbers: {', '.join(wrong)}", file=path)
    return table


def _super_peaks(features: str | Path | None, given: str | Path | None) -> pl.DataFrame | None:
    from floodmark.features.chunked import super_peaks_path

    if given is None and features is not None:
        sidecar = super_peaks_path(features)
        given = sidecar if sidecar.is_file() else None
    return None if given is None else read_table(given, columns=PEAK_COLUMNS)


@dataclass
class SeriesInputs:
    """Everything ``series_figure`` draws for one series, and notes for the user."""

    samples: pl.DataFrame
    labels_row: dict
    features_row: dict | None = None
    thresholds_row: dict | None = None
    super_peaks: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def read_series_inputs(
    store,
    prediction_id: str,
    vector: str,
    metric: str,
    *,
    features: str | Path | None = None,
    thresholds: str | Path | None = None,
    method: str | None = None,
    blocked_threshold: float = 0.0,
    super_peak_factor: float = 3.0,
) -> SeriesInputs:
    """One series of an open store with its features, levels, labels and super peaks.

    Features and super peaks come from ``features`` (and its sidecar) when it has
    the series, else they are computed for this one series. When ``thresholds``
    holds several methods and ``method`` is not given, the first by name is used
    and a note says so.
    """
    from floodmark.report.data import require_series, select_series

    key = (prediction_id, vector, metric)
    labels_row = require_series(store.catalog(), *key)
    samples = store.read_series(prediction_id=prediction_id, vector=vector, metric=metric)
    inputs = SeriesInputs(samples=samples, labels_row=labels_row)
    params = {"blocked_threshold": blocked_threshold, "super_peak_factor": super_peak_factor}
    _series_features(inputs, features, key, params)
    if thresholds is not None:
        rows = select_series(read_thresholds(thresholds), *key, method=method)
        if rows.height == 0:
            inputs.notes.append(
                f"{thresholds} has no row for this series"
                + (f" and method {method!r}" if method else "")
            )
        else:
            if rows.height > 1 and "method" in rows.columns:
                rows = rows.sort("method")
                inputs.notes.append(
                    f"{thresholds} has methods {', '.join(rows['method'].to_list())}; "
                    f"showing {rows['method'][0]} (choose with --method)"
                )
            inputs.thresholds_row = rows.row(0, named=True)
    return inputs


def _series_features(inputs: SeriesInputs, path, key: tuple[str, str, str], params: dict) -> None:
    """This series' features row and super peaks: from the files when given, else computed."""
    from floodmark.features import compute_features, find_super_peaks
    from floodmark.report.data import select_series

    samples = inputs.samples
    if path is not None:
        rows = select_series(read_table(path, columns=FEATURE_COLUMNS), *key)
        if rows.height:
            inputs.features_row = rows.row(0, named=True)
        else:
            inputs.notes.append(f"{path} has no row for this series; computing its features")
    if inputs.features_row is None and samples.height:
        computed = compute_features(samples, **params)
        inputs.features_row = computed.row(0, named=True) if computed.height else None
    peaks = _super_peaks(path, None)
    if peaks is not None:
        inputs.super_peaks = select_series(peaks, *key)
    elif samples.height:
        inputs.super_peaks = find_super_peaks(samples, **params)
