"""Things that happen to an object on the time grid: gaps, dead periods, flash crowds, attacks.

All sizes are in samples of the grid; durations are drawn in seconds and converted,
so the same fleet at another ``step`` has events of the same length in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from floodmark.generate.classes import ATTACK_NAMES, ATTACK_PROBS
from floodmark.generate.profile import ObjectProfile

HOUR = 3_600
DAY = 86_400


@dataclass(frozen=True)
class AttackEpisode:
    """One attack: ground truth for the samples it covers (they have ``blocked > 0``)."""

    start: int  # first sample index on the grid
    length: int  # samples
    types: tuple[str, ...]  # keys of classes.ATTACK_TYPES (several: a multi-vector attack)
    peak_pps: float  # attack packets/s at full strength
    leak: float  # share of attack packets passed by the mitigation
    pulse_period: int  # 0: steady; else on/off period in samples (carpet/pulse attacks)


@dataclass(frozen=True)
class FlashCrowd:
    """A legitimate burst: ``factor`` × the day's peak of normal traffic, never blocked."""

    start: int
    length: int
    factor: float


def runs_mask(n: int, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """True inside any run ``[start, start + length)`` clipped to ``[0, n)``."""
    edges = np.zeros(n + 1, dtype=np.int64)
    starts = np.clip(np.asarray(starts, dtype=np.int64), 0, n)
    stops = np.clip(starts + np.asarray(lengths, dtype=np.int64), 0, n)
    np.add.at(edges, starts, 1)
    np.add.at(edges, stops, -1)
    return np.cumsum(edges[:-1]) > 0


def _samples(seconds: np.ndarray, step: int) -> np.ndarray:
    return np.maximum(1, np.round(np.asarray(seconds) / step)).astype(np.int64)


def _log_uniform(rng: np.random.Generator, low: float, high: float, size=None):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def missing_mask(rng: np.random.Generator, n: int, step: int) -> np.ndarray:
    """Object-level missing timestamps: single holes, multi-hour outages, late onboarding."""
    span_days = n * step / DAY
    hole_rate = _log_uniform(rng, 1e-4, 5e-3)
    missing = rng.random(n) < hole_rate
    n_out = rng.poisson(0.6 * span_days / 30)
    starts = rng.integers(0, n, n_out)
    missing |= runs_mask(n, starts, _samples(_log_uniform(rng, HOUR, 12 * HOUR, n_out), step))
    if span_days >= 6 and rng.random() < 0.04:
        late = _samples(rng.uniform(1, span_days / 3) * DAY, step)
        missing[:late] = True
    return _keep_enough(missing)


def series_missing(rng: np.random.Generator, n: int, step: int) -> np.ndarray:
    """Extra holes of one series (a counter added late, a collector hiccup), rarely."""
    missing = np.zeros(n, dtype=bool)
    if rng.random() < 0.03:
        length = _samples(_log_uniform(rng, 6 * HOUR, 7 * DAY), step)
        missing |= runs_mask(n, rng.integers(0, n, 1), length)
    return missing


def _keep_enough(missing: np.ndarray) -> np.ndarray:
    # A series must keep most of its window, otherwise it is not a plausible export.
    if missing.sum() > 0.6 * missing.size:
        missing = np.zeros_like(missing)
    return missing


def dead_mask(rng: np.random.Generator, n: int, step: int, probability: float) -> np.ndarray:
    """Runs where legitimate traffic is zero but samples still arrive (service down)."""
    if rng.random() >= probability:
        return np.zeros(n, dtype=bool)
    count = rng.integers(1, 4)
    lengths = _samples(_log_uniform(rng, 0.5 * HOUR, 2 * DAY, count), step)
    return runs_mask(n, rng.integers(0, n, count), lengths)


def draw_flash_crowds(
    rng: np.random.Generator, profile: ObjectProfile, n: int, step: int
) -> tuple[FlashCrowd, ...]:
    """Short legitimate bursts (a sale, a broadcast, a release): minutes to an hour."""
    count = rng.poisson(profile.flash_crowds_per_30d * n * step / (30 * DAY))
    starts = np.sort(rng.integers(0, n, count))
    lengths = _samples(_log_uniform(rng, 5 * 60, HOUR, count), step)
    factors = rng.uniform(4.0, 12.0, count)
    return tuple(
        FlashCrowd(int(s), int(ln), float(f))
        for s, ln, f in zip(starts, lengths, factors, strict=True)
    )


def flash_shape(length: int) -> np.ndarray:
    """A burst that peaks at once and decays: 1, then exponential decay to ~0.3."""
    return np.exp(-np.arange(length) * (1.2 / max(length, 1)))


def draw_attacks(
    rng: np.random.Generator, profile: ObjectProfile, n: int, step: int
) -> tuple[AttackEpisode, ...]:
    """Attack episodes: minutes to hours, on one or a few vectors, far above normal."""
    count = rng.poisson(profile.attacks_per_30d * n * step / (30 * DAY))
    episodes = []
    for start in np.sort(rng.integers(0, n, count)):
        n_types = 1 if rng.random() >= 0.1 else int(rng.integers(2, 4))
        picked = rng.choice(len(ATTACK_NAMES), size=n_types, replace=False, p=ATTACK_PROBS)
        types = tuple(ATTACK_NAMES[i] for i in picked)
        length = int(_samples(_log_uniform(rng, 5 * 60, 6 * HOUR), step))
        # Attack size hardly cares about the victim's size: relative and absolute parts.
        peak = profile.scale_pps * 10 ** rng.uniform(0.5, 2.5) + 10 ** rng.uniform(1.0, 4.0)
        leak = float(np.clip(profile.leak * np.exp(rng.normal(0, 0.3)), 0.002, 0.08))
        pulse = int(rng.integers(2, 7)) if rng.random() < 0.2 else 0
        episodes.append(AttackEpisode(int(start), length, types, float(peak), leak, pulse))
    return tuple(episodes)


def attack_intensity(rng: np.random.Generator, episode: AttackEpisode) -> np.ndarray:
    """Per-sample attack packets/s over the episode: ramp-up, noisy plateau, optional pulses."""
    level = episode.peak_pps * np.exp(rng.normal(0.0, 0.25, episode.length))
    if episode.length > 2:
        level[0] *= 0.5
    if episode.pulse_period:
        on = (np.arange(episode.length) // episode.pulse_period) % 2 == 0
        level = np.where(on, level, level * 0.05)
    return level
