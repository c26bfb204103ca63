"""A small fleet for the service tests: a store, objects, two sets (one approved) and keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.io.read_result import ReadResult
from floodmark.registry import approve_set, import_objects, open_registry, publish_thresholds
from floodmark.registry.keys import create_key
from floodmark.schema import LONG_SCHEMA
from floodmark.store import ingest
from floodmark.thresholds.base import THRESHOLD_SCHEMA

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=5)
SAMPLES = 2 * 288  # two days
OBJECTS = {"aa01": "Alpha web", "bb02": "Beta mail", "cc03": "Gamma dns"}
SERIES = [(v, m) for v in ("PT_TCP", "PT_UDP") for m in ("PPS", "BW")]
#: The sample of aa01/PT_TCP/PPS that is an attack (blocked > 0), and its peak.
ATTACK_AT, PEAK_AT = 100, 300


@dataclass(frozen=True)
class ServiceFleet:
    store_dir: Path
    db: str
    keys: dict[str, str]  # role -> secret
    approved: int  # set 1
    draft: int  # set 2: aa01/PT_TCP/PPS ss moved beyond the guard


def samples() -> pl.DataFrame:
    rng = np.random.default_rng(5)
    frames = []
    for pid in OBJECTS:
        for vector, metric in SERIES:
            passed = 100 + 20 * rng.random(SAMPLES)
            blocked = np.zeros(SAMPLES)
            if (pid, vector, metric) == ("aa01", "PT_TCP", "PPS"):
                blocked[ATTACK_AT] = 500.0
                passed[PEAK_AT] = 5000.0
            frames.append(
                pl.DataFrame(
                    {
                        "prediction_id": pid,
                        "vector": vector,
                        "metric": metric,
                        "timestamp": [T0 + i * STEP for i in range(SAMPLES)],
                        "passed": passed,
                        "blocked": blocked,
                    },
                    schema=LONG_SCHEMA,
                )
            )
    return pl.concat(frames)


def thresholds(scale: float = 1.0, moved: float = 1.0) -> pl.DataFrame:
    rows = []
    for pid in OBJECTS:
        for vector, metric in SERIES:
            base = 200.0 * scale
            first = (pid, vector, metric) == ("aa01", "PT_TCP", "PPS")
            rows.append(
                {
                    "prediction_id": pid,
                    "vector": vector,
                    "metric": metric,
                    "method": "rule-max",
                    "ss": base * (moved if first else 1.0),
                    "sc": base * 1.5 * (moved if first else 1.0),
                    "nw": base * 2 * (moved if first else 1.0),
                    "rl": base * 3 * (moved if first else 1.0),
                    "basis": "max x 1.2/1.5/2/3",
                }
            )
    given = pl.DataFrame(rows)
    return given.select(
        pl.col(c).cast(t) if c in given.columns else pl.lit(None, t).alias(c)
        for c, t in THRESHOLD_SCHEMA.items()
    )


def build(root: Path, db: str | None = None) -> ServiceFleet:
    store_dir = root / "store"
    ingest(store_dir, ReadResult(samples=samples()))
    db = db or str(root / "registry.db")
    with open_registry(db) as registry:
        import_objects(
            registry,
            pl.DataFrame(
                {
                    "prediction_id": list(OBJECTS),
                    "name": list(OBJECTS.values()),
                    "networks": [[f"10.0.{i}.0/24"] for i in range(len(OBJECTS))],
                },
                schema={
                    "prediction_id": pl.String,
                    "name": pl.String,
                    "networks": pl.List(pl.String),
                },
            ),
            by="setup",
        )
        first = publish_thresholds(registry, thresholds(), source="week1.csv", by="setup")
        approve_set(registry, first.set_id, by="setup", reason="first week")
        second = publish_thresholds(registry, thresholds(moved=3.0), source="week2.csv", by="setup")
        keys = {
            role: create_key(registry, name=f"{role}-key", role=role, by="setup")[1]
            for role in ("viewer", "reviewer", "admin")
        }
    return ServiceFleet(store_dir, db, keys, first.set_id, second.set_id)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
