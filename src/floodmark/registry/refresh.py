"""The weekly refresh: ingest new exports, recompute what changed, publish, diff, review.

What changed is read from the store itself: every series' catalog row (sample count,
first and last timestamp, median step) and the identity of the partition file holding
it (inode, size, modification time). An ingest keeps an untouched partition file as a
hard link to the same inode and writes a new file where samples were added or replaced,
so a series whose fingerprint is unchanged has exactly the samples its saved features
were computed from. The features and their fingerprints are kept in one Parquet file
beside the store (``<store>.features.parquet``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from floodmark.errors import InsufficientDataError
from floodmark.io.atomic import write_table
from floodmark.machine import CHUNK_ROWS
from floodmark.registry.diff import DEFAULT_GUARD, Guard, diff_thresholds
from floodmark.registry.engine import Registry
from floodmark.registry.publish import Published, publish_thresholds
from floodmark.registry.sets import approved_set_id, effective_thresholds
from floodmark.schema import KEY_COLUMNS
from floodmark.thresholds.base import empty_thresholds

if TYPE_CHECKING:
    from floodmark.store import IngestSummary, Store

KEYS = list(KEY_COLUMNS)
FINGERPRINT = "store_fingerprint"


@dataclass(frozen=True)
class Refreshed:
    """What ``refresh`` did."""

    ingest: IngestSummary
    series: int  # in the store
    recomputed: int  # series whose features were computed again
    published: Published
    approved: int | None  # the set diffed against (None: nothing approved yet)
    diff: pl.DataFrame  # ``floodmark.registry.diff.DIFF_SCHEMA``

    @property
    def needs_review(self) -> bool:
        return bool(self.diff["needs_review"].any())


def features_path(store_dir: str | Path) -> Path:
    """Where ``refresh`` keeps a store's features: ``<store>.features.parquet`` beside it."""
    store_dir = Path(store_dir).absolute()
    return store_dir.with_name(f"{store_dir.name}.features.parquet")


def refresh(
    registry: Registry,
    store_dir: str | Path,
    inputs: Sequence[str | Path],
    *,
    method: str | None = None,
    model: str | Path | None = None,
    features: str | Path | None = None,
    guard: Guard = DEFAULT_GUARD,
    by: str,
    note: str | None = None,
) -> Refreshed:
    """Ingest ``inputs``, recompute features of changed series, publish a draft, diff it.

    ``method`` defaults to ``model`` when ``model`` (a ``floodmark train`` directory) is
    given and to ``rule-max`` otherwise. The draft is diffed against the approved set's
    effective thresholds (against nothing when no set is approved: every series is new).
    Running it again on the same inputs writes nothing: the store, the features file
    and the registry stay as they are (same content, same set).
    """
    import floodmark as fm

    method = method or ("model" if model is not None else "rule-max")
    if (method == "model") != (model is not None):
        raise fm.FloodmarkError("--method model and --model MODEL_DIR go together")
    summary = fm.ingest_files(store_dir, inputs)
    store = fm.open_store(store_dir)
    features_file = Path(features) if features is not None else features_path(store_dir)
    table, recomputed = _update_features(store, features_file)
    table = table.drop(FINGERPRINT)
    if method == "model":
        thresholds = fm.GBTModel.load(model).predict(table)
    else:
        thresholds = fm.recommend_thresholds(table, fm.make_method(method), store=store)
    published = publish_thresholds(
        registry, thresholds, source=f"refresh {Path(store_dir).name}", by=by, note=note
    )
    approved = approved_set_id(registry)
    old = empty_thresholds() if approved is None else effective_thresholds(registry, approved)
    diff = diff_thresholds(old, effective_thresholds(registry, published.set_id), guard)
    return Refreshed(summary, table.height, recomputed, published, approved, diff)


