"""``export_thresholds``: one entry point, one module per format."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from floodmark.errors import FloodmarkError
from floodmark.export.fastnetmon import export_fastnetmon
from floodmark.export.fastnetmon_json import export_fastnetmon_json
from floodmark.export.inputs import check_bw_unit, check_level, check_objects, check_thresholds
from floodmark.export.summary import ExportSummary
from floodmark.export.tables import export_table

#: ``--format`` values and what each writes.
EXPORT_FORMATS: dict[str, str] = {
    "fastnetmon": "FastNetMon Community 1.2 configuration + networks list (one level)",
    "fastnetmon-json": "FastNetMon Advanced host groups as JSON (one level)",
    "csv": "every series and all four levels, CSV",
    "json": "every series and all four levels, JSON records",
}


def export_thresholds(
    thresholds: pl.DataFrame,
    objects: pl.DataFrame,
    *,
    level: str | None,
    fmt: str,
    out: str | Path,
    bw_unit: str = "mbps",
    base: str | Path | None = None,
    networks_list_path: str | None = None,
) -> ExportSummary:
    """Write ``thresholds`` (``THRESHOLD_SCHEMA``) for ``objects`` (``OBJECT_SCHEMA``) as ``fmt``.

    ``level`` (ss, sc, nw or rl) is the one a device format exports; ``csv`` and
    ``json`` write all four. ``bw_unit`` is the unit the BW values are in (bps, kbps
    or mbps); FastNetMon formats convert them to Mbit/s. ``base`` is the FastNetMon
    configuration to build on (default: a minimal built-in one) and
    ``networks_list_path`` the networks list's path written into it (default: the
    file written beside ``out``). Every write is atomic; ``<out>.unexported.csv``
    lists what was not exported, with reasons, as the returned summary does.

    Example::

        summary = export_thresholds(
            thresholds, read_objects_csv("objects.csv"),
            level="nw", fmt="fastnetmon", out="fastnetmon.conf", bw_unit="kbps",
        )
        print(summary.unexported)
    """
    if fmt not in EXPORT_FORMATS:
        raise FloodmarkError(f"unknown format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    divisor = check_bw_unit(bw_unit)
    thresholds = check_thresholds(thresholds)
    objects = check_objects(objects)
    out = Path(out)
    if fmt in ("csv", "json"):
        return export_table(thresholds, objects, fmt=fmt, out=out, bw_unit=bw_unit)
    level = check_level(level, fmt)
    if fmt == "fastnetmon-json":
        return export_fastnetmon_json(thresholds, objects, level=level, out=out, divisor=divisor)
    return export_fastnetmon(
        thresholds,
        objects,
        level=level,
        out=out,
        bw_unit=bw_unit,
        divisor=divisor,
        base=None if base is None else Path(base),
        networks_list_path=networks_list_path,
    )
