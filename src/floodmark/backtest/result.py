"""The backtest's answer as data: a method × level table, per-series detail and metadata."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import msgspec
import orjson
import polars as pl

from floodmark.backtest.episodes import SCORE_SCHEMA
from floodmark.backtest.inject import INJECTED_OBJECT_SCHEMA, INJECTED_SCHEMA
from floodmark.errors import InputFormatError
from floodmark.io.atomic import write_json

#: One row per method × level (see docs/backtest.md for what each column means).
BACKTEST_TABLE_SCHEMA: dict[str, pl.DataType] = {
    "method": pl.String(),
    "level": pl.String(),
    "min_duration": pl.Int64(),
    "false_alarms": pl.Int64(),
    "object_days": pl.Float64(),
    "false_alarms_per_object_day": pl.Float64(),
    "attack_episodes": pl.Int64(),
    "detected": pl.Int64(),
    "detection_rate": pl.Float64(),
    "median_delay_samples": pl.Float64(),
    "median_ape_vs_expert_pct": pl.Float64(),
    "within_25pct": pl.Float64(),
}

#: A rolling backtest's steps: one row per step × method × min_duration × level; the test
#: part's first and last sample (ISO text), and the method's promise for that step.
BACKTEST_STEP_SCHEMA: dict[str, pl.DataType] = {
    "step": pl.Int64(),
    "test_start": pl.String(),
    "test_end": pl.String(),
    "method": pl.String(),
    "min_duration": pl.Int64(),
    "level": pl.String(),
    "false_alarms": pl.Int64(),
    "object_days": pl.Float64(),
    "attack_episodes": pl.Int64(),
    "detected": pl.Int64(),
    "promised_fa_per_object_day": pl.Float64(),
}

#: Names an older release wrote, read under today's name.
RENAMED_COLUMNS = {"mape_vs_expert": "median_ape_vs_expert_pct"}
#: Columns an older release did not write, read with the value it measured with.
ADDED_COLUMNS = {"min_duration": 1}

#: One row per series × method × level that had test samples.
BACKTEST_PER_SERIES_SCHEMA: dict[str, pl.DataType] = {**SCORE_SCHEMA, "expert": pl.Float64()}


@dataclass(frozen=True)
class BacktestParameters:
    """The settings a backtest ran with."""

    blocked_threshold: float = 0.0
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_folds: int | None = None  # None when no method was cross-fitted
    chunk_rows: int | None = None
    min_durations: tuple[int, ...] = (1,)
    inject: str | None = None  # the --inject spec, when attacks were inserted
    refit_every: float | None = None  # days between refits of a rolling backtest


@dataclass(frozen=True)
class BacktestMeta:
    """How a backtest was measured: split, counts, source, parameters and time.

    Exactly one of ``learn_days`` and ``learn_fraction`` is set. Counts are of the
    store (``n_series``, ``n_objects``) and of what had test samples (``*_tested``).
    ``expected_false_alarms_per_object_day`` is ``{method: {level: rate}}`` for
    methods that promise a rate (``evt``).
    """

    learn_days: float | None = None
    learn_fraction: float | None = None
    n_series: int = 0
    n_series_tested: int = 0
    n_objects: int = 0
    n_objects_tested: int = 0
    object_days: float = 0.0
    source: str = ""
    created_at: str = ""
    methods: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    n_windows: int = 0
    series_without_threshold: dict[str, int] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=dict)
    expected_false_alarms_per_object_day: dict[str, dict[str, float]] = field(default_factory=dict)
    default_method: str | None = None  # what "default" ran, when it was asked for
    parameters: BacktestParameters = field(default_factory=BacktestParameters)
    n_steps: int = 1  # learn/test steps (more than one when rolling, ``refit_every``)

    def split_text(self) -> str:
        """The learn/test split in words: ``first 21 days``, ``first 0.3 of each span`` or
        ``21 days before each 7-day test (36 steps)``."""
        if self.learn_fraction is not None:
            return f"first {self.learn_fraction:g} of each span"
        if self.learn_days is None:
            return ""
        every = self.parameters.refit_every
        if every is not None:
            return f"{self.learn_days:g} days before each {every:g}-day test ({self.n_steps} steps)"
        return f"first {self.learn_days:g} days"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Self:
        """Read what ``to_dict`` wrote, every field's type checked (``msgspec``; keys an
        older file lacks keep their defaults, unknown keys are ignored)."""
        return msgspec.convert(doc, cls)


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """What ``run_backtest`` measured.

    table: one row per method × level (``BACKTEST_TABLE_SCHEMA``).
    per_series: one row per series × method × level (``BACKTEST_PER_SERIES_SCHEMA``).
    meta: how it was measured (``BacktestMeta``).
    injected: detection of inserted attacks by size (``INJECTED_SCHEMA``), or None.
    injected_by_object: the same per object (``INJECTED_OBJECT_SCHEMA``), or None.
    steps: a rolling backtest's steps (``BACKTEST_STEP_SCHEMA``), or None.
    """

    table: pl.DataFrame
    per_series: pl.DataFrame
    meta: BacktestMeta = field(default_factory=BacktestMeta)
    injected: pl.DataFrame | None = None
    injected_by_object: pl.DataFrame | None = None
    steps: pl.DataFrame | None = None

    def to_json(self, path: str | Path) -> Path:
        """Write ``{"meta", "table", "per_series"}`` atomically (NaN becomes null)."""
        doc = {
            "meta": self.meta.to_dict(),
            "table": _records(self.table),
            "per_series": _records(self.per_series),
        }
        if self.injected is not None:
            doc["injected"] = _records(self.injected)
        if self.injected_by_object is not None:
            doc["injected_by_object"] = _records(self.injected_by_object)
        if self.steps is not None:
            doc["steps"] = _records(self.steps)
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
            meta = BacktestMeta.from_dict(doc["meta"])
            injected, by_object, steps = (
                _frame(doc[key], schema) if doc.get(key) is not None else None
                for key, schema in (
                    ("injected", INJECTED_SCHEMA),
                    ("injected_by_object", INJECTED_OBJECT_SCHEMA),
                    ("steps", BACKTEST_STEP_SCHEMA),
                )
            )
        except (pl.exceptions.PolarsError, TypeError, ValueError, AttributeError) as exc:
            # Polars' messages go on with the failing expression: the first line says it
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputFormatError(
                f"backtest does not match the schema ({first})", file=path
            ) from None
        return cls(
            table=table,
            per_series=per_series,
            meta=meta,
            injected=injected,
            injected_by_object=by_object,
            steps=steps,
        )


def _records(df: pl.DataFrame) -> list[dict[str, Any]]:
    floats = [c for c, t in df.schema.items() if t.is_float()]
    return df.with_columns(pl.col(floats).fill_nan(None)).to_dicts()


def _frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    df = pl.DataFrame(rows, infer_schema_length=None)
    df = df.rename({old: new for old, new in RENAMED_COLUMNS.items() if old in df.columns})
    df = df.with_columns(
        pl.lit(value).alias(name)
        for name, value in ADDED_COLUMNS.items()
        if name in schema and name not in df.columns
    )
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise ValueError(f"missing columns {missing}")
    return df.select(pl.col(c).cast(t) for c, t in schema.items())
