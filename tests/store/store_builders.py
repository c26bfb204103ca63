"""Builders for reader batches (ReadResult) and snapshots of a store directory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.io.codec import decode_time_series, encode_time_series
from floodmark.io.read_result import ReadResult, empty_series_meta
from floodmark.schema import LONG_SCHEMA, QUARANTINE_SCHEMA
from floodmark.store.tables import FILE_COLUMNS

T0 = 1_700_000_000  # epoch seconds, 2023-11-14


def series_frame(
    prediction_id: str,
    vector: str,
    metric: str,
    timestamps,
    passed,
    blocked=None,
) -> pl.DataFrame:
    """One series in LONG_SCHEMA from epoch seconds and values."""
    ts = np.asarray(timestamps, dtype=np.int64)
    passed = np.asarray(passed, dtype=np.float64)
    blocked = np.zeros(ts.size) if blocked is None else np.asarray(blocked, dtype=np.float64)
    return pl.DataFrame(
        {
            "prediction_id": [prediction_id] * ts.size,
            "vector": [vector] * ts.size,
            "metric": [metric] * ts.size,
            "timestamp": ts * 1_000_000,
            "passed": passed,
            "blocked": blocked,
        },
        schema_overrides={"prediction_id": pl.String, "vector": pl.String, "metric": pl.String},
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us", "UTC")))


def vendor_frame(prediction_id, vector, metric, timestamps, passed, blocked=None) -> pl.DataFrame:
    """The same series after a trip through the vendor codec, as a reader would give it."""
    ts = np.asarray(timestamps, dtype=np.int64)
    blocked = np.zeros(ts.size) if blocked is None else np.asarray(blocked, dtype=np.float64)
    decoded = decode_time_series(encode_time_series(ts, passed, ts, blocked))
    return series_frame(
        prediction_id, vector, metric, decoded.timestamps, decoded.passed, decoded.blocked
    )


def batch(
    *frames: pl.DataFrame,
    source: str = "input.parquet",
    labels: dict | None = None,
    quarantine: list[dict] | None = None,
    repaired: int = 0,
    meta_only: list[tuple[str, str, str]] = (),
) -> ReadResult:
    """A ReadResult holding ``frames``; every series gets a meta row with ``source``/``labels``."""
    samples = pl.concat(frames).cast(LONG_SCHEMA) if frames else pl.DataFrame(schema=LONG_SCHEMA)
    keys = samples.select("prediction_id", "vector", "metric").unique(maintain_order=True)
    keys = pl.concat([keys, pl.DataFrame(list(meta_only), schema=keys.schema, orient="row")])
    meta = keys.with_columns(pl.lit(source).alias("source"))
    for name, value in (labels or {}).items():
        meta = meta.with_columns(pl.lit(value, dtype=pl.Float64).alias(name))
    meta = pl.concat([empty_series_meta(), meta], how="diagonal_relaxed")
    q = pl.DataFrame(quarantine or [], schema=QUARANTINE_SCHEMA)
    return ReadResult(samples=samples, series=meta, quarantine=q, repaired_duplicates=repaired)


def regular(n: int, start: int = T0, step: int = 300) -> np.ndarray:
    return start + step * np.arange(n, dtype=np.int64)


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under ``root``: symlink targets, file hashes, directories."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def partition_frame(rows: int, seed: int) -> pl.DataFrame:
    """A partition file's rows: objects in id order, each sorted by time, NaN and nulls in."""
    rng = np.random.default_rng(seed)
    passed = rng.random(rows) * 1e6
    passed[rng.random(rows) < 0.05] = np.nan
    blocked = pl.Series(rng.random(rows)).scatter(np.flatnonzero(rng.random(rows) < 0.05), None)
    owner = np.sort(rng.integers(0, 5, rows))
    return pl.DataFrame(
        {
            "prediction_id": [f"obj{i}" for i in owner],
            "timestamp": pl.from_epoch(regular(rows), "s").dt.replace_time_zone("UTC"),
            "passed": passed,
            "blocked": blocked,
        },
        schema_overrides={"timestamp": LONG_SCHEMA["timestamp"]},
    ).select(FILE_COLUMNS)