def store_fingerprints(store: Store) -> pl.DataFrame:
    """Keys and a text that changes whenever a series' samples may have changed."""
    dirs = {(v, m): d for v, m, d in store.partitions()}
    files = store.index().select("vector", "metric", "file").unique()
    identity = [_file_identity(dirs[(v, m)] / name) for v, m, name in files.iter_rows()]
    files = files.with_columns(file_id=pl.Series(identity, dtype=pl.String))
    located = (
        store.index()
        .join(files, on=["vector", "metric", "file"])
        .select(
            *KEYS,
            pl.concat_str("file", "file_id", "row_offset", "n_rows", separator=":").alias(
                "location"
            ),
        )
    )
    catalog = store.catalog().select(
        *KEYS,
        pl.concat_str(
            "n_samples",
            "first_timestamp",
            "last_timestamp",
            "median_step_s",
            separator=":",
            ignore_nulls=True,
        ).alias("stats"),
    )
    return catalog.join(
        located.group_by(KEYS).agg(pl.col("location").sort().str.join(";")), on=KEYS, how="left"
    ).select(
        *KEYS,
        pl.concat_str("stats", "location", separator="|", ignore_nulls=True).alias(FINGERPRINT),
    )


def _file_identity(path: Path) -> str:
    info = path.stat()
    return f"{info.st_ino}-{info.st_size}-{info.st_mtime_ns}"


def _update_features(store: Store, path: Path) -> tuple[pl.DataFrame, int]:
    """The features of every series (saved ones reused), and how many were recomputed."""
    import floodmark as fm
    from floodmark.features.engine import finish_features

    current = store_fingerprints(store)
    if current.height == 0:
        raise InsufficientDataError(
            "the store holds no series: nothing to recommend", file=store.path
        )
    saved = _saved_features(path)
    if saved is None or FINGERPRINT not in saved.columns:
        stale = current
        kept = None
    else:
        kept = saved.join(current, on=[*KEYS, FINGERPRINT], how="semi")
        stale = current.join(kept.select(KEYS), on=KEYS, how="anti")
    if stale.height == 0 and kept is not None and kept.height == saved.height:
        return saved, 0
    parts = [] if kept is None or kept.height == 0 else [kept.drop(FINGERPRINT)]
    parts += [fm.compute_features(batch) for batch in _samples_of(store, stale, CHUNK_ROWS)]
    # Cross-series features (a series' share of its object's PT_TOTAL) are finished
    # again over the whole fleet: a recomputed PT_TOTAL changes its unchanged siblings.
    merged = pl.concat(parts, how="diagonal_relaxed").drop(_cross_series_columns())
    table = finish_features(merged).join(current, on=KEYS, how="left")
    write_table(table, path)
    return table, stale.height


def _samples_of(store: Store, series: pl.DataFrame, max_rows: int) -> Iterator[pl.DataFrame]:
    """The samples of ``series`` (keys), whole series of one partition at a time, read
    through the store's index: only their rows are read, about ``max_rows`` at once."""
    sizes = (
        store.catalog()
        .join(series.select(KEYS), on=KEYS, how="semi")
        .select(*KEYS, "n_samples")
        .sort(KEYS[1:] + KEYS[:1])
    )
    for (vector, metric), part in sizes.group_by("vector", "metric", maintain_order=True):
        batch: list[str] = []
        rows = 0
        for prediction_id, n_samples in part.select("prediction_id", "n_samples").iter_rows():
            if batch and rows + n_samples > max_rows:
                yield store.read_series(batch, vector, metric)
                batch, rows = [], 0
            batch.append(prediction_id)
            rows += n_samples
        if batch:
            yield store.read_series(batch, vector, metric)


def _saved_features(path: Path) -> pl.DataFrame | None:
    """The features file of the last refresh; None when missing or unreadable (a cache:
    everything is then computed again and the file rewritten)."""
    if not path.is_file():
        return None
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError):
        return None


def _cross_series_columns() -> list[str]:
    from floodmark.features.families import FAMILIES

    return [column for family in FAMILIES if family.finish is not None for column in family.columns]
