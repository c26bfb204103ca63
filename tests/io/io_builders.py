"""Builders shared by the io tests: long tables, vendor blobs and vendor files."""

from __future__ import annotations

import base64
import gzip
import zlib
from pathlib import Path

import numpy as np
import orjson
import polars as pl

from floodmark.schema import LONG_SCHEMA

DAY_S = 86_400
T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def long_frame(rows: list[tuple]) -> pl.DataFrame:
    """A long table from ``(pid, vector, metric, epoch_s, passed, blocked)`` rows."""
    frame = pl.DataFrame(
        rows,
        schema={
            "prediction_id": pl.String,
            "vector": pl.String,
            "metric": pl.String,
            "timestamp": pl.Int64,
            "passed": pl.Float64,
            "blocked": pl.Float64,
        },
        orient="row",
    )
    return frame.with_columns((pl.col("timestamp") * 1_000_000).cast(LONG_SCHEMA["timestamp"]))


def series_rows(pid: str, vector: str, metric: str, n: int, *, step: int = 300) -> list[tuple]:
    """``n`` plain samples (passed = 1, 2, ...; nothing blocked)."""
    return [(pid, vector, metric, T0 + i * step, float(i + 1), 0.0) for i in range(n)]


def blob(doc: object) -> str:
    """base64(gzip(JSON)) of any document, the way the vendor packs it."""
    raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


def days(samples: list[tuple[int, float]]) -> dict:
    """Vendor days from ``(timestamp, value)`` pairs (all under one day key is fine)."""
    out: dict = {}
    for ts, value in samples:
        key = str(np.datetime64(ts // DAY_S, "D"))
        out.setdefault(key, {"values": []})["values"].append({"value": value, "timeStamp": ts})
    return out


def doc(passed: list[tuple[int, float]], blocked: list[tuple[int, float]] | None = None) -> dict:
    return {"passedDays": days(passed), "blockedDays": days(blocked or []), "underAttack": False}


GOOD = doc([(T0, 1.0), (T0 + 300, 2.0)])


def write_vendor_rows(path: Path, rows: list[dict]) -> Path:
    """A vendor export from raw row dicts (keys, ``time_series`` and any labels)."""
    pl.DataFrame(rows).write_parquet(path)
    return path


def gzip_bomb(inflated: int) -> bytes:
    """gzip of a vendor JSON head then zeros up to ``inflated`` bytes, built in 1 MB steps."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b'{"passedDays":{"d":{"values":[')]
    parts += [packer.compress(bytes(1 << 20)) for _ in range(inflated >> 20)]
    return b"".join(parts) + packer.flush()
