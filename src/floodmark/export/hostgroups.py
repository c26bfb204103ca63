"""Host groups: one per object, named as FastNetMon accepts, holding what it parses."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from floodmark.export.fastnetmon_keys import Mapped
from floodmark.export.summary import (
    GROUP_SCHEMA,
    LEFT_OUT_SCHEMA,
    UNEXPORTED_SCHEMA,
    ExportSummary,
    write_sidecar,
)

#: FastNetMon 1.2.4 splits a ``hostgroup`` line on ``:`` and needs exactly two parts;
#: an IPv6 prefix adds more, so the daemon logs "We can't parse new host group" and
#: drops the whole group (``--configuration_check`` does not notice).
IPV6_REASON = (
    "FastNetMon Community 1.2 cannot parse an IPv6 prefix in a hostgroup line (the "
    "whole group would be dropped); the prefix is in the networks list, under the "
    "global thresholds"
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class HostGroup:
    """One object's host group: its name and the prefixes it holds."""

    prediction_id: str
    name: str
    description: str
    networks: tuple[str, ...]


def group_name(prediction_id: str, taken: set[str]) -> str:
    """A key-safe name (letters, digits, ``_``) unique among ``taken`` (which it joins).

    FastNetMon reads ``<group>_threshold_pps``: a name with ``:``, ``=``, ``#`` or
    spaces would break the line or the key.
    """
    base = _UNSAFE.sub("_", prediction_id).strip("_") or "object"
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name.lower())
    return name


def split_networks(
    pid: str, networks: list[str], owner: dict[str, str], *, ipv6_in_groups: bool
) -> tuple[list[str], list[dict[str, str]]]:
    """The prefixes a group may hold, and the others with their reason.

    A prefix belongs to one group only: FastNetMon maps each prefix to a single group
    and warns about the rest. ``owner`` records which object took each prefix.
    """
    kept: list[str] = []
    left_out: list[dict[str, str]] = []
    for network in networks:
        reason = None
        if ipaddress.ip_network(network).version == 6 and not ipv6_in_groups:
            reason = IPV6_REASON
        elif network in owner and owner[network] != pid:
            reason = (
                f"already in the host group of object {owner[network]!r} "
                "(FastNetMon maps a prefix to one group)"
            )
        if reason is None:
            owner[network] = pid
            kept.append(network)
        else:
            left_out.append({"prediction_id": pid, "network": network, "reason": reason})
    return kept, left_out


@dataclass(frozen=True)
class GroupPlan:
    """Host groups to write, plus everything that could not go in one."""

    groups: list[HostGroup]
    #: Every prefix of the exported objects, for the networks list.
    networks: list[str]
    unexported: list[dict[str, str]]
    left_out: list[dict[str, str]]
    without_networks: tuple[str, ...]


def plan_groups(
    order: list[str],
    objects: dict[str, tuple[str, list[str]]],
    mapped: Mapped,
    *,
    taken: set[str],
    ipv6_in_groups: bool,
    edition: str,
) -> GroupPlan:
    """One group per object that has thresholds, in ``order``; report the rest.

    An object without networks gets no group (its networks are not guessed). An
    object none of whose prefixes a group may hold gets none either, and its series
    are listed as not expressible.
    """
    owner: dict[str, str] = {}
    groups: list[HostGroup] = []
    networks: dict[str, None] = {}  # ordered set
    unexported = list(mapped.unexported)
    left_out: list[dict[str, str]] = []
    without: list[str] = []
    for pid in order:
        name, object_networks = objects.get(pid, (pid, []))
        if not object_networks:
            without.append(pid)
            continue
        networks.update(dict.fromkeys(object_networks))
        kept, dropped = split_networks(pid, object_networks, owner, ipv6_in_groups=ipv6_in_groups)
        left_out += dropped
        if pid not in mapped.values:
            continue
        if not kept:
            unexported += [
                {
                    "prediction_id": pid,
                    "vector": vector,
                    "metric": metric,
                    "reason": f"no prefix of the object can be in a {edition} host group",
                }
                for vector, metric in mapped.series[pid]
            ]
            continue
        groups.append(HostGroup(pid, group_name(pid, taken), name, tuple(kept)))
    return GroupPlan(groups, list(networks), unexported, left_out, tuple(without))


def plan_summary(
    plan: GroupPlan, mapped: Mapped, *, fmt: str, level: str, files: tuple[Path, ...]
) -> ExportSummary:
    """Write the sidecar beside ``files[0]`` and sum the export up."""
    unexported = pl.DataFrame(plan.unexported, schema=UNEXPORTED_SCHEMA)
    left_out = pl.DataFrame(plan.left_out, schema=LEFT_OUT_SCHEMA)
    sidecar = write_sidecar(
        files[0],
        unexported,
        left_out,
        plan.without_networks,
        no_network_reason="object has no networks: no host group written",
    )
    groups = pl.DataFrame(
        [
            {"prediction_id": g.prediction_id, "group": g.name, "networks": len(g.networks)}
            for g in plan.groups
        ],
        schema=GROUP_SCHEMA,
    )
    return ExportSummary(
        format=fmt,
        level=level,
        files=(*files, sidecar),
        unexported=unexported,
        objects_without_networks=plan.without_networks,
        networks_left_out=left_out,
        groups=groups,
        rounded_up=mapped.rounded_in([g.prediction_id for g in plan.groups]),
    )
