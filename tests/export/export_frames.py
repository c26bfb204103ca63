"""Frames for the export tests: objects with IPv4 and IPv6 networks, thresholds."""

from __future__ import annotations

import polars as pl

from floodmark.io.objects import OBJECT_SCHEMA
from floodmark.thresholds.base import THRESHOLD_SCHEMA


def objects_frame(rows: list[tuple[str, str, list[str]]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"prediction_id": p, "name": n, "networks": nets} for p, n, nets in rows],
        schema=OBJECT_SCHEMA,
    )


def thresholds_frame(rows: list[tuple[str, str, str, float]], *, method: str = "rule-max"):
    """One row per series; ``value`` is ``nw`` and the other levels scale around it."""
    return pl.DataFrame(
        [
            {
                "prediction_id": p,
                "vector": v,
                "metric": m,
                "method": method,
                "ss": value / 2,
                "sc": value / 1.5,
                "nw": value,
                "rl": value * 2,
                "basis": "test",
            }
            for p, v, m, value in rows
        ],
        schema={k: t for k, t in THRESHOLD_SCHEMA.items() if k != "fallback"}
        | {"fallback": pl.String()},
    ).select(list(THRESHOLD_SCHEMA))
