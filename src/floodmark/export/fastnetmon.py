"""``fastnetmon``: a complete FastNetMon Community 1.2 configuration and its networks list.

The base configuration (``--base`` or the minimal one shipped here) is kept as it
is, except ``networks_list_path``, which is pointed at the networks list written
beside the configuration. Below it, one ``hostgroup`` per object::

    hostgroup = a1:192.0.2.0/24,198.51.100.16/28
    a1_enable_ban = on
    a1_ban_for_pps = on
    a1_threshold_pps = 12000
    a1_ban_for_bandwidth = off
    ...
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import polars as pl

from floodmark.errors import InputFormatError
from floodmark.export.fastnetmon_keys import COMMUNITY, ban_settings, map_thresholds
from floodmark.export.hostgroups import GroupPlan, HostGroup, plan_groups, plan_summary
from floodmark.export.inputs import networks_by_object, object_order
from floodmark.export.summary import ExportSummary
from floodmark.io.atomic import atomic_path

_HOSTGROUP = re.compile(r"^\s*hostgroup\s*=\s*([^:]*):", re.MULTILINE)
_NETWORKS_LIST = re.compile(r"^(\s*networks_list_path\s*=.*)$", re.MULTILINE)


def default_base() -> str:
    """The minimal base configuration shipped with floodmark."""
    return resources.files("floodmark.export").joinpath("fastnetmon_base.conf").read_text()


def read_base(base: Path | None) -> str:
    """The base configuration's text (``None``: the built-in one)."""
    if base is None:
        return default_base()
    try:
        return Path(base).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"cannot read the base configuration ({exc})", file=base) from None


def networks_list_file(out: Path) -> Path:
    """The networks list written beside the configuration: ``<stem>.networks_list``."""
    return out.with_name(out.stem + ".networks_list")


def export_fastnetmon(
    thresholds: pl.DataFrame,
    objects: pl.DataFrame,
    *,
    level: str,
    out: Path,
    bw_unit: str,
    divisor: float,
    base: Path | None = None,
    networks_list_path: str | None = None,
) -> ExportSummary:
    """Write the configuration, its networks list and the sidecar; report what was left out.

    ``networks_list_path`` is the path written into the configuration (default: the
    absolute path of the networks list written beside ``out``); give the path the
    file will have on the FastNetMon host when you copy both there.
    """
    base_text = read_base(base)
    mapped = map_thresholds(thresholds, COMMUNITY, level=level, divisor=divisor)
    plan = plan_groups(
        object_order(thresholds),
        networks_by_object(objects),
        mapped,
        taken={name.strip().lower() for name in _HOSTGROUP.findall(base_text)},
        ipv6_in_groups=False,
        edition=COMMUNITY.name,
    )
    networks_file = networks_list_file(out)
    list_path = networks_list_path or str(networks_file.resolve())
    with atomic_path(networks_file) as tmp:
        tmp.write_text("".join(f"{network}\n" for network in plan.networks))
    text = render_config(
        base_text, plan, mapped.values, level=level, bw_unit=bw_unit, networks_list_path=list_path
    )
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return plan_summary(plan, mapped, fmt="fastnetmon", level=level, files=(out, networks_file))


def render_config(
    base_text: str,
    plan: GroupPlan,
    values: dict[str, dict[str, int]],
    *,
    level: str,
    bw_unit: str,
    networks_list_path: str,
) -> str:
    """The base (its ``networks_list_path`` commented out) and one block per group."""
    base_text = _NETWORKS_LIST.sub(r"# replaced by floodmark below: \1", base_text)
    lines = [
        base_text.rstrip("\n"),
        "",
        "###",
        f"### floodmark thresholds, level {level}: PPS as packets/s, BW converted from "
        f"{bw_unit} to Mbit/s;",
        "### every value rounded up to a whole number (FastNetMon reads integers).",
        "###",
        f"networks_list_path = {networks_list_path}",
    ]
    for group in plan.groups:
        lines += ["", *group_block(group, values[group.prediction_id])]
    return "\n".join(lines) + "\n"


def group_block(group: HostGroup, values: dict[str, int]) -> list[str]:
    """The ``hostgroup`` line and the group's ban keys, every one written explicitly.

    FastNetMon starts a group from its own defaults, not from the global settings:
    a key left out would fall back to those silently.
    """
    g = group.name
    lines = [
        f"# object {comment_text(group.prediction_id)}: {comment_text(group.description)}",
        f"hostgroup = {g}:{','.join(group.networks)}",
        f"{g}_enable_ban = on",
        f"{g}_ban_for_flows = off",
    ]
    for ban, threshold, value in ban_settings(COMMUNITY, values):
        lines.append(f"{g}_{ban} = {'on' if value is not None else 'off'}")
        if value is not None:
            lines.append(f"{g}_{threshold} = {value}")
    return lines


def comment_text(text: str) -> str:
    """One line of text, safe in a ``#`` comment."""
    return " ".join(str(text).split())
