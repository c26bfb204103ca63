"""Expert-like threshold labels: what a human sets after looking at a series' graph.

An expert anchors on a typical daily peak of normal (non-attack) passed traffic,
multiplies it per level (about 1.5×, 2×, 3×, 5×), keeps a floor for near-silent
vectors and rounds to a number that is pleasant to type. Each object has its own
expert (habits drawn once) and every series adds a little noise, so the labels
follow the traffic in a learnable but noisy way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from floodmark.generate.traffic import ObjectTraffic, SeriesData
from floodmark.schema import LEVELS

DAY = 86_400

#: Smallest ss an expert would type, per vector: (PPS in packets/s, BW in kbit/s).
FLOORS: dict[str, tuple[float, float]] = {
    "PT_LARGE_SYN": (0.2, 0.2),
    "PT_SYN": (1.0, 0.5),
    "PT_TCP": (2.0, 5.0),
    "PT_DNS": (0.5, 0.5),
    "PT_DNS_RESPONSE": (0.3, 2.0),
    "PT_NTP": (0.3, 0.3),
    "PT_SSDP": (0.3, 0.5),
    "PT_ICMP": (1.0, 1.0),
    "PT_GENERAL": (1.0, 2.0),
    "PT_TOTAL": (5.0, 10.0),
    "PT_UDP": (1.0, 5.0),
    "PT_FRAG": (0.3, 2.0),
    "PT_NETFLOW": (5.0, 10.0),
}

#: Mantissas of the "nice" rounding style.
NICE_MANTISSAS = np.array([1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 8.0, 10.0])


@dataclass(frozen=True)
class Expert:
    """One object's expert: habits drawn once per object."""

    anchor_quantile: float  # which day's peak they look at (0.5: a typical day, 1: the worst)
    ss_factor: float  # ss over the anchor
    level_ratios: tuple[float, float, float]  # sc/ss, nw/sc, rl/nw
    bias: float  # this expert's overall generosity
    floor_scale: float
    style: str  # "sig2" (two significant digits) or "nice" (1, 1.2, 1.5, 2, 2.5, ...)
    range_factor: float | None  # range_* over ip_*; None when the object has no range labels


def draw_expert(rng: np.random.Generator) -> Expert:
    return Expert(
        anchor_quantile=float(rng.uniform(0.5, 1.0)),
        ss_factor=float(rng.uniform(1.2, 2.0)),
        level_ratios=(
            float(rng.uniform(1.1, 1.6)),
            float(rng.uniform(1.2, 1.8)),
            float(rng.uniform(1.3, 2.2)),
        ),
        bias=float(np.exp(rng.normal(0.0, 0.15))),
        floor_scale=float(np.exp(rng.normal(0.0, 0.3))),
        style="sig2" if rng.random() < 0.5 else "nice",
        range_factor=float(np.exp(rng.uniform(np.log(2), np.log(20))))
        if rng.random() < 0.4
        else None,
    )


def round_up(x: float, style: str) -> float:
    """Round a positive number up to two significant digits or to a nice mantissa."""
    if not x > 0:
        return 0.0
    exp = math.floor(math.log10(x))
    mantissa = x / 10.0**exp
    if style == "sig2":
        value = math.ceil(mantissa * 10 - 1e-9) / 10
    else:
        value = float(NICE_MANTISSAS[np.searchsorted(NICE_MANTISSAS, mantissa - 1e-9)])
    return float(f"{value * 10.0**exp:.6g}")


def typical_daily_peak(series: SeriesData, quantile: float) -> float:
    """A quantile of the daily maxima of passed traffic at non-attack samples (0 if none)."""
    clean = series.blocked == 0
    if not clean.any():
        return 0.0
    days = series.timestamps[clean] // DAY
    values = series.passed[clean]
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    return float(np.quantile(np.maximum.reduceat(values, starts), quantile))


def series_labels(
    series: SeriesData, expert: Expert, rng: np.random.Generator
) -> tuple[tuple[float, ...], tuple[float, ...] | None]:
    """``(ip_ss, ip_sc, ip_nw, ip_rl)`` and the range labels (or None) for one series."""
    anchor = typical_daily_peak(series, expert.anchor_quantile)
    floor = FLOORS[series.vector][series.metric == "BW"] * expert.floor_scale
    ss = max(anchor * expert.ss_factor * expert.bias * np.exp(rng.normal(0, 0.12)), floor)
    ratios = np.maximum(1.0, np.array(expert.level_ratios) * np.exp(rng.normal(0, 0.05, 3)))
    raw = ss * np.cumprod(np.r_[1.0, ratios])
    ip = np.maximum.accumulate([round_up(x, expert.style) for x in raw])
    if expert.range_factor is None:
        return tuple(ip.tolist()), None
    wide = raw * expert.range_factor * np.exp(rng.normal(0, 0.1))
    rng_labels = np.maximum.accumulate([round_up(x, expert.style) for x in wide])
    return tuple(ip.tolist()), tuple(np.maximum(rng_labels, ip).tolist())


def object_labels(
    traffic: ObjectTraffic, rng: np.random.Generator
) -> list[dict[str, float | None]]:
    """Label columns (``ip_*``, ``range_*``) for every series of the object, in series order."""
    expert = draw_expert(rng)
    rows = []
    for series in traffic.series:
        ip, wide = series_labels(series, expert, rng)
        row: dict[str, float | None] = {f"ip_{lv}": v for lv, v in zip(LEVELS, ip, strict=True)}
        for i, lv in enumerate(LEVELS):
            row[f"range_{lv}"] = None if wide is None else wide[i]
        rows.append(row)
    return rows
