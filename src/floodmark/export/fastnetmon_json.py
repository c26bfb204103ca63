"""``fastnetmon-json``: FastNetMon Advanced host groups as a JSON list.

One object per host group with the Advanced API's field names (``name``,
``description``, ``calculation_method``, ``networks``, ``enable_ban``,
``ban_for_*``, ``threshold_*``), ready to load with its API or ``fcli``. Advanced
adds ``tcp_syn`` (PT_SYN) and ``ip_fragments`` (PT_FRAG) to the Community keys,
and its host groups take IPv6 prefixes.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl

from floodmark.export.fastnetmon_keys import ADVANCED, ban_settings, map_thresholds
from floodmark.export.hostgroups import HostGroup, plan_groups, plan_summary
from floodmark.export.inputs import networks_by_object, object_order
from floodmark.export.summary import ExportSummary
from floodmark.io.atomic import atomic_path


def export_fastnetmon_json(
    thresholds: pl.DataFrame,
    objects: pl.DataFrame,
    *,
    level: str,
    out: Path,
    divisor: float,
) -> ExportSummary:
    """Write the host-group list and the sidecar; report what was left out."""
    mapped = map_thresholds(thresholds, ADVANCED, level=level, divisor=divisor)
    plan = plan_groups(
        object_order(thresholds),
        networks_by_object(objects),
        mapped,
        taken={"global"},  # Advanced's built-in group
        ipv6_in_groups=True,
        edition=ADVANCED.name,
    )
    document = [host_group(g, mapped.values[g.prediction_id]) for g in plan.groups]
    with atomic_path(out) as tmp:
        tmp.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return plan_summary(plan, mapped, fmt="fastnetmon-json", level=level, files=(out,))


def host_group(group: HostGroup, values: dict[str, int]) -> dict[str, object]:
    """One Advanced host group; thresholds are per host, as floodmark's (per-IP) are."""
    fields: dict[str, object] = {
        "name": group.name,
        "description": f"{group.prediction_id}: {group.description}",
        "calculation_method": "per_host",
        "networks": list(group.networks),
        "enable_ban": True,
        "ban_for_flows": False,
    }
    for ban, threshold, value in ban_settings(ADVANCED, values):
        fields[ban] = value is not None
        if value is not None:
            fields[threshold] = value
    return fields
