"""The backtest's answer as data: a method × level table, per-series detail and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from floodmark.backtest.episodes import SCORE_SCHEMA
from floodmark.errors import InputFormatError
from floodmark.io.atomic import write_json

#: One row per method × level (see docs/backtest.md for what each column means).
BACKTEST_TABLE_SCHEMA: dict[str, pl.DataType] = {
    "method": pl.String(),
    "level": pl.String(),
    "false_alarms": pl.Int64(),
    "object_days": pl.Float64(),
    "false_alarms_per_object_day": pl.Float64(),
    "attack_episodes": pl.Int64(),
    "detected": pl.Int64(),
    "detection_rate": pl.Float64(),
    "median_delay_samples": pl.Float64(),
    "mape_vs_expert": pl.Float64(),
    "within_25pct": pl.Float64(),
}

#: One row per series × method × level that had test samples.
BACKTEST_PER_SERIES_SCHEMA: dict[str, pl.DataType] = {**SCORE_SCHEMA, "expert": pl.Float64()}


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """What ``run_backtest`` measured.

    table: one row per method × level (``BACKTEST_TABLE_SCHEMA``).
    per_series: one row per series × method × level (``BACKTEST_PER_SERIES_SCHEMA``).
    meta: how it was measured (learn split, counts, data source, parameters, time).
    """

    table: pl.DataFrame
    per_series: pl.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self, path: str | Path) -> Path:
        """Write ``{"meta", "table", "per_series"}`` atomically (NaN becomes null)."""
        doc = {
            "meta": self.meta,
            "table": _records(self.table),
            "per_series": _records(self.per_series),
        }
        return write_json(doc, path)

    @classmethod
    def from_json(cls, path: str | Path) -> BacktestResult:
        """Read a result written by :meth:`to_json`."""
        path = Path(path)
        try:
            doc = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise InputFormatError(f"cannot read backtest ({exc.strerror})", file=path) from None
        except orjson.JSONDecodeError as exc:
            raise InputFormatError(f"backtest file is not valid JSON ({exc})", file=path) from None
        if not isinstance(doc, dict) or not {"meta", "table", "per_series"} <= doc.keys():
            raise InputFormatError(
                "not a backtest result: expected keys meta, table, per_series", file=path
            )
        try:
            table = _frame(doc["table"], BACKTEST_TABLE_SCHEMA)
            per_series = _frame(doc["per_series"], BACKTEST_PER_SERIES_SCHEMA)
        except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
            raise InputFormatError(
                f"backtest tables do not match the schema ({exc})", file=path
            ) from None
        return cls(table=table, per_series=per_series, meta=dict(doc["meta"]))


def _records(df: pl.DataFrame) -> list[dict[str, Any]]:
    floats = [c for c, t in df.schema.items() if t.is_float()]
    return df.with_columns(pl.col(floats).fill_nan(None)).to_dicts()


def _frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    df = pl.DataFrame(rows, infer_schema_length=None)
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise ValueError(f"missing columns {missing}")
    return df.select(pl.col(c).cast(t) for c, t in schema.items())
