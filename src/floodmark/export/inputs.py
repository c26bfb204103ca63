"""Checks and look-ups shared by every format: the thresholds and objects frames."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

import polars as pl

from floodmark.errors import FloodmarkError, SchemaError
from floodmark.io.objects import OBJECT_SCHEMA
from floodmark.schema import KEY_COLUMNS, LEVELS

#: ``--bw-unit``: the unit the thresholds' BW values are in, and its size in Mbit/s.
#: Divisors, not factors: ``3000 / 1000`` is exactly 3, ``3000 * 0.001`` need not be.
BW_UNITS: dict[str, float] = {"bps": 1e6, "kbps": 1e3, "mbps": 1.0}


def check_thresholds(thresholds: pl.DataFrame) -> pl.DataFrame:
    """Keys as strings, the four levels as floats, one row per series."""
    if not isinstance(thresholds, pl.DataFrame):
        raise SchemaError(f"thresholds must be a polars DataFrame, got {type(thresholds).__name__}")
    missing = [c for c in (*KEY_COLUMNS, *LEVELS) if c not in thresholds.columns]
    if missing:
        raise SchemaError(f"thresholds lack columns {missing}")
    try:
        table = thresholds.with_columns(
            *(pl.col(k).cast(pl.String) for k in KEY_COLUMNS),
            *(pl.col(lv).cast(pl.Float64) for lv in LEVELS),
        )
    except pl.exceptions.PolarsError as exc:
        raise SchemaError(f"thresholds levels must be numbers ({exc})") from None
    keys = list(KEY_COLUMNS)
    nulls = table.filter(pl.any_horizontal(pl.col(keys).is_null()))
    if nulls.height:
        raise SchemaError(f"thresholds have {nulls.height} rows with an empty {'/'.join(keys)}")
    dupes = table.select(keys).filter(pl.struct(keys).is_duplicated())
    if dupes.height:
        raise SchemaError(
            f"thresholds hold {dupes.height} rows of repeated series (one row per series expected)",
            series="/".join(map(str, dupes.row(0))),
        )
    return table


def check_objects(objects: pl.DataFrame) -> pl.DataFrame:
    """``OBJECT_SCHEMA`` columns with one row per object and valid prefixes."""
    if not isinstance(objects, pl.DataFrame):
        raise SchemaError(f"objects must be a polars DataFrame, got {type(objects).__name__}")
    missing = [c for c in OBJECT_SCHEMA if c not in objects.columns]
    if missing:
        raise SchemaError(f"objects lack columns {missing}")
    table = objects.select(list(OBJECT_SCHEMA)).cast(OBJECT_SCHEMA)
    dupes = table.filter(pl.col("prediction_id").is_duplicated())
    if dupes.height:
        raise SchemaError(f"objects repeat prediction_id {dupes['prediction_id'][0]!r}")
    for pid, networks in table.select("prediction_id", "networks").iter_rows():
        for network in networks or ():
            try:
                ipaddress.ip_network(network, strict=True)
            except ValueError as exc:
                raise SchemaError(f"object {pid!r}: {exc}") from None
    return table


def check_level(level: str | None, fmt: str) -> str:
    """The level a device format exports (it has room for one)."""
    if level not in LEVELS:
        raise FloodmarkError(f"format {fmt} needs a level, one of {', '.join(LEVELS)}")
    return level


def check_bw_unit(bw_unit: str) -> float:
    """The divisor from ``bw_unit`` to Mbit/s."""
    if bw_unit not in BW_UNITS:
        raise FloodmarkError(f"unknown BW unit {bw_unit!r}; use one of {', '.join(BW_UNITS)}")
    return BW_UNITS[bw_unit]


@dataclass(frozen=True)
class DeviceValue:
    """A threshold as a device integer, or why it has none."""

    value: int | None
    reason: str | None = None
    rounded: bool = False


def device_integer(raw: float | None, *, metric: str, level: str, divisor: float) -> DeviceValue:
    """A PPS value or a BW value in Mbit/s as a whole number, rounded up.

    Rounding up keeps the meaning "traffic above the threshold": a device comparing
    integers never fires below the recommended value.
    """
    if raw is None or math.isnan(raw):
        return DeviceValue(None, f"no {level} value")
    if raw < 0 or math.isinf(raw):
        return DeviceValue(None, f"{level} value {raw} is not a usable threshold")
    scaled = raw / divisor if metric == "BW" else raw
    value = math.ceil(scaled)
    return DeviceValue(value, rounded=value != scaled)


def networks_by_object(objects: pl.DataFrame) -> dict[str, tuple[str, list[str]]]:
    """``prediction_id → (name, networks)``."""
    return {
        pid: (name or pid, list(networks or ()))
        for pid, name, networks in objects.select(list(OBJECT_SCHEMA)).iter_rows()
    }


def object_order(thresholds: pl.DataFrame) -> list[str]:
    """Objects in the order they first appear in the thresholds table."""
    return thresholds.get_column("prediction_id").unique(maintain_order=True).to_list()
