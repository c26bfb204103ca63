"""What an export wrote and, just as important, what it could not express."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from floodmark.io.atomic import write_table

#: One row per series (at the exported level) the format cannot express.
UNEXPORTED_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "vector": pl.String(),
    "metric": pl.String(),
    "reason": pl.String(),
}

#: One row per network an exported object has but its host group does not hold.
LEFT_OUT_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "network": pl.String(),
    "reason": pl.String(),
}

#: One row per host group written: the object it stands for and how many prefixes it holds.
GROUP_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "group": pl.String(),
    "networks": pl.Int64(),
}

#: The sidecar ``<out>.unexported.csv``: series, networks and objects left out, with reasons.
SIDECAR_SCHEMA: dict[str, pl.DataType] = {
    "prediction_id": pl.String(),
    "vector": pl.String(),
    "metric": pl.String(),
    "network": pl.String(),
    "reason": pl.String(),
}


@dataclass(frozen=True)
class ExportSummary:
    """The outcome of ``export_thresholds``.

    ``files`` are the files written (the sidecar last); ``unexported`` the series the
    format cannot express (``UNEXPORTED_SCHEMA``); ``objects_without_networks`` the
    objects with thresholds but no network (absent from the objects file or empty);
    ``networks_left_out`` the prefixes kept out of host groups (``LEFT_OUT_SCHEMA``);
    ``groups`` the host groups written (``GROUP_SCHEMA``, empty for ``csv``/``json``);
    ``rounded_up`` how many values were rounded up to the device's integers.
    """

    format: str
    level: str | None
    files: tuple[Path, ...]
    unexported: pl.DataFrame
    objects_without_networks: tuple[str, ...]
    networks_left_out: pl.DataFrame
    groups: pl.DataFrame
    rounded_up: int = 0

    @property
    def sidecar(self) -> Path:
        """The ``<out>.unexported.csv`` file listing everything left out."""
        return self.files[-1]


def sidecar_path(out: Path) -> Path:
    """``<out>.unexported.csv`` beside ``out``."""
    return out.with_name(out.name + ".unexported.csv")


def write_sidecar(
    out: Path,
    unexported: pl.DataFrame,
    networks_left_out: pl.DataFrame,
    objects_without_networks: tuple[str, ...],
    *,
    no_network_reason: str,
) -> Path:
    """Write the sidecar, always (an empty one says "nothing left out", never stale)."""
    parts = [
        unexported.with_columns(network=pl.lit(None, pl.String())),
        networks_left_out.with_columns(
            vector=pl.lit(None, pl.String()), metric=pl.lit(None, pl.String())
        ),
        pl.DataFrame(
            {
                "prediction_id": list(objects_without_networks),
                "reason": [no_network_reason] * len(objects_without_networks),
            },
            schema={"prediction_id": pl.String(), "reason": pl.String()},
        ).with_columns(
            vector=pl.lit(None, pl.String()),
            metric=pl.lit(None, pl.String()),
            network=pl.lit(None, pl.String()),
        ),
    ]
    table = pl.concat([p.select(list(SIDECAR_SCHEMA)) for p in parts]).cast(SIDECAR_SCHEMA)
    return write_table(table, sidecar_path(out))
