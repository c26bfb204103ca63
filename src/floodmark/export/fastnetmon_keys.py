"""Which floodmark series each FastNetMon edition can hold, and under which keys.

Both editions name thresholds the same way: ``threshold_pps`` / ``threshold_mbps``
for all traffic and ``threshold_<protocol>_pps`` / ``threshold_<protocol>_mbps`` per
protocol, each switched on by ``ban_for_pps`` / ``ban_for_bandwidth`` or
``ban_for_<protocol>_pps`` / ``ban_for_<protocol>_bandwidth`` (FastNetMon 1.2.4's
``read_ban_settings``; FastNetMon Advanced's host-group fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from floodmark.export.inputs import device_integer
from floodmark.schema import METRICS

#: The largest threshold FastNetMon 1.2 reads back intact (it parses with ``atoi``).
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Edition:
    """A FastNetMon edition: its name in reasons, the vectors it has keys for."""

    name: str
    #: floodmark vector → protocol infix of the keys ("" for all traffic).
    protocols: dict[str, str]
    max_value: int | None = None
    #: Why a vector is missing, when another edition has it.
    hints: dict[str, str] = field(default_factory=dict)


COMMUNITY = Edition(
    "FastNetMon Community 1.2",
    {"PT_TOTAL": "", "PT_TCP": "tcp", "PT_UDP": "udp", "PT_ICMP": "icmp"},
    max_value=INT32_MAX,
    hints={
        "PT_SYN": "FastNetMon Advanced has tcp_syn: use --format fastnetmon-json",
        "PT_FRAG": "FastNetMon Advanced has ip_fragments: use --format fastnetmon-json",
    },
)
ADVANCED = Edition(
    "FastNetMon Advanced",
    {**COMMUNITY.protocols, "PT_SYN": "tcp_syn", "PT_FRAG": "ip_fragments"},
)


def threshold_key(protocol: str, metric: str) -> str:
    """``threshold_pps``, ``threshold_tcp_mbps``, ``threshold_ip_fragments_pps``…"""
    unit = "pps" if metric == "PPS" else "mbps"
    return f"threshold_{protocol}_{unit}" if protocol else f"threshold_{unit}"


def ban_key(protocol: str, metric: str) -> str:
    """``ban_for_pps``, ``ban_for_tcp_bandwidth``, ``ban_for_tcp_syn_pps``…"""
    unit = "pps" if metric == "PPS" else "bandwidth"
    return f"ban_for_{protocol}_{unit}" if protocol else f"ban_for_{unit}"


def key_pairs(edition: Edition) -> list[tuple[str, str, str, str]]:
    """``(vector, metric, threshold key, ban key)`` for every series the edition holds."""
    return [
        (vector, metric, threshold_key(protocol, metric), ban_key(protocol, metric))
        for vector, protocol in edition.protocols.items()
        for metric in METRICS
    ]


@dataclass(frozen=True)
class Mapped:
    """Thresholds as device keys per object, and the series that did not fit."""

    values: dict[str, dict[str, int]]
    #: The mapped series per object, ``(vector, metric)``.
    series: dict[str, list[tuple[str, str]]]
    unexported: list[dict[str, str]]
    #: Objects whose values were rounded up, and how many.
    rounded_up: dict[str, int]

    def rounded_in(self, prediction_ids: list[str]) -> int:
        """How many values of these objects were rounded up."""
        return sum(self.rounded_up.get(pid, 0) for pid in prediction_ids)


def map_thresholds(
    thresholds: pl.DataFrame, edition: Edition, *, level: str, divisor: float
) -> Mapped:
    """Each series' ``level`` value under its key, as a device integer (rounded up)."""
    keys = {(v, m): tk for v, m, tk, _ in key_pairs(edition)}
    values: dict[str, dict[str, int]] = {}
    series: dict[str, list[tuple[str, str]]] = {}
    unexported: list[dict[str, str]] = []
    rounded: dict[str, int] = {}
    for pid, vector, metric, raw in thresholds.select(
        "prediction_id", "vector", "metric", level
    ).iter_rows():
        key = keys.get((vector, metric))
        reason = None
        if key is None:
            reason = f"{edition.name} has no threshold for {vector} {metric}"
            if vector in edition.hints:
                reason += f" ({edition.hints[vector]})"
        else:
            device = device_integer(raw, metric=metric, level=level, divisor=divisor)
            reason = device.reason
            if device.value is not None and edition.max_value and device.value > edition.max_value:
                limit = edition.max_value
                reason = f"{device.value} exceeds {edition.name}'s largest value {limit}"
            if reason is None:
                values.setdefault(pid, {})[key] = device.value
                series.setdefault(pid, []).append((vector, metric))
                rounded[pid] = rounded.get(pid, 0) + device.rounded
        if reason is not None:
            unexported.append(
                {"prediction_id": pid, "vector": vector, "metric": metric, "reason": reason}
            )
    return Mapped(values, series, unexported, rounded)


def ban_settings(edition: Edition, values: dict[str, int]) -> list[tuple[str, str, int | None]]:
    """``(ban key, threshold key, value)`` per series; no value means the ban is off."""
    return [(bk, tk, values.get(tk)) for _, _, tk, bk in key_pairs(edition)]
