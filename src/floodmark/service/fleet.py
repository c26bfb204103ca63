"""What the service reads: the store (reopened when an ingest commits) and the registry.

The store's catalog, index and the features table are read once per store version
and split by object, so one object's series cost a dictionary lookup and one series'
samples a read of its rows only, from a partition file kept open (a bounded number of
them per store version). The registry is read through a ``RegistryCache``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa

from floodmark.registry import Registry
from floodmark.schema import LONG_SCHEMA
from floodmark.service.registry_view import RegistryCache, RegistryView
from floodmark.store import Store, layout, open_store
from floodmark.store.parquet import RowGroupFile

#: The objects list's columns.
OBJECTS_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "name": pl.String(),
    "networks": pl.List(pl.String()),
    "series": pl.Int64(),
}
#: Partition files a server process keeps open per store version (the bench store has
#: 104; an open file holds its footer and a memory map, no samples).
OPEN_FILES = 256


def _file_cache() -> Callable[[str], RowGroupFile]:
    return functools.lru_cache(maxsize=OPEN_FILES)(RowGroupFile)


@dataclass(frozen=True)
class Snapshot:
    """One store version and what the service derived from it."""

    store: Store
    by_object: dict[str, pl.DataFrame]  # catalog rows of each object
    features: dict[str, pl.DataFrame]  # features rows of each object (empty without a file)
    rows: dict[tuple[str, str, str], tuple[str, int, int]]  # series: (file, first row, rows)
    #: Per object, its series and features as JSON (encoded on first use).
    encoded: dict[str, tuple[orjson.Fragment, orjson.Fragment]] = field(default_factory=dict)
    #: A partition file of this version by path, opened on first use (least recent closed).
    open_file: Callable[[str], RowGroupFile] = field(default_factory=_file_cache)


class Fleet:
    """The store and registry behind one server (thread-safe: requests run in a pool)."""

    def __init__(
        self,
        store_dir: str | Path,
        registry: Registry,
        *,
        features: str | Path | None = None,
        blocked_threshold: float = 0.0,
    ) -> None:
        self.store_dir = Path(store_dir).absolute()
        self.registry = registry
        self.cache = RegistryCache(registry)
        self.features_file = None if features is None else Path(features)
        self.blocked_threshold = blocked_threshold
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._objects: tuple[tuple, pl.DataFrame, dict[str, dict]] | None = None
        self.snapshot()  # fail at start, not at the first request, when the store is wrong

    # -- store --------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The current store version's snapshot (reopened after an ingest)."""
        current = layout.current_version(self.store_dir)
        with self._lock:
            held = self._snapshot
            if held is None or held.store.version_dir != current:
                store = open_store(self.store_dir)
                held = Snapshot(
                    store,
                    _split(store.catalog()),
                    _split(self._read_features()),
                    _row_ranges(store),
                )
                self._snapshot = held
            return held

    def _read_features(self) -> pl.DataFrame | None:
        from floodmark.io.atomic import read_table
        from floodmark.registry import features_path

        path = self.features_file or features_path(self.store_dir)
        return read_table(path) if path.is_file() else None

    def series_samples(self, prediction_id: str, vector: str, metric: str) -> pa.Table:
        """One series' samples (``SAMPLE_COLUMNS``), sorted by time; empty when the store
        has no such series."""
        key = (prediction_id, vector, metric)
        try:
            return self._read_rows(self.snapshot(), key)
        except FileNotFoundError:  # an ingest replaced the version between look-up and read
            return self._read_rows(self.snapshot(), key)

    def _read_rows(self, snap: Snapshot, key: tuple[str, str, str]) -> pa.Table:
        where = snap.rows.get(key)
        if where is None:
            return pl.DataFrame(schema=SAMPLE_SCHEMA).to_arrow()
        # A file is sorted by (prediction_id, timestamp): the rows are in time order.
        path, start, length = where
        return snap.open_file(path).read(start, start + length, SAMPLE_COLUMNS)

    def view(self) -> RegistryView:
        """The registry as it is now (read again only after a write)."""
        return self.cache.view()

    # -- objects ------------------------------------------------------------------
    def objects(self, view: RegistryView | None = None) -> pl.DataFrame:
        """Every object of the store or the registry (``OBJECTS_SCHEMA``), sorted by id."""
        return self._current_objects(view)[1]

    def object(self, prediction_id: str, view: RegistryView | None = None) -> dict | None:
        """One row of ``objects()`` as a dict, or None."""
        return self._current_objects(view)[2].get(prediction_id)

    def _current_objects(
        self, view: RegistryView | None
    ) -> tuple[tuple, pl.DataFrame, dict[str, dict]]:
        snap = self.snapshot()
        view = view or self.view()
        key = (snap.store.version_dir, view.marker)
        with self._lock:
            if self._objects is not None and self._objects[0] == key:
                return self._objects
        named = view.objects
        counts = pl.DataFrame(
            {
                "prediction_id": list(snap.by_object),
                "series": [part.height for part in snap.by_object.values()],
            },
            schema={"prediction_id": pl.String(), "series": pl.Int64()},
        )
        table = (
            named.join(counts, on="prediction_id", how="full", coalesce=True)
            .with_columns(
                pl.col("series").fill_null(0),
                pl.col("networks").fill_null(pl.lit([], dtype=pl.List(pl.String()))),
            )
            .select(OBJECTS_SCHEMA.keys())
            .cast(OBJECTS_SCHEMA)
            .sort("prediction_id")
        )
        by_id = {row["prediction_id"]: row for row in table.iter_rows(named=True)}
        with self._lock:
            self._objects = (key, table, by_id)
        return self._objects


#: The sample columns a series read returns.
SAMPLE_COLUMNS = ("timestamp", "passed", "blocked")
SAMPLE_SCHEMA = {c: LONG_SCHEMA[c] for c in SAMPLE_COLUMNS}


def _row_ranges(store: Store) -> dict[tuple[str, str, str], tuple[str, int, int]]:
    """Where each series' samples are: its partition file, first row and number of rows."""
    index = store.index()
    return {
        (pid, vector, metric): (
            str(layout.partition_dir(store.series_dir, vector, metric) / file),
            offset,
            rows,
        )
        for vector, metric, file, pid, offset, rows in index.iter_rows()
    }


def _split(table: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    if table is None or table.height == 0:
        return {}
    parts = table.sort("prediction_id", "vector", "metric").partition_by(
        "prediction_id", as_dict=True, maintain_order=True
    )
    return {key[0]: part for key, part in parts.items()}
