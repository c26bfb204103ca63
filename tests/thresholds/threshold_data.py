"""Small synthetic inputs for the threshold tests: samples, features and labels, seeded."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
from scipy import stats

from floodmark.schema import LEVELS, LONG_SCHEMA, VECTORS

T0 = datetime(2024, 3, 1, tzinfo=UTC)
KEYS = ["prediction_id", "vector", "metric"]


def series(
    values: np.ndarray,
    *,
    prediction_id: str = "a1",
    vector: str = "PT_TCP",
    metric: str = "PPS",
    step: int = 300,
    blocked: np.ndarray | None = None,
    start: datetime = T0,
) -> pl.DataFrame:
    """One series in the long table, samples every ``step`` seconds from ``start``."""
    n = len(values)
    ts = np.datetime64(start.replace(tzinfo=None), "us") + np.arange(n) * np.timedelta64(step, "s")
    return pl.DataFrame(
        {
            "prediction_id": [prediction_id] * n,
            "vector": [vector] * n,
            "metric": [metric] * n,
            "timestamp": ts,
            "passed": np.asarray(values, dtype=np.float64),
            "blocked": np.zeros(n) if blocked is None else np.asarray(blocked, dtype=np.float64),
        }
    ).cast(LONG_SCHEMA)


def fleet_samples(
    n_series: int = 8, days: int = 14, step: int = 300, seed: int = 0
) -> pl.DataFrame:
    """Diurnal traffic with noise, a few blocked attack bursts, over several objects/vectors."""
    rng = np.random.default_rng(seed)
    n = days * 86_400 // step
    frames = []
    for i in range(n_series):
        level = rng.lognormal(3, 1)
        phase = np.sin(2 * np.pi * np.arange(n) * step / 86_400)
        x = level * (1 + 0.5 * phase) * rng.lognormal(0, 0.3, n)
        blocked = np.zeros(n)
        start = int(rng.integers(0, n - 20))
        blocked[start : start + 12] = level * 50  # an attack: blocked traffic…
        x[start : start + 12] *= 20  # …and the passed part of it, not baseline
        frames.append(
            series(
                x,
                prediction_id=f"{i // 2:04x}",
                vector=VECTORS[i % 2],
                metric="PPS" if i % 4 < 2 else "BW",
                step=step,
                blocked=blocked,
            )
        )
    return pl.concat(frames)


def simple_features(samples: pl.DataFrame, blocked_threshold: float = 0.0) -> pl.DataFrame:
    """The few feature columns the rules read, computed independently of the feature engine."""
    base = samples.filter(pl.col("blocked") <= blocked_threshold)
    daily = base.group_by(*KEYS, pl.col("timestamp").dt.truncate("1d")).agg(
        m=pl.col("passed").max()
    )
    per_day = daily.group_by(KEYS).agg(
        daily_max_q90=pl.col("m").quantile(0.9, interpolation="linear"),
        daily_max_1=pl.col("m").max(),
    )
    means = samples.group_by(KEYS).agg(
        passed_val_mean=pl.col("passed").mean(), n_samples=pl.len().cast(pl.Int64)
    )
    return means.join(per_day, on=KEYS, how="left").sort(KEYS)


def labelled_features(n_objects: int = 60, seed: int = 0, vectors: int = 4) -> pl.DataFrame:
    """Features with expert-like labels: ip_ss ≈ a vector/metric multiple of daily_max_q90."""
    rng = np.random.default_rng(seed)
    rows = []
    for o in range(n_objects):
        for v in VECTORS[:vectors]:
            for m in ("PPS", "BW"):
                q90 = float(rng.lognormal(2, 1.5))
                mult = (2.0 if m == "PPS" else 3.0) * (1 + VECTORS.index(v) / 4)
                ss = q90 * mult * float(rng.lognormal(0, 0.1))
                ratios = np.cumprod([1.0, *rng.uniform(1.1, 1.8, 3)])
                labels = {
                    f"ip_{lv}": round(ss * r, 2) for lv, r in zip(LEVELS, ratios, strict=True)
                }
                rows.append(
                    {
                        "prediction_id": f"{o:06x}",
                        "vector": v,
                        "metric": m,
                        "n_samples": 8640,
                        "daily_max_q90": q90,
                        "daily_max_1": q90 * float(rng.uniform(1, 2)),
                        "passed_val_mean": q90 * float(rng.uniform(0.05, 0.5)),
                        "noise": float(rng.normal()),
                        **labels,
                    }
                )
    return pl.DataFrame(rows)


def gpd_values(gamma: float, n: int, rng: np.random.Generator, scale: float = 2.0) -> np.ndarray:
    """Baseline 10 plus GPD noise: a tail of known shape."""
    return 10.0 + stats.genpareto.rvs(gamma, scale=scale, size=n, random_state=rng)
