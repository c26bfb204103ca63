"""``open_store``: read a store's catalog, quarantine and samples.

A ``Store`` reads the version that was current when it was opened, so everything
it returns is one consistent snapshot even while an ingest commits a new one. The
ingest after that one deletes the snapshot; a Store that outlives it raises
StoreError and must be opened again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from floodmark.errors import StoreError
from floodmark.schema import KEY_COLUMNS, LONG_SCHEMA
from floodmark.store import layout
from floodmark.store.chunks import ChunkSpec, iter_chunk_frames, plan_chunks, read_chunk
from floodmark.store.parquet import read_file, scan_files
from floodmark.store.tables import CATALOG_SCHEMA, INDEX_SCHEMA, STORE_QUARANTINE_SCHEMA

Names = str | Sequence[str] | None


def open_store(store_dir: str | Path) -> Store:
    """Open the store at ``store_dir`` (StoreError when it is missing or not a store).

    >>> store = open_store("fleet-store")  # doctest: +SKIP
    >>> for chunk in store.iter_chunks(1_000_000):  # doctest: +SKIP
    ...     features = compute_features(chunk)
    """
    # Absolute, so chunk specs stay valid in worker processes with another cwd.
    root = Path(store_dir).absolute()
    if not root.is_dir():
        raise StoreError("store not found", file=root)
    for _ in range(3):  # a commit may swap .current between readlink and reading
        version = layout.current_version(root)
        if version is None:
            layout.read_marker(root / layout.MARKER)  # names why: missing or foreign
            raise StoreError("store has no current version", file=root)
        try:
            info = layout.read_marker(version / layout.MARKER)
        except StoreError:
            if version.is_dir():
                raise
            continue
        return Store(root, version, info)
    raise StoreError("store keeps changing while being opened; try again", file=root)


class Store:
    """A read-only snapshot of one store version."""

    def __init__(self, root: Path, version_dir: Path, info: dict) -> None:
        self.path = root
        self.version_dir = version_dir
        self.info = info
        self._index: pl.DataFrame | None = None

    @property
    def version(self) -> str:
        return self.version_dir.name

    @property
    def series_dir(self) -> Path:
        return self.version_dir / layout.SERIES

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, version={self.version!r})"

    def catalog(self) -> pl.DataFrame:
        """One row per series: keys, n_samples, first/last timestamp, median step, labels."""
        return self._read(layout.CATALOG, CATALOG_SCHEMA)

    def quarantine(self) -> pl.DataFrame:
        """Rejected series: source, row, keys, reason, detail, ingested_at."""
        return self._read(layout.QUARANTINE, STORE_QUARANTINE_SCHEMA)

    def index(self) -> pl.DataFrame:
        """Where each series' rows are: vector, metric, file, prediction_id, row_offset, n_rows."""
        if self._index is None:
            self._index = self._read(layout.INDEX, INDEX_SCHEMA)
        return self._index

    def scan(self) -> pl.LazyFrame:
        """All samples as a LazyFrame in LONG_SCHEMA, in store order.

        vector/metric come from the partitions. Built per partition rather than by
        Hive discovery, which would also read ``k=v`` folders above the store.
        """
        files = self.index().select("vector", "metric", "file").unique().sort(pl.all())
        if files.height == 0:
            return pl.LazyFrame(schema=LONG_SCHEMA)
        scans = [
            scan_files(
                [layout.partition_dir(self.series_dir, v, m) / f for f in part["file"]]
            ).with_columns(pl.lit(v).alias("vector"), pl.lit(m).alias("metric"))
            for (v, m), part in files.group_by("vector", "metric", maintain_order=True)
        ]
        return pl.concat(scans, how="vertical").select(LONG_SCHEMA.keys()).cast(LONG_SCHEMA)

    def partitions(self) -> list[tuple[str, str, Path]]:
        """``(vector, metric, directory)`` of every partition holding samples."""
        pairs = self.index().select("vector", "metric").unique().sort("vector", "metric")
        return [(v, m, layout.partition_dir(self.series_dir, v, m)) for v, m in pairs.iter_rows()]

    def read_series(
        self, prediction_id: Names = None, vector: Names = None, metric: Names = None
    ) -> pl.DataFrame:
        """Samples of the matching series (each filter a name, a list, or None for all).

        Sorted by (prediction_id, vector, metric, timestamp); only the matching rows
        are read, thanks to the index.
        """
        index = self.index()
        for column, wanted in zip(KEY_COLUMNS, (prediction_id, vector, metric), strict=True):
            if wanted is not None:
                names = [wanted] if isinstance(wanted, str) else list(wanted)
                index = index.filter(pl.col(column).is_in(names))
        plan = plan_chunks(index, self.series_dir, max_rows=max(1, int(index["n_rows"].sum())))
        with self._guard():
            frames = [read_chunk(spec) for spec in plan]
        if not frames:
            return pl.DataFrame(schema=LONG_SCHEMA)
        return pl.concat(frames).sort(*KEY_COLUMNS, "timestamp")

    def chunk_plan(
        self, max_rows: int = 2_000_000, *, vectors: Names = None, metrics: Names = None
    ) -> list[ChunkSpec]:
        """Chunks of complete series, each of at most ``max_rows`` rows (a longer series is
        its own chunk); give each to ``read_chunk`` in any process."""
        return plan_chunks(self._select(vectors, metrics), self.series_dir, max_rows)

    def iter_chunks(
        self, max_rows: int = 2_000_000, *, vectors: Names = None, metrics: Names = None
    ) -> Iterator[pl.DataFrame]:
        """Stream the store as LONG_SCHEMA frames of complete series, in store order.

        Every sample is in exactly one chunk; memory holds about one chunk.
        """
        plan = self.chunk_plan(max_rows, vectors=vectors, metrics=metrics)
        with self._guard():
            yield from iter_chunk_frames(plan)

    def _select(self, vectors: Names, metrics: Names) -> pl.DataFrame:
        index = self.index()
        if vectors is not None:
            index = index.filter(
                pl.col("vector").is_in([vectors] if isinstance(vectors, str) else list(vectors))
            )
        if metrics is not None:
            index = index.filter(
                pl.col("metric").is_in([metrics] if isinstance(metrics, str) else list(metrics))
            )
        return index

    def _read(self, name: str, schema: dict) -> pl.DataFrame:
        with self._guard():
            return read_file(self.version_dir / name).cast(schema)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError:
            if self.version_dir.is_dir():
                raise
            raise StoreError(
                f"store version {self.version} was replaced by a later ingest; open it again",
                file=self.path,
            ) from None
