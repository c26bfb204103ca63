"""Synthetic long tables built with numpy: daily cycles, attacks, gaps, zeros, peaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from floodmark.schema import LONG_SCHEMA

VECTORS = ("PT_TOTAL", "PT_TCP", "PT_UDP", "PT_DNS")


def make_fleet(
    n_objects: int,
    *,
    days: float = 10,
    step_s: int = 300,
    vectors: tuple[str, ...] = VECTORS,
    metrics: tuple[str, ...] = ("PPS", "BW"),
    seed: int = 0,
) -> pl.DataFrame:
    """A long table of ``n_objects × vectors × metrics`` series, shuffled.

    Each series: a daily cycle times a per-series scale, noise, values rounded
    to 3 decimals; some attacks (runs with ``blocked > 0``), gaps (missing runs),
    dead periods (total 0), isolated super peaks; series start off midnight.
    """
    rng = np.random.default_rng(seed)
    frames = []
    start = 1_700_000_000 - 1_700_000_000 % 86_400
    for obj in range(n_objects):
        pid = f"{rng.integers(0, 2**63):016x}{obj:04x}"
        for vector in vectors:
            for metric in metrics:
                frames.append(_series(rng, pid, vector, metric, start, days, step_s))
    fleet = pl.concat(frames)
    return fleet.sample(fraction=1.0, shuffle=True, seed=seed)


def _series(rng, pid, vector, metric, start, days, step_s) -> pl.DataFrame:
    offset = int(rng.integers(0, 86_400 // step_s)) * step_s
    n = int(days * 86_400 // step_s)
    t = start + offset + step_s * np.arange(n, dtype=np.int64)
    scale = 10 ** rng.uniform(-2, 6)
    phase = 2 * np.pi * (t % 86_400) / 86_400
    passed = scale * (1.2 + np.sin(phase)) * rng.lognormal(0, 0.3, n)
    blocked = np.zeros(n)
    for _ in range(rng.integers(0, 4)):  # attacks
        a = int(rng.integers(0, n))
        length = int(rng.integers(1, 40))
        blocked[a : a + length] = scale * rng.uniform(5, 50)
        passed[a : a + length] *= rng.uniform(1, 3)
    for _ in range(rng.integers(0, 3)):  # dead periods
        a = int(rng.integers(0, n))
        passed[a : a + int(rng.integers(1, 300))] = 0
        blocked[a : a + int(rng.integers(1, 300))] = 0
    for _ in range(rng.integers(0, 5)):  # super peaks
        passed[int(rng.integers(0, n))] *= rng.uniform(5, 30)
    if rng.random() < 0.2:  # mostly-silent vector
        passed[rng.random(n) < 0.9] = 0
    keep = np.ones(n, dtype=bool)
    for _ in range(rng.integers(0, 4)):  # gaps
        a = int(rng.integers(0, n))
        keep[a : a + int(rng.integers(1, 600))] = False
    keep[rng.random(n) < 0.01] = False
    return series_table(pid, vector, metric, t[keep], passed[keep].round(3), blocked[keep].round(3))


def series_table(pid, vector, metric, epoch_s, passed, blocked) -> pl.DataFrame:
    """One series as a long table (``epoch_s`` in seconds)."""
    epoch_s = np.asarray(epoch_s, dtype=np.int64)
    return pl.DataFrame(
        {
            "prediction_id": [pid] * len(epoch_s),
            "vector": [vector] * len(epoch_s),
            "metric": [metric] * len(epoch_s),
            "timestamp": pl.Series(epoch_s * 1_000_000).cast(pl.Datetime("us", "UTC")),
            "passed": np.asarray(passed, dtype=np.float64),
            "blocked": np.asarray(blocked, dtype=np.float64),
        },
        schema=LONG_SCHEMA,
    )


def to_port_input(long: pl.DataFrame) -> pd.DataFrame:
    """The long table as pandas with ``timestamp`` in epoch seconds, for the port."""
    return long.with_columns(pl.col("timestamp").dt.epoch("s")).to_pandas()
