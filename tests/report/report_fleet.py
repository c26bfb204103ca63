"""A small seeded fleet, run through the real store, features, thresholds and backtest."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from floodmark.io.read_result import ReadResult
from floodmark.schema import LEVELS, LONG_SCHEMA

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=5)
PER_DAY = 288
VECTORS = ("PT_SYN", "PT_UDP", "PT_TOTAL")


def make_series(
    pid: str = "ab12",
    vector: str = "PT_SYN",
    metric: str = "PPS",
    *,
    days: int = 8,
    seed: int = 0,
    scale: float = 1.0,
    attacks: tuple[tuple[int, int], ...] = ((2 * PER_DAY + 40, 6),),
    spike_at: int | None = 5 * PER_DAY + 100,
) -> pl.DataFrame:
    """A daily-cycle series; ``attacks`` are (first sample, length) runs of blocked > 0."""
    rng = np.random.default_rng(seed)
    n = days * PER_DAY
    phase = (np.arange(n) % PER_DAY) / PER_DAY
    passed = scale * (100 + 60 * np.sin(2 * np.pi * (phase - 0.25)) + rng.gamma(2.0, 8.0, n))
    blocked = np.zeros(n)
    for start, length in attacks:
        blocked[start : start + length] = 1500 * scale
        passed[start : start + length] += 3 * scale
    if spike_at is not None and spike_at < n:
        passed[spike_at] = 2000 * scale
    return pl.DataFrame(
        {
            "prediction_id": pid,
            "vector": vector,
            "metric": metric,
            "timestamp": [T0 + i * STEP for i in range(n)],
            "passed": passed,
            "blocked": blocked,
        },
        schema=LONG_SCHEMA,
    )


def make_inputs(n_objects: int = 3, days: int = 10, *, labels: bool = True) -> ReadResult:
    """Samples, per-series labels and a quarantine, as a reader would return them."""
    rng = np.random.default_rng(11)
    frames, meta = [], []
    for o in range(n_objects):
        pid = f"{o:02d}" + "c0ffee" * 3
        for v, vector in enumerate(VECTORS):
            for metric in ("PPS", "BW"):
                scale = float(10 ** rng.uniform(0, 2)) * (1000 if metric == "BW" else 1)
                # One attack while learning, one in the backtest's test days.
                attacks = ((2 * PER_DAY + 40, 6), (8 * PER_DAY + 100, 12)) if (o + v) % 2 else ()
                s = make_series(
                    pid, vector, metric, days=days, seed=10 * o + v, scale=scale, attacks=attacks
                )
                if o == 0 and vector == "PT_UDP":
                    # A gap, so missing_tmstmp_percentage differs between series.
                    s = pl.concat([s.head(1000), s.slice(1100)])
                frames.append(s)
                row = {
                    "prediction_id": pid,
                    "vector": vector,
                    "metric": metric,
                    "source": "made.parquet",
                    "request_id": None,
                }
                for level, factor in zip(LEVELS, (1.5, 2.0, 3.0, 5.0), strict=True):
                    expert = scale * 300 * factor * float(rng.uniform(0.7, 1.4))
                    row[f"ip_{level}"] = expert if labels else None
                    row[f"range_{level}"] = None
                meta.append(row)
    quarantine = pl.DataFrame(
        {
            "source": ["made.parquet", "made.parquet", "other.parquet"],
            "row": [7, 9, 0],
            "prediction_id": ["dead01", "dead02", None],
            "vector": ["PT_SYN", "PT_UDP", None],
            "metric": ["PPS", "PPS", None],
            "reason": ["negative_value", "negative_value", "bad_gzip"],
            "detail": ["passed -3.0 at 1709251200", "blocked -1.0 at 1709251500", "not gzip"],
        }
    )
    series = pl.DataFrame(
        meta,
        schema_overrides={
            "request_id": pl.String,
            **{f"{p}_{lv}": pl.Float64 for p in ("ip", "range") for lv in LEVELS},
        },
    )
    return ReadResult(samples=pl.concat(frames), series=series, quarantine=quarantine)


@dataclass(frozen=True)
class Fleet:
    """A store and every result file the report reads."""

    store_dir: Path
    features: Path
    super_peaks: Path
    thresholds: Path
    backtest: Path | None


def build_fleet(root: Path, *, labels: bool = True, with_backtest: bool = True) -> Fleet:
    """Ingest the inputs and write features, super peaks, thresholds and a backtest."""
    from floodmark.backtest import run_backtest
    from floodmark.features import compute_features, find_super_peaks
    from floodmark.store import ingest, open_store
    from floodmark.thresholds import make_method, recommend_thresholds

    store_dir = root / "store"
    ingest(store_dir, make_inputs(labels=labels))
    store = open_store(store_dir)
    samples = store.read_series()
    features = compute_features(samples)
    paths = Fleet(
        store_dir=store_dir,
        features=root / "features.parquet",
        super_peaks=root / "features.super_peaks.parquet",
        thresholds=root / "thresholds.parquet",
        backtest=root / "bt.json" if with_backtest else None,
    )
    features.write_parquet(paths.features)
    find_super_peaks(samples).write_parquet(paths.super_peaks)
    methods = ("rule-daily", "evt")
    pl.concat(
        [recommend_thresholds(features, make_method(m), store=store) for m in methods],
        how="diagonal_relaxed",
    ).write_parquet(paths.thresholds)
    if paths.backtest is not None:
        run_backtest(store, list(methods), learn_days=7).to_json(paths.backtest)
    return paths
