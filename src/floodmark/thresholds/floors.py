"""Per vector/metric minimum thresholds, so near-silent vectors never get absurd values.

A ``Floors`` table maps (vector, metric) to a minimum per level. ``"*"`` matches any
vector or metric; lookups try the exact pair, then ``(vector, "*")``, ``("*", metric)``
and ``("*", "*")``. Every method raises its thresholds to the floor of their series and
then re-orders the levels with a cumulative maximum, so floors never break
``ss <= sc <= nw <= rl``.

Example::

    floors = Floors.from_file("floors.csv")   # columns vector,metric,ss,sc,nw,rl
    floors.lookup("PT_SYN", "PPS")            # (0.1, 0.2, 0.3, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.errors import FloodmarkError, SchemaError
from floodmark.io.atomic import read_table, write_table
from floodmark.schema import LEVELS

ANY = "*"

#: The default floor for every vector and metric. The smallest expert labels in the
#: original catalog are 0.1-0.6 (PPS and BW alike); a floor just under them stops a
#: silent vector from getting a zero threshold without overriding an expert's choice.
DEFAULT_FLOOR: tuple[float, float, float, float] = (0.1, 0.2, 0.3, 0.5)

FLOOR_COLUMNS: tuple[str, ...] = ("vector", "metric", *LEVELS)


@dataclass(frozen=True)
class Floors:
    """Minimum threshold per (vector, metric, level); immutable and comparable.

    ``entries`` maps ``(vector, metric)`` (either may be ``"*"``) to four minima, one
    per level in ``LEVELS`` order, each finite, non-negative and ordered.
    """

    entries: tuple[tuple[str, str, tuple[float, float, float, float]], ...]

    def __post_init__(self) -> None:
        seen = set()
        for i, (vector, metric, values) in enumerate(self.entries):
            _check_values(values, where=f"floors entry {i} ({vector}/{metric})")
            if (vector, metric) in seen:
                raise FloodmarkError(f"floors list {vector}/{metric} twice")
            seen.add((vector, metric))

    # -- construction -------------------------------------------------------------
    @classmethod
    def default(cls) -> Floors:
        """One floor for everything: ``DEFAULT_FLOOR``."""
        return cls(((ANY, ANY, DEFAULT_FLOOR),))

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[tuple[str, str], Sequence[float]], *, base: Floors | None = None
    ) -> Floors:
        """Build from ``{(vector, metric): (ss, sc, nw, rl)}``, overriding ``base``'s entries."""
        merged = {} if base is None else {(v, m): vals for v, m, vals in base.entries}
        for (vector, metric), values in mapping.items():
            merged[(str(vector), str(metric))] = tuple(float(x) for x in values)
        return cls(tuple((v, m, vals) for (v, m), vals in sorted(merged.items())))

    @classmethod
    def from_frame(
        cls, frame: pl.DataFrame, *, base: Floors | None = None, file: str | Path | None = None
    ) -> Floors:
        """Build from a table with columns ``vector, metric, ss, sc, nw, rl``.

        Rows override ``base`` (the defaults unless given), so a file only needs the
        pairs it changes. Bad rows raise ``FloodmarkError`` naming the file and row.
        """
        missing = [c for c in FLOOR_COLUMNS if c not in frame.columns]
        if missing:
            raise SchemaError(f"floors table lacks columns {missing}", file=file)
        base = cls.default() if base is None else base
        mapping: dict[tuple[str, str], tuple[float, ...]] = {}
        for i, row in enumerate(frame.select(FLOOR_COLUMNS).iter_rows()):
            vector, metric, *values = row
            try:
                vals = tuple(float(v) for v in values)
            except (TypeError, ValueError):
                raise FloodmarkError(
                    f"floor values must be numbers, got {values}", file=file, row=i
                ) from None
            try:
                _check_values(vals, where=f"{vector}/{metric}")
            except FloodmarkError as exc:
                raise FloodmarkError(exc.message, file=file, row=i) from None
            key = (
                ANY if vector in (None, "") else str(vector),
                ANY if metric in (None, "") else str(metric),
            )
            if key in mapping:
                raise FloodmarkError(f"{key[0]}/{key[1]} is listed twice", file=file, row=i)
            mapping[key] = vals
        return cls.from_mapping(mapping, base=base)

    @classmethod
    def from_file(cls, path: str | Path, *, base: Floors | None = None) -> Floors:
        """Read a CSV, JSON (list of records) or Parquet floors table; see ``from_frame``."""
        return cls.from_frame(read_table(path), base=base, file=path)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, object]]) -> Floors:
        """Inverse of ``to_records`` (used by saved models); no defaults are merged in."""
        rows = list(records)
        frame = pl.DataFrame(
            rows,
            schema={
                c: pl.String if c in ("vector", "metric") else pl.Float64 for c in FLOOR_COLUMNS
            },
        )
        return cls.from_frame(frame, base=cls(()))

    @classmethod
    def from_labels(
        cls,
        labels: pl.DataFrame,
        *,
        columns: Sequence[str],
        quantile: float = 0.05,
        min_count: int = 20,
    ) -> Floors:
        """Learn floors as a low quantile of expert labels, per (vector, metric).

        ``columns`` are the four label columns in level order (e.g. ``ip_ss..ip_rl``).
        Only positive finite labels count (a zero label says nothing about a minimum).
        Pairs with fewer than ``min_count`` labels use the metric-wide quantile, then the
        overall one; with no usable labels at all the defaults stay.
        """
        if len(columns) != len(LEVELS):
            raise FloodmarkError(f"need {len(LEVELS)} label columns, got {list(columns)}")
        long = labels.select(
            "vector",
            "metric",
            *[pl.col(c).cast(pl.Float64).alias(lv) for c, lv in zip(columns, LEVELS, strict=True)],
        )
        mapping: dict[tuple[str, str], tuple[float, ...]] = {}
        for keys in (["vector", "metric"], ["metric"], []):
            stats = _label_quantiles(long, keys, quantile, min_count)
            for row in stats.iter_rows(named=True):
                vals = np.maximum.accumulate([row[lv] for lv in LEVELS])
                key = (row.get("vector", ANY), row.get("metric", ANY))
                mapping[key] = tuple(float(v) for v in vals)
        return cls.from_mapping(mapping, base=cls.default())

    # -- use ------------------------------------------------------------------------
    def lookup(self, vector: str, metric: str) -> tuple[float, float, float, float]:
        """The four minima for one series (exact pair, then wildcards, else zeros)."""
        table = {(v, m): vals for v, m, vals in self.entries}
        for key in ((vector, metric), (vector, ANY), (ANY, metric), (ANY, ANY)):
            if key in table:
                return table[key]
        return (0.0, 0.0, 0.0, 0.0)

    def for_series(self, keys: pl.DataFrame) -> np.ndarray:
        """An ``(n, 4)`` array of minima for the rows of a frame with vector and metric."""
        pairs = keys.select(pl.col("vector").cast(pl.String), pl.col("metric").cast(pl.String))
        cache: dict[tuple[str, str], tuple[float, ...]] = {}
        out = np.empty((pairs.height, len(LEVELS)), dtype=np.float64)
        for i, (vector, metric) in enumerate(pairs.iter_rows()):
            key = (vector, metric)
            if key not in cache:
                cache[key] = self.lookup(vector, metric)
            out[i] = cache[key]
        return out

    def to_frame(self) -> pl.DataFrame:
        """The table form: ``vector, metric, ss, sc, nw, rl``."""
        return pl.DataFrame(
            self.to_records(),
            schema={"vector": pl.String, "metric": pl.String} | {lv: pl.Float64 for lv in LEVELS},
        )

    def to_records(self) -> list[dict[str, object]]:
        return [
            {"vector": v, "metric": m, **dict(zip(LEVELS, vals, strict=True))}
            for v, m, vals in self.entries
        ]

    def write(self, path: str | Path) -> Path:
        """Write atomically as CSV, JSON or Parquet (by extension)."""
        return write_table(self.to_frame(), path)


