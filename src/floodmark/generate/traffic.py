"""Simulate one object: 13 vectors × 2 metrics of passed and blocked traffic.

Vectorised over samples: per class a log-rate (size × daily/weekly cycle × trend ×
drift × AR(1) noise), plus flash crowds, blips and attacks, then Poisson packet counts
and packet sizes, then vectors as sums of classes. No Python loop runs per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from floodmark.generate.classes import (
    ATTACK_TYPES,
    CLASS_INDEX,
    CLASSES,
    FLASH_WEIGHT,
    class_mask,
)
from floodmark.generate.events import (
    DAY,
    HOUR,
    AttackEpisode,
    FlashCrowd,
    attack_intensity,
    dead_mask,
    draw_attacks,
    draw_flash_crowds,
    flash_shape,
    missing_mask,
    series_missing,
)
from floodmark.generate.profile import ObjectProfile, draw_profile, object_streams
from floodmark.schema import METRICS, VECTORS

#: Vendor values carry three decimals (as in the seed notebook's tables).
DECIMALS = 3
_MEMBERSHIP = np.array([class_mask(v) for v in VECTORS], dtype=np.float64)  # vectors × classes
_NETFLOW = VECTORS.index("PT_NETFLOW")
_TOTAL = VECTORS.index("PT_TOTAL")


@dataclass(frozen=True, eq=False)
class SeriesData:
    """One generated series: the samples the vendor would export (gaps already removed)."""

    vector: str
    metric: str
    timestamps: np.ndarray  # int64 epoch seconds, sorted
    passed: np.ndarray  # float64, PPS in packets/s, BW in kbit/s
    blocked: np.ndarray


@dataclass(frozen=True, eq=False)
class ObjectTraffic:
    """Everything generated for one object, with its ground truth."""

    profile: ObjectProfile
    grid: np.ndarray  # every timestamp of the window, int64 epoch seconds
    series: tuple[SeriesData, ...]  # VECTORS × METRICS order
    attacks: tuple[AttackEpisode, ...]
    flash_crowds: tuple[FlashCrowd, ...]

    def get(self, vector: str, metric: str) -> SeriesData:
        return self.series[VECTORS.index(vector) * len(METRICS) + METRICS.index(metric)]


def simulate_object(index: int, *, seed: int, days: int, step: int, start: int) -> ObjectTraffic:
    """Generate object ``index`` of the fleet ``seed``; ``start`` is the first epoch second."""
    rng = object_streams(seed, index)
    profile = draw_profile(rng["profile"], seed=seed, index=index)
    n = days * DAY // step
    grid = start + step * np.arange(n, dtype=np.int64)
    daily, common = _cycles(profile, grid, rng["level"])

    base_log = np.log(np.maximum(profile.shares, 1e-300)) + np.log(profile.scale_pps)
    smooth_log = base_log[:, None] + profile.diurnal_coupling[:, None] * daily + common
    rates = np.exp(smooth_log + _ar1_noise(rng["rates"], profile, n))
    rates[profile.shares == 0] = 0.0

    events = rng["events"]
    flashes = draw_flash_crowds(events, profile, n, step)
    _add_flash_crowds(rates, smooth_log, profile, flashes, step)
    _add_blips(rates, events, profile, n, step)
    rates[:, dead_mask(events, n, step, probability=0.25)] = 0.0
    for c in range(len(CLASSES)):
        if events.random() < 0.05:  # one class switched off for a while (a filter, a fault)
            rates[c, dead_mask(events, n, step, probability=1.0)] = 0.0
    attacks = draw_attacks(events, profile, n, step)
    attack = _attack_rates(events, attacks, n)

    passed, blocked = _count(rng["counts"], profile, rates, attack, step)
    series = _series(rng["gaps"], grid, passed, blocked, step)
    return ObjectTraffic(profile, grid, series, attacks, flashes)


def _cycles(
    p: ObjectProfile, grid: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Log-level shared by the object's classes: the daily part and the rest."""
    local = grid + int(p.utc_offset_h * HOUR)
    hour = (local % DAY) / HOUR
    daily = p.daily_amp * np.cos(2 * np.pi * (hour - p.daily_peak_h) / 24) + p.second_amp * np.cos(
        4 * np.pi * (hour - p.second_peak_h) / 24
    )
    weekday = (local // DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    elapsed = (grid - grid[0]) / DAY
    span = max(float(elapsed[-1]), 1.0) if grid.size else 1.0
    knots = np.cumsum(rng.normal(0.0, p.drift_sigma, int(span) + 2))
    drift = np.interp(elapsed, np.arange(knots.size), knots - knots.mean())
    common = p.weekend_effect * (weekday >= 5) + p.trend * (elapsed / span - 0.5) + drift
    return daily, common


def _ar1_noise(rng: np.random.Generator, p: ObjectProfile, n: int) -> np.ndarray:
    """Correlated multiplicative noise per class (log scale), stationary variance sigma²."""
    eps = rng.standard_normal((len(CLASSES), n))
    out = np.empty_like(eps)
    for c, (sigma, phi) in enumerate(zip(p.noise_sigma, p.noise_phi, strict=True)):
        out[c] = lfilter([sigma * np.sqrt(1 - phi**2)], [1.0, -phi], eps[c])
    return out


def _add_flash_crowds(
    rates: np.ndarray,
    smooth_log: np.ndarray,
    p: ObjectProfile,
    flashes: tuple[FlashCrowd, ...],
    step: int,
) -> None:
    """Add each burst as ``factor`` × the class's normal peak within ±12 h, on legit classes."""
    half_day = DAY // 2 // step
    n = rates.shape[1]
    for fc in flashes:
        stop = min(n, fc.start + fc.length)
        shape = flash_shape(fc.length)[: stop - fc.start]
        near = slice(max(0, fc.start - half_day), min(n, fc.start + half_day + 1))
        for name, weight in FLASH_WEIGHT.items():
            c = CLASS_INDEX[name]
            if p.shares[c] > 0:
                peak = np.exp(smooth_log[c, near].max())
                rates[c, fc.start : stop] += weight * fc.factor * peak * shape


def _add_blips(
    rates: np.ndarray, rng: np.random.Generator, p: ObjectProfile, n: int, step: int
) -> None:
    """Stray one- or two-sample bursts on otherwise silent classes (a scan, a stray reply)."""
    for c in np.flatnonzero(p.blips_per_day):
        count = rng.poisson(p.blips_per_day[c] * n * step / DAY)
        at = rng.integers(0, n, count)
        size = p.scale_pps * 10 ** rng.uniform(-4, -2, count) + 10 ** rng.uniform(-2.3, -0.5, count)
        np.add.at(rates[c], at, size)
        twice = rng.random(count) < 0.3
        np.add.at(rates[c], np.minimum(at[twice] + 1, n - 1), size[twice] * 0.5)


def _attack_rates(
    rng: np.random.Generator, attacks: tuple[AttackEpisode, ...], n: int
) -> np.ndarray:
    """Attack packets/s and bytes/s per class: (passed pkts, blocked pkts, passed B, blocked B)."""
    out = np.zeros((4, len(CLASSES), n))
    for ep in attacks:
        stop = min(n, ep.start + ep.length)
        level = attack_intensity(rng, ep)[: stop - ep.start]
        weights = rng.dirichlet(np.ones(len(ep.types))) if len(ep.types) > 1 else [1.0]
        for name, w in zip(ep.types, weights, strict=True):
            for cls, (share, low, high) in ATTACK_TYPES[name][1].items():
                c = CLASS_INDEX[cls]
                pkts = level * (w * share)
                size = rng.uniform(low, high)
                out[0, c, ep.start : stop] += ep.leak * pkts
                out[1, c, ep.start : stop] += (1 - ep.leak) * pkts
                out[2, c, ep.start : stop] += ep.leak * pkts * size
                out[3, c, ep.start : stop] += (1 - ep.leak) * pkts * size
    return out


def _count(
    rng: np.random.Generator,
    p: ObjectProfile,
    rates: np.ndarray,
    attack: np.ndarray,
    step: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Packet and byte counts per vector: arrays (metric, vector, sample) of passed and blocked."""
    legit = rng.poisson(rates * step).astype(np.float64)
    legit_bytes = legit * p.packet_bytes[:, None] * np.exp(rng.normal(0.0, 0.05, legit.shape))
    leak_pk, block_pk = np.zeros_like(legit), np.zeros_like(legit)
    leak_b, block_b = np.zeros_like(legit), np.zeros_like(legit)
    hit = attack[1].any(axis=1)
    if hit.any():
        a = attack[:, hit]
        leak_pk[hit] = rng.poisson(a[0] * step)
        block_pk[hit] = rng.poisson(a[1] * step)
        with np.errstate(invalid="ignore", divide="ignore"):
            leak_b[hit] = leak_pk[hit] * np.where(a[0] > 0, a[2] / a[0], 0.0)
            block_b[hit] = block_pk[hit] * np.where(a[1] > 0, a[3] / a[1], 0.0)
    sides = []
    for pk, by in ((legit + leak_pk, legit_bytes + leak_b), (block_pk, block_b)):
        vec_pk, vec_b = _MEMBERSHIP @ pk, _MEMBERSHIP @ by
        _sample_netflow(rng, p.netflow_sampling, vec_pk, vec_b)
        sides.append(np.stack([vec_pk / step, vec_b * 8 / 1000 / step]))  # PPS; BW in kbit/s
    return sides[0], sides[1]


def _sample_netflow(
    rng: np.random.Generator, sampling: int, vec_pk: np.ndarray, vec_b: np.ndarray
) -> None:
    """PT_NETFLOW: the total as seen through 1:N packet-sampled flow records, scaled back."""
    total = vec_pk[_TOTAL]
    if sampling == 1:
        return
    seen = rng.binomial(total.astype(np.int64), 1.0 / sampling) * float(sampling)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(total > 0, seen / total, 0.0)
    vec_pk[_NETFLOW] = seen
    vec_b[_NETFLOW] = vec_b[_TOTAL] * ratio


def _series(
    rng: np.random.Generator,
    grid: np.ndarray,
    passed: np.ndarray,
    blocked: np.ndarray,
    step: int,
) -> tuple[SeriesData, ...]:
    n = grid.size
    gone = missing_mask(rng, n, step)
    out = []
    for v, vector in enumerate(VECTORS):
        keep = ~(gone | series_missing(rng, n, step))
        for m, metric in enumerate(METRICS):
            out.append(
                SeriesData(
                    vector,
                    metric,
                    grid[keep],
                    np.round(passed[m, v, keep], DECIMALS),
                    np.round(blocked[m, v, keep], DECIMALS),
                )
            )
    return tuple(out)
