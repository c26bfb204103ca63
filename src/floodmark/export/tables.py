"""``csv`` and ``json``: every series and all four levels, for any other system.

One row per series: the object's ``name`` and ``networks`` beside the thresholds
table's columns, and ``unit`` (``pps``, or the BW unit the values are in; values
are not converted).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl

from floodmark.export.inputs import object_order
from floodmark.export.summary import (
    GROUP_SCHEMA,
    LEFT_OUT_SCHEMA,
    UNEXPORTED_SCHEMA,
    ExportSummary,
    write_sidecar,
)
from floodmark.io.atomic import atomic_path
from floodmark.thresholds.base import THRESHOLD_SCHEMA


def export_table(
    thresholds: pl.DataFrame, objects: pl.DataFrame, *, fmt: str, out: Path, bw_unit: str
) -> ExportSummary:
    """Write every series with its object's name and networks; report objects without networks."""
    columns = [c for c in THRESHOLD_SCHEMA if c in thresholds.columns]
    columns += [c for c in thresholds.columns if c not in columns]
    table = (
        thresholds.select(columns)
        .join(objects.select("prediction_id", "name", "networks"), on="prediction_id", how="left")
        .with_columns(
            unit=pl.when(pl.col("metric") == "PPS").then(pl.lit("pps")).otherwise(pl.lit(bw_unit))
        )
    )
    order = ["prediction_id", "name", "networks", "vector", "metric", "unit"]
    table = table.select(*order, *(c for c in table.columns if c not in order))
    known = {
        pid: bool(networks)
        for pid, networks in objects.select("prediction_id", "networks").iter_rows()
    }
    without = tuple(pid for pid in object_order(thresholds) if not known.get(pid))
    with atomic_path(out) as tmp:
        if fmt == "csv":
            # CSV cells hold text: networks as the objects file writes them, space-separated.
            table.with_columns(pl.col("networks").list.join(" ")).write_csv(tmp)
        else:
            tmp.write_bytes(orjson.dumps(table.to_dicts(), option=orjson.OPT_INDENT_2))
    unexported = pl.DataFrame(schema=UNEXPORTED_SCHEMA)
    left_out = pl.DataFrame(schema=LEFT_OUT_SCHEMA)
    sidecar = write_sidecar(
        out,
        unexported,
        left_out,
        without,
        no_network_reason="object has no networks: its series are exported without networks",
    )
    return ExportSummary(
        format=fmt,
        level=None,
        files=(out, sidecar),
        unexported=unexported,
        objects_without_networks=without,
        networks_left_out=left_out,
        groups=pl.DataFrame(schema=GROUP_SCHEMA),
    )