def apply_floors(values: np.ndarray, minima: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raise ``values`` (n, 4) to ``minima`` and restore level order.

    Returns the final thresholds and a boolean mask of the cells a floor changed.
    Non-finite inputs become the floor (callers record why in ``fallback``).
    """
    values = np.asarray(values, dtype=np.float64)
    clean = np.where(np.isfinite(values), values, -np.inf)
    floored = clean < minima
    final = np.maximum.accumulate(np.maximum(clean, minima), axis=1)
    return final, floored


def floor_thresholds(table: pl.DataFrame, floors: Floors) -> pl.DataFrame:
    """Apply ``floors`` to an existing thresholds table (e.g. a different floors file).

    Expected false alarms of floored rows can only fall; they are kept as an upper bound.
    """
    final, _ = apply_floors(table.select(LEVELS).to_numpy(), floors.for_series(table))
    return table.with_columns(
        pl.Series(lv, final[:, j], dtype=pl.Float64) for j, lv in enumerate(LEVELS)
    )


def _check_values(values: Sequence[float], *, where: str) -> None:
    if len(values) != len(LEVELS):
        raise FloodmarkError(f"{where}: need {len(LEVELS)} floor values, got {len(values)}")
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise FloodmarkError(
            f"{where}: floors must be finite and non-negative, got {tuple(values)}"
        )
    if any(a > b for a, b in zip(values, values[1:], strict=False)):
        raise FloodmarkError(
            f"{where}: floors must satisfy ss <= sc <= nw <= rl, got {tuple(values)}"
        )


def _label_quantiles(
    long: pl.DataFrame, keys: list[str], quantile: float, min_count: int
) -> pl.DataFrame:
    usable = long.filter(
        pl.all_horizontal(pl.col(lv).is_finite() & (pl.col(lv) > 0) for lv in LEVELS)
    )
    aggs = [pl.col(lv).quantile(quantile, interpolation="linear") for lv in LEVELS]
    if keys:
        stats = usable.group_by(keys, maintain_order=True).agg(*aggs, n=pl.len()).sort(keys)
    else:
        stats = usable.select(*aggs, n=pl.len())
    return stats.filter(pl.col("n") >= min_count)
